"""Two spec versions in one Z3 context over one shared patient: validity and "decisions differ".

The union of both versions' inputs is one copy of the patient (a value and a known flag
each); an input only one version declares is free for the other (that version does not
read it) but keeps its declared domain. Each version's graph is the verifier's
:class:`~crs_model.verify.encoding.Encoding` built on the shared inputs, with its reach
literals defined both ways (``reach <-> some parent takes its edge``): a diff asks that
one version does *not* decide what the other does, so reaching must mean reaching.

A decision is compared as the JSON decision shows it: the recommendation code (or
``insufficient_data``, or a spec defect where the engine raises), the outcome id, every
output both versions declare (null when not reported or unknown, rounded as reported),
and the ids of the actions and flags shown. That is ``Engine(spec, exact=False)``, the
procedure the encoding models exactly (docs/diff.md says why that suffices).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import z3

from crs_model.errors import CrsModelError
from crs_model.model import INSUFFICIENT_DATA, ReportMode, Spec, Variable
from crs_model.types import Base
from crs_model.verify.capi import mk_and, mk_not, mk_or
from crs_model.verify.encoding import Encoding, Inputs
from crs_model.verify.limits import DEFAULT_RLIMIT
from crs_model.verify.solver import make_solver
from crs_model.verify.z3expr import Tri

DEFECT = "<spec defect>"  # the engine raises SpecDefectError (overlap or gap): no decision at all


class VocabularyError(CrsModelError):
    """An input both versions declare with types that cannot be compared (e.g. a number in one,
    a bool in the other). Rename the input in the new version, so that it is a new input."""


@dataclass(frozen=True, slots=True)
class Output:
    """A reported output on one side: whether the decision shows a value, and the value compared."""

    shown: z3.BoolRef  # reported and known (not null)
    value: z3.ExprRef  # rounded as reported; an enum's Int code
    values: tuple[str, ...] = ()  # an enum output's values (its codes' meaning)


@dataclass(slots=True)
class Side:
    """One version in the shared context: its encoding, validity and decision terms."""

    spec: Spec
    enc: Encoding
    valid: z3.BoolRef  # the version's domains and constraints hold (it accepts the patient)
    category: dict[str, z3.BoolRef] = field(default_factory=dict)  # recommendation code -> given
    outcome: dict[str, z3.BoolRef] = field(default_factory=dict)  # outcome id -> decided there
    outputs: dict[str, Output] = field(default_factory=dict)
    actions: dict[str, z3.BoolRef] = field(default_factory=dict)
    flags: dict[str, z3.BoolRef] = field(default_factory=dict)


def _union_values(a: Variable | None, b: Variable | None) -> tuple[str, ...]:
    vals = [*(a.type.values if a else ()), *(b.type.values if b else ())]
    return tuple(dict.fromkeys(vals))


class SharedInputs(Inputs):
    """One patient over the union vocabulary; :meth:`view` gives one version's inputs.

    An enum whose values differ between the versions is one Int over the union of its
    values; each version sees its own code of the value (-1, outside its domain, for a
    value it does not declare).
    """

    def __init__(self, old: Spec, new: Spec, ctx: z3.Context) -> None:
        self.values: dict[str, z3.ExprRef] = {}
        self.known: dict[str, z3.BoolRef] = {}
        self.variables: dict[str, Variable] = {}
        self.enum_values: dict[str, tuple[str, ...]] = {}  # union values of each enum input
        self.ctx = ctx
        for name in dict.fromkeys([*old.variables, *new.variables]):
            a, b = old.variables.get(name), new.variables.get(name)
            var = b or a
            assert var is not None
            if a is not None and b is not None and a.type.base != b.type.base:
                raise VocabularyError(
                    f"input '{name}' is {a.type} in the old version and {b.type} in the new one: "
                    "the versions cannot be compared on it (give the new input a new name)"
                )
            base = var.type.base
            if base == Base.BOOL:
                v: z3.ExprRef = z3.Bool(name, ctx)
            elif base == Base.REAL:
                v = z3.Real(name, ctx)
            else:
                v = z3.Int(name, ctx)
            if base == Base.ENUM:
                self.enum_values[name] = _union_values(a, b)
            self.values[name] = v
            self.known[name] = z3.Bool(f"known__{name}", ctx)
            self.variables[name] = var

    def view(self, spec: Spec) -> Inputs:
        """``spec``'s inputs: the shared constants, an enum recoded where its values differ."""
        out = Inputs.__new__(Inputs)
        out.values, out.known = dict(self.values), dict(self.known)
        for name, var in spec.variables.items():
            union = self.enum_values.get(name)
            if union is None or union == var.type.values:
                continue
            u = self.number(name)
            code: z3.ArithRef = z3.IntVal(-1, self.ctx)
            for i, value in enumerate(union):
                if value in var.type.values:
                    code = z3.If(u == i, z3.IntVal(var.type.values.index(value), self.ctx), code)
            out.values[name] = code
        return out

    def domain(self) -> z3.BoolRef:
        """Every union enum in range (a patient gives one of the values some version declares)."""
        facts = [z3.And(self.number(n) >= 0, self.number(n) < len(vs)) for n, vs in self.enum_values.items()]
        return mk_and(*facts, ctx=self.ctx)


def _round(v: z3.ArithRef, places: int | None) -> z3.ArithRef:
    """``v`` rounded as the engine reports it: half away from zero to ``places`` decimals."""
    if places is None or v.is_int():
        return v
    scale = 10**places
    up = z3.ToInt(v * scale + z3.RealVal("1/2", v.ctx))
    down = -z3.ToInt(-v * scale + z3.RealVal("1/2", v.ctx))
    return z3.If(v >= 0, up, down)


class Pair:
    """Both versions in one context: the sides, the shared background, and the difference terms."""

    def __init__(self, old: Spec, new: Spec, *, rlimit: int = DEFAULT_RLIMIT) -> None:
        self.ctx = z3.Context()
        self.rlimit = rlimit
        self.inputs = SharedInputs(old, new, self.ctx)
        self.old = self._side(old, "old:")
        self.new = self._side(new, "new:")
        only = [
            (side, n)
            for side, other in ((self.old, new), (self.new, old))
            for n in side.spec.variables
            if n not in other.variables
        ]
        # an input one version lacks still ranges over the other's domain
        one_sided = [f for side, n in only for f in _facts_of(side, n)]
        self.old_only = tuple(n for side, n in only if side is self.old)
        self.new_only = tuple(n for side, n in only if side is self.new)
        self.shared = _same_reach(self.old.enc, self.new.enc)
        self.background = mk_and(
            self.inputs.domain(),
            *one_sided,
            *(d for side in (self.old, self.new) for d in _reach_iffs(side.enc)),
            *(self.old.enc.reach_lit(k) == self.new.enc.reach_lit(k) for k in self.shared),
            ctx=self.ctx,
        )
        self.main_differ, self.note_differ = self._differences()
        self.differ = mk_or(self.main_differ, self.note_differ)

    def new_solver(self) -> z3.Solver:
        """A solver holding the shared background (the one factory's settings)."""
        s = make_solver(self.ctx, rlimit=self.rlimit, relevancy=0)
        s.add(self.background)
        return s

    def absent(self, names: tuple[str, ...]) -> z3.BoolRef:
        """Every input of ``names`` is absent."""
        return mk_and(*(mk_not(self.inputs.known[n]) for n in names), ctx=self.ctx)

    # ------------------------------------------------------------ building
    def _side(self, spec: Spec, tag: str) -> Side:
        enc = Encoding(spec, rlimit=self.rlimit, ctx=self.ctx, inputs=self.inputs.view(spec), tag=tag)
        facts = [f for _, f, _ in (*enc.domain_facts(enc.inputs), *enc.constraint_facts(enc.tr))]
        side = Side(spec, enc, mk_and(*facts, ctx=self.ctx))
        ctx = self.ctx
        definitive: dict[str, list[z3.BoolRef]] = {}
        for oid, o in enc.outcomes.items():
            definitive.setdefault(spec.outcomes[oid].recommendation, []).append(o.definitive)
            side.outcome[oid] = o.definitive
        side.category = {code: mk_or(*lits, ctx=ctx) for code, lits in definitive.items()}
        side.category[INSUFFICIENT_DATA] = mk_or(
            *(n.stop for n in enc.nodes.values()), *(o.insufficient for o in enc.outcomes.values()), ctx=ctx
        )
        side.category[DEFECT] = mk_or(*(mk_or(n.overlap, n.gap) for n in enc.nodes.values()), ctx=ctx)
        for aid, oids in spec.index.action_outcomes.items():
            side.actions[aid] = mk_or(*(enc.outcomes[o].definitive for o in oids), ctx=ctx)
        for fid, oids in spec.index.flag_outcomes.items():
            side.flags[fid] = mk_or(*(enc.outcomes[o].flags[fid] for o in oids), ctx=ctx)
        for name, ro in spec.outputs.items():
            if ro.report is ReportMode.ALWAYS:
                reported = mk_not(side.category[DEFECT])
            else:
                reported = mk_or(
                    *(enc.outcomes[o.id].definitive for o in spec.outcomes.values() if name in o.outputs), ctx=ctx
                )
            term = enc.tr.name(name)
            if isinstance(term, Tri):
                side.outputs[name] = Output(mk_and(reported, mk_or(term.t, term.f)), term.t)
            else:
                ty = spec.definitions[name].formula.type
                side.outputs[name] = Output(mk_and(reported, term.k), _round(term.v, ro.precision), ty.values)
        return side

    def _differences(self) -> tuple[z3.BoolRef, z3.BoolRef]:
        """(recommendation, outcome or an output differs; an action or a flag differs)."""
        a, b = self.old, self.new
        f = z3.BoolVal(False, self.ctx)

        def keyed(x: Mapping[str, z3.BoolRef], y: Mapping[str, z3.BoolRef]) -> list[z3.BoolRef]:
            return [x.get(k, f) != y.get(k, f) for k in dict.fromkeys([*x, *y])]

        main = [*keyed(a.category, b.category), *keyed(a.outcome, b.outcome)]
        decided = mk_and(mk_not(a.category[DEFECT]), mk_not(b.category[DEFECT]))
        for name in [n for n in a.outputs if n in b.outputs]:
            x, y = a.outputs[name], b.outputs[name]
            if x.values != y.values:  # enum outputs compare by value name
                union = tuple(dict.fromkeys([*x.values, *y.values]))
                x, y = _recode(x, union), _recode(y, union)
            both = mk_and(x.shown, y.shown)
            main.append(mk_and(decided, mk_or(x.shown != y.shown, mk_and(both, x.value != y.value))))
        notes = [*keyed(a.actions, b.actions), *keyed(a.flags, b.flags)]
        return mk_or(*main, ctx=self.ctx), mk_or(*notes, ctx=self.ctx)


def _recode(out: Output, union: tuple[str, ...]) -> Output:
    """An enum output with its codes mapped to positions in ``union``."""
    assert isinstance(out.value, z3.ArithRef)
    code: z3.ArithRef = z3.IntVal(-1, out.value.ctx)
    for i, value in enumerate(out.values):
        code = z3.If(out.value == i, z3.IntVal(union.index(value), out.value.ctx), code)
    return Output(out.shown, code, union)


def _facts_of(side: Side, name: str) -> list[z3.BoolRef]:
    """The domain facts of one input of ``side``."""
    return [f for key, f, _ in side.enc.domain_facts(side.enc.inputs) if key.split(":", 1)[1] == name]


def _same_reach(old: Encoding, new: Encoding) -> list[str]:
    """The nodes and outcomes both versions reach under the same condition, by construction.

    In topological order: a node is reached alike when its reach condition in the new version,
    with the parents already known alike read as the old version's, is the very same term
    (Z3 shares equal terms; the inputs are shared). Asserting those equalities is sound (they
    follow by induction over the graph) and spares the solver rediscovering that an unchanged
    part of the graph behaves the same: on an unchanged 1,000-node graph that is the whole proof.
    """
    same: list[str] = []
    alike: set[str] = set()
    incoming = new.spec.index.incoming
    for k in (*new.spec.index.node_order, *new.spec.outcomes):
        if k not in old.reach_rhs:
            continue
        pairs = [
            (new.reach_lit(p), old.reach_lit(p)) for p in dict.fromkeys(e.source for e in incoming[k]) if p in alike
        ]
        rhs: z3.ExprRef = new.reach_rhs[k]
        if pairs:
            rhs = z3.substitute(rhs, *pairs)
        if rhs.eq(old.reach_rhs[k]):
            alike.add(k)
            same.append(k)
    return same


def _reach_iffs(enc: Encoding) -> list[z3.BoolRef]:
    return [enc.reach_lit(k) == rhs for k, rhs in enc.reach_rhs.items()]


__all__ = ["DEFECT", "Output", "Pair", "SharedInputs", "Side", "VocabularyError"]
