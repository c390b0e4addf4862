"""Human-readable text for one decision (the CLI's default output).

Every clinical word comes from the spec: the grade and each output are shown under
their spec label and unit, and how a drug is given is read in the outcome's actions.
"""

from __future__ import annotations

from crs_model.engine import Decision
from crs_model.model import Spec
from crs_model.vocabulary import output_text, truth_text, value_text

# The definition behind ``Decision.astct_grade``: the engine reports it by this name.
_GRADE = "astct_grade"


def decision_text(d: Decision, spec: Spec, *, trace: bool = False) -> str:
    """The decision in a few lines: recommendation, grade, outputs, path, actions, flags, evidence, spec."""
    lines: list[str] = []
    title = spec.outcomes[d.outcome].title if d.outcome else "the spec cannot decide without more data"
    lines.append(f"recommendation: {d.recommendation} - {title}")
    if (grade := spec.symbols.get(_GRADE)) is not None:
        lines.append(f"{grade.label or _GRADE}: {value_text(d.astct_grade)}")
    if d.outcome is not None:
        values = d.values
        for name in spec.outcomes[d.outcome].outputs:
            sym = spec.symbols[name]
            lines.append(f"{sym.label or name}: {output_text(values.get(name), sym.unit)}")
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
