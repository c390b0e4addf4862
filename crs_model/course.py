"""The reference semantics of a care course: what one step does, and what temporal invariants mean.

A spec's ``care`` section (:class:`~crs_model.model.Care`) says how a patient's
state moves from one consultation to the next. This module is the one executable
reading of it, in plain Python on the engine: the care-course fuzzer plays courses
with it, and the bounded model checker replays every counterexample course through
it, so the solver's encoding and this code must agree on every course.

One step from state ``s`` (a valid patient) at hour ``t``:

1. the engine decides on ``s``;
2. the care team follows the recommendation: every ``set`` of its ``follow``
   entry is evaluated on ``s`` (inputs, parameters, definitions), all at once;
   an unknown value makes the input unknown;
3. ``hours`` pass (``step_min_h <= hours <= step_max_h``): every known clock
   input grows by them, capped at its declared maximum;
4. every spontaneous input may take any value of its domain or become unknown
   (the caller chooses: a fuzzer draws, a solver searches);
5. the result must be a valid patient again.

A temporal invariant is evaluated at every step on that step's values plus
``recommendation``, ``has_action``/``has_flag``, and two counts over the *earlier*
steps of the same course: ``count_before(c)`` (steps where ``c`` was true) and
``count_within(h, c)`` (such steps less than ``h`` hours before this one). A
condition that was unknown at an earlier step is not counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crs_model.engine import Decision, Engine, invariant_env
from crs_model.exact import arith, exact
from crs_model.expr import TEMPORAL_FUNCTIONS, Call, Expr, Name, Num, replace
from crs_model.model import Care, Spec, TemporalInvariant
from crs_model.pyeval import Fn, compile_expr
from crs_model.types import INT, Symbol, SymbolKind

# Synthetic names that stand for a temporal count once split out; '#' keeps them apart from
# every spec identifier (those match [a-z][a-z0-9_]*).
_COUNT_PREFIX = "count#"


@dataclass(frozen=True, slots=True)
class TemporalTerm:
    """One ``count_before``/``count_within`` call of a temporal invariant, split out.

    ``name`` is the synthetic name that replaces the call in the invariant's
    formula; ``window`` is the hours expression of ``count_within`` (a number or a
    parameter) or None for ``count_before``; ``cond`` is the counted condition.
    """

    name: str
    window: Expr | None
    cond: Expr


def split_temporal(ast: Expr) -> tuple[Expr, tuple[TemporalTerm, ...]]:
    """``ast`` with each temporal call replaced by a synthetic name, and the calls.

    The rest of the formula is an ordinary invariant over one step; each term is
    computed from the earlier steps (here in Python, in :mod:`crs_model.verify.bmc`
    in Z3) and bound to its name.
    """
    terms: list[TemporalTerm] = []

    def cut(node: Expr) -> Expr | None:
        if isinstance(node, Call) and node.func in TEMPORAL_FUNCTIONS:
            name = f"{_COUNT_PREFIX}{len(terms)}"
            window = node.args[0] if node.func == "count_within" else None
            terms.append(TemporalTerm(name, window, node.args[-1]))
            return Name(name, node.pos)
        return None

    return replace(ast, cut), tuple(terms)


def window_hours(spec: Spec, term: TemporalTerm) -> Any:
    """The exact hours of a ``count_within`` window (a literal or a parameter's value)."""
    w = term.window
    if w is None:
        raise ValueError(f"{term.name} is a count_before term: it has no window")
    if isinstance(w, Num):
        return w.exact
    assert isinstance(w, Name), "the type checker allows a number or a parameter only"
    return exact(spec.parameters[w.id].value)


def count_symbols(terms: Sequence[TemporalTerm]) -> dict[str, Symbol]:
    """Symbols for the synthetic count names (integers), to compile a split formula."""
    return {t.name: Symbol(t.name, SymbolKind.VARIABLE, INT, label=t.name) for t in terms}


@dataclass(frozen=True, slots=True)
class CourseStep:
    """One consultation of a course: its hour since the start, the validated inputs and the decision."""

    hour: Any  # exact (int, Fraction or Decimal-backed) hours since the course started
    inputs: Mapping[str, Any]
    decision: Decision


@dataclass(frozen=True, slots=True)
class _Monitor:
    invariant: TemporalInvariant
    check: Fn
    terms: tuple[tuple[TemporalTerm, Fn, Any], ...]  # (term, condition, window hours or None)


class CourseSemantics:
    """Executable care-course semantics for one spec (it must have a ``care`` section)."""

    def __init__(self, engine: Engine) -> None:
        spec = engine.spec
        if spec.care is None:
            raise ValueError(f"{spec.path}: the spec has no care section")
        self.engine = engine
        self.spec = spec
        self.care: Care = spec.care
        sym = spec.symbols
        self._sets: dict[str, tuple[tuple[str, Fn | None], ...]] = {
            code: tuple((n, compile_expr(f.ast, sym) if f is not None else None) for n, f in follow.sets)
            for code, follow in self.care.follow.items()
        }
        self._start = compile_expr(self.care.start.ast, sym)
        self._max = {n: spec.variables[n].maximum for n in self.care.clock}
        monitors: list[_Monitor] = []
        for inv in spec.temporal_invariants:
            body, terms = split_temporal(inv.formula.ast)
            scope = {**spec.invariant_symbols, **count_symbols(terms)}
            compiled = tuple(
                (
                    t,
                    compile_expr(t.cond, spec.invariant_symbols),
                    window_hours(spec, t) if t.window is not None else None,
                )
                for t in terms
            )
            monitors.append(_Monitor(inv, compile_expr(body, scope), compiled))
        self._monitors = tuple(monitors)

    # ------------------------------------------------------------ one step
    def starts(self, inputs: Mapping[str, Any]) -> bool:
        """Whether a validated state may open a course (``care.start`` is true on it)."""
        return self._start(self.engine.environment(dict(inputs))) is True

    def follow(self, inputs: Mapping[str, Any], decision: Decision) -> dict[str, Any]:
        """The inputs after the care team followed ``decision`` (step 2); absent keys = unknown."""
        sets = self._sets.get(decision.recommendation, ())
        env = decision.values
        out = dict(inputs)
        new = [(name, fn(env) if fn is not None else None) for name, fn in sets]  # all read the old state
        for name, value in new:
            if value is None:
                out.pop(name, None)
            else:
                out[name] = value
        return out

    def advance(self, inputs: Mapping[str, Any], hours: Any) -> dict[str, Any]:
        """The inputs after ``hours`` passed (step 3): known clock inputs grow, capped at their maximum."""
        out = dict(inputs)
        for name in self.care.clock:
            v = out.get(name)
            if v is None:
                continue
            grown = arith("+", v, hours)
            cap = self._max[name]
            # the cap as declared (a float or an int), not its exact Fraction: the validator takes JSON numbers
            out[name] = min(grown, cap, key=exact) if cap is not None else grown
        return out

    # ------------------------------------------------------------ temporal invariants
    def violations(self, history: Sequence[CourseStep]) -> list[str]:
        """Ids of temporal invariants not *true* at the last step of ``history`` (unknown counts as violated)."""
        if not history:
            return []
        now = history[-1]
        env = invariant_env(now.decision)
        earlier = [(step.hour, invariant_env(step.decision)) for step in history[:-1]]
        bad: list[str] = []
        for m in self._monitors:
            local = dict(env)
            for term, cond, window in m.terms:
                local[term.name] = sum(
                    1
                    for hour, e in earlier
                    if cond(e) is True and (window is None or exact(arith("-", now.hour, hour)) < exact(window))
                )
            if m.check(local) is not True:
                bad.append(m.invariant.id)
        return bad
