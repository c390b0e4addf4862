"""The routing key: rows with one key get one exact decision, so the engine decides each key once.

The exact engine (:mod:`crs_model.completion`) decides an open row by filling in its absent
inputs and evaluating, three-valued, the formulas a decision reads on each completion: the
guards along the walk, the flag conditions and required outputs of the outcomes it may reach,
the always-reported outputs and the consistency constraints (its *sites*), and the definitions
they read. Three facts make most of a row irrelevant to that search:

* **Known stays known.** A formula the row already knows keeps that value in every completion
  (three-valued evaluation is sound), so only its value can matter, never its inputs.
* **Only the reachable is read.** A completion's walk takes only edges whose guard is not
  false on the row (and, at a ``first`` node, none after a guard the row knows true), so it
  visits only nodes and reaches only outcomes *reachable* on the row's own three-valued values:
  the other guards, flags and outputs are never evaluated.
* **Cells stand for values.** The engine reads a numeric input only through comparisons with
  constants and with other inputs of its comparison group (else the input is *opaque*), so the
  cell of a known numeric input (where it lies among the constants of its group, and against
  each known partner) stands for its value; bool and enum inputs are their values.

A site is *live* on a row when it is relevant (its node reachable, its outcome reachable) and
unknown; a definition is live when a live formula reads it and it is unknown. The key records
the value of every relevant guard and constraint (``t``/``f``/``?``), whether each relevant
flag condition and output is known (``k``/``?``), the value of
each definition a live formula reads, and, for each input a live formula reads, its cell, its
value or ``~`` when absent. Everything else is left out, absent or not: no completion fills it
in, no explanation blames it, no formula the search evaluates changes with it. So two valid
rows with one key reach the same outcomes, flags, output knowledge and deciding sets on their
completions (the argument the completion module's cache rests on,
:meth:`~crs_model.completion.Completer._cell`, extended to whole rows). A known output's value
and a known flag are never taken from the key's decision: the row's own SQL values are used.

An opaque input read only by reported outputs (the weight, read by the dose) is keyed by its
cell among the constants it is compared with, and its raw value only on a row where an output
that reads it is unknown (then the engine may settle that output from the value).

Reachability, relevance and liveness are columns the query computes once per row (one common
table expression per level of the graph and of the definitions, in dependency order); the key
reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from sqlglot import exp

from crs_model.completion import Scope, build_scope
from crs_model.expr import Call, Expr, names, walk
from crs_model.index import SiteKind
from crs_model.model import HitPolicy, ReportMode, Spec
from crs_model.sql.expr_sql import column, double, is_null, text, to_sql
from crs_model.types import Base

SEPARATOR = "\x1f"  # ASCII unit separator: in no enum value, number or marker
ABSENT = "~"
PREFIX = "crs__r__"  # the routing columns: formulas, reachability, relevance, liveness


def _point(p: Fraction | int | float) -> exp.Expr:
    return double(exp.Literal.number(repr(float(p))))


def _cell(x: exp.Expr, points: tuple[Fraction | int, ...]) -> exp.Expr:
    """``2 * (points below x) + (1 if x is a point)``: one integer per cell of the cut line."""
    terms: list[exp.Expr] = [
        exp.case()
        .when(exp.GT(this=x.copy(), expression=_point(p)), exp.Literal.number(2))
        .when(exp.EQ(this=x.copy(), expression=_point(p)), exp.Literal.number(1))
        .else_(exp.Literal.number(0))
        for p in points
    ]
    if not terms:
        return exp.Literal.number(0)
    total: exp.Expr = terms[0]
    for t in terms[1:]:
        total = exp.Add(this=total, expression=t)
    return total


def _sign(x: exp.Expr, y: exp.Expr) -> exp.Expr:
    return (
        exp.case()
        .when(exp.GT(this=x.copy(), expression=y.copy()), exp.Literal.string("+"))
        .when(exp.LT(this=x.copy(), expression=y.copy()), exp.Literal.string("-"))
        .when(exp.EQ(this=x.copy(), expression=y.copy()), exp.Literal.string("="))
        .else_(exp.Literal.string(ABSENT))
    )


def _output_readers(spec: Spec) -> dict[str, list[str]]:
    """Per input, the reported outputs whose formula reads it (through definitions)."""
    defs = spec.index.definitions
    out: dict[str, list[str]] = {}
    for name in spec.outputs:
        site = defs.get(name)
        for inp in site.inputs if site is not None else (name,):
            out.setdefault(inp, []).append(name)
    return out


def _value(spec: Spec, scope: Scope, name: str, readers: dict[str, list[str]]) -> exp.Expr:
    """What the key records of a known input: its value, or the cell standing for it."""
    v = spec.variables[name]
    x = column(name)
    base = v.type.base
    if base is Base.BOOL:
        return exp.case().when(x, exp.Literal.string("t")).else_(exp.Literal.string("f"))
    if base is Base.ENUM:
        return x
    if name in scope.grid:
        part = text(_cell(x, scope.grid[name]))
        for partner in scope.group.get(name, ()):
            part = exp.func("CONCAT", part, exp.Literal.string(":"), _sign(x, column(partner)))
        return part
    output_sites = {s.element for s in spec.index.sites if s.kind is SiteKind.OUTPUT}
    if set(scope.opaque.get(name, ())) <= output_sites and name not in scope.group:
        cut = text(_cell(x, tuple(c for c, _ in scope.cuts.get(name, ()))))
        unknown = [is_null(column(o)) for o in readers.get(name, [])]
        if not unknown:
            return cut
        raw = exp.case().when(exp.or_(*unknown), text(x.copy()))
        return exp.func("CONCAT", cut, exp.Literal.string("="), exp.func("COALESCE", raw, exp.Literal.string("")))
    return text(x)  # opaque: the value itself


def _code(c: exp.Expr, kind: str, relevant: exp.Expr | None) -> exp.Expr:
    """What the key records of a relevant site's value: ``t``/``f``/``?`` (kind ``value``) or
    ``k``/``?`` (kind ``known``); ``-`` where the site is not relevant."""
    if kind == "value":
        code = exp.case().when(c, exp.Literal.string("t")).when(exp.not_(c.copy()), exp.Literal.string("f"))
    else:
        code = exp.case().when(exp.not_(is_null(c)), exp.Literal.string("k"))
    value = exp.func("COALESCE", code, exp.Literal.string("?"))
    if relevant is None:
        return value
    return exp.case().when(relevant.copy(), value).else_(exp.Literal.string("-"))


def _direct(spec: Spec, ast: Expr) -> tuple[frozenset[str], frozenset[str]]:
    """The inputs and the definitions ``ast`` names (every input and definition if it reads the
    decision itself, ``has_action``/``has_flag``: then nothing is left out of the key)."""
    defs = spec.index.definitions
    if any(isinstance(n, Call) and n.func in ("has_action", "has_flag") for n in walk(ast)):
        return frozenset(spec.variables), frozenset(defs)
    read = names(ast)
    return frozenset(n for n in read if n in spec.variables), frozenset(n for n in read if n in defs)


@dataclass(slots=True)
class _Site:
    """One formula the search evaluates: the column of its value, how the key records it
    (``value``: t/f/?, a guard or a constraint; ``known``: k/?, a flag condition or a reported
    output, whose known value the row keeps), what it names, and when it is relevant."""

    column: str
    kind: str
    inputs: frozenset[str]
    definitions: frozenset[str]
    relevant: exp.Expr | None  # None: on every row
    live: str = ""  # the column saying it is relevant and unknown


@dataclass(slots=True)
class RoutingColumns:
    """What the routing key needs: column groups to add to the query in order (each group one
    common table expression, reading only earlier groups), and the key over those columns."""

    groups: list[list[tuple[str, exp.Expr]]] = field(default_factory=list)
    key: exp.Expr | None = None
    # per outcome and flag with a condition, the column of the condition's three-valued value
    flags: dict[tuple[str, str], str] = field(default_factory=dict)


def _or(parts: Sequence[exp.Expr]) -> exp.Expr:
    return exp.or_(*parts) if parts else exp.false()


def _true(c: exp.Expr) -> exp.Expr:
    """The condition ``c`` is known true (unknown reads as no)."""
    return exp.func("COALESCE", c, exp.false())


def _not_false(c: exp.Expr) -> exp.Expr:
    """The condition ``c`` is not known false (unknown reads as yes)."""
    return exp.func("COALESCE", c, exp.true())


@dataclass(slots=True)
class _Formulas:
    """The flag conditions and constraints, one column per distinct formula: ``flags`` per outcome
    and flag, the column of its condition; ``constraints``, the constraints' columns; ``asts`` and
    ``sql``, each column's formula and its SQL, in order."""

    flags: dict[tuple[str, str], str] = field(default_factory=dict)
    constraints: set[str] = field(default_factory=set)
    asts: dict[str, Expr] = field(default_factory=dict)
    sql: dict[str, exp.Expr] = field(default_factory=dict)


def _formulas(spec: Spec) -> _Formulas:
    out = _Formulas()
    by_text: dict[str, str] = {}

    def column_of(ast: Expr) -> str:
        sql = to_sql(ast, spec.symbols)
        col = by_text.get(sql.sql())
        if col is None:
            col = by_text[sql.sql()] = f"{PREFIX}f{len(by_text)}"
            out.asts[col], out.sql[col] = ast, sql
        return col

    for oid, o in spec.outcomes.items():
        for f in o.flags:
            if f.when is not None:
                out.flags[(oid, f.id)] = column_of(f.when.ast)
    out.constraints = {column_of(c.formula.ast) for c in spec.constraints}
    return out


def flag_columns(spec: Spec) -> dict[tuple[str, str], str]:
    """Per outcome and flag with a condition, the routing column of the condition's value (the
    routing query reports it on each ``needs_engine`` row)."""
    return _formulas(spec).flags


def routing_columns(
    spec: Spec, reachable: Sequence[str], guard_column: Callable[[str, int], str], scope: Scope | None = None
) -> RoutingColumns:
    """The routing key of a row and the columns it reads, for a query whose guard columns are
    ``guard_column(node, k)`` for the nodes ``reachable`` (post-order: each after its targets)."""
    scope = scope if scope is not None else build_scope(spec)
    out = RoutingColumns()
    defs = spec.index.definitions
    # 1. the flag conditions and constraints, once per distinct formula
    formulas = _formulas(spec)
    out.flags = formulas.flags
    flag_of: dict[str, list[str]] = {}  # formula column -> the outcomes whose flag it is
    for (oid, _), col in out.flags.items():
        flag_of.setdefault(col, []).append(oid)
    constraint_cols = formulas.constraints
    if formulas.sql:
        out.groups.append(list(formulas.sql.items()))
    # 2. which nodes a completion's walk can visit, and which outcomes it can reach (entry first)
    visit = {nid: f"{PREFIX}v_{nid}" for nid in reachable}
    reach = {oid: f"{PREFIX}o_{oid}" for oid in spec.outcomes}
    into: dict[str, list[exp.Expr]] = {}
    depth: dict[str, int] = {}  # a node's column reads its parents': one group per depth from the entry
    levels: dict[int, list[tuple[str, exp.Expr]]] = {}
    guard_rel: dict[tuple[str, int], exp.Expr] = {}
    for nid in reversed(reachable):  # parents before children
        node = spec.nodes[nid]
        level = depth.get(nid, 0)
        levels.setdefault(level, []).append((visit[nid], exp.true() if nid == spec.entry else _or(into.get(nid, []))))
        earlier: list[exp.Expr] = []
        for k, e in enumerate(node.edges):
            g = column(guard_column(nid, k))
            rel = exp.and_(column(visit[nid]), *(exp.not_(_true(x)) for x in earlier))
            guard_rel[(nid, k)] = rel
            into.setdefault(e.target, []).append(exp.and_(rel.copy(), _not_false(g)))
            depth[e.target] = max(depth.get(e.target, 0), level + 1)
            if node.hit_policy is HitPolicy.FIRST:
                earlier.append(g)
    out.groups.extend(levels[d] for d in sorted(levels))
    if spec.entry in spec.outcomes:
        into.setdefault(spec.entry, []).append(exp.true())
    out.groups.append([(reach[oid], _or(into.get(oid, []))) for oid in spec.outcomes])
    # 3. the sites and when each is relevant
    sites: list[_Site] = []
    for nid in reachable:
        for k, e in enumerate(spec.nodes[nid].edges):
            sites.append(_Site(guard_column(nid, k), "value", *_direct(spec, e.guard.ast), guard_rel[(nid, k)]))
    for col, ast in formulas.asts.items():
        # a constraint limits every completion; a flag condition matters where its outcome is reachable
        relevant = None if col in constraint_cols else _or([column(reach[o]) for o in flag_of[col]])
        # a known flag is taken from the row itself (as a known output is): only whether it is known
        kind = "value" if col in constraint_cols else "known"
        sites.append(_Site(col, kind, *_direct(spec, ast), relevant))
    for name, ro in spec.outputs.items():
        listing = [column(reach[oid]) for oid, o in spec.outcomes.items() if name in o.outputs]
        relevant = None if ro.report is ReportMode.ALWAYS else _or(listing)
        ins, ds = (frozenset(), frozenset({name})) if name in defs else (frozenset({name}), frozenset())
        sites.append(_Site(name, "known", ins, ds, relevant))
    live: list[tuple[str, exp.Expr]] = []
    for i, s in enumerate(sites):
        s.live = f"{PREFIX}l{i}"
        unknown = is_null(column(s.column))
        live.append((s.live, unknown if s.relevant is None else exp.and_(s.relevant.copy(), unknown)))
    out.groups.append(live)
    # 4. the definitions a live formula reads, readers first: needed (read by a live formula), live
    readers: dict[str, list[str]] = {}  # a definition or input -> the live columns of formulas naming it
    for s in sites:
        for n in (*s.definitions, *s.inputs):
            readers.setdefault(n, []).append(s.live)
    needed_def: dict[str, str] = {}
    after: dict[str, int] = {}  # a definition's columns read its readers': one group per distance from the sites
    by_level: dict[int, list[tuple[str, exp.Expr]]] = {}
    for name in reversed(spec.index.definition_order):
        if name not in readers:
            continue  # no site reads it, not even through other definitions
        need = f"{PREFIX}n_{name}"
        needed_def[name] = need
        alive = f"{PREFIX}l_{name}"
        cond = _or([column(c) for c in readers[name]])
        level = after.get(name, 0)
        by_level.setdefault(level, []).extend([(need, cond), (alive, exp.and_(cond.copy(), is_null(column(name))))])
        ins, ds = _direct(spec, defs[name].ast)
        for n in (*ds, *ins):
            readers.setdefault(n, []).append(alive)
        for d in ds:
            after[d] = max(after.get(d, 0), level + 1)
    out.groups.extend(by_level[d] for d in sorted(by_level))
    # 5. the key
    codes = [_code(column(s.column), s.kind, s.relevant) for s in sites]
    parts: list[exp.Expr] = [exp.func("CONCAT", *codes) if len(codes) > 1 else codes[0]] if codes else []
    for name in spec.index.definition_order:
        if name in needed_def:
            value = exp.func("COALESCE", text(column(name)), exp.Literal.string("?"))
            parts.append(exp.case().when(column(needed_def[name]), value).else_(exp.Literal.string("")))
    outputs = _output_readers(spec)
    for name in spec.variables:
        if name not in readers:
            continue  # nothing the search evaluates reads it
        value = (
            exp.case().when(is_null(column(name)), exp.Literal.string(ABSENT)).else_(_value(spec, scope, name, outputs))
        )
        parts.append(exp.case().when(_or([column(c) for c in readers[name]]), value).else_(exp.Literal.string("")))
    out.key = exp.ConcatWs(expressions=[exp.Literal.string(SEPARATOR), *parts])
    return out
