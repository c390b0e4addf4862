"""Hand-written baseline: the shipped spec's logic (v0.2) as plain Python ``if``/``else``.

Kept only as the speed reference for ``bench_engine.py``: what an engineer would
write by hand (type and range checks, then nested conditions). It is not used
by crs_model and has no three-valued missing-data handling beyond "absent ->
insufficient_data".
"""

from __future__ import annotations

import math
from typing import Any

_BOUNDS: dict[str, tuple[str, float, float]] = {
    "age_years": ("real", 0, 120), "weight_kg": ("real", 0.5, 350), "bmi_kg_m2": ("real", 5, 100),
    "temperature_c": ("real", 25, 45), "vasopressor_count": ("int", 0, 6), "tocilizumab_doses": ("int", 0, 10),
    "hours_since_last_tocilizumab": ("real", 0, 2000), "il6_pg_ml": ("real", 0, 1e6), "crp_mg_l": ("real", 0, 1000),
    "ferritin_ng_ml": ("real", 0, 1e6), "d_dimer_mg_l_feu": ("real", 0, 500), "platelets_10e9_l": ("real", 0, 2000),
    "cytosorb_cartridges_used": ("int", 0, 100), "post_cytosorb_il6_pg_ml": ("real", 0, 1e6),
    "norepinephrine_equivalent_ug_kg_min": ("real", 0, 10), "hours_since_first_tocilizumab": ("real", 0, 2000),
    "hours_on_cytosorb": ("real", 0, 2000), "hours_since_cartridge_change": ("real", 0, 48),
}  # fmt: skip
_BOOLS = frozenset({
    "pregnant", "hypotension", "vasopressin", "corticosteroids_given", "hemodynamic_instability_persistent",
    "multi_organ_dysfunction", "organ_dysfunction_progressive", "severe_capillary_leak",
    "respiratory_failure_refractory_to_prone", "aki", "on_crrt", "on_ecmo", "anticoagulation_contraindicated",
    "heparin_induced_thrombocytopenia", "on_cytosorb",
})  # fmt: skip
_ENUMS = {"etiology": {"car_t", "covid19", "sepsis", "other"},
          "oxygen_support": {"none", "low_flow", "high_flow", "positive_pressure"},
          "cytosorb_response": {"improved", "unchanged", "worsened"}}  # fmt: skip
_O2 = {"none": 0, "low_flow": 2, "high_flow": 3, "positive_pressure": 4}


def decide(p: dict[str, Any]) -> dict[str, Any]:
    for k, v in p.items():
        if v is None:
            continue
        if k in _BOOLS:
            if not isinstance(v, bool):
                raise ValueError(k)
        elif k in _ENUMS:
            if v not in _ENUMS[k]:
                raise ValueError(k)
        elif k in _BOUNDS:
            kind, lo, hi = _BOUNDS[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind == "int" and not isinstance(v, int)):
                raise ValueError(k)
            if not (lo <= v <= hi) or (isinstance(v, float) and not math.isfinite(v)):
                raise ValueError(k)
        else:
            raise ValueError(k)
    if (p.get("vasopressor_count") or 0) > 0 and not p.get("hypotension"):
        raise ValueError("vasopressor_count")
    g: Any = p.get  # typed Any: a hand-written rule set trusts its checked input
    try:
        return _decide(g)
    except (TypeError, KeyError):  # an absent input met on the way
        return {"recommendation": "insufficient_data"}


def _grade(g: Any) -> int:
    if not g("hypotension"):
        hypo = 0
    elif g("vasopressor_count") >= 2:
        hypo = 4
    elif g("vasopressor_count") >= 1 or g("vasopressin"):
        hypo = 3
    else:
        hypo = 2
    organ = max(hypo, _O2[g("oxygen_support")])
    given = g("tocilizumab_doses") >= 1 or g("corticosteroids_given")
    if g("temperature_c") >= 38.0:
        return max(1, organ)
    return organ if given else 0


def _indicated(g: Any, grade: int) -> bool:
    markers = g("il6_pg_ml") >= 500 or g("crp_mg_l") > 100 or g("ferritin_ng_ml") > 10000
    pressors = g("vasopressor_count") >= 1 or g("vasopressin")
    refractory = (
        g("hemodynamic_instability_persistent")
        or g("vasopressor_count") >= 2
        or (pressors and g("norepinephrine_equivalent_ug_kg_min") > 0.3)
    )
    scenario = (
        g("severe_capillary_leak")
        or g("organ_dysfunction_progressive")
        or (g("respiratory_failure_refractory_to_prone") and markers)
    )
    return grade >= 3 and bool(refractory or (markers and g("multi_organ_dysfunction")) or scenario)


def _contraindicated(g: Any) -> bool:
    return bool(
        g("platelets_10e9_l") < 20 or g("pregnant") or g("bmi_kg_m2") >= 40
        or g("heparin_induced_thrombocytopenia") or g("anticoagulation_contraindicated")
    )  # fmt: skip


def _dose(g: Any) -> float:
    w = g("weight_kg")
    return float(min(800, 12 * w if w < 30 else 8 * w))


def _decide(g: Any) -> dict[str, Any]:
    grade = _grade(g)
    covid_ecmo = g("etiology") == "covid19" and g("on_ecmo")
    if g("on_cytosorb") and g("cytosorb_cartridges_used") >= 1:
        reached = g("hours_on_cytosorb") >= 72
        improved = g("cytosorb_response") == "improved" if reached else False
        if _contraindicated(g) or not _indicated(g, grade) or (reached and not improved):
            return {"recommendation": "stop_cytosorb", "astct_grade": grade}
        if g("etiology") == "sepsis":
            return {"recommendation": "sepsis_standard_care", "astct_grade": grade}
        if g("age_years") < 18 or not (g("tocilizumab_doses") >= 1 and g("corticosteroids_given")) or covid_ecmo:
            return {"recommendation": "specialist_review", "astct_grade": grade}
        if g("hours_since_cartridge_change") is None:
            raise KeyError("hours_since_cartridge_change")
        return {"recommendation": "continue_cytosorb", "astct_grade": grade}
    if grade == 0:
        return {"recommendation": "no_crs", "astct_grade": 0}
    if grade == 1:
        return {"recommendation": "supportive_care", "astct_grade": 1}
    if g("etiology") == "sepsis":
        return {"recommendation": "sepsis_standard_care", "astct_grade": grade}
    if g("tocilizumab_doses") == 0:
        return {"recommendation": "give_tocilizumab", "astct_grade": grade, "tocilizumab_dose_mg": _dose(g)}
    if not g("corticosteroids_given"):
        return {"recommendation": "add_corticosteroids", "astct_grade": grade}
    if _indicated(g, grade):
        if _contraindicated(g):
            return {"recommendation": "cytosorb_contraindicated", "astct_grade": grade}
        if g("age_years") < 18 or g("cytosorb_cartridges_used") >= 1 or covid_ecmo:
            return {"recommendation": "specialist_review", "astct_grade": grade}
        return {"recommendation": "consider_cytosorb", "astct_grade": grade}
    doses = g("tocilizumab_doses")
    if doses < 4 and g("hours_since_last_tocilizumab") >= 8 and (doses < 3 or g("hours_since_first_tocilizumab") > 24):
        return {"recommendation": "give_tocilizumab", "astct_grade": grade, "tocilizumab_dose_mg": _dose(g)}
    return {"recommendation": "continue_standard_therapy", "astct_grade": grade}
