"""What a cohort run means, in numbers: the audit table (inputs joined to results) and its aggregations.

:func:`build_audit` joins a cohort's input rows to the run's result rows on ``row`` in a DuckDB
connection; :func:`impact` computes the report's numbers from it with set-based SQL (GROUP BYs,
one ``unnest`` of the ``missing`` lists), never a Python loop over rows, so a million-row audit
takes seconds. Every name (recommendation codes, enumerated inputs, reported outputs) comes from
the spec. With ``compare`` (the audit of an older spec's run on the same input), :class:`Change`
counts the rows whose decision differs and gives a transition matrix and example rows.
"""

# ruff: noqa: S608 - SQL text is built from spec names through quote() and paths through _literal(); values are bound
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crs_model.cohort.columns import (
    ERROR,
    FLAGS,
    MISSING,
    OUTCOME,
    RECOMMENDATION,
    ROW,
    Kind,
    input_columns,
    result_columns,
)
from crs_model.cohort.readers import resolve
from crs_model.errors import CrsModelError, InputFileError
from crs_model.model import INSUFFICIENT_DATA, OutcomeClass, Spec
from crs_model.types import Base

MAX_LEVELS = 20  # a reported output is counted by value when it takes at most this many distinct values
MAX_EXAMPLES = 20
TOP_ERRORS = 10
FIELD_PATTERN = r"^([A-Za-z_][A-Za-z0-9_]*)="  # a domain error names its field first
# a broken constraint lists the fields it reads last: "inconsistent input (id): message [f=v, g=w]"
CONSTRAINT_FIELD_PATTERN = r"\[([A-Za-z_][A-Za-z0-9_]*)=[^\[]*\]$"

_SQL_TYPE = {Kind.BOOL: "BOOLEAN", Kind.INT: "BIGINT", Kind.REAL: "DOUBLE", Kind.TEXT: "VARCHAR"}
# NO_CONDITION: the spec's "nothing to do" codes; INSUFFICIENT: no decision at all (reported as its own share)
_QUIET = frozenset({OutcomeClass.NO_CONDITION, OutcomeClass.INSUFFICIENT})

Value = bool | int | float | str | None


class AuditError(CrsModelError):
    """The result table does not match the input (a different row count, or rows that do not join).

    Re-run ``crs-model cohort`` on the same input; a result from another input cannot be audited.
    """


@dataclass(frozen=True, slots=True)
class Counted:
    """Counts by value of one column (``None``: absent), in the spec's order of values."""

    name: str
    counts: tuple[tuple[Value, int], ...]


@dataclass(frozen=True, slots=True)
class Example:
    """One row whose decision changed: its number, its known inputs and the old and new decision."""

    row: int
    inputs: tuple[tuple[str, Value], ...]
    old_recommendation: str | None  # None: the row is invalid for that spec
    new_recommendation: str | None
    old_outcome: str | None
    new_outcome: str | None
    changed: tuple[str, ...]  # which parts differ: recommendation, outcome, output names, flags


@dataclass(frozen=True, slots=True)
class Change:
    """How the decisions of an older spec's run on the same rows differ from this run's."""

    changed: int
    by_part: tuple[tuple[str, int], ...]  # recommendation, outcome, each shared output, flags
    transitions: tuple[tuple[str | None, str | None, int], ...]  # (old, new, rows) over changed rows
    examples: tuple[Example, ...]


@dataclass(frozen=True, slots=True)
class Impact:
    """The numbers of the impact report (plain values; the HTML writer words them)."""

    total: int
    invalid: int
    error_fields: tuple[tuple[str, int], ...]  # most frequent first
    by_recommendation: tuple[tuple[str, int], ...]  # every declared code, then insufficient_data
    by_outcome: tuple[tuple[str, int], ...]  # every outcome of the spec, in declared order
    alert_codes: tuple[str, ...]
    alerts: int
    insufficient: int
    by_input: tuple[Counted, ...]  # each enumerated input, over decided rows
    by_output: tuple[Counted, ...]  # each reported output with a small finite range, over decided rows
    skipped_outputs: tuple[str, ...]  # reported outputs not counted by value (real, or too many values)
    missing: tuple[tuple[str, int], ...]  # (input, decided rows whose ``missing`` lists it), most first
    change: Change | None

    @property
    def decided(self) -> int:
        """Rows with a decision (valid input)."""
        return self.total - self.invalid

    @property
    def alerts_per_1000(self) -> float:
        """Alerts per 1,000 snapshots (all rows, invalid ones included)."""
        return 1000.0 * self.alerts / self.total if self.total else 0.0


def default_alerts(spec: Spec) -> tuple[str, ...]:
    """The alerting codes when none are given: every declared code whose class is not ``no_condition``."""
    return tuple(code for code, rc in spec.recommendations.items() if rc.cls not in _QUIET)


def inputs_that_matter(new: Spec, old: Spec) -> tuple[str, ...]:
    """The inputs of ``new`` whose role changed: declared by ``new`` only, or compared with other thresholds."""
    t_new, t_old = new.index.thresholds, old.index.thresholds
    return tuple(n for n in new.variables if n not in old.variables or t_new.get(n) != t_old.get(n))


def quote(name: str) -> str:
    """A SQL identifier (names come from the spec, so they are quoted, never trusted)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(path: str | Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _input_select(present: Sequence[str], kinds: dict[str, Kind], text: bool) -> str:
    """Every input, typed as the spec declares it: the file's column, or a typed NULL when absent.

    ``text``: the columns are CSV text; a cell that does not convert is that row's error in the
    result and reads as absent here.
    """
    cols = []
    for name, kind in kinds.items():
        t, q = _SQL_TYPE[kind], quote(name)
        if name not in present:
            cols.append(f"CAST(NULL AS {t}) AS {q}")
        elif text:
            cell = f"NULLIF({q}, '')" if kind is Kind.TEXT else f"NULLIF(TRIM({q}), '')"
            cols.append(f"TRY_CAST({cell} AS {t}) AS {q}")
        else:  # the reader checked the column's type can hold the input: one type across files
            cols.append(f"CAST({q} AS {t}) AS {q}")
    return ", ".join(cols)


def _columns_of(con: Any, relation: str) -> list[str]:
    return [str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def build_audit(con: Any, spec: Spec, input_source: str, result_path: Path, name: str = "crs_audit") -> None:
    """Create view ``name`` in ``con``: every result row joined to its input row (all inputs) on ``row``.

    Rows are numbered as :func:`crs_model.cohort.readers.read_batches` numbers them: 0-based over
    the files in sorted path order, in file order within a file (Parquet by ``file_row_number``,
    CSV and JSONL by their order in a table copied in file order).
    """
    fmt, files = resolve(input_source)
    kinds = {c.name: c.kind for c in input_columns(spec)}
    clash = sorted(set(kinds) & {ROW, RECOMMENDATION, OUTCOME, FLAGS, MISSING, ERROR, *spec.outputs})
    if clash:
        raise AuditError(f"input {', '.join(clash)} has the name of a result column")
    parts = []
    offset = 0
    for i, f in enumerate(files):
        src = quote(f"_{name}_in{i}")
        if fmt == "parquet":
            scan = f"read_parquet({_literal(f)}, file_row_number = true)"
            con.execute(f"CREATE OR REPLACE TEMP VIEW {src} AS SELECT * FROM {scan}")
            numbered = f"file_row_number + {offset}"
        elif fmt == "csv":
            scan = f"read_csv({_literal(f)}, header = true, all_varchar = true)"
            con.execute(f"CREATE OR REPLACE TEMP TABLE {src} AS SELECT * FROM {scan}")  # rowid = file order
            numbered = f"rowid + {offset}"
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {src} AS SELECT * FROM ({_jsonl_lines(f, kinds)})")
            numbered = f"rowid + {offset}"
        present = [c for c in _columns_of(con, src) if c in kinds]
        parts.append(f"SELECT {numbered} AS {ROW}, {_input_select(present, kinds, fmt == 'csv')} FROM {src}")
        offset += int(con.execute(f"SELECT count(*) FROM {src}").fetchone()[0])
    inputs = quote(f"_{name}_inputs")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {inputs} AS " + " UNION ALL ".join(parts))
    suffix = result_path.suffix.lower()
    if suffix == ".parquet":
        result = f"read_parquet({_literal(result_path)})"
    elif suffix == ".jsonl":
        result = f"read_json({_literal(result_path)}, format = 'newline_delimited', columns = {_json_columns(spec)})"
    else:
        raise InputFileError(str(result_path), f"unknown result format {suffix!r} (expected .parquet or .jsonl)")
    results = quote(f"_{name}_results")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {results} AS SELECT * FROM {result}")
    n_results, lo, hi = con.execute(f"SELECT count(*), min({ROW}), max({ROW}) FROM {results}").fetchone()
    if n_results != offset or (offset and (lo, hi) != (0, offset - 1)):
        raise AuditError(f"{result_path}: {n_results} result rows for {offset} input rows in {input_source}")
    cols = ", ".join(f"i.{quote(k)}" for k in kinds)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS SELECT r.*{', ' + cols if cols else ''} "
        f"FROM {results} r LEFT JOIN {inputs} i USING ({ROW})"
    )


def _json_columns(spec: Spec) -> str:
    types = {**_SQL_TYPE, Kind.TEXT_LIST: "VARCHAR[]"}
    return "{" + ", ".join(f"{_literal(c.name)}: '{types[c.kind]}'" for c in result_columns(spec)) + "}"


def _jsonl_lines(f: Path, kinds: dict[str, Kind]) -> str:
    """One row per line of a JSONL file (as the reader counts them), each input extracted by its type.

    A line that is not JSON, or a value of the wrong type, reads as absent here: that row's
    result holds the error.
    """
    cols = []
    for name, kind in kinds.items():
        path = _literal("$." + quote(name))
        if kind is Kind.TEXT:
            cols.append(f"TRY(json_extract_string(line, {path})) AS {quote(name)}")
        else:
            cols.append(f"TRY_CAST(TRY(json_extract(line, {path})) AS {_SQL_TYPE[kind]}) AS {quote(name)}")
    picked = ", ".join(cols) if cols else "1 AS _empty"
    # one final newline ends the last line; an empty file has no line
    lines = "string_split(regexp_replace(content, '\\n$', ''), chr(10))"
    return f"SELECT {picked} FROM (SELECT unnest({lines}) AS line FROM read_text({_literal(f)}) WHERE content <> '')"


def _pairs(con: Any, sql: str) -> list[tuple[Any, int]]:
    return [(r[0], int(r[1])) for r in con.execute(sql).fetchall()]


def impact(
    con: Any, spec: Spec, name: str = "crs_audit", compare: str | None = None, *, alerts: Sequence[str] | None = None
) -> Impact:
    """The report's numbers from audit view ``name`` (and, with ``compare``, the older run's audit view).

    ``alerts``: the recommendation codes that count as an alert (default :func:`default_alerts`).
    """
    t = quote(name)
    codes = default_alerts(spec) if alerts is None else tuple(dict.fromkeys(alerts))
    total, invalid, insufficient = con.execute(
        f"SELECT count(*), count(*) FILTER ({ERROR} IS NOT NULL), count(*) FILTER ({RECOMMENDATION} = ?) FROM {t}",
        [INSUFFICIENT_DATA],
    ).fetchone()
    first = f"nullif(regexp_extract({ERROR}, '{FIELD_PATTERN}', 1), '')"
    listed = f"nullif(regexp_extract({ERROR}, '{CONSTRAINT_FIELD_PATTERN}', 1), '')"
    field = f"coalesce({first}, {listed}, left({ERROR}, 80))"
    errors = _pairs(
        con,
        f"SELECT {field} AS f, count(*) AS n FROM {t} WHERE {ERROR} IS NOT NULL "
        f"GROUP BY f ORDER BY n DESC, f LIMIT {TOP_ERRORS}",
    )
    recs = dict(_pairs(con, f"SELECT {RECOMMENDATION}, count(*) FROM {t} WHERE {ERROR} IS NULL GROUP BY 1"))
    by_rec = tuple((c, recs.get(c, 0)) for c in (*spec.recommendations, INSUFFICIENT_DATA))
    outs = dict(_pairs(con, f"SELECT {OUTCOME}, count(*) FROM {t} WHERE {ERROR} IS NULL GROUP BY 1"))
    by_outcome = tuple((o, outs.get(o, 0)) for o in spec.outcomes)
    counted, skipped = _by_output(con, spec, t)
    return Impact(
        total=int(total),
        invalid=int(invalid),
        error_fields=tuple((str(f), n) for f, n in errors),
        by_recommendation=by_rec,
        by_outcome=by_outcome,
        alert_codes=codes,
        alerts=sum(n for c, n in by_rec if c in set(codes)),
        insufficient=int(insufficient),
        by_input=tuple(_by_input(con, spec, t)),
        by_output=tuple(counted),
        skipped_outputs=tuple(skipped),
        missing=tuple(_missing(con, t)),
        change=None if compare is None else _change(con, spec, name, compare),
    )


def _by_input(con: Any, spec: Spec, t: str) -> list[Counted]:
    out = []
    for n, v in spec.variables.items():
        if v.type.base is not Base.ENUM:
            continue
        got = dict(_pairs(con, f"SELECT {quote(n)}, count(*) FROM {t} WHERE {ERROR} IS NULL GROUP BY 1"))
        order: list[Value] = [*v.type.values, None]
        out.append(Counted(n, tuple((x, got.get(x, 0)) for x in order)))
    return out


def _missing(con: Any, t: str) -> list[tuple[str, int]]:
    sql = f"SELECT m, count(*) AS n FROM (SELECT unnest({MISSING}) AS m FROM {t} WHERE {ERROR} IS NULL) "
    return [(str(m), n) for m, n in _pairs(con, sql + "GROUP BY m ORDER BY n DESC, m")]


def _by_output(con: Any, spec: Spec, t: str) -> tuple[list[Counted], list[str]]:
    """Each reported output of a finite type (bool, enum, int) that took at most :data:`MAX_LEVELS` values."""
    finite = [n for n in spec.outputs if spec.symbols[n].type.base in (Base.BOOL, Base.ENUM, Base.INT)]
    levels: list[int] = []
    if finite:
        distinct = ", ".join(f"count(DISTINCT {quote(n)})" for n in finite)
        levels = [int(x) for x in con.execute(f"SELECT {distinct} FROM {t} WHERE {ERROR} IS NULL").fetchone()]
    counted, skipped = [], [n for n in spec.outputs if n not in finite]
    for n, k in zip(finite, levels, strict=True):
        if k > MAX_LEVELS:
            skipped.append(n)
            continue
        got = _pairs(
            con, f"SELECT {quote(n)}, count(*) FROM {t} WHERE {ERROR} IS NULL GROUP BY 1 ORDER BY 1 NULLS LAST"
        )
        values = spec.symbols[n].type.values
        if values:  # an enum: in declared order
            rank = {v: i for i, v in enumerate(values)}
            got.sort(key=lambda p: rank.get(p[0], len(rank)) if p[0] is not None else len(rank) + 1)
        counted.append(Counted(n, tuple(got)))
    return counted, [n for n in spec.outputs if n in skipped]


def _change(con: Any, spec: Spec, name: str, compare: str) -> Change:
    """The rows whose decision differs between audit views ``compare`` (old) and ``name`` (joined on ``row``)."""
    t, old = quote(name), quote(compare)
    old_columns = set(_columns_of(con, old))
    shared = [n for n in spec.outputs if n in old_columns]  # an output one spec lacks is not compared
    parts = [
        (RECOMMENDATION, f"n.{RECOMMENDATION} IS DISTINCT FROM o.{RECOMMENDATION}"),
        (OUTCOME, f"n.{OUTCOME} IS DISTINCT FROM o.{OUTCOME}"),
        *((n, f"n.{quote(n)} IS DISTINCT FROM o.{quote(n)}") for n in shared),
        (FLAGS, f"list_sort(n.{FLAGS}) IS DISTINCT FROM list_sort(o.{FLAGS})"),
    ]
    flags = ", ".join(f"({cond}) AS _c{i}" for i, (_, cond) in enumerate(parts))
    any_change = " OR ".join(f"_c{i}" for i in range(len(parts)))
    changes = quote(f"_{name}_changes")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {changes} AS SELECT * FROM ("  # joined once, read three times
        f"SELECT n.{ROW} AS {ROW}, o.{RECOMMENDATION} AS _old_rec, n.{RECOMMENDATION} AS _new_rec, "
        f"o.{OUTCOME} AS _old_out, n.{OUTCOME} AS _new_out, {flags} "
        f"FROM {t} n JOIN {old} o USING ({ROW})) WHERE {any_change}"
    )
    counts = con.execute(
        f"SELECT count(*), {', '.join(f'count(*) FILTER (_c{i})' for i in range(len(parts)))} FROM {changes}"
    ).fetchone()
    transitions = con.execute(
        f"SELECT _old_rec, _new_rec, count(*) AS n FROM {changes} GROUP BY ALL "
        "ORDER BY n DESC, _old_rec NULLS FIRST, _new_rec NULLS FIRST"
    ).fetchall()
    names = [c.name for c in input_columns(spec)]
    picked = ", ".join(f"a.{quote(n)}" for n in names)
    # the first rows of each transition in turn, so the examples show every kind of change
    rows = con.execute(
        f"SELECT c.*{', ' + picked if picked else ''} FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY _old_rec, _new_rec ORDER BY {ROW}) AS _rank FROM {changes}) c "
        f"JOIN {t} a USING ({ROW}) ORDER BY _rank, {ROW} LIMIT {MAX_EXAMPLES}"
    ).fetchall()
    examples = []
    for r in rows:
        row, old_rec, new_rec, old_out, new_out = r[:5]
        diff = r[5 : 5 + len(parts)]
        values = r[6 + len(parts) :]
        examples.append(
            Example(
                row=int(row),
                inputs=tuple((k, v) for k, v in zip(names, values, strict=True) if v is not None),
                old_recommendation=old_rec,
                new_recommendation=new_rec,
                old_outcome=old_out,
                new_outcome=new_out,
                changed=tuple(p for (p, _), d in zip(parts, diff, strict=True) if d),
            )
        )
    return Change(
        changed=int(counts[0]),
        by_part=tuple((p, int(n)) for (p, _), n in zip(parts, counts[1:], strict=True)),
        transitions=tuple((a, b, int(n)) for a, b, n in transitions),
        examples=tuple(examples),
    )
