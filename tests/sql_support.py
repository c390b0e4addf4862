"""Shared by the SQL tests: patients into an embedded DuckDB table, the query's rows out."""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from crs_model.model import Spec
from crs_model.sql import query_text
from crs_model.sql.query import INPUT_TYPES
from crs_model.testing._strategies import patient_decoder


def generated(spec: Spec, n: int, absent: float, seed: int) -> list[dict[str, Any]]:
    """``n`` valid patients (each input absent with probability ``absent``), seeded."""
    size, decode = patient_decoder(spec, absent_probability=absent)
    rnd = random.Random(seed)  # noqa: S311 - test data, not a secret
    return [dict(decode(rnd.randbytes(size))) for _ in range(n)]


def run_query(spec: Spec, patients: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The query's rows on ``patients`` in an in-memory DuckDB (column ``row_id`` = list index), by row."""
    con = duckdb.connect()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "patients.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for i, p in enumerate(patients):
                fh.write(json.dumps({"row_id": i, **{n: p.get(n) for n in spec.variables}}) + "\n")
        columns = {"row_id": "BIGINT", **{n: INPUT_TYPES[v.type.base].name for n, v in spec.variables.items()}}
        con.execute("CREATE TABLE patients AS SELECT * FROM read_json(?, columns = ?)", [str(path), columns])
    cur = con.execute(query_text(spec, "duckdb", keys=["row_id"]))
    heads = [d[0] for d in cur.description]
    rows = [dict(zip(heads, r, strict=True)) for r in cur.fetchall()]
    con.close()
    return sorted(rows, key=lambda r: int(r["row_id"]))
