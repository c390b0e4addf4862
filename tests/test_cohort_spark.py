"""Spark local mode runs the spec's query exactly as DuckDB does, row by row, column by column.

One SparkSession for the module (each start costs seconds). The tests skip only where no Java
runtime is installed; ``make test`` installs one (Debian's openjdk-17-jre-headless) on Debian.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if shutil.which("java") is None:
    pytest.skip(
        "no Java runtime on PATH: Spark needs Java 17+ (make installs Debian's openjdk-17-jre-headless as root)",
        allow_module_level=True,
    )

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from crs_model import load_spec
from crs_model.cohort.columns import input_columns
from crs_model.cohort.generate import generate
from crs_model.cohort.spark import ROW, SparkBackend, SparkError
from crs_model.cohort.writers import TableWriter
from crs_model.errors import OutputFileError
from crs_model.model import Spec
from crs_model.sql import query_text
from crs_model.sql.query import INPUT_TYPES
from tests.cohort_support import loadable_faulty_specs

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "specs" / "cytosorb_crs.yaml"
FAULTY = sorted((ROOT / "specs" / "examples" / "faulty").glob("*.yaml"))


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkBackend]:
    with SparkBackend("local[2]") as backend:
        yield backend


def _write_cohort(spec: Spec, path: Path, n: int, seed: int) -> Path:
    with TableWriter(path, input_columns(spec)) as w:
        for batch in generate(spec, n, seed=seed):  # default absent (5 %) and invalid (0.5 %) shares
            w.write(batch)
    return path


def _types(spec: Spec) -> dict[str, str]:
    return {n: INPUT_TYPES[v.type.base].name for n, v in spec.variables.items()}


def _duckdb_table(spec: Spec, path: Path) -> pa.Table:
    con = duckdb.connect()
    try:
        rel = con.read_parquet(str(path), file_row_number=True)
        rel.select("file_row_number AS row, * EXCLUDE (file_row_number)").create_view("patients")
        return con.sql(query_text(spec, "duckdb", keys=[ROW])).to_arrow_table()
    finally:
        con.close()


def _spark_table(spark: SparkBackend, spec: Spec, path: Path) -> pa.Table:
    spark.register_input("patients", [path], "parquet", _types(spec))
    return spark.to_arrow(query_text(spec, "spark", keys=[ROW]))


def _schema(table: pa.Table) -> list[tuple[str, str]]:
    """Column names and Arrow types (a list by its element type: DuckDB names the item ``l``, Spark ``element``)."""
    return [(f.name, f"list<{f.type.value_type}>" if pa.types.is_list(f.type) else str(f.type)) for f in table.schema]


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda r: int(r[ROW]))


def _assert_same(path: Path, duck_table: pa.Table, spark_table: pa.Table) -> list[dict[str, Any]]:
    """Every column of every row equal (exactly: doubles too); the first differences are printed with their inputs."""
    assert _schema(spark_table) == _schema(duck_table), "the result columns or their types differ"
    duck, sp = _rows(duck_table), _rows(spark_table)
    assert [r[ROW] for r in duck] == list(range(len(duck)))
    assert [r[ROW] for r in sp] == [r[ROW] for r in duck], "Spark's row numbers differ from DuckDB's"
    bad = [(d, s) for d, s in zip(duck, sp, strict=True) if d != s]
    if bad:
        inputs = pq.read_table(path).to_pylist()
        lines = []
        for d, s in bad[:5]:
            cols = {k: (d[k], s[k]) for k in d if d[k] != s[k]}
            lines.append(f"row {d[ROW]}: (duckdb, spark) {cols}\n  inputs {inputs[d[ROW]]}")
        pytest.fail(f"{path.name}: {len(bad)} of {len(duck)} rows differ:\n" + "\n".join(lines))
    return duck


def test_a_difference_is_reported_with_its_inputs(tmp_path: Path) -> None:
    # the comparison itself can fail: one changed flag list is found and shown with the row's inputs
    spec = load_spec(SHIPPED)
    path = _write_cohort(spec, tmp_path / "c.parquet", 50, seed=1)
    table = _duckdb_table(spec, path)
    changed = table.set_column(
        table.schema.get_field_index("flags"), "flags", pa.array([["x"], *table.column("flags").to_pylist()[1:]])
    )
    with pytest.raises(
        pytest.fail.Exception, match=r"c.parquet: 1 of 50 rows differ:\nrow 0: .*'flags'.*\n  inputs \{"
    ):
        _assert_same(path, table, changed)


def test_shipped_spec_on_spark_equals_duckdb(spark: SparkBackend, tmp_path: Path) -> None:
    spec = load_spec(SHIPPED)
    path = _write_cohort(spec, tmp_path / "cohort.parquet", 20_000, seed=15)
    duck = _assert_same(path, _duckdb_table(spec, path), _spark_table(spark, spec, path))
    assert len(duck) == 20_000
    # the comparison saw every kind of answer, not only one: outcomes, open rows, flags, rounded doses
    assert len({r["outcome"] for r in duck}) > 3
    assert {r["needs_engine"] for r in duck} == {True, False}
    assert any(r["flags"] for r in duck)
    reported = [n for n, o in spec.outputs.items() if o.precision is not None]
    assert reported
    assert all(sum(r[n] is not None for r in duck) > 100 for n in reported)


def test_faulty_specs_on_spark_equal_duckdb(spark: SparkBackend, tmp_path: Path) -> None:
    specs = loadable_faulty_specs()
    assert len(specs) >= 10
    defects = 0
    for i, p in enumerate(specs):
        spec = load_spec(p)
        path = _write_cohort(spec, tmp_path / f"{p.stem}.parquet", 300, seed=i)
        duck = _assert_same(path, _duckdb_table(spec, path), _spark_table(spark, spec, path))
        defects += sum(r["defect"] is not None for r in duck)
    assert defects > 0, "no planted gap or overlap was reached: the defect column went untested"


def test_row_numbers_follow_the_file_order(spark: SparkBackend, tmp_path: Path) -> None:
    # files given out of name order, of different sizes, one lacking a column: rows keep the given order
    sizes = {"b.parquet": 700, "a.parquet": 3, "c.parquet": 250}
    files, expected, k = [], [], 0
    for name, n in sizes.items():
        cols: dict[str, list[Any]] = {"v": list(range(k, k + n))}
        if name != "a.parquet":
            cols["w"] = [f"{name}:{j}" for j in range(n)]
        pq.write_table(pa.table(cols), tmp_path / name, row_group_size=64)  # several row groups per file
        files.append(tmp_path / name)
        expected += [(x, f"{name}:{x - k}" if name != "a.parquet" else None) for x in cols["v"]]
        k += n
    spark.register_input("t", files, "parquet", {"v": "BIGINT", "w": "VARCHAR", "absent": "DOUBLE"})
    got = spark.to_arrow("SELECT row, v, w, absent FROM t").to_pylist()
    assert sorted((r["row"], r["v"], r["w"]) for r in got) == [(i, v, w) for i, (v, w) in enumerate(expected)]
    assert all(r["absent"] is None for r in got)

    (tmp_path / "z.csv").write_text("v,flag\n10,true\n,false\n12,\n", encoding="utf-8")
    (tmp_path / "y.csv").write_text("v,flag\n20,false\n", encoding="utf-8")
    spark.register_input("c", [tmp_path / "z.csv", tmp_path / "y.csv"], "csv", {"v": "BIGINT", "flag": "BOOLEAN"})
    rows = spark.to_arrow("SELECT * FROM c ORDER BY row").to_pylist()
    assert rows == [
        {"row": 0, "v": 10, "flag": True},
        {"row": 1, "v": None, "flag": False},
        {"row": 2, "v": 12, "flag": None},
        {"row": 3, "v": 20, "flag": False},
    ]
    # RFC 4180 quoting, as DuckDB reads it: a doubled quote inside a quoted cell is one quote
    (tmp_path / "q.csv").write_text('v,w\n1,"a""b"\n2,"x,y"\n', encoding="utf-8")
    spark.register_input("q", [tmp_path / "q.csv"], "csv", {"v": "BIGINT", "w": "VARCHAR"})
    quoted = spark.to_arrow("SELECT v, w FROM q ORDER BY row").to_pylist()
    con = duckdb.connect()
    scan = "SELECT v::BIGINT, w FROM read_csv(?, header = true, all_varchar = true)"
    want = con.execute(scan, [str(tmp_path / "q.csv")]).fetchall()
    assert [dict(zip(("v", "w"), r, strict=True)) for r in want] == [{"v": 1, "w": 'a"b'}, {"v": 2, "w": "x,y"}]
    assert quoted == [dict(zip(("v", "w"), r, strict=True)) for r in want]


def test_write_parquet_is_one_ordered_file(spark: SparkBackend, tmp_path: Path) -> None:
    spec = load_spec(SHIPPED)
    path = _write_cohort(spec, tmp_path / "in.parquet", 3000, seed=4)
    spark.register_input("patients", [path], "parquet", _types(spec))
    out = tmp_path / "out.parquet"
    spark.write_parquet(query_text(spec, "spark", keys=[ROW]), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "out.parquet"]  # no folder left behind
    written = pq.read_table(out)
    assert written.column(ROW).to_pylist() == list(range(3000))  # ordered by row in the file itself
    expected = _duckdb_table(spec, path)
    assert _schema(written) == _schema(expected)
    assert written.to_pylist() == _rows(expected)


def test_write_parquet_into_a_missing_folder_is_a_clear_error(spark: SparkBackend, tmp_path: Path) -> None:
    with pytest.raises(OutputFileError, match=r"x.parquet: cannot write: its folder does not exist"):
        spark.write_parquet("SELECT 1 AS row", tmp_path / "no" / "x.parquet")


def test_register_arrow_and_sql(spark: SparkBackend) -> None:
    spark.register_arrow("small", pa.table({"k": [3, 1, 2], "s": ["c", "a", None]}))
    spark.sql("CREATE OR REPLACE TEMP VIEW small2 AS SELECT k * 2 AS k2, s FROM small")
    got = spark.to_arrow("SELECT k2, s FROM small2 ORDER BY k2")
    assert got.to_pylist() == [{"k2": 2, "s": "a"}, {"k2": 4, "s": None}, {"k2": 6, "s": "c"}]


def test_a_bad_statement_is_a_clear_error(spark: SparkBackend) -> None:
    with pytest.raises(SparkError, match=r"Spark rejected the statement: .*no_such_table"):
        spark.to_arrow("SELECT * FROM no_such_table")


def test_a_bad_master_is_a_clear_error() -> None:
    with pytest.raises(SparkError, match=r"master='sprak://x:7077' is not a Spark master URL \(expected local"):
        SparkBackend("sprak://x:7077")


def test_a_second_master_in_one_process_is_a_clear_error(spark: SparkBackend) -> None:
    # getOrCreate would hand back the running local[2] session: asking for another master must not pass silently
    with pytest.raises(SparkError, match=r"a Spark session on master='local\[2\]' already runs in this process"):
        SparkBackend("local[1]").__enter__()
    assert spark.to_arrow("SELECT 1 AS one").to_pylist() == [{"one": 1}]  # the running session is untouched


def test_no_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with (
        pytest.raises(SparkError, match=r"no Java runtime: 'java' is not on PATH and JAVA_HOME is unset"),
        SparkBackend(),
    ):
        pass


def test_cohort_pipeline_on_spark_equals_duckdb(spark: SparkBackend, tmp_path: Path) -> None:
    """``crs-model cohort --engine spark``: the whole pipeline (validation, routing to the exact engine, the
    final join) on Spark gives the DuckDB pipeline's result table, row by row, on 20,000 generated rows."""
    from crs_model.cohort.duck import DuckDBBackend
    from crs_model.cohort.pipeline import run_sql_cohort
    from crs_model.cohort.spark import SparkCohort
    from tests.cohort_support import generate_cohort, mismatches

    spec = load_spec(SHIPPED)
    src = generate_cohort(spec, tmp_path / "c.parquet", 20_000, seed=21, invalid_share=0.01)
    with DuckDBBackend() as duck:
        on_duck = run_sql_cohort(spec, duck, str(src), tmp_path / "duck.parquet")
    on_spark = run_sql_cohort(spec, SparkCohort(spark), str(src), tmp_path / "spark.parquet")
    assert not (bad := mismatches(spec, tmp_path / "duck.parquet", tmp_path / "spark.parquet", str(src))), "\n".join(
        bad
    )
    assert (on_spark.rows, on_spark.invalid, on_spark.routed) == (on_duck.rows, on_duck.invalid, on_duck.routed)
    assert on_spark.invalid > 0
    assert on_spark.routed > 0


def test_cohort_pipeline_on_spark_reads_csv_as_duckdb_does(spark: SparkBackend, tmp_path: Path) -> None:
    """CSV on Spark is parsed by DuckDB's reader on the driver: quoted cells, doubled quotes, a byte-order
    mark, CRLF line ends, odd cells (signs, spaces, case, text in a number column) and a column the file
    lacks give the DuckDB pipeline's table, row by row; an empty file gives no row."""
    import csv

    from crs_model.cohort.duck import DuckDBBackend
    from crs_model.cohort.pipeline import run_sql_cohort
    from crs_model.cohort.spark import SparkCohort
    from tests.cohort_support import generated_rows, mismatches

    spec = load_spec(SHIPPED)
    names = [c.name for c in input_columns(spec) if c.name != "weight_kg"]  # one input the file lacks
    odd = {"BIGINT": [" 5", "+3", "abc"], "DOUBLE": [" 7.5", "+1e2", "nan", "x"], "BOOLEAN": ["TRUE", "yes"]}
    types = _types(spec)
    path = tmp_path / "c.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as fh:  # utf-8-sig: a byte-order mark first
        w = csv.writer(fh, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
        w.writerow(names)
        for i, r in enumerate(generated_rows(spec, 3000, seed=5, invalid_share=0.02)):
            cells = {
                n: "" if r.get(n) is None else str(r[n]).lower() if isinstance(r[n], bool) else r[n] for n in names
            }
            n = names[i % len(names)]
            if i % 5 == 0 and types[n] in odd:
                cells[n] = odd[types[n]][i % len(odd[types[n]])]
            if i % 11 == 0 and types[n] == "VARCHAR":
                cells[n] = f'{cells[n]}"quoted"'  # a doubled quote inside a quoted cell: an invalid enum value
            w.writerow([cells[n] for n in names])
    with DuckDBBackend() as duck:
        on_duck = run_sql_cohort(spec, duck, str(path), tmp_path / "duck.parquet")
    on_spark = run_sql_cohort(spec, SparkCohort(spark), str(path), tmp_path / "spark.parquet")
    assert not (bad := mismatches(spec, tmp_path / "duck.parquet", tmp_path / "spark.parquet")), "\n".join(bad)
    assert (on_spark.rows, on_spark.invalid, on_spark.routed) == (on_duck.rows, on_duck.invalid, on_duck.routed)
    assert on_spark.rows == 3000
    assert on_spark.invalid > 3000 // 11
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(names) + "\n", encoding="utf-8")
    assert run_sql_cohort(spec, SparkCohort(spark), str(empty), tmp_path / "e.parquet").rows == 0
    assert pq.read_table(tmp_path / "e.parquet").num_rows == 0


def test_cohort_pipeline_on_spark_reads_jsonl(spark: SparkBackend, tmp_path: Path) -> None:
    """JSONL lines are parsed and validated in Python and appended to Spark: the DuckDB pipeline's table."""
    import json

    from crs_model.cohort.duck import DuckDBBackend
    from crs_model.cohort.pipeline import run_sql_cohort
    from crs_model.cohort.spark import SparkCohort
    from tests.cohort_support import generated_rows, mismatches

    spec = load_spec(SHIPPED)
    path = tmp_path / "c.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i, r in enumerate(generated_rows(spec, 1500, seed=6, invalid_share=0.02)):
            fh.write("{broken\n" if i % 101 == 0 else json.dumps({k: v for k, v in r.items() if v is not None}) + "\n")
    with DuckDBBackend() as duck:
        run_sql_cohort(spec, duck, str(path), tmp_path / "duck.parquet")
    summary = run_sql_cohort(spec, SparkCohort(spark), str(path), tmp_path / "spark.parquet")
    assert not (bad := mismatches(spec, tmp_path / "duck.parquet", tmp_path / "spark.parquet")), "\n".join(bad)
    assert summary.rows == 1500
    assert summary.invalid >= 1500 // 101


def test_an_older_spec_on_spark_equals_duckdb(spark: SparkBackend, tmp_path: Path) -> None:
    """``--compare`` on Spark: the older spec reads the newer spec's file with its extra columns ignored,
    after the newer spec's run in the same session."""
    from crs_model.cohort.duck import DuckDBBackend
    from crs_model.cohort.pipeline import run_sql_cohort
    from crs_model.cohort.spark import SparkCohort
    from tests.cohort_support import generate_cohort, mismatches

    spec, old = load_spec(SHIPPED), load_spec(ROOT / "specs" / "history" / "cytosorb_crs-0.1.0.yaml")
    drop = frozenset(spec.variables) - frozenset(old.variables)
    src = generate_cohort(spec, tmp_path / "c.parquet", 3000, seed=23, invalid_share=0.01)
    with DuckDBBackend() as duck:
        run_sql_cohort(old, duck, str(src), tmp_path / "duck.parquet", ignore=drop)
    # as `cohort --engine spark --compare` runs them: the newer spec first, in the same session, so the
    # older run replaces views whose definitions read columns its own input no longer has
    run_sql_cohort(spec, SparkCohort(spark), str(src), tmp_path / "new.parquet")
    summary = run_sql_cohort(old, SparkCohort(spark), str(src), tmp_path / "spark.parquet", ignore=drop)
    assert not (bad := mismatches(old, tmp_path / "duck.parquet", tmp_path / "spark.parquet")), "\n".join(bad)
    assert summary.rows == 3000
    assert summary.routed > 0
