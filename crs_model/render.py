"""Decision diagrams: the spec's networkx graph drawn with pydot as Graphviz DOT.

Decision nodes show their question and hit policy; edges their guard in clinical
words (parameters by name and value); outcomes are coloured by class with their
key actions; citation markers ``[n]`` refer to a legend of sources; a title block
gives spec id, version, status and sha256. Output is deterministic: the same spec
(and overlay) gives byte-identical DOT, built in spec order with no timestamps.

Overlays: a patient's :class:`~crs_model.engine.Decision` (path highlighted, each
evaluated guard's value and the inputs it read) and verifier findings (elements
marked ``F1``, ``F2`` ... with a findings table holding witnesses).

Imported only by the ``render`` and ``report`` commands (pydot is never loaded on
the evaluation path).
"""

from __future__ import annotations

import enum
import html
import json
import shutil
import subprocess
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pydot

from crs_model.engine import Decision
from crs_model.errors import Location, RenderError
from crs_model.expr import names
from crs_model.graph import build_graph
from crs_model.model import EvidenceLevel, HitPolicy, Outcome, Recommendation, Spec
from crs_model.signoff import spec_stem
from crs_model.text import Renderer
from crs_model.types import SymbolKind

FONT = "DejaVu Sans"
FORMATS = ("dot", "svg", "png", "pdf")
SPLIT_OVER = 12  # decision nodes above which per-sub-decision diagrams are written by default
MAX_ACTIONS = 4  # key actions shown on an outcome node (the report lists them all)


class OutcomeClass(enum.Enum):
    """The five colour classes of the diagram, with fill and border (colour-blind-safe tints)."""

    NO_CRS = ("no CRS", "#EEEEEE", "#777777")
    STANDARD = ("standard therapy", "#D6E6F5", "#0072B2")
    CYTOSORB = ("CytoSorb", "#D5EFD9", "#009E73")
    CONTRAINDICATED = ("contraindicated", "#F8D3D3", "#C0392B")
    INSUFFICIENT = ("insufficient data", "#FFF1C9", "#B8860B")

    @property
    def title(self) -> str:
        return self.value[0]

    @property
    def fill(self) -> str:
        return self.value[1]

    @property
    def border(self) -> str:
        return self.value[2]


_CLASS_OF = {
    Recommendation.NO_CRS: OutcomeClass.NO_CRS,
    Recommendation.SUPPORTIVE_CARE: OutcomeClass.STANDARD,
    Recommendation.GIVE_TOCILIZUMAB: OutcomeClass.STANDARD,
    Recommendation.ADD_CORTICOSTEROIDS: OutcomeClass.STANDARD,
    Recommendation.CONTINUE_STANDARD_THERAPY: OutcomeClass.STANDARD,
    Recommendation.CONSIDER_CYTOSORB: OutcomeClass.CYTOSORB,
    Recommendation.CYTOSORB_CONTRAINDICATED: OutcomeClass.CONTRAINDICATED,
    Recommendation.INSUFFICIENT_DATA: OutcomeClass.INSUFFICIENT,
}


def outcome_class(recommendation: Recommendation | str) -> OutcomeClass:
    """The colour class of a recommendation code."""
    return _CLASS_OF[Recommendation(recommendation)]


class FindingLike(Protocol):
    """What the overlay reads from a verifier finding (``crs_model.verify.Finding``)."""

    @property
    def check(self) -> str: ...
    @property
    def severity(self) -> Any: ...  # Severity enum (``.value`` error|warning|info) or its text
    @property
    def location(self) -> Location | None: ...
    @property
    def message(self) -> str: ...
    @property
    def witness(self) -> Mapping[str, Any] | None: ...
    @property
    def element(self) -> str: ...


SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
SEVERITY_COLOUR = {"error": "#C0392B", "warning": "#D35400", "info": "#2471A3"}


def severity_text(finding: FindingLike) -> str:
    sev = finding.severity
    return str(getattr(sev, "value", sev))


def sort_findings(findings: Iterable[FindingLike]) -> list[FindingLike]:
    """Stable, deterministic order: severity, check, element, location, message."""

    def key(f: FindingLike) -> tuple[int, str, str, str, str]:
        return (SEVERITY_ORDER.get(severity_text(f), 9), f.check, f.element, str(f.location or ""), f.message)

    return sorted(findings, key=key)


def level_text(level: EvidenceLevel) -> str:
    """``grade_very_low`` -> ``GRADE very low``; ``expert_opinion`` -> ``expert opinion``."""
    v = level.value
    return "GRADE " + v[6:].replace("_", " ") if v.startswith("grade_") else v.replace("_", " ")


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _wrap(text: str, width: int) -> str:
    """Escaped text wrapped into HTML-label lines."""
    lines = textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False) or [""]
    return '<BR ALIGN="LEFT"/>'.join(_e(ln) for ln in lines)


def _cut(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    t = " ".join(text.split())
    return t if len(t) <= limit else t[: limit - 1].rsplit(" ", 1)[0] + "…"


def _short(text: str, limit: int) -> str:
    """First sentence (or clause before a colon), cut at a word boundary to ``limit``."""
    t = " ".join(text.split())
    for stop in (". ", ": ", "; "):
        i = t.find(stop)
        if 0 < i < limit:
            t = t[:i]
            break
    return _cut(t, limit)


def _html(body: str) -> str:
    return f"<{body}>"


def _table(rows: Iterable[str], **attrs: str) -> str:
    a = {"BORDER": "0", "CELLBORDER": "0", "CELLSPACING": "1", "CELLPADDING": "2", **attrs}
    head = " ".join(f'{k}="{v}"' for k, v in a.items())
    return f"<TABLE {head}>" + "".join(rows) + "</TABLE>"


def _row(content: str, *, align: str = "LEFT", size: int | None = None, colour: str | None = None) -> str:
    if size is not None or colour is not None:
        fa = (f' POINT-SIZE="{size}"' if size is not None else "") + (f' COLOR="{colour}"' if colour else "")
        content = f"<FONT{fa}>{content}</FONT>"
    return f'<TR><TD ALIGN="{align}" BALIGN="LEFT">{content}</TD></TR>'


def _fmt_value(v: Any) -> str:
    if v is None:
        return "unknown"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and v.is_integer():
        return f"{v:.0f}"
    return str(v)


@dataclass(frozen=True, slots=True)
class Overlay:
    """What to draw on top of the spec: a patient's decision and/or verifier findings."""

    decision: Decision | None = None
    patient_label: str = ""
    findings: tuple[FindingLike, ...] | None = None


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
        return _wrap(text, 44) if text else ""

    def mark_colour(self, element: str) -> str | None:
        marks = self.marks.get(element)
        if not marks:
            return None
        worst = min(marks, key=lambda m: SEVERITY_ORDER.get(m[1], 9))[1]
        return SEVERITY_COLOUR.get(worst, SEVERITY_COLOUR["info"])

    def title_block(self, view: str) -> str:
        md = self.spec.metadata
        rows = [
            _row(f"<B>{_e(md.title)}</B>", size=18),
            _row(
                f"spec <B>{_e(md.id)}</B>   version <B>{_e(md.version)}</B>   "
                f"status <B>{_e(md.status.value.upper())}</B>",
                size=12,
            ),
            _row(f"sha256 {_e(self.spec.sha256)}", size=10),
            _row(_e(view), size=10, colour="#555555"),
        ]
        d = self.overlay.decision
        if d is not None:
            who = f"patient {self.overlay.patient_label}: " if self.overlay.patient_label else "patient: "
            result = d.recommendation + (f" ({d.outcome})" if d.outcome else "")
            if d.missing:
                result += "; missing " + ", ".join(d.missing)
            rows.append(_row(f"<B>{_e(who + result)}</B>", size=12, colour="#0072B2"))
        if self.overlay.findings is not None:
            counts = dict.fromkeys(SEVERITY_ORDER, 0)
            for f in self.findings:
                counts[severity_text(f)] = counts.get(severity_text(f), 0) + 1
            text = "verifier findings: " + ", ".join(f"{n} {s}" for s, n in counts.items())
            rows.append(
                _row(f"<B>{_e(text)}</B>", size=12, colour=SEVERITY_COLOUR["error"] if counts["error"] else None)
            )
        return _html(_table(rows, BORDER="1", CELLPADDING="3", COLOR="#333333"))

    def decision_label(self, nid: str) -> str:
        node = self.spec.nodes[nid]
        policy = "unique: exactly one guard holds" if node.hit_policy is HitPolicy.UNIQUE else "first: first true guard"
        width = 34 if self.compact else 42
        rows = [
            _row(f"{_e(nid)} · {_e(policy)}", size=9, colour="#555555"),
            _row(f"<B>{_wrap(node.question, width)}</B>"),
        ]
        if not self.compact and node.cites:
            rows.append(_row(_e(self.cites(node.cites)), size=9, colour="#555555"))
        if m := self.mark_text(f"node:{nid}"):
            rows.append(_row(f"<B>{m}</B>", size=10, colour=self.mark_colour(f"node:{nid}")))
        return _html(_table(rows))

    def outcome_label(self, o: Outcome) -> str:
        cls = outcome_class(o.recommendation)
        rows = [
            _row(f"{_e(cls.title.upper())} · {_e(o.recommendation.value)}", size=9, colour=cls.border),
            _row(f"<B>{_wrap(o.title, 30 if self.compact else 40)}</B>"),
        ]
        if not self.compact:
            for a in o.actions[:MAX_ACTIONS]:
                text = "• " + _short(a.text, 64)
                rows.append(_row(_wrap(text, 44) + " " + _e(self.cites(a.cites)), size=9))
            extra = len(o.actions) - MAX_ACTIONS
            tail = []
            if extra > 0:
                tail.append(f"+ {extra} more action{'s' if extra > 1 else ''}")
            if o.flags:
                tail.append(f"{len(o.flags)} flag{'s' if len(o.flags) > 1 else ''}")
            if tail:
                rows.append(_row(_e(", ".join(tail) + " (see report)"), size=9, colour="#555555"))
            if o.cites:
                rows.append(_row(_e(self.cites(o.cites)), size=9, colour="#555555"))
        if m := self.mark_text(f"outcome:{o.id}"):
            rows.append(_row(f"<B>{m}</B>", size=10, colour=self.mark_colour(f"outcome:{o.id}")))
        return _html(_table(rows))

    def guard_inputs(self, ast: Any) -> str:
        """``ASTCT grade = 3, IL-6 = unknown`` for the non-parameter names a guard reads."""
        d = self.overlay.decision
        assert d is not None
        parts = []
        for n in sorted(set(names(ast))):
            sym = self.spec.symbols.get(n)
            if sym is None or sym.kind is SymbolKind.PARAMETER:
                continue
            unit = f" {sym.unit}" if sym.unit and d.values.get(n) is not None else ""
            parts.append(f"{sym.label or n} = {_fmt_value(d.values.get(n))}{unit}")
        return ", ".join(parts)

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
            attrs["label"] = _html(
                _table(
                    [
                        _row(f"continues at <B>{_e(nid)}</B>", size=10),
                        _row(_wrap(self.spec.nodes[nid].question, 34), size=9),
                    ]
                )
            )
        else:
            attrs["label"] = self.decision_label(nid)
        self.paint_node(attrs, nid, f"node:{nid}")
        g.add_node(pydot.Node(nid, **attrs))

    def add_outcome(self, g: pydot.Dot, oid: str) -> None:
        o = self.spec.outcomes[oid]
        cls = outcome_class(o.recommendation)
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
                label_rows.append(_row(f"<B>{_e(head + e.label)}</B>"))
            elif head:
                label_rows.append(_row(f"<B>{_e(head)}</B>"))
            if not self.compact:
                label_rows.append(_row(_wrap(self.words.render(e.guard.ast), 38), size=9))
                if e.cites:
                    label_rows.append(_row(_e(self.cites(e.cites)), size=9, colour="#555555"))
            attrs: dict[str, Any] = {}
            if self.overlay.decision is not None:
                if e.target in values:
                    v = values[e.target]
                    taken = step is not None and step.taken == e.target
                    word = {True: "TRUE", False: "false", None: "UNKNOWN"}[v]
                    colour = "#0072B2" if taken else ("#B8860B" if v is None else "#999999")
                    label_rows.append(_row(f"<B>guard = {word}</B>", size=10, colour=colour))
                    if inputs := self.guard_inputs(e.guard.ast):
                        label_rows.append(_row(_wrap(inputs, 38), size=9, colour=colour))
                    attrs.update(color=colour, penwidth="4" if taken else "1.2")
                    if v is None:
                        attrs["style"] = "dashed"
                else:
                    attrs.update(color="#CCCCCC", fontcolor="#999999")
            element = f"edge:{e.id}"
            if m := self.mark_text(element):
                colour = self.mark_colour(element) or SEVERITY_COLOUR["info"]
                label_rows.append(_row(f"<B>{m}</B>", size=10, colour=colour))
                attrs.update(color=colour, penwidth="3")
            if label_rows:
                attrs["label"] = _html(_table(label_rows))
            g.add_edge(pydot.Edge(e.source, e.target, **attrs))

    def add_insufficient(self, g: pydot.Dot) -> None:
        d = self.overlay.decision
        if d is None or d.recommendation != Recommendation.INSUFFICIENT_DATA.value or not d.path:
            return
        cls = OutcomeClass.INSUFFICIENT
        missing = ", ".join(d.missing) if d.missing else "(none listed)"
        label = _table(
            [
                _row(f"{_e(cls.title.upper())} · insufficient_data", size=9, colour=cls.border),
                _row("<B>The spec cannot decide without more data</B>"),
                _row("missing: " + _wrap(missing, 40), size=10),
            ]
        )
        g.add_node(
            pydot.Node(
                "insufficient_data",
                shape="box",
                style="filled,bold",
                fillcolor=cls.fill,
                color="#0072B2",
                penwidth="4",
                label=_html(label),
            )
        )
        g.add_edge(pydot.Edge(d.path[-1], "insufficient_data", style="dashed", color="#B8860B", penwidth="3"))

    def add_findings_table(self, g: pydot.Dot) -> None:
        if self.overlay.findings is None:
            return
        rows = [_row("<B>Verifier findings</B>", size=12)]
        if not self.findings:
            rows.append(_row("none: every check passed", size=10))
        for i, f in enumerate(self.findings, 1):
            sev = severity_text(f)
            where = f" at {f.location}" if f.location else ""
            rows.append(
                _row(
                    f"<B>F{i} · {_e(sev)} · {_e(f.check)} · {_e(f.element)}</B>{_e(where)}",
                    size=10,
                    colour=SEVERITY_COLOUR.get(sev),
                )
            )
            rows.append(_row(_wrap(_cut(f.message, 300), 110), size=9))
            if f.witness:
                w = json.dumps(
                    dict(f.witness), sort_keys=True, ensure_ascii=False, separators=(", ", ": "), default=str
                )
                # the diagram shows the start; the report and `crs-model verify` give the whole witness
                rows.append(_row("witness: " + _wrap(_cut(w, 220), 110), size=9, colour="#555555"))
        g.add_node(
            pydot.Node(
                "findings", shape="box", style="filled", fillcolor="#FFF8F0", color="#C0392B", label=_html(_table(rows))
            )
        )

    def add_legend(self, g: pydot.Dot, *, sources: bool) -> None:
        swatches = "".join(
            f'<TD BGCOLOR="{c.fill}" BORDER="1" COLOR="{c.border}"><FONT POINT-SIZE="9">{_e(c.title)}</FONT></TD>'
            for c in OutcomeClass
        )
        rows = [
            '<TR><TD ALIGN="LEFT" COLSPAN="5"><B>Legend</B></TD></TR>',
            f"<TR>{swatches}</TR>",
            '<TR><TD ALIGN="LEFT" COLSPAN="5" BALIGN="LEFT"><FONT POINT-SIZE="9">'
            "Boxes with rounded corners are decisions (question and hit policy); edges carry their guard. "
            "[n] cites source n below.</FONT></TD></TR>",
        ]
        if self.overlay.decision is not None:
            rows.append(
                '<TR><TD ALIGN="LEFT" COLSPAN="5"><FONT POINT-SIZE="9" COLOR="#0072B2">'
                "Thick blue: the patient's path; each evaluated guard shows its value and the inputs it read."
                "</FONT></TD></TR>"
            )
        if self.overlay.findings is not None:
            rows.append(
                '<TR><TD ALIGN="LEFT" COLSPAN="5"><FONT POINT-SIZE="9" COLOR="#C0392B">'
                "⚠ Fn: verifier finding n (see the findings table).</FONT></TD></TR>"
            )
        if sources:
            rows.append('<TR><TD ALIGN="LEFT" COLSPAN="5"><B>Sources</B></TD></TR>')
            for eid, ev in self.spec.evidence.items():
                text = f"[{self.cite_no[eid]}] {eid} - {_cut(ev.citation, 120)} ({level_text(ev.level)})"
                rows.append(f'<TR><TD ALIGN="LEFT" COLSPAN="5"><FONT POINT-SIZE="9">{_e(text)}</FONT></TD></TR>')
        label = _html(_table(rows, CELLSPACING="2"))
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
    return "" if view == "full" else "." + view.replace("node:", "node-")


def graphviz_binary() -> str | None:
    return shutil.which("dot")


def graphviz_version() -> str | None:
    """``dot - graphviz version 2.43.0 (0)`` -> ``2.43.0``; None when Graphviz is missing."""
    exe = graphviz_binary()
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    except OSError:
        return None
    words = (proc.stderr or proc.stdout).split()
    return words[words.index("version") + 1] if "version" in words else None


def run_graphviz(dot_source: str, fmt: str) -> bytes:
    """Lay out ``dot_source`` with Graphviz into ``fmt`` (svg|png|pdf); raises :class:`RenderError`."""
    if fmt not in FORMATS or fmt == "dot":
        raise RenderError(f"unsupported image format {fmt!r} (choose from svg, png, pdf)")
    exe = graphviz_binary()
    if exe is None:
        raise RenderError(
            "Graphviz 'dot' was not found on PATH, so svg/png/pdf cannot be produced. Install Graphviz "
            "(Debian: apt-get install graphviz; `make system-deps` does it) or use --format dot"
        )
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv, our own DOT on stdin
            [exe, f"-T{fmt}"], input=dot_source.encode("utf-8"), capture_output=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"Graphviz 'dot -T{fmt}' failed to run: {exc}") from None
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"Graphviz 'dot -T{fmt}' failed (exit {proc.returncode}): {msg}")
    return proc.stdout


def svg_inline(svg: bytes | str) -> str:
    """Graphviz SVG from its ``<svg`` element on: no XML prolog, no DOCTYPE (an external DTD URL), for inline HTML."""
    text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def write_diagrams(
    spec: Spec,
    out_dir: str | Path,
    *,
    formats: Sequence[str] = ("dot", "svg"),
    overlay: Overlay | None = None,
    stem: str | None = None,
    split: bool | None = None,
) -> list[Path]:
    """Write every view of ``spec`` as DOT (always) and the requested image formats; returns the paths.

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
    for view in views(spec, split=split):
        source = dot_text(diagram(spec, overlay, view=view))
        name = base + view_suffix(view)
        path = out / f"{name}.dot"
        write_atomic(path, source.encode("utf-8"))  # replaces a symlink, never writes through it
        written.append(path)
        for fmt in images:
            img = out / f"{name}.{fmt}"
            write_atomic(img, run_graphviz(source, fmt))
            written.append(img)
    return written


__all__ = [
    "FORMATS",
    "FindingLike",
    "OutcomeClass",
    "Overlay",
    "RenderError",
    "diagram",
    "dot_text",
    "graphviz_version",
    "outcome_class",
    "run_graphviz",
    "svg_inline",
    "views",
    "write_diagrams",
]
