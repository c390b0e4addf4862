"""``crs-model cohort --engine duckdb`` equals the Python engine, row by row and column by column (issue 15).

The differential test runs both engines on the same generated cohort (absences and invalid rows
included) and compares the two result tables in DuckDB: any row where one column differs is
printed with its inputs.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from crs_model import load_spec  # noqa: E402
from crs_model.cli import main  # noqa: E402
from crs_model.cohort.columns import input_columns  # noqa: E402
from crs_model.cohort.duck import DuckDBBackend  # noqa: E402
from crs_model.cohort.pipeline import run_sql_cohort  # noqa: E402
from crs_model.cohort.readers import read_batches  # noqa: E402
from crs_model.cohort.runner import run_cohort  # noqa: E402
from crs_model.errors import CrsModelError  # noqa: E402
from crs_model.model import Spec  # noqa: E402
from tests.cohort_support import generate_cohort as _generate  # noqa: E402
from tests.cohort_support import generated_rows, loadable_faulty_specs  # noqa: E402
from tests.cohort_support import mismatches as _mismatches  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(None)
FAULTY = sorted((ROOT / "specs" / "examples" / "faulty").glob("*.yaml"))
BIG = int(__import__("os").environ.get("CRS_BIG", "200000"))


def _both(
    spec: Spec, source: str, tmp: Path, *, workers: int | None = None, exact: bool = True
) -> tuple[Path, Path, Any]:
    py, sql = tmp / "python.parquet", tmp / "duckdb.parquet"
    run_cohort(spec, read_batches(spec, source), py, exact=exact)
    with DuckDBBackend() as backend:
        summary = run_sql_cohort(spec, backend, source, sql, workers=workers, exact=exact)
    return py, sql, summary


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Any]:
    tmp = tmp_path_factory.mktemp("big")
    src = _generate(SPEC, tmp / "cohort.parquet", BIG, seed=15)
    py, sql, summary = _both(SPEC, str(src), tmp)
    return src, py, sql, summary


def test_duckdb_equals_python_engine_on_200k_rows(big: tuple[Path, Path, Path, Any]) -> None:
    src, py, sql, summary = big
    bad = _mismatches(SPEC, py, sql, str(src))
    assert not bad, "\n".join(bad)
    assert summary.rows == BIG
    # the cohort exercises every path of the pipeline: invalid rows, open rows, each recommendation
    assert 0 < summary.invalid < BIG // 50
    assert 0 < summary.routed < BIG
    assert 0 < summary.keys <= summary.routed
    assert "insufficient_data" in summary.by_recommendation
    assert len(summary.by_recommendation) == len({o.recommendation for o in SPEC.outcomes.values()}) + 1


def test_result_is_deterministic(tmp_path: Path) -> None:
    src = _generate(SPEC, tmp_path / "c.parquet", 20_000, seed=5)
    outs = []
    for workers in (1, 2):  # one process or forked workers: the same bytes
        out = tmp_path / f"r{workers}.parquet"
        with DuckDBBackend() as backend:
            run_sql_cohort(SPEC, backend, str(src), out, workers=workers)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_many_absent_values(tmp_path: Path) -> None:
    # the exact engine works hardest here (many absent inputs per open row): a smaller cohort
    src = _generate(SPEC, tmp_path / "sparse.parquet", 1_500, seed=4, absent_share=0.4, invalid_share=0.02)
    py, sql, summary = _both(SPEC, str(src), tmp_path)
    assert not (bad := _mismatches(SPEC, py, sql, str(src))), "\n".join(bad)
    assert summary.by_recommendation["insufficient_data"] > 1_500 // 4


@pytest.mark.parametrize("absent", [0.05, 0.3])
def test_three_valued_semantics_equals_the_three_valued_engine(tmp_path: Path, absent: float) -> None:
    """--semantics three-valued: the verifier's semantics, equal to Engine(spec, exact=False) row by row."""
    src = _generate(SPEC, tmp_path / "c.parquet", 20_000, seed=8, absent_share=absent, invalid_share=0.01)
    py, sql, summary = _both(SPEC, str(src), tmp_path, exact=False)
    assert not (bad := _mismatches(SPEC, py, sql, str(src))), "\n".join(bad)
    # only defects and open rows with several candidate inputs reach the engine
    assert summary.routed < 20_000 * (0.1 if absent < 0.1 else 0.5)


@pytest.mark.parametrize("path", FAULTY[:8], ids=lambda p: p.stem)
def test_three_valued_on_faulty_specs(path: Path, tmp_path: Path) -> None:
    try:
        spec = load_spec(path)
    except CrsModelError:
        pytest.skip(f"{path.name} does not load (a planted load error)")
    src = _generate(spec, tmp_path / "in.parquet", 600, seed=9, absent_share=0.15, invalid_share=0.02)
    py, sql, _ = _both(spec, str(src), tmp_path, exact=False)
    assert not (bad := _mismatches(spec, py, sql, str(src))), "\n".join(bad)


@pytest.mark.parametrize("path", loadable_faulty_specs(), ids=lambda p: p.stem)
def test_faulty_specs(path: Path, tmp_path: Path) -> None:
    spec = load_spec(path)
    src = _generate(spec, tmp_path / "in.parquet", 600, seed=9, absent_share=0.15, invalid_share=0.02)
    py, sql, _ = _both(spec, str(src), tmp_path)
    assert not (bad := _mismatches(spec, py, sql, str(src))), "\n".join(bad)


def test_csv_cells_read_as_the_python_reader_reads_them(tmp_path: Path) -> None:
    """Cells SQL might read differently (signs, spaces, case, text in a number column) give the same rows."""
    import csv

    rows = generated_rows(SPEC, 3000, seed=2, invalid_share=0.02)
    names = [c.name for c in input_columns(SPEC)]
    odd = {
        "int": [" 5", "+3", "1_0", "abc", "9" * 30],
        "real": [" 7.5", "+1e2", "1_0.5", "nan", "inf", "x"],
        "bool": ["TRUE", " false", "yes", "1"],
    }
    kinds = {
        n: (
            "bool"
            if v.type.base.name == "BOOL"
            else "int"
            if v.type.base.name == "INT"
            else "real"
            if v.type.base.name == "REAL"
            else ""
        )
        for n, v in SPEC.variables.items()
    }
    path = tmp_path / "cohort.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(list(reversed(names)))  # a column order of its own: errors name the first bad column of the file
        for i, r in enumerate(rows):
            cells = {
                n: "" if r.get(n) is None else ("true" if r[n] is True else "false" if r[n] is False else str(r[n]))
                for n in names
            }
            if i % 7 == 0:
                n = names[i % len(names)]
                if kinds[n]:
                    cells[n] = odd[kinds[n]][i % len(odd[kinds[n]])]
            w.writerow([cells[n] for n in reversed(names)])
    py, sql, _ = _both(SPEC, str(path), tmp_path)
    assert not (bad := _mismatches(SPEC, py, sql)), "\n".join(bad)


def test_jsonl_lines_bad_and_good(tmp_path: Path) -> None:
    rows = generated_rows(SPEC, 2000, seed=3, invalid_share=0.02)
    path = tmp_path / "cohort.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i, r in enumerate(rows):
            if i % 97 == 0:
                fh.write("{not json\n")
            elif i % 89 == 0:
                fh.write(json.dumps({**r, "il6_pg_mll": 3}) + "\n")  # a misspelt key: that row's error
            elif i % 83 == 0:
                fh.write(json.dumps({**r, "age_years": "70"}) + "\n")  # a string for a number
            else:
                fh.write(json.dumps({k: v for k, v in r.items() if v is not None}) + "\n")
    py, sql, summary = _both(SPEC, str(path), tmp_path)
    assert not (bad := _mismatches(SPEC, py, sql)), "\n".join(bad)
    assert summary.rows == 2000
    assert summary.invalid > 2000 // 97


def test_folder_of_files_keeps_row_numbers(tmp_path: Path) -> None:
    folder = tmp_path / "lake"
    folder.mkdir()
    for k, n in enumerate([700, 1, 1300]):
        _generate(SPEC, folder / f"part-{k}.parquet", n, seed=k)
    py, sql, summary = _both(SPEC, str(folder), tmp_path)
    assert summary.rows == 2001
    assert not (bad := _mismatches(SPEC, py, sql)), "\n".join(bad)


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


def test_cli_default_engine_is_duckdb(tmp_path: Path) -> None:
    src = _generate(SPEC, tmp_path / "c.parquet", 3000, seed=1)
    rc, out, err = _cli("cohort", str(src), "--out", str(tmp_path / "r.jsonl"))
    assert rc == 0, err
    assert out.startswith("3000 rows:")
    assert "exact engine" in out
    lines = (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3000
    assert [json.loads(x)["row"] for x in lines] == list(range(3000))
    rc, _, err = _cli("cohort", str(src), "--out", str(tmp_path / "p.jsonl"), "--engine", "python")
    assert rc == 0, err
    assert (tmp_path / "p.jsonl").read_text(encoding="utf-8") == "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--memory-limit", "lots"], "--memory-limit 'lots'"),
        (["--out", "r.csv"], "the result must be"),
    ],
)
def test_cli_errors(tmp_path: Path, argv: list[str], needle: str) -> None:
    src = _generate(SPEC, tmp_path / "c.parquet", 10, seed=1)
    args = ["cohort", str(src), "--out", str(tmp_path / "r.parquet"), *argv]
    rc, out, err = _cli(*args)
    assert (rc, out) == (2, "")
    assert needle in err
    assert "Traceback" not in err
