"""Cohort I/O, the runner and the generator (crs-model cohort / cohort-gen)."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")
pq = pytest.importorskip("pyarrow.parquet")

from crs_model import load_spec  # noqa: E402
from crs_model.cli import main  # noqa: E402
from crs_model.cohort.columns import result_columns  # noqa: E402
from crs_model.cohort.generate import generate  # noqa: E402
from crs_model.engine import Engine  # noqa: E402
from crs_model.errors import PatientError  # noqa: E402
from tests.cohort_support import write_rows  # noqa: E402

SPEC = load_spec(None)
ENGINE = Engine(SPEC)


def _cohort(n: int, seed: int = 7, **kw: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for batch in generate(SPEC, n, seed=seed, batch_rows=97, **kw):
        names = list(batch)
        rows.extend(dict(zip(names, vals, strict=True)) for vals in zip(*batch.values(), strict=True))
    return rows


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def _result(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        return list(pq.read_table(path).to_pylist())
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _expected(patient: dict[str, Any]) -> dict[str, Any]:
    """What the engine says for one patient, in the result's columns."""
    try:
        d = ENGINE.evaluate(patient)
    except PatientError as exc:
        return {"recommendation": None, "outcome": None, "error": exc.message}
    return {
        "recommendation": d.recommendation,
        "outcome": d.outcome,
        **d.outputs,
        "flags": [f.id for f in d.flags],
        "missing": list(d.missing),
        "error": None,
    }


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return _cohort(600, absent_share=0.1, invalid_share=0.05)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
@pytest.mark.parametrize("result", ["parquet", "jsonl"])
def test_round_trip_equals_the_engine_row_by_row(
    tmp_path: Path, rows: list[dict[str, Any]], fmt: str, result: str
) -> None:
    src = write_rows(SPEC, tmp_path / f"in.{fmt}", rows)
    out = tmp_path / f"out.{result}"
    code, text, err = _run("cohort", str(src), "--out", str(out), "--batch-rows", "64")
    assert (code, err) == (0, ""), err
    got = _result(out)
    assert len(got) == len(rows)  # nothing dropped
    assert [r["row"] for r in got] == list(range(len(rows)))
    assert [c.name for c in result_columns(SPEC)] == list(got[0])
    for i, (patient, res) in enumerate(zip(rows, got, strict=True)):
        want = _expected(patient)
        assert {k: res[k] for k in want} == want, f"row {i}: {patient}"
    invalid = sum(r["error"] is not None for r in got)
    assert 0 < invalid < len(rows)
    assert f"{len(rows)} rows: {len(rows) - invalid} decided, {invalid} invalid" in text
    assert "rows/s" in text


def test_invalid_rows_name_the_field_and_get_no_decision(tmp_path: Path) -> None:
    good = _cohort(1, absent_share=0.0, invalid_share=0.0)[0]
    var = next(n for n, v in SPEC.variables.items() if v.maximum is not None and v.type.numeric)
    top = SPEC.variables[var].maximum
    assert top is not None
    bad = {**good, var: top * 3 + 1}
    src = write_rows(SPEC, tmp_path / "in.parquet", [good, bad, good])
    out = tmp_path / "out.parquet"
    assert _run("cohort", str(src), "--out", str(out))[0] == 0
    got = _result(out)
    assert [r["error"] is None for r in got] == [True, False, True]
    assert var in got[1]["error"]
    assert "outside" in got[1]["error"]
    assert all(got[1][k] is None for k in ("recommendation", "outcome", "flags", "missing", *SPEC.outputs))
    assert got[0]["recommendation"] is not None


def test_csv_cells_that_do_not_convert_name_the_field(tmp_path: Path) -> None:
    ints = [n for n, v in SPEC.variables.items() if v.type.base.value == "int"]
    src = tmp_path / "in.csv"
    src.write_text(f"{ints[0]}\nabc\n\n3\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert _run("cohort", str(src), "--out", str(out))[0] == 0
    got = _result(out)
    assert len(got) == 3
    assert ints[0] in got[0]["error"]
    assert '"abc"' in got[0]["error"]
    assert got[1]["error"] is None
    assert got[2]["error"] is None


def test_jsonl_bad_lines_are_rows_with_errors(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{}\nnot json\n{"no_such_input": 1}\n[1]\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert _run("cohort", str(src), "--out", str(out))[0] == 0
    got = _result(out)
    assert [r["row"] for r in got] == [0, 1, 2, 3]
    assert got[0]["error"] is None
    assert "in.jsonl:2:1: invalid JSON" in got[1]["error"]
    assert "no_such_input" in got[2]["error"]
    assert "JSON object" in got[3]["error"]


def test_folder_and_glob_number_rows_across_files_in_path_order(tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    write_rows(SPEC, tmp_path / "b.parquet", rows[100:150])
    write_rows(SPEC, tmp_path / "a.parquet", rows[:100])
    for source in (str(tmp_path), str(tmp_path / "*.parquet")):
        out = tmp_path / "out.jsonl"
        assert _run("cohort", source, "--out", str(out))[0] == 0
        got = _result(out)
        assert [r["row"] for r in got] == list(range(150))
        assert [r["error"] for r in got] == [_expected(p)["error"] for p in rows[:150]]


def test_an_unknown_column_is_exit_2_naming_it(tmp_path: Path) -> None:
    name = next(iter(SPEC.variables))
    src = tmp_path / "in.csv"
    src.write_text(f"{name}x,{name}\n,\n", encoding="utf-8")
    code, _, err = _run("cohort", str(src), "--out", str(tmp_path / "o.parquet"))
    assert code == 2
    assert f"'{name}x' is not an input of the spec" in err
    assert f"did you mean '{name}'" in err
    assert not (tmp_path / "o.parquet").exists()


def test_a_parquet_column_of_the_wrong_type_is_exit_2(tmp_path: Path) -> None:
    import pyarrow as pa

    name = next(n for n, v in SPEC.variables.items() if v.type.base.value == "bool")
    pq.write_table(pa.table({name: pa.array([1.5])}), tmp_path / "in.parquet")
    code, _, err = _run("cohort", str(tmp_path / "in.parquet"), "--out", str(tmp_path / "o.parquet"))
    assert code == 2
    assert f"column '{name}' has type DOUBLE" in err
    assert "boolean" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["cohort", "/nonexistent/x.parquet", "--out", "o.parquet"], "no such file or folder"),
        (["cohort", "/nonexistent/*.parquet", "--out", "o.parquet"], "no file matches"),
        (["cohort", "x.parquet", "--out", "o.csv"], "the result must be .parquet or .jsonl"),
        (["cohort", "x.parquet", "--out", "o.parquet", "--engine", "spark", "--master", "sprak://h"], "no such file"),
        (["cohort-gen", "10", "--out", "o.txt"], "unknown table format"),
        (["cohort-gen", "10", "--out", "o.parquet", "--absent-share", "2"], "outside 0..1"),
        (["cohort-gen", "-1", "--out", "o.parquet"], "negative"),
    ],
)
def test_bad_usage_is_exit_2(tmp_path: Path, argv: list[str], needle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(*argv)
    assert code == 2
    assert needle in err, err
    assert "Traceback" not in err


def test_the_generator_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    a, b = _cohort(500, seed=11), _cohort(500, seed=11)
    assert a == b
    assert a != _cohort(500, seed=12)
    for name in ("a.parquet", "b.parquet"):
        assert _run("cohort-gen", "300", "--out", str(tmp_path / name), "--seed", "5")[0] == 0
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "b.parquet"))


def test_the_generator_reaches_every_outcome_and_edge() -> None:
    engine = ENGINE
    outcomes: Counter[str | None] = Counter()
    steps: set[tuple[str, str]] = set()
    for p in _cohort(3000, absent_share=0.0, invalid_share=0.0):
        d = engine.evaluate(p)
        outcomes[d.outcome] += 1
        steps.update(zip(d.path, d.path[1:], strict=False))
    assert set(SPEC.outcomes) <= set(outcomes)
    edges = {(nid, e.target) for nid, node in SPEC.nodes.items() for e in node.edges}
    assert edges <= steps, sorted(edges - steps)


def test_the_generator_shares_of_absent_and_invalid_rows() -> None:
    rows = _cohort(4000, absent_share=0.2, invalid_share=0.05)
    cells = [v for r in rows for v in r.values()]
    absent = sum(v is None for v in cells) / len(cells)
    assert 0.2 <= absent <= 0.35  # the pool's own absences come on top of the drawn share
    validator = ENGINE.validator
    invalid = 0
    for r in rows:
        try:
            validator.validate(r)
        except PatientError:
            invalid += 1
    assert 0.03 <= invalid / len(rows) <= 0.07
    assert _cohort(200, invalid_share=0.0)
    assert all(_expected(r)["error"] is None for r in _cohort(200, invalid_share=0.0))
