"""crs-model testgen: the shipped suite is what testgen makes now, and covers every feasible goal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crs_model import Engine, load_spec
from crs_model.model import Spec
from crs_model.verify.coverage import Checker, GoalKind, decision_key
from crs_model.verify.regress import read_suite
from crs_model.verify.testgen import Case, Suite, analyse, generate

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_SUITE = ROOT / "specs" / "cytosorb_crs.cases.jsonl"
MINI = ROOT / "specs" / "examples" / "mini_crs.yaml"


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec()


@pytest.fixture(scope="module")
def suite(spec: Spec) -> Suite:
    return generate(spec)


def test_committed_suite_is_what_testgen_generates_now(suite: Suite) -> None:
    # Byte equality: cases are canonical (absent where possible, first-fit values in a fixed order),
    # so the file depends on the spec and on sat/unsat answers only, not on the solver's models.
    assert SHIPPED_SUITE.read_text(encoding="utf-8") == suite.jsonl(), (
        "specs/cytosorb_crs.cases.jsonl is stale: run crs-model testgen --out specs/cytosorb_crs.cases.jsonl"
    )


def test_every_feasible_goal_of_each_kind_is_covered(suite: Suite) -> None:
    counts = suite.counts()
    assert set(counts) == {k.value for k in GoalKind}
    for kind, (covered, feasible, _infeasible) in counts.items():
        assert feasible > 0, kind
        assert covered == feasible, kind
    assert not [s for s in suite.statuses if s.state == "uncovered"]


def test_the_committed_suite_covers_the_same_goals_on_the_engine(spec: Spec, suite: Suite) -> None:
    entries, bad = read_suite(SHIPPED_SUITE)
    assert not bad
    cases = [Case(e.name, e.patient, e.expect, e.covers) for e in entries]
    again = analyse(spec, cases)
    assert [(s.goal.id, s.state, s.masking) for s in again.statuses] == [
        (s.goal.id, s.state, s.masking) for s in suite.statuses
    ]
    assert again.absent == suite.absent


def test_cases_are_valid_patients_whose_recorded_decision_is_the_engines(spec: Spec, suite: Suite) -> None:
    engine = Engine(spec)
    for case in suite.cases:
        assert decision_key(spec, engine.evaluate(case.patient)) == dict(case.expect), case.name
        assert case.covers, case.name


def test_each_claimed_goal_holds_on_the_engine(spec: Spec, suite: Suite) -> None:
    checker = Checker(spec)
    facts = {c.name: checker.facts(c.patient) for c in suite.cases}
    goals = {g.id: g for g in checker.goals}
    masking = {s.goal.id for s in suite.statuses if s.masking}
    by_goal: dict[str, list[str]] = {}
    for c in suite.cases:
        for gid in c.covers:
            by_goal.setdefault(gid, []).append(c.name)
    for gid, names in by_goal.items():
        if gid.startswith("absent:"):
            continue
        goal = goals[gid]
        if goal.kind is GoalKind.MCDC:
            a, b = (facts[n] for n in names)
            assert checker.pair(goal, a, b, unique=gid not in masking), gid
        else:
            assert checker.single(goal, facts[names[0]]), gid


def test_infeasible_goals_are_proven_with_the_reason(suite: Suite) -> None:
    infeasible = {s.goal.id: s.reason for s in suite.statuses if s.state == "infeasible"}
    # a value below the domain: the unsat core names the bound
    assert "hours_on_cytosorb ≥ 0" in infeasible["threshold:hours_on_cytosorb=-0.1"]
    # a vasopressor dose needs a vasopressor: that condition cannot flip the refractoriness alone
    assert "vasopressor_dose_needs_a_vasopressor" in infeasible["mcdc:cytosorb_course->stop_cytosorb:9"]
    assert all(r.startswith("no valid patient") for r in infeasible.values())


def test_masking_is_used_only_where_unique_cause_is_impossible(suite: Suite) -> None:
    masking = [s.goal.id for s in suite.statuses if s.masking]
    # IL-6, CRP and ferritin each occur twice in "CytoSorb indication present" (coupled conditions)
    assert "mcdc:cytosorb_indicated->device_contraindicated:7" in masking
    assert all(s.state == "covered" for s in suite.statuses if s.masking)


def test_absent_input_cases_record_what_the_engine_gives(spec: Spec, suite: Suite) -> None:
    absent = {c.name: c for c in suite.cases if c.name.startswith("absent:")}
    weight = absent["absent:weight_kg"]
    assert "weight_kg" not in weight.patient
    assert weight.expect["recommendation"] == "insufficient_data"
    assert weight.expect["missing"] == ["weight_kg"]
    assert len(suite.absent) == len(absent) > 10


def test_mcdc_pair_check_refuses_a_pair_that_does_not_flip_the_guard(spec: Spec) -> None:
    checker = Checker(spec)
    goal = next(g for g in checker.goals if g.id == "mcdc:crs_grade->crs_pathway:1")
    base = {
        "on_cytosorb": False,
        "etiology": "car_t",
        "weight_kg": 70,
        "tocilizumab_doses": 0,
        "corticosteroids_given": False,
        "temperature_c": 39,
        "hypotension": False,
        "oxygen_support": "none",
    }
    grade1 = checker.facts(base)
    grade2 = checker.facts({**base, "hypotension": True, "vasopressor_count": 0, "vasopressin": False})
    fever_only = checker.facts({**base, "temperature_c": 38.5})
    assert checker.pair(goal, grade2, grade1, unique=True)
    assert not checker.pair(goal, grade1, fever_only, unique=True)  # same guard value: no flip


def test_generation_is_deterministic_and_complete_on_another_spec() -> None:
    mini = load_spec(MINI)
    first, second = generate(mini), generate(mini)
    assert first.jsonl() == second.jsonl()
    assert all(s.state in ("covered", "infeasible") for s in first.statuses)
    for line in first.jsonl().splitlines():
        assert set(json.loads(line)) == {"name", "patient", "expect", "covers"}
