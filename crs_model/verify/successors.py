"""Which recommendation can follow which in a care course: proven successor pairs, with witness courses.

For every ordered pair of codes ``(A, B)`` (the spec's codes and ``insufficient_data``),
and for the pseudo-state :data:`START` before the first consultation, the question is:
does some care course of at most ``depth`` steps from ``care.start`` have a step
recommending ``A`` directly followed by a step recommending ``B``? (``(START, B)``:
does some course open with ``B``?) The course is the bounded model checker's
(:class:`~crs_model.verify.bmc.Unrolling`): follow sets, 0–24 h of clock time, free
spontaneous inputs, every state valid and decided.

Depth by depth on one incremental solver (as the temporal check): step ``d-1`` is
added, then the pairs still open are asked at the last two steps, so a witness is a
shortest course. Each round asks the disjunction of the open pairs: ``unsat`` proves
all of them absent at this depth in one query; ``sat`` gives a course whose every
consecutive pair is an edge (harvested at once), and the round repeats. Only when
the disjunction is ``unknown`` is each open pair asked on its own, and a pair the
solver cannot decide at any depth is :attr:`Follows.UNKNOWN`, never an edge.

Every witness course is replayed through :class:`crs_model.course.CourseSemantics`
and the engine; a disagreement is kept in :attr:`Successors.problems` (the caller
reports it as an internal error), because then the solver or the engine is wrong.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import z3

from crs_model.course import CourseSemantics
from crs_model.engine import Engine
from crs_model.model import Spec
from crs_model.verify.bmc import Unrolling, preferred_model
from crs_model.verify.capi import check_fast, mk_and, mk_or
from crs_model.verify.encoding import Encoding, Undecided
from crs_model.verify.limits import DEFAULT_BMC_DEPTH, DEFAULT_RLIMIT
from crs_model.verify.story import SolverStep, Storyteller, replay

START = "(start)"  # the pseudo-state before the first consultation; no code has parentheses

Pair = tuple[str, str]


class Follows(StrEnum):
    """The verdict on one pair: proven to occur, proven not to occur (within the depth), or undecided."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Successors:
    """Every pair's verdict, a witness course per edge, and what the computation cost."""

    depth: int
    codes: tuple[str, ...]  # the spec's codes and insufficient_data, in the recommendation type's order
    verdicts: Mapping[Pair, Follows]  # every (START or code, code) pair
    witnesses: Mapping[Pair, tuple[SolverStep, ...]]  # per edge: a shortest course ending with the pair
    stories: Mapping[Pair, tuple[str, ...]]  # per edge: its witness course as a dated care story
    problems: tuple[str, ...] = ()  # witness courses the engine does not reproduce (internal errors)
    queries: int = 0
    seconds: float = 0.0

    @property
    def start(self) -> str:
        """The pseudo-code of the course start (:data:`START`)."""
        return START

    def edges(self, verdict: Follows = Follows.YES) -> list[Pair]:
        """The pairs with ``verdict``, sources and targets in code order (START first)."""
        return [p for p, v in self.verdicts.items() if v is verdict]

    def reached(self) -> set[str]:
        """The codes some course of the depth gives."""
        return {b for (_, b) in self.witnesses}


def successors(spec: Spec, *, depth: int = DEFAULT_BMC_DEPTH, rlimit: int = DEFAULT_RLIMIT) -> Successors:
    """Prove which recommendation can follow which in ``spec``'s care courses of up to ``depth`` steps.

    Raises ``ValueError`` when the spec has no care section or ``depth`` is below 1.
    """
    if spec.care is None:
        raise ValueError(f"{spec.path}: the spec has no care section, so no care course to follow")
    if depth < 1:
        raise ValueError(f"depth={depth} must be at least 1 step")
    t0 = time.perf_counter()
    enc = Encoding(spec, rlimit=rlimit)
    return _Search(enc, depth).run(t0)


class _Search:
    def __init__(self, enc: Encoding, depth: int) -> None:
        self.enc, self.depth = enc, depth
        self.unroll = Unrolling(enc)
        self.codes = self.unroll.codes
        self.sem = CourseSemantics(Engine(enc.spec, exact=False))  # the procedure the encoding models
        self.solver = enc.new_solver()
        self.verdicts: dict[Pair, Follows] = {(a, b): Follows.NO for a in (START, *self.codes) for b in self.codes}
        self.witnesses: dict[Pair, tuple[SolverStep, ...]] = {}
        self.stories: dict[Pair, tuple[str, ...]] = {}
        self.tell = Storyteller(enc.spec)
        self.undecided: set[Pair] = set()
        self.problems: list[str] = []
        self.queries = 0

    def run(self, t0: float) -> Successors:
        for d in range(1, self.depth + 1):
            self.solver.add(self.unroll.step(d - 1))
            # (START, b) is asked at step 0 only; (a, b) at the last two steps of each longer depth
            open_pairs = [p for p in self.verdicts if (p[0] == START) == (d == 1) and p not in self.witnesses]
            self._round(d, open_pairs)
        for p in self.undecided - set(self.witnesses):
            self.verdicts[p] = Follows.UNKNOWN
        return Successors(
            self.depth,
            self.codes,
            dict(self.verdicts),
            {p: self.witnesses[p] for p in self.verdicts if p in self.witnesses},
            {p: self.stories[p] for p in self.verdicts if p in self.stories},
            tuple(self.problems),
            self.queries,
            time.perf_counter() - t0,
        )

    def _at(self, pair: Pair, d: int) -> z3.BoolRef:
        """``pair`` at the last step(s) of a course of ``d`` steps."""
        a, b = pair
        last = self.unroll.frame(d - 1).rec == self._code(b)
        if a == START:
            return last
        return mk_and(self.unroll.frame(d - 2).rec == self._code(a), last)

    def _code(self, code: str) -> z3.ArithRef:
        return z3.IntVal(self.codes.index(code), self.enc.ctx)

    def _check(self, goal: z3.BoolRef) -> z3.CheckSatResult:
        self.queries += 1
        return check_fast(self.solver, [goal])

    def _round(self, d: int, open_pairs: list[Pair]) -> None:
        while open_pairs:
            goal = mk_or(*(self._at(p, d) for p in open_pairs), ctx=self.enc.ctx)
            r = self._check(goal)
            if r == z3.unsat:
                return
            if r == z3.sat and self._harvest(goal, d):
                open_pairs = [p for p in open_pairs if p not in self.witnesses]
                continue
            # the disjunction is too hard (or its course could not be had): each pair on its own
            for p in open_pairs:
                if p in self.witnesses:
                    continue
                goal = self._at(p, d)
                r = self._check(goal)
                if r == z3.unknown or (r == z3.sat and not self._harvest(goal, d)):
                    self.undecided.add(p)
            return

    def _harvest(self, goal: z3.BoolRef, d: int) -> bool:
        """Every consecutive pair of a course satisfying ``goal`` is an edge; keep its course up to the pair.

        The course is a readable one (:func:`~crs_model.verify.bmc.preferred_model`): few
        inputs known at the start, nothing changing by itself unless needed, whole hours
        (so that replaying it in exact arithmetic meets the solver's values).
        """
        try:
            m = preferred_model(self.solver, [goal], self.unroll.whole(d))
        except Undecided:  # sat a moment ago, but the budget ran out before a model came back
            return False
        recs = self.unroll.recommendations(m, d)
        hours = self.unroll.hours(m, d)
        steps = tuple(SolverStep(hours[i], self.enc.witness(m, self.unroll.frame(i).inputs), recs[i]) for i in range(d))
        for i, code in enumerate(recs):
            pair = (START if i == 0 else recs[i - 1], code)
            if pair in self.witnesses:
                continue
            course = steps[: i + 1]
            self.witnesses[pair] = course
            self.verdicts[pair] = Follows.YES
            run = replay(self.sem, course, None)
            if run.disagreement is not None:
                self.problems.append(f"the witness course of {pair[0]} -> {pair[1]}: {run.disagreement}")
                continue
            then = "the course opens with" if i == 0 else f"{pair[0]} is followed by"
            self.stories[pair] = tuple(self.tell.story(run, f"{then} {code}"))
        return True


__all__ = ["START", "Follows", "Successors", "successors"]
