"""The missing-data-complete check: where every valid completion agrees, the exact engine answers.

The engine decides a partial patient by filling in each absent input with one value
per *cell* of its domain (:mod:`crs_model.completion`); that is exact for every input
:func:`~crs_model.completion.build_scope` does not call opaque, provided its cuts are
right. So the proof has two parts:

(a) *cell invariance*: for every decision formula (guard, flag condition, constraint,
    output) and every non-opaque numeric input it reads, two values of the input in
    the same cell give the formula the same three-valued value, all else equal: for
    an input of a comparison group the cell is the same side of, or equal to, every
    grid point and the same order against each known member of its group; for any
    other input the class the engine draws one value from (``Scope.cuts``: a point
    compared only with ``>=`` belongs with the values above it). The second value is a fresh constant substituted
    for the input's value. A formula is a Boolean combination of its atoms (comparisons,
    an output's number), which many formulas share, so the atoms are asked first (per
    input, in disjunctions); formula by formula only where an atom can change.
(b) *opaque inputs*: no patient whose absent inputs are opaque (or could be given no
    valid value) is ``insufficient_data`` three-valued while every valid value of the
    absent opaque inputs gives the same outcome and required outputs (a ``ForAll``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import z3

from crs_model.completion import build_scope
from crs_model.engine import Engine
from crs_model.errors import PatientError
from crs_model.exact import Exact
from crs_model.index import FormulaSite, SiteKind
from crs_model.model import Severity, Spec
from crs_model.pyeval import compile_expr
from crs_model.types import Base
from crs_model.verify.capi import mk_and, mk_not, mk_or
from crs_model.verify.search import LOCAL_CHUNK
from crs_model.verify.witness import Expect, decide
from crs_model.verify.wording import show, tv
from crs_model.verify.z3expr import Tri, Val, numeral

if TYPE_CHECKING:
    from crs_model.verify.encoding import Encoding
    from crs_model.verify.verifier import Verifier

CHECK = "missing-data-complete"


def run(v: Verifier) -> None:
    """Prove (a) cell invariance of every decision formula and (b) that no decidable patient
    rests only on opaque inputs; an info finding names each opaque input."""
    scope = build_scope(v.spec)
    _cells(v, scope.grid, scope.group, scope.cuts)
    for name, where in scope.opaque.items():
        var = v.spec.variables[name]
        v.add(
            CHECK,
            Severity.INFO,
            var.loc,
            f"{name} is outside the exact method (read in {', '.join(where)}): absent, what depends on it is "
            "decided three-valued",
            f"variable:{name}",
        )
    if scope.opaque:
        _opaque(v, tuple(scope.opaque))


# ------------------------------------------------------------------ (a) cell invariance
def _cells(
    v: Verifier,
    grid: Mapping[str, tuple[Exact, ...]],
    group: Mapping[str, tuple[str, ...]],
    cuts: Mapping[str, tuple[tuple[Exact, str], ...]],
) -> None:
    spec, enc = v.spec, v.enc
    p = enc.inputs
    sites = spec.index.of_kind(SiteKind.GUARD, SiteKind.FLAG, SiteKind.CONSTRAINT, SiteKind.OUTPUT)
    kids: dict[int, list[z3.ExprRef] | None] = {}  # the formulas' connectives, walked in z3 once
    for x in (n for n in spec.variables if n in grid):
        readers = [s for s in sites if x in s.inputs]
        if not readers:
            continue
        xv = p.number(x)
        other = z3.Real(f"{x}__cell", enc.ctx) if not xv.is_int() else z3.Int(f"{x}__cell", enc.ctx)
        cell = _same_cell(enc, x, xv, other, grid[x], group) if x in group else _same_class(enc, xv, other, cuts[x])
        same = [p.known[x], *_domain(enc, x, other), *cell]
        where = mk_and(*same)
        terms = [enc.tr.term(s.ast) for s in readers]
        # fast path: a formula is a Boolean combination of its atoms, so when no atom that reads x
        # changes within a cell, no formula does (the atoms are shared by many formulas)
        if not _any_changes(v, where, _atom_changes(terms, xv, other, kids)):
            continue
        changes: dict[int, tuple[z3.BoolRef, list[FormulaSite]]] = {}
        for s, term in zip(readers, terms, strict=True):
            changed = _changed(term, xv, other)
            changes.setdefault(changed.get_id(), (changed, []))[1].append(s)
        for changed, at in changes.values():
            if not _any_changes(v, where, [changed]):
                continue
            m = v.model([where, changed], local=True)
            if m is None:
                continue
            w = enc.witness(m)
            b = _number(m.eval(other, model_completion=True), spec.variables[x].type.base == Base.INT)
            for s in at:
                _cell_finding(v, s, x, w, b, grid[x])


def _any_changes(v: Verifier, where: z3.BoolRef, changes: Sequence[z3.BoolRef]) -> bool:
    """Whether some change can happen within a cell (disjunctions of at most LOCAL_CHUNK)."""
    return any(
        v.status(where, z3.Or(*changes[i : i + LOCAL_CHUNK]), local=True) for i in range(0, len(changes), LOCAL_CHUNK)
    )


def _atom_changes(
    terms: Sequence[Tri | Val], xv: z3.ArithRef, other: z3.ArithRef, kids: dict[int, list[z3.ExprRef] | None]
) -> list[z3.BoolRef]:
    """For each distinct atom of ``terms`` that reads ``xv``, the condition that it changes when ``other``
    replaces ``xv``: an atom is a comparison (a boolean over numbers) or a number that is a formula's value.
    ``kids`` caches each connective's operands (None for an atom) across inputs."""
    pair: list[tuple[z3.ExprRef, z3.ExprRef]] = [(xv, other)]
    stack: list[z3.ExprRef] = []
    found: list[z3.ExprRef] = []
    for t in terms:
        if isinstance(t, Tri):
            stack += [t.t, t.f]
        else:
            stack.append(t.k)
            found.append(t.v)
    seen: set[int] = set()
    while stack:
        e = stack.pop()
        key = e.get_id()
        if key in seen:
            continue
        seen.add(key)
        if key not in kids:
            operands = e.children()
            bool_op = z3.is_bool(e) and all(z3.is_bool(k) for k in operands)  # a connective (or a known flag)
            kids[key] = operands if bool_op else None
        operands_ = kids[key]
        if operands_ is None:
            found.append(e)
        else:
            stack.extend(operands_)
    out: dict[int, z3.BoolRef] = {}
    for a in found:
        a2 = _subst_term(a, pair)
        if a2.get_id() != a.get_id():
            out[a.get_id()] = a != a2
    return list(out.values())


def _domain(enc: Encoding, x: str, c: z3.ExprRef) -> list[z3.BoolRef]:
    """The domain facts of input ``x`` (bounds, enum range), said of the constant ``c`` instead."""
    pair: list[tuple[z3.ExprRef, z3.ExprRef]] = [(enc.inputs.values[x], c)]
    facts = enc.domain_facts(enc.inputs)
    return [_subst(fact, pair) for key, fact, _ in facts if key.partition(":")[2] == x]


def _same_cell(
    enc: Encoding, x: str, a: z3.ArithRef, b: z3.ArithRef, points: Sequence[Exact], group: Mapping[str, tuple[str, ...]]
) -> list[z3.BoolRef]:
    """``a`` and ``b`` in the same cell: the same order against every grid point and known group member."""
    out: list[z3.BoolRef] = []
    for g in points:
        n = numeral(g, a.is_int() and Fraction(g).denominator == 1, enc.ctx)
        out += [(a < n) == (b < n), (a == n) == (b == n)]
    for mname in group.get(x, ()):
        mv = enc.inputs.number(mname)
        out.append(z3.Implies(enc.inputs.known[mname], z3.And((a < mv) == (b < mv), (a == mv) == (b == mv))))
    return out


def _same_class(enc: Encoding, a: z3.ArithRef, b: z3.ArithRef, cuts: Sequence[tuple[Exact, str]]) -> list[z3.BoolRef]:
    """``a`` and ``b`` in the same class of an input no other input is compared with, as the engine
    draws one value from each: a cut compared only with ``>=``/``<`` ("up") puts its point with the
    values above it, one compared only with ``>``/``<=`` ("down") with those below, any other ("point")
    is a class of its own (a domain bound nothing is compared with is no cut)."""
    out: list[z3.BoolRef] = []
    for c, side in cuts:
        n = numeral(c, a.is_int() and Fraction(c).denominator == 1, enc.ctx)
        if side == "up":
            out.append((a >= n) == (b >= n))
        elif side == "down":
            out.append((a > n) == (b > n))
        else:
            out += [(a < n) == (b < n), (a == n) == (b == n)]
    return out


def _changed(term: Tri | Val, xv: z3.ArithRef, other: z3.ArithRef) -> z3.BoolRef:
    """The formula's three-valued value differs when ``other`` replaces the input's value."""
    pair: list[tuple[z3.ExprRef, z3.ExprRef]] = [(xv, other)]
    if isinstance(term, Tri):
        return mk_or(z3.Xor(term.t, _subst(term.t, pair)), z3.Xor(term.f, _subst(term.f, pair)))
    k2 = _subst(term.k, pair)
    return mk_or(z3.Xor(term.k, k2), mk_and(term.k, term.v != _subst_term(term.v, pair)))


def _number(raw: z3.ExprRef, is_int: bool) -> int | float:
    if is_int:
        assert isinstance(raw, z3.IntNumRef)
        return raw.as_long()
    assert isinstance(raw, z3.RatNumRef), "a rational model value"
    frac = raw.as_fraction()
    return int(frac) if frac.denominator == 1 else float(frac)


def _cell_finding(
    v: Verifier, s: FormulaSite, x: str, w: dict[str, Any], b: int | float, points: Sequence[Exact]
) -> None:
    a = w[x]
    cuts = ", ".join(show(float(p) if isinstance(p, Fraction) else p) for p in points)
    v.add(
        CHECK,
        Severity.ERROR,
        s.loc,
        f"the exact method's cuts for {x} miss a threshold of {_what(s)} ('{v.words.render(s.ast)}'): "
        f"{x}={show(a)} and {x}={show(b)} lie in the same cell (cuts: {cuts}) but give it different values, "
        f"so with {x} absent the engine could decide from the wrong value",
        s.element,
        w,
        _expect_differs(v.spec, s, x, b),
    )


def _expect_differs(spec: Spec, s: FormulaSite, x: str, b: int | float) -> Expect:
    """The engine's three-valued value of the formula differs between the witness and ``x=b``."""
    fn = compile_expr(s.ast, spec.symbols)

    def expect(engine: Engine, w: dict[str, Any]) -> str | None:
        try:
            env = engine.environment(w)
        except PatientError as exc:
            return f"the engine rejects the witness: {exc}"
        inputs = {k: env[k] for k in spec.variables if k in env}
        inputs[x] = b
        va, vb = fn(env), fn(engine.complete(inputs))
        return None if va != vb else f"the engine evaluates it to {tv(va)} both times"

    return expect


def _what(s: FormulaSite) -> str:
    ident = s.element.partition(":")[2]
    kinds = {SiteKind.GUARD: "the guard of", SiteKind.CONSTRAINT: "constraint", SiteKind.FLAG: "flag"}
    if s.kind is SiteKind.OUTPUT:
        return f"output {s.detail} of '{ident}'"
    return f"{kinds[s.kind]} {ident}"


# ------------------------------------------------------------------ (b) opaque inputs
def _opaque(v: Verifier, opaque: tuple[str, ...]) -> None:
    spec, enc = v.spec, v.enc
    p, tr = enc.inputs, enc.tr
    decided, stops, outs = _decision_terms(enc)
    constraints = [mk_not(tr.tri(c.formula.ast).f) for c in spec.constraints]

    def with_values(suffix: str) -> tuple[list[tuple[z3.ExprRef, z3.ExprRef]], list[z3.ExprRef], list[z3.BoolRef]]:
        """A substitution giving each absent opaque input a fresh value: (pairs, the values, their domains)."""
        pairs: list[tuple[z3.ExprRef, z3.ExprRef]] = []
        fresh: list[z3.ExprRef] = []
        dom: list[z3.BoolRef] = []
        for z in opaque:
            zv = p.number(z)
            c = z3.Int(f"{z}__{suffix}", enc.ctx) if zv.is_int() else z3.Real(f"{z}__{suffix}", enc.ctx)
            pairs += [(zv, z3.If(p.known[z], zv, c)), (p.known[z], enc.true)]
            fresh.append(c)
            dom += _domain(enc, z, c)
        return pairs, fresh, dom

    ref, _, ref_dom = with_values("ref")  # one valid completion of the absent opaque inputs (free: exists)
    alt, alt_vals, alt_dom = with_values("all")  # every valid one (bound: for all)

    def same_decision() -> z3.BoolRef:
        options = []
        for oid, d in decided.items():
            eq = [_subst_term(e, alt) == _subst_term(e, ref) for e in outs[oid]]
            options.append(mk_and(_subst(d, alt), _subst(d, ref), *eq))
        return mk_or(*options, ctx=enc.ctx)

    valid_ref = mk_and(*ref_dom, *(_subst(c, ref) for c in constraints), ctx=enc.ctx)
    valid_alt = mk_and(*alt_dom, *(_subst(c, alt) for c in constraints), ctx=enc.ctx)
    agree = z3.ForAll(alt_vals, z3.Implies(valid_alt, same_decision()))
    goal = [stops, valid_ref, agree, *_known_unless_unfillable(spec, enc, set(opaque), constraints)]
    s = enc.new_solver()
    for fact in enc.facts:
        s.add(fact)
    if not v.status(*goal, on=s):
        return
    m = s.model()
    w = enc.witness(m)
    absent = [z for z in opaque if z not in w]
    oid = next(o for o, d in decided.items() if z3.is_true(m.eval(_subst(d, ref), model_completion=True)))
    element = _stopped_at(v, w, set(absent))
    sites = spec.index.by_element.get(element, ())
    v.add(
        CHECK,
        Severity.ERROR,
        sites[0].loc if sites else spec.graph_loc,
        f"the exact method leaves this patient insufficient_data at {element} although every valid value of "
        f"the absent {', '.join(absent)} gives outcome '{oid}' with the same required outputs: a decidable "
        f"patient is asked for data that cannot change the answer",
        element,
        w,
        _expect_insufficient(Engine(spec)),
    )


def _stopped_at(v: Verifier, w: dict[str, Any], absent: set[str]) -> str:
    """Where three-valued evaluation of ``w`` stops: the first guard there reading an absent input,
    or the outcome whose required outputs are unknown."""
    d = decide(v.engine, w)
    if isinstance(d, str) or not d.path:
        return "graph"
    last = d.path[-1]
    if last in v.spec.outcomes:
        return f"outcome:{last}"
    for e in v.spec.nodes[last].edges:
        element = f"edge:{last}->{e.target}"
        if any(absent & set(site.inputs) for site in v.spec.index.by_element.get(element, ())):
            return element
    return f"node:{last}"


def _decision_terms(
    enc: Encoding,
) -> tuple[dict[str, z3.BoolRef], z3.BoolRef, dict[str, list[z3.ExprRef]]]:
    """Reachability as formulas of the inputs (the encoding's reach literals are one-way implications,
    which a ``ForAll`` cannot use): per outcome "reached with its required outputs known", the
    three-valued ``insufficient_data`` (a node stops, or an outcome's outputs are unknown), and per
    outcome its required outputs' values."""
    spec, tr = enc.spec, enc.tr
    incoming: dict[str, list[z3.BoolRef]] = {}  # per node or outcome: "reached through this edge"
    stops: list[z3.BoolRef] = []
    for nid in spec.index.node_order:  # parents first
        r = mk_or(*incoming.pop(nid, []), ctx=enc.ctx) if nid != spec.entry else enc.true
        ne = enc.nodes[nid]
        stops.append(mk_and(r, ne.here.stop))
        for e in spec.nodes[nid].edges:
            incoming.setdefault(e.target, []).append(mk_and(r, ne.take[e.index]))
    decided: dict[str, z3.BoolRef] = {}
    outs: dict[str, list[z3.ExprRef]] = {}
    for oid, o in spec.outcomes.items():
        r = mk_or(*incoming.get(oid, []), ctx=enc.ctx)
        terms = [tr.name(n) for n in o.outputs]
        known = mk_and(*(enc.known_of(t) for t in terms), ctx=enc.ctx)
        decided[oid] = mk_and(r, known)
        stops.append(mk_and(r, mk_not(known)))
        outs[oid] = [t.v if isinstance(t, Val) else t.t for t in terms]
    return decided, mk_or(*stops, ctx=enc.ctx), outs


def _known_unless_unfillable(
    spec: Spec, enc: Encoding, opaque: set[str], constraints: list[z3.BoolRef]
) -> list[z3.BoolRef]:
    """Every input that is not opaque is known, unless no value of it is valid beside the others
    (the hours since a dose, when no dose was given): the patients the engine's search ends in."""
    p = enc.inputs
    in_constraints = {n for c in spec.constraints for n in spec.index.by_element[f"constraint:{c.id}"][0].inputs}
    out: list[z3.BoolRef] = []
    for name, var in spec.variables.items():
        if name in opaque:
            continue
        if name not in in_constraints:
            out.append(p.known[name])
            continue
        value = p.values[name]
        base = var.type.base
        c: z3.ExprRef
        if base == Base.BOOL:
            c = z3.Bool(f"{name}__fill", enc.ctx)
        else:
            c = z3.Real(f"{name}__fill", enc.ctx) if base == Base.REAL else z3.Int(f"{name}__fill", enc.ctx)
        dom = _domain(enc, name, c)
        pairs: list[tuple[z3.ExprRef, z3.ExprRef]] = [(value, c), (p.known[name], enc.true)]
        valid = mk_and(*dom, *(_subst(k, pairs) for k in constraints), ctx=enc.ctx)
        out.append(mk_or(p.known[name], z3.ForAll([c], mk_not(valid))))
    return out


def _subst(e: z3.BoolRef, pairs: list[tuple[z3.ExprRef, z3.ExprRef]]) -> z3.BoolRef:
    out = z3.substitute(e, *pairs)
    assert isinstance(out, z3.BoolRef)
    return out


def _subst_term(e: z3.ExprRef, pairs: list[tuple[z3.ExprRef, z3.ExprRef]]) -> z3.ExprRef:
    return z3.substitute(e, *pairs)


def _expect_insufficient(exact: Engine) -> Expect:
    """The exact engine (not the verifier's three-valued one) answers ``insufficient_data`` on the witness."""

    def expect(_: Engine, w: dict[str, Any]) -> str | None:
        d = decide(exact, w)
        if isinstance(d, str):
            return f"the engine gives no decision: {d}"
        return None if d.recommendation == "insufficient_data" else f"the engine decides {d.recommendation}"

    return expect
