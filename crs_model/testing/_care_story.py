"""A care course told as a dated story, in the spec's own words (private; see ``_care``).

The care-course machine records each step as data (the states before and after
the care team acted, after the hours passed, and after the patient changed by
itself); only a failing course is turned into text, so a passing run pays nothing
for the wording. A line names an input by its label and id and shows values as
every other output does (:func:`crs_model.vocabulary.value_text`)::

    h0: temperature (temperature_c) 39 °C, ... → give_tocilizumab (tocilizumab dose 560.0 mg)
    follows give_tocilizumab: tocilizumab doses given (tocilizumab_doses) 0→1, ...
    +6 h: hours since last tocilizumab (hours_since_last_tocilizumab) 0→6 h
    by itself: temperature (temperature_c) 39→37 °C
    h6: → give_tocilizumab (tocilizumab dose 560.0 mg)
    violated tocilizumab_not_within_8h: Tocilizumab is never given twice within 8 h.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crs_model.course import CourseStep
from crs_model.engine import Decision
from crs_model.expr import Expr, names
from crs_model.model import Spec
from crs_model.vocabulary import output_text, value_text

State = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Move:
    """What happened between two consultations: the hours drawn and the states on the way."""

    hours: Any
    followed: State  # after the care team followed the recommendation
    advanced: State  # after the hours passed (clock inputs grown)


class StoryTeller:
    """Words for one spec's courses: which inputs an opening line shows, and how a value reads."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        care = spec.care
        assert care is not None, "a story needs a care section"
        # shown at the first consultation besides the inputs the path read (when known): what the
        # start condition reads and what the care team or the clock changes
        sets = {n for f in care.follow.values() for n, _ in f.sets}
        self._course_inputs = frozenset(sets | set(care.clock) | self.inputs_of(care.start.ast))
        self._follows = frozenset(care.follow)
        self._read: dict[tuple[str, ...], frozenset[str]] = {}  # inputs the path's guards read, by path

    def inputs_of(self, ast: Expr) -> set[str]:
        """The inputs ``ast`` reads, directly or through definitions."""
        idx = self.spec.index
        out: set[str] = set()
        for n in names(ast):
            if n in self.spec.variables:
                out.add(n)
            elif n in idx.definitions:
                out.update(idx.definitions[n].inputs)
        return out

    def _opening(self, step: CourseStep) -> str:
        path = step.decision.path
        read = self._read.get(path)
        if read is None:
            found: set[str] = set()
            for a, b in itertools.pairwise(path):
                for site in self.spec.index.by_element.get(f"edge:{a}->{b}", ()):
                    found.update(site.inputs)
            read = self._read[path] = frozenset(found)
        inputs = step.inputs
        shown = [
            self.value(n, inputs.get(n))
            for n in self.spec.variables
            if n in read or (n in self._course_inputs and n in inputs)
        ]
        return ", ".join(shown)

    def value(self, name: str, value: Any) -> str:
        """``temperature (temperature_c) 39 °C`` (the unit only with a known value)."""
        return f"{self._name(name)} {self._with_unit(name, value)}"

    def change(self, name: str, old: Any, new: Any) -> str:
        """``temperature (temperature_c) 39→37 °C``."""
        unit = self.spec.variables[name].unit
        shown = f"{value_text(old)}→{value_text(new)}"
        return f"{self._name(name)} {shown} {unit}" if unit else f"{self._name(name)} {shown}"

    def _name(self, name: str) -> str:
        label = self.spec.variables[name].label
        return f"{label} ({name})" if label and label != name else name

    def _with_unit(self, name: str, value: Any) -> str:
        unit = self.spec.variables[name].unit
        return f"{value_text(value)} {unit}" if unit and value is not None else value_text(value)

    def decision(self, d: Decision) -> str:
        """``give_tocilizumab (tocilizumab dose 560.0 mg)``; ``insufficient_data (missing: ...)``."""
        if d.outcome is None:
            return f"{d.recommendation} (missing: {', '.join(d.missing)})" if d.missing else d.recommendation
        outputs = self.spec.outcomes[d.outcome].outputs
        if not outputs:
            return d.recommendation
        values = d.values
        shown = ", ".join(
            f"{self.spec.definitions[n].label or n} {output_text(values.get(n), self.spec.definitions[n].unit)}"
            for n in outputs
        )
        return f"{d.recommendation} ({shown})"

    def diff(self, before: State, after: State) -> list[str]:
        """The inputs whose value differs, as ``change`` texts in declaration order."""
        return [
            self.change(n, before.get(n), after.get(n)) for n in self.spec.variables if before.get(n) != after.get(n)
        ]

    def tell(
        self,
        history: Sequence[CourseStep],
        moves: Sequence[Move],
        tail: Sequence[str] = (),
        reached: State | None = None,
    ) -> str:
        """The story of ``history`` (``moves[k]`` leads from step ``k`` to ``k + 1``), then the ``tail`` lines.

        ``moves`` may have one more entry than ``history`` has steps after the first: a
        last move with no consultation after it, either because its next state was
        rejected (no ``reached``) or because the engine could not decide on ``reached``.
        """
        if not history:  # the engine could not decide on the very first state
            shown = ", ".join(self.value(n, v) for n, v in reached.items()) if reached else "(no course started)"
            return "care story:\n  " + "\n  ".join([f"h0: {shown}", *tail])
        first = history[0]
        lines = [f"h{value_text(first.hour)}: {self._opening(first)} → {self.decision(first.decision)}"]
        for k, move in enumerate(moves):
            before = history[k]
            followed = self.diff(before.inputs, move.followed)
            code = before.decision.recommendation
            if code in self._follows:  # a code without a transition: the team has nothing to do
                lines.append(f"follows {code}: {', '.join(followed) if followed else 'no input changes'}")
            clock = self.diff(move.followed, move.advanced)
            lines.append(f"+{value_text(move.hours)} h" + (f": {', '.join(clock)}" if clock else ""))
            after = history[k + 1] if k + 1 < len(history) else None
            state = after.inputs if after is not None else reached
            itself = self.diff(move.advanced, state) if state is not None else []
            if itself:
                lines.append(f"by itself: {', '.join(itself)}")
            if after is not None:
                lines.append(f"h{value_text(after.hour)}: → {self.decision(after.decision)}")
        return "care story:\n  " + "\n  ".join([*lines, *tail])
