"""The invariant suite as pytest tests, for any spec (see ``pytest --crs-spec``).

Collected by the pytest plugin when ``--crs-spec`` is given, and by this
project's own test-suite for the bundled spec. Each property of
:func:`crs_model.testing._properties.suite` is one test; the care-course state
machine is another. Budgets come from the active Hypothesis profile.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import settings

from crs_model.model import Spec
from crs_model.testing._care import run_care_course
from crs_model.testing._properties import Context, run_coverage, run_property, suite
from crs_model.testing.pytest_plugin import spec_from_config


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One ``test_property`` case per property of the spec's suite."""
    if "crs_property" in metafunc.fixturenames:
        spec = spec_from_config(metafunc.config)
        metafunc.parametrize("crs_property", [p.name for p in suite(spec)])


@pytest.fixture(scope="module")
def crs_context(crs_spec: Spec) -> Context:
    """The generation context of the spec under test, built once per module."""
    return Context.for_spec(crs_spec)


def _report(failure: str, example: object) -> str:
    shown = json.dumps(example, sort_keys=True, default=repr) if example is not None else "-"
    return f"{failure}\nfalsifying input: {shown}"


def test_property(crs_property: str, crs_context: Context) -> None:
    """The property holds on every generated patient (a falsifying input is shown)."""
    prop = next(p for p in suite(crs_context.spec) if p.name == crs_property)
    result = run_property(prop, crs_context, settings())
    if result.skipped:
        pytest.skip(result.skipped)
    if result.failure:
        pytest.fail(_report(result.failure, result.example), pytrace=False)
    assert result.examples > 0


def test_care_course(crs_spec: Spec) -> None:
    """Simulated care courses keep every invariant."""
    result = run_care_course(crs_spec, settings())
    if result.skipped:
        pytest.skip(result.skipped)
    if result.failure:
        pytest.fail(result.failure, pytrace=False)
    assert result.examples > 0


def test_coverage(crs_context: Context) -> None:
    """Generation reaches the spec's outcomes and edges."""
    result = run_coverage(crs_context, settings())
    if result.failure:
        pytest.fail(result.failure, pytrace=False)
    assert result.examples > 0
