"""The criteria tree as DOT: each guard's definitions drawn as an and/or tree (see :mod:`crs_model.criteria`).

Guards sit on the left, grouped by their decision node; each boolean definition is
drawn once, shaded, and every guard or definition that reads it points to it, so a
threshold (parameter name and value with its unit) appears in one place; criteria
carry the citations of the parameters they read, definitions and guards their own.
A patient's overlay marks every criterion held, failed or unknown with the values it
read. Deterministic: built in spec order, nodes numbered in drawing order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pydot

from crs_model.criteria import BRANCH_WORDS, Crit, Criteria, Gate, Leaf, Ref, criteria, parameters_read, truth
from crs_model.diagram import FONT, Overlay, title_rows
from crs_model.dot_labels import cut, esc, html_label, row, table, wrap
from crs_model.model import Spec
from crs_model.text import Renderer
from crs_model.vocabulary import level_text, values_read

SUFFIX = ".criteria"  # the criteria diagram's file-name suffix
VIEW = "criteria tree: the definitions behind each guard, down to their thresholds"
HELD, FAILED, UNKNOWN = "#0072B2", "#999999", "#B8860B"


def verdict(value: Any) -> str:
    """A criterion's result for a patient: ``held``, ``failed`` or ``unknown``."""
    return "unknown" if value is None else "held" if value else "failed"


class _Builder:
    def __init__(self, spec: Spec, overlay: Overlay) -> None:
        self.spec = spec
        self.overlay = overlay
        self.crit: Criteria = criteria(spec)
        self.words = Renderer(spec.symbols, param_names=True)
        self.cite_no = {eid: i for i, eid in enumerate(spec.evidence, 1)}
        self.cited: set[int] = set()
        self.values = overlay.decision.values if overlay.decision is not None else None
        self.count = 0

    def cites(self, ids: Iterable[str]) -> str:
        nums = sorted({self.cite_no[c] for c in ids if c in self.cite_no})
        self.cited.update(nums)
        return "[" + ",".join(str(n) for n in nums) + "]" if nums else ""

    def new_id(self) -> str:
        self.count += 1
        return f"c{self.count}"

    def overlay_rows(self, crit: Crit, attrs: dict[str, Any]) -> list[str]:
        """The patient's verdict on ``crit`` (and, for a criterion, the values it read); styles ``attrs``."""
        if self.values is None:
            return []
        v = truth(crit, self.values, self.spec.symbols)
        word = verdict(v)
        colour = HELD if v else (UNKNOWN if v is None else FAILED)
        attrs.update(color=colour, penwidth="3" if v is not False else "1.2")
        if v is None:
            attrs["style"] = attrs.get("style", "solid") + ",dashed"
        rows = [row(f"<B>{esc(word if v is False else word.upper())}</B>", size=10, colour=colour)]
        if isinstance(crit, Leaf):
            read = ", ".join(r.text() for r in values_read(crit.expr, self.values, self.spec.symbols))
            if read:
                rows.append(row(wrap(read, 40), size=9, colour=colour))
        return rows

    def edge(self, g: pydot.Dot, src: str, dst: str, child: Crit, label: str) -> None:
        attrs: dict[str, Any] = {}
        if label:
            attrs["label"] = html_label(table([row(f"<I>{esc(label)}</I>", size=9)]))
        if self.values is not None:
            v = truth(child, self.values, self.spec.symbols)
            attrs.update(color=HELD if v else (UNKNOWN if v is None else "#CCCCCC"), penwidth="2.5" if v else "1")
            if v is None:
                attrs["style"] = "dashed"
        g.add_edge(pydot.Edge(src, dst, **attrs))

    def container(self, g: pydot.Dot, cluster: pydot.Graph, nid: str, head: list[str], root: Crit) -> None:
        """A guard or definition node: its header rows, the root gate's word merged in, then its tree."""
        attrs: dict[str, Any] = {}
        rows = list(head)
        if isinstance(root, Gate):
            rows.append(row(f"<B>{esc(root.kind.value.upper())}</B>", size=10))
        rows += self.overlay_rows(root, attrs)
        attrs.setdefault("style", "solid")
        kind = "definition" if nid.startswith("def_") else "guard"
        style = "rounded,filled" if kind == "definition" else "filled"
        fill = "#EEF3FA" if kind == "definition" else "#FFFFFF"
        attrs["style"] = attrs["style"].replace("solid", style)
        cluster.add_node(pydot.Node(nid, shape="box", fillcolor=fill, label=html_label(table(rows)), **attrs))
        self.subtree(g, cluster, nid, _branches(root) if isinstance(root, Gate) else [(root, "")])

    def subtree(self, g: pydot.Dot, cluster: pydot.Graph, parent: str, branches: list[tuple[Crit, str]]) -> None:
        """Draw ``branches`` (child, edge label) under ``parent`` with their sub-trees (an explicit stack)."""
        stack = [(parent, c, label) for c, label in reversed(branches)]
        while stack:
            src, c, label = stack.pop()
            if isinstance(c, Ref):
                self.edge(g, src, f"def_{c.name}", c, label)
                continue
            nid = self.new_id()
            attrs: dict[str, Any] = {}
            if isinstance(c, Gate):
                rows = [row(f"<B>{esc(c.kind.value.upper())}</B>", size=10)]
                attrs.update(shape="box", style="rounded")
                stack.extend((nid, k, label) for k, label in reversed(_branches(c)))
            else:
                rows = [row(wrap(self.words.render(c.expr), 34))]
                if marks := self.cites(self.param_cites(c)):
                    rows.append(row(esc(marks), size=9, colour="#555555"))
                attrs.update(shape="box", style="solid")
            rows += self.overlay_rows(c, attrs)
            cluster.add_node(pydot.Node(nid, label=html_label(table(rows)), **attrs))
            self.edge(g, src, nid, c, label)

    def param_cites(self, leaf: Leaf) -> list[str]:
        return [c for p in parameters_read(leaf.expr, self.spec.symbols) for c in self.spec.parameters[p].cites]

    def title_block(self) -> str:
        rows = title_rows(self.spec, VIEW)
        d = self.overlay.decision
        if d is not None:
            who = f"patient {self.overlay.patient_label}: " if self.overlay.patient_label else "patient: "
            result = d.recommendation + (f" ({d.outcome})" if d.outcome else "")
            rows.append(row(f"<B>{wrap(who + result, 110)}</B>", size=12, colour=HELD))
        return html_label(table(rows, BORDER="1", CELLPADDING="3", COLOR="#333333"))

    def build(self) -> pydot.Dot:
        g = pydot.Dot(
            "criteria_tree",
            graph_type="digraph",
            strict=False,
            rankdir="LR",
            ordering="out",
            labelloc="t",
            labeljust="l",
            label=self.title_block(),
            fontname=FONT,
            nodesep="0.18",
            ranksep="0.45",
            bgcolor="white",
            pad="0.3",
        )
        g.set_node_defaults(fontname=FONT, fontsize="11", margin="0.10,0.04")
        g.set_edge_defaults(fontname=FONT, fontsize="9", color="#444444", arrowsize="0.7")
        by_node: dict[str, list[int]] = {}
        for i, gc in enumerate(self.crit.guards):
            by_node.setdefault(gc.edge.source, []).append(i)
        for nid, idx in by_node.items():
            node = self.spec.nodes[nid]
            head = table([row(f"<B>{wrap(node.question, 60)}</B>", size=11), row(esc(nid), size=9, colour="#555555")])
            cluster = pydot.Subgraph(f"cluster_node_{nid}", label=html_label(head), style="rounded", color="#BBBBBB")
            for i in idx:
                e = self.crit.guards[i].edge
                target = self.spec.outcomes[e.target].title if e.target in self.spec.outcomes else e.target
                rows = [
                    row(f"<B>{esc(f'edge {e.index + 1}' + (f': {e.label}' if e.label else ''))}</B>"),
                    row(wrap(f"→ {target}", 40), size=9),
                ]
                if marks := self.cites(e.cites):
                    rows.append(row(esc(marks), size=9, colour="#555555"))
                decision = self.overlay.decision
                # its verdict is shown, but no decision on the path asked it
                if decision is not None and e.source not in decision.path:
                    rows.append(row("not on this patient's path", size=9, colour=FAILED))
                self.container(g, cluster, f"guard_{i + 1}", rows, self.crit.guards[i].root)
            g.add_subgraph(cluster)
        for name, dc in self.crit.definitions.items():
            d = dc.definition
            rows = [row(f"<B>{wrap(d.label or name, 40)}</B>")]
            rows.append(row(esc(f"definition {name}"), size=9, colour="#555555"))
            if marks := self.cites(d.cites):
                rows.append(row(esc(marks), size=9, colour="#555555"))
            self.container(g, g, f"def_{name}", rows, dc.root)
        self.legend(g)
        return g

    def legend(self, g: pydot.Dot) -> None:
        rows = [
            row("<B>Legend</B>"),
            row(
                wrap(
                    "Left: each guard that reads a definition, grouped by its decision. ALL OF holds when every "
                    "branch holds, ANY OF when one does, NOT when its branch fails. A shaded box is a definition, "
                    "drawn once: every guard or definition that reads it points to it. A threshold shows the "
                    "parameter's name and value. [n] cites source n below.",
                    110,
                ),
                size=9,
            ),
        ]
        if self.values is not None:
            rows.append(
                row(
                    wrap(
                        "Thick blue: HELD for this patient; grey: failed; dashed gold: UNKNOWN (an input it reads "
                        "is absent). Each criterion shows the values it read.",
                        110,
                    ),
                    size=9,
                    colour=HELD,
                )
            )
        by_no = {n: eid for eid, n in self.cite_no.items()}
        if self.cited:
            rows.append(row("<B>Sources</B>"))
        for n in sorted(self.cited):
            ev = self.spec.evidence[by_no[n]]
            rows.append(row(esc(f"[{n}] {by_no[n]} - {cut(ev.citation, 120)} ({level_text(ev.level)})"), size=9))
        label = html_label(table(rows, CELLSPACING="2"))
        g.add_node(pydot.Node("legend", shape="box", style="filled", fillcolor="#FAFAFA", color="#999999", label=label))
        sink = pydot.Subgraph("legend_rank", rank="sink")  # after the deepest criteria: the drawing stays low
        sink.add_node(pydot.Node("legend"))
        g.add_subgraph(sink)


def _branches(gate: Gate) -> list[tuple[Crit, str]]:
    """A gate's children with the word its edge carries (``if``/``then``/``else`` where the place matters)."""
    words = BRANCH_WORDS.get(gate.kind, ())
    return [(c, words[i] if i < len(words) else "") for i, c in enumerate(gate.children)]


def criteria_diagram(spec: Spec, overlay: Overlay | None = None) -> pydot.Dot:
    """The pydot graph of ``spec``'s criteria tree; with a decision in ``overlay``, each criterion's verdict."""
    return _Builder(spec, overlay or Overlay()).build()


def has_criteria(spec: Spec) -> bool:
    """Whether any guard reads a boolean definition (else there is no criteria tree to draw)."""
    return bool(criteria(spec).guards)
