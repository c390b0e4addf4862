"""The routing key (``crs_model.sql.cells``): rows with one key share one exact decision.

The key leaves out what the exact search cannot read on a row (inputs only known formulas read,
unreachable nodes and outcomes, known flags and outputs), so rows that differ there share a key.
These tests pick such groups out of a generated cohort and check that every member still gets the
Python engine's own answer, and that the key does group rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from crs_model import load_spec  # noqa: E402
from crs_model.cohort.duck import DuckDBBackend  # noqa: E402
from crs_model.cohort.pipeline import run_sql_cohort  # noqa: E402
from crs_model.cohort.readers import read_batches  # noqa: E402
from crs_model.cohort.runner import run_cohort  # noqa: E402
from crs_model.sql.cells import flag_columns  # noqa: E402
from crs_model.sql.query import KEY, NEEDS_ENGINE, compile_query, value_column  # noqa: E402
from tests.cohort_support import generate_cohort, mismatches, write_rows  # noqa: E402

SPEC = load_spec(None)


def _routed(src: Path) -> list[dict[str, Any]]:
    """Every open valid row of ``src`` with its key, its flag conditions and its output values."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE src AS SELECT *, row_number() OVER () - 1 AS row, FALSE AS crs__check FROM read_parquet(?)",
        [str(src)],
    )
    query = compile_query(SPEC, "src", keys=["row", "crs__check"], routing=True).sql(dialect="duckdb")
    flags = sorted(set(flag_columns(SPEC).values()))
    values = [value_column(n) for n in SPEC.outputs]
    cols = ", ".join(f'"{c}"' for c in ["row", KEY, *flags, *values])
    rows = con.execute(f"SELECT {cols} FROM ({query}) WHERE {NEEDS_ENGINE} AND error IS NULL ORDER BY row").fetchall()  # noqa: S608 - spec names
    names = ["row", KEY, *flags, *values]
    return [dict(zip(names, r, strict=True)) for r in rows]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    src = generate_cohort(
        SPEC, tmp_path_factory.mktemp("key") / "c.parquet", 20_000, seed=21, absent_share=0.1, pool_size=2048
    )
    return src, _routed(src)


def test_the_key_groups_open_rows(cohort: tuple[Path, list[dict[str, Any]]]) -> None:
    _, routed = cohort
    keys = {r[KEY] for r in routed}
    assert len(routed) > 1000
    # rows that differ only where the search cannot read share their exact decision
    assert len(keys) < 0.9 * len(routed), (len(keys), len(routed))


def test_rows_sharing_a_key_keep_their_own_known_flags_and_outputs(
    cohort: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    src, routed = cohort
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in routed:
        groups.setdefault(r[KEY], []).append(r)
    own = [c for c in routed[0] if c not in ("row", KEY)]
    # the groups whose members differ in a known flag condition or output value: the decision is
    # shared, those values are not
    differing = [g for g in groups.values() if len(g) > 1 and any(len({m[c] for m in g}) > 1 for c in own)]
    assert len(differing) >= 20, len(differing)
    picked = sorted({m["row"] for g in differing[:200] for m in g})
    import pyarrow.parquet as pq

    table = pq.read_table(src).to_pylist()
    rows = [table[i] for i in picked]
    small = write_rows(SPEC, tmp_path / "shared.parquet", rows)
    py, sql = tmp_path / "py.parquet", tmp_path / "sql.parquet"
    run_cohort(SPEC, read_batches(SPEC, str(small)), py)
    with DuckDBBackend() as backend:
        summary = run_sql_cohort(SPEC, backend, str(small), sql, workers=1)
    assert summary.keys < summary.routed  # the members did share decisions here too
    bad = mismatches(SPEC, py, sql, str(small))
    assert not bad, "\n".join(bad)
