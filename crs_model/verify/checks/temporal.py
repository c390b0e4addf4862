"""The temporal check: care courses are possible and sane, and temporal invariants hold on every course up to k steps.

Three parts, on the spec's care section (a spec without one has no temporal check):

1. ``care.start`` holds for some valid patient (else no course exists and every
   temporal proof would be vacuous: an error, the invariants stay unproven);
2. per ``follow`` entry: no valid state where that recommendation is given becomes
   invalid (domain or constraint) once it is followed and the hours pass, with no
   spontaneous change (else an error with the state as witness);
3. per temporal invariant, bounded model checking (:mod:`crs_model.verify.bmc`):
   ``proven`` for every course of up to ``k`` steps from a state where ``care.start`` holds, ``refuted``
   with a shortest counterexample course (replayed, told as a story) or ``unknown``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import z3

from crs_model.course import CourseSemantics
from crs_model.engine import Engine
from crs_model.errors import PatientError, SpecDefectError
from crs_model.model import Severity
from crs_model.text import Renderer
from crs_model.verify.bmc import Monitor, Unrolling, number, preferred_model
from crs_model.verify.capi import check_fast, mk_and, mk_not
from crs_model.verify.encoding import Undecided
from crs_model.verify.report import INTERNAL, Finding, Verdict
from crs_model.verify.story import SolverStep, Storyteller, replay
from crs_model.verify.wording import parts_text
from crs_model.vocabulary import value_text

if TYPE_CHECKING:
    from crs_model.verify.verifier import Verifier

COURSE = "care:course"


def run(v: Verifier) -> None:
    """Check the care section and prove or refute each temporal invariant (``v.temporal_status``)."""
    spec, care = v.spec, v.spec.care
    if care is None:
        return
    unroll = Unrolling(v.enc)
    v.temporal_status.update({t.id: Verdict.UNKNOWN.value for t in spec.temporal_invariants})
    try:
        ok, parts = v.enc.check_conjuncts("care-start", care.start.ast, v.words.locate_part(care.start, COURSE))
    except Undecided as exc:
        v.undecided(COURSE, care.start.loc, "whether a care course can start (care.start)", exc)
        return
    if not ok:
        v.add(
            "temporal",
            Severity.ERROR,
            care.start.loc,
            f"no care course exists: no valid patient satisfies care.start ({care.start.text.strip()}), so every "
            f"temporal invariant would hold vacuously; the conflict: {parts_text(parts)}",
            COURSE,
        )
        return
    sem = CourseSemantics(v.engine)
    _transitions(v, unroll, sem)
    _invariants(v, unroll, sem)


def _transitions(v: Verifier, unroll: Unrolling, sem: CourseSemantics) -> None:
    """Per follow entry: a valid state where it is given whose next state (nothing spontaneous) is invalid."""
    care = unroll.care
    s = v.enc.new_solver()
    a, b = unroll.frame(0), unroll.frame(1)
    s.add(mk_and(a.valid, a.decided, unroll.link(0, spontaneous_held=True)))
    broken = mk_not(b.valid)
    for code, follow in care.follow.items():
        given = a.rec == z3.IntVal(unroll.codes.index(code), unroll.ctx)
        element = f"transition:{code}"
        try:
            r = check_fast(s, [given, broken])
            if r == z3.unknown:
                raise Undecided(s.reason_unknown())
            if r == z3.unsat:
                continue
            m = preferred_model(s, [given, broken], unroll.soft(1), unroll.whole(2))
        except Undecided as exc:
            v.undecided(element, follow.loc, f"whether following {code} keeps a valid state", exc)
            continue
        w = v.enc.witness(m, a.inputs)
        hours = number(unroll.hours(m, 2)[1])
        bad = [p.text for f, p in unroll.facts if z3.is_false(m.eval(b.put(f), model_completion=True))]
        v.add(
            "temporal",
            Severity.ERROR,
            follow.loc,
            f"following {code} can leave an invalid state: from the witness, after {value_text(hours)} h with no "
            f"spontaneous change, the next state breaks {'; '.join(bad)}",
            element,
            w,
            _expect_invalid(sem, code, hours),
        )


def _expect_invalid(sem: CourseSemantics, code: str, hours: Any) -> Any:
    """The engine gives ``code`` on the witness, and following it for ``hours`` gives an invalid patient."""

    def expect(engine: Engine, w: dict[str, Any]) -> str | None:
        try:
            state = engine.validator.validate(w)
            d = engine.decide(dict(state))
        except (PatientError, SpecDefectError) as exc:
            return f"the engine gives no decision: {exc}"
        if d.recommendation != code:
            return f"the engine decides {d.recommendation}"
        try:
            engine.validator.validate(sem.advance(sem.follow(state, d), hours))
        except PatientError:
            return None
        return "the followed state is a valid patient"

    return expect


def _invariants(v: Verifier, unroll: Unrolling, sem: CourseSemantics) -> None:
    """Bounded model checking: depth by depth on one solver, each open invariant asked at the last step."""
    s = v.enc.new_solver()
    pending: list[Monitor] = list(unroll.monitors)
    for depth in range(1, v.bmc_depth + 1):
        if not pending:
            break
        s.add(unroll.step(depth - 1))
        for mon in list(pending):
            inv = mon.invariant
            goal = mk_not(unroll.holds(mon, depth - 1))
            try:
                r = check_fast(s, [goal])
                if r == z3.unknown:
                    raise Undecided(s.reason_unknown())
                if r == z3.unsat:
                    continue
                m = preferred_model(s, [goal], unroll.soft(depth), unroll.whole(depth))
            except Undecided as exc:
                pending.remove(mon)
                what = f"temporal invariant {inv.id} at depth {depth}"
                v.undecided(f"invariant:{inv.id}", inv.formula.loc, what, exc)
                continue
            pending.remove(mon)
            v.temporal_status[inv.id] = Verdict.REFUTED.value
            _refuted(v, unroll, sem, mon, m, depth)
    for mon in pending:
        v.temporal_status[mon.invariant.id] = Verdict.PROVEN.value


def _refuted(v: Verifier, unroll: Unrolling, sem: CourseSemantics, mon: Monitor, m: z3.ModelRef, n: int) -> None:
    """The finding for a refuting course of ``n`` steps: replayed, told, and cross-checked."""
    inv = mon.invariant
    hours = unroll.hours(m, n)
    recs = unroll.recommendations(m, n)
    steps = [SolverStep(hours[i], v.enc.witness(m, unroll.frame(i).inputs), recs[i]) for i in range(n)]
    run = replay(sem, steps, inv.id)
    render = Renderer(v.spec.invariant_symbols).render
    counts = unroll.counts(m, mon, n - 1)
    terms = []
    for (t, _, _, h), c in zip(mon.terms, counts, strict=True):
        cond = render(t.cond)
        call = f"count_before({cond})" if h is None else f"count_within({value_text(number(h))} h, {cond})"
        terms.append((call, c))
    at = f"h{value_text(number(hours[-1]))}"
    ending = f"violated at {at}: '{render(inv.formula.ast)}' is not true there" + (
        " (" + ", ".join(f"{call} = {c}" for call, c in terms) + ")" if terms else ""
    )
    tell = Storyteller(v.spec)
    course: dict[str, Any] = {
        "invariant": inv.id,
        "depth": v.bmc_depth,
        "violated_at": number(hours[-1]),
        "counts": dict(terms),
        "steps": tell.steps_json(run),
        "story": tell.story(run, ending),
    }
    last = recs[-1]
    v.findings.append(
        Finding(
            location=inv.formula.loc,
            message=f"temporal invariant {inv.id} is refuted: {inv.description.strip().rstrip('.')}; a course of "
            f"{n} step(s) violates it at {at} (recommendation {last})",
            severity=inv.severity,
            code="temporal",
            element=f"invariant:{inv.id}",
            witness=dict(steps[0].inputs),
            course=course,
        )
    )
    if run.disagreement is not None:
        v.findings.append(
            Finding(
                location=inv.formula.loc,
                message=f"the engine does not reproduce this temporal finding on its course: {run.disagreement}",
                severity=Severity.ERROR,
                code=INTERNAL,
                element=f"invariant:{inv.id}",
                witness=dict(steps[0].inputs),
            )
        )
