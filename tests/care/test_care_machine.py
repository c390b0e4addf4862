"""The generic care-course machine: it plays the mini spec's courses, and catches planted faults with a short story.

The planted-fault tests carry the ``quality`` marker (they run in ``make test``), as the fuzz catches do."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from crs_model import Engine, load_spec
from crs_model.cli import main
from crs_model.course import CourseSemantics
from crs_model.testing._care import run_care_course, step_hours
from crs_model.testing._profiles import profile
from crs_model.testing._properties import PropertyResult
from tests.care.care_support import CARE, MINI, care_spec, care_text

GIVE = "{tocilizumab_doses: tocilizumab_doses + 1, hours_since_last_tocilizumab: 0}"
FALSE_BY_DESIGN = """
  - id: never_cytosorb
    description: No course ever reaches a CytoSorb recommendation (false by design).
    severity: error
    expr: recommendation != 'consider_cytosorb'
    cites: [seed]
"""


def _run(tmp_path: Path, extra: str = CARE, examples: int = 200, steps: int = 12) -> PropertyResult:
    return run_care_course(care_spec(tmp_path, extra), profile("ci"), examples, steps)


def _consultations(failure: str) -> list[str]:
    """The story's consultation lines (``h<hour>: ...``)."""
    return re.findall(r"^  h[0-9.]+: .*$", failure, flags=re.MULTILINE)


def test_the_fixture_courses_keep_every_invariant(tmp_path: Path) -> None:
    r = _run(tmp_path)
    assert r.failure is None, r.failure
    assert r.skipped is None
    assert r.examples >= 40  # courses
    assert r.applicable == r.examples  # every course found a patient on which care.start holds
    assert r.extra["steps"] >= 10 * r.examples  # and courses are long


@pytest.mark.quality
def test_a_forgotten_dose_breaks_a_temporal_invariant_with_a_short_story(tmp_path: Path) -> None:
    # giving tocilizumab does not count the dose: the engine recommends it again at once
    r = _run(tmp_path, CARE.replace(GIVE, "{tocilizumab_doses: 0, hours_since_last_tocilizumab: null}"))
    assert r.failure is not None
    assert "temporal invariant(s) tocilizumab_not_within_8h violated" in r.failure
    assert "follows give_tocilizumab: no input changes" in r.failure
    last = r.failure.rstrip().splitlines()[-1]
    assert last == "  violated tocilizumab_not_within_8h: Tocilizumab is never given twice within 8 h."
    steps = _consultations(r.failure)
    assert len(steps) == 2, r.failure  # shrunk: the dose, then the repeat within 8 h
    assert steps[0].startswith("  h0: ")
    assert re.search(r"→ give_tocilizumab \(tocilizumab dose [0-9.]+ mg\)$", steps[0])  # the output, with its unit
    assert "tocilizumab doses given (tocilizumab_doses) 0" in steps[0]  # labels, ids and values as the spec names them


@pytest.mark.quality
def test_a_transition_out_of_the_domain_is_an_invalid_transition(tmp_path: Path) -> None:
    over = "{tocilizumab_doses: tocilizumab_doses + 20, hours_since_last_tocilizumab: 0}"
    r = _run(tmp_path, CARE.replace(GIVE, over))
    assert r.failure is not None
    assert "invalid transition: following give_tocilizumab (care.follow.give_tocilizumab at " in r.failure
    assert "mini_care.yaml:" in r.failure
    assert "tocilizumab_doses=20 is outside 0..10" in r.failure
    assert "follows give_tocilizumab: tocilizumab doses given (tocilizumab_doses) 0→20" in r.failure
    assert len(_consultations(r.failure)) == 1


@pytest.mark.quality
def test_a_transition_breaking_a_constraint_names_the_constraint(tmp_path: Path) -> None:
    # the time since the last dose restarts, but no dose is counted
    r = _run(tmp_path, CARE.replace(GIVE, "{hours_since_last_tocilizumab: 0}"))
    assert r.failure is not None
    assert "invalid transition: following give_tocilizumab" in r.failure
    assert "inconsistent input (hours_need_a_prior_dose)" in r.failure
    assert r.failure.rstrip().splitlines()[-1].startswith("  rejected: ")


@pytest.mark.quality
def test_a_temporal_invariant_false_by_design_is_refuted_by_a_whole_course(tmp_path: Path) -> None:
    # CytoSorb comes only after tocilizumab and corticosteroids: the machine has to play the course there
    r = _run(tmp_path, CARE + FALSE_BY_DESIGN)
    assert r.failure is not None
    assert "temporal invariant(s) never_cytosorb violated" in r.failure
    steps = _consultations(r.failure)
    assert [s.rsplit("→ ", 1)[1].split(" (")[0] for s in steps] == [
        "give_tocilizumab",
        "add_corticosteroids",
        "consider_cytosorb",
    ], r.failure
    assert "follows add_corticosteroids: corticosteroids given (corticosteroids_given) no→yes" in r.failure


@pytest.mark.quality
def test_a_count_over_the_course_is_shrunk_to_the_fewest_steps(tmp_path: Path) -> None:
    at_most_two = FALSE_BY_DESIGN.replace("never_cytosorb", "two_consultations").replace(
        "recommendation != 'consider_cytosorb'", "count_before(true) <= 1"
    )
    r = _run(tmp_path, CARE + at_most_two)
    assert r.failure is not None
    assert "two_consultations" in r.failure
    assert len(_consultations(r.failure)) == 3
    assert r.failure.count("\n  +0 h") == 2  # hours shrink to step_hours.min


def test_an_unsatisfiable_start_is_a_failure_not_a_pass(tmp_path: Path) -> None:
    never = CARE.replace(
        "start: tocilizumab_doses == 0 and not corticosteroids_given", "start: tocilizumab_doses > 0 and false"
    )
    r = _run(tmp_path, never, examples=25)
    assert r.failure is not None
    assert r.failure.startswith("no care course started: none of the")
    assert "care.start (tocilizumab_doses > 0 and false" in r.failure
    assert r.applicable == 0


def test_a_spec_without_care_is_skipped_with_the_reason() -> None:
    r = run_care_course(load_spec(MINI), profile("ci"), 50)
    assert r.skipped == "the spec has no care section: it defines no care course to play"
    assert r.failure is None
    assert r.examples == 0


def test_step_hours_favour_the_bounds_and_the_windows(tmp_path: Path) -> None:
    spec = care_spec(tmp_path)
    assert step_hours(spec) == (0, 24, 7.9, 8.0, 8.1)  # step_hours {min: 0, max: 24}; count_within(8, ...)
    narrow = care_spec(tmp_path, CARE.replace("step_hours: {min: 0, max: 24}", "step_hours: {min: 8, max: 12}"))
    assert step_hours(narrow) == (8, 12, 8.1)


def test_a_clock_capped_at_its_maximum_stays_a_valid_patient(tmp_path: Path) -> None:
    spec = care_spec(tmp_path)
    engine = Engine(spec)
    sem = CourseSemantics(engine)
    state = {"tocilizumab_doses": 1, "hours_since_last_tocilizumab": 1990.0}
    capped = sem.advance(state, 24)
    assert capped["hours_since_last_tocilizumab"] == 2000
    assert engine.validator.validate(capped)["hours_since_last_tocilizumab"] == 2000


@pytest.mark.quality
def test_a_gap_met_during_a_course_is_a_no_decision_failure(tmp_path: Path) -> None:
    # grade 2 has no edge: a course whose patient reaches grade 2 has no decision
    p = tmp_path / "gap.yaml"
    p.write_text(
        MINI.read_text(encoding="utf-8").replace("when: astct_grade >= 2\n", "when: astct_grade >= 3\n") + CARE,
        encoding="utf-8",
    )
    r = run_care_course(load_spec(p), profile("ci"), 200, 20)
    assert r.failure is not None
    assert "no decision for a valid patient in a care course" in r.failure
    assert "gap" in r.failure


def _fuzz(path: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["fuzz", str(path), "--property", "care_course", "--examples", "100"], out, err)
    return code, out.getvalue()


def test_fuzz_command_plays_the_spec_courses(tmp_path: Path) -> None:
    p = tmp_path / "mini_care.yaml"
    p.write_text(care_text(), encoding="utf-8")
    code, out = _fuzz(p)
    assert code == 0, out
    assert re.search(r"^  ok   care_course +[0-9]+ ex", out, flags=re.MULTILINE), out
    code, out = _fuzz(MINI)
    assert code == 0, out
    assert "SKIP care_course" in out
    assert "the spec has no care section" in out
