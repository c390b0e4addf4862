"""Coverage goals of a regression suite, and which goals a set of cases covers (no solver).

Goal kinds, in the order a suite is generated and reported:

* ``edge``: every edge is taken by some case; ``outcome``: every outcome is reached definitively;
* ``threshold``: every constant a numeric input is compared with in a guard or definition, at the
  boundary value itself and at the nearest value on the other side (``STEP`` of its type), on a
  case whose path evaluates a guard (or reports an output) that reads the input;
* ``mcdc``: each *condition* of each guard shown to independently flip it. A guard's conditions
  are the leaves of its boolean structure with boolean definitions inlined (``IL-6 ≥ 500 pg/mL``
  inside "CytoSorb indication present"), one per occurrence. A pair of cases covers a condition
  when both evaluate the guard, the condition is known and differs, the guard is known and
  differs, and flipping the condition alone flips the guard in each case (it is *determinant*).
  *Unique-cause* MC/DC also holds every other condition at the same three-valued value; where
  that is impossible (coupled occurrences, conditions that cannot be known together) the goal
  is *masking* MC/DC, which lets a masked condition differ.

Everything here is evaluated with the engine's own three-valued closures
(:mod:`crs_model.pyeval`) on the engine's path, so a claimed goal is checked by the code that
decides, independently of the Z3 queries that generated the case (:mod:`.testgen`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from crs_model.engine import Decision, Engine
from crs_model.expr import BoolLit, Expr, Logic, Name, Not
from crs_model.index import SiteKind
from crs_model.model import INSUFFICIENT_DATA, Edge, HitPolicy, Spec
from crs_model.pyeval import Fn, compile_expr
from crs_model.text import Renderer, fmt_number
from crs_model.types import Base, SymbolKind

INT_STEP = 1
REAL_STEP = 0.1  # "the nearest value on the other side" of a real threshold: readable in a vignette
MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class GoalKind(enum.Enum):
    """What a goal asks of the suite."""

    EDGE = "edge"
    OUTCOME = "outcome"
    THRESHOLD = "threshold"
    MCDC = "mcdc"
    FLAG = "flag"  # a conditional flag both shown and not shown at its outcome


# ------------------------------------------------------------------ guard structure
@dataclass(frozen=True, slots=True)
class Skel:
    """A guard's boolean skeleton: ``op`` in and/or/implies/not over ``kids``, or a leaf.

    A leaf is a condition (``cond`` = its index in :attr:`Guard.conds`) or a literal (``const``).
    """

    op: str
    kids: tuple[Skel, ...] = ()
    cond: int = -1
    const: bool | None = None


@dataclass(frozen=True, slots=True)
class Guard:
    """One edge's guard as conditions under a boolean skeleton."""

    edge: Edge
    skel: Skel
    conds: tuple[Expr, ...]
    texts: tuple[str, ...]


V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Algebra(Generic[V]):
    """Kleene operations over some representation of a three-valued boolean (Python or Z3)."""

    true: V
    false: V
    and_: Callable[[V, V], V]
    or_: Callable[[V, V], V]
    not_: Callable[[V], V]


def combine(skel: Skel, leaf: Callable[[int], V], alg: Algebra[V]) -> V:
    """The skeleton's value from its conditions' values (``leaf(i)``), in ``alg``."""
    if skel.op == "cond":
        return leaf(skel.cond)
    if skel.op == "const":
        return alg.true if skel.const else alg.false
    if skel.op == "not":
        return alg.not_(combine(skel.kids[0], leaf, alg))
    a, b = (combine(k, leaf, alg) for k in skel.kids)
    if skel.op == "and":
        return alg.and_(a, b)
    if skel.op == "or":
        return alg.or_(a, b)
    return alg.or_(alg.not_(a), b)  # implies, as the engine reads it


def _k_and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return True if a is True and b is True else None


def _k_or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return False if a is False and b is False else None


KLEENE: Algebra[bool | None] = Algebra(True, False, _k_and, _k_or, lambda a: None if a is None else not a)


def guard_of(spec: Spec, edge: Edge, render: Renderer) -> Guard:
    """The guard of ``edge`` split into conditions (boolean definitions inlined)."""
    conds: list[Expr] = []
    defs = spec.definitions
    symbols = spec.symbols

    def walk(node: Expr) -> Skel:
        if isinstance(node, Logic):
            return Skel(node.op, (walk(node.left), walk(node.right)))
        if isinstance(node, Not):
            return Skel("not", (walk(node.operand),))
        if isinstance(node, BoolLit):
            return Skel("const", const=node.value)
        if isinstance(node, Name):
            sym = symbols[node.id]
            if sym.kind is SymbolKind.DEFINITION and sym.type.base == Base.BOOL:
                return walk(defs[node.id].formula.ast)
        conds.append(node)
        return Skel("cond", cond=len(conds) - 1)

    skel = walk(edge.guard.ast)
    return Guard(edge, skel, tuple(conds), tuple(render.render(c) for c in conds))


# ------------------------------------------------------------------ goals
@dataclass(frozen=True, slots=True)
class Goal:
    """One coverage goal. ``id`` is stable text (``edge:a->b``, ``threshold:il6_pg_ml=499.9``,
    ``mcdc:a->b:3``); ``text`` says it in clinical words."""

    kind: GoalKind
    id: str
    text: str
    edge: Edge | None = None  # edge and mcdc goals
    outcome: str | None = None  # outcome goals
    input: str | None = None  # threshold goals
    value: float | None = None
    cond: int = -1  # mcdc goals: the condition's index in the guard
    flag: str | None = None  # flag goals (with ``outcome``): the flag, and whether it is shown
    shown: bool = True


def _step(spec: Spec, name: str) -> float:
    return INT_STEP if spec.variables[name].type.base == Base.INT else REAL_STEP


def _value(spec: Spec, name: str, x: float) -> float:
    r = round(x, 6)
    return int(r) if spec.variables[name].type.base == Base.INT or float(r).is_integer() else r


def threshold_targets(spec: Spec) -> list[tuple[str, float, str]]:
    """``(input, value, why)`` per threshold goal: each comparison of an input with a constant in
    a guard, definition or flag condition, at the constant and the nearest value(s) on the other side; by input
    (declaration order), then value."""
    found: dict[tuple[str, float], str] = {}
    for c in spec.index.comparisons:
        if c.kind not in (SiteKind.GUARD, SiteKind.DEFINITION, SiteKind.FLAG):
            continue
        op = c.op if c.input_left else MIRROR[c.op]
        step = _step(spec, c.input)
        others = {">=": (-step,), "<": (-step,), ">": (step,), "<=": (step,)}.get(op, (-step, step))
        shown = f"{c.input} {op} {fmt_number(c.value)}"
        found.setdefault((c.input, _value(spec, c.input, c.value)), f"{shown}: at the threshold")
        for d in others:
            found.setdefault((c.input, _value(spec, c.input, c.value + d)), f"{shown}: the nearest value across")
    rank = {n: i for i, n in enumerate(spec.variables)}
    return [(n, v, why) for (n, v), why in sorted(found.items(), key=lambda kv: (rank[kv[0][0]], kv[0][1]))]


def goals_of(spec: Spec) -> tuple[tuple[Goal, ...], dict[str, Guard]]:
    """Every goal of ``spec`` in report order, and each edge's :class:`Guard` (by edge id)."""
    render = Renderer(spec.symbols)
    goals: list[Goal] = []
    guards: dict[str, Guard] = {}
    for nid in spec.index.node_order:
        for e in spec.nodes[nid].edges:
            guards[e.id] = guard_of(spec, e, render)
            goals.append(
                Goal(GoalKind.EDGE, f"edge:{e.id}", f"{nid} -> {e.target} when {render.render(e.guard.ast)}", e)
            )
    for oid in spec.outcomes:
        goals.append(Goal(GoalKind.OUTCOME, f"outcome:{oid}", f"outcome {oid} reached", outcome=oid))
    for name, value, why in threshold_targets(spec):
        text = f"{name} = {fmt_number(value)} ({why})"
        goals.append(Goal(GoalKind.THRESHOLD, f"threshold:{name}={fmt_number(value)}", text, input=name, value=value))
    for oid, o in spec.outcomes.items():
        for fl in o.flags:
            if fl.when is None:
                continue
            when = render.render(fl.when.ast)
            for shown, word in ((True, "shown"), (False, "not shown")):
                goals.append(
                    Goal(
                        GoalKind.FLAG,
                        f"flag:{oid}:{fl.id}:{'shown' if shown else 'hidden'}",
                        f"outcome {oid} with flag {fl.id} {word} ({when})",
                        outcome=oid,
                        flag=fl.id,
                        shown=shown,
                    )
                )
    for g in guards.values():
        for i, text in enumerate(g.texts):
            if isinstance(g.conds[i], BoolLit):
                continue
            goals.append(Goal(GoalKind.MCDC, f"mcdc:{g.edge.id}:{i + 1}", f"{text} flips {g.edge.id}", g.edge, cond=i))
    return tuple(goals), guards


# ------------------------------------------------------------------ what a case does
@dataclass(frozen=True, slots=True)
class Seen:
    """One evaluated guard on a case's path: each condition's value and the guard's."""

    conds: tuple[bool | None, ...]
    value: bool | None


@dataclass(frozen=True, slots=True)
class Facts:
    """What one case does on the engine: its decision, taken edges and evaluated guards."""

    patient: Mapping[str, Any]
    decision: Decision
    taken: frozenset[str]
    seen: Mapping[str, Seen]  # edge id -> its guard as evaluated on the path

    @property
    def definitive(self) -> bool:
        """A definitive decision (no absent input left it open)."""
        return self.decision.recommendation != INSUFFICIENT_DATA


class Checker:
    """Evaluates cases on the exact engine and tells which goals they cover."""

    def __init__(self, spec: Spec, engine: Engine | None = None) -> None:
        self.spec = spec
        self.engine = engine or Engine(spec)
        self.goals, self.guards = goals_of(spec)
        symbols = spec.symbols
        self._conds: dict[str, tuple[Fn, ...]] = {
            eid: tuple(compile_expr(c, symbols) for c in g.conds) for eid, g in self.guards.items()
        }
        self._readers: dict[str, set[str]] = {}  # input -> edges whose guard reads it, outcomes whose output does
        flag_at: dict[str, set[str]] = {}  # flag id -> the outcomes that show it
        for oid, o in spec.outcomes.items():
            for fl in o.flags:
                flag_at.setdefault(fl.id, set()).add(oid)
        for site in spec.index.sites:
            if site.kind in (SiteKind.GUARD, SiteKind.OUTPUT):
                keys = {site.element.removeprefix("edge:").removeprefix("outcome:")}
            elif site.kind is SiteKind.FLAG:
                keys = flag_at.get(site.element.removeprefix("flag:"), set())
            else:
                continue
            for v in site.inputs:
                self._readers.setdefault(v, set()).update(keys)

    def readers(self, name: str) -> tuple[str, ...]:
        """The edges whose guard, and the outcomes whose outputs, read input ``name`` (sorted)."""
        return tuple(sorted(self._readers.get(name, ())))

    def facts(self, patient: Mapping[str, Any]) -> Facts:
        """Decide ``patient`` and read its guards (raises ``PatientError``/``SpecDefectError``)."""
        d = self.engine.evaluate(patient)
        env = self.engine.environment(patient)
        taken = {f"{a}->{b}" for a, b in zip(d.path, d.path[1:], strict=False)}
        seen: dict[str, Seen] = {}
        for nid in d.path:
            node = self.spec.nodes.get(nid)
            if node is None:
                continue
            for e in node.edges:
                g = self.guards[e.id]
                vals = tuple(fn(env) for fn in self._conds[e.id])
                value = combine(g.skel, vals.__getitem__, KLEENE)
                seen[e.id] = Seen(vals, value)
                if node.hit_policy is HitPolicy.FIRST and value is not False:
                    break  # later guards of a first-hit node are not evaluated
        return Facts(patient, d, frozenset(taken), seen)

    def determinant(self, guard: Guard, s: Seen, i: int) -> bool:
        """Flipping condition ``i`` alone flips the guard (both values known)."""
        hi = combine(guard.skel, lambda j: True if j == i else s.conds[j], KLEENE)
        lo = combine(guard.skel, lambda j: False if j == i else s.conds[j], KLEENE)
        return hi is not None and lo is not None and hi != lo

    # ------------------------------------------------------------ goals
    def single(self, goal: Goal, f: Facts) -> bool:
        """Whether one case covers an edge, outcome, threshold or flag goal."""
        if not f.definitive:
            return False
        if goal.kind is GoalKind.EDGE:
            assert goal.edge is not None
            return goal.edge.id in f.taken
        if goal.kind is GoalKind.OUTCOME:
            return f.decision.outcome == goal.outcome
        if goal.kind is GoalKind.FLAG:
            d = f.decision
            shown = any(x.id == goal.flag for x in d.flags)
            open_ = any(x.note.id == goal.flag for x in d.possible_flags)
            return d.outcome == goal.outcome and not open_ and shown == goal.shown
        assert goal.input is not None
        x = f.patient.get(goal.input)
        if x is None or isinstance(x, bool) or x != goal.value:
            return False
        readers = self._readers.get(goal.input, set())
        return any(e in readers for e in f.seen) or f.decision.outcome in readers

    def pair(self, goal: Goal, a: Facts, b: Facts, *, unique: bool) -> bool:
        """Whether cases ``a`` and ``b`` show the goal's condition independently flipping its guard."""
        assert goal.edge is not None
        guard, i = self.guards[goal.edge.id], goal.cond
        sa, sb = a.seen.get(guard.edge.id), b.seen.get(guard.edge.id)
        if sa is None or sb is None or not (a.definitive and b.definitive):
            return False
        ca, cb = sa.conds[i], sb.conds[i]
        if ca is None or cb is None or ca == cb or sa.value is None or sb.value is None or sa.value == sb.value:
            return False
        if unique and any(sa.conds[j] != sb.conds[j] for j in range(len(guard.conds)) if j != i):
            return False
        return self.determinant(guard, sa, i) and self.determinant(guard, sb, i)

    def find_pair(self, goal: Goal, facts: Sequence[Facts], *, unique: bool) -> tuple[int, int] | None:
        """The first pair of cases (by position) that covers an mcdc goal, or None."""
        assert goal.edge is not None
        eid = goal.edge.id
        cands = [k for k, f in enumerate(facts) if eid in f.seen and f.definitive]
        for x, j in enumerate(cands):
            for k in cands[x + 1 :]:
                if self.pair(goal, facts[j], facts[k], unique=unique):
                    return (j, k)
        return None

    def find(self, goal: Goal, facts: Sequence[Facts], *, unique: bool = True) -> tuple[int, ...] | None:
        """The first case (or pair) covering ``goal``, as positions in ``facts``, or None."""
        if goal.kind is GoalKind.MCDC:
            return self.find_pair(goal, facts, unique=unique)
        for k, f in enumerate(facts):
            if self.single(goal, f):
                return (k,)
        return None


def decision_key(spec: Spec, d: Decision) -> dict[str, Any]:
    """What a suite records of a decision: recommendation, outcome, every declared output, the
    actions and flags (by id, so that a flags-only change is a changed case), and, on
    ``insufficient_data``, what is missing."""
    out: dict[str, Any] = {"recommendation": d.recommendation, "outcome": d.outcome}
    out.update(dict(d.outputs))
    out["actions"] = [a.id for a in d.actions]
    out["flags"] = [f.id for f in d.flags]
    if d.possible_flags:
        out["possible_flags"] = [p.note.id for p in d.possible_flags]
    if d.recommendation == INSUFFICIENT_DATA:
        out["missing"] = list(d.missing)
        out["missing_any_of"] = [list(s) for s in d.missing_any_of]
    return out


__all__ = [
    "INT_STEP",
    "KLEENE",
    "REAL_STEP",
    "Algebra",
    "Checker",
    "Facts",
    "Goal",
    "GoalKind",
    "Guard",
    "Seen",
    "Skel",
    "combine",
    "decision_key",
    "goals_of",
    "guard_of",
    "threshold_targets",
]
