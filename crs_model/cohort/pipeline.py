"""Decide a cohort set-based in SQL (DuckDB or Spark), exactly as the Python engine would, row by row.

1. The input becomes :data:`~crs_model.cohort.backend.SRC` (typed, numbered rows); JSONL is parsed
   and validated in Python first (its rows are not typed), the valid rows appended.
2. The spec's query (:func:`crs_model.sql.compile_query`, with ``routing``) decides every row into
   ``crs_res``: validation (``error``), the three-valued decision, ``needs_engine`` and the key.
3. Rows the query rejects, and CSV rows with a cell SQL might read differently from Python, are
   decided by the Python engine from their raw cells: their ``error`` is the validator's own text.
4. Rows with ``needs_engine`` (the three-valued answer is open: insufficient_data, a flag or an
   output unknown, a defect) are grouped by routing key (:mod:`crs_model.sql.cells`); the exact
   engine decides one row per key and every row of the key takes that decision, with its own
   known output values.
5. One final query joins the three into the result, ordered by row, written by the backend; the
   result's row count is checked against the input's (:class:`~crs_model.cohort.runner.LostRows`).
"""

# ruff: noqa: S608 - SQL text is built from spec names quoted by sqlglot; file paths are bound parameters

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from crs_model.cohort.backend import CHECK, RAW, SRC, SqlBackend
from crs_model.cohort.columns import ERROR, RECOMMENDATION, ROW, Kind, input_columns, result_columns
from crs_model.cohort.readers import BadRow, Row, check_files, csv_converter, jsonl_batches, resolve
from crs_model.cohort.runner import DEFECT_PREFIX, LostRows, Summary, result_row
from crs_model.cohort.writers import TableWriter, arrow_schema
from crs_model.engine import Engine
from crs_model.errors import CrsModelError, PatientError
from crs_model.model import Spec
from crs_model.sql.query import (
    DEFECT,
    FLAGS,
    INPUT_TYPES,
    KEY,
    MISSING,
    NEEDS_ENGINE,
    OUTCOME,
    compile_query,
    exact_flags,
    value_column,
)


class SqlDisagrees(CrsModelError):
    """The SQL backend and the engine disagree on a row (a defect of crs_model): no result is written."""


RESULT = "crs_res"
PYTHON = "crs_py"  # rows decided by the Python engine from their raw cells
EXACT = "crs_exact"  # one exact decision per routing key
_SQL_TYPE = {Kind.BOOL: "BOOLEAN", Kind.INT: "BIGINT", Kind.REAL: "DOUBLE", Kind.TEXT: "VARCHAR"}


def _q(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


def _parse(text: str) -> exp.Expr:
    """A glue statement written in DuckDB's dialect (identifiers quoted by sqlglot) as a tree."""
    tree = sqlglot.parse_one(text, read="duckdb")
    assert tree is not None
    return tree


def _plain(value: Any) -> Any:
    """An Arrow value as the Python readers give it (Parquet decimals are read as floats)."""
    return float(value) if isinstance(value, Decimal) else value


def _arrow_rows(table: Any) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in r.items()} for r in table.to_pylist()]


def _result_table(spec: Spec, rows: Iterable[Mapping[str, Any]], key: str | None = None) -> Any:
    """Result rows (each a dict of result columns, plus ``key`` when given) as a pyarrow Table."""
    import pyarrow as pa

    cols = [c for c in result_columns(spec) if key is None or c.name != ROW]
    schema = arrow_schema(cols)
    rows = list(rows)
    data = {c.name: [r[c.name] for r in rows] for c in cols}
    table = pa.Table.from_pydict(data, schema=schema)
    if key is not None:
        table = table.append_column(key, pa.array([r[key] for r in rows], pa.string()))
    return table


class _Run:
    """One run's state: the spec, its engine, the backend and the counters."""

    def __init__(
        self, spec: Spec, backend: SqlBackend, workers: int, exact: bool, ignore: frozenset[str] = frozenset()
    ) -> None:
        self.workers = workers
        self.ignore = ignore  # columns of the input that are not this spec's (a newer spec's inputs)
        self.spec = spec
        self.engine = Engine(spec, exact=exact)
        # the rows the engine decides: exact, every open row; three-valued, only a defect (its message) and an
        # insufficient row whose open guards read other than one absent input (the engine picks the smallest
        # explanation; with one candidate, SQL's list is already the engine's)
        self.exact = exact
        self.backend = backend
        self.columns = {n: INPUT_TYPES[v.type.base].name for n, v in spec.variables.items()}
        self.python_rows: list[dict[str, Any]] = []  # result rows (with ROW) decided from raw cells

    def routed(self, a: str = "") -> str:
        """The condition (on the result columns, of alias ``a``) of a row the engine decides."""
        a = f"{a}." if a else ""
        if self.exact:
            return f"{a}{NEEDS_ENGINE}"
        one = f"{a}{OUTCOME} IS NULL AND ARRAY_LENGTH({a}{MISSING}) <> 1"
        return f"({a}{NEEDS_ENGINE} AND ({a}{DEFECT} IS NOT NULL OR ({one})))"

    # -- 1. the input
    def load(self, source: str) -> tuple[str, list[str] | None, int]:
        """The format, the file's column order (None for JSONL) and the number of input rows."""
        fmt, files = resolve(source)
        if fmt == "jsonl":
            return fmt, None, self._jsonl(files)
        present = check_files(self.spec, fmt, files, ignore=self.ignore)
        order = list(dict.fromkeys(n for cols in present for n in cols))  # first seen, first checked
        return fmt, order, self.backend.register_input(files, fmt, self.columns, present)

    def _jsonl(self, files: list[Path]) -> int:
        import pyarrow as pa

        types = {"BOOLEAN": pa.bool_(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(), "VARCHAR": pa.string()}
        schema = pa.schema(
            [
                pa.field("row", pa.int64()),
                *(pa.field(n, types[t]) for n, t in self.columns.items()),
                pa.field(CHECK, pa.bool_()),
            ]
        )
        validate = self.engine.validator.validate
        row = 0
        empty = True
        for f in files:
            for batch in jsonl_batches(f, 65536):
                valid: dict[str, list[Any]] = {name: [] for name in schema.names}
                for patient in batch:
                    # a rejected line keeps its place (no inputs, CHECK set): its error is a Python row
                    checked = self._validated(patient, validate, row)
                    valid["row"].append(row)
                    for n in self.columns:
                        valid[n].append(None if checked is None else checked.get(n))
                    valid[CHECK].append(checked is None)
                    row += 1
                self.backend.append_arrow(SRC, pa.Table.from_pydict(valid, schema=schema))
                empty = False
        if empty:
            self.backend.append_arrow(SRC, schema.empty_table())
        return row

    def _validated(self, patient: Row, validate: Any, row: int) -> dict[str, Any] | None:
        """The checked inputs of a JSONL row, or None once its error is recorded as a Python row."""
        if not isinstance(patient, BadRow):
            if self.ignore:
                patient = {k: v for k, v in patient.items() if k not in self.ignore}
            try:
                return dict(validate(patient))
            except PatientError:
                pass
        self.python_rows.append({ROW: row, **result_row(self.engine, patient)})
        return None

    # -- 3. rows Python decides from their raw cells
    def decide_raw(self, fmt: str, order: list[str] | None) -> None:
        if fmt == "jsonl" or order is None:
            return
        converters = {c.name: csv_converter(c.kind) for c in input_columns(self.spec)}
        rejected = f"SELECT row FROM {RESULT} WHERE {ERROR} IS NOT NULL OR {CHECK}"
        query = _parse(f"SELECT * FROM {RAW} WHERE row IN ({rejected}) ORDER BY row")
        for r in _arrow_rows(self.backend.to_arrow(query)):
            row = r.pop("row")
            # the columns the files have, in their order: the validator reports the first bad one
            patient = {k: converters[k](r[k]) if fmt == "csv" else r[k] for k in order}
            self.python_rows.append({ROW: row, **result_row(self.engine, patient)})

    # -- 4. one exact decision per routing key
    def decide_keys(self) -> tuple[int, int]:
        """Decide one row per routing key into :data:`EXACT`, in bounded batches (memory stays flat)."""
        where = f"{self.routed()} AND {ERROR} IS NULL AND NOT {CHECK}"
        reps = _parse(
            f"SELECT k.{KEY}, k.crs__rows, s.* FROM (SELECT {KEY}, min(row) AS row, count(*) AS crs__rows "
            f"FROM {RESULT} WHERE {where} GROUP BY {KEY}) AS k "
            f"JOIN {SRC} AS s USING (row) ORDER BY row"
        )
        decided = routed = 0
        self.backend.register_arrow(EXACT, _result_table(self.spec, [], KEY))
        for batch in self.backend.arrow_batches(reps, DECIDE_BATCH):
            keys, patients = [], []
            for r in _arrow_rows(batch):
                keys.append(r.pop(KEY))
                routed += r.pop("crs__rows")
                r.pop("row")
                r.pop(CHECK)
                patients.append({k: v for k, v in r.items() if v is not None})
            results = decide_all(self.engine, patients, self.workers)
            for patient, res in zip(patients, results, strict=True):
                error = res[ERROR]
                if error is not None and not error.startswith(DEFECT_PREFIX):
                    # the query accepted a row the validator rejects: a defect of this backend, never a result
                    raise SqlDisagrees(
                        f"the SQL validation accepted a row the engine's validator rejects ({error}): {patient}"
                    )
            rows = [{KEY: k, **res} for k, res in zip(keys, results, strict=True)]
            self.backend.append_arrow(EXACT, _result_table(self.spec, rows, KEY))
            decided += len(rows)
        return routed, decided

    # -- 5. the result
    def final(self) -> exp.Expr:
        cols = [f"r.row AS {ROW}"]
        for c in result_columns(self.spec):
            if c.name == ROW:
                continue
            n = _q(c.name)
            if c.name in self.spec.outputs:
                # a known output is the row's own value; an unknown one is what the key's decision settled
                exact = f"CASE WHEN e.{n} IS NULL THEN NULL ELSE COALESCE(r.{_q(value_column(c.name))}, e.{n}) END"
            elif c.name == FLAGS:
                exact = exact_flags(self.spec, "r", "e").sql(dialect="duckdb")  # known flags: the row's own
            else:
                exact = f"e.{n}"
            value = f"CASE WHEN p.row IS NOT NULL THEN p.{n} WHEN e.{KEY} IS NOT NULL THEN {exact} ELSE r.{n} END"
            if c.kind is not Kind.TEXT_LIST:
                value = f"CAST({value} AS {_SQL_TYPE[c.kind]})"
            cols.append(f"{value} AS {n}")
        return _parse(
            f"SELECT {', '.join(cols)} FROM {RESULT} AS r LEFT JOIN {PYTHON} AS p ON p.row = r.row "
            f"LEFT JOIN {EXACT} AS e ON e.{KEY} = r.{KEY} AND r.{ERROR} IS NULL AND NOT r.{CHECK} "
            f"AND {self.routed('r')} ORDER BY r.row"
        )


_WORKER_ENGINE: Engine | None = None  # the engine a forked worker inherits
_PARALLEL_FROM = 2000  # fewer decisions than this are not worth the workers' start
DECIDE_BATCH = 32_768  # rows the engine decides per batch: what Python holds at once


def _decide_chunk(patients: list[dict[str, Any]]) -> list[dict[str, Any]]:
    engine = _WORKER_ENGINE
    assert engine is not None  # set before the fork
    return [result_row(engine, p) for p in patients]


def decide_all(engine: Engine, patients: list[dict[str, Any]], workers: int) -> list[dict[str, Any]]:
    """The engine's result row of each patient, in order; on ``workers`` forked processes when worth it."""
    if workers <= 1 or len(patients) < _PARALLEL_FROM:
        return [result_row(engine, p) for p in patients]
    import multiprocessing

    global _WORKER_ENGINE
    _WORKER_ENGINE = engine
    size = max(64, len(patients) // (workers * 8))
    chunks = [patients[i : i + size] for i in range(0, len(patients), size)]
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_decide_chunk, chunks)
    finally:
        _WORKER_ENGINE = None
    return [r for part in parts for r in part]


def default_workers() -> int:
    """One worker per core this process may use."""
    return max(1, len(os.sched_getaffinity(0)))


def run_sql_cohort(
    spec: Spec,
    backend: SqlBackend,
    source: str,
    out: str | Path,
    *,
    workers: int | None = None,
    exact: bool = True,
    ignore: Iterable[str] = (),
) -> Summary:
    """Decide every row of ``source`` on ``backend`` into the table ``out`` (.parquet or .jsonl); the rows
    the exact engine decides run on ``workers`` processes (default: one per core). Input columns (JSONL
    keys) named in ``ignore`` are read as if the file did not have them: an older spec deciding a file
    written for a newer one, whose extra inputs it does not declare."""
    start = time.perf_counter()
    run = _Run(spec, backend, default_workers() if workers is None else workers, exact, frozenset(ignore))
    fmt, order, rows = run.load(source)
    query = compile_query(spec, SRC, keys=["row", CHECK], order=order, routing=True)
    backend.materialize(RESULT, query)
    run.decide_raw(fmt, order)
    routed, keys = run.decide_keys()
    python = sorted(run.python_rows, key=lambda r: int(r[ROW]))
    backend.register_arrow(PYTHON, _result_table(spec, python))
    path = Path(out)
    final = run.final()
    if path.suffix.lower() == ".parquet":
        backend.write(final, path, "parquet")
    else:
        with TableWriter(path, result_columns(spec), allow=(".jsonl",)) as writer:
            for batch in backend.arrow_batches(final, 65536):
                writer.write(batch.to_pydict())
    summary = Summary(rows=rows, routed=routed, keys=keys)
    written = _tally(summary, path)
    summary.seconds = time.perf_counter() - start
    if written != rows:
        raise LostRows(f"{path}: {written} result rows for {rows} input rows")
    return summary


def _tally(summary: Summary, path: Path) -> int:
    """Counts by recommendation and invalid rows, read back from the written result; its row count."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        scan = "read_parquet(?)" if path.suffix.lower() == ".parquet" else "read_json(?, format = 'newline_delimited')"
        rows = con.execute(
            f"SELECT {RECOMMENDATION}, count(*) AS n, count({ERROR}) AS bad FROM {scan} GROUP BY ALL", [str(path)]
        ).fetchall()
    finally:
        con.close()
    for rec, n, bad in rows:
        if rec is not None:
            summary.by_recommendation[rec] += n
        summary.invalid += bad
    return sum(n for _, n, _ in rows)
