"""The care-course machine's limits come from the spec's parameters, by name."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

import crs_model
from crs_model.model import Spec
from crs_model.testing._care import LIMIT_PARAMETERS, UNSOURCED_LIMITS, CareLimits, care_course_machine
from tests.conftest import ROOT
from tests.fuzz.conftest import planted


def test_limits_are_read_from_the_spec_parameters(spec: Spec) -> None:
    limits = CareLimits.from_spec(spec)
    assert LIMIT_PARAMETERS, "at least one limit is read from the spec"
    for field_name, parameter in LIMIT_PARAMETERS.items():
        assert getattr(limits, field_name) == spec.parameters[parameter].value
    for field_name, value in UNSOURCED_LIMITS.items():
        assert getattr(limits, field_name) == value


def test_a_changed_parameter_changes_the_limit() -> None:
    changed = planted("  toci_max_doses:\n    value: 4\n", "  toci_max_doses:\n    value: 3\n")
    assert CareLimits.from_spec(changed).toci_max_doses == 3


def test_a_spec_without_the_parameter_gets_no_limit() -> None:
    mini = crs_model.load_spec(ROOT / "specs" / "examples" / "mini_crs.yaml")
    assert not set(LIMIT_PARAMETERS.values()) & set(mini.parameters)
    limits = CareLimits.from_spec(mini)
    assert all(getattr(limits, f) is None for f in LIMIT_PARAMETERS)


def test_unsourced_limits_can_be_overridden_but_not_invented(spec: Spec) -> None:
    assert CareLimits.from_spec(spec, cartridge_max_h=None).cartridge_max_h is None
    with pytest.raises(TypeError, match="toci_max_doses"):
        CareLimits.from_spec(spec, toci_max_doses=9)  # a spec parameter: changed in the spec, not here


def test_the_history_check_uses_the_limits_it_is_given(spec: Spec) -> None:
    # one dose allowed over the course: the engine recommends a repeat dose in some course
    strict = CareLimits(
        toci_max_doses=1, toci_min_interval_h=8, toci_max_per_24h=3, cartridge_max_h=24, day1_change_h=12
    )
    machine = care_course_machine(spec, strict)
    assert machine is not None
    with pytest.raises(AssertionError, match=r"2 tocilizumab doses \(max 1\)"):
        run_state_machine_as_test(machine, settings=settings(settings(), max_examples=200, stateful_step_count=30))
