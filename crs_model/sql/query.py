"""The whole decision as ONE SQL query: one row per patient in, one decision per row out.

The query is a chain of common table expressions, each adding one column to the row:

1. ``crs_input``: the key columns and each input cast to its type (NULL = absent);
2. one per definition, dependencies first (so no formula is pasted twice);
3. one per decision node, from the outcomes back to the entry: the node's answer for the
   row, given its targets' answers — an outcome id, ``?node`` (the engine stops there with
   ``insufficient_data``) or ``!gap:node`` / ``!overlap:node`` (the engine raises
   :class:`~crs_model.errors.SpecDefectError`);
4. the final select: recommendation, outcome, the reported outputs, flags, ``decided``,
   ``needs_engine`` and ``defect`` (docs/sql.md, "Output columns").

Every node's answer is computed on every row (guards never raise in SQL: a zero divisor is
NULL), but a node's answer is read only through the edge the engine would take to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlglot import exp

from crs_model.expr import names
from crs_model.model import INSUFFICIENT_DATA, HitPolicy, ReportMode, Spec
from crs_model.sql.checks import error_column
from crs_model.sql.expr_sql import column, double, is_null, paren, to_sql
from crs_model.types import Base

INPUT_TYPES = {
    Base.BOOL: exp.DataType.Type.BOOLEAN,
    Base.INT: exp.DataType.Type.BIGINT,
    Base.REAL: exp.DataType.Type.DOUBLE,
    Base.ENUM: exp.DataType.Type.VARCHAR,
}
OUTCOME = "outcome"
DEFECT = "defect"
DECIDED = "decided"
NEEDS_ENGINE = "needs_engine"
FLAGS = "flags"
MISSING = "missing"
ERROR = "error"
KEY = "crs__key"


def _node_column(nid: str) -> str:
    return f"crs__node__{nid}"


def _post_order(spec: Spec) -> list[str]:
    """The decision nodes reachable from the entry, each after every node it leads to."""
    out: list[str] = []
    seen: set[str] = set()
    stack: list[tuple[str, bool]] = [(spec.entry, False)]
    while stack:
        nid, expanded = stack.pop()
        if expanded:
            out.append(nid)
            continue
        if nid in seen or nid not in spec.nodes:
            continue
        seen.add(nid)
        stack.append((nid, True))
        stack.extend((e.target, False) for e in reversed(spec.nodes[nid].edges))
    return out


def _answer(spec: Spec, target: str) -> exp.Expr:
    """What the row's decision is once it reaches ``target`` (an outcome's id or a node's column)."""
    return column(_node_column(target)) if target in spec.nodes else exp.Literal.string(target)


def _guard_column(nid: str, k: int) -> str:
    return f"crs__g__{nid}__{k}"


def _node(spec: Spec, nid: str) -> exp.Expr:
    """A node's answer, with its hit policy exactly as the engine walks it (guards are columns)."""
    node = spec.nodes[nid]
    guards = [(column(_guard_column(nid, k)), _answer(spec, e.target)) for k, e in enumerate(node.edges)]
    case = exp.case()
    if node.hit_policy is HitPolicy.FIRST:
        # edge by edge: the first true guard is taken; an unknown one before it stops the walk there
        for k, (g, answer) in enumerate(guards):
            case = case.when(g, answer).when(is_null(g.copy()), exp.Literal.string(f"?{nid}:{k}"))
    else:
        # unique: two true guards are an overlap even beside an unknown one (the engine raises
        # on the second true guard); else any unknown guard stops the walk
        trues = [exp.case().when(g.copy(), exp.Literal.number(1)).else_(exp.Literal.number(0)) for g, _ in guards]
        count: exp.Expr = trues[0]
        for t in trues[1:]:
            count = exp.Add(this=count, expression=t)
        case = case.when(
            exp.GT(this=paren(count), expression=exp.Literal.number(1)), exp.Literal.string(f"!overlap:{nid}")
        )
        unknown = exp.or_(*(is_null(g.copy()) for g, _ in guards))
        case = case.when(unknown, exp.Literal.string(f"?{nid}"))
        for g, answer in guards:
            case = case.when(g.copy(), answer)
    return case.else_(exp.Literal.string(f"!gap:{nid}"))


def _reads(spec: Spec, names_: Iterable[str]) -> list[str]:
    """The inputs the named symbols read (through definitions), in declaration order."""
    defs = spec.index.definitions
    found: set[str] = set()
    for n in names_:
        if n in spec.variables:
            found.add(n)
        elif n in defs:
            found.update(defs[n].inputs)
    return [n for n in spec.variables if n in found]


def _names_list(items: Sequence[tuple[str, exp.Expr | None]]) -> exp.Expr:
    """An array of the names whose condition holds (None: always), in the given order (a list of VARCHAR)."""
    if not items:
        return exp.cast(exp.Array(expressions=[]), exp.DataType.build("ARRAY<VARCHAR>"))
    cells = [
        exp.Literal.string(n) if cond is None else exp.case().when(cond, exp.Literal.string(n)) for n, cond in items
    ]
    var = exp.to_identifier("crs__m")
    keep = exp.Lambda(this=exp.not_(is_null(exp.column(var))), expressions=[var])
    return exp.ArrayFilter(this=exp.Array(expressions=cells), expression=keep)


def _missing(spec: Spec, route: exp.Expr) -> exp.Expr:
    """The absent inputs the open guards (or unknown required outputs) read where the walk stopped.

    A superset of the engine's three-valued ``missing`` (which keeps only a smallest set that
    explains the stop); such rows are ``needs_engine`` rows, decided exactly by the engine.
    """
    case = exp.case()
    for nid in _post_order(spec):
        node = spec.nodes[nid]
        reads = [_reads(spec, names(e.guard.ast)) for e in node.edges]
        if node.hit_policy is HitPolicy.FIRST:
            for k, inputs in enumerate(reads):
                items = [(n, is_null(column(n))) for n in inputs]
                stop = exp.EQ(this=route.copy(), expression=exp.Literal.string(f"?{nid}:{k}"))
                case = case.when(stop, _names_list(items))
        else:
            items = []
            for n in spec.variables:
                open_ = [is_null(column(_guard_column(nid, k))) for k, r in enumerate(reads) if n in r]
                if open_:
                    items.append((n, exp.and_(is_null(column(n)), exp.or_(*open_))))
            stop = exp.EQ(this=route.copy(), expression=exp.Literal.string(f"?{nid}"))
            case = case.when(stop, _names_list(items))
    for oid, o in spec.outcomes.items():
        if not o.outputs:
            continue
        items = []
        for n in spec.variables:
            open_ = [is_null(column(out)) for out in o.outputs if n in _reads(spec, [out])]
            if open_:
                items.append((n, exp.and_(is_null(column(n)), exp.or_(*open_))))
        case = case.when(exp.EQ(this=route.copy(), expression=exp.Literal.string(oid)), _names_list(items))
    return case


def _reported(spec: Spec, name: str, value: exp.Expr | None = None) -> exp.Expr:
    """An output's value (default: its column) as the decision reports it: rounded half away from
    zero to its places."""
    value = column(name) if value is None else value
    places = spec.outputs[name].precision
    if places is None:
        return value
    # via DECIMAL: ROUND on a DOUBLE rounds its binary value (2.675 -> 2.67); the engine rounds the decimal
    dec = exp.DataType.build("DECIMAL(38, 9)")
    return double(exp.func("ROUND", exp.cast(value, dec), exp.Literal.number(places)))


def _shown_in(spec: Spec, oid: str) -> list[str]:
    listed = spec.outcomes[oid].outputs
    return [n for n, ro in spec.outputs.items() if ro.report is ReportMode.ALWAYS or n in listed]


def _flags(spec: Spec, oid: str) -> exp.Expr:
    """The outcome's flags whose condition is true, in declared order (unknown ones are not shown)."""
    return _names_list(
        [(f.id, None if f.when is None else to_sql(f.when.ast, spec.symbols)) for f in spec.outcomes[oid].flags]
    )


def _open(spec: Spec, oid: str) -> exp.Expr:
    """Whether a flag's condition or a reported output is unknown on a definitive row (the exact engine refines it)."""
    parts = [is_null(to_sql(f.when.ast, spec.symbols)) for f in spec.outcomes[oid].flags if f.when is not None]
    parts += [is_null(column(n)) for n in _shown_in(spec, oid)]
    return exp.or_(*parts) if parts else exp.false()


def compile_query(
    spec: Spec,
    table: str = "patients",
    keys: Sequence[str] = (),
    *,
    order: Sequence[str] | None = None,
    routing: bool = False,
) -> exp.Expr:
    """The spec as one sqlglot query over ``table`` (one row per patient, one column per input, NULL =
    absent); ``keys`` are columns passed through first (a patient id). ``order``: the inputs in the
    table's column order (the order ``error`` checks them in). ``routing`` adds the columns the
    cohort runner routes ``needs_engine`` rows by: ``crs__key`` (:mod:`crs_model.sql.cells`) and each
    reported output's value as ``crs__value__<name>`` whatever the outcome."""
    cols: list[exp.Expr] = [column(k) for k in keys]
    cols += [
        exp.alias_(exp.cast(column(n), INPUT_TYPES[v.type.base]), n, quoted=True) for n, v in spec.variables.items()
    ]
    ctes: list[tuple[str, exp.Expr]] = [("crs_input", exp.select(*cols).from_(exp.to_table(table, quoted=True)))]

    def add(*named: tuple[str, exp.Expr]) -> None:
        prev = ctes[-1][0]
        values = [exp.alias_(value, name, quoted=True) for name, value in named]
        ctes.append((f"crs_{len(ctes)}", exp.select(exp.Star(), *values).from_(prev)))

    add((ERROR, error_column(spec, order)))
    idx = spec.index
    # one CTE per level: a definition joins the first after every definition it reads (few levels, so
    # engines that resolve each nested projection separately, as Spark's analyzer does, stay quick)
    level: dict[str, int] = {}
    by_level: dict[int, list[tuple[str, exp.Expr]]] = {}
    for name in idx.definition_order:  # dependencies first
        site = idx.definitions[name]
        level[name] = 1 + max((level[n] for n in site.names if n in level), default=-1)
        by_level.setdefault(level[name], []).append((name, to_sql(site.ast, spec.symbols)))
    for d in sorted(by_level):
        add(*by_level[d])
    reachable = _post_order(spec)
    guards = [
        (_guard_column(nid, k), to_sql(e.guard.ast, spec.symbols))
        for nid in reachable
        for k, e in enumerate(spec.nodes[nid].edges)
    ]
    if guards:
        add(*guards)  # every guard once, as a column; the nodes read them
    height: dict[str, int] = {}  # a node's answer reads its targets': one CTE per height above the outcomes
    by_height: dict[int, list[tuple[str, exp.Expr]]] = {}
    for nid in reachable:  # targets first
        height[nid] = 1 + max((height.get(e.target, -1) for e in spec.nodes[nid].edges), default=-1)
        by_height.setdefault(height[nid], []).append((_node_column(nid), _node(spec, nid)))
    for h in sorted(by_height):
        add(*by_height[h])

    key: exp.Expr | None = None
    flag_values: list[str] = []
    if routing:
        from crs_model.sql.cells import routing_columns  # the completion module's scope: only the runner needs it

        columns = routing_columns(spec, reachable, _guard_column)
        for group in columns.groups:
            add(*group)  # reachability, relevance and liveness, each group over the ones before
        key = columns.key
        flag_values = list(dict.fromkeys(columns.flags.values()))
    route = column(_node_column(spec.entry)) if spec.entry in spec.nodes else exp.Literal.string(spec.entry)
    outcome = exp.case()
    for oid, o in spec.outcomes.items():
        needs = exp.and_(*(exp.not_(is_null(column(n))) for n in o.outputs)) if o.outputs else exp.true()
        # an outcome whose required outputs are unknown stops with insufficient_data
        outcome = outcome.when(
            exp.and_(exp.EQ(this=route.copy(), expression=exp.Literal.string(oid)), needs), exp.Literal.string(oid)
        )
    valid = is_null(column(ERROR))
    add((OUTCOME, exp.case().when(valid, outcome)))
    defect = exp.case().when(
        exp.and_(valid.copy(), exp.Like(this=route.copy(), expression=exp.Literal.string("!%"))),
        exp.func("SUBSTRING", route.copy(), exp.Literal.number(2)),
    )
    add((DEFECT, defect))

    out_col, defect_col = column(OUTCOME), column(DEFECT)
    # answered: a valid row without a defect (an outcome, or insufficient_data)
    answered = exp.and_(valid.copy(), is_null(defect_col.copy()))
    recommendation = exp.case()
    for oid, o in spec.outcomes.items():
        recommendation = recommendation.when(
            exp.EQ(this=out_col.copy(), expression=exp.Literal.string(oid)), exp.Literal.string(o.recommendation)
        )
    recommendation = recommendation.when(answered.copy(), exp.Literal.string(INSUFFICIENT_DATA))
    select: list[exp.Expr] = [column(k) for k in keys]
    select += [exp.alias_(recommendation, "recommendation", quoted=True), out_col.copy()]
    for name, ro in spec.outputs.items():
        value: exp.Expr
        if ro.report is ReportMode.ALWAYS:  # also on insufficient_data
            value = exp.case().when(answered.copy(), _reported(spec, name))
        else:
            shows = [exp.Literal.string(oid) for oid, o in spec.outcomes.items() if name in o.outputs]
            value = (
                exp.case().when(exp.In(this=out_col.copy(), expressions=shows), _reported(spec, name))
                if shows
                else exp.Null()
            )
        select.append(exp.alias_(value, name, quoted=True))
    flags = exp.case()
    open_ = exp.case().when(exp.not_(valid.copy()), exp.false()).when(is_null(out_col.copy()), exp.true())
    for oid in spec.outcomes:
        is_o = exp.EQ(this=out_col.copy(), expression=exp.Literal.string(oid))
        flags = flags.when(is_o, _flags(spec, oid))
        open_ = open_.when(is_o.copy(), _open(spec, oid))
    none = exp.cast(exp.Array(expressions=[]), exp.DataType.build("ARRAY<VARCHAR>"))
    flags = flags.when(answered.copy(), none)
    missing = (
        exp.case().when(exp.not_(is_null(out_col.copy())), none.copy()).when(answered.copy(), _missing(spec, route))
    )
    decided = exp.case().when(answered.copy(), exp.not_(is_null(out_col.copy())))
    select += [
        exp.alias_(flags, FLAGS, quoted=True),
        exp.alias_(missing, MISSING, quoted=True),
        column(ERROR),
        exp.alias_(decided, DECIDED, quoted=True),
        exp.alias_(open_, NEEDS_ENGINE, quoted=True),
        defect_col.copy(),
    ]
    query = exp.select(*select).from_(ctes[-1][0])
    for name, body in ctes:
        query = query.with_(name, as_=body)
    if key is None:
        return query
    # the key only where the row goes to the engine (building it costs more than the decision); the
    # columns it reads are carried out of the last CTE renamed (a reported output's select alias
    # would hide its definition's value)
    carried = dict.fromkeys([*(c.name for c in key.find_all(exp.Column)), *spec.outputs, *flag_values])
    key = key.transform(lambda n: column(_carried(n.name)) if isinstance(n, exp.Column) else n)
    routed = [exp.alias_(exp.case().when(column(NEEDS_ENGINE), key), KEY, quoted=True)]
    routed += [
        exp.alias_(
            exp.case().when(column(NEEDS_ENGINE), _reported(spec, n, column(_carried(n)))), value_column(n), quoted=True
        )
        for n in spec.outputs
    ]
    # each flag condition's own value: a routed row keeps its known flags (the key leaves them out)
    routed += [
        exp.alias_(exp.case().when(column(NEEDS_ENGINE), column(_carried(c))), c, quoted=True) for c in flag_values
    ]
    inner = query.select(*(exp.alias_(column(n), _carried(n), quoted=True) for n in carried), append=True)
    outer = [column(c.alias_or_name) for c in select]
    return exp.select(*outer, *routed).from_(inner.subquery("crs_decided"))


def _carried(name: str) -> str:
    return f"crs__k__{name}"


def exact_flags(spec: Spec, row: str, decision: str) -> exp.Expr:
    """The flags of a routed row (table alias ``row``) given its key's exact decision (alias
    ``decision``): each flag of the decided outcome, in declared order, shown when its condition is
    true on the row, or, where the row leaves it unknown, when the decision shows it."""
    from crs_model.sql.cells import flag_columns

    columns = flag_columns(spec)
    shown = exp.column(FLAGS, table=decision, quoted=True)
    case = exp.case()
    for oid, o in spec.outcomes.items():
        if not o.flags:
            continue
        items: list[tuple[str, exp.Expr | None]] = []
        for f in o.flags:
            if f.when is None:
                items.append((f.id, None))
                continue
            own = exp.column(columns[(oid, f.id)], table=row, quoted=True)
            settled = exp.ArrayContains(this=shown.copy(), expression=exp.Literal.string(f.id))
            items.append((f.id, exp.func("COALESCE", own, settled)))
        is_o = exp.EQ(this=exp.column(OUTCOME, table=decision, quoted=True), expression=exp.Literal.string(oid))
        case = case.when(is_o, _names_list(items))
    return case.else_(shown.copy()) if case.args.get("ifs") else shown


def value_column(output: str) -> str:
    """The routing column holding ``output``'s value whatever the outcome (NULL when unknown)."""
    return f"crs__value__{output}"
