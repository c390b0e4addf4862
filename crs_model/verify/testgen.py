"""Generated regression suites: a Z3 query per coverage goal, canonical vignettes, proven gaps.

For each goal of :mod:`.coverage` in order, a case the suite already has may cover it (checked
on the engine); otherwise Z3 is asked for a valid patient (domains, enum ranges, consistency
constraints) on the spec's :class:`~crs_model.verify.encoding.Encoding`, which models the
three-valued engine. Every query also asks for a definitive three-valued decision, which the
exact engine then gives too. MC/DC asks for a pair of patients at once: a second copy of the
inputs with its own reach formulas. An *unsat* answer proves the goal infeasible (listed with
the unsat core's domain bounds and constraints); *unknown* raises :class:`Undecided`.

Cases are canonical, a function of the spec and not of the model the solver returns: inputs
are left absent wherever the goal allows, in declaration order, and each known input takes the
first value that works in a fixed order (a bool false then true, an enum's values in order, a
number the thresholds the spec compares it with, then their neighbours one step away, then its
domain bounds). Every case is then run through the default exact :class:`~crs_model.Engine`,
which records ``expect``, and the goal is re-checked on the engine (:class:`.coverage.Checker`);
a disagreement is a :class:`GenerationError`, never a silent skip.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import z3

from crs_model.errors import CrsModelError, PatientError, SpecDefectError
from crs_model.model import HitPolicy, Spec
from crs_model.types import Base
from crs_model.verify.capi import mk_and, mk_not, mk_or
from crs_model.verify.coverage import (
    Algebra,
    Checker,
    Facts,
    Goal,
    GoalKind,
    Guard,
    combine,
    decision_key,
)
from crs_model.verify.encoding import Encoding, Inputs, Undecided
from crs_model.verify.limits import DEFAULT_RLIMIT
from crs_model.verify.z3expr import Translator, Tri, numeral

ABSENT = "absent"  # the absent-input kind: sampled from the suite's cases, not a proof goal


class GenerationError(CrsModelError):
    """A generated case does not do on the engine what the solver said (an internal defect)."""


@dataclass(frozen=True, slots=True)
class Case:
    """One vignette: a patient, the decision recorded for it, and the goals it is the witness of."""

    name: str
    patient: Mapping[str, Any]
    expect: Mapping[str, Any]
    covers: tuple[str, ...] = ()

    def to_json(self) -> str:
        """One JSONL line (no newline)."""
        obj = {
            "name": self.name,
            "patient": dict(self.patient),
            "expect": dict(self.expect),
            "covers": list(self.covers),
        }
        return json.dumps(obj, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Status:
    """A goal's result: ``covered`` (``masking`` for an MC/DC goal whose unique-cause form is
    proven impossible), ``infeasible`` with the reason Z3's unsat core gives, or (analysing a
    given suite) ``uncovered`` although feasible."""

    goal: Goal
    state: str  # covered | infeasible | uncovered
    masking: bool = False
    reason: str = ""


@dataclass(slots=True)
class Suite:
    """A suite and the status of every goal."""

    spec: Spec
    cases: list[Case]
    statuses: list[Status]
    absent: list[str] = field(default_factory=list)  # inputs whose absence changes some case's decision

    def counts(self) -> dict[str, tuple[int, int, int]]:
        """Per kind: (covered, feasible, infeasible)."""
        out: dict[str, tuple[int, int, int]] = {}
        for kind in GoalKind:
            ss = [s for s in self.statuses if s.goal.kind is kind]
            covered = sum(s.state == "covered" for s in ss)
            infeasible = sum(s.state == "infeasible" for s in ss)
            out[kind.value] = (covered, len(ss) - infeasible, infeasible)
        return out

    def jsonl(self) -> str:
        """The suite file's text."""
        return "".join(c.to_json() + "\n" for c in self.cases)

    def summary(self) -> str:
        """The coverage achieved, per goal kind, with the infeasible and masking goals listed."""
        lines = [f"coverage: {len(self.cases)} cases"]
        for kind, (cov, feas, inf) in self.counts().items():
            masking = sum(s.masking for s in self.statuses if s.goal.kind.value == kind)
            extra = f", {masking} by masking MC/DC" if masking else ""
            lines.append(f"  {kind:<10} {cov} of {feas} feasible goals covered; {inf} infeasible{extra}")
        lines.append(f"  {ABSENT:<10} {len(self.absent)} inputs whose absence changes a case's decision (sampled)")
        bad = [s for s in self.statuses if s.state == "uncovered"]
        if bad:
            lines.append("feasible goals not covered:")
            lines.extend(f"  {s.goal.id}: {s.goal.text}" for s in bad)
        inf_list = [s for s in self.statuses if s.state == "infeasible"]
        if inf_list:
            lines.append("infeasible goals (proven by Z3):")
            lines.extend(f"  {s.goal.id}: {s.goal.text}: {s.reason}" for s in inf_list)
        masks = [s for s in self.statuses if s.masking]
        if masks:
            lines.append("masking MC/DC (unique-cause proven impossible):")
            lines.extend(f"  {s.goal.id}: {s.goal.text}" for s in masks)
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary (``crs-model testgen --format json``)."""
        return {
            "cases": len(self.cases),
            "kinds": {k: {"covered": c, "feasible": f, "infeasible": i} for k, (c, f, i) in self.counts().items()},
            "absent": list(self.absent),
            "goals": [
                {"id": s.goal.id, "kind": s.goal.kind.value, "text": s.goal.text, "status": s.state}
                | ({"masking": True} if s.masking else {})
                | ({"reason": s.reason} if s.reason else {})
                for s in self.statuses
            ],
        }


def _z3_algebra(ctx: z3.Context) -> Algebra[Tri]:
    t, f = z3.BoolVal(True, ctx), z3.BoolVal(False, ctx)
    return Algebra(
        Tri(t, f),
        Tri(f, t),
        lambda a, b: Tri(mk_and(a.t, b.t), mk_or(a.f, b.f)),
        lambda a, b: Tri(mk_or(a.t, b.t), mk_and(a.f, b.f)),
        lambda a: Tri(a.f, a.t),
    )


@dataclass(slots=True)
class _Copy:
    """One patient copy: inputs, translator, and "reaches" per node and outcome."""

    inputs: Inputs
    tr: Translator
    reach: dict[str, z3.BoolRef]
    definitive: z3.BoolRef


class Generator:
    """The Z3 side: one encoding, two patient copies, canonical models."""

    def __init__(self, spec: Spec, checker: Checker, *, rlimit: int = DEFAULT_RLIMIT) -> None:
        self.spec = spec
        self.checker = checker
        self.enc = enc = Encoding(spec, rlimit=rlimit)
        self.alg = _z3_algebra(enc.ctx)
        reach_a = {k: enc.reach_lit(k) for k in (*spec.nodes, *spec.outcomes)}
        definitive_a = mk_or(*(o.definitive for o in enc.outcomes.values()), ctx=enc.ctx)
        q, trq, _link = enc.completion()  # a second copy of the inputs and background (never linked here)
        self.a = _Copy(enc.inputs, enc.tr, reach_a, definitive_a)
        self.b = self._copy(q, trq)
        self._cands = {n: self._candidates(n) for n in spec.variables}

    def _copy(self, inputs: Inputs, tr: Translator) -> _Copy:
        """Reach formulas of a second copy (the same hit policies as :class:`Encoding`, as equivalences)."""
        spec, ctx = self.spec, self.enc.ctx
        incoming: dict[str, list[z3.BoolRef]] = {k: [] for k in (*spec.nodes, *spec.outcomes)}
        reach: dict[str, z3.BoolRef] = {}
        for nid in spec.index.node_order:
            node = spec.nodes[nid]
            r = reach[nid] = z3.BoolVal(True, ctx) if nid == spec.entry else mk_or(*incoming[nid], ctx=ctx)
            gs = [tr.tri(e.guard.ast) for e in node.edges]
            for i, e in enumerate(node.edges):
                others = gs[:i] if node.hit_policy is HitPolicy.FIRST else gs[:i] + gs[i + 1 :]
                incoming[e.target].append(mk_and(r, gs[i].t, *(g.f for g in others)))
        outs = []
        for oid, o in spec.outcomes.items():
            reach[oid] = mk_or(*incoming[oid], ctx=ctx)
            outs.append(mk_and(reach[oid], *(Encoding.known_of(tr.name(n)) for n in o.outputs)))
        return _Copy(inputs, tr, reach, mk_or(*outs, ctx=ctx))

    # ------------------------------------------------------------ goal formulas
    def evaluated(self, c: _Copy, edge_id: str) -> z3.BoolRef:
        """The copy's path evaluates this edge's guard."""
        e = self.spec.index.edges[edge_id]
        node = self.spec.nodes[e.source]
        earlier = [c.tr.tri(x.guard.ast).f for x in node.edges[: e.index]] if node.hit_policy is HitPolicy.FIRST else []
        return mk_and(c.reach[e.source], *earlier)

    def single(self, goal: Goal) -> z3.BoolRef:
        """Edge, outcome, threshold or flag goal on copy A, with a definitive decision."""
        a, enc = self.a, self.enc
        if goal.kind is GoalKind.EDGE:
            assert goal.edge is not None
            return mk_and(enc.edge_of(goal.edge), a.definitive)
        if goal.kind is GoalKind.OUTCOME:
            assert goal.outcome is not None
            return enc.outcomes[goal.outcome].definitive
        if goal.kind is GoalKind.FLAG:
            assert goal.outcome is not None
            fl = next(x for x in self.spec.outcomes[goal.outcome].flags if x.id == goal.flag)
            assert fl.when is not None
            when = a.tr.tri(fl.when.ast)
            return mk_and(enc.outcomes[goal.outcome].definitive, when.t if goal.shown else when.f)
        assert goal.input is not None
        assert goal.value is not None
        readers = self.checker.readers(goal.input)
        where = [self.evaluated(a, k) if k in self.spec.index.edges else enc.outcomes[k].definitive for k in readers]
        return mk_and(self._is(a.inputs, goal.input, goal.value), mk_or(*where, ctx=enc.ctx), a.definitive)

    def mcdc(self, goal: Goal, *, unique: bool) -> z3.BoolRef:
        """A pair (A, B): condition true in A, false in B, the guard flips, the condition determinant in both."""
        assert goal.edge is not None
        guard = self.checker.guards[goal.edge.id]
        i = goal.cond
        parts: list[z3.BoolRef] = []
        terms: list[list[Tri]] = []
        for c in (self.a, self.b):
            cs = [c.tr.tri(x) for x in guard.conds]
            terms.append(cs)
            parts += [self.evaluated(c, goal.edge.id), c.definitive, self._determinant(guard, cs, i)]
        (ta, tb) = terms
        parts += [ta[i].t, tb[i].f]
        if unique:
            for j in range(len(guard.conds)):
                if j != i:
                    parts += [ta[j].t == tb[j].t, ta[j].f == tb[j].f]
        return mk_and(*parts)

    def _determinant(self, guard: Guard, cs: Sequence[Tri], i: int) -> z3.BoolRef:
        hi = combine(guard.skel, lambda j: self.alg.true if j == i else cs[j], self.alg)
        lo = combine(guard.skel, lambda j: self.alg.false if j == i else cs[j], self.alg)
        return mk_or(mk_and(hi.t, lo.f), mk_and(hi.f, lo.t))

    # ------------------------------------------------------------ solving
    def _sat(self, *lits: z3.BoolRef) -> bool:
        r = self.enc.check(*lits)
        if r == z3.unknown:
            raise Undecided(self.enc.solver.reason_unknown())
        return bool(r == z3.sat)

    def why_not(self, goal_f: z3.BoolRef) -> str | None:
        """None when the goal is satisfiable, else the unsat core's parts in words (the proof's premises)."""
        if self._sat(goal_f):
            return None
        parts = sorted({p.text for p in self.enc.core_parts()})
        if not parts:
            return "no valid patient: the guards and hit policies on the way exclude it"
        return "no valid patient: " + "; ".join(parts)

    def _is(self, inputs: Inputs, name: str, value: object) -> z3.BoolRef:
        var = self.spec.variables[name]
        v = inputs.values[name]
        if var.type.base == Base.BOOL:
            assert isinstance(v, z3.BoolRef)
            eq = v if value is True else mk_not(v)
        else:
            assert isinstance(v, z3.ArithRef)
            if var.type.base == Base.ENUM:
                assert isinstance(value, str)
                eq = v == var.type.values.index(value)
            else:
                assert isinstance(value, (int, float, Fraction))
                assert not isinstance(value, bool)
                eq = v == numeral(value, var.type.base == Base.INT, self.enc.ctx)
        return mk_and(inputs.known[name], eq)

    def _candidates(self, name: str) -> tuple[object, ...]:
        """The values a known input tries, in order (see the module docstring)."""
        var = self.spec.variables[name]
        base = var.type.base
        if base == Base.BOOL:
            return (False, True)
        if base == Base.ENUM:
            return tuple(var.type.values)
        step = 1 if base == Base.INT else 0.1
        ts = self.spec.index.thresholds.get(name, ())
        raw = [*ts, *sorted({round(t + d, 6) for t in ts for d in (-step, step)})]
        raw += [b for b in (var.minimum, var.maximum) if b is not None]
        lo = var.minimum if var.minimum is not None else float("-inf")
        hi = var.maximum if var.maximum is not None else float("inf")
        out: dict[object, None] = {}
        for x in raw:
            if lo <= x <= hi and (base != Base.INT or float(x).is_integer()):
                out.setdefault(int(x) if float(x).is_integer() else x)
        return tuple(out)

    def canonical(self, goal_f: z3.BoolRef, copies: Sequence[_Copy]) -> list[dict[str, Any]]:
        """Patients of a satisfiable goal: absent inputs where possible, first-fit values (module docstring)."""
        fixed: list[z3.BoolRef] = [goal_f]
        known: list[list[str]] = []
        for c in copies:
            ks: list[str] = []
            for name in self.spec.variables:
                absent = mk_not(c.inputs.known[name])
                if self._sat(*fixed, absent):
                    fixed.append(absent)
                else:
                    fixed.append(c.inputs.known[name])
                    ks.append(name)
            known.append(ks)
        for c, ks in zip(copies, known, strict=True):
            for name in ks:
                for value in self._cands[name]:
                    lit = self._is(c.inputs, name, value)
                    if self._sat(*fixed, lit):
                        fixed.append(lit)
                        break
                else:
                    fixed.append(self._model_value(fixed, c.inputs, name))
        if not self._sat(*fixed):  # pragma: no cover - each step kept the query satisfiable
            raise GenerationError("a canonical model was lost")
        model = self.enc.solver.model()
        return [self.enc.witness(model, c.inputs) for c in copies]

    def _model_value(self, fixed: list[z3.BoolRef], inputs: Inputs, name: str) -> z3.BoolRef:
        """A value no candidate gave: a whole number when one works, else the model's."""
        v = inputs.number(name)
        if self.spec.variables[name].type.base == Base.REAL and self._sat(*fixed, z3.IsInt(v)):
            fixed.append(z3.IsInt(v))
        self._sat(*fixed)
        raw = self.enc.solver.model().eval(v, model_completion=True)
        assert z3.is_rational_value(raw), f"a rational model value for {name}"
        return mk_and(inputs.known[name], v == raw)


# ------------------------------------------------------------------ the pipeline
class _Build:
    """Cases so far, their engine facts, and the statuses of the goals."""

    def __init__(self, spec: Spec, checker: Checker) -> None:
        self.spec, self.checker = spec, checker
        self.names: list[str] = []
        self.facts: list[Facts] = []

    def add(self, name: str, patient: dict[str, Any]) -> int:
        try:
            f = self.checker.facts(patient)
        except (PatientError, SpecDefectError) as exc:
            raise GenerationError(f"generated case {name} is refused by the engine: {exc}") from exc
        self.names.append(name)
        self.facts.append(f)
        return len(self.facts) - 1


def generate(spec: Spec, *, rlimit: int = DEFAULT_RLIMIT) -> Suite:
    """Generate the suite of ``spec``: every feasible goal covered, every infeasible goal proven so."""
    checker = Checker(spec)
    gen = Generator(spec, checker, rlimit=rlimit)
    build = _Build(spec, checker)
    statuses: list[Status] = []
    for goal in checker.goals:
        statuses.append(_reach(goal, gen, build))
    absent = _absent_cases(spec, build)
    return _finish(spec, build, statuses, absent)


def _reach(goal: Goal, gen: Generator, build: _Build) -> Status:
    checker = build.checker
    if goal.kind is not GoalKind.MCDC:
        if checker.find(goal, build.facts) is not None:
            return Status(goal, "covered")
        f = gen.single(goal)
        why = gen.why_not(f)
        if why is not None:
            return Status(goal, "infeasible", reason=why)
        (patient,) = gen.canonical(f, [gen.a])
        k = build.add(goal.id, patient)
        if not checker.single(goal, build.facts[k]):
            raise GenerationError(f"case {goal.id} does not cover its goal on the engine: {build.facts[k].decision}")
        return Status(goal, "covered")
    for unique in (True, False):
        if checker.find(goal, build.facts, unique=unique) is not None:
            return Status(goal, "covered", masking=not unique)
        f = gen.mcdc(goal, unique=unique)
        why = gen.why_not(f)
        if why is None:
            pa, pb = gen.canonical(f, [gen.a, gen.b])
            ka, kb = build.add(f"{goal.id}:true", pa), build.add(f"{goal.id}:false", pb)
            if not checker.pair(goal, build.facts[ka], build.facts[kb], unique=unique):
                raise GenerationError(f"the pair for {goal.id} does not show MC/DC on the engine")
            return Status(goal, "covered", masking=not unique)
        if not unique:
            return Status(goal, "infeasible", reason=why)
    raise AssertionError("unreachable")  # pragma: no cover


def _absent_cases(spec: Spec, build: _Build) -> list[str]:
    """Per input, the first case whose decision changes when that input is removed: a new case."""
    found: list[str] = []
    cases = list(zip(build.names, build.facts, strict=True))
    for name in spec.variables:
        for _, f in cases:
            if name not in f.patient or not f.definitive:
                continue
            p = {k: v for k, v in f.patient.items() if k != name}
            try:
                d = build.checker.engine.evaluate(p)
            except (PatientError, SpecDefectError):
                continue  # removing it breaks a constraint: not an absence pattern
            if decision_key(spec, d) != decision_key(spec, f.decision):
                build.add(f"{ABSENT}:{name}", p)
                found.append(name)
                break
    return found


def _finish(spec: Spec, build: _Build, statuses: list[Status], absent: list[str]) -> Suite:
    """Name each goal at its first witness (case or pair), drop cases that witness nothing."""
    covers: list[list[str]] = [[] for _ in build.facts]
    for s in statuses:
        if s.state != "covered":
            continue
        at = build.checker.find(s.goal, build.facts, unique=not s.masking)
        if at is None:  # pragma: no cover - it was covered when its status was set
            raise GenerationError(f"goal {s.goal.id} lost its witness")
        for k in at:
            covers[k].append(s.goal.id)
    for k, n in enumerate(build.names):
        if n.startswith(f"{ABSENT}:"):
            covers[k].append(n)
    cases = [
        Case(n, dict(f.patient), decision_key(spec, f.decision), tuple(cv))
        for n, f, cv in zip(build.names, build.facts, covers, strict=True)
        if cv
    ]
    return Suite(spec, cases, statuses, absent)


def analyse(spec: Spec, cases: Sequence[Case], *, rlimit: int = DEFAULT_RLIMIT) -> Suite:
    """The coverage of a given suite: goals covered on the engine; Z3 only for the others (infeasible,
    or feasible and not covered) and for MC/DC goals covered only by masking pairs."""
    checker = Checker(spec)
    build = _Build(spec, checker)
    for c in cases:
        try:
            build.add(c.name, dict(c.patient))
        except GenerationError:
            continue  # a patient the spec now refuses covers nothing (regress reports it as changed)
    gen: Generator | None = None
    statuses: list[Status] = []
    for goal in checker.goals:
        status = Status(goal, "uncovered")
        for unique in (True, False) if goal.kind is GoalKind.MCDC else (True,):
            if checker.find(goal, build.facts, unique=unique) is not None:
                status = Status(goal, "covered", masking=not unique)
                break
            gen = gen or Generator(spec, checker, rlimit=rlimit)
            why = gen.why_not(gen.mcdc(goal, unique=unique) if goal.kind is GoalKind.MCDC else gen.single(goal))
            if why is None:
                status = Status(goal, "uncovered")
                break
            status = Status(goal, "infeasible", reason=why)
        statuses.append(status)
    absent = [c.name.removeprefix(f"{ABSENT}:") for c in cases if c.name.startswith(f"{ABSENT}:")]
    return Suite(spec, list(cases), statuses, absent)


__all__ = [
    "ABSENT",
    "Case",
    "GenerationError",
    "Generator",
    "Status",
    "Suite",
    "analyse",
    "generate",
]
