"""The missing-data-complete check: proven on the shipped spec, refuted where the exact method falls short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import crs_model
from crs_model.completion import build_scope
from crs_model.model import Severity, Spec
from crs_model.verify import Report, verify
from crs_model.verify.checks import missing_data_complete
from crs_model.verify.report import INTERNAL, UNDECIDED
from crs_model.verify.verifier import Verifier

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "specs" / "cytosorb_crs.yaml"
FAULT_21 = ROOT / "specs" / "examples" / "faulty" / "21_missing_data_complete_weight_in_guard.yaml"
CHECK = "missing-data-complete"


@pytest.fixture(scope="module")
def shipped() -> Spec:
    return crs_model.load_spec(SHIPPED)


def _result(rep: Report) -> tuple[str, str | None]:
    (c,) = [c for c in rep.checks if c.name == CHECK]
    return c.status, None if c.verdict is None else c.verdict.value


def test_proven_on_the_shipped_spec_with_the_weight_noted(shipped: Spec) -> None:
    rep = verify(shipped, checks=[CHECK])
    assert _result(rep) == ("passed", "proven")
    (note,) = [f for f in rep.findings if f.check == CHECK]
    assert note.severity is Severity.INFO
    assert note.element == "variable:weight_kg"
    # where it is read comes from the scope the engine uses
    assert all(where in note.message for where in build_scope(shipped).opaque["weight_kg"])
    assert "decided three-valued" in note.message


def test_planted_opaque_guard_found_and_replayed() -> None:
    spec = crs_model.load_spec(FAULT_21)
    rep = verify(spec, checks=[CHECK])
    assert _result(rep) == ("failed", "refuted")
    assert not [f for f in rep.findings if f.check == INTERNAL]  # the engine reproduced it
    (f,) = [f for f in rep.findings if f.check == CHECK and f.severity is Severity.ERROR]
    assert f.element == "edge:device_contraindicated->consider_cytosorb"
    assert (f.line, f.column) == (291, 17)
    assert f.witness is not None
    assert "weight_kg" not in f.witness
    engine = crs_model.Engine(spec)
    assert engine.evaluate(f.witness).recommendation == "insufficient_data"
    # and the witness is decidable: every weight (domain 0.5..350 kg) gives the same outcome
    for weight in (0.5, 1, 29.9, 30, 72.5, 349.5, 350):
        assert engine.evaluate({**f.witness, "weight_kg": weight}).outcome == "consider_cytosorb"


def test_a_missing_cut_is_refuted_with_a_replayed_witness(shipped: Spec) -> None:
    # the cell-invariance half, given the scope with the fever threshold (38 °C) left out
    scope = build_scope(shipped)
    cuts = dict(scope.cuts)
    cuts["temperature_c"] = tuple((c, side) for c, side in cuts["temperature_c"] if c != 38)
    v = Verifier(shipped)
    missing_data_complete._cells(v, scope.grid, scope.group, cuts)  # the half under test
    errors = [f for f in v.findings if f.check == CHECK]
    assert errors
    assert all(f.severity is Severity.ERROR and "cuts for temperature_c" in f.message for f in errors)
    assert "edge:crs_grade->no_crs" in {f.element for f in errors}
    assert not [f for f in v.findings if f.check == INTERNAL]  # every pair of values differs in the engine too
    for f in errors:
        m = re.search(r"temperature_c=(\S+) and temperature_c=(\S+) lie in the same cell", f.message)
        assert m is not None
        a, b = float(m[1]), float(m[2])
        assert f.witness is not None
        assert f.witness["temperature_c"] == a
        assert (a < 38) != (b < 38) or 38 in (a, b)  # the pair straddles the cut left out


def test_the_right_cuts_prove_cell_invariance(shipped: Spec) -> None:
    scope = build_scope(shipped)
    v = Verifier(shipped)
    missing_data_complete._cells(v, scope.grid, scope.group, scope.cuts)  # the half under test
    assert v.findings == []


def test_a_wrong_side_is_refuted(shipped: Spec) -> None:
    # 38 °C declared to join the values below it ("down"), though the spec compares temperature >= 38
    scope = build_scope(shipped)
    cuts = dict(scope.cuts)
    cuts["temperature_c"] = tuple((c, "down" if c == 38 else side) for c, side in cuts["temperature_c"])
    v = Verifier(shipped)
    missing_data_complete._cells(v, scope.grid, scope.group, cuts)
    errors = [f for f in v.findings if f.check == CHECK]
    assert errors
    assert all("cuts for temperature_c" in f.message for f in errors)


def test_an_unknown_answer_is_a_failure(shipped: Spec) -> None:
    rep = verify(shipped, checks=[CHECK], rlimit=20_000)  # enough for the background, not for the proof
    assert _result(rep) == ("failed", "unknown")
    assert [f.element for f in rep.findings if f.check == UNDECIDED] == [f"check:{CHECK}"]
    assert not rep.ok


@pytest.mark.parametrize("path", [SHIPPED, FAULT_21], ids=["shipped", "fault_21"])
def test_findings_are_deterministic(path: Path) -> None:
    spec = crs_model.load_spec(path)
    runs = [verify(spec, checks=[CHECK]).findings for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0]
