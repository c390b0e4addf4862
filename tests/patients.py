"""A small Hypothesis strategy for patients of the shipped spec (test helper).

Values are drawn inside every declared domain, with thresholds of the spec
favoured, then *repaired* so the spec's consistency constraints hold by
construction. ``crs_model.testing`` offers the general, spec-derived strategy.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from crs_model.model import Spec

# values at and around the spec's thresholds, so boundaries are hit often
_EDGES: dict[str, list[float]] = {
    "weight_kg": [0.5, 29.9, 30.0, 30.1, 99.9, 100.0, 100.1, 350.0],
    "temperature_c": [37.9, 38.0, 38.1],
    "il6_pg_ml": [499.9, 500.0, 500.1, 620.0, 620.1],
    "crp_mg_l": [99.9, 100.0, 100.1],
    "ferritin_ng_ml": [9999.9, 10000.0, 10000.1],
    "platelets_10e9_l": [19.9, 20.0, 20.1],
    "bmi_kg_m2": [39.9, 40.0, 40.1],
    "hours_since_last_tocilizumab": [7.9, 8.0, 8.1],
    "post_cytosorb_il6_pg_ml": [619.9, 620.0, 620.1],
    "age_years": [17.9, 18.0],
}


def _value(spec: Spec, name: str) -> st.SearchStrategy[Any]:
    v = spec.variables[name]
    base = v.type.base
    if base == "bool":
        return st.booleans()
    if base == "enum":
        return st.sampled_from(v.type.values)
    lo, hi = v.minimum, v.maximum
    assert lo is not None
    assert hi is not None
    if base == "int":
        return st.integers(int(lo), int(hi))
    edges = [e for e in _EDGES.get(name, []) if lo <= e <= hi]
    real = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return st.one_of(st.sampled_from(edges), real) if edges else real


def repair(p: dict[str, Any]) -> dict[str, Any]:
    """Make ``p`` satisfy the shipped spec's consistency constraints."""
    if p.get("hemodynamic_instability_persistent"):
        p["hypotension"] = True
        p["corticosteroids_given"] = True
        if p.get("tocilizumab_doses") in (None, 0):
            p["tocilizumab_doses"] = 1
    if (p.get("vasopressor_count") or 0) > 0 or p.get("vasopressin"):
        p["hypotension"] = True
    if p.get("hours_since_last_tocilizumab") is not None and p.get("tocilizumab_doses") in (None, 0):
        p["tocilizumab_doses"] = 1
    if p.get("post_cytosorb_il6_pg_ml") is not None and p.get("cytosorb_cartridges_used") in (None, 0):
        p["cytosorb_cartridges_used"] = 1
    return p


@st.composite
def patients(draw: st.DrawFn, spec: Spec, absent: float = 0.0) -> dict[str, Any]:
    """A valid patient; each input absent with probability about ``absent``."""
    p: dict[str, Any] = {}
    for name in spec.variables:
        if name == "hours_since_last_tocilizumab" and p.get("tocilizumab_doses") == 0:
            continue
        if absent and draw(st.floats(0, 1)) < absent:
            continue
        p[name] = draw(_value(spec, name))
    return repair(p)
