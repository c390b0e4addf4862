"""Read a cohort (Parquet, CSV or JSONL: a file, a folder or a glob) as bounded batches of patients.

Parquet and CSV are scanned by DuckDB and handed over as Arrow record batches, so memory is
bounded by the batch size, not the table. A column that is not an input of the spec is an
error naming it (a misspelt column read as "always absent" would silently change decisions),
and so is a Parquet column whose type cannot hold its input. CSV is read as text and each cell
converted by its input's type; a cell that does not convert reaches the validator as text, so the
row's error names the field and the value. JSONL is parsed line by line with the patient-file
parser: no schema, so an unknown key is that row's error. Row numbers run over the files in
sorted path order.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crs_model.cohort.columns import Column, Kind, input_columns
from crs_model.errors import InputFileError, PatientError
from crs_model.hints import did_you_mean
from crs_model.model import Spec

FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
DEFAULT_BATCH_ROWS = 8192
MAX_LINE_BYTES = 1024 * 1024  # one JSONL snapshot, as one patient file


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that is not a patient object at all (a JSONL line that is not JSON): its message."""

    message: str


Row = dict[str, Any] | BadRow


def resolve(source: str) -> tuple[str, list[Path]]:
    """The format and the sorted files of ``source`` (a file, a folder of one format, or a glob)."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FORMATS)
        if not files:
            raise InputFileError(source, f"the folder holds no {', '.join(FORMATS)} file")
    elif path.exists():
        files = [path]
    elif glob.has_magic(source):
        files = sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
        if not files:
            raise InputFileError(source, "no file matches the pattern")
    else:
        raise InputFileError(source, "no such file or folder")
    kinds = {FORMATS.get(p.suffix.lower()) for p in files}
    if None in kinds:
        bad = next(p for p in files if p.suffix.lower() not in FORMATS)
        raise InputFileError(str(bad), f"unknown cohort format {bad.suffix!r} (expected {', '.join(FORMATS)})")
    if len(kinds) > 1:
        raise InputFileError(source, f"mixed formats ({', '.join(sorted(k for k in kinds if k))}): give one")
    for p in files:
        if not p.is_file():
            raise InputFileError(str(p), "not a regular file")
    return kinds.pop() or "", files


def read_batches(spec: Spec, source: str, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[list[Row]]:
    """The patients of ``source`` in batches of at most ``batch_rows`` rows (columns checked first)."""
    fmt, files = resolve(source)
    columns = {c.name: c for c in input_columns(spec)}
    if fmt == "jsonl":
        for f in files:
            yield from _jsonl(f, batch_rows)
        return
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        rels = [(f, _relation(con, fmt, f, columns)) for f in files]  # every header checked before any row
        for f, (rel, converters) in rels:
            try:
                for batch in rel.to_arrow_reader(batch_rows):
                    names = batch.schema.names
                    cols = [batch.column(i).to_pylist() for i in range(len(names))]
                    if converters:
                        cols = [
                            [conv(x) for x in col] if conv else col for col, conv in zip(cols, converters, strict=True)
                        ]
                    yield [dict(zip(names, vals, strict=True)) for vals in zip(*cols, strict=True)]
            except duckdb.Error as exc:
                raise InputFileError(str(f), str(exc).splitlines()[0]) from None
    finally:
        con.close()


_Converter = Callable[[Any], Any] | None


def check_files(
    spec: Spec, fmt: str, files: Sequence[Path], *, ignore: frozenset[str] = frozenset()
) -> list[list[str]]:
    """Check every Parquet/CSV file's columns as :func:`read_batches` does (an unknown column or a type that
    cannot hold its input is an :class:`InputFileError`); each file's columns, in its order. Columns named in
    ``ignore`` (inputs of a newer spec, when an older one decides the same file) are neither checked nor listed."""
    import duckdb

    columns = {c.name: c for c in input_columns(spec)}
    con = duckdb.connect(":memory:")
    try:
        return [[n for n in _relation(con, fmt, f, columns, ignore)[0].columns if n not in ignore] for f in files]
    finally:
        con.close()


def csv_converter(kind: Kind) -> Callable[[Any], Any]:
    """How a CSV cell of an input of ``kind`` is read (what the validator then sees)."""
    conv = _CSV[kind]
    assert conv is not None  # every input kind has one (only result lists have none)
    return conv


def jsonl_batches(f: Path, batch_rows: int) -> Iterator[list[Row]]:
    """The lines of one JSONL file as patients (or :class:`BadRow`), in batches."""
    return _jsonl(f, batch_rows)


def _relation(
    con: Any, fmt: str, f: Path, columns: dict[str, Column], ignore: frozenset[str] = frozenset()
) -> tuple[Any, list[_Converter]]:
    import duckdb

    try:
        rel = con.read_parquet(str(f)) if fmt == "parquet" else con.read_csv(str(f), header=True, all_varchar=True)
    except duckdb.Error as exc:
        raise InputFileError(str(f), str(exc).splitlines()[0]) from None
    typed = [(n, t) for n, t in zip(rel.columns, rel.types, strict=True) if n not in ignore]
    names: list[str] = [n for n, _ in typed]
    unknown = [n for n in names if n not in columns]
    if unknown:
        first = unknown[0]
        raise InputFileError(
            str(f),
            f"column{'s' if len(unknown) > 1 else ''} {', '.join(repr(n) for n in unknown)} "
            f"{'are' if len(unknown) > 1 else 'is'} not an input of the spec{did_you_mean(first, list(columns))}",
        )
    if fmt == "csv":
        return rel, [_CSV[columns[n].kind] for n in names]
    casts = []
    for n, t in typed:
        kind, type_id = columns[n].kind, str(t.id)
        if type_id not in _PARQUET_TYPES[kind] and type_id != "null":
            expected = {Kind.BOOL: "boolean", Kind.INT: "integer", Kind.REAL: "numeric", Kind.TEXT: "text"}[kind]
            raise InputFileError(str(f), f"column {n!r} has type {t}; input {n!r} needs a {expected} column")
        cast = kind is Kind.REAL and type_id in ("decimal", "float")  # exact decimals and floats as doubles
        casts.append(f'CAST("{n}" AS DOUBLE) AS "{n}"' if cast else f'"{n}"')
    if any(c.startswith("CAST") for c in casts):
        rel = rel.select(", ".join(casts))
    return rel, []


_INTS = frozenset({"tinyint", "smallint", "integer", "bigint", "utinyint", "usmallint", "uinteger", "ubigint"})
_PARQUET_TYPES = {
    Kind.BOOL: frozenset({"boolean"}),
    Kind.INT: _INTS | {"hugeint", "uhugeint"},
    Kind.REAL: _INTS | {"hugeint", "uhugeint", "float", "double", "decimal"},
    Kind.TEXT: frozenset({"varchar", "enum"}),
    Kind.TEXT_LIST: frozenset(),
}


def _csv_bool(x: str | None) -> Any:
    if x is None or x == "":
        return None
    low = x.strip().lower()
    return True if low == "true" else False if low == "false" else x


def _csv_int(x: str | None) -> Any:
    if x is None or x == "":
        return None
    try:
        return int(x)
    except ValueError:
        return x


def _csv_real(x: str | None) -> Any:
    if x is None or x == "":
        return None
    try:
        return int(x)  # an integer cell stays an integer, as JSON's 70 does
    except ValueError:
        pass
    try:
        return float(x)
    except ValueError:
        return x


def _csv_text(x: str | None) -> Any:
    return None if x is None or x == "" else x


_CSV: dict[Kind, _Converter] = {
    Kind.BOOL: _csv_bool,
    Kind.INT: _csv_int,
    Kind.REAL: _csv_real,
    Kind.TEXT: _csv_text,
    Kind.TEXT_LIST: None,
}


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for k, v in pairs:
        if k in d:
            raise PatientError(k, f"key '{k}' appears twice in the object")
        d[k] = v
    return d


def _parse(text: str) -> Any:
    """One snapshot, read as a patient file is: NaN/Infinity reach the validator, a repeated key is an error."""
    return json.loads(text, object_pairs_hook=_object, parse_constant=float)


def _jsonl(f: Path, batch_rows: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    try:
        with open(f, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if len(raw) > MAX_LINE_BYTES:
                    batch.append(BadRow(f"{f}:{lineno}: line longer than {MAX_LINE_BYTES} bytes"))
                else:
                    try:
                        batch.append(_parse(raw.decode("utf-8")))
                    except UnicodeDecodeError as exc:
                        batch.append(BadRow(f"{f}:{lineno}: not UTF-8 text (byte at offset {exc.start})"))
                    except json.JSONDecodeError as exc:
                        batch.append(BadRow(f"{f}:{lineno}:{exc.colno}: invalid JSON: {exc.msg}"))
                    except PatientError as exc:  # a repeated key
                        batch.append(BadRow(f"{f}:{lineno}: {exc.message}"))
                    except (ValueError, RecursionError) as exc:  # an over-long integer, nesting too deep
                        batch.append(BadRow(f"{f}:{lineno}: invalid JSON: {exc or 'nested too deeply'}"))
                if len(batch) >= batch_rows:
                    yield batch
                    batch = []
    except OSError as exc:
        raise InputFileError(str(f), exc.strerror or str(exc)) from None
    if batch:
        yield batch


__all__: Sequence[str] = ("BadRow", "check_files", "csv_converter", "jsonl_batches", "read_batches", "resolve")
