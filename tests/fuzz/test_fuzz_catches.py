"""Quality tests: the suite catches planted faults, and says so with a small patient."""

from __future__ import annotations

import pytest
from hypothesis import settings

from crs_model.testing._properties import Context, run_property, suite
from tests.fuzz.conftest import planted

pytestmark = pytest.mark.quality

NO_ANTICOAGULATION_CONTRA = (
    "      or heparin_induced_thrombocytopenia\n      or anticoagulation_contraindicated",
    "      or heparin_induced_thrombocytopenia",
)


def _run(spec_name: str, spec: object, name: str) -> tuple[bool, str, object]:
    from crs_model.model import Spec

    assert isinstance(spec, Spec)
    prop = next(p for p in suite(spec) if p.name == name)
    r = run_property(prop, Context.for_spec(spec, with_oracle=False), settings(), 500)
    return r.ok, r.failure or "", r.example


def test_missing_contraindication_is_caught_with_a_small_patient() -> None:
    spec = planted(*NO_ANTICOAGULATION_CONTRA)
    ok, failure, example = _run("planted", spec, "invariants")
    assert not ok
    assert "cytosorb_never_contraindicated" in failure
    assert isinstance(example, dict)
    assert len(example) <= 14, f"not shrunk: {example}"


def test_missing_contraindication_breaks_the_declared_relation() -> None:
    spec = planted(*NO_ANTICOAGULATION_CONTRA)
    ok, failure, _ = _run("planted", spec, "relation:anticoagulation_contraindication_never_enables_cytosorb")
    assert not ok
    assert "consider_cytosorb became consider_cytosorb" in failure


def test_relation_catches_a_fault_no_invariant_sees() -> None:
    # "multiple vasopressors" read as exactly two: a third vasopressor would drop the indication
    spec = planted(  # v0.2 writes refractory_to_standard_therapy over several lines
        "      or vasopressor_count >= multiple_vasopressors\n",
        "      or vasopressor_count == multiple_vasopressors\n",
    )
    assert _run("planted", spec, "invariants")[0]
    ok, failure, _ = _run("planted", spec, "relation:more_vasopressors_never_deescalate_cytosorb")
    assert not ok
    assert "consider_cytosorb became" in failure


def test_a_gap_between_guards_breaks_totality() -> None:
    spec = planted("          when: astct_grade >= 2\n", "          when: astct_grade >= 3\n")  # grade 2: no edge
    ok, failure, _ = _run("planted", spec, "totality")
    assert not ok
    assert "gap" in failure


@pytest.mark.parametrize("name", ["invariants", "totality", "invalid_inputs"])
def test_shipped_spec_passes(spec: object, name: str) -> None:
    assert _run("shipped", spec, name)[0]
