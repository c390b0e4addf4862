"""Every planted fault in specs/examples/faulty/ is caught with the right kind, element and location."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import crs_model
from crs_model.model import Severity
from crs_model.verify import Report, verify

pytestmark = pytest.mark.quality  # does the verifier find each planted fault

ROOT = Path(__file__).resolve().parent.parent
FAULTY = sorted((ROOT / "specs" / "examples" / "faulty").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (?P<check>\S+) (?P<element>\S+) at (?P<line>\d+):(?P<col>\d+)$", re.M)
ALL_KINDS = {
    "contradiction",
    "unreachable",
    "overlap",
    "gap",
    "invariant",
    "temporal",
    "missing-data",
    "missing-data-complete",
    "redundant",
    "uncited",
}

_cache: dict[Path, Report] = {}


def report_for(path: Path) -> Report:
    if path not in _cache:
        _cache[path] = verify(crs_model.load_spec(path))
    return _cache[path]


def expectation(path: Path) -> dict[str, str]:
    m = EXPECT.search(path.read_text(encoding="utf-8"))
    assert m is not None, f"{path.name} has no '# expect: CHECK ELEMENT at LINE:COL' header"
    return m.groupdict()


def test_enough_planted_faults_covering_every_kind() -> None:
    assert len(FAULTY) >= 12
    assert {expectation(p)["check"] for p in FAULTY} == ALL_KINDS


@pytest.mark.parametrize("path", FAULTY, ids=[p.stem for p in FAULTY])
def test_planted_fault_found_at_its_location(path: Path) -> None:
    want = expectation(path)
    rep = report_for(path)
    hits = [f for f in rep.findings if f.check == want["check"] and f.element == want["element"]]
    assert hits, f"no {want['check']} finding on {want['element']}; got {[str(f) for f in rep.findings]}"
    locs = {(f.line, f.column) for f in hits}
    assert (int(want["line"]), int(want["col"])) in locs
    assert all(f.location is not None and f.location.file == str(rep.spec_path) for f in rep.findings)
    # every witness reproduced through the engine: no internal findings
    assert not [f for f in rep.findings if f.check == "internal"]
    if want["check"] in ("overlap", "gap", "invariant", "missing-data", "missing-data-complete"):
        assert all(f.witness for f in hits)


def test_reduced_clean_spec_verifies_clean() -> None:
    rep = report_for(ROOT / "specs" / "examples" / "mini_crs.yaml")
    # the one note: the weight (read by the dose arithmetic) is outside the exact method
    assert [(f.check, f.severity, f.element) for f in rep.findings] == [
        ("missing-data-complete", Severity.INFO, "variable:weight_kg")
    ]
    assert set(rep.invariant_status.values()) == {"proven"}


def _one(name: str, check: str) -> tuple[Report, list[dict[str, object]]]:
    path = next(p for p in FAULTY if p.stem.startswith(name))
    rep = report_for(path)
    return rep, [f.witness for f in rep.findings if f.check == check and f.witness is not None]


def test_naive_sepsis_sentence_refuted_with_a_sepsis_patient() -> None:
    rep, witnesses = _one("09_", "invariant")
    assert rep.invariant_status["cytosorb_after_tocilizumab_and_steroids"] == "refuted"
    assert witnesses
    assert all(w["etiology"] == "sepsis" for w in witnesses)
    d = crs_model.evaluate(witnesses[0], spec=crs_model.Engine(crs_model.load_spec(rep.spec_path)))
    assert d.recommendation == "consider_cytosorb"


def test_dose_over_800_refuted_above_100_kg() -> None:
    rep, witnesses = _one("10_", "invariant")
    assert rep.invariant_status == {
        "cytosorb_after_tocilizumab_and_steroids": "proven",
        "tocilizumab_dose_cap": "refuted",
        "cytosorb_never_contraindicated": "proven",
    }
    (w,) = witnesses
    assert isinstance(w["weight_kg"], (int, float))
    assert w["weight_kg"] > 100


def test_gap_witness_has_an_absent_lab_value() -> None:
    _, witnesses = _one("08_", "gap")
    (w,) = witnesses
    assert not {"il6_pg_ml", "ferritin_ng_ml"} <= set(w)


def test_unsat_core_names_the_constraint() -> None:
    rep, _ = _one("02_", "contradiction")
    (f,) = [f for f in rep.findings if f.check == "contradiction"]
    assert "persistent_instability_after_standard_therapy" in f.message
    assert f.severity is Severity.ERROR
    assert f.witness is None


def test_masked_first_edge_names_the_masking_guard() -> None:
    rep, _ = _one("05_", "unreachable")
    (f,) = [f for f in rep.findings if f.element == "edge:crs_grade->no_crs"]
    assert "masked" in f.message
    assert "ASTCT grade ≤ 1" in f.message
