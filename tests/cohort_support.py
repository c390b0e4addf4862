"""Shared by the cohort engine tests: a generated cohort on disk, and a column-by-column comparison."""

# ruff: noqa: S608 - SQL text is built from spec names; file paths are bound parameters

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from crs_model.cohort.columns import input_columns, result_columns
from crs_model.cohort.generate import generate
from crs_model.cohort.writers import TableWriter
from crs_model.model import Spec

FAULTY = sorted((Path(__file__).resolve().parent.parent / "specs" / "examples" / "faulty").glob("*.yaml"))


def generate_cohort(spec: Spec, path: Path, n: int, seed: int, **kw: Any) -> Path:
    """``n`` generated rows of ``spec``'s inputs as a Parquet file (seeded)."""
    with TableWriter(path, input_columns(spec)) as w:
        for batch in generate(spec, n, seed=seed, **kw):
            w.write(batch)
    return path


def mismatches(spec: Spec, py: Path, sql: Path, source: str | None = None) -> list[str]:
    """Every row where a result column differs (at most 10, with the inputs when ``source`` is Parquet)."""
    con = duckdb.connect()
    names = [c.name for c in result_columns(spec) if c.name != "row"]
    differs = " OR ".join(f'a."{n}" IS DISTINCT FROM b."{n}"' for n in names)
    counts = con.execute(
        "SELECT (SELECT count(*) FROM read_parquet(?)), (SELECT count(*) FROM read_parquet(?))", [str(py), str(sql)]
    ).fetchone()
    assert counts is not None
    assert counts[0] == counts[1], f"row counts differ: {py.name} {counts[0]}, {sql.name} {counts[1]}"
    pairs = ", ".join(f'a."{n}", b."{n}"' for n in names)
    rows = con.execute(
        f"SELECT a.row, {pairs} FROM read_parquet(?) a "
        f"FULL JOIN read_parquet(?) b ON a.row = b.row WHERE a.row IS NULL OR b.row IS NULL OR {differs} "
        "ORDER BY 1 LIMIT 10",
        [str(py), str(sql)],
    ).fetchall()
    out = []
    for r in rows:
        diff = {n: (r[1 + 2 * i], r[2 + 2 * i]) for i, n in enumerate(names) if r[1 + 2 * i] != r[2 + 2 * i]}
        inputs = ""
        if source is not None and source.endswith(".parquet"):
            inputs = str(con.execute(f"SELECT * FROM read_parquet(?) LIMIT 1 OFFSET {int(r[0])}", [source]).fetchone())
        out.append(f"row {r[0]}: ({py.name}, {sql.name}) {diff} inputs {inputs}")
    con.close()
    return out


def loadable_faulty_specs() -> list[Path]:
    """The planted-fault specs that load (the others plant load errors)."""
    from crs_model import load_spec
    from crs_model.errors import CrsModelError

    out = []
    for path in FAULTY:
        try:
            load_spec(path)
        except CrsModelError:
            continue
        out.append(path)
    return out


def generated_rows(spec: Spec, n: int, seed: int, **kw: Any) -> list[dict[str, Any]]:
    """``n`` generated rows of ``spec`` (input name -> value, None = absent), seeded."""
    rows: list[dict[str, Any]] = []
    for batch in generate(spec, n, seed=seed, **kw):
        rows.extend(dict(zip(batch, vals, strict=True)) for vals in zip(*batch.values(), strict=True))
    return rows


def write_rows(spec: Spec, path: Path, rows: list[dict[str, Any]]) -> Path:
    """``rows`` as a cohort table of ``spec``'s inputs at ``path`` (format by suffix)."""
    cols = input_columns(spec)
    with TableWriter(path, cols) as w:
        w.write({c.name: [r.get(c.name) for r in rows] for c in cols})
    return path
