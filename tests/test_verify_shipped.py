"""The shipped spec verifies with no error findings; the API and the encoding behave."""

from __future__ import annotations

from pathlib import Path

import pytest

import crs_model
from crs_model.model import Severity, Spec
from crs_model.verify import CHECKS, Report, verify

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shipped() -> Spec:
    return crs_model.load_spec(ROOT / "specs" / "cytosorb_crs.yaml")


@pytest.fixture(scope="module")
def report(shipped: Spec) -> Report:
    return verify(shipped)


def test_shipped_spec_has_no_error_findings(report: Report) -> None:
    assert report.ok, [str(f) for f in report.errors]
    assert not [f for f in report.findings if f.check == "internal"]


def test_every_invariant_proven(shipped: Spec, report: Report) -> None:
    assert report.invariant_status == {inv.id: "proven" for inv in shipped.invariants}


def test_every_check_ran_and_is_timed(shipped: Spec, report: Report) -> None:
    # the temporal check applies only to a spec with a care section
    assert [c.name for c in report.checks] == [c for c in CHECKS if c != "temporal" or shipped.care is not None]
    assert all(c.status == "passed" and c.duration_s >= 0 for c in report.checks)
    assert report.spec_sha256 == crs_model.load_spec(ROOT / "specs" / "cytosorb_crs.yaml").sha256


def test_missing_data_findings_are_info_and_reproduce(shipped: Spec, report: Report) -> None:
    md = [f for f in report.findings if f.check == "missing-data"]
    assert all(f.severity is Severity.INFO and f.element.startswith("flag:") for f in md)
    engine = crs_model.Engine(shipped, exact=False)  # the three-valued procedure the verifier encodes
    exact = crs_model.Engine(shipped)
    for f in md:
        assert f.witness is not None
        d = engine.evaluate(f.witness)
        assert d.recommendation != "insufficient_data"
        flag = f.element.removeprefix("flag:")
        assert flag not in {n.id for n in d.flags}
        # decided over the completions, the flag is shown (every completion shows it) or possible
        e = exact.evaluate(f.witness)
        assert flag in {n.id for n in e.flags} | {p.note.id for p in e.possible_flags}


def test_checks_subset_and_unknown_name(shipped: Spec) -> None:
    rep = verify(shipped, checks=["uncited"])
    assert {c.name: c.status for c in rep.checks}["gap"] == "skipped"
    with pytest.raises(ValueError, match="unknown check"):
        verify(shipped, checks=["nonsense"])


def test_finding_is_frozen(report: Report) -> None:
    import dataclasses

    f = report.findings[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.check = "x"  # type: ignore[misc]


def test_import_crs_model_does_not_import_z3() -> None:
    import subprocess
    import sys

    code = "import sys, crs_model; crs_model.evaluate({}); print('z3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_every_temporal_invariant_proven(shipped: Spec, report: Report) -> None:
    assert report.temporal is not None
    assert report.temporal.depth == 6
    assert report.temporal.status == {t.id: "proven" for t in shipped.temporal_invariants}


@pytest.mark.quality
def test_temporal_invariants_proven_at_depth_10(shipped: Spec) -> None:
    # ten consultations reach past the 72 h assessment with a day of margin (24 h at most between two)
    rep = verify(shipped, checks=["temporal"], bmc_depth=10)
    assert rep.temporal is not None
    assert rep.temporal.status == {t.id: "proven" for t in shipped.temporal_invariants}
    assert not rep.errors
