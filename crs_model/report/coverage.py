"""The pack's "Regression coverage" section: the shipped suite's goals, counts and proven gaps."""

from __future__ import annotations

from crs_model.fileio import beside
from crs_model.model import Spec
from crs_model.report.document import UL, Block, Callout, Cell, Code, H, P, T, Table
from crs_model.vocabulary import Tone

SUITE_SUFFIX = ".cases.jsonl"


def coverage_blocks(spec: Spec, *, analyse_suite: bool) -> list[Block]:
    """Goal kinds with covered / feasible / infeasible counts, the infeasible goals with Z3's reason,
    the masking MC/DC goals, and where the suite lives. ``analyse_suite`` False (the pack built
    without the verifier) says so instead of running the solver."""
    out: list[Block] = [H(2, "Regression coverage", "coverage")]
    path = beside(spec.path, SUITE_SUFFIX)
    where: Cell = [T("Suite: "), Code(str(path)), T(" (crs-model testgen writes it, crs-model regress re-runs it).")]
    if not path.is_file():
        out.append(Callout(Tone.INFO, [T("No regression suite beside the spec: "), Code(str(path))]))
        return out
    out.append(P(where))
    if not analyse_suite:
        out.append(Callout(Tone.WARN, [T("Coverage not analysed: the pack was built without the verifier.")]))
        return out
    from crs_model.verify.encoding import Undecided
    from crs_model.verify.regress import read_suite, rerun
    from crs_model.verify.testgen import Case, analyse

    entries, bad = read_suite(path)
    changed = rerun(spec, entries)
    try:
        suite = analyse(spec, [Case(e.name, e.patient, e.expect, e.covers) for e in entries])
    except Undecided as exc:
        out.append(Callout(Tone.BAD, [T(f"Coverage undecided: a solver query hit its limit ({exc.args[0]}).")]))
        return out
    if bad or changed:
        out.append(
            Callout(
                Tone.BAD,
                [
                    T(f"{len(bad)} malformed line(s) and {len(changed)} case(s) whose decision changed: "),
                    T("run crs-model regress and review the behaviour change."),
                ],
            )
        )
    rows: list[list[Cell]] = []
    for kind, (covered, feasible, infeasible) in suite.counts().items():
        masking = sum(s.masking for s in suite.statuses if s.goal.kind.value == kind)
        note = f" ({masking} by masking MC/DC)" if masking else ""
        rows.append([[Code(kind)], [T(f"{covered} of {feasible}{note}")], [T(str(infeasible))]])
    rows.append([[Code("absent")], [T(f"{len(suite.absent)} inputs (sampled, not a proof goal)")], [T("—")]])
    out.append(P([T(f"{len(entries)} cases. Feasible goals covered, per kind; infeasible goals are proven by Z3.")]))
    out.append(Table(["goal kind", "covered of feasible", "infeasible"], rows))
    gaps = [s for s in suite.statuses if s.state == "uncovered"]
    if gaps:
        out.append(Callout(Tone.BAD, [T(f"{len(gaps)} feasible goal(s) not covered: regenerate the suite.")]))
        out.append(UL([[Code(s.goal.id), T(f": {s.goal.text}")] for s in gaps]))
    infeasible_goals = [s for s in suite.statuses if s.state == "infeasible"]
    if infeasible_goals:
        out.append(H(3, "Infeasible goals (proven)", "coverage-infeasible"))
        out.append(UL([[Code(s.goal.id), T(f": {s.goal.text} — {s.reason}")] for s in infeasible_goals]))
    masks = [s for s in suite.statuses if s.masking]
    if masks:
        out.append(H(3, "Masking MC/DC (unique-cause proven impossible)", "coverage-masking"))
        out.append(UL([[Code(s.goal.id), T(f": {s.goal.text}")] for s in masks]))
    return out


__all__ = ["SUITE_SUFFIX", "coverage_blocks"]
