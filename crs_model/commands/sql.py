"""``sql``: print the decision query for a warehouse (the SQL backend, :mod:`crs_model.sql`)."""

from __future__ import annotations

import argparse
import re
from typing import Any, TextIO

from crs_model.commands.common import add_spec_argument, load_or_report

DIALECTS = ("duckdb", "spark", "postgres", "bigquery")  # crs_model.sql.DIALECTS; here so --help loads no sqlglot
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}", re.ASCII)


def register(sub: Any) -> None:
    """Add the ``sql`` subcommand to ``sub``."""
    p = sub.add_parser(
        "sql",
        help="print the spec as one SQL query (one row per patient in, one decision per row out)",
        description="Compile the spec to one SQL query over a table with one row per patient and one column per "
        "input (NULL = absent). Per row: recommendation, outcome, each reported output, flags, decided and "
        "needs_engine (rows the exact Python engine must decide; docs/sql.md). Deterministic output.",
    )
    add_spec_argument(p, positional=True)
    p.add_argument("--dialect", choices=DIALECTS, default="duckdb", help="SQL dialect (default: duckdb)")
    p.add_argument("--table", default="patients", metavar="NAME", help="input table, [catalog.][schema.]name")
    p.add_argument(
        "--key", action="append", default=[], metavar="COLUMN", help="a column passed through first (repeatable)"
    )
    p.set_defaults(handler=cmd_sql)


def cmd_sql(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``crs-model sql``: print the decision query."""
    for what, value in [("--table", args.table), *(("--key", k) for k in args.key)]:
        if not _NAME.fullmatch(value) or (what == "--key" and "." in value):
            err.write(f"crs-model: error: {what} {value!r} is not a plain SQL name (letters, digits, _)\n")
            return 2
    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    from crs_model.sql import SqlUnsupported, query_text  # here: sqlglot loads only for this command

    try:
        text = query_text(spec, args.dialect, args.table, args.key)
    except SqlUnsupported as exc:
        err.write(f"crs-model: error: {exc}\n")
        return 2
    out.write(text + ";\n")
    return 0
