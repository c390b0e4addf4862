"""Measurement errors in the spec, and the runtime ``borderline`` entries of a decision (no z3)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crs_model
from crs_model.errors import PatientError, SpecError
from crs_model.loader import load_spec_bytes
from crs_model.model import ErrorKind
from crs_model.report_text import decision_line, decision_text
from tests.vignette_support import ROOT

FLIP = ROOT / "tests" / "data" / "robustness" / "flip.yaml"
IL6_ERROR = "{relative: 0.2, cites: [fixture_error]}"

# grade 3 (one vasopressor), both therapies given, not refractory: CytoSorb only through IL-6 >= 500
# and multi-organ dysfunction (the fixture's severe_hyperinflammation)
BASE: dict[str, Any] = {
    "etiology": "car_t", "weight_kg": 70, "temperature_c": 39.0, "hypotension": True, "vasopressor_count": 1,
    "oxygen_support": "high_flow", "tocilizumab_doses": 2, "hours_since_last_tocilizumab": 10,
    "corticosteroids_given": True, "hemodynamic_instability_persistent": False, "il6_pg_ml": 480,
    "crp_mg_l": 10, "ferritin_ng_ml": 100, "multi_organ_dysfunction": True, "pregnant": False,
    "anticoagulation_contraindicated": False, "platelets_10e9_l": 100,
}  # fmt: skip


@pytest.fixture(scope="module")
def engine() -> crs_model.Engine:
    return crs_model.Engine(crs_model.load_spec(FLIP))


def _problems(replacement: str, target: str = IL6_ERROR) -> list[str]:
    raw = FLIP.read_text(encoding="utf-8")
    assert target in raw
    with pytest.raises(SpecError) as exc:
        load_spec_bytes(raw.replace(target, replacement, 1).encode(), "flip.yaml")
    return [str(p) for p in exc.value.problems]


def _line_col(text: str, needle: str) -> tuple[int, int]:
    raw = FLIP.read_text(encoding="utf-8")
    at = raw.index(IL6_ERROR)
    line = raw.count("\n", 0, at) + 1
    return line, at - raw.rfind("\n", 0, at) + text.index(needle)


# --------------------------------------------------------------------------- the spec schema
def test_the_error_is_loaded() -> None:
    spec = crs_model.load_spec(FLIP)
    err = spec.variables["il6_pg_ml"].measurement_error
    assert err is not None
    assert err.kind is ErrorKind.RELATIVE
    assert err.amount == 0.2
    assert err.cites == ("fixture_error",)
    assert err.text("pg/mL") == "±20 %"
    temp = spec.variables["temperature_c"].measurement_error
    assert temp is not None
    assert temp.text("°C") == "±0.1 °C"
    assert temp.half_width(38.0) == 0.1
    assert crs_model.load_spec().variables["il6_pg_ml"].measurement_error is None  # the shipped spec: none


@pytest.mark.parametrize(
    ("replacement", "needle", "message"),
    [
        ("{relative: 0, cites: [fixture_error]}", "0", "measurement_error.relative=0 must be above 0"),
        ("{relative: 1.5, cites: [fixture_error]}", "1.5", "measurement_error.relative=1.5 must be below 1"),
        ("{absolute: -2, cites: [fixture_error]}", "-2", "measurement_error.absolute=-2 must be above 0"),
        ("{absolute: 5000000, cites: [fixture_error]}", "5000000", "must be below the domain's width 1e+06"),
        ("{relative: 0.2, absolute: 1, cites: [fixture_error]}", "{", "needs exactly one of 'absolute'"),
        ("{relative: 0.2}", "{", "needs 'cites'"),
        ("{relative: 0.2, cites: [no_such_source]}", "no_such_source", "no_such_source"),
        ("{relative: twenty, cites: [fixture_error]}", "twenty", "must be a finite number, got 'twenty'"),
        ("{relative: 0.2, cites: [fixture_error], unit: x}", "unit", "unknown key 'unit'"),
    ],
)
def test_bad_errors_are_located(replacement: str, needle: str, message: str) -> None:
    problems = _problems(replacement)
    line, col = _line_col(replacement, needle)
    hit = [p for p in problems if message in p]
    assert hit, problems
    assert hit[0].startswith(f"flip.yaml:{line}:{col}: error: "), (hit[0], line, col)
    assert "il6_pg_ml" in hit[0] or "no_such_source" in hit[0]


def test_only_numeric_inputs_have_errors() -> None:
    raw = FLIP.read_text(encoding="utf-8")
    bad = raw.replace(
        "  pregnant:\n    type: bool\n", f"  pregnant:\n    type: bool\n    measurement_error: {IL6_ERROR}\n"
    )
    assert bad != raw
    with pytest.raises(SpecError) as exc:
        load_spec_bytes(bad.encode(), "flip.yaml")
    assert any(
        "variable 'pregnant': only an int or real input can have a measurement_error" in str(p)
        for p in exc.value.problems
    )


# --------------------------------------------------------------------------- runtime borderline
def test_480_is_borderline_to_500(engine: crs_model.Engine) -> None:
    d = engine.evaluate(BASE)
    assert d.recommendation == "continue_standard_therapy"
    assert [b.to_dict() for b in d.borderline] == [
        {"input": "il6_pg_ml", "value": 480, "threshold": 500, "would_be": "consider_cytosorb"}
    ]
    assert engine.evaluate({**BASE, "il6_pg_ml": 576}).recommendation == "consider_cytosorb"  # 480 + 20 %
    as_dict = d.to_dict()
    keys = list(as_dict)
    assert keys.index("borderline") == keys.index("possible_flags") + 1
    assert json.loads(d.to_json()) == as_dict  # the fast JSON path writes the same
    assert (
        "borderline: IL-6 480 pg/mL is within ±20 % of 500 pg/mL: within the error it would be consider_cytosorb"
        in (decision_text(d, engine.spec))
    )
    assert "borderline=il6_pg_ml->consider_cytosorb" in decision_line(d, engine.spec)


def test_the_other_side_and_the_edge(engine: crs_model.Engine) -> None:
    above = engine.evaluate({**BASE, "il6_pg_ml": 600})  # 600 - 20 % = 480 < 500
    assert above.recommendation == "consider_cytosorb"
    assert [(b.threshold, b.would_be) for b in above.borderline] == [(500, "continue_standard_therapy")]
    assert engine.evaluate({**BASE, "il6_pg_ml": 401}).borderline == ()  # 401 + 20 % = 481.2 < 500
    assert engine.evaluate({**BASE, "il6_pg_ml": 626}).borderline == ()  # 626 - 20 % = 500.8 >= 500


def test_far_from_every_threshold_is_not_borderline(engine: crs_model.Engine) -> None:
    d = engine.evaluate({**BASE, "il6_pg_ml": 2000, "temperature_c": 39.5})
    assert d.recommendation == "consider_cytosorb"
    assert d.borderline == ()
    assert d.to_dict()["borderline"] == []
    assert '"borderline":[]' in d.to_json()


def test_fever_threshold_within_a_tenth(engine: crs_model.Engine) -> None:
    calm = {**BASE, "hypotension": False, "vasopressor_count": 0, "oxygen_support": "none", "tocilizumab_doses": 0,
            "corticosteroids_given": False, "hours_since_last_tocilizumab": None}  # fmt: skip
    d = engine.evaluate({**calm, "temperature_c": 37.95})
    assert d.recommendation == "no_crs"
    assert [(b.input, b.threshold, b.would_be) for b in d.borderline] == [("temperature_c", 38, "supportive_care")]


def test_a_spec_without_errors_never_has_borderline() -> None:
    for p in sorted((ROOT / "specs" / "examples" / "patients").glob("*.json")):
        d = crs_model.evaluate(json.loads(p.read_text(encoding="utf-8")))
        assert d.borderline == ()
        assert '"possible_flags":' in d.to_json()
        assert '"borderline":[]' in d.to_json()


# --------------------------------------------------------------------------- against brute force
def _brute(engine: crs_model.Engine, patient: dict[str, Any], name: str) -> set[str]:
    """Every other recommendation a value within the error gives, on a fine grid plus every cut point
    and its float neighbours (so no cell between cut points is missed)."""
    spec = engine.spec
    var = spec.variables[name]
    err = var.measurement_error
    assert err is not None
    v = float(patient[name])
    lo, hi = max(v - err.half_width(v), var.minimum or -math.inf), min(v + err.half_width(v), var.maximum or math.inf)
    grid = {lo + (hi - lo) * i / 200 for i in range(201)}
    for c in spec.index.thresholds.get(name, ()):
        grid |= {math.nextafter(c, -math.inf), c, math.nextafter(c, math.inf)}
    now = engine.evaluate(patient).recommendation
    found: set[str] = set()
    for x in grid:
        if lo <= x <= hi:
            try:
                rec = engine.evaluate({**patient, name: x}).recommendation
            except PatientError:
                continue
            if rec != now:
                found.add(rec)
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    il6=st.floats(300, 800, allow_nan=False),
    temp=st.floats(37.7, 38.3, allow_nan=False),
    vaso=st.sampled_from([0, 1, 2]),
    doses=st.sampled_from([0, 2]),
    mod=st.booleans(),
    drop=st.sampled_from([None, "multi_organ_dysfunction", "hemodynamic_instability_persistent", "oxygen_support"]),
)
def test_borderline_agrees_with_brute_force(
    engine: crs_model.Engine, il6: float, temp: float, vaso: int, doses: int, mod: bool, drop: str | None
) -> None:
    p = {**BASE, "il6_pg_ml": round(il6, 1), "temperature_c": round(temp, 2), "vasopressor_count": vaso,
         "hypotension": vaso > 0, "tocilizumab_doses": doses, "corticosteroids_given": doses > 0,
         "hours_since_last_tocilizumab": 10 if doses else None, "multi_organ_dysfunction": mod}  # fmt: skip
    if drop is not None:  # an absent input: the exact engine decides over completions
        p[drop] = None
    d = engine.evaluate(p)
    for name in ("il6_pg_ml", "temperature_c"):
        assert {b.would_be for b in d.borderline if b.input == name} == _brute(engine, p, name), name
    for b in d.borderline:
        assert b.threshold is not None
        err = engine.spec.variables[b.input].measurement_error
        assert err is not None
        assert abs(b.threshold - b.value) <= err.half_width(float(b.value)) + 1e-9


def test_schema_shows_the_error() -> None:
    from crs_model.schema import patient_schema

    props = patient_schema(crs_model.load_spec(FLIP))["properties"]
    assert props["il6_pg_ml"]["x-measurement-error"] == {"relative": 0.2, "cites": ["fixture_error"]}
    assert props["temperature_c"]["x-measurement-error"] == {"absolute": 0.1, "cites": ["fixture_error"]}
    assert "x-measurement-error" not in props["crp_mg_l"]
