"""The SQL backend: the spec compiled to one query (sqlglot builds it, per dialect).

Imported only by ``crs-model sql`` and the cohort tools: ``import crs_model`` never loads sqlglot.
"""

from __future__ import annotations

from collections.abc import Sequence

from crs_model.model import Spec
from crs_model.sql.expr_sql import SqlUnsupported, to_sql
from crs_model.sql.query import compile_query

DIALECTS = ("duckdb", "spark", "postgres", "bigquery")


def query_text(spec: Spec, dialect: str = "duckdb", table: str = "patients", keys: Sequence[str] = ()) -> str:
    """The decision query as SQL text of ``dialect`` (one of :data:`DIALECTS`), pretty-printed."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect {dialect!r} is not one of {', '.join(DIALECTS)}")
    return compile_query(spec, table, keys).sql(dialect=dialect, pretty=True)


__all__ = ["DIALECTS", "SqlUnsupported", "compile_query", "query_text", "to_sql"]
