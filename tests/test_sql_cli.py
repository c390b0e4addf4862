"""``crs-model sql``: the query prints for each dialect, deterministically, and runs as printed."""

from __future__ import annotations

import io
import subprocess
import sys

import duckdb
import pytest
import sqlglot

from crs_model import load_spec
from crs_model.cli import main
from crs_model.commands.sql import DIALECTS
from crs_model.sql import DIALECTS as SQL_DIALECTS


def _sql(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(["sql", *argv], out, err)
    return rc, out.getvalue(), err.getvalue()


def test_dialect_lists_agree() -> None:
    assert DIALECTS == SQL_DIALECTS


@pytest.mark.parametrize("dialect", DIALECTS)
def test_prints_each_dialect_deterministically(dialect: str) -> None:
    rc, text, err = _sql("--dialect", dialect, "--key", "row_id")
    assert rc == 0, err
    assert _sql("--dialect", dialect, "--key", "row_id")[1] == text
    tree = sqlglot.parse_one(text.rstrip().rstrip(";"), read=dialect)  # valid in its own dialect
    assert isinstance(tree, sqlglot.exp.Select)
    names = [s.alias_or_name for s in tree.selects]
    assert names[:3] == ["row_id", "recommendation", "outcome"]
    assert names[-6:] == ["flags", "missing", "error", "decided", "needs_engine", "defect"]


def test_printed_duckdb_query_runs() -> None:
    """The printed text, run as is on a table of one patient with every input absent."""
    rc, text, _ = _sql("--table", "snap")
    assert rc == 0
    spec = load_spec()
    con = duckdb.connect()
    con.execute("CREATE TABLE snap AS SELECT " + ", ".join(f'NULL AS "{n}"' for n in spec.variables))
    rows = con.execute(text).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("insufficient_data", None)]


@pytest.mark.parametrize(("argv", "needle"), [(["--table", "a;b"], "--table 'a;b'"), (["--key", "a.b"], "--key 'a.b'")])
def test_bad_names_exit_2(argv: list[str], needle: str) -> None:
    rc, text, err = _sql(*argv)
    assert (rc, text) == (2, "")
    assert needle in err


def test_import_crs_model_loads_no_sql_library() -> None:
    code = "import sys, crs_model; print(sorted(m for m in ('sqlglot', 'duckdb') if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"
