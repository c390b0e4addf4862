"""A counterexample course: replayed through the reference semantics and told as a dated care story.

The solver's course (states, hours, recommendations) is replayed step by step
through :class:`crs_model.course.CourseSemantics` and the :class:`~crs_model.Engine`:
the engine must give every recommendation the solver chose, following and time must
give every held input the solver's next value, every state must be valid, and the
last step must violate the invariant. Any disagreement is returned as text (the
caller adds an ``internal`` finding), never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from crs_model.course import CourseSemantics, CourseStep
from crs_model.engine import Decision
from crs_model.errors import PatientError, SpecDefectError
from crs_model.exact import exact
from crs_model.model import Spec
from crs_model.verify.bmc import number
from crs_model.vocabulary import value_text

Change = tuple[str, Any, Any]  # (input, before, after); None = unknown


@dataclass(frozen=True, slots=True)
class SolverStep:
    """One step of the solver's course: hours since the start, the known inputs, the recommendation."""

    hour: Fraction
    inputs: Mapping[str, Any]
    recommendation: str


@dataclass(slots=True)
class Replayed:
    """The course as the engine played it, with what changed between steps."""

    history: list[CourseStep] = field(default_factory=list)
    followed: list[list[Change]] = field(default_factory=list)  # per step: what following it changed
    clock: list[list[Change]] = field(default_factory=list)  # per step: what the hours after it changed
    spontaneous: list[list[Change]] = field(default_factory=list)  # per step: what changed by itself before it
    disagreement: str | None = None


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None or isinstance(a, (str, bool)) or isinstance(b, (str, bool)):
        return a == b and type(a) is type(b)
    return bool(exact(a) == exact(b))


def _diff(before: Mapping[str, Any], after: Mapping[str, Any], names: Sequence[str]) -> list[Change]:
    return [(n, before.get(n), after.get(n)) for n in names if not _same(before.get(n), after.get(n))]


def replay(sem: CourseSemantics, steps: Sequence[SolverStep], invariant: str | None) -> Replayed:
    """Play ``steps`` through the engine and the care semantics; ``disagreement`` says where they differ.

    With ``invariant``, the last step must also violate that temporal invariant.
    """
    engine, spec = sem.engine, sem.spec
    names = list(spec.variables)
    spontaneous = set(sem.care.spontaneous)
    out = Replayed()
    out.spontaneous.append([])
    at = f"h{value_text(number(steps[0].hour))}"
    try:
        state = engine.validator.validate(steps[0].inputs)
    except PatientError as exc:
        out.disagreement = f"the engine rejects the start state: {exc}"
        return out
    if not sem.starts(state):
        out.disagreement = "care.start is not true on the start state"
        return out
    for i, st in enumerate(steps):
        at = f"h{value_text(number(st.hour))}"
        try:
            d: Decision = engine.decide(dict(state))  # decide extends its argument with definitions
        except SpecDefectError as exc:
            out.disagreement = f"at {at} the engine gives no decision: {exc}"
            return out
        if d.recommendation != st.recommendation:
            out.disagreement = f"at {at} the engine decides {d.recommendation}, the solver {st.recommendation}"
            return out
        out.history.append(CourseStep(number(st.hour), state, d))
        if i + 1 == len(steps):
            break
        nxt = steps[i + 1]
        followed = sem.follow(state, d)
        moved = sem.advance(followed, number(nxt.hour - st.hour))
        out.followed.append(_diff(state, followed, names))
        out.clock.append(_diff(followed, moved, names))
        held = [n for n in names if n not in spontaneous]
        wrong = _diff(moved, nxt.inputs, held)
        if wrong:
            n, mine, theirs = wrong[0]
            out.disagreement = (
                f"after {at} the semantics gives {n}={value_text(mine)}, the solver {n}={value_text(theirs)}"
            )
            return out
        advanced = dict(moved)
        for n in spontaneous:
            v = nxt.inputs.get(n)
            if v is None:
                moved.pop(n, None)
            else:
                moved[n] = v
        out.spontaneous.append(_diff(advanced, moved, sorted(spontaneous, key=names.index)))
        try:
            state = engine.validator.validate(moved)
        except PatientError as exc:
            out.disagreement = f"the state after {at} is not a valid patient: {exc}"
            return out
    if invariant is not None and invariant not in sem.violations(out.history):
        out.disagreement = f"the engine's course satisfies {invariant} at {at}"
    return out


class Storyteller:
    """Words for a course: inputs with their spec labels and units (the presentation vocabulary)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    def value(self, name: str, value: Any) -> str:
        """``320 pg/mL``, ``yes``, ``unknown``."""
        unit = self.spec.variables[name].unit
        return value_text(value) + (f" {unit}" if unit and value is not None else "")

    def label(self, name: str) -> str:
        """The input's label (its name when it has none)."""
        return self.spec.variables[name].label or name

    def changes(self, cs: Sequence[Change]) -> str:
        """``doses 0 → 1, hours since last dose unknown → 0 h``."""
        return ", ".join(f"{self.label(n)} {value_text(a)} → {self.value(n, b)}" for n, a, b in cs)

    def story(self, run: Replayed, ending: str) -> list[str]:
        """One line per step (``h0: …``, ``h6 (+6 h): …``) and the violation at the end."""
        lines: list[str] = []
        prev: Any = None
        for i, step in enumerate(run.history):
            hour = value_text(step.hour)
            d = step.decision
            if i == 0:
                known = ", ".join(f"{self.label(n)} = {self.value(n, v)}" for n, v in step.inputs.items())
                head = f"h{hour}: start: {known or 'no input known'}"
            else:
                parts = [f"h{hour} (+{value_text(number(Fraction(exact(step.hour)) - Fraction(exact(prev))))} h)"]
                if run.clock[i - 1]:
                    parts.append(f"time: {self.changes(run.clock[i - 1])}")
                if run.spontaneous[i]:
                    parts.append(f"by itself: {self.changes(run.spontaneous[i])}")
                head = "; ".join(parts)
            lines.append(head)
            then = f"  → {d.recommendation} ({d.outcome})"
            if i < len(run.followed):
                then += f"; following it: {self.changes(run.followed[i]) or 'no input changes'}"
            lines.append(then)
            prev = step.hour
        lines.append(ending)
        return lines

    def steps_json(self, run: Replayed) -> list[dict[str, Any]]:
        """The course as data: per step its hour, known inputs, decision and changes."""
        out: list[dict[str, Any]] = []
        for i, step in enumerate(run.history):
            d = step.decision
            out.append(
                {
                    "hour": step.hour,
                    "inputs": dict(step.inputs),
                    "recommendation": d.recommendation,
                    "outcome": d.outcome,
                    "changed_by_itself": {n: b for n, _, b in run.spontaneous[i]},
                    "changed_by_following": {n: b for n, _, b in run.followed[i]} if i < len(run.followed) else {},
                    "changed_by_time": {n: b for n, _, b in run.clock[i]} if i < len(run.clock) else {},
                }
            )
        return out


__all__ = ["Replayed", "SolverStep", "Storyteller", "replay"]
