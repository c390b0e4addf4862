"""The spec-derived strategies: boundaries, validity by construction, reach, trajectories."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from crs_model.engine import Engine
from crs_model.model import Spec
from crs_model.testing import boundary_values, patients, trajectories
from crs_model.testing._boundaries import thresholds


def test_boundaries_sit_at_and_beside_every_threshold(spec: Spec) -> None:
    b = boundary_values(spec)
    assert {29.9, 30.0, 30.1} <= set(b["weight_kg"])  # tocilizumab dose cut-off
    assert {99.9, 100.0, 100.1} <= set(b["weight_kg"])  # 8 mg/kg reaches the 800 mg cap
    assert {499.9, 500.0, 500.1} <= set(b["il6_pg_ml"])
    assert {7.9, 8.0, 8.1} <= set(b["hours_since_last_tocilizumab"])
    assert {19.9, 20.0, 20.1} <= set(b["platelets_10e9_l"])
    assert {1, 2, 3} <= set(b["vasopressor_count"])
    assert all(type(x) is int for x in b["tocilizumab_doses"])
    for name, values in b.items():
        v = spec.variables[name]
        assert v.minimum is not None
        assert v.maximum is not None
        assert all(v.minimum <= x <= v.maximum for x in values), name


def test_thresholds_come_from_parameters(spec: Spec) -> None:
    t = thresholds(spec)
    assert spec.parameters["il6_markedly_elevated_pg_ml"].value in t["il6_pg_ml"]
    assert spec.parameters["toci_weight_cutoff_kg"].value in t["weight_kg"]


def test_patients_are_valid_by_construction(spec: Spec, engine: Engine) -> None:
    seen: list[dict[str, Any]] = []

    @settings(max_examples=300)
    @given(patients(spec))
    def check(p: dict[str, Any]) -> None:
        engine.validator.validate(p)  # raises PatientError on any invalid or inconsistent input
        seen.append(p)

    check()
    assert len(seen) >= 100
    assert any(p.get("tocilizumab_doses") == 0 for p in seen)
    assert any(None in p.values() for p in seen), "explicit nulls are generated too"


@pytest.mark.parametrize(
    "outcome",
    [
        "no_crs",
        "supportive_care",
        "give_first_tocilizumab",
        "give_repeat_tocilizumab",
        "add_corticosteroids",
        "continue_standard_therapy",
        "consider_cytosorb",
        "cytosorb_contraindicated",
    ],
)
def test_every_outcome_is_reached_by_steering(spec: Spec, engine: Engine, outcome: str) -> None:
    hits: list[bool] = []

    @settings(max_examples=40)
    @given(patients(spec, target=outcome))
    def check(p: dict[str, Any]) -> None:
        hits.append(engine.evaluate(p).outcome == outcome)

    check()
    assert sum(hits) >= len(hits) // 3, f"{sum(hits)} of {len(hits)} patients reached {outcome}"


def test_strategy_arguments_are_checked(spec: Spec) -> None:
    with pytest.raises(ValueError, match="absent_probability"):
        patients(spec, absent_probability=1.5)
    with pytest.raises(ValueError, match="not an outcome"):
        patients(spec, target="consider_cytosorbx")


def test_trajectories_move_forward_and_stay_valid(spec: Spec, engine: Engine) -> None:
    lengths: list[int] = []

    @settings(max_examples=60)
    @given(trajectories(spec, max_steps=5))
    def check(course: list[tuple[float, dict[str, Any]]]) -> None:
        hours = [h for h, _ in course]
        assert hours == sorted(hours)
        assert len(set(hours)) == len(hours)
        for _, p in course:
            engine.evaluate(p)
        lengths.append(len(course))

    check()
    assert max(lengths) > 1
