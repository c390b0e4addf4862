"""Exact decisions under absent inputs (crs_model/completion.py) on the shipped spec and small specs."""

from __future__ import annotations

import textwrap
from fractions import Fraction
from itertools import product
from pathlib import Path
from typing import Any

import pytest

import crs_model
from crs_model.completion import build_scope, cell_values
from crs_model.engine import Engine
from crs_model.errors import PatientError
from crs_model.model import Spec
from tests.test_engine import FULL

# the issue's example: fever, hypotension, no vasopressor running, vasopressin absent, no tocilizumab
ISSUE_EXAMPLE: dict[str, Any] = {
    "on_cytosorb": False,
    "cytosorb_cartridges_used": 0,
    "etiology": "car_t",
    "age_years": 40,
    "weight_kg": 70,
    "temperature_c": 39.0,
    "hypotension": True,
    "vasopressor_count": 0,
    "oxygen_support": "none",
    "tocilizumab_doses": 0,
}


@pytest.fixture(scope="module")
def spec() -> Spec:
    return crs_model.load_spec()


@pytest.fixture(scope="module")
def exact(spec: Spec) -> Engine:
    return Engine(spec)


@pytest.fixture(scope="module")
def kleene(spec: Spec) -> Engine:
    return Engine(spec, exact=False)


def test_cells_one_value_each_point_and_each_gap() -> None:
    assert cell_values([8, 24], 0, 2000, is_int=False) == (0, 4.0, 8, 16.0, 24, 1012.0, 2000)
    assert cell_values([1, 2], 0, 6, is_int=True) == (0, 1, 2, 3, 6)  # 3, 4, 5 are one cell
    assert cell_values([Fraction(1, 3)], 0, 1, is_int=False)[1] == pytest.approx(1 / 6)  # 1/3 is no float
    assert cell_values([], None, None, is_int=False) == (0.0,)
    assert cell_values([5], None, None, is_int=True) == (4, 5, 6)


def test_scope_of_the_shipped_spec(spec: Spec) -> None:
    scope = build_scope(spec)
    # only the weight is read outside a comparison with a constant (the dose arithmetic)
    assert list(scope.opaque) == ["weight_kg"]
    assert scope.group["hours_since_first_tocilizumab"] == ("hours_since_last_tocilizumab",)
    assert scope.group["hours_since_cartridge_change"] == ("hours_on_cytosorb",)
    # a definition with finitely many constant values cuts what it is compared with (12 h and 24 h)
    assert {12, 24} <= set(scope.grid["hours_since_cartridge_change"])


def test_the_issues_example_is_decided(exact: Engine, kleene: Engine) -> None:
    assert kleene.evaluate(ISSUE_EXAMPLE).missing == ("vasopressin",)
    d = exact.evaluate(ISSUE_EXAMPLE)
    assert (d.recommendation, d.outcome) == ("give_tocilizumab", "give_first_tocilizumab")
    assert d.tocilizumab_dose_mg == 560.0
    assert d.astct_grade is None
    assert dict(d.undecided_outputs) == {"astct_grade": {"values": [2, 3]}}
    # the grade-3 flag is possible (vasopressin would settle it); the grade-4 one is not
    assert [(f.note.id, f.if_known) for f in d.possible_flags] == [("grade3_add_dexamethasone", ("vasopressin",))]
    assert d.missing == ()
    assert d.missing_any_of == ()
    js = d.to_dict()
    assert js["undecided_outputs"] == {"astct_grade": {"values": [2, 3]}}
    assert js["possible_flags"][0]["if_known"] == ["vasopressin"]


def test_a_constraint_implied_value_decides(exact: Engine, kleene: Engine) -> None:
    # a vasopressor running means hypotension: the absent hypotension cannot change the grade
    p = {**ISSUE_EXAMPLE, "vasopressor_count": 2, "vasopressin": False}
    del p["hypotension"]
    assert kleene.evaluate(p).recommendation == "insufficient_data"
    d = exact.evaluate(p)
    assert d.recommendation != "insufficient_data"
    assert d.astct_grade == 4  # decided over the completions, though three-valued it is unknown


def test_a_partner_value_bounds_an_absent_input(exact: Engine, kleene: Engine) -> None:
    # 3 doses, the last 30 h ago, the first not recorded: the first is at least as old (constraint),
    # so more than 24 h: a 4th dose is not refused by the 3-in-24-h rule
    p = {**FULL, "tocilizumab_doses": 3, "hours_since_last_tocilizumab": 30.0,
         "hemodynamic_instability_persistent": False,
         "vasopressor_count": 1, "norepinephrine_equivalent_ug_kg_min": 0.1, "il6_pg_ml": 10.0, "crp_mg_l": 5.0,
         "ferritin_ng_ml": 100.0, "multi_organ_dysfunction": False, "organ_dysfunction_progressive": False}  # fmt: skip
    assert kleene.evaluate(p).missing == ("hours_since_first_tocilizumab",)
    d = exact.evaluate(p)
    assert d.outcome == "give_repeat_tocilizumab"
    assert exact.evaluate({**p, "hours_since_first_tocilizumab": 30.0}).outcome == d.outcome


def test_complete_patients_decide_as_before(exact: Engine, kleene: Engine) -> None:
    for over in (
        {},
        {"tocilizumab_doses": 0, "hours_since_last_tocilizumab": None, "hemodynamic_instability_persistent": False},
        {"etiology": "sepsis"},
    ):
        p = {**FULL, **over}
        a, b = kleene.evaluate(p), exact.evaluate(p)
        assert (a.recommendation, a.outcome, a.path, dict(a.outputs), a.flags) == (
            b.recommendation,
            b.outcome,
            b.path,
            dict(b.outputs),
            b.flags,
        )


def test_missing_lists_the_smallest_deciding_sets(exact: Engine) -> None:
    d = exact.evaluate({**ISSUE_EXAMPLE, "weight_kg": None})
    assert d.recommendation == "insufficient_data"
    assert d.missing == ("weight_kg",)
    assert d.missing_any_of == (("weight_kg",),)
    # knowing the weight decides, whatever it is
    for w in (10, 29.9, 30, 100, 350):
        assert exact.evaluate({**ISSUE_EXAMPLE, "weight_kg": w}).recommendation == "give_tocilizumab"


MINI = """
spec_format: 2
metadata: {id: mini-exact, title: mini, version: 1.0.0, status: draft, date: 2026-12-01, authors: [t], reviewers: [],
           jurisdiction: test fixture}
evidence:
  - {id: e, citation: test, kind: guideline, level: expert_opinion, confidence: primary}
variables:
  a: {type: bool, label: a}
  b: {type: bool, label: b}
  x: {type: real, min: 0, max: 10, label: x}
  k: {type: int, min: 0, max: 3, label: k}
constraints:
  - {id: c1, expr: "k > 0 implies a", message: k needs a, cites: [e]}
parameters:
  t: {value: 5, label: t, rationale: r, cites: [e]}
recommendations:
  go: {class: device, label: go}
  stay: {class: standard_therapy, label: stay}
outputs: {}
graph:
  entry: n1
  nodes:
    n1:
      question: q
      hit_policy: unique
      cites: [e]
      edges:
        - {to: n2, when: "a or x >= t", cites: [e]}
        - {to: stay_o, when: "not (a or x >= t)", cites: [e]}
    n2:
      question: q2
      hit_policy: unique
      cites: [e]
      edges:
        - {to: go_o, when: "b or k >= 1 or x >= 5", cites: [e]}
        - {to: stay2, when: "not (b or k >= 1 or x >= 5)", cites: [e]}
  outcomes:
    go_o: {recommendation: go, title: go, cites: [e]}
    stay_o: {recommendation: stay, title: stay, cites: [e]}
    stay2: {recommendation: stay, title: stay, cites: [e]}
invariants: []
"""


def _brute(engine: Engine, patient: dict[str, Any]) -> set[str | None]:
    """Outcomes of every valid completion over a fine grid (every value of every absent input)."""
    grid: dict[str, list[Any]] = {
        "a": [False, True],
        "b": [False, True],
        "x": [0, 2.5, 4.99, 5, 7, 10],
        "k": [0, 1, 2, 3],
    }
    absent = [n for n in grid if patient.get(n) is None]
    out: set[str | None] = set()
    for values in product(*(grid[n] for n in absent)):
        q = {**patient, **dict(zip(absent, values, strict=True))}
        try:
            d = engine.evaluate(q)
        except PatientError:
            continue
        out.add(d.outcome)
    return out


def _decides(kleene: Engine, p: dict[str, Any], names: tuple[str, ...], grid: dict[str, list[Any]]) -> bool:
    for vals in product(*(grid[n][1:] for n in names)):
        q = {**p, **dict(zip(names, vals, strict=True))}
        try:
            kleene.validator.validate(q)
        except PatientError:
            continue
        if len(_brute(kleene, q)) > 1:
            return False
    return True


def test_exact_equals_brute_force_on_a_small_spec(tmp_path: Path) -> None:
    path = tmp_path / "mini.yaml"
    path.write_text(textwrap.dedent(MINI), encoding="utf-8")
    spec = crs_model.load_spec(path)
    exact, kleene = Engine(spec), Engine(spec, exact=False)
    grid: dict[str, list[Any]] = {
        "a": [None, False, True],
        "b": [None, False, True],
        "x": [None, 0, 5, 9],
        "k": [None, 0, 2],
    }
    decided_more = 0
    for values in product(*grid.values()):
        p = {n: v for n, v in zip(grid, values, strict=True) if v is not None}
        try:
            d = exact.evaluate(p)
        except PatientError:
            continue
        recs = _brute(kleene, p)
        assert recs, p
        if len(recs) == 1:
            assert d.outcome == next(iter(recs)), p  # complete: every completion agrees
            decided_more += kleene.evaluate(p).recommendation == "insufficient_data"
        else:
            assert d.recommendation == "insufficient_data", p  # sound
            assert d.missing_any_of
            assert d.missing == d.missing_any_of[0]
            for s in d.missing_any_of:  # each set decides whatever its values, and none smaller does
                assert _decides(kleene, p, s, grid), (p, s)
                for smaller in (tuple(n for n in s if n != drop) for drop in s):
                    assert not _decides(kleene, p, smaller, grid), (p, s, smaller)
    assert decided_more > 0  # the exact method decides patients three-valued evaluation could not


def test_check_spec_names_the_inputs_outside_the_exact_method() -> None:
    import io

    from crs_model.cli import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["check-spec"], out, err) == 0, err.getvalue()
    notes = [line for line in out.getvalue().splitlines() if line.startswith("note: ")]
    assert len(notes) == 1
    assert "input 'weight_kg' is read outside a comparison with a constant" in notes[0]
    assert "outcome:give_first_tocilizumab" in notes[0]


def test_a_possible_flag_on_a_running_course(exact: Engine) -> None:
    # on CytoSorb with every course input recorded except the post-treatment IL-6: the prognostic
    # note is possible, and the same answer comes from the cache for a second patient of the same cells
    p = {**FULL, "on_cytosorb": True, "cytosorb_cartridges_used": 2, "hours_on_cytosorb": 30.0,
         "hours_since_cartridge_change": 5.0, "cytosorb_response": "improved"}  # fmt: skip
    for hours in (30.0, 31.5):
        d = exact.evaluate({**p, "hours_on_cytosorb": hours})
        assert d.outcome == "continue_cytosorb"
        assert [(f.note.id, f.if_known) for f in d.possible_flags] == [
            ("post_cytosorb_il6_prognostic", ("post_cytosorb_il6_pg_ml",))
        ]
    known = exact.evaluate({**p, "post_cytosorb_il6_pg_ml": 700.0})
    assert "post_cytosorb_il6_prognostic" in {f.id for f in known.flags}
    assert not known.possible_flags


@pytest.mark.quality
def test_deciding_sets_decide_and_are_minimal_on_generated_patients(spec: Spec, exact: Engine) -> None:
    """On generated partial patients answered insufficient_data: every listed set decides whatever its
    values (the engine is sound, so a definitive engine answer is the answer), and dropping any one of
    its inputs leaves a patient the Z3 exact oracle also answers insufficient_data (minimal)."""
    pytest.importorskip("z3")
    from benchmarks.bench_engine import drop_fields, strategy_patients
    from crs_model.testing import boundary_values
    from crs_model.verify.oracle import ExactOracle

    oracle = ExactOracle(spec)
    values = boundary_values(spec)
    kinds = {n: v.type for n, v in spec.variables.items()}

    def options(name: str) -> tuple[Any, ...]:
        t = kinds[name]
        if t.base.value == "bool":
            return (False, True)
        if t.base.value == "enum":
            return t.values
        return values.get(name, ())

    def assignments(names: tuple[str, ...], cap: int = 400) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{}]
        for n in names:
            out = [{**a, n: v} for a in out for v in options(n)][:cap]
        return out

    def valid(p: dict[str, Any]) -> bool:
        try:
            exact.validator.validate(p)
        except PatientError:
            return False
        return True

    checked = 0
    for p, _ in drop_fields(strategy_patients(400, seed=21), seed=22):
        d = exact.evaluate(p)
        if d.recommendation != "insufficient_data" or not d.missing_any_of:
            continue
        checked += 1
        for s in d.missing_any_of:
            for a in assignments(s):
                q = {**p, **a}
                if valid(q):
                    assert exact.evaluate(q).recommendation != "insufficient_data", (p, s, a)
            for drop in s:
                rest = tuple(n for n in s if n != drop)
                witness = next(
                    (q for a in assignments(rest) if valid(q := {**p, **a}) and exact.evaluate(q).outcome is None),
                    None,
                )
                assert witness is not None, (p, s, drop)
                assert oracle.decide(witness)[0] == "insufficient_data", (p, s, drop, witness)
    assert checked >= 50
