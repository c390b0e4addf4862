"""The temporal check: bounded model checking of care courses, its counterexample stories and its CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import crs_model
from crs_model import Engine
from crs_model.cli import main
from crs_model.course import CourseSemantics
from crs_model.verify import CHECKS, verify
from crs_model.verify.report import Report
from crs_model.verify.story import SolverStep, replay
from tests.care.care_support import CARE, care_spec

ROOT = Path(__file__).resolve().parents[2]
FAULTY = ROOT / "specs" / "examples" / "faulty"
TOCI = "{tocilizumab_doses: tocilizumab_doses + 1, hours_since_last_tocilizumab: 0}"
# giving tocilizumab also marks corticosteroids as given: CytoSorb can then come one step later,
# with no add_corticosteroids step in the course (a fault needing a course of 2 steps)
STEROIDS_WITH_TOCI = CARE.replace(TOCI, TOCI[:-1] + ", corticosteroids_given: true}")


def temporal(rep: Report) -> dict[str, str]:
    assert rep.temporal is not None
    return rep.temporal.status


def test_mini_care_every_temporal_invariant_proven_at_depth_6(tmp_path: Path) -> None:
    rep = verify(care_spec(tmp_path))
    assert rep.ok, [str(f) for f in rep.errors]
    assert rep.temporal is not None
    assert rep.temporal.depth == 6
    assert temporal(rep) == {"cytosorb_after_both_in_course": "proven", "tocilizumab_not_within_8h": "proven"}
    check = next(c for c in rep.checks if c.name == "temporal")
    assert (check.status, check.verdict) == ("passed", "proven")
    assert "2/2 proven for every care course of up to 6 steps" in rep.to_text()
    doc = rep.to_json(timings=False)
    assert doc["temporal"]["depth"] == 6
    assert doc["temporal"]["invariants"]["tocilizumab_not_within_8h"] == "proven"


def test_proof_is_bounded_by_the_depth(tmp_path: Path) -> None:
    # the violation needs 2 steps: proven for every course of 1 step, refuted at depth 2
    spec = care_spec(tmp_path, STEROIDS_WITH_TOCI)
    one = verify(spec, checks=["temporal"], bmc_depth=1)
    assert temporal(one)["cytosorb_after_both_in_course"] == "proven"
    assert "up to 1 steps" in one.to_text()
    two = verify(spec, checks=["temporal"], bmc_depth=2)
    assert temporal(two)["cytosorb_after_both_in_course"] == "refuted"
    [f] = [f for f in two.findings if f.element == "invariant:cytosorb_after_both_in_course"]
    assert f.course is not None
    assert [s["recommendation"] for s in f.course["steps"]] == ["give_tocilizumab", "consider_cytosorb"]
    assert f.course["steps"][0]["changed_by_following"]["corticosteroids_given"] is True
    assert not [g for g in two.findings if g.check == "internal"]


def test_refuting_course_is_a_dated_story_that_the_engine_replays() -> None:
    spec = crs_model.load_spec(FAULTY / "17_temporal_repeat_window_too_short.yaml")
    rep = verify(spec, checks=["temporal"])
    [f] = [f for f in rep.findings if f.check == "temporal"]
    assert f.course is not None
    assert f.witness == f.course["steps"][0]["inputs"]
    steps = f.course["steps"]
    assert [s["recommendation"] for s in steps] == ["give_tocilizumab", "give_tocilizumab"]
    gap = steps[1]["hour"] - steps[0]["hour"]
    assert 4 <= gap < 8  # the fault's 4 h repeat rule against the label's 8 h
    story = f.course["story"]
    assert story[0].startswith("h0: start:")
    assert "weight = " in story[0]
    assert " kg" in story[0]
    assert "tocilizumab doses given 0 → 1" in story[1]
    assert story[2].startswith(f"h{gap} (+{gap} h)")
    assert "hours since last tocilizumab 0 → " in story[2]
    assert story[-1].startswith(f"violated at h{gap}:")
    assert "= 1" in story[-1]
    assert f.course["counts"] == {"count_within(8 h, recommendation = give_tocilizumab)": 1}
    text = rep.to_text()
    assert "    course:\n      h0: start:" in text
    # the JSON, SARIF and JUnit renderings carry it too
    doc = rep.to_json(timings=False)
    assert doc["findings"][0]["course"]["steps"] == steps
    from crs_model.verify import to_junit, to_sarif

    sarif = to_sarif([rep], tool_version="x")
    assert sarif["runs"][0]["results"][0]["properties"]["course"]["invariant"] == "tocilizumab_not_within_8h"
    assert 'classname="verify.mini-crs-17.temporal" name="tocilizumab_not_within_8h"' in to_junit([rep])


def test_replay_disagreement_is_reported_not_hidden(tmp_path: Path) -> None:
    spec = crs_model.load_spec(FAULTY / "17_temporal_repeat_window_too_short.yaml")
    rep = verify(spec, checks=["temporal"])
    [f] = [f for f in rep.findings if f.check == "temporal"]
    assert f.course is not None
    sem = CourseSemantics(Engine(spec))
    steps = [SolverStep(s["hour"], s["inputs"], s["recommendation"]) for s in f.course["steps"]]
    assert replay(sem, steps, "tocilizumab_not_within_8h").disagreement is None
    wrong = [steps[0], SolverStep(steps[1].hour, steps[1].inputs, "add_corticosteroids")]
    assert "the engine decides give_tocilizumab, the solver add_corticosteroids" in str(
        replay(sem, wrong, "tocilizumab_not_within_8h").disagreement
    )
    late = [steps[0], SolverStep(steps[1].hour + 5, steps[1].inputs, steps[1].recommendation)]
    assert "hours_since_last_tocilizumab" in str(replay(sem, late, "tocilizumab_not_within_8h").disagreement)
    # a course that does not violate the invariant is a disagreement too
    assert "satisfies" in str(replay(sem, steps[:1], "tocilizumab_not_within_8h").disagreement)


def test_transition_that_breaks_a_constraint_has_a_reproducible_witness() -> None:
    spec = crs_model.load_spec(FAULTY / "19_temporal_transition_breaks_constraint.yaml")
    rep = verify(spec, checks=["temporal"])
    [f] = [f for f in rep.findings if f.element == "transition:give_tocilizumab"]
    assert "hours_need_a_prior_dose" in f.message
    assert f.witness is not None
    assert crs_model.evaluate(f.witness, spec=Engine(spec)).recommendation == "give_tocilizumab"
    assert not [g for g in rep.findings if g.check == "internal"]


def test_unsatisfiable_start_proves_nothing() -> None:
    spec = crs_model.load_spec(FAULTY / "18_temporal_start_unsatisfiable.yaml")
    rep = verify(spec, checks=["temporal"])
    assert not rep.ok
    assert set(temporal(rep).values()) == {"unknown"}  # never a vacuous "proven"
    [f] = [f for f in rep.findings if f.element == "care:course"]
    assert "no care course exists" in f.message
    assert "persistent_instability_after_standard_therapy" in f.message


def test_tiny_rlimit_is_undecided_per_invariant(tmp_path: Path) -> None:
    # measured: at 12,000 units the background and one invariant are decided, the other is not at depth 12
    rep = verify(care_spec(tmp_path), checks=["temporal"], rlimit=12_000, bmc_depth=12)
    assert not rep.ok
    assert temporal(rep) == {"cytosorb_after_both_in_course": "unknown", "tocilizumab_not_within_8h": "proven"}
    [u] = rep.undecided
    assert u.element == "invariant:cytosorb_after_both_in_course"
    assert "at depth" in u.message
    check = next(c for c in rep.checks if c.name == "temporal")
    assert (check.status, check.verdict) == ("failed", "unknown")


def test_care_without_temporal_invariants_is_not_applicable(tmp_path: Path) -> None:
    rep = verify(care_spec(tmp_path, CARE[: CARE.index("temporal_invariants:")]))
    check = next(c for c in rep.checks if c.name == "temporal")
    assert (check.status, check.verdict) == ("not-applicable", None)
    assert temporal(rep) == {}
    assert "temporal invariants: none declared (not applicable)" in rep.to_text()


def test_spec_without_care_has_no_temporal_check() -> None:
    rep = verify(crs_model.load_spec(ROOT / "specs" / "examples" / "mini_crs.yaml"))
    assert [c.name for c in rep.checks] == [c for c in CHECKS if c != "temporal"]
    assert rep.temporal is None
    assert "temporal" not in rep.to_json()
    assert "temporal" not in rep.to_text()


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("bad", ["0", "65", "abc", "-1", "1.5", "٣"])
def test_cli_bad_depth_exits_2(bad: str) -> None:
    code, out, err = run_cli("verify", "specs/examples/mini_crs.yaml", "--bmc-depth", bad)
    assert code == 2
    assert out == ""
    assert f"--bmc-depth={bad!r} is not a whole number of care-course steps in 1..64" in err
    assert "Traceback" not in err


def test_cli_depth_in_json(tmp_path: Path) -> None:
    spec = care_spec(tmp_path)
    code, out, _ = run_cli("verify", spec.path, "--bmc-depth", "3", "--check", "temporal", "--format", "json")
    doc = json.loads(out)
    assert doc["temporal"]["depth"] == 3
    assert doc["temporal"]["proven_for"].endswith("up to 3 steps from a state where care.start holds")
    assert code == 0  # sign-off is a warning


def test_skipped_temporal_check_claims_nothing(tmp_path: Path) -> None:
    rep = verify(care_spec(tmp_path), checks=["invariant"])
    assert next(c for c in rep.checks if c.name == "temporal").status == "skipped"
    assert rep.temporal is None
    assert "temporal invariants" not in rep.to_text()


def test_a_set_spontaneous_input_keeps_its_set_value_when_nothing_changes(tmp_path: Path) -> None:
    # a (deliberately odd) transition clears the dose count and, with it, the persistent-instability
    # input (a spontaneous one) that needs a dose: the followed state is valid, so no finding
    follow = (
        "    consider_cytosorb:\n"
        "      set: {tocilizumab_doses: 0, hours_since_last_tocilizumab: null,\n"
        "            hemodynamic_instability_persistent: false}\n"
        "      cites: [seed]\n"
    )
    anchor = "  cites: [seed]\ntemporal_invariants:"
    assert anchor in CARE
    extra = CARE.replace(anchor, follow + anchor)
    rep = verify(care_spec(tmp_path, extra), checks=["temporal"])
    assert not [f for f in rep.findings if f.element == "transition:consider_cytosorb"], [
        f.message for f in rep.findings
    ]
    # without clearing it, the held value breaks 'persistent instability needs a dose'
    extra = extra.replace(",\n            hemodynamic_instability_persistent: false}", "}")
    rep = verify(care_spec(tmp_path, extra), checks=["temporal"])
    [f] = [f for f in rep.findings if f.element == "transition:consider_cytosorb"]
    assert "persistent_instability_after_standard_therapy" in f.message
