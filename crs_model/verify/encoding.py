"""One Z3 encoding of a whole spec: inputs, background facts, reachability, decisions.

Size is linear in the spec: a Bool per decision node and outcome says "the engine
gets here", defined from the parents' Bools and the hit policy's "this edge is
taken" condition; no path is ever enumerated.

Background facts (domains, enum ranges, consistency constraints) are asserted
behind *tracking literals* that every query passes as assumptions, so an unsat
core names the domain bounds and constraints that made a query impossible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import z3

from crs_model.errors import Location
from crs_model.expr import Expr, conjuncts
from crs_model.model import Edge, HitPolicy, Spec
from crs_model.types import Base
from crs_model.verify.capi import check_fast, mk_and, mk_not, mk_or
from crs_model.verify.limits import DEFAULT_RLIMIT
from crs_model.verify.solver import make_solver
from crs_model.verify.z3expr import Translator, Tri, Val, numeral


class Undecided(Exception):
    """The solver answered ``unknown`` on a query (resource limit, non-linear arithmetic, ...).

    ``args[0]`` is z3's ``reason_unknown()``.
    """


@dataclass(frozen=True, slots=True)
class Part:
    """What a tracking literal stands for, for unsat cores mapped to spec lines."""

    text: str
    loc: Location
    element: str


@dataclass(frozen=True, slots=True)
class Here:
    """What happens at a node whatever the path to it (used by the oracle)."""

    stop: z3.BoolRef
    overlap: z3.BoolRef
    gap: z3.BoolRef


@dataclass(slots=True)
class NodeEnc:
    """One decision node in Z3: reached, stops, overlap, gap, and per edge taken / guard."""

    reach: z3.BoolRef
    stop: z3.BoolRef  # reaches the node and stops there with insufficient_data
    overlap: z3.BoolRef
    gap: z3.BoolRef
    here: Here
    take: dict[int, z3.BoolRef] = field(default_factory=dict)  # edge index -> taken
    guards: dict[int, Tri] = field(default_factory=dict)


@dataclass(slots=True)
class OutcomeEnc:
    """One outcome in Z3: reached, definitive (outputs known) or insufficient, flags shown."""

    reach: z3.BoolRef
    definitive: z3.BoolRef
    insufficient: z3.BoolRef
    flags: dict[str, z3.BoolRef] = field(default_factory=dict)  # flag id -> shown


@dataclass(frozen=True, slots=True)
class GraphCopy:
    """Another patient's inputs, translator and graph in the same context (:meth:`Encoding.graph_copy`)."""

    inputs: Inputs
    tr: Translator
    nodes: dict[str, NodeEnc]
    outcomes: dict[str, OutcomeEnc]


class Inputs:
    """One copy of the patient: a value and a known flag per input variable."""

    def __init__(self, spec: Spec, ctx: z3.Context, suffix: str = "") -> None:
        self.values: dict[str, z3.ExprRef] = {}
        self.known: dict[str, z3.BoolRef] = {}
        for name, var in spec.variables.items():
            base = var.type.base
            if base == Base.BOOL:
                v: z3.ExprRef = z3.Bool(f"{name}{suffix}", ctx)
            elif base == Base.REAL:
                v = z3.Real(f"{name}{suffix}", ctx)
            else:  # int and enum (an Int code)
                v = z3.Int(f"{name}{suffix}", ctx)
            self.values[name] = v
            self.known[name] = z3.Bool(f"known__{name}{suffix}", ctx)

    def number(self, name: str) -> z3.ArithRef:
        """The value constant of a numeric (or enum) input."""
        v = self.values[name]
        assert isinstance(v, z3.ArithRef), f"{name} is numeric"
        return v

    def pairs(self) -> dict[str, tuple[z3.ExprRef, z3.BoolRef]]:
        """Each input's (value, known) constants, as :class:`Translator` takes them."""
        return {n: (self.values[n], self.known[n]) for n in self.values}


class Encoding:
    """The spec in Z3: build once, query many times through :meth:`check`."""

    def __init__(
        self,
        spec: Spec,
        *,
        minimize_cores: bool = True,
        relevancy: int | None = 0,
        rlimit: int = DEFAULT_RLIMIT,
        ctx: z3.Context | None = None,
        inputs: Inputs | None = None,
        tag: str = "",
    ) -> None:
        """``ctx``, ``inputs`` and ``tag`` let two specs share one context and one patient
        (``crs-model diff``): ``inputs`` may hold more variables than ``spec`` declares, and
        ``tag`` prefixes this encoding's reach and tracking literals so that they stay apart."""
        self.spec = spec
        self.rlimit = rlimit
        self.tag = tag
        self.ctx = ctx or z3.Context()
        self.true = z3.BoolVal(True, self.ctx)
        self.false = z3.BoolVal(False, self.ctx)
        # relevancy 0 (every atom goes to the theories at once): on the whole graph a
        # covering round finds its path about 2x faster than with Z3's default, and
        # the many small queries on the local solver gain a little (measured at
        # 10,000 nodes, docs/verify.md); None keeps the default
        self.minimize_cores, self.relevancy = minimize_cores, relevancy
        self.solver = self.new_solver()
        # the same background without the graph: for questions about one formula
        self.local = self.new_solver()
        self.parts: dict[str, Part] = {}  # tracking literal name -> part
        self.background: list[z3.BoolRef] = []
        self.facts: list[z3.BoolRef] = []  # everything asserted in both solvers (for a Cone)
        self.reach_defs: dict[str, z3.BoolRef] = {}  # node or outcome -> its reach implication
        self.reach_rhs: dict[str, z3.BoolRef] = {}  # node or outcome -> what reaching it means
        self.inputs = inputs or Inputs(spec, self.ctx)
        self.tr = self.translator(self.inputs)
        self._assert_background(self.inputs, "")
        self.nodes, self.outcomes = self._encode_graph(self.tr)
        self.decided = mk_or(
            *(n.stop for n in self.nodes.values()),
            *(o.reach for o in self.outcomes.values()),
            ctx=self.ctx,
        )
        self.recommendation = self._recommendation()
        self._inv_tr: Translator | None = None
        self._completion: tuple[Inputs, Translator, z3.BoolRef] | None = None

    # ------------------------------------------------------------ building
    def translator(self, inputs: Inputs) -> Translator:
        """A translator of the spec's formulas over ``inputs``."""
        spec = self.spec
        defs = {n: d.formula.ast for n, d in spec.definitions.items()}
        return Translator(spec.symbols, inputs.pairs(), defs, ctx=self.ctx)

    def track(self, key: str, fact: z3.BoolRef, part: Part) -> z3.BoolRef:
        """Assert ``fact`` behind a named literal in both solvers (named in unsat cores)."""
        lit = z3.Bool(f"@{self.tag}{key}", self.ctx)
        self.parts[f"@{self.tag}{key}"] = part
        self._assert_both(z3.Implies(lit, fact))
        self.background.append(lit)
        return lit

    def _assert_both(self, fact: z3.BoolRef) -> None:
        self.solver.add(fact)
        self.local.add(fact)
        self.facts.append(fact)

    def domain_facts(self, inputs: Inputs) -> list[tuple[str, z3.BoolRef, Part]]:
        """(key, fact, part) per domain bound and enum range of ``inputs``."""
        out: list[tuple[str, z3.BoolRef, Part]] = []
        for name, var in self.spec.variables.items():
            v = inputs.values[name]
            el = f"variable:{name}"
            if var.type.base == Base.ENUM:
                assert isinstance(v, z3.ArithRef)
                fact = z3.And(v >= 0, v < len(var.type.values))
                out.append((f"dom:{name}", fact, Part(f"{name} is one of {', '.join(var.type.values)}", var.loc, el)))
            elif var.type.base in (Base.INT, Base.REAL):
                assert isinstance(v, z3.ArithRef)
                isint = var.type.base == Base.INT
                if var.minimum is not None:
                    fact = v >= numeral(var.minimum, isint and float(var.minimum).is_integer(), self.ctx)
                    out.append((f"min:{name}", fact, Part(f"{name} ≥ {var.minimum:g}", var.loc, el)))
                if var.maximum is not None:
                    fact = v <= numeral(var.maximum, isint and float(var.maximum).is_integer(), self.ctx)
                    out.append((f"max:{name}", fact, Part(f"{name} ≤ {var.maximum:g}", var.loc, el)))
        return out

    def constraint_facts(self, tr: Translator) -> list[tuple[str, z3.BoolRef, Part]]:
        """(key, fact, part) per consistency constraint (holds unless definitely false)."""
        out: list[tuple[str, z3.BoolRef, Part]] = []
        for c in self.spec.constraints:
            # a constraint rejects a patient only when it is definitely false
            fact = mk_not(tr.tri(c.formula.ast).f)
            out.append((f"con:{c.id}", fact, Part(f"constraint {c.id}: {c.formula.text}", c.loc, f"constraint:{c.id}")))
        return out

    def _assert_background(self, inputs: Inputs, suffix: str) -> None:
        tr = self.tr if suffix == "" else self.translator(inputs)
        for key, fact, part in [*self.domain_facts(inputs), *self.constraint_facts(tr)]:
            self.track(key + suffix, fact, part)

    def _encode_graph(self, tr: Translator, suffix: str = "") -> tuple[dict[str, NodeEnc], dict[str, OutcomeEnc]]:
        """A Bool per node and outcome: ``reach(k) -> Or(reach(p) and taken(p -> k))``.

        One implication per node, so the encoding is linear in the graph. Only
        this direction is asserted: every query asks whether *some* patient gets
        somewhere, and a true ``reach(k)`` in a model is then always backed by a
        real path of that model's patient (the converse would make the solver
        evaluate every guard of the graph on every query).
        """
        spec = self.spec
        reach = {k: z3.Bool(f"{self.tag}reach:{k}{suffix}", self.ctx) for k in (*spec.nodes, *spec.outcomes)}
        incoming: dict[str, list[z3.BoolRef]] = {k: [] for k in reach}
        nodes: dict[str, NodeEnc] = {}
        for nid, node in spec.nodes.items():
            r = reach[nid]
            gs = [tr.tri(e.guard.ast) for e in node.edges]
            if node.hit_policy is HitPolicy.UNIQUE:
                unknown = mk_or(*(g.unknown for g in gs), ctx=self.ctx)
                pairs = [mk_and(gs[i].t, gs[j].t) for i in range(len(gs)) for j in range(i + 1, len(gs))]
                two_true = mk_or(*pairs, ctx=self.ctx)
                here = Here(mk_and(unknown, mk_not(two_true)), two_true, mk_and(*(g.f for g in gs)))
                take = {i: mk_and(gs[i].t, *(g.f for j, g in enumerate(gs) if j != i)) for i in range(len(gs))}
            else:
                stops = [mk_and(gs[i].unknown, *(gs[j].f for j in range(i))) for i in range(len(gs))]
                here = Here(mk_or(*stops, ctx=self.ctx), self.false, mk_and(*(g.f for g in gs)))
                take = {i: mk_and(gs[i].t, *(gs[j].f for j in range(i))) for i in range(len(gs))}
            enc = NodeEnc(r, mk_and(r, here.stop), mk_and(r, here.overlap), mk_and(r, here.gap), here)
            enc.take = take
            enc.guards = dict(enumerate(gs))
            for i, e in enumerate(node.edges):
                incoming[e.target].append(mk_and(r, take[i]))
            nodes[nid] = enc
        for k, lit in reach.items():
            rhs = self.true if k == spec.entry else mk_or(*incoming[k], ctx=self.ctx)
            define = z3.Implies(lit, rhs)
            if not suffix:
                self.reach_rhs[k] = rhs
                self.reach_defs[k] = define
            self.solver.add(define)
        outcomes: dict[str, OutcomeEnc] = {}
        for oid, o in spec.outcomes.items():
            known = mk_and(*(self.known_of(tr.name(n)) for n in o.outputs), ctx=self.ctx)
            flags: dict[str, z3.BoolRef] = {}
            definitive = mk_and(reach[oid], known)
            for fl in o.flags:
                flags[fl.id] = definitive if fl.when is None else mk_and(definitive, tr.tri(fl.when.ast).t)
            outcomes[oid] = OutcomeEnc(reach[oid], definitive, mk_and(reach[oid], mk_not(known)), flags)
        if not suffix:
            for nid, n in spec.nodes.items():
                self.parts[f"{self.tag}reach:{nid}"] = Part(
                    f"the path to '{nid}' ({n.question.strip()})", n.loc, f"node:{nid}"
                )
        return nodes, outcomes

    def graph_copy(self, suffix: str) -> GraphCopy:
        """A second patient with its own background and its own copy of the graph (in the graph's
        solver), not tied to the first: for questions about two patients' decisions (robustness)."""
        q = Inputs(self.spec, self.ctx, suffix)
        self._assert_background(q, suffix)
        tr = self.translator(q)
        nodes, outcomes = self._encode_graph(tr, suffix)
        return GraphCopy(q, tr, nodes, outcomes)

    def renew_local(self) -> None:
        """Replace the solver without the graph by a fresh one holding the same facts.

        With relevancy 0 a solver assigns every atom it has ever internalised on each
        satisfiable check, and atoms of assumptions stay internalised: after the
        missing-data check's disjunctions over every guard (two patient copies) a
        small path query costs about 10x more (measured at 10,000 nodes).
        """
        self.local = self.new_solver()
        for fact in self.facts:
            self.local.add(fact)

    def new_solver(self) -> z3.Solver:
        """An empty solver in this encoding's context, with its settings (from the one factory)."""
        return make_solver(self.ctx, rlimit=self.rlimit, minimize_cores=self.minimize_cores, relevancy=self.relevancy)

    def reach_lit(self, key: str) -> z3.BoolRef:
        """The "reached" literal of a decision node or outcome."""
        return self.nodes[key].reach if key in self.nodes else self.outcomes[key].reach

    @staticmethod
    def known_of(t: Tri | Val) -> z3.BoolRef:
        """Whether a term's value is known (a boolean: true or false)."""
        return t.k if isinstance(t, Val) else mk_or(t.t, t.f)

    def completion(self) -> tuple[Inputs, Translator, z3.BoolRef]:
        """A second patient that completes the first (same known values, maybe more known).

        Only inputs and background are copied, not the graph: the missing-data
        check compares formulas, not paths. ``link`` (an assumption literal) ties
        the copies together.
        """
        if self._completion is None:
            q = Inputs(self.spec, self.ctx, "__completion")
            self._assert_background(q, "__completion")
            p = self.inputs
            link = z3.Bool("@completion_link", self.ctx)
            ties = [z3.Implies(p.known[v], z3.And(q.known[v], q.values[v] == p.values[v])) for v in self.spec.variables]
            self._assert_both(z3.Implies(link, z3.And(*ties)))
            self._completion = (q, self.translator(q), link)
        return self._completion

    def _recommendation(self) -> z3.ArithRef:
        codes = self.spec.invariant_symbols["recommendation"].type.values
        insufficient = z3.IntVal(codes.index("insufficient_data"), self.ctx)
        rec: z3.ArithRef = insufficient
        for o in self.spec.outcomes.values():
            enc = self.outcomes[o.id]
            rec = z3.If(enc.definitive, z3.IntVal(codes.index(o.recommendation), self.ctx), rec)
        return rec

    def invariant_translator(self) -> Translator:
        """A translator for invariants: ``recommendation``, ``has_action`` and ``has_flag`` too."""
        if self._inv_tr is None:
            spec = self.spec
            actions = spec.index.action_outcomes

            def calls(func: str, ident: str) -> Tri:
                if func == "has_action":
                    t = mk_or(*(self.outcomes[oid].definitive for oid in actions.get(ident, ())), ctx=self.ctx)
                else:
                    t = mk_or(*(enc.flags[ident] for enc in self.outcomes.values() if ident in enc.flags), ctx=self.ctx)
                return Tri(t, mk_not(t))

            defs = {n: d.formula.ast for n, d in spec.definitions.items()}
            rec = Val(self.recommendation, self.true)
            tr = Translator(
                spec.invariant_symbols, self.inputs.pairs(), defs, extra={"recommendation": rec}, ctx=self.ctx
            )
            tr.calls = calls
            tr.share_names(self.tr)  # share definition terms
            self._inv_tr = tr
        return self._inv_tr

    # ------------------------------------------------------------ querying
    def pick(self, *, local: bool = False, on: z3.Solver | None = None) -> z3.Solver:
        """``on`` if given (a :class:`Cone`'s solver), else the local solver or the whole graph's."""
        return on or (self.local if local else self.solver)

    def check(self, *extra: z3.BoolRef, local: bool = False, on: z3.Solver | None = None) -> z3.CheckSatResult:
        """Check the background plus ``extra`` (assumptions) on the solver :meth:`pick` names."""
        return check_fast(self.pick(local=local, on=on), [*self.background, *extra])

    def core_parts(self, *, local: bool = False, on: z3.Solver | None = None) -> list[Part]:
        """The named parts (domains, constraints, conjuncts, paths) in the last unsat core."""
        out: list[Part] = []
        for lit in self.pick(local=local, on=on).unsat_core():
            if not z3.is_const(lit):  # a goal formula, not a tracking literal (and costly to print)
                continue
            part = self.parts.get(lit.decl().name())
            if part is not None:
                out.append(part)
        return sorted(out, key=lambda p: (p.loc.line, p.loc.column, p.text))

    def check_conjuncts(
        self,
        tag: str,
        ast: Expr,
        locate: Callable[[Expr], Part],
        *extra: z3.BoolRef,
        local: bool = True,
        on: z3.Solver | None = None,
    ) -> tuple[bool, list[Part]]:
        """Can every conjunct of ``ast`` hold (with ``extra``)? If not, the unsat core's parts.

        The conjuncts get tracking literals inside a push/pop scope, so the
        solver does not keep one clause per formula ever asked about.
        """
        s = self.pick(local=local, on=on)
        s.push()
        try:
            lits: list[z3.BoolRef] = []
            for i, c in enumerate(conjuncts(ast)):
                name = f"@{tag}#{i}"
                lit = z3.Bool(name, self.ctx)
                s.add(z3.Implies(lit, self.tr.tri(c).t))
                self.parts[name] = locate(c)
                lits.append(lit)
            r = self.check(*lits, *extra, on=s)
            if r == z3.unknown:
                raise Undecided(s.reason_unknown())
            return r == z3.sat, ([] if r == z3.sat else self.core_parts(on=s))
        finally:
            s.pop()

    # ------------------------------------------------------------ witnesses
    def witness(self, model: z3.ModelRef, inputs: Inputs | None = None) -> dict[str, Any]:
        """The patient JSON of a model: known inputs only, in declaration order."""
        inputs = inputs or self.inputs
        out: dict[str, Any] = {}
        for name, var in self.spec.variables.items():
            if not z3.is_true(model.eval(inputs.known[name], model_completion=True)):
                continue
            raw = model.eval(inputs.values[name], model_completion=True)
            base = var.type.base
            if base == Base.BOOL:
                out[name] = z3.is_true(raw)
            elif base in (Base.ENUM, Base.INT):
                assert isinstance(raw, z3.IntNumRef), f"an int model value for {name}"
                out[name] = var.type.values[raw.as_long()] if base == Base.ENUM else raw.as_long()
            else:
                frac = raw.as_fraction() if z3.is_rational_value(raw) else _approx(raw)
                out[name] = int(frac) if frac.denominator == 1 else float(frac)
        return out

    def edge_of(self, e: Edge) -> z3.BoolRef:
        """The patient reaches ``e``'s source node and takes ``e``."""
        return mk_and(self.nodes[e.source].reach, self.nodes[e.source].take[e.index])


class Cone:
    """A solver with the background and the graph restricted to a growing prefix of a topological order.

    A node's reach definition mentions only its parents, so a prefix of a
    topological order holds every ancestor of its nodes: a question about
    reaching nodes of the prefix has the same answer here as on the whole graph,
    on a solver a fraction of its size (each search step of a whole-graph query
    assigns every literal of the graph, wanted or not).
    """

    def __init__(self, enc: Encoding, order: Sequence[str]) -> None:
        self.solver = enc.new_solver()
        for fact in enc.facts:
            self.solver.add(fact)
        self._defs = [enc.reach_defs[n] for n in order]
        self.size = 0  # nodes of the order asserted so far

    def grow(self, size: int) -> None:
        """Assert the reach definitions of the first ``size`` nodes of the order."""
        for d in self._defs[self.size : size]:
            self.solver.add(d)
        self.size = max(self.size, min(size, len(self._defs)))


def _approx(raw: z3.ExprRef) -> Fraction:
    """Algebraic model values (from non-linear arithmetic) as a close decimal."""
    assert isinstance(raw, z3.AlgebraicNumRef), "a real model value is rational or algebraic"
    return Fraction(raw.as_decimal(12).rstrip("?"))
