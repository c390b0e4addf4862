"""Bounded model checking of care courses: the spec's one-step encoding unrolled over k steps.

Step ``i`` of a course is a copy of the whole one-step encoding (inputs, domains,
constraints, the graph's reach definitions, the recommendation) obtained by
``z3.substitute`` of the :class:`~crs_model.verify.encoding.Encoding`'s formulas onto
inputs and reach literals renamed ``…@i``: the graph is translated once, whatever
the depth. Between steps ``i`` and ``i+1`` (the semantics of :mod:`crs_model.course`):
the recommendation's ``follow`` sets are applied to step ``i``'s values, ``dt_i`` hours
pass (a real in ``[step_min_h, step_max_h]``) and every known clock input grows by
``dt_i`` capped at its maximum; spontaneous inputs of step ``i+1`` are free (value and
known); the rest are held. ``T_i = dt_0 + … + dt_{i-1}``, and a temporal term at step
``i`` is ``Σ_{j<i} If(cond_j true ∧ (window: T_i − T_j < h), 1, 0)``.

Each depth is added to one incremental solver; a temporal invariant is asked at the
last step of every depth in turn, so a refuting course is a shortest one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import z3

from crs_model.course import TemporalTerm, split_temporal, window_hours
from crs_model.model import TemporalInvariant
from crs_model.types import Base
from crs_model.verify.capi import check_fast, mk_and, mk_not, mk_or
from crs_model.verify.encoding import Encoding, Inputs, Part, Undecided
from crs_model.verify.z3expr import Translator, Tri, Val, numeral

Pair = tuple[z3.ExprRef, z3.ExprRef]


@dataclass(frozen=True, slots=True)
class Frame:
    """Step ``index`` of an unrolled course: its inputs and the one-step formulas over them."""

    index: int
    inputs: Inputs
    subst: tuple[Pair, ...]  # base constant -> this step's constant (inputs and reach literals)
    valid: z3.BoolRef  # domains and consistency constraints
    decided: z3.BoolRef  # the graph's reach definitions, and the engine gets to a decision
    rec: z3.ArithRef  # the recommendation's code (index in the recommendation type's values)
    hour: z3.ArithRef  # T_i: hours since the course started
    dt: z3.ArithRef  # hours passing after this step (dt_i)

    def put(self, term: z3.ExprRef, *more: Pair) -> z3.ExprRef:
        """``term`` (over the base encoding) at this step."""
        return z3.substitute(term, *self.subst, *more)

    def put_bool(self, term: z3.BoolRef, *more: Pair) -> z3.BoolRef:
        """A boolean ``term`` at this step."""
        out = self.put(term, *more)
        assert isinstance(out, z3.BoolRef)
        return out


@dataclass(frozen=True, slots=True)
class Monitor:
    """One temporal invariant, split (:func:`crs_model.course.split_temporal`) and translated once."""

    invariant: TemporalInvariant
    body: z3.BoolRef  # "the invariant is true", over the base step and the count constants
    terms: tuple[tuple[TemporalTerm, z3.ArithRef, z3.BoolRef, Any], ...]  # (term, count const, cond, hours|None)


class Unrolling:
    """A spec's care course in Z3, one :class:`Frame` per step, over one encoding's context."""

    def __init__(self, enc: Encoding) -> None:
        spec = enc.spec
        assert spec.care is not None, "the temporal check needs a care section"
        self.enc, self.spec, self.care = enc, spec, spec.care
        ctx = self.ctx = enc.ctx
        base = enc.inputs
        self.codes: tuple[str, ...] = spec.invariant_symbols["recommendation"].type.values
        self.facts: list[tuple[z3.BoolRef, Part]] = [
            (f, p) for _, f, p in (*enc.domain_facts(base), *enc.constraint_facts(enc.tr))
        ]
        self._valid = mk_and(*(f for f, _ in self.facts), ctx=ctx)
        self._decided = mk_and(*enc.reach_defs.values(), enc.decided)
        self._reach = [z3.Bool(f"reach:{k}", ctx) for k in enc.reach_defs]
        self._dt = z3.Real("dt", ctx)  # placeholder for the hours after a step
        self.start = enc.tr.tri(self.care.start.ast).t
        self._next = self._successor()
        spontaneous = set(self.care.spontaneous)
        # a spontaneous input "held" (no change by itself) keeps its value after follow
        self._held = {n: vk for n, vk in self._successor(everything=True).items() if n in spontaneous}
        self._next = {n: vk for n, vk in self._next.items() if n not in spontaneous}
        self.monitors = tuple(self._monitor(inv) for inv in spec.temporal_invariants)
        self.frames: list[Frame] = []

    # ------------------------------------------------------------ one step, over the base encoding
    def _successor(self, everything: bool = False) -> dict[str, tuple[z3.ExprRef, z3.BoolRef]]:
        """Each held input's (value, known) after follow and ``dt`` hours, over the base step.

        An unknown input keeps its old value constant (which no formula reads), so its
        domain bound stays satisfied: only a known value out of its domain is invalid.
        """
        enc, care, base = self.enc, self.care, self.enc.inputs
        spontaneous = set(care.spontaneous)
        sets: dict[str, list[tuple[str, Any]]] = {}
        for code, follow in care.follow.items():
            for name, f in follow.sets:
                sets.setdefault(name, []).append((code, f))
        out: dict[str, tuple[z3.ExprRef, z3.BoolRef]] = {}
        for name, var in self.spec.variables.items():
            if name in spontaneous and not everything:
                continue
            old_v, old_k = base.values[name], base.known[name]
            v, k = old_v, old_k
            for code, f in sets.get(name, ()):
                sv, sk = old_v, enc.false  # set to null: unknown
                if f is not None:
                    t = enc.tr.term(f.ast)
                    if isinstance(t, Tri):
                        sk = mk_or(t.t, t.f)
                        sv = t.t
                    else:
                        sk = t.k
                        sv = z3.ToReal(t.v) if var.type.base == Base.REAL and t.v.is_int() else t.v
                    sv = _ite(sk, sv, old_v)
                on = enc.recommendation == z3.IntVal(self.codes.index(code), self.ctx)
                v, k = _ite(on, sv, v), z3.If(on, sk, k)
            if name in care.clock:
                assert isinstance(v, z3.ArithRef)
                grown = v + self._dt
                if var.maximum is not None:
                    cap = numeral(var.maximum, False, self.ctx)
                    grown = z3.If(grown > cap, cap, grown)
                v = z3.If(k, grown, v)
            out[name] = (v, k)
        return out

    def _monitor(self, inv: TemporalInvariant) -> Monitor:
        enc, spec = self.enc, self.spec
        body, terms = split_temporal(inv.formula.ast)
        inv_tr = enc.invariant_translator()
        counts = {t.name: z3.Int(f"{inv.id}:{t.name}", self.ctx) for t in terms}
        extra: dict[str, Tri | Val] = {"recommendation": Val(enc.recommendation, enc.true)}
        extra |= {n: Val(c, enc.true) for n, c in counts.items()}
        defs = {n: d.formula.ast for n, d in spec.definitions.items()}
        tr = Translator(spec.invariant_symbols, enc.inputs.pairs(), defs, extra=extra, ctx=self.ctx)
        tr.calls = inv_tr.calls
        tr.share_names(inv_tr)
        compiled = tuple(
            (t, counts[t.name], inv_tr.tri(t.cond).t, window_hours(spec, t) if t.window is not None else None)
            for t in terms
        )
        return Monitor(inv, tr.tri(body).t, compiled)

    # ------------------------------------------------------------ frames
    def frame(self, i: int) -> Frame:
        """Step ``i`` (built on first use, after steps ``0 … i-1``)."""
        while len(self.frames) <= i:
            self.frames.append(self._frame(len(self.frames)))
        return self.frames[i]

    def _frame(self, i: int) -> Frame:
        ctx, base = self.ctx, self.enc.inputs
        inputs = Inputs(self.spec, ctx, f"@{i}")
        subst: list[Pair] = []
        for n in self.spec.variables:
            subst += [(base.values[n], inputs.values[n]), (base.known[n], inputs.known[n])]
        subst += [(r, z3.Bool(f"{r.decl().name()}@{i}", ctx)) for r in self._reach]
        pairs = tuple(subst)
        rec = z3.substitute(self.enc.recommendation, *pairs)
        assert isinstance(rec, z3.ArithRef)
        if i == 0:
            hour: z3.ArithRef = z3.RealVal(0, ctx)
        else:
            prev = self.frames[i - 1]
            hour = prev.hour + prev.dt
        valid = z3.substitute(self._valid, *pairs)
        decided = z3.substitute(self._decided, *pairs)
        assert isinstance(valid, z3.BoolRef)
        assert isinstance(decided, z3.BoolRef)
        return Frame(i, inputs, pairs, valid, decided, rec, hour, z3.Real(f"dt@{i}", ctx))

    def link(self, i: int, *, spontaneous_held: bool = False) -> z3.BoolRef:
        """Step ``i+1`` follows from step ``i``: hours in range, follow + clock, spontaneous free (or held)."""
        a, b = self.frame(i), self.frame(i + 1)
        care = self.care
        lo, hi = numeral(care.step_min_h, False, self.ctx), numeral(care.step_max_h, False, self.ctx)
        facts: list[z3.BoolRef] = [a.dt >= lo, a.dt <= hi]
        for name in self.spec.variables:
            nxt = self._next.get(name)
            if nxt is None:  # spontaneous
                if spontaneous_held:  # no change by itself: the value after follow (a set may change it)
                    hv, hk = self._held[name]
                    facts += [
                        b.inputs.values[name] == a.put(hv, (self._dt, a.dt)),
                        b.inputs.known[name] == a.put_bool(hk, (self._dt, a.dt)),
                    ]
                continue
            v, k = nxt
            facts += [
                b.inputs.values[name] == a.put(v, (self._dt, a.dt)),
                b.inputs.known[name] == a.put_bool(k, (self._dt, a.dt)),
            ]
        return mk_and(*facts)

    def step(self, i: int) -> z3.BoolRef:
        """Everything that makes step ``i`` part of a course (start or link, validity, a decision)."""
        f = self.frame(i)
        first = f.put_bool(self.start) if i == 0 else self.link(i - 1)
        return mk_and(first, f.valid, f.decided)

    def count(self, term: z3.BoolRef, hours: Any, i: int) -> z3.ArithRef:
        """How many steps before ``i`` had ``term`` true (within ``hours`` of step ``i`` when given)."""
        now = self.frame(i)
        one, zero = z3.IntVal(1, self.ctx), z3.IntVal(0, self.ctx)
        total: z3.ArithRef = zero
        for j in range(i):
            f = self.frame(j)
            hit = f.put_bool(term)
            if hours is not None:
                hit = mk_and(hit, now.hour - f.hour < numeral(Fraction(hours), False, self.ctx))
            total = total + z3.If(hit, one, zero)
        return total

    def holds(self, m: Monitor, i: int) -> z3.BoolRef:
        """Monitor ``m``'s invariant is true at step ``i`` (its counts over steps ``0 … i-1``)."""
        more = [(c, self.count(cond, hours, i)) for _, c, cond, hours in m.terms]
        return self.frame(i).put_bool(m.body, *more)

    def counts(self, model: z3.ModelRef, m: Monitor, i: int) -> list[int]:
        """The values of ``m``'s counts at step ``i`` in ``model``."""
        out: list[int] = []
        for _, _, cond, hours in m.terms:
            val = model.eval(self.count(cond, hours, i), model_completion=True)
            assert isinstance(val, z3.IntNumRef)
            out.append(val.as_long())
        return out

    # ------------------------------------------------------------ models
    def hours(self, model: z3.ModelRef, n: int) -> list[Fraction]:
        """``T_0 … T_{n-1}`` in ``model``."""
        return [_fraction(model.eval(self.frame(i).hour, model_completion=True)) for i in range(n)]

    def recommendations(self, model: z3.ModelRef, n: int) -> list[str]:
        """The recommendation codes of steps ``0 … n-1`` in ``model``."""
        out: list[str] = []
        for i in range(n):
            code = model.eval(self.frame(i).rec, model_completion=True)
            assert isinstance(code, z3.IntNumRef)
            out.append(self.codes[code.as_long()])
        return out

    def soft(self, n: int) -> list[z3.BoolRef]:
        """Preferences for a readable course: few known inputs at the start, time passing, no spontaneous change."""
        f0 = self.frame(0)
        lits: list[z3.BoolRef] = [mk_not(f0.inputs.known[v]) for v in self.spec.variables]
        lits += [self.frame(i).dt > 0 for i in range(n - 1)]
        for i in range(1, n):
            a, b = self.frame(i - 1), self.frame(i)
            for v in self.care.spontaneous:
                same_k = b.inputs.known[v] == a.inputs.known[v]
                lits.append(z3.And(same_k, z3.Implies(b.inputs.known[v], b.inputs.values[v] == a.inputs.values[v])))
        return lits

    def whole(self, n: int) -> list[z3.BoolRef]:
        """Preferences for whole numbers: hours passing and real-valued inputs."""
        reals = [v for v, var in self.spec.variables.items() if var.type.base == Base.REAL]
        lits: list[z3.BoolRef] = [z3.IsInt(self.frame(i).dt) for i in range(n - 1)]
        lits += [z3.IsInt(self.frame(i).inputs.number(v)) for i in range(n) for v in reals]
        return lits


def preferred_model(solver: z3.Solver, goal: Sequence[z3.BoolRef], *tiers: Sequence[z3.BoolRef]) -> z3.ModelRef:
    """A model of ``goal`` (satisfiable) keeping as many preference literals as the unsat cores allow.

    Tier by tier (as :func:`crs_model.verify.witness.minimal_model`): a literal in a
    core is dropped; a tier that leaves no model is dropped as a whole.
    """
    kept: list[z3.BoolRef] = []
    for tier in tiers:
        lits = {x.get_id(): x for x in tier}
        for _ in range(len(lits) + 1):
            r = check_fast(solver, [*goal, *kept, *lits.values()])
            if r == z3.sat:
                kept += lits.values()
                break
            if r == z3.unknown:
                break
            core = {c.get_id() for c in solver.unsat_core()}
            dropped = [k for k in lits if k in core]
            if not dropped:
                break
            for k in dropped:
                del lits[k]
    r = check_fast(solver, [*goal, *kept])
    if r != z3.sat:
        r = check_fast(solver, list(goal))
        if r != z3.sat:  # it was sat a moment ago: the budget ran out
            raise Undecided(solver.reason_unknown())
    return solver.model()


def _ite(c: z3.BoolRef, a: z3.ExprRef, b: z3.ExprRef) -> z3.ExprRef:
    """``If(c, a, b)`` for two booleans or two numbers."""
    if isinstance(a, z3.BoolRef):
        assert isinstance(b, z3.BoolRef)
        return z3.If(c, a, b)
    assert isinstance(a, z3.ArithRef)
    assert isinstance(b, z3.ArithRef)
    return z3.If(c, a, b)


def number(value: Fraction) -> int | float:
    """An exact model number as a patient value shows it (an int when whole)."""
    return int(value) if value.denominator == 1 else float(value)


def _fraction(raw: z3.ExprRef) -> Fraction:
    assert z3.is_rational_value(raw), "hours are linear: the model value is rational"
    assert isinstance(raw, z3.RatNumRef)
    return raw.as_fraction()


__all__ = ["Frame", "Monitor", "Unrolling", "number", "preferred_model"]
