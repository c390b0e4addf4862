"""The cohort pipeline's default backend: embedded DuckDB (nothing to start).

The database lives in a temporary folder that is removed on close, with a memory limit, so a
table larger than memory spills to disk instead of growing the process: memory is bounded by
``memory_limit`` plus the small tables the engine decides in Python.
"""

# ruff: noqa: S608 - SQL text is built from spec names quoted by sqlglot; file paths are bound parameters

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlglot import exp

from crs_model.cohort.backend import CHECK, RAW, SRC
from crs_model.errors import CrsModelError, InputFileError, OutputFileError

DEFAULT_MEMORY_LIMIT = "2GB"


class BackendError(CrsModelError):
    """The SQL backend cannot start as asked (a bad memory limit, an unreachable Spark master)."""


def _canonical(kind: str, cell: exp.Expr) -> exp.Expr:
    """Whether a non-empty CSV text cell reads the same in SQL and in the Python converters."""
    if kind == "BOOLEAN":
        return exp.In(this=cell, expressions=[exp.Literal.string(s) for s in ("true", "false")])
    pattern = r"-?[0-9]+" if kind == "BIGINT" else r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?"
    return exp.func("REGEXP_FULL_MATCH", cell, exp.Literal.string(pattern))


class DuckDBBackend:
    """A private DuckDB database for one cohort run; use as a context manager."""

    dialect = "duckdb"

    def __init__(self, *, memory_limit: str = DEFAULT_MEMORY_LIMIT, threads: int | None = None) -> None:
        import duckdb

        self._dir = tempfile.mkdtemp(prefix="crs-cohort-")
        self.con: Any = duckdb.connect(os.path.join(self._dir, "cohort.duckdb"))
        try:
            self.con.execute("SET memory_limit = ?", [memory_limit])
        except duckdb.Error as exc:
            self.close()
            raise BackendError(f"--memory-limit {memory_limit!r}: {str(exc).splitlines()[0]}") from None
        self.con.execute("SET temp_directory = ?", [os.path.join(self._dir, "spill")])
        self.con.execute("SET preserve_insertion_order = true")
        if threads is not None:
            self.con.execute(f"SET threads = {int(threads)}")

    def close(self) -> None:
        """Close the database and remove its folder."""
        try:
            self.con.close()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> DuckDBBackend:
        """The backend itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close (and remove the database) whatever happened."""
        self.close()

    # -- SqlBackend
    def _sql(self, e: exp.Expr) -> str:
        return e.sql(dialect=self.dialect)

    def register_input(self, files: list[Path], fmt: str, columns: dict[str, str], present: list[list[str]]) -> int:
        """:data:`SRC` over ``files`` (already checked by :func:`crs_model.cohort.readers.check_files`)."""
        import duckdb

        try:
            if fmt == "parquet":
                return self._parquet(files, columns, {n for cols in present for n in cols})
            return self._csv(files, columns, present)
        except duckdb.Error as exc:
            raise InputFileError(str(files[0]), str(exc).splitlines()[0]) from None

    def _parquet(self, files: list[Path], columns: dict[str, str], present: set[str]) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        offsets, total = [], 0
        for f in files:
            offsets.append(total)
            total += int(pq.ParquetFile(str(f)).metadata.num_rows)
        self.register_arrow(
            "crs_files", pa.table({"filename": [str(f) for f in files], "crs__offset": pa.array(offsets, pa.int64())})
        )
        listed = exp.Array(expressions=[exp.Literal.string(str(f)) for f in files])
        scan = exp.func(
            "READ_PARQUET",
            listed,
            exp.EQ(this=exp.column("file_row_number"), expression=exp.true()),
            exp.EQ(this=exp.column("filename"), expression=exp.true()),
            exp.EQ(this=exp.column("union_by_name"), expression=exp.true()),
        )
        row = exp.Add(this=exp.column("crs__offset"), expression=exp.column("file_row_number"))
        raw: list[exp.Expr] = [exp.alias_(exp.cast(row, exp.DataType.Type.BIGINT), "row")]
        raw += [exp.column(n, quoted=True) for n in columns if n in present]
        body = exp.select(*raw).from_(exp.alias_(scan, "s")).join("crs_files", using=["filename"])
        self.execute(exp.Create(this=exp.to_table(RAW), kind="VIEW", expression=body))
        cols: list[exp.Expr] = [exp.column("row")]
        for name, sqltype in columns.items():
            value = exp.cast(exp.column(name, quoted=True) if name in present else exp.Null(), sqltype)
            cols.append(exp.alias_(value, name, quoted=True))
        cols.append(exp.alias_(exp.false(), CHECK))
        self.execute(exp.Create(this=exp.to_table(SRC), kind="VIEW", expression=exp.select(*cols).from_(RAW)))
        return total

    def _csv(self, files: list[Path], columns: dict[str, str], present: list[list[str]]) -> int:
        names = list(columns)
        quoted = [exp.to_identifier(n, quoted=True).sql(dialect=self.dialect) for n in names]
        self.con.execute(f"CREATE TABLE crs_cells ({', '.join(q + ' VARCHAR' for q in quoted)})")
        scan = "read_csv(?, header = true, all_varchar = true)"
        for f, header in zip(files, present, strict=True):  # file by file: row ids follow insertion order
            cells = [q if n in header else "NULL" for n, q in zip(names, quoted, strict=True)]
            self.con.execute(f"INSERT INTO crs_cells SELECT {', '.join(cells)} FROM {scan}", [str(f)])
        self.con.execute(f"CREATE VIEW {RAW} AS SELECT rowid AS row, * FROM crs_cells")
        cols: list[exp.Expr] = [exp.column("row")]
        noncanonical: list[exp.Expr] = []
        for name, sqltype in columns.items():
            cell = exp.func("NULLIF", exp.column(name, quoted=True), exp.Literal.string(""))
            if sqltype == "VARCHAR":
                cols.append(exp.alias_(cell, name, quoted=True))
                continue
            typed = exp.TryCast(this=cell, to=exp.DataType.build(sqltype))
            cols.append(exp.alias_(typed, name, quoted=True))
            # a cell SQL and Python may read differently ('+5', ' 5', 'TRUE', '1_000', a 30-digit integer
            # BIGINT cannot hold): Python decides the row from its text
            unread = exp.or_(
                exp.not_(_canonical(sqltype, cell.copy())), exp.Is(this=typed.copy(), expression=exp.Null())
            )
            noncanonical.append(exp.and_(exp.not_(exp.Is(this=cell.copy(), expression=exp.Null())), exp.paren(unread)))
        check = exp.func("COALESCE", exp.or_(*noncanonical), exp.false()) if noncanonical else exp.false()
        cols.append(exp.alias_(check, CHECK))
        self.execute(exp.Create(this=exp.to_table(SRC), kind="VIEW", expression=exp.select(*cols).from_(RAW)))
        return int(self.con.execute("SELECT count(*) FROM crs_cells").fetchone()[0])

    def execute(self, statement: exp.Expr) -> None:
        """Run ``statement``."""
        self.con.execute(self._sql(statement))

    def materialize(self, name: str, query: exp.Expr) -> None:
        """``CREATE TABLE name AS query``."""
        self.execute(exp.Create(this=exp.to_table(name), kind="TABLE", expression=query))

    def to_arrow(self, query: exp.Expr) -> Any:
        """The result as a pyarrow Table."""
        # a cursor of its own (as arrow_batches): a query on the connection itself is refused while an
        # earlier statement's result there is not fetched to the end
        cursor = self.con.cursor()
        try:
            return cursor.sql(self._sql(query)).to_arrow_table()
        finally:
            cursor.close()

    def register_arrow(self, name: str, table: Any) -> None:
        """``table`` as a DuckDB table (copied, so the Python object may go)."""
        self.con.register("crs__arrow", table)
        try:
            self.con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM crs__arrow')
        finally:
            self.con.unregister("crs__arrow")

    def append_arrow(self, name: str, table: Any) -> None:
        """Append ``table``'s rows to the table ``name`` (created by the first call)."""
        self.con.register("crs__arrow", table)
        try:
            exists = self.con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
            ).fetchone()[0]
            verb = f'INSERT INTO "{name}"' if exists else f'CREATE TABLE "{name}" AS'
            self.con.execute(f"{verb} SELECT * FROM crs__arrow")
        finally:
            self.con.unregister("crs__arrow")

    def write(self, query: exp.Expr, path: Path, fmt: str) -> None:
        """``COPY (query) TO`` a temporary file beside ``path``, then renamed into place."""
        import duckdb

        tmp = path.with_name(f".{path.name}.part")
        try:
            self.con.execute(f"COPY ({self._sql(query)}) TO ? (FORMAT parquet, COMPRESSION zstd)", [str(tmp)])
            os.replace(tmp, path)
        except (duckdb.Error, OSError) as exc:
            tmp.unlink(missing_ok=True)
            raise OutputFileError(str(path), str(exc).splitlines()[0]) from None

    def arrow_batches(self, query: exp.Expr, rows: int) -> Iterator[Any]:
        """The result, streamed as pyarrow RecordBatches of about ``rows`` rows."""
        # a cursor of its own: the caller writes to the database between batches
        reader = self.con.cursor().sql(self._sql(query)).to_arrow_reader(rows)
        yield from reader
