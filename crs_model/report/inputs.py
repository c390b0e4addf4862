"""What the pack shows besides the spec: verifier report, diagram SVG, traceability map, sign-offs, versions."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from typing import Any

from crs_model import __version__
from crs_model.model import Spec
from crs_model.report.trace_map import TraceMap, load_trace_map
from crs_model.signoff import CheckedRecord
from crs_model.vocabulary import FindingLike, severity_text


@dataclass(frozen=True, slots=True)
class PackInputs:
    """Everything the pack shows besides the spec; build with :func:`gather`."""

    svg: str | None = None
    svg_note: str = ""
    diagram_path: str = ""
    verify_report: Any = None  # crs_model.verify.Report (duck-typed)
    verify_note: str = ""
    extra_findings: tuple[FindingLike, ...] = ()  # e.g. sign-off findings
    trace: TraceMap | None = None
    signoffs: tuple[CheckedRecord, ...] = ()  # every record of the sign-off file, checked
    signed_off: bool = False  # these bytes carry the valid approvals their status needs
    signoff_problem: str = ""
    tools: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    care: Any = None  # crs_model.verify.successors.Successors of the care course (duck-typed)
    care_svg: str | None = None
    care_note: str = ""  # why the care diagram is absent
    changes: Any = None  # crs_model.diff.DiffResult against the last signed-off version (duck-typed)
    changes_note: str = ""  # which version it is and how it was found, or why there is no diff
    criteria_svg: str | None = None  # the criteria tree (crs_model.criteria_diagram)
    criteria_note: str = ""  # why it is absent


def tool_versions(graphviz: str | None, solver: str | None) -> tuple[tuple[str, str], ...]:
    """The (tool, version) rows of the pack: this toolkit, Python, pydot, Graphviz and the solver."""
    import pydot

    return (
        ("crs_model", __version__),
        ("Python", platform.python_version()),
        ("pydot", str(getattr(pydot, "__version__", "unknown"))),
        ("Graphviz", graphviz or "not installed"),
        ("Z3 solver", solver or "not run"),
    )


def run_verifier(spec: Spec) -> tuple[Any, str]:
    """``(report, "")`` from ``crs_model.verify``, or ``(None, why)`` when this build has no verifier."""
    import importlib

    try:
        module = importlib.import_module("crs_model.verify")
    except ImportError as exc:  # the verifier, or its solver, is not installed
        return None, f"not available in this build ({exc})"
    return module.verify(spec), ""


def care_successors(spec: Spec) -> tuple[Any, str]:
    """``(successors, "")`` of the spec's care course (:mod:`crs_model.verify.successors`), or ``(None, why)``.

    ``why`` says the spec has no care section or this build has no verifier (then no
    care diagram is drawn: an edge is drawn only when proven).
    """
    import importlib

    if spec.care is None:
        return None, "the spec has no care section"
    try:
        module = importlib.import_module("crs_model.verify.successors")
    except ImportError as exc:
        return None, f"the care diagram needs the verifier, which is not available in this build ({exc})"
    return module.successors(spec), ""


def gather(
    spec: Spec,
    *,
    verifier: bool = True,
    svg: bool = True,
    diagram_path: str = "",
) -> PackInputs:
    """Collect the pack's inputs: verifier report, diagram SVG, traceability map, sign-offs, versions.

    With a care section, also the proven successor pairs of the care course and their
    diagram. Missing pieces (no Graphviz, no verifier, no map, malformed sign-off file)
    are stated in the pack rather than raised, so the committee sees what is absent.
    """
    from crs_model.criteria_diagram import has_criteria
    from crs_model.errors import RenderError, SignoffError
    from crs_model.render import (
        Overlay,
        care_diagram,
        criteria_diagram,
        diagram,
        dot_text,
        graphviz_version,
        run_graphviz,
        svg_inline,
    )
    from crs_model.signoff import signoff_findings, signoff_state

    report, note = run_verifier(spec) if verifier else (None, "skipped (--no-verify)")
    svg_text: str | None = None
    svg_note = ""
    if svg:
        # errors and warnings are drawn on the diagram; info findings are listed in the pack only
        serious = tuple(
            f for f in (getattr(report, "findings", ()) if report is not None else ()) if severity_text(f) != "info"
        )
        overlay = Overlay(findings=serious) if serious else None
        try:
            svg_text = svg_inline(run_graphviz(dot_text(diagram(spec, overlay)), "svg"))
        except RenderError as exc:
            svg_note = f"Diagram not embedded: {exc}."
    criteria_svg: str | None = None
    criteria_note = ""
    if svg and has_criteria(spec):
        try:
            dot = dot_text(criteria_diagram(spec))
            criteria_svg = svg_inline(run_graphviz(dot, "svg"), id_prefix="criteria-")
        except RenderError as exc:
            criteria_note = f"Criteria tree not embedded: {exc}."
    care, care_note = (None, "")
    care_svg: str | None = None
    if spec.care is not None:
        care, care_note = care_successors(spec) if verifier else (None, "the verifier was not run (--no-verify)")
        if care is not None and svg:
            try:
                care_svg = svg_inline(run_graphviz(dot_text(care_diagram(spec, care)), "svg"), id_prefix="care-")
            except RenderError as exc:
                care_note = f"Care diagram not embedded: {exc}."
    try:
        state = signoff_state(spec)
        records, signed_off, problem = state.checked, state.signed_off, ""
    except SignoffError as exc:
        records, signed_off, problem = (), False, str(exc)
    changes, changes_note = (None, "Not computed: the verifier was not run (--no-verify).")
    if verifier:
        from crs_model.report.changes import gather_changes

        changes, changes_note = gather_changes(spec)
    solver = getattr(report, "solver_version", None) if report is not None else None
    seen = {(f.check, f.element) for f in getattr(report, "findings", ())} if report is not None else set()
    return PackInputs(
        svg=svg_text,
        svg_note=svg_note,
        diagram_path=diagram_path,
        verify_report=report,
        verify_note=note,
        extra_findings=tuple(f for f in signoff_findings(spec) if (f.check, f.element) not in seen),
        trace=load_trace_map(spec.path),
        signoffs=records,
        signed_off=signed_off,
        signoff_problem=problem,
        tools=tool_versions(graphviz_version(), solver),
        care=care,
        care_svg=care_svg,
        care_note=care_note,
        changes=changes,
        changes_note=changes_note,
        criteria_svg=criteria_svg,
        criteria_note=criteria_note,
    )
