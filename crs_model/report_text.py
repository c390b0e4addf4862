"""Human-readable text for one decision (the CLI's default output)."""

from __future__ import annotations

from crs_model.engine import Decision
from crs_model.model import Spec
from crs_model.vocabulary import truth_text, value_text


def decision_text(d: Decision, spec: Spec, *, trace: bool = False) -> str:
    """The decision in a few lines: recommendation, grade, outputs, path, actions, flags, evidence, spec."""
    lines: list[str] = []
    title = spec.outcomes[d.outcome].title if d.outcome else "the spec cannot decide without more data"
    lines.append(f"recommendation: {d.recommendation} - {title}")
    lines.append(f"ASTCT grade: {value_text(d.astct_grade)}")
    if d.tocilizumab_dose_mg is not None:
        lines.append(f"tocilizumab dose: {d.tocilizumab_dose_mg:.1f} mg IV over 60 min")
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
