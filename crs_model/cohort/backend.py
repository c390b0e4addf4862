"""What the cohort pipeline needs from a SQL engine (DuckDB embedded, or Spark).

The pipeline (:mod:`crs_model.cohort.pipeline`) is written once against this protocol; each
backend runs the same sqlglot trees, transpiled to its dialect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from sqlglot import exp

SRC = "crs_src"  # the input rows: row, each input (typed), crs__check
RAW = "crs_raw"  # the rows as read (CSV: text cells), numbered: what the Python validator reads
CHECK = "crs__check"  # the row must be validated by Python from its raw cells (a non-canonical CSV cell)


class SqlBackend(Protocol):
    """A SQL engine the cohort pipeline runs on."""

    dialect: str

    def register_input(self, files: list[Path], fmt: str, columns: dict[str, str], present: list[list[str]]) -> int:
        """Make :data:`SRC` (``row`` = 0-based number in sorted-file then file order, each input cast to
        ``columns[name]``, missing columns NULL, and :data:`CHECK`) and :data:`RAW` over Parquet or CSV
        ``files`` (``present``: each file's columns, as checked); the number of rows the files hold,
        counted apart from the views (the lost-rows check)."""

    def materialize(self, name: str, query: exp.Expr) -> None:
        """Store ``query``'s rows as the table ``name`` (read several times afterwards)."""

    def to_arrow(self, query: exp.Expr) -> Any:
        """The rows of ``query`` as a pyarrow Table (small results only)."""

    def register_arrow(self, name: str, table: Any) -> None:
        """A pyarrow Table (small) as the table ``name``."""

    def append_arrow(self, name: str, table: Any) -> None:
        """Append a pyarrow Table's rows to the table ``name`` (created by the first call)."""

    def write(self, query: exp.Expr, path: Path, fmt: str) -> None:
        """``query``'s rows, in order, as ONE table file at ``path`` (``parquet`` or ``jsonl``), in place."""

    def arrow_batches(self, query: exp.Expr, rows: int) -> Any:
        """An iterator of pyarrow RecordBatches of ``query``'s rows, in order."""
