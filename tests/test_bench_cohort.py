"""The cohort benchmark measures what it prints: a tiny run of the python engine and the sql-only query."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

pytest.importorskip("duckdb")

from benchmarks.bench_cohort import Run, _growth, _ratios, cohort_file, main, to_text
from crs_model import bundled_spec_path


def test_a_tiny_run_measures_python_and_sql_on_the_same_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--rows", "2000", "--engines", "python,sql", "--pool", "300", "--cache", str(tmp_path), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert [g["rows"] for g in result["generated"]] == [2000]
    assert result["generated"][0]["cached"] is False
    runs = {r["engine"]: r for r in result["runs"]}
    assert set(runs) == {"python", "sql only"}
    for r in runs.values():
        assert r["status"] == "ok", r
        assert r["seconds"] > 0
        assert r["rows_per_s"] == pytest.approx(2000 / r["seconds"])
        assert 10 < r["peak_rss_mb"] < 4096  # the child's own peak, in MB
    [ratio] = result["ratios"]
    assert ratio["engine"] == "sql only"
    # the ratio is printed to 2 decimals: within half a unit of its last place
    assert ratio["ratio"] == pytest.approx(runs["sql only"]["rows_per_s"] / runs["python"]["rows_per_s"], abs=0.0051)
    # the same size, spec and generator come from the cache
    path, seconds = cohort_file(2000, tmp_path, bundled_spec_path(), 300)
    assert seconds is None
    assert path.exists()


def test_limits_and_missing_engines_are_reported_not_extrapolated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--rows",
        "500",
        "--engines",
        "python",
        "--python-max-rows",
        "100",
        "--pool",
        "50",
        "--cache",
        str(tmp_path),
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "not measured: above --python-max-rows 100" in text
    assert "rows/s at" not in text  # nothing measured, no growth invented


def test_ratios_and_growth_come_from_measured_runs_only() -> None:
    runs = [
        Run("python", 100, "ok", 2.0, 50.0, 100.0),
        Run("duckdb", 100, "ok", 0.1, 1000.0, 100.0),
        Run("python", 1000, "not measured: above --python-max-rows 100"),
        Run("duckdb", 1000, "ok", 1.25, 800.0, 100.0),
    ]
    assert _ratios(runs) == [{"engine": "duckdb", "over": "python", "rows": 100, "ratio": 20.0}]
    # 900 more rows in 1.15 more seconds: the start-up cost in both runs cancels out
    assert _growth(runs) == [
        {"engine": "duckdb", "rows": 1000, "from_rows": 100, "ratio": 0.8, "marginal_rows_per_s": 783}
    ]
    result = {
        "cpus": 2,
        "load_before": [0.0],
        "load_after": [0.0],
        "repeat": 1,
        "pool": 10,
        "generated": [],
        "runs": [asdict(r) for r in runs],
        "ratios": _ratios(runs),
        "growth": _growth(runs),
    }
    text = to_text(result)
    assert "duckdb / python on 100 rows (same file): 20.0x rows/s" in text
    assert (
        "duckdb: rows/s at 1,000 over 100 rows: 0.80 (1 = linear); marginal rows/s from the next smaller size: 783"
        in text
    )
