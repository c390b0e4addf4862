"""The care-course diagram: which recommendation can follow which, drawn from proven successor pairs.

Nodes are the spec's recommendation codes (and ``insufficient_data``), coloured by
class and labelled as the spec names them, each listing what following it does to
the inputs (its ``care.follow`` entry in the spec's words); a start node holds
``care.start``. Edges are the pairs the bounded model checker proved to occur in some
care course (:mod:`crs_model.verify.successors`); a pair the solver could not decide
is a dashed "undecided" edge, never drawn as proven. Output is deterministic (codes
in the spec's order, no timestamps), so the committed DOT can be diffed.

This module draws; it does not prove: the successor verdicts come in as data
(:class:`SuccessorsLike`), so the render backend does not import the verifier.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import pydot

from crs_model.diagram import FONT, title_rows
from crs_model.dot_labels import esc, html_label, row, table, wrap
from crs_model.expr import Num
from crs_model.model import INSUFFICIENT_DATA, Care, Spec
from crs_model.text import Renderer, fmt_number
from crs_model.vocabulary import outcome_class, spec_classes

START_NODE = "course_start"  # the DOT id of the start node (codes never contain a space or a start marker)
UNDECIDED_COLOUR = "#B8860B"
BACKGROUND_EDGE = "#C8C8C8"  # proven edges that are not course steps a reader follows: repeats, insufficient data


class SuccessorsLike(Protocol):
    """What the diagram needs of :class:`crs_model.verify.successors.Successors`."""

    @property
    def depth(self) -> int:
        """Steps of the courses the pairs were proven over."""
        ...

    @property
    def start(self) -> str:
        """The pseudo-code of the course start in :attr:`verdicts`."""
        ...

    @property
    def verdicts(self) -> Mapping[tuple[str, str], str]:
        """``(source, target) -> "yes" | "no" | "unknown"`` for every pair."""
        ...


def code_label(spec: Spec, code: str) -> str:
    """A code as the spec names it (its ``label``; ``insufficient data`` for the built-in code)."""
    if code == INSUFFICIENT_DATA:
        return "insufficient data"
    rc = spec.recommendations.get(code)
    return rc.label if rc is not None and rc.label else code


def follow_sets(spec: Spec, code: str) -> list[tuple[str, str]]:
    """``(input label, new value in words)`` for each ``set`` of ``code``'s follow entry (none: ``[]``)."""
    care = spec.care
    follow = care.follow.get(code) if care is not None else None
    if follow is None:
        return []
    words = Renderer(spec.symbols)
    out: list[tuple[str, str]] = []
    for name, f in follow.sets:
        var = spec.variables[name]
        if f is None:
            value = "unknown"
        elif isinstance(f.ast, Num):
            value = fmt_number(f.ast.value, var.unit)  # a literal in its unit: "0 h"
        else:
            value = words.render(f.ast)
        out.append((var.label or name, value))
    return out


def labels(spec: Spec, names: tuple[str, ...]) -> str:
    """Input labels joined with commas (``none`` for no input)."""
    return ", ".join(spec.variables[n].label or n for n in names) or "none"


def step_hours_text(care: Care) -> str:
    """``0–24 h``."""
    return f"{fmt_number(care.step_min_h)}–{fmt_number(care.step_max_h)} h"


def held_inputs(spec: Spec) -> tuple[str, ...]:
    """Inputs held from one consultation to the next unless a follow entry sets them."""
    care = spec.care
    assert care is not None
    moving = set(care.clock) | set(care.spontaneous)
    return tuple(n for n in spec.variables if n not in moving)


def care_diagram(spec: Spec, succ: SuccessorsLike) -> pydot.Dot:
    """The pydot graph of ``spec``'s care course from the successor verdicts ``succ``."""
    care = spec.care
    if care is None:
        raise ValueError(f"{spec.path}: the spec has no care section")
    codes = [*spec.recommendations, INSUFFICIENT_DATA]
    reached = {b for (_, b), v in succ.verdicts.items() if v == "yes"}
    view = f"care course: which recommendation can follow which (courses up to {succ.depth} steps)"
    g = pydot.Dot(
        "care_course",
        graph_type="digraph",
        strict=False,
        rankdir="TB",
        labelloc="t",
        labeljust="l",
        label=html_label(table(title_rows(spec, view), BORDER="1", CELLPADDING="3", COLOR="#333333")),
        fontname=FONT,
        nodesep="0.4",
        ranksep="0.8",
        size="15.5,10.6",
        bgcolor="white",
        pad="0.3",
    )
    g.set_node_defaults(fontname=FONT, fontsize="11", margin="0.12,0.06")
    g.set_edge_defaults(fontname=FONT, fontsize="9", color="#444444", arrowsize="0.7")
    words = Renderer(spec.symbols)
    start_rows = [row("<B>course start</B>"), row(wrap(words.render(care.start.ast), 40), size=9)]
    g.add_node(
        pydot.Node(START_NODE, shape="box", style="rounded,bold", color="#333333", label=html_label(table(start_rows)))
    )
    for code in codes:
        cls = outcome_class(spec, code)
        rows = [
            row(f"{esc(cls.title.upper())} · {esc(code)}", size=9, colour=cls.border),
            row(f"<B>{esc(code_label(spec, code))}</B>"),
        ]
        sets = follow_sets(spec, code)
        if sets:
            rows.append(row("following it sets:", size=9, colour="#555555"))
            rows += [row(wrap(f"• {name} ← {value}", 44), size=9) for name, value in sets]
        else:
            rows.append(row("following it changes no input", size=9, colour="#555555"))
        attrs: dict[str, Any] = {
            "shape": "box",
            "style": "filled",
            "fillcolor": cls.fill,
            "color": cls.border,
            "penwidth": "2",
        }
        if code not in reached:
            rows.append(row(f"not given in any course of up to {succ.depth} steps", size=9, colour="#555555"))
            attrs.update(style="filled,dashed", penwidth="1")
        g.add_node(pydot.Node(code, label=html_label(table(rows)), **attrs))
    for (a, b), verdict in succ.verdicts.items():
        if verdict == "no":
            continue
        src = START_NODE if a == succ.start else a
        if verdict == "yes" and (a == b or INSUFFICIENT_DATA in (a, b)):
            # a repeat, or data going missing and coming back: proven too, drawn light so the course reads
            g.add_edge(pydot.Edge(src, b, color=BACKGROUND_EDGE, penwidth="0.6", arrowsize="0.5"))
        elif verdict == "yes":
            g.add_edge(pydot.Edge(src, b, color=outcome_class(spec, b).border, penwidth="1.3"))
        else:  # the solver could not decide: shown, never as proven
            g.add_edge(pydot.Edge(src, b, style="dashed", color=UNDECIDED_COLOUR, label="undecided"))
    _legend(g, spec, care, succ)
    return g


def _legend(g: pydot.Dot, spec: Spec, care: Care, succ: SuccessorsLike) -> None:
    classes = spec_classes(spec)
    swatches = "".join(
        f'<TD BGCOLOR="{c.fill}" BORDER="1" COLOR="{c.border}"><FONT POINT-SIZE="9">{esc(c.title)}</FONT></TD>'
        for c in classes
    )
    span = f'COLSPAN="{len(classes)}"'

    def line(text: str, colour: str = "") -> str:
        font = f' COLOR="{colour}"' if colour else ""
        cell = f'<FONT POINT-SIZE="9"{font}>{wrap(text, 120)}</FONT>'
        return f'<TR><TD ALIGN="LEFT" {span} BALIGN="LEFT">{cell}</TD></TR>'

    rows = [
        f'<TR><TD ALIGN="LEFT" {span}><B>Legend</B></TD></TR>',
        f"<TR>{swatches}</TR>",
        line(
            f"edges: proven reachable in one consultation, courses up to {succ.depth} steps from the start; "
            f"hours pass {step_hours_text(care)} between consultations; "
            f"inputs that change by themselves: {labels(spec, care.spontaneous)}"
        ),
        line(
            "light grey edges: proven too, but a repeat of the same recommendation, or a step into or out of "
            "insufficient data (an input became unknown, or was recorded again)",
            "#777777",
        ),
        line(f"clock inputs (grow with the hours): {labels(spec, care.clock)}"),
        line(f"held unless following a recommendation sets them: {labels(spec, held_inputs(spec))}"),
    ]
    if any(v == "unknown" for v in succ.verdicts.values()):
        rows.append(line("dashed 'undecided': the solver could not decide the pair; not proven", UNDECIDED_COLOUR))
    g.add_node(
        pydot.Node(
            "legend",
            shape="box",
            style="filled",
            fillcolor="#FAFAFA",
            color="#999999",
            label=html_label(table(rows, CELLSPACING="2")),
        )
    )
    sink = pydot.Subgraph("legend_rank", rank="sink")
    sink.add_node(pydot.Node("legend"))
    g.add_subgraph(sink)


__all__ = ["START_NODE", "SuccessorsLike", "care_diagram", "code_label", "follow_sets", "held_inputs"]
