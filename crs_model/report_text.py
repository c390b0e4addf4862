"""Human-readable text for one decision (the CLI's default output).

Every clinical word comes from the spec: each reported output is shown under its spec
label and unit, and how a drug is given is read in the outcome's actions. What absent
inputs leave open is worded by :mod:`crs_model.vocabulary`, as in the diagrams: an
output's possible values, possible flags with the inputs that would settle them, and
the inputs to record to decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crs_model.borderline import borderline_text
from crs_model.engine import Decision, OutputValue
from crs_model.model import ReportedOutput, ReportMode, Spec
from crs_model.vocabulary import (
    deciding_text,
    output_text,
    possible_flag_text,
    sets_to_record,
    truth_text,
    undecided_output_text,
    value_text,
)

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


def output_line(d: Decision, ro: ReportedOutput, value: OutputValue) -> str:
    """``<label>: <value> <unit>``, or the possible values of an output absent inputs leave open."""
    undecided = d.undecided_outputs.get(ro.name)
    if undecided is not None:
        return undecided_output_text(ro, undecided.get("values"))
    return f"{ro.label}: {output_text(value, ro.unit, ro.precision)}"


def decision_line(d: Decision, spec: Spec) -> str:
    """The decision on one line (JSONL ``--format text``): ``<recommendation> <output>=<value>…``,
    an undecided output's values joined by ``|``, then ``possible_flags=``, ``borderline=`` and ``missing=``
    (the deciding sets, ``;`` between alternatives, ``,`` inside a set)."""
    parts = [d.recommendation]
    for ro, v in reported(d, spec):
        undecided = d.undecided_outputs.get(ro.name)
        if undecided is None:
            parts.append(f"{ro.name}={value_text(v)}")
        else:
            vals = undecided.get("values")
            parts.append(f"{ro.name}={'|'.join(value_text(x) for x in vals) if vals else value_text(None)}")
    if d.possible_flags:
        parts.append("possible_flags=" + ",".join(f.note.id for f in d.possible_flags))
    if d.borderline:
        parts.append("borderline=" + ",".join(f"{b.input}->{b.would_be}" for b in d.borderline))
    sets = sets_to_record(d.missing, d.missing_any_of)
    if sets:
        parts.append("missing=" + ";".join(",".join(s) for s in sets))
    return " ".join(parts)


def decision_text(d: Decision, spec: Spec, *, trace: bool = False) -> str:
    """The decision in a few lines: recommendation, outputs (possible values where undecided), the
    inputs to record, path, actions, flags (and possible flags), evidence, spec."""
    lines: list[str] = []
    title = spec.outcomes[d.outcome].title if d.outcome else NO_DECISION
    lines.append(f"recommendation: {d.recommendation} - {title}")
    lines.extend(output_line(d, ro, v) for ro, v in reported(d, spec))
    if record := deciding_text(sets_to_record(d.missing, d.missing_any_of)):
        lines.append(record)
    lines.extend(f"borderline: {borderline_text(b, spec)}" for b in d.borderline)
    lines.append("path: " + " -> ".join(d.path))
    if trace:
        for step in d.trace:
            vals = ", ".join(f"{t}={truth_text(v)}" for t, v in step.guards)
            lines.append(f"  at {step.node}: {vals}; took {step.taken or '(stopped)'}")
    if d.actions:
        lines.append("actions:")
        lines.extend(f"  - {a.text} [{', '.join(a.citations)}]" for a in d.actions)
    if d.flags or d.possible_flags:
        lines.append("flags:")
        lines.extend(f"  ! {f.text} [{', '.join(f.citations)}]" for f in d.flags)
        lines.extend(
            f"  ? {possible_flag_text(p.note.text, p.if_known)} [{', '.join(p.note.citations)}]"
            for p in d.possible_flags
        )
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
