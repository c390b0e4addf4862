"""Decision diagrams as DOT: the spec's networkx graph drawn with pydot as Graphviz DOT.

Decision nodes show their question and hit policy; edges their guard in clinical
words (parameters by name and value); outcomes are coloured by class with their
key actions; citation markers ``[n]`` refer to a legend of sources; a title block
gives spec id, version, status and sha256. Output is deterministic: the same spec
(and overlay) gives byte-identical DOT, built in spec order with no timestamps.

Overlays: a patient's :class:`~crs_model.engine.Decision` (path highlighted, each
evaluated guard's value and the inputs it read) and verifier findings (elements
marked ``F1``, ``F2`` ... with a findings table holding witnesses).

Graphviz itself is run by :mod:`crs_model.graphviz`; :mod:`crs_model.render` writes
the files. Imported only by the ``render`` and ``report`` commands (pydot is never
loaded on the evaluation path).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pydot

from crs_model.dot_labels import cut, esc, html_label, row, short, table, wrap
from crs_model.engine import Decision
from crs_model.graph import build_graph
from crs_model.model import INSUFFICIENT_DATA, HitPolicy, Outcome, OutcomeClass, Spec
from crs_model.text import Renderer
from crs_model.vocabulary import (
    SEVERITY_COLOUR,
    SEVERITY_ORDER,
    FindingLike,
    class_style,
    deciding_text,
    level_text,
    outcome_class,
    possible_flag_text,
    sets_to_record,
    severity_text,
    sort_findings,
    spec_classes,
    truth_text,
    undecided_output_text,
    values_read,
)

FONT = "DejaVu Sans"
SPLIT_OVER = 12  # decision nodes above which per-sub-decision diagrams are written by default
MAX_ACTIONS = 4  # key actions shown on an outcome node (the report lists them all)


@dataclass(frozen=True, slots=True)
class Overlay:
    """What to draw on top of the spec: a patient's decision and/or verifier findings."""

    decision: Decision | None = None
    patient_label: str = ""
    findings: tuple[FindingLike, ...] | None = None


def title_rows(spec: Spec, view: str) -> list[str]:
    """The title block's rows: spec title, id, version, status, sha256 and the view in words."""
    md = spec.metadata
    return [
        row(f"<B>{esc(md.title)}</B>", size=18),
        row(
            f"spec <B>{esc(md.id)}</B>   version <B>{esc(md.version)}</B>   "
            f"status <B>{esc(md.status.value.upper())}</B>",
            size=12,
        ),
        row(f"sha256 {esc(spec.sha256)}", size=10),
        row(esc(view), size=10, colour="#555555"),
    ]


class _Builder:
    def __init__(self, spec: Spec, overlay: Overlay, *, compact: bool) -> None:
        self.spec = spec
        self.overlay = overlay
        self.compact = compact
        self.words = Renderer(spec.symbols, param_names=True)
        self.cite_no = {eid: i for i, eid in enumerate(spec.evidence, 1)}
        self.graph = build_graph(spec)
        d = overlay.decision
        self.steps = {s.node: s for s in d.trace} if d is not None else {}
        self.on_path = set(d.path) if d is not None else set()
        # path edges three-valued evaluation does not take: a definitive answer the exact method found
        # (every valid completion of the absent inputs gives it), drawn as the path but dashed
        path = d.path if d is not None else ()
        self.open_path = {(a, b) for a, b in pairwise(path) if a in self.steps and self.steps[a].taken != b}
        self.marks: dict[str, list[tuple[str, str]]] = {}  # element -> [(F-number, severity)]
        self.findings = sort_findings(overlay.findings) if overlay.findings is not None else []
        # flags and actions are drawn inside their outcomes: mark those outcomes
        owners: dict[str, list[str]] = {}
        for oid, o in spec.outcomes.items():
            for item in (*(f"flag:{x.id}" for x in o.flags), *(f"action:{x.id}" for x in o.actions)):
                owners.setdefault(item, []).append(f"outcome:{oid}")
        for i, f in enumerate(self.findings, 1):
            for element in (f.element, *owners.get(f.element, ())):
                self.marks.setdefault(element, []).append((f"F{i}", severity_text(f)))

    # ------------------------------------------------------------------ pieces
    def cites(self, ids: Sequence[str]) -> str:
        nums = sorted({self.cite_no[c] for c in ids if c in self.cite_no})
        return "[" + ",".join(str(n) for n in nums) + "]" if nums else ""

    def mark_text(self, element: str) -> str:
        """``⚠ F2 (error); ⚠ F7, F8 (info)`` as wrapped HTML-label text ('' when unmarked)."""
        by_sev: dict[str, list[str]] = {}
        for m, sev in self.marks.get(element, []):
            by_sev.setdefault(sev, []).append(m)
        text = "; ".join(f"⚠ {', '.join(ms)} ({sev})" for sev, ms in by_sev.items())
        return wrap(text, 44) if text else ""

    def mark_colour(self, element: str) -> str | None:
        marks = self.marks.get(element)
        if not marks:
            return None
        worst = min(marks, key=lambda m: SEVERITY_ORDER.get(m[1], 9))[1]
        return SEVERITY_COLOUR.get(worst, SEVERITY_COLOUR["info"])

    def title_block(self, view: str) -> str:
        rows = title_rows(self.spec, view)
        d = self.overlay.decision
        if d is not None:
            who = f"patient {self.overlay.patient_label}: " if self.overlay.patient_label else "patient: "
            result = d.recommendation + (f" ({d.outcome})" if d.outcome else "")
            if record := deciding_text(sets_to_record(d.missing, d.missing_any_of)):
                result += "; " + record
            rows.append(row(f"<B>{wrap(who + result, 110)}</B>", size=12, colour="#0072B2"))
            rows.extend(row(esc(text), size=11, colour="#0072B2") for text in self.open_texts(d))
        if self.overlay.findings is not None:
            counts = dict.fromkeys(SEVERITY_ORDER, 0)
            for f in self.findings:
                counts[severity_text(f)] = counts.get(severity_text(f), 0) + 1
            text = "verifier findings: " + ", ".join(f"{n} {s}" for s, n in counts.items())
            rows.append(
                row(f"<B>{esc(text)}</B>", size=12, colour=SEVERITY_COLOUR["error"] if counts["error"] else None)
            )
        return html_label(table(rows, BORDER="1", CELLPADDING="3", COLOR="#333333"))

    def open_texts(self, d: Decision) -> list[str]:
        """What absent inputs leave open on ``d``, one line each: undecided outputs, then possible flags."""
        lines = []
        for name, entry in d.undecided_outputs.items():
            lines.append(undecided_output_text(self.spec.outputs[name], entry.get("values")))
        lines.extend(possible_flag_text(cut(p.note.text, 90), p.if_known) for p in d.possible_flags)
        return lines

    def decision_label(self, nid: str) -> str:
        node = self.spec.nodes[nid]
        policy = "unique: exactly one guard holds" if node.hit_policy is HitPolicy.UNIQUE else "first: first true guard"
        width = 34 if self.compact else 42
        rows = [
            row(f"{esc(nid)} · {esc(policy)}", size=9, colour="#555555"),
            row(f"<B>{wrap(node.question, width)}</B>"),
        ]
        if not self.compact and node.cites:
            rows.append(row(esc(self.cites(node.cites)), size=9, colour="#555555"))
        if m := self.mark_text(f"node:{nid}"):
            rows.append(row(f"<B>{m}</B>", size=10, colour=self.mark_colour(f"node:{nid}")))
        return html_label(table(rows))

    def outcome_label(self, o: Outcome) -> str:
        cls = outcome_class(self.spec, o.recommendation)
        rows = [
            row(f"{esc(cls.title.upper())} · {esc(o.recommendation)}", size=9, colour=cls.border),
            row(f"<B>{wrap(o.title, 30 if self.compact else 40)}</B>"),
        ]
        if not self.compact:
            for a in o.actions[:MAX_ACTIONS]:
                text = "• " + short(a.text, 64)
                rows.append(row(wrap(text, 44) + " " + esc(self.cites(a.cites)), size=9))
            extra = len(o.actions) - MAX_ACTIONS
            tail = []
            if extra > 0:
                tail.append(f"+ {extra} more action{'s' if extra > 1 else ''}")
            if o.flags:
                tail.append(f"{len(o.flags)} flag{'s' if len(o.flags) > 1 else ''}")
            if tail:
                rows.append(row(esc(", ".join(tail) + " (see report)"), size=9, colour="#555555"))
            if o.cites:
                rows.append(row(esc(self.cites(o.cites)), size=9, colour="#555555"))
        if m := self.mark_text(f"outcome:{o.id}"):
            rows.append(row(f"<B>{m}</B>", size=10, colour=self.mark_colour(f"outcome:{o.id}")))
        return html_label(table(rows))

    def guard_inputs(self, ast: Any) -> str:
        """``ASTCT grade = 3, IL-6 = unknown`` for the non-parameter names a guard reads."""
        d = self.overlay.decision
        assert d is not None
        return ", ".join(r.text() for r in values_read(ast, d.values, self.spec.symbols))

    # ------------------------------------------------------------------ graph
    def base(self, view: str) -> pydot.Dot:
        g = pydot.Dot(
            "decision_graph",
            graph_type="digraph",
            strict=False,
            rankdir="TB",
            ordering="out",
            labelloc="t",
            labeljust="l",
            label=self.title_block(view),
            fontname=FONT,
            nodesep="0.35",
            ranksep="0.55" if self.compact else "0.7",
            size="15.5,10.6",  # with pad and margins the PDF page fits A3 landscape (16.5 x 11.7 in)
            bgcolor="white",
            pad="0.3",
        )
        g.set_node_defaults(fontname=FONT, fontsize="11", margin="0.12,0.06")
        g.set_edge_defaults(fontname=FONT, fontsize="10", color="#444444", arrowsize="0.8")
        return g

    def add_decision(self, g: pydot.Dot, nid: str, *, continues: bool = False) -> None:
        attrs: dict[str, Any] = {"shape": "box", "style": "rounded,filled", "fillcolor": "#FFFFFF", "penwidth": "1.4"}
        if continues:
            attrs["style"] = "rounded,dashed"
            attrs["label"] = html_label(
                table(
                    [
                        row(f"continues at <B>{esc(nid)}</B>", size=10),
                        row(wrap(self.spec.nodes[nid].question, 34), size=9),
                    ]
                )
            )
        else:
            attrs["label"] = self.decision_label(nid)
        self.paint_node(attrs, nid, f"node:{nid}")
        g.add_node(pydot.Node(nid, **attrs))

    def add_outcome(self, g: pydot.Dot, oid: str) -> None:
        o = self.spec.outcomes[oid]
        cls = outcome_class(self.spec, o.recommendation)
        attrs: dict[str, Any] = {
            "shape": "box",
            "style": "filled",
            "fillcolor": cls.fill,
            "color": cls.border,
            "penwidth": "2",
            "label": self.outcome_label(o),
        }
        self.paint_node(attrs, oid, f"outcome:{oid}")
        g.add_node(pydot.Node(oid, **attrs))

    def paint_node(self, attrs: dict[str, Any], nid: str, element: str) -> None:
        if self.overlay.decision is not None:
            if nid in self.on_path:
                attrs.update(color="#0072B2", penwidth="4")
            else:
                attrs.update(color="#BBBBBB", fontcolor="#888888")
                if "fillcolor" in attrs and attrs["fillcolor"] != "#FFFFFF":
                    attrs["style"] = attrs["style"] + ",dashed"
        if colour := self.mark_colour(element):
            attrs.update(color=colour, penwidth="4")
            attrs["style"] = attrs["style"].replace(",dashed", "") + ",bold"

    def add_edges(self, g: pydot.Dot, nid: str) -> None:
        node = self.spec.nodes[nid]
        first = node.hit_policy is HitPolicy.FIRST
        step = self.steps.get(nid)
        values = dict(step.guards) if step is not None else {}
        for e in node.edges:
            if e.target not in self.graph:
                continue
            label_rows = []
            head = f"{e.index + 1}. " if first else ""
            if e.label:
                label_rows.append(row(f"<B>{esc(head + e.label)}</B>"))
            elif head:
                label_rows.append(row(f"<B>{esc(head)}</B>"))
            if not self.compact:
                label_rows.append(row(wrap(self.words.render(e.guard.ast), 38), size=9))
                if e.cites:
                    label_rows.append(row(esc(self.cites(e.cites)), size=9, colour="#555555"))
            attrs: dict[str, Any] = {}
            if self.overlay.decision is not None:
                if e.target in values:
                    v = values[e.target]
                    taken = (step is not None and step.taken == e.target) or (nid, e.target) in self.open_path
                    # the values that decide the path are shouted: TRUE (taken or not) and UNKNOWN (stops)
                    word = truth_text(v) if v is False else truth_text(v).upper()
                    colour = "#0072B2" if taken else ("#B8860B" if v is None else "#999999")
                    label_rows.append(row(f"<B>guard = {word}</B>", size=10, colour=colour))
                    if inputs := self.guard_inputs(e.guard.ast):
                        label_rows.append(row(wrap(inputs, 38), size=9, colour=colour))
                    attrs.update(color=colour, penwidth="4" if taken else "1.2")
                    if v is None:
                        attrs["style"] = "dashed"
                elif (nid, e.target) in self.open_path:  # after an unknown guard of a `first` node
                    attrs.update(color="#0072B2", penwidth="4", style="dashed")
                else:
                    attrs.update(color="#CCCCCC", fontcolor="#999999")
            element = f"edge:{e.id}"
            if m := self.mark_text(element):
                colour = self.mark_colour(element) or SEVERITY_COLOUR["info"]
                label_rows.append(row(f"<B>{m}</B>", size=10, colour=colour))
                attrs.update(color=colour, penwidth="3")
            if label_rows:
                attrs["label"] = html_label(table(label_rows))
            g.add_edge(pydot.Edge(e.source, e.target, **attrs))

    def add_insufficient(self, g: pydot.Dot) -> None:
        d = self.overlay.decision
        if d is None or d.recommendation != INSUFFICIENT_DATA or not d.path:
            return
        cls = class_style(OutcomeClass.INSUFFICIENT, self.spec)
        record = deciding_text(sets_to_record(d.missing, d.missing_any_of)) or "to decide: (no input listed)"
        label = table(
            [
                row(f"{esc(cls.title.upper())} · {INSUFFICIENT_DATA}", size=9, colour=cls.border),
                row("<B>The spec cannot decide without more data</B>"),
                row(wrap(record, 40), size=10),
            ]
        )
        g.add_node(
            pydot.Node(
                INSUFFICIENT_DATA,
                shape="box",
                style="filled,bold",
                fillcolor=cls.fill,
                color="#0072B2",
                penwidth="4",
                label=html_label(label),
            )
        )
        g.add_edge(pydot.Edge(d.path[-1], INSUFFICIENT_DATA, style="dashed", color=cls.border, penwidth="3"))

    def add_findings_table(self, g: pydot.Dot) -> None:
        if self.overlay.findings is None:
            return
        rows = [row("<B>Verifier findings</B>", size=12)]
        if not self.findings:
            rows.append(row("none: every check passed", size=10))
        for i, f in enumerate(self.findings, 1):
            sev = severity_text(f)
            where = f" at {f.location}" if f.location else ""
            rows.append(
                row(
                    f"<B>F{i} · {esc(sev)} · {esc(f.check)} · {esc(f.element)}</B>{esc(where)}",
                    size=10,
                    colour=SEVERITY_COLOUR.get(sev),
                )
            )
            rows.append(row(wrap(cut(f.message, 300), 110), size=9))
            if f.witness:
                w = json.dumps(
                    dict(f.witness), sort_keys=True, ensure_ascii=False, separators=(", ", ": "), default=str
                )
                # the diagram shows the start; the report and `crs-model verify` give the whole witness
                rows.append(row("witness: " + wrap(cut(w, 220), 110), size=9, colour="#555555"))
        g.add_node(
            pydot.Node(
                "findings",
                shape="box",
                style="filled",
                fillcolor="#FFF8F0",
                color="#C0392B",
                label=html_label(table(rows)),
            )
        )

    def add_legend(self, g: pydot.Dot, *, sources: bool) -> None:
        classes = spec_classes(self.spec)  # the classes this spec's codes use, and insufficient
        swatches = "".join(
            f'<TD BGCOLOR="{c.fill}" BORDER="1" COLOR="{c.border}"><FONT POINT-SIZE="9">{esc(c.title)}</FONT></TD>'
            for c in classes
        )
        span = f'COLSPAN="{len(classes)}"'
        rows = [
            f'<TR><TD ALIGN="LEFT" {span}><B>Legend</B></TD></TR>',
            f"<TR>{swatches}</TR>",
            f'<TR><TD ALIGN="LEFT" {span} BALIGN="LEFT"><FONT POINT-SIZE="9">'
            "Boxes with rounded corners are decisions (question and hit policy); edges carry their guard. "
            "[n] cites source n below.</FONT></TD></TR>",
        ]
        if self.overlay.decision is not None:
            rows.append(
                f'<TR><TD ALIGN="LEFT" {span}><FONT POINT-SIZE="9" COLOR="#0072B2">'
                "Thick blue: the patient's path; each evaluated guard shows its value and the inputs it read."
                "</FONT></TD></TR>"
            )
            if self.open_path:
                rows.append(
                    f'<TR><TD ALIGN="LEFT" {span}><FONT POINT-SIZE="9" COLOR="#0072B2">'
                    "Dashed blue: a guard on the path the absent inputs leave unknown; every value they "
                    "could take gives the same answer.</FONT></TD></TR>"
                )
        if self.overlay.findings is not None:
            rows.append(
                f'<TR><TD ALIGN="LEFT" {span}><FONT POINT-SIZE="9" COLOR="#C0392B">'
                "⚠ Fn: verifier finding n (see the findings table).</FONT></TD></TR>"
            )
        if sources:
            rows.append(f'<TR><TD ALIGN="LEFT" {span}><B>Sources</B></TD></TR>')
            for eid, ev in self.spec.evidence.items():
                text = f"[{self.cite_no[eid]}] {eid} - {cut(ev.citation, 120)} ({level_text(ev.level)})"
                rows.append(f'<TR><TD ALIGN="LEFT" {span}><FONT POINT-SIZE="9">{esc(text)}</FONT></TD></TR>')
        label = html_label(table(rows, CELLSPACING="2"))
        g.add_node(pydot.Node("legend", shape="box", style="filled", fillcolor="#FAFAFA", color="#999999", label=label))
        sink = pydot.Subgraph("legend_rank", rank="sink")
        sink.add_node(pydot.Node("legend"))
        if self.overlay.findings is not None and "findings" in {n.get_name() for n in g.get_nodes()}:
            sink.add_node(pydot.Node("findings"))
        g.add_subgraph(sink)

    # ------------------------------------------------------------------ views
    def full(self) -> pydot.Dot:
        view = "full decision graph" if not self.compact else "overview"
        g = self.base(view)
        for nid in self.spec.nodes:
            self.add_decision(g, nid)
        for oid in self.spec.outcomes:
            self.add_outcome(g, oid)
        for nid in self.spec.nodes:
            self.add_edges(g, nid)
        self.add_insufficient(g)
        self.add_findings_table(g)
        self.add_legend(g, sources=not self.compact)
        return g

    def sub(self, nid: str) -> pydot.Dot:
        node = self.spec.nodes[nid]
        g = self.base(f"sub-decision {nid}: {node.question}")
        self.add_decision(g, nid)
        for e in node.edges:
            if e.target in self.spec.nodes:
                self.add_decision(g, e.target, continues=True)
            elif e.target in self.spec.outcomes:
                self.add_outcome(g, e.target)
        self.add_edges(g, nid)
        self.add_legend(g, sources=True)
        return g


def diagram(spec: Spec, overlay: Overlay | None = None, *, view: str = "full") -> pydot.Dot:
    """The pydot graph of ``spec``: ``view`` is ``full``, ``overview`` or ``node:<id>`` (one sub-decision)."""
    ov = overlay or Overlay()
    if view == "full":
        return _Builder(spec, ov, compact=False).full()
    if view == "overview":
        return _Builder(spec, ov, compact=True).full()
    if view.startswith("node:") and view[5:] in spec.nodes:
        return _Builder(spec, ov, compact=False).sub(view[5:])
    raise ValueError(f"unknown view {view!r}")


def dot_text(graph: pydot.Dot) -> str:
    """The DOT source, newline-terminated (deterministic for a deterministic graph)."""
    text: str = graph.to_string()
    return text if text.endswith("\n") else text + "\n"


def views(spec: Spec, *, split: bool | None = None) -> list[str]:
    """Views to write: full and overview, plus one per decision node when split (default: large graphs)."""
    out = ["full", "overview"]
    if split or (split is None and len(spec.nodes) > SPLIT_OVER):
        out += [f"node:{nid}" for nid in spec.nodes]
    return out


def view_suffix(view: str) -> str:
    """The file-name suffix of a view: ``""`` (full), ``.overview``, ``.node-<id>``."""
    return "" if view == "full" else "." + view.replace("node:", "node-")
