"""Human-readable text for one decision (the CLI's default output).

Every clinical word comes from the spec: each reported output is shown under its spec
label and unit, and how a drug is given is read in the outcome's actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crs_model.engine import Decision, OutputValue
from crs_model.model import ReportedOutput, ReportMode, Spec
from crs_model.vocabulary import output_text, truth_text

if TYPE_CHECKING:
    from crs_model.verify.counterfactual import Counterfactual

NO_DECISION = "the spec cannot decide without more data"


def reported(d: Decision, spec: Spec) -> list[tuple[ReportedOutput, OutputValue]]:
    """The outputs ``d`` reports, in declared order: the ``always`` ones, and those its outcome lists."""
    listed = spec.outcomes[d.outcome].outputs if d.outcome is not None else ()
    return [
        (ro, d.outputs.get(name))
        for name, ro in spec.outputs.items()
        if ro.report is ReportMode.ALWAYS or name in listed
    ]


def decision_text(d: Decision, spec: Spec, *, trace: bool = False) -> str:
    """The decision in a few lines: recommendation, outputs, path, actions, flags, evidence, spec."""
    lines: list[str] = []
    title = spec.outcomes[d.outcome].title if d.outcome else NO_DECISION
    lines.append(f"recommendation: {d.recommendation} - {title}")
    lines.extend(f"{ro.label}: {output_text(v, ro.unit, ro.precision)}" for ro, v in reported(d, spec))
    if d.missing:
        lines.append(f"missing (would decide '{d.path[-1]}'): {', '.join(d.missing)}")
    lines.append("path: " + " -> ".join(d.path))
    if trace:
        for step in d.trace:
            vals = ", ".join(f"{t}={truth_text(v)}" for t, v in step.guards)
            lines.append(f"  at {step.node}: {vals}; took {step.taken or '(stopped)'}")
    if d.actions:
        lines.append("actions:")
        lines.extend(f"  - {a.text} [{', '.join(a.citations)}]" for a in d.actions)
    if d.flags:
        lines.append("flags:")
        lines.extend(f"  ! {f.text} [{', '.join(f.citations)}]" for f in d.flags)
    lines.append("evidence: " + ", ".join(d.cites))
    lines.append(f"spec: {d.spec_id} {d.spec_version} sha256 {d.spec_sha256[:12]}")
    return "\n".join(lines)


def counterfactuals_text(cfs: Sequence[Counterfactual], *, indent: str = "") -> str:
    """What would change the decision, one line per counterfactual, each flipped guard below it."""
    lines = [f"{indent}what would change this decision:"]
    for c in cfs:
        lines.append(f"{indent}  - {c.recommendation}: {c.text} (outcome {c.outcome})")
        lines.extend(
            f"{indent}      at {f.node}: '{f.guard}' {truth_text(f.was)} -> {truth_text(f.now)}" for f in c.flips
        )
    if not cfs:
        lines.append(f"{indent}  (no valid change of the inputs reaches another recommendation)")
    return "\n".join(lines)
