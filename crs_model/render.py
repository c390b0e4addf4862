"""Decision diagrams written to files: every view as DOT, and the images Graphviz makes of them.

The diagrams are built in :mod:`crs_model.diagram` (DOT), laid out by
:mod:`crs_model.graphviz`, and styled from :mod:`crs_model.vocabulary`; this module
is the public face that the ``render`` and ``report`` commands import. Imported
only by those commands (pydot is never loaded on the evaluation path).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from crs_model.care_diagram import SuccessorsLike, care_diagram
from crs_model.criteria_diagram import SUFFIX as CRITERIA_SUFFIX
from crs_model.criteria_diagram import criteria_diagram, has_criteria
from crs_model.diagram import Overlay, diagram, dot_text, view_suffix, views
from crs_model.errors import RenderError
from crs_model.fileio import spec_stem
from crs_model.graphviz import FORMATS, graphviz_binary, graphviz_version, run_graphviz, svg_inline
from crs_model.model import OutcomeClass, Spec
from crs_model.vocabulary import SEVERITY_COLOUR, ClassStyle, FindingLike, outcome_class

CARE_SUFFIX = ".care"  # the care-course diagram's file-name suffix


def diagram_sources(
    spec: Spec,
    overlay: Overlay | None = None,
    *,
    split: bool | None = None,
    care: SuccessorsLike | None = None,
) -> list[tuple[str, str]]:
    """``(file-name suffix, DOT)`` of every diagram :func:`write_diagrams` writes (and ``render --check`` compares).

    The criteria tree is drawn plain or with a patient's verdicts, not with findings (none point into it).
    """
    out = [(view_suffix(view), dot_text(diagram(spec, overlay, view=view))) for view in views(spec, split=split)]
    if (overlay is None or overlay.findings is None) and has_criteria(spec):
        out.append((CRITERIA_SUFFIX, dot_text(criteria_diagram(spec, overlay))))
    if care is not None:
        out.append((CARE_SUFFIX, dot_text(care_diagram(spec, care))))
    return out


def write_diagrams(
    spec: Spec,
    out_dir: str | Path,
    *,
    formats: Sequence[str] = ("dot", "svg"),
    overlay: Overlay | None = None,
    stem: str | None = None,
    split: bool | None = None,
    care: SuccessorsLike | None = None,
) -> list[Path]:
    """Write every view of ``spec`` as DOT (always) and the requested image formats; returns the paths.

    With ``care`` (proven successor pairs of the spec's care course), the care diagram too (``<stem>.care``);
    the criteria tree (``<stem>.criteria``) when a guard reads a boolean definition.

    Raises :class:`RenderError` before writing anything when an image format needs Graphviz and it is missing,
    and :class:`OutputFileError` naming the path when a file cannot be written (each file is written atomically).
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise RenderError(f"unknown format(s) {', '.join(bad)} (choose from {', '.join(FORMATS)})")
    images = [f for f in FORMATS if f in formats and f != "dot"]
    if images and graphviz_binary() is None:
        run_graphviz("", images[0])  # raises the clear "not found" error
    from crs_model.fileio import make_dirs, write_atomic

    out = Path(out_dir)
    make_dirs(out)  # OutputFileError (exit 2, naming the path) when it cannot be created
    base = stem or spec_stem(spec.path)
    written: list[Path] = []
    for suffix, source in diagram_sources(spec, overlay, split=split, care=care):
        name = base + suffix
        path = out / f"{name}.dot"
        write_atomic(path, source.encode("utf-8"))  # replaces a symlink, never writes through it
        written.append(path)
        for fmt in images:
            img = out / f"{name}.{fmt}"
            write_atomic(img, run_graphviz(source, fmt))
            written.append(img)
    return written


__all__ = [
    "CARE_SUFFIX",
    "CRITERIA_SUFFIX",
    "FORMATS",
    "SEVERITY_COLOUR",
    "ClassStyle",
    "FindingLike",
    "OutcomeClass",
    "Overlay",
    "RenderError",
    "SuccessorsLike",
    "care_diagram",
    "criteria_diagram",
    "diagram",
    "diagram_sources",
    "dot_text",
    "graphviz_binary",
    "graphviz_version",
    "outcome_class",
    "run_graphviz",
    "svg_inline",
    "view_suffix",
    "views",
    "write_diagrams",
]
