"""Care courses played as a Hypothesis state machine, driven only by the spec's ``care`` section.

A course starts from a drawn valid patient on which ``care.start`` holds. At every
consultation the engine decides; the decision's invariants and the spec's temporal
invariants over the course so far must hold. Then the care team follows the
recommendation (``care.follow``), hours pass (the clock inputs grow) and a drawn
subset of the spontaneous inputs change by themselves, exactly as
:class:`crs_model.course.CourseSemantics` defines a step. A failure shrinks to a
short course, told as a dated story (:mod:`._care_story`).

Every name, code and number here comes from the spec: this module knows no
clinical word. A spec without a ``care`` section has no courses to play: the
property is skipped with that reason, never passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from crs_model.course import CourseSemantics, CourseStep, split_temporal, window_hours
from crs_model.engine import Decision, Engine
from crs_model.errors import PatientError, SpecDefectError
from crs_model.exact import arith
from crs_model.model import Spec
from crs_model.testing._backend import with_backend
from crs_model.testing._boundaries import REAL_STEP
from crs_model.testing._care_story import Move, State, StoryTeller
from crs_model.testing._properties import PropertyResult, lean_gc
from crs_model.testing._strategies import (
    _SLOT,
    _absent_per_256,
    _decode_inputs,
    _decoders,
    _Source,
    input_model,
    patient_decoder,
)
from crs_model.vocabulary import value_text

START_ATTEMPTS = 8  # drawn patients per course before it counts as not started
REDRAWS = 4  # spontaneous changes drawn per step before "nothing changed by itself"
MAX_CHANGES = 3  # spontaneous inputs that change in one step, at most (more make most next states invalid)
_UNKNOWN_PROBABILITY = 0.1  # a spontaneous change makes the input unknown (as a patient's input is absent)
_STEER_BYTES = 16  # choices for steering a drawn patient onto ``care.start``
_COURSES_PER_BUDGET = 5  # a course is up to ``steps`` consultations: fewer courses than examples


def step_hours(spec: Spec) -> tuple[Any, ...]:
    """The step lengths a course favours: ``step_min_h`` (the shrink target), ``step_max_h``,
    and every ``count_within`` window with its neighbours, inside the allowed range."""
    care = spec.care
    assert care is not None
    lo, hi = care.step_min_h, care.step_max_h
    windows: set[float] = set()
    for inv in spec.temporal_invariants:
        for term in split_temporal(inv.formula.ast)[1]:
            if term.window is not None:
                w = float(window_hours(spec, term))
                windows.update(round(w + d, 6) for d in (-REAL_STEP, 0.0, REAL_STEP))
    inside = sorted(w for w in windows if lo <= w <= hi and w not in (lo, hi))
    return (lo, hi, *inside) if hi != lo else (lo, *inside)


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything a course needs from one spec, computed once per run."""

    spec: Spec
    engine: Engine
    semantics: CourseSemantics
    story: StoryTeller
    hours: tuple[Any, ...]
    start_bytes: st.SearchStrategy[bytes]
    start: Callable[[bytes], dict[str, Any]]
    change_draws: st.SearchStrategy[list[tuple[int, bytes]]]
    changes: Callable[[list[tuple[int, bytes]], dict[str, Any]], dict[str, Any]]


def _plan(spec: Spec) -> _Plan:
    care = spec.care
    assert care is not None
    engine = Engine(spec, exact=False)  # the procedure the model checker proves courses for
    model = input_model(spec)
    n, decode = patient_decoder(spec)
    start_ast = care.start.ast

    def start(buf: bytes) -> dict[str, Any]:
        # a drawn patient (steered toward a drawn outcome), then steered onto the start condition
        # and repaired without undoing that steering where the constraints allow
        inputs = {k: v for k, v in decode(buf[:n]).items() if v is not None}
        src = _Source(buf[n:])
        before = dict(inputs)
        for _ in range(2):
            model.make_bool(start_ast, True, inputs, src.pick)
        keep = frozenset(k for k in inputs if before.get(k) != inputs[k])
        model.repair(inputs, src.pick, keep, ((start_ast, True),))  # repair keeps the start condition
        return inputs

    spontaneous = _decoders(model, list(care.spontaneous))
    per256 = _absent_per_256(_UNKNOWN_PROBABILITY)

    def changes(drawn: list[tuple[int, bytes]], state: dict[str, Any]) -> dict[str, Any]:
        # (which spontaneous input, a value slot) pairs: a list the shrinker empties first, so a
        # shrunk story keeps only the changes the failure needs
        out = dict(state)
        for i, slot in drawn:
            name, decoder = spontaneous[i]
            value = _decode_inputs(_Source(slot), per256, [(name, decoder)]).get(name)
            if value is None:
                out.pop(name, None)
            else:
                out[name] = value
        return out

    return _Plan(
        spec,
        engine,
        CourseSemantics(engine),
        StoryTeller(spec),
        step_hours(spec),
        _fixed_bytes(n + _STEER_BYTES),
        start,
        _change_draws(len(spontaneous)),
        changes,
    )


def _fixed_bytes(n: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=n, max_size=n)


def _change_draws(n: int) -> st.SearchStrategy[list[tuple[int, bytes]]]:
    """Up to :data:`MAX_CHANGES` (which of ``n`` spontaneous inputs, a value slot) pairs."""
    if n == 0:
        return st.just([])
    return st.lists(st.tuples(st.integers(0, n - 1), _fixed_bytes(_SLOT)), max_size=min(MAX_CHANGES, n))


def _hours(plan: _Plan, buf: bytes) -> Any:
    """A step length from three bytes: mostly one of :func:`step_hours`, else any tenth of an hour in range."""
    care = plan.spec.care
    assert care is not None
    sel, bits = buf[0], (buf[1] << 8) | buf[2]
    if sel < 160:
        return plan.hours[bits % len(plan.hours)]
    lo, hi = care.step_min_h, care.step_max_h
    return min(hi, max(lo, round(lo + (hi - lo) * bits / 65535, 1)))


@dataclass
class _Tally:
    courses: int = 0
    started: int = 0
    steps: int = 0


def care_course_machine(spec: Spec, tally: _Tally | None = None) -> type[RuleBasedStateMachine] | None:
    """A state machine class playing care courses on ``spec``; None if the spec has no care section."""
    if spec.care is None:
        return None
    plan = _plan(spec)
    engine, sem, story = plan.engine, plan.semantics, plan.story
    count = tally if tally is not None else _Tally()
    invariants = {i.id: i for i in spec.invariants}
    temporal = {t.id: t for t in spec.temporal_invariants}

    class CareCourse(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.history: list[CourseStep] = []
            self.moves: list[Move] = []
            count.courses += 1

        def _fail(self, what: str, tail: list[str], reached: State | None = None) -> AssertionError:
            return AssertionError(f"{what}\n{story.tell(self.history, self.moves, tail, reached)}")

        def _consult(self, hour: Any, state: dict[str, Any]) -> None:
            try:
                d = engine.decide(dict(state))
            except SpecDefectError as exc:
                tail = [f"h{value_text(hour)}: no decision: {exc}"]
                raise self._fail(f"no decision for a valid patient in a care course: {exc}", tail, state) from None
            self.history.append(CourseStep(hour, state, d))
            bad = engine.invariant_violations(d)
            if bad:
                lines = [f"violated {i}: {invariants[i].description}" for i in bad]
                raise self._fail(f"invariant(s) {', '.join(bad)} violated in a care course", lines)
            late = sem.violations(self.history)
            if late:
                lines = [f"violated {i}: {temporal[i].description}" for i in late]
                raise self._fail(f"temporal invariant(s) {', '.join(late)} violated in a care course", lines)

        # the first attempt is an argument, later ones are drawn only when needed: unused bytes would
        # make every shrink step slower, and Hypothesis shrinks a short choice sequence fastest
        @initialize(first=plan.start_bytes, more=st.data())
        def start(self, first: bytes, more: st.DataObject) -> None:
            buf = first
            for k in range(START_ATTEMPTS):
                if k:
                    buf = more.draw(plan.start_bytes)
                try:
                    state = engine.validator.validate(plan.start(buf))
                except PatientError:
                    continue
                if sem.starts(state):
                    count.started += 1
                    self._consult(0, state)
                    return

        @rule(when=_fixed_bytes(3), first=plan.change_draws, more=st.data())
        def step(self, when: bytes, first: list[tuple[int, bytes]], more: st.DataObject) -> None:
            if not self.history:  # no drawn patient met care.start: nothing to play
                return
            count.steps += 1
            now = self.history[-1]
            hours = _hours(plan, when)
            followed = sem.follow(now.inputs, now.decision)
            advanced = sem.advance(followed, hours)
            self.moves.append(Move(hours, followed, advanced))
            nxt = None
            drawn = first
            for k in range(REDRAWS):
                if k:
                    drawn = more.draw(plan.change_draws)
                try:
                    nxt = engine.validator.validate(plan.changes(drawn, advanced))
                    break
                except PatientError:
                    continue
            if nxt is None:
                try:
                    nxt = engine.validator.validate(advanced)
                except PatientError as exc:
                    raise self._fail(_invalid(spec, now.decision, hours, exc), [f"rejected: {exc}"]) from None
            self._consult(arith("+", now.hour, hours), nxt)

    CareCourse.__name__ = CareCourse.__qualname__ = "CareCourse"
    return CareCourse


def _invalid(spec: Spec, decision: Decision, hours: Any, exc: PatientError) -> str:
    """The invalid-transition failure: which transition, and the field or constraint the patient broke."""
    care = spec.care
    assert care is not None
    code = decision.recommendation
    follow = care.follow.get(code)
    how = f"following {code} (care.follow.{code} at {follow.loc})" if follow is not None else f"{code} (no transition)"
    return (
        f"invalid transition: {how} and {value_text(hours)} h passing lead to a patient the engine rejects, even with "
        f"nothing changed by itself: {exc}"
    )


def run_care_course(
    spec: Spec, base: settings, max_examples: int | None = None, steps: int = 30, *, fast_backend: bool = True
) -> PropertyResult:
    """Play care courses on ``spec`` under settings ``base``; a :class:`PropertyResult`.

    ``examples`` counts courses, ``applicable`` those that started (a drawn patient
    met ``care.start``). Skipped for a spec without a ``care`` section; a failure
    when no course could start at all (the start condition was never met).
    """
    result = PropertyResult("care_course")
    tally = _Tally()
    machine = care_course_machine(spec, tally)
    if machine is None:
        result.skipped = "the spec has no care section: it defines no care course to play"
        return result
    budget = max_examples if max_examples is not None else base.max_examples
    n = max(1, budget // _COURSES_PER_BUDGET)
    # no explain phase: it replays the failing course hundreds of times to annotate choices a story already names
    phases = tuple(p for p in base.phases if p is not Phase.explain)
    run = settings(with_backend(base, fast_backend), max_examples=n, stateful_step_count=steps, phases=phases)
    t0 = time.perf_counter()
    try:
        with lean_gc():
            run_state_machine_as_test(machine, settings=run)
    except Exception as exc:
        result.failure = f"{type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - t0
    result.examples, result.applicable = tally.courses, tally.started
    result.extra["steps"] = tally.steps
    if result.failure is None and tally.started == 0:
        care = spec.care
        assert care is not None
        result.failure = (
            f"no care course started: none of the {tally.courses * START_ATTEMPTS} patients drawn met "
            f"care.start ({care.start.text}, {care.start.loc}); is it satisfiable within the constraints?"
        )
    return result
