"""The ``care`` and ``temporal_invariants`` sections: loading, located errors, and the reference semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

from crs_model import Engine, SpecError, load_spec
from crs_model.course import CourseSemantics, CourseStep, split_temporal
from crs_model.expr import Call, parse, walk
from tests.care.care_support import CARE, MINI, care_spec


def test_care_section_loads(tmp_path: Path) -> None:
    spec = care_spec(tmp_path)
    care = spec.care
    assert care is not None
    assert (care.step_min_h, care.step_max_h) == (0, 24)
    assert care.clock == ("hours_since_last_tocilizumab",)
    assert set(care.follow) == {"give_tocilizumab", "add_corticosteroids"}
    sets = dict(care.follow["give_tocilizumab"].sets)
    assert sets["hours_since_last_tocilizumab"] is not None
    assert [t.id for t in spec.temporal_invariants] == ["cytosorb_after_both_in_course", "tocilizumab_not_within_8h"]
    assert "transition:give_tocilizumab" in spec.element_ids()
    assert "invariant:tocilizumab_not_within_8h" in spec.element_ids()
    assert "corticosteroids_given" in care.changing
    assert "weight_kg" not in care.changing


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("clock: [hours_since_last_tocilizumab]", "clock: [hours_since_last_tocilizumb]", "unknown input"),
        ("clock: [hours_since_last_tocilizumab]", "clock: [hypotension]", "must be a number of hours"),
        ("step_hours: {min: 0, max: 24}", "step_hours: {min: 5, max: 2}", "care.step_hours"),
        ("    add_corticosteroids:\n", "    add_corticosteroid:\n", "no outcome gives recommendation"),
        ("set: {corticosteroids_given: true}", "set: {corticosteroids_given: 3}", "corticosteroids_given"),
        (
            "count_within(8, recommendation == 'give_tocilizumab')",
            "count_within(tocilizumab_doses, recommendation == 'give_tocilizumab')",
            "needs its hours as a number or a parameter",
        ),
        (
            "count_before(recommendation == 'give_tocilizumab') >= 1",
            "count_before(count_before(recommendation == 'give_tocilizumab') > 0) >= 1",
            "cannot be nested",
        ),
        ("count_before(recommendation == 'add_corticosteroids')", "count_before(2)", "expected a bool"),
    ],
)
def test_care_errors_are_located(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in CARE
    with pytest.raises(SpecError) as exc:
        care_spec(tmp_path, CARE.replace(old, new))
    text = str(exc.value)
    assert message in text, text
    assert "mini_care.yaml:" in text  # file:line:col


def test_temporal_functions_only_in_temporal_invariants(tmp_path: Path) -> None:
    # a snapshot invariant (or a guard) sees one decision: it may not count over a course
    text = MINI.read_text(encoding="utf-8").replace(
        "expr: recommendation == 'give_tocilizumab' implies tocilizumab_dose_mg <= 800",
        "expr: recommendation == 'give_tocilizumab' implies count_before(true) == 0",
    )
    p = tmp_path / "snap.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match="only allowed in temporal invariants"):
        load_spec(p)


def test_temporal_invariants_need_care(tmp_path: Path) -> None:
    no_care = CARE[CARE.index("temporal_invariants:") :]
    with pytest.raises(SpecError, match="need a care section"):
        care_spec(tmp_path, "\n" + no_care)


def test_split_temporal_replaces_every_count() -> None:
    ast = parse("count_before(x) >= 1 and count_within(8, y) == 0")
    body, terms = split_temporal(ast)
    assert [t.window is None for t in terms] == [True, False]
    assert not any(isinstance(n, Call) for n in walk(body))


def _patient(**kv: object) -> dict[str, object]:
    base: dict[str, object] = {
        "etiology": "car_t",
        "weight_kg": 70,
        "temperature_c": 39.0,
        "hypotension": True,
        "vasopressor_count": 1,
        "oxygen_support": "none",
        "tocilizumab_doses": 0,
        "corticosteroids_given": False,
        "hemodynamic_instability_persistent": False,
        "crp_mg_l": 50,
        "ferritin_ng_ml": 500,
        "multi_organ_dysfunction": False,
        "pregnant": False,
        "platelets_10e9_l": 150,
        "anticoagulation_contraindicated": False,
    }
    base.update(kv)
    return base


def test_reference_step_follows_then_advances(tmp_path: Path) -> None:
    spec = care_spec(tmp_path)
    engine = Engine(spec)
    sem = CourseSemantics(engine)
    s0 = engine.validator.validate(_patient())
    assert sem.starts(s0)
    d0 = engine.decide(dict(s0))
    assert d0.recommendation == "give_tocilizumab"
    s1 = sem.advance(sem.follow(s0, d0), 6.0)
    assert s1["tocilizumab_doses"] == 1
    assert s1["hours_since_last_tocilizumab"] == 6.0
    assert not sem.starts(engine.validator.validate(s1))
    d1 = engine.evaluate(s1)
    assert d1.recommendation == "add_corticosteroids"
    s2 = sem.advance(sem.follow(s1, d1), 2.5)
    assert s2["corticosteroids_given"] is True
    assert s2["hours_since_last_tocilizumab"] == 8.5
    history = [CourseStep(0, s0, d0), CourseStep(6.0, s1, d1)]
    assert sem.violations(history) == []


def test_temporal_violation_is_found(tmp_path: Path) -> None:
    # a deliberately wrong transition: giving tocilizumab does not count the dose, so it is given again
    spec = care_spec(
        tmp_path,
        CARE.replace(
            "{tocilizumab_doses: tocilizumab_doses + 1, hours_since_last_tocilizumab: 0}",
            "{tocilizumab_doses: 0, hours_since_last_tocilizumab: null}",
        ),
    )
    engine = Engine(spec)
    sem = CourseSemantics(engine)
    s = engine.validator.validate(_patient())
    history: list[CourseStep] = []
    hour = 0.0
    for _ in range(2):
        d = engine.evaluate(s)
        history.append(CourseStep(hour, s, d))
        s = sem.advance(sem.follow(s, d), 4.0)
        hour += 4.0
    assert [h.decision.recommendation for h in history] == ["give_tocilizumab", "give_tocilizumab"]
    assert sem.violations(history) == ["tocilizumab_not_within_8h"]
    assert sem.violations(history[:1]) == []
