"""Engine behaviour on the shipped spec: decisions, missing data, invariants, defects."""

from __future__ import annotations

import json
import textwrap
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import crs_model
from crs_model.engine import Engine
from crs_model.errors import PatientError, SpecDefectError
from crs_model.exact import exact
from crs_model.expr import Expr, IfThenElse, Name, children
from crs_model.model import Spec
from crs_model.pyeval import UnknownExplainer
from crs_model.testing import patients
from tests.conftest import SPEC_PATH, idle_inputs

FULL: dict[str, Any] = {
    "on_cytosorb": False,
    "etiology": "car_t",
    "age_years": 45.0,
    "weight_kg": 80.0,
    "bmi_kg_m2": 25.0,
    "pregnant": False,
    "temperature_c": 39.2,
    "hypotension": True,
    "vasopressor_count": 2,
    "vasopressin": False,
    "oxygen_support": "high_flow",
    "tocilizumab_doses": 2,
    "hours_since_last_tocilizumab": 10.0,
    "corticosteroids_given": True,
    "hemodynamic_instability_persistent": True,
    "il6_pg_ml": 2000.0,
    "crp_mg_l": 200.0,
    "ferritin_ng_ml": 5000.0,
    "d_dimer_mg_l_feu": 5.0,
    "multi_organ_dysfunction": True,
    "organ_dysfunction_progressive": True,
    "severe_capillary_leak": False,
    "respiratory_failure_refractory_to_prone": False,
    "aki": True,
    "on_crrt": True,
    "on_ecmo": False,
    "anticoagulation_contraindicated": False,
    "heparin_induced_thrombocytopenia": False,
    "platelets_10e9_l": 80.0,
    "cytosorb_cartridges_used": 0,
    "post_cytosorb_il6_pg_ml": None,
}


def test_refractory_car_t_patient_gets_cytosorb(engine: Engine) -> None:
    d = engine.evaluate(FULL)
    assert d.recommendation == "consider_cytosorb"
    assert d.astct_grade == 4
    assert d.path[:2] == ("cytosorb_running", "crs_grade")
    assert d.path[-1] == "consider_cytosorb"
    assert "continue_standard_therapy" in {a.id for a in d.actions}
    assert {"car_t_note", "crrt_integration"} <= {f.id for f in d.flags}
    assert "ecmo_side_branch" not in {f.id for f in d.flags}
    assert "seed" in d.cites
    assert "cytosorb_ifu" in d.cites
    assert engine.invariant_violations(d) == []


def test_decision_json_contract(engine: Engine, spec: Spec) -> None:
    d = engine.evaluate(FULL).to_dict()
    assert list(d) == [
        "recommendation", "outcome", "astct_grade", "tocilizumab_dose_mg", "undecided_outputs", "actions",
        "flags", "possible_flags", "borderline", "missing", "missing_any_of", "path", "cites", "spec",
    ]  # fmt: skip
    assert d["spec"] == {"id": "cytosorb-crs", "version": spec.metadata.version, "sha256": spec.sha256}
    assert json.loads(json.dumps(d)) == d
    for note in d["actions"] + d["flags"]:
        assert set(note) == {"id", "text", "citations"}
        assert note["citations"]


def test_default_spec_is_bundled() -> None:
    assert crs_model.evaluate(FULL).recommendation == "consider_cytosorb"


def test_first_tocilizumab_dose_needs_weight(engine: Engine) -> None:
    p = {"on_cytosorb": False, "etiology": "other", "temperature_c": 39.0, "hypotension": True,
         "vasopressor_count": 0, "vasopressin": False, "oxygen_support": "none", "tocilizumab_doses": 0,
         "corticosteroids_given": False}  # fmt: skip
    d = engine.evaluate(p)
    assert (d.recommendation, d.missing) == ("insufficient_data", ("weight_kg",))
    assert d.tocilizumab_dose_mg is None
    d = engine.evaluate({**p, "weight_kg": 25.0})
    assert d.recommendation == "give_tocilizumab"
    assert d.tocilizumab_dose_mg == pytest.approx(300.0)
    assert d.astct_grade == 2


@pytest.mark.parametrize(("weight", "dose"), [(29.9, 358.8), (30.0, 240.0), (100.0, 800.0), (120.0, 800.0)])
def test_tocilizumab_dose_by_weight(engine: Engine, weight: float, dose: float) -> None:
    p = {"on_cytosorb": False, "etiology": "car_t", "temperature_c": 39.0, "hypotension": False,
         "oxygen_support": "low_flow", "tocilizumab_doses": 0, "weight_kg": weight}  # fmt: skip
    assert engine.evaluate(p).tocilizumab_dose_mg == pytest.approx(dose)


def test_unknown_guard_stops_and_lists_inputs(engine: Engine) -> None:
    d = engine.evaluate({"on_cytosorb": False, "temperature_c": 39.0})
    assert d.recommendation == "insufficient_data"
    assert d.path == ("cytosorb_running", "crs_grade")
    # fever is known, so prior therapy does not matter; the grading inputs do
    assert set(d.missing) == {"hypotension", "vasopressor_count", "vasopressin", "oxygen_support"}
    assert d.trace[0].taken == "crs_grade"
    assert d.trace[1].taken is None


def test_fever_not_required_after_tocilizumab(engine: Engine) -> None:
    # temperature absent, but tocilizumab given: grading follows hypotension/hypoxia
    p = {"on_cytosorb": False, "etiology": "car_t", "hypotension": True, "vasopressor_count": 1,
         "vasopressin": False, "oxygen_support": "none", "tocilizumab_doses": 1,
         "hours_since_last_tocilizumab": 2.0, "corticosteroids_given": False}  # fmt: skip
    d = engine.evaluate(p)
    assert d.astct_grade == 3
    assert d.recommendation == "add_corticosteroids"


def test_invalid_patient_raises_with_field(engine: Engine) -> None:
    with pytest.raises(PatientError) as exc:
        engine.evaluate({**FULL, "vasopressor_count": 1.5})
    assert exc.value.field == "vasopressor_count"
    with pytest.raises(PatientError) as exc:
        engine.evaluate({**FULL, "hypotension": False})
    assert exc.value.field in {"vasopressor_count", "hemodynamic_instability_persistent"}
    assert "inconsistent input" in exc.value.message


# ---------------------------------------------------------------- generated patients
SETTINGS = settings(
    max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


SPEC = crs_model.load_spec(SPEC_PATH)
ENGINE = Engine(SPEC)


@SETTINGS
@given(p=st.sampled_from([0.0, 0.1, 0.4]).flatmap(lambda a: patients(SPEC, absent_probability=a)))
def test_invariants_hold_on_generated_patients(p: dict[str, Any]) -> None:
    d = ENGINE.evaluate(p)
    assert ENGINE.invariant_violations(d) == [], (p, d.recommendation)


@SETTINGS
@given(p=st.sampled_from([0.0, 0.2]).flatmap(lambda a: patients(SPEC, absent_probability=a)))
def test_fast_json_equals_json_of_to_dict(p: dict[str, Any]) -> None:
    d = ENGINE.evaluate(p)
    assert d.to_json() == json.dumps(d.to_dict(), separators=(",", ":"), ensure_ascii=False)


@SETTINGS
@given(p=patients(SPEC, absent_probability=0.0))
def test_complete_patients_always_get_a_definitive_outcome(p: dict[str, Any]) -> None:
    p = {k: v for k, v in p.items() if k != "post_cytosorb_il6_pg_ml"}  # optional refinement
    # inputs that only mean something after an event (a dose, a cartridge) may be absent; the
    # generator's constraint repair sometimes forgets an input: such a patient is not complete
    assume(set(SPEC.variables) - idle_inputs(p) <= set(p))
    d = ENGINE.evaluate(p)
    assert d.recommendation != "insufficient_data", (p, d.missing)
    assert d.missing == ()


@SETTINGS
@given(partial=patients(SPEC, absent_probability=0.3), full=patients(SPEC, absent_probability=0.0))
def test_missing_data_never_decides_on_a_guess(partial: dict[str, Any], full: dict[str, Any]) -> None:
    """A definitive outcome reached with inputs absent is the outcome of every completion."""
    d = ENGINE.evaluate(partial)
    if d.recommendation == "insufficient_data":
        assert d.missing, partial
        return
    completed = {**full, **partial}
    try:
        d2 = ENGINE.evaluate(completed)
    except PatientError:
        return  # this completion violates a consistency constraint
    assert d2.outcome == d.outcome, (partial, completed)


def _reference_missing(explainer: UnknownExplainer, node: Expr, env: dict[str, Any]) -> set[str]:
    """The explainer's rule written the plain way (no memo, no shortcuts): the reference."""
    if explainer._value(node, env) is not None:
        return set()
    if isinstance(node, Name):
        definition = explainer._definitions.get(node.id)
        if definition is not None:
            return _reference_missing(explainer, definition, env)
        return {node.id} if env.get(node.id) is None else set()
    if isinstance(node, IfThenElse):
        cond = explainer._value(node.cond, env)
        if cond is True:
            return _reference_missing(explainer, node.then, env)
        if cond is False:
            return _reference_missing(explainer, node.orelse, env)
    out: set[str] = set()
    for child in children(node):
        out |= _reference_missing(explainer, child, env)
    return out


@SETTINGS
@given(p=st.sampled_from([0.2, 0.5, 0.8]).flatmap(lambda a: patients(SPEC, absent_probability=a)))
def test_missing_inputs_equal_the_plain_reference(p: dict[str, Any]) -> None:
    """The explainer (memoized, with shortcuts for inputs and literals) blames exactly the
    inputs the plain recursive rule blames, for every guard of every node."""
    env = ENGINE.complete(ENGINE.validator.validate(p))
    explainer = ENGINE._explain
    for node in SPEC.nodes.values():
        union: set[str] = set()
        for e in node.edges:
            ref = _reference_missing(explainer, e.guard.ast, env)
            assert explainer.missing(e.guard.ast, env) == ref, (node.id, e.target, p)
            union |= ref
        # all of a node's guards at once (what the engine asks), sharing the memo
        assert explainer.missing_any([e.guard.ast for e in node.edges], env) == union, (node.id, p)


# ---------------------------------------------------------------- spec defects
def _tiny(tmp_path: Path, guards: tuple[str, str], policy: str = "unique") -> Engine:
    text = textwrap.dedent(f"""\
        spec_format: 2
        metadata: {{id: t, title: t, version: 1.0.0, status: draft, date: 2026-01-01, authors: [x], jurisdiction: x}}
        recommendations: {{no_crs: {{class: no_condition}}, supportive_care: {{class: standard_therapy}}}}
        evidence: [{{id: s, citation: c, kind: study, level: grade_low, confidence: primary}}]
        variables: {{v: {{type: int, min: 0, max: 10}}}}
        definitions: {{}}
        graph:
          entry: n
          nodes:
            n:
              question: q
              hit_policy: {policy}
              edges:
                - {{to: o1, when: "{guards[0]}", cites: [s]}}
                - {{to: o2, when: "{guards[1]}", cites: [s]}}
          outcomes:
            o1: {{recommendation: no_crs, title: a, cites: [s]}}
            o2: {{recommendation: supportive_care, title: b, cites: [s]}}
        invariants: []
        """)
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    return Engine(crs_model.load_spec(path))


def test_overlap_and_gap_raise_instead_of_guessing(tmp_path: Path) -> None:
    e = _tiny(tmp_path, ("v >= 5", "v <= 5"))
    assert e.evaluate({"v": 1}).outcome == "o2"
    with pytest.raises(SpecDefectError, match="overlap"):
        e.evaluate({"v": 5})
    e = _tiny(tmp_path, ("v > 5", "v < 5"))
    with pytest.raises(SpecDefectError, match="gap"):
        e.evaluate({"v": 5})


def test_first_hit_policy_takes_first_true_and_stops_on_unknown(tmp_path: Path) -> None:
    e = _tiny(tmp_path, ("v >= 5", "v >= 0"), policy="first")
    assert e.evaluate({"v": 7}).outcome == "o1"
    assert e.evaluate({"v": 2}).outcome == "o2"
    d = e.evaluate({})
    assert (d.recommendation, d.missing) == ("insufficient_data", ("v",))


def test_spec_path_constant() -> None:
    assert SPEC_PATH.is_file()


# ------------------------------------------------------------------ exact numbers
ARITH_SPEC = textwrap.dedent(
    """\
    spec_format: 2
    metadata:
      id: exact-arith
      title: Guards whose float result crosses the threshold
      version: 1.0.0
      status: draft
      date: 2026-11-23
      authors: [tests]
      jurisdiction: none
    evidence:
      - {id: src, citation: A source., kind: guideline, level: expert_opinion, confidence: primary}
    variables:
      x: {type: real, min: 0, max: 100}
      n: {type: int, min: 0, max: 100}
    parameters:
      tenth: {value: 0.1, rationale: a tenth, cites: [src]}
    definitions:
      scaled:
        type: real
        expr: tenth * x
        cites: [src]
    recommendations:
      no_crs: {class: no_condition}
      supportive_care: {class: standard_therapy}
      give_tocilizumab: {class: standard_therapy}
      add_corticosteroids: {class: standard_therapy}
      consider_cytosorb: {class: device}
    outputs:
      scaled:
        precision: 2
    graph:
      entry: start
      nodes:
        start:
          question: which arithmetic holds?
          hit_policy: first
          cites: [src]
          edges:
            - {to: tenth_over, when: scaled > 0.3, cites: [src]}
            - {to: sum_over, when: x + 0.2 > 0.3 and x < 0.2, cites: [src]}
            - {to: triple_exact, when: x * 3 == 0.3, cites: [src]}
            - {to: thirds_off, when: n / 3 * 3 != n or n / 10 + n / 10 + n / 10 != 3 * n / 10, cites: [src]}
            - {to: rest, when: x >= 0, cites: [src]}
      outcomes:
        tenth_over: {recommendation: consider_cytosorb, title: a, outputs: [scaled], cites: [src]}
        sum_over: {recommendation: supportive_care, title: b, cites: [src]}
        triple_exact: {recommendation: no_crs, title: c, cites: [src]}
        thirds_off: {recommendation: give_tocilizumab, title: d, cites: [src]}
        rest: {recommendation: add_corticosteroids, title: e, outputs: [scaled], cites: [src]}
    invariants:
      - {id: scaled_is_a_tenth, description: d, severity: error, expr: scaled * 10 == x, cites: [src]}
    """
)


@pytest.fixture(scope="module")
def arith_spec() -> Spec:
    from crs_model.loader import load_spec_bytes

    return load_spec_bytes(ARITH_SPEC.encode(), "exact_arith.yaml")


def test_float_arithmetic_would_cross_these_thresholds() -> None:
    """The premise: IEEE floats get every guard of ARITH_SPEC wrong at these points."""
    assert 0.1 * 3.0 > 0.3
    assert 0.1 + 0.2 > 0.3
    assert 0.1 * 3 != 0.3
    assert 3 / 10 + 3 / 10 + 3 / 10 != 3 * 3 / 10


@pytest.mark.parametrize(
    ("x", "outcome"),
    [(3.0, "rest"), (3, "rest"), (3.0000000000000004, "tenth_over"), (0.1, "triple_exact"), (0.15, "sum_over")],
)
def test_engine_arithmetic_is_exact(arith_spec: Spec, x: float, outcome: str) -> None:
    d = Engine(arith_spec).evaluate({"x": x, "n": 3})
    assert d.outcome == outcome
    assert Engine(arith_spec).invariant_violations(d) == []


def test_engine_agrees_with_the_verifier_oracle(arith_spec: Spec) -> None:
    """Engine and Z3 oracle (the verifier's exact-rational evaluator) decide alike, call for call."""
    import random

    from crs_model.verify.oracle import Z3Oracle

    engine, oracle = Engine(arith_spec), Z3Oracle(arith_spec)
    rng = random.Random(10)  # noqa: S311 - test data, not cryptography
    xs = [0.0, 0.1, 0.15, 0.2, 3, 3.0, 2.9999999999999996, 3.0000000000000004, 0.30000000000000004, 100.0]
    xs += [round(rng.uniform(0, 100), rng.choice([1, 2, 3, 17])) for _ in range(150)]
    seen = set()
    for i, x in enumerate(xs):
        patient = {"x": x, "n": i % 101}
        d = engine.evaluate(patient)
        assert oracle.decide(patient) == (d.recommendation, d.outcome, d.path), patient
        seen.add(d.outcome)
    assert {"rest", "tenth_over", "triple_exact", "sum_over"} <= seen


@pytest.mark.parametrize(
    ("weight", "dose"), [(44.85, 358.8), (72.5, 580.0), (29.99, 359.9), (10.05, 120.6), (44.87, 359.0), (99.99, 799.9)]
)
def test_dose_is_reported_at_its_declared_precision(engine: Engine, weight: float, dose: float) -> None:
    p = {**FULL, "weight_kg": weight, "tocilizumab_doses": 0, "hours_since_last_tocilizumab": None}
    p.update(corticosteroids_given=False, hemodynamic_instability_persistent=False, vasopressor_count=1)
    d = engine.evaluate(p)
    assert d.recommendation == "give_tocilizumab"
    assert d.tocilizumab_dose_mg == dose
    assert repr(d.tocilizumab_dose_mg) == repr(dose)  # 358.8, not 358.79999999999995
    assert d.to_dict()["tocilizumab_dose_mg"] == dose
    assert f'"tocilizumab_dose_mg":{dose!r},' in d.to_json()
    assert json.loads(d.to_json()) == json.loads(json.dumps(d.to_dict()))
    # guards and invariants see the exact dose; only the report is rounded
    exact_dose = min(800, Fraction(repr(weight)) * (12 if weight < 30 else 8))
    assert exact(d.values["tocilizumab_dose_mg"]) == exact_dose
    assert engine.invariant_violations(d) == []


def test_dose_text_output_is_rounded(tmp_path: Path) -> None:
    import io

    from crs_model.cli import main

    p = {**FULL, "weight_kg": 44.85, "tocilizumab_doses": 0, "hours_since_last_tocilizumab": None}
    p.update(corticosteroids_given=False, hemodynamic_instability_persistent=False, vasopressor_count=1)
    f = tmp_path / "p.json"
    f.write_text(json.dumps(p), encoding="utf-8")
    for fmt in ([], ["--format", "json"]):
        out, err = io.StringIO(), io.StringIO()
        assert main(["evaluate", str(f), *fmt], out, err) == 0
        assert "358.8" in out.getvalue()
        assert "358.79999" not in out.getvalue()


@pytest.mark.parametrize(
    ("value", "places", "want"),
    [
        (358.79999999999995, 1, 358.8),
        (0.05, 1, 0.1),  # halves away from zero, on the decimal value (the float 0.05 is below it)
        (2.675, 2, 2.68),  # round() gives 2.67: it sees the binary value 2.67499999...
        (-0.25, 1, -0.3),
        (0.24999, 1, 0.2),
        (799.96, 1, 800.0),
        (12, 0, 12.0),
    ],
)
def test_round_half_up_rounds_the_decimal_value(value: float, places: int, want: float) -> None:
    from crs_model.exact import round_half_up

    assert repr(round_half_up(value, places)) == repr(want)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (
            "    precision: 2\n|    report: listed\n",
            "output 'scaled' is real and needs 'precision' (decimal places it is reported with)",
        ),
        ("    precision: 2\n|    precision: -1\n", "precision=-1 must be a whole number of decimal places 0..6"),
        ("    precision: 2\n|    precision: 1.5\n", "precision=1.5 must be a whole number"),
        (
            "    type: real\n|    type: int\n|    expr: tenth * x|    expr: n",
            "precision applies to real outputs only",
        ),
    ],
)
def test_precision_is_checked_at_load(edit: str, fragment: str) -> None:
    from crs_model.errors import SpecError
    from crs_model.loader import load_spec_bytes

    text = ARITH_SPEC
    parts = edit.split("|")
    for old, new in zip(parts[::2], [*parts[1::2], ""][: len(parts[::2])], strict=True):
        assert old in text
        text = text.replace(old, new, 1)
    with pytest.raises(SpecError) as exc:
        load_spec_bytes(text.encode(), "p.yaml")
    assert fragment in str(exc.value)


def test_decision_json_of_notes_the_engine_does_not_own(engine: Engine) -> None:
    # the fragment cache is keyed by identity; notes from elsewhere must not be mistaken for its own
    import dataclasses

    from crs_model.engine import Note

    d = engine.evaluate(FULL)
    engine.decision_json(d)  # fills the cache with this engine's notes
    for i in range(50):  # objects freed each round: CPython reuses their ids for the next round's
        other = dataclasses.replace(
            d,
            actions=tuple(Note(a.id, f"{a.text} (edit {i})", a.citations) for a in d.actions),
            flags=tuple(Note(f"{f.id}_{i}", f.text, f.citations) for f in d.flags),
        )
        assert json.loads(engine.decision_json(other)) == json.loads(json.dumps(other.to_dict()))
