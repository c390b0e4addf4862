"""Write a cohort table in batches: Parquet (pyarrow, streamed row groups), JSONL or CSV.

A table is written to a temporary file beside the target and renamed into place when closed,
so a failed run never leaves a half-written result under the requested name.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from crs_model.cohort.columns import Column, Kind
from crs_model.errors import OutputFileError

SUFFIXES = (".parquet", ".jsonl", ".csv")

Columns = Mapping[str, Sequence[Any]]  # one list of values per column name, all of one length


def arrow_schema(columns: Sequence[Column]) -> Any:
    """The pyarrow schema of a table of ``columns``."""
    import pyarrow as pa

    types = {
        Kind.BOOL: pa.bool_(),
        Kind.INT: pa.int64(),
        Kind.REAL: pa.float64(),
        Kind.TEXT: pa.string(),
        Kind.TEXT_LIST: pa.list_(pa.string()),
    }
    return pa.schema([pa.field(c.name, types[c.kind]) for c in columns])


class TableWriter:
    """A table of ``columns`` written to ``path`` (format by suffix); use as a context manager."""

    def __init__(self, path: str | Path, columns: Sequence[Column], *, allow: tuple[str, ...] = SUFFIXES) -> None:
        self.path = Path(path)
        self.columns = tuple(columns)
        self.format = self.path.suffix.lower()
        if self.format not in allow:
            raise OutputFileError(str(path), f"unknown table format {self.format!r} (expected {', '.join(allow)})")
        if self.format == ".csv" and any(c.kind is Kind.TEXT_LIST for c in self.columns):
            raise OutputFileError(str(path), "CSV cannot hold list columns (use .parquet or .jsonl)")
        self.rows = 0
        self._tmp = self.path.with_name(f".{self.path.name}.part")
        self._text: TextIO | None = None
        self._parquet: Any = None
        self._csv: Any = None
        try:
            if self.format == ".parquet":
                import pyarrow.parquet as pq

                self._schema = arrow_schema(self.columns)
                self._parquet = pq.ParquetWriter(str(self._tmp), self._schema)
            else:
                self._text = open(self._tmp, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in close()
                if self.format == ".csv":
                    self._csv = csv.writer(self._text, lineterminator="\n")
                    self._csv.writerow([c.name for c in self.columns])
        except OSError as exc:
            raise OutputFileError(str(path), exc.strerror or str(exc)) from None

    def write(self, batch: Columns) -> None:
        """Append one batch (a list of values per column)."""
        names = [c.name for c in self.columns]
        n = len(batch[names[0]])
        if self._parquet is not None:
            import pyarrow as pa

            self._parquet.write_table(pa.Table.from_pydict({k: batch[k] for k in names}, schema=self._schema))
        elif self._csv is not None:
            self._csv.writerows(zip(*(_csv_column(batch[c.name], c.kind) for c in self.columns), strict=True))
        else:
            assert self._text is not None
            dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
            cols = [batch[k] for k in names]
            self._text.writelines(dumps(dict(zip(names, vals, strict=True))) + "\n" for vals in zip(*cols, strict=True))
        self.rows += n

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self._parquet is not None:
            self._parquet.close()
        if self._text is not None:
            self._text.close()
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        """Drop the partial file (after an error)."""
        if self._parquet is not None:
            self._parquet.close()
        if self._text is not None:
            self._text.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> TableWriter:
        """The writer itself."""
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        """Close on success; discard the partial file on an error."""
        if exc_type is None:
            self.close()
        else:
            self.discard()


def _csv_column(values: Sequence[Any], kind: Kind) -> list[Any]:
    """CSV cells: NULL as an empty cell, booleans as ``true``/``false`` (what the CSV reader reads back)."""
    if kind is Kind.BOOL:
        return ["" if v is None else ("true" if v else "false") for v in values]
    if kind is Kind.REAL:
        return ["" if v is None else repr(float(v)) for v in values]
    return ["" if v is None else v for v in values]


def count_rows(path: Path) -> int:
    """The number of data rows in a written table (the result check: output rows = input rows)."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(str(path)).metadata.num_rows)
    with open(path, encoding="utf-8") as f:
        lines = sum(1 for _ in f)
    return lines - 1 if path.suffix.lower() == ".csv" else lines
