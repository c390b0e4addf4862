"""The SQL backend on embedded DuckDB equals the engine, row by row (issue 15)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crs_model import load_spec
from crs_model.engine import Engine
from crs_model.errors import SpecDefectError
from crs_model.model import Spec
from tests.cohort_support import loadable_faulty_specs
from tests.sql_support import generated, run_query

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "specs" / "cytosorb_crs.yaml"
FAULTY = sorted((ROOT / "specs" / "examples" / "faulty").glob("*.yaml"))


def _expected(engine: Engine, patient: dict[str, Any]) -> dict[str, Any]:
    """The engine's answer in the query's columns (a defect: the node and kind it raises)."""
    try:
        d = engine.evaluate(patient)
    except SpecDefectError as exc:
        return {"defect": f"{exc.kind}:{exc.node}"}
    return {
        "recommendation": d.recommendation,
        "outcome": d.outcome,
        **d.outputs,
        "flags": [f.id for f in d.flags],
        "decided": d.outcome is not None,
        "defect": None,
    }


def _compare(spec: Spec, patients: list[dict[str, Any]]) -> tuple[int, int]:
    """Assert every row equals the three-valued engine, and the exact one where SQL says so;
    return (rows, rows routed to the engine)."""
    three = Engine(spec, exact=False)
    exact = Engine(spec)
    rows = run_query(spec, patients)
    assert len(rows) == len(patients)
    routed = 0
    for i, (patient, row) in enumerate(zip(patients, rows, strict=True)):
        want = _expected(three, patient)
        got = {k: row[k] for k in want}
        assert got == want, f"row {i}: {patient}\n sql:    {got}\n engine: {want}"
        assert row["error"] is None, f"row {i}: a valid patient rejected: {row['error']}"
        if want.get("outcome") is None and want.get("defect") is None:
            # SQL lists every absent input the open guards read: the engine's smallest set is among them
            absent = {n for n in spec.variables if patient.get(n) is None}
            blamed = set(three.evaluate(patient).missing)
            assert blamed <= set(row["missing"]) <= absent, f"row {i}: missing {row['missing']} vs {sorted(blamed)}"
        else:
            assert row["missing"] == [] or want.get("defect") is not None, f"row {i}: decided, yet missing"
        if row["needs_engine"]:
            routed += 1
            continue
        d = exact.evaluate(patient)
        assert (d.recommendation, d.outcome, [f.id for f in d.flags]) == (
            row["recommendation"],
            row["outcome"],
            row["flags"],
        ), f"row {i} (SQL: definitive): {patient}"
        assert not d.possible_flags, f"row {i}: the exact engine left a flag open"
        assert not d.undecided_outputs, f"row {i}: the exact engine left an output open"
        assert {k: row[k] for k in d.outputs} == dict(d.outputs), f"row {i}: outputs differ"
    return len(rows), routed


@pytest.mark.parametrize("absent", [0.0, 0.1, 0.4])
def test_shipped_spec_equals_engine(absent: float) -> None:
    spec = load_spec(SHIPPED)
    n, routed = _compare(spec, generated(spec, 2000, absent, seed=15))
    assert n == 2000
    # an input a patient need not have (no dose yet: no hours since it) can leave a flag open
    assert routed < n // 10 if absent == 0.0 else 0 < routed < n


@pytest.mark.parametrize("path", loadable_faulty_specs(), ids=lambda p: p.stem)
def test_faulty_spec_equals_engine(path: Path) -> None:
    spec = load_spec(path)
    n, _ = _compare(spec, generated(spec, 400, 0.15, seed=7))
    assert n == 400


def test_defects_are_reported_not_decided() -> None:
    """A planted overlap reaches rows that SQL marks as the defect, never as a recommendation."""
    spec = load_spec(ROOT / "specs" / "examples" / "faulty" / "07_overlap_indication_branches.yaml")
    rows = run_query(spec, generated(spec, 3000, 0.0, seed=3))
    defects = [r for r in rows if r["defect"] is not None]
    assert defects, "the planted overlap was never reached"
    assert all(r["recommendation"] is None and r["needs_engine"] for r in defects)
