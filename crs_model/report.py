"""The governance pack: one self-contained HTML page (or Markdown for a pull request).

What the committee approves: metadata and hashes, the diagram, every rule in
plain clinical words with its sources and evidence levels, parameters with their
rationale, invariants with proof status (and the counterexample when refuted),
verifier findings by severity, the seed traceability matrix, open governance
questions, and the sign-off record.

The sections are built once as a small document model (:class:`Block` and
inline pieces) and written by :func:`to_html` or :func:`to_markdown`, so the two
formats cannot drift apart. No timestamps: the same inputs give the same bytes.
The HTML has inline CSS and inline SVG and references nothing outside itself.
"""

from __future__ import annotations

import html
import json
import platform
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crs_model import __version__
from crs_model.model import Spec
from crs_model.render import FindingLike, level_text, outcome_class, severity_text, sort_findings
from crs_model.signoff import SignoffRecord, beside, signoff_path
from crs_model.text import Renderer, fmt_number

# ---------------------------------------------------------------------------- document model


@dataclass(frozen=True, slots=True)
class T:
    """Plain text."""

    text: str


@dataclass(frozen=True, slots=True)
class B:
    """Bold text."""

    text: str


@dataclass(frozen=True, slots=True)
class Code:
    text: str


@dataclass(frozen=True, slots=True)
class Badge:
    """A short status word; ``kind`` picks the colour (ok|warn|bad|info|class-…)."""

    text: str
    kind: str


@dataclass(frozen=True, slots=True)
class Cite:
    """A source reference with its evidence level; ``title`` is the full citation."""

    eid: str
    level: str
    title: str


@dataclass(frozen=True, slots=True)
class Link:
    anchor: str
    text: str


Inline = T | B | Code | Badge | Cite | Link
Cell = list[Inline]


@dataclass(frozen=True, slots=True)
class H:
    level: int
    text: str
    anchor: str


@dataclass(frozen=True, slots=True)
class P:
    parts: Cell


@dataclass(frozen=True, slots=True)
class UL:
    items: list[Cell]


@dataclass(frozen=True, slots=True)
class Table:
    head: list[str]
    rows: list[list[Cell]]
    cls: str = ""


@dataclass(frozen=True, slots=True)
class Pre:
    text: str
    summary: str = ""  # when set, HTML shows it collapsed under this summary


@dataclass(frozen=True, slots=True)
class Figure:
    svg: str | None  # inline SVG markup (HTML only)
    caption: str
    fallback: str  # what Markdown and an SVG-less HTML show instead


@dataclass(frozen=True, slots=True)
class Callout:
    kind: str  # ok|warn|bad|info
    parts: Cell


Block = H | P | UL | Table | Pre | Figure | Callout

# ---------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class TraceEntry:
    id: str
    match: str
    section: str
    encoded_by: tuple[str, ...]
    not_encoded: str


@dataclass(frozen=True, slots=True)
class TraceMap:
    path: str
    entries: tuple[TraceEntry, ...]
    problems: tuple[str, ...] = ()


def trace_path(spec_path: str | Path) -> Path:
    """``specs/cytosorb_crs.yaml`` -> ``specs/cytosorb_crs.trace.yaml``."""
    return beside(spec_path, ".trace.yaml")


def load_trace_map(spec_path: str | Path) -> TraceMap | None:
    """The seed traceability map beside the spec, or None when there is none.

    Accepts a list of entries or a mapping with an ``entries`` (or ``statements``)
    list; each entry ``{id, match, section, encoded_by: [kind:id ...]}`` or with
    ``not_encoded: reason``. Malformed entries are kept as problems, not raised:
    the report shows what it could read and what it could not.
    """
    import yaml

    path = trace_path(spec_path)
    if not path.is_file():
        return None
    problems: list[str] = []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return TraceMap(str(path), (), (f"cannot read {path}: {exc}",))
    if isinstance(data, Mapping):
        data = data.get("entries", data.get("statements", data.get("trace")))
    if not isinstance(data, list):
        return TraceMap(str(path), (), (f"{path}: expected a list of entries",))
    entries: list[TraceEntry] = []
    for n, item in enumerate(data, 1):
        if not isinstance(item, Mapping):
            problems.append(f"entry {n} is not a mapping")
            continue
        enc = item.get("encoded_by") or ()
        if isinstance(enc, str):
            enc = (enc,)
        if not isinstance(enc, (list, tuple)):
            problems.append(f"entry {n}: encoded_by is not a list")
            enc = ()
        entries.append(
            TraceEntry(
                id=str(item.get("id", f"#{n}")),
                match=" ".join(str(item.get("match", item.get("statement", ""))).split()),
                section=" ".join(str(item.get("section", "")).split()),
                encoded_by=tuple(str(e) for e in enc),
                not_encoded=" ".join(str(item.get("not_encoded") or "").split()),
            )
        )
    return TraceMap(str(path), tuple(entries), tuple(problems))


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
    signoffs: tuple[SignoffRecord, ...] = ()
    signoff_problem: str = ""
    tools: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def tool_versions(graphviz: str | None, solver: str | None) -> tuple[tuple[str, str], ...]:
    import pydot

    return (
        ("crs_model", __version__),
        ("Python", platform.python_version()),
        ("pydot", str(getattr(pydot, "__version__", "unknown"))),
        ("Graphviz", graphviz or "not installed"),
        ("Z3 solver", solver or "not run"),
    )


# ---------------------------------------------------------------------------- sections


class _Pack:
    def __init__(self, spec: Spec, inp: PackInputs) -> None:
        self.spec = spec
        self.inp = inp
        self.words = Renderer(spec.symbols)
        self.inv_words = Renderer(spec.invariant_symbols)
        rep = inp.verify_report
        self.findings: list[FindingLike] = sort_findings(
            [*(getattr(rep, "findings", ()) if rep is not None else ()), *inp.extra_findings]
        )
        self.inv_status: Mapping[str, str] = getattr(rep, "invariant_status", {}) if rep is not None else {}

    def cites(self, ids: Iterable[str]) -> Cell:
        out: Cell = []
        for eid in ids:
            ev = self.spec.evidence.get(eid)
            if ev is None:
                out.append(Badge(f"{eid}: unknown source", "bad"))
            else:
                out.append(Cite(eid, level_text(ev.level), " ".join(ev.citation.split())))
        return out

    def title(self, target: str) -> str:
        if target in self.spec.outcomes:
            return self.spec.outcomes[target].title
        if target in self.spec.nodes:
            return self.spec.nodes[target].question
        return target

    # ------------------------------------------------------------ metadata
    def metadata(self) -> list[Block]:
        md = self.spec.metadata
        signed = [r for r in self.inp.signoffs if r.sha256 == self.spec.sha256]
        status_kind = {"active": "ok", "draft": "warn", "retired": "bad"}[md.status.value]
        rows: list[list[Cell]] = [
            [[T("Title")], [B(md.title)]],
            [[T("Spec id")], [Code(md.id)]],
            [[T("Version")], [Code(md.version)]],
            [[T("Status")], [Badge(md.status.value.upper(), status_kind)]],
            [[T("Date")], [T(md.date)]],
            [[T("Authors")], [T(", ".join(md.authors) or "none listed")]],
            [[T("Reviewers")], [T(", ".join(md.reviewers) or "none listed")]],
            [[T("Spec file")], [Code(self.spec.path)]],
            [[T("sha256")], [Code(self.spec.sha256)]],
            [
                [T("Sign-off")],
                [Badge(f"signed off by {len(signed)}", "ok")] if signed else [Badge("NOT SIGNED OFF", "bad")],
            ],
            [[T("Jurisdiction")], [T(" ".join(md.jurisdiction.split()))]],
            [[T("Description")], [T(" ".join(md.description.split()))]],
        ]
        inputs: list[list[Cell]] = [
            [[T("Spec")], [Code(self.spec.path), T(f" (sha256 {self.spec.sha256[:12]}…)")]],
            [[T("Diagram")], [T(self.inp.diagram_path or "rendered for this report")]],
            [[T("Verifier")], [T(self.inp.verify_note or "crs_model.verify, all checks")]],
            [
                [T("Traceability map")],
                [Code(self.inp.trace.path)] if self.inp.trace else [T(f"absent ({trace_path(self.spec.path)})")],
            ],
            [[T("Sign-off file")], [Code(str(signoff_path(self.spec.path)))]],
        ]
        tools: list[list[Cell]] = [[[T(k)], [Code(v)]] for k, v in self.inp.tools]
        return [
            H(2, "Metadata and status", "metadata"),
            Table(["", ""], rows, "kv"),
            H(3, "Generation inputs", "inputs"),
            Table(["Input", "Used"], inputs, "kv"),
            H(3, "Tool versions", "tools"),
            Table(["Tool", "Version"], tools, "kv"),
        ]

    # ------------------------------------------------------------ diagram
    def diagram(self) -> list[Block]:
        caption = (
            "Decision graph: rounded boxes are decisions (question and hit policy), edges carry their guard, "
            "outcomes are coloured by class; [n] numbers refer to the sources in the diagram legend."
        )
        fallback = self.inp.svg_note or (
            f"See {self.inp.diagram_path}." if self.inp.diagram_path else "Render it with `crs-model render`."
        )
        return [H(2, "Decision diagram", "diagram"), Figure(self.inp.svg, caption, fallback)]

    # ------------------------------------------------------------ rules
    def rules(self) -> list[Block]:
        spec = self.spec
        out: list[Block] = [
            H(2, "Rules in clinical language", "rules"),
            P([T(f"The patient enters at “{spec.nodes[spec.entry].question}” and follows the decisions below.")]),
        ]
        for nid, node in spec.nodes.items():
            policy = (
                "exactly one of these conditions holds for every patient"
                if node.hit_policy.value == "unique"
                else "the conditions are tried in order; the first that holds applies"
            )
            out.append(H(3, node.question, f"node-{nid}"))
            out.append(
                P(
                    [
                        Code(nid),
                        T(f" · hit policy {node.hit_policy.value}: {policy}. Sources: "),
                        *self.cites(node.cites),
                    ]
                )
            )
            rows: list[list[Cell]] = []
            for e in node.edges:
                target: Cell = [
                    Link(f"node-{e.target}" if e.target in spec.nodes else f"outcome-{e.target}", self.title(e.target))
                ]
                rows.append(
                    [
                        [T(str(e.index + 1))],
                        [T(self.words.render(e.guard.ast))],
                        [B(e.label)] if e.label else [T("")],
                        target,
                        self.cites(e.cites),
                    ]
                )
            out.append(Table(["#", "If", "Label", "Then", "Sources"], rows))
        # derived concepts
        out.append(H(3, "Derived concepts (definitions)", "definitions"))
        rows = []
        for name, d in spec.definitions.items():
            desc: Cell = [T(self.words.render(d.formula.ast))]
            if d.description:
                desc += [T(" — " + " ".join(d.description.split()))]
            rows.append([[B(d.label or name), T(" "), Code(name)], desc, self.cites(d.cites)])
        out.append(Table(["Concept", "Means", "Sources"], rows))
        # input consistency
        if spec.constraints:
            out.append(H(3, "Input consistency (a patient violating these is rejected)", "constraints"))
            rows = [
                [
                    [Code(c.id)],
                    [T(self.words.render(c.formula.ast)), T(" — " + " ".join(c.message.split()))],
                    self.cites(c.cites),
                ]
                for c in spec.constraints
            ]
            out.append(Table(["Constraint", "Requires", "Sources"], rows))
        # outcomes
        out.append(H(3, "Outcomes: what is recommended", "outcomes"))
        for oid, o in spec.outcomes.items():
            cls = outcome_class(o.recommendation)
            out.append(H(4, o.title, f"outcome-{oid}"))
            head: Cell = [Badge(cls.title, "class-" + cls.name.lower()), T(" "), Code(o.recommendation.value), T(" · ")]
            head += [Code(oid), T(" · sources: "), *self.cites(o.cites)]
            if o.outputs:
                head += [T(" · needs known: " + ", ".join(self._label(n) for n in o.outputs))]
            out.append(P(head))
            items: list[Cell] = [
                [B("Action: "), T(" ".join(a.text.split()) + " "), *self.cites(a.cites)] for a in o.actions
            ]
            for f in o.flags:
                when = f"when {self.words.render(f.when.ast)}" if f.when else "always"
                conf = (
                    [Badge(f.confidence.value, "warn")] if f.confidence and f.confidence.value == "unverified" else []
                )
                items.append(
                    [B(f"Flag ({when}): "), *conf, T(" " + " ".join(f.text.split()) + " "), *self.cites(f.cites)]
                )
            out.append(UL(items))
        return out

    def _label(self, name: str) -> str:
        sym = self.spec.symbols.get(name)
        return sym.label if sym is not None and sym.label else name

    # ------------------------------------------------------------ parameters
    def parameters(self) -> list[Block]:
        rows: list[list[Cell]] = []
        for name, p in self.spec.parameters.items():
            value = str(p.value).lower() if isinstance(p.value, bool) else fmt_number(p.value, p.unit)
            rows.append(
                [
                    [B(p.label or name), T(" "), Code(name)],
                    [B(value)],
                    [T(" ".join(p.rationale.split()))],
                    self.cites(p.cites),
                ]
            )
        return [
            H(2, "Parameters (thresholds)", "parameters"),
            Table(["Parameter", "Value", "Rationale", "Sources"], rows),
        ]

    def sources(self) -> list[Block]:
        rows: list[list[Cell]] = []
        for eid, ev in self.spec.evidence.items():
            rows.append(
                [
                    [Code(eid)],
                    [T(" ".join(ev.citation.split()))],
                    [T(ev.kind.value.replace("_", " "))],
                    [B(level_text(ev.level))],
                    [Badge(ev.confidence.value, "warn" if ev.confidence.value == "unverified" else "info")],
                ]
            )
        return [
            H(2, "Sources and evidence levels", "sources"),
            Table(["Id", "Citation", "Kind", "Level", "Confidence"], rows),
        ]

    # ------------------------------------------------------------ invariants
    def invariants(self) -> list[Block]:
        verified = self.inp.verify_report is not None
        out: list[Block] = [H(2, "Safety invariants", "invariants")]
        if not verified:
            out.append(
                Callout(
                    "warn", [T("Proof status unknown: " + (self.inp.verify_note or "the verifier was not run") + ".")]
                )
            )
        rows: list[list[Cell]] = []
        examples: list[Block] = []
        for inv in self.spec.invariants:
            status = self.inv_status.get(inv.id)
            badge = {
                "proven": Badge("proven", "ok"),
                "refuted": Badge("REFUTED", "bad"),
            }.get(status or "", Badge(status or ("not checked" if verified else "not verified"), "warn"))
            rows.append(
                [
                    [Code(inv.id)],
                    [T(" ".join(inv.description.split()))],
                    [T(self.inv_words.render(inv.formula.ast))],
                    [T(inv.severity.value)],
                    [badge],
                    self.cites(inv.cites),
                ]
            )
            for f in self.findings:
                if f.element == f"invariant:{inv.id}" and f.witness:
                    examples.append(P([B(f"Counterexample for {inv.id}: "), T(f.message)]))
                    examples.append(Pre(_json(f.witness)))
        out.append(Table(["Invariant", "Statement", "Formally", "Severity", "Status", "Sources"], rows))
        out.extend(examples)
        return out

    # ------------------------------------------------------------ findings
    def findings_section(self) -> list[Block]:
        out: list[Block] = [H(2, "Verification findings", "findings")]
        rep = self.inp.verify_report
        if rep is None:
            out.append(
                Callout("warn", [T("The verifier was not run: " + (self.inp.verify_note or "unavailable") + ".")])
            )
        else:
            checks = getattr(rep, "checks", ())
            if checks:
                rows: list[list[Cell]] = []
                for c in checks:
                    kind = {"passed": "ok", "failed": "bad"}.get(str(c.status), "warn")
                    rows.append([[Code(str(c.name))], [Badge(str(c.status), kind)], [T(str(c.findings))]])
                out.append(Table(["Check", "Result", "Findings"], rows))
        counts = {s: sum(1 for f in self.findings if severity_text(f) == s) for s in ("error", "warning", "info")}
        if not self.findings:
            out.append(Callout("ok", [T("No findings.")]))
        else:
            out.append(P([T(f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} info.")]))
        for sev, kind in (("error", "bad"), ("warning", "warn"), ("info", "info")):
            group = [f for f in self.findings if severity_text(f) == sev]
            if not group:
                continue
            out.append(H(3, f"{sev.capitalize()} ({len(group)})", f"findings-{sev}"))
            for f in group:
                where = str(f.location) if f.location else ""
                out.append(P([Badge(sev, kind), T(" "), Code(f.check), T(" "), Code(f.element), T(f" {where}")]))
                out.append(P([T(f.message)]))
                if f.witness:
                    if sev == "info":  # many, and informational: collapsed
                        out.append(Pre(_json(f.witness), "Witness patient"))
                    else:
                        out.append(P([B("Witness patient:")]))
                        out.append(Pre(_json(f.witness)))
        return out

    # ------------------------------------------------------------ traceability
    def traceability(self) -> list[Block]:
        out: list[Block] = [H(2, "Seed traceability", "traceability")]
        tm = self.inp.trace
        if tm is None:
            out.append(
                Callout(
                    "warn",
                    [
                        T("No traceability map: "),
                        Code(str(trace_path(self.spec.path))),
                        T(" is absent, so the seed statements are not mapped to spec elements."),
                    ],
                )
            )
            return out
        ids = self.spec.element_ids()
        encoded = sum(1 for e in tm.entries if e.encoded_by)
        out.append(
            P(
                [
                    T(f"{len(tm.entries)} seed statements from "),
                    Code(tm.path),
                    T(f": {encoded} encoded, {len(tm.entries) - encoded} not encoded."),
                ]
            )
        )
        for prob in tm.problems:
            out.append(Callout("bad", [T(prob)]))
        rows: list[list[Cell]] = []
        for e in tm.entries:
            by: Cell = []
            for ref in e.encoded_by:
                if by:
                    by.append(T(", "))
                kind, _, ident = ref.partition(":")
                anchor = {"node": "node-", "outcome": "outcome-", "governance": "question-"}.get(kind)
                by.append(Link(anchor + ident, ref) if anchor and ref in ids else Code(ref))
                if ref not in ids:
                    by.append(Badge("unknown element", "bad"))
            if not e.encoded_by:
                by = [Badge("not encoded", "warn"), T(" " + (e.not_encoded or "no reason given"))]
            rows.append([[Code(e.id)], [T(e.section)], [T(f"“{e.match}”")], by])
        out.append(Table(["Id", "Section", "Seed statement", "Encoded by"], rows))
        return out

    # ------------------------------------------------------------ governance
    def governance(self) -> list[Block]:
        out: list[Block] = [H(2, "Open governance questions", "governance")]
        open_q = [g for g in self.spec.governance if g.status == "open"]
        decided = [g for g in self.spec.governance if g.status != "open"]
        if not open_q:
            out.append(Callout("ok", [T("No open questions.")]))
        for g in [*open_q, *decided]:
            out.append(H(3, g.title, f"question-{g.id}"))
            out.append(P([Code(g.id), T(" · "), Badge(g.status, "warn" if g.status == "open" else "ok")]))
            out.append(P([T(" ".join(g.question.split()))]))
            items: list[Cell] = [[*self.cites([src]), T(": " + " ".join(says.split()))] for src, says in g.positions]
            out.append(UL(items))
            out.append(P([B("Conservative choice encoded: "), T(" ".join(g.conservative_choice.split()))]))
            out.append(P([T("Affects: "), *_join_codes(g.affects)]))
        return out

    # ------------------------------------------------------------ sign-off
    def signoff(self) -> list[Block]:
        out: list[Block] = [H(2, "Sign-off record", "signoff")]
        path = signoff_path(self.spec.path)
        if self.inp.signoff_problem:
            out.append(Callout("bad", [T(self.inp.signoff_problem)]))
        signed = [r for r in self.inp.signoffs if r.sha256 == self.spec.sha256]
        if signed:
            who = "; ".join(f"{r.name} ({r.role}, {r.date})" for r in signed)
            out.append(
                Callout("ok", [T(f"This exact version (sha256 {self.spec.sha256[:12]}…) is signed off by {who}.")])
            )
        else:
            out.append(
                Callout(
                    "bad",
                    [
                        T(f"This exact version (sha256 {self.spec.sha256[:12]}…) has no sign-off. After review run "),
                        Code(f"crs-model signoff {self.spec.path} --name NAME --role ROLE"),
                        T("."),
                    ],
                )
            )
        if self.inp.signoffs:
            rows: list[list[Cell]] = [
                [
                    [T(r.name)],
                    [T(r.role)],
                    [T(r.date)],
                    [Code(r.version or "?"), T(" "), Code(r.sha256[:12] + "…")],
                    [Badge("this version", "ok")] if r.sha256 == self.spec.sha256 else [Badge("other version", "info")],
                    [T(r.note)],
                ]
                for r in self.inp.signoffs
            ]
            out.append(P([T("Records in "), Code(str(path)), T(":")]))
            out.append(Table(["Name", "Role", "Date", "Version", "Applies to", "Note"], rows))
        else:
            out.append(P([T("No records in "), Code(str(path)), T(".")]))
        return out

    def blocks(self) -> list[Block]:
        return [
            *self.metadata(),
            *self.diagram(),
            *self.rules(),
            *self.parameters(),
            *self.invariants(),
            *self.findings_section(),
            *self.traceability(),
            *self.governance(),
            *self.sources(),
            *self.signoff(),
        ]


def _join_codes(refs: Sequence[str]) -> Cell:
    out: Cell = []
    for r in refs:
        if out:
            out.append(T(", "))
        out.append(Code(r))
    return out


def _json(obj: Mapping[str, Any]) -> str:
    return json.dumps(dict(obj), indent=2, sort_keys=True, ensure_ascii=False, default=str)


# ---------------------------------------------------------------------------- HTML

_CSS = """
:root{--ink:#1d2330;--muted:#5b6472;--line:#d7dce3;--bg:#fff;--ok:#1e7d4f;--warn:#9a6300;--bad:#b3261e;--info:#1f5f99}
*{box-sizing:border-box}
body{font:15px/1.45 "DejaVu Sans",system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:var(--ink);
 background:var(--bg);margin:0}
header{padding:20px 32px;border-bottom:3px solid var(--ink)}
header h1{margin:0 0 6px;font-size:24px}
header .meta{color:var(--muted)}
nav{padding:8px 32px;border-bottom:1px solid var(--line);font-size:13px}
nav a{margin-right:14px;color:var(--info);text-decoration:none}
main{padding:8px 32px 40px;max-width:1400px}
h2{margin-top:36px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{margin-top:24px}
h4{margin:18px 0 4px}
table{border-collapse:collapse;width:100%;margin:8px 0 14px;font-size:13.5px}
th,td{border:1px solid var(--line);padding:5px 7px;text-align:left;vertical-align:top}
th{background:#f1f3f6}
table.kv td:first-child{width:180px;color:var(--muted)}
table.kv thead{display:none}
code{font:12.5px/1.3 "DejaVu Sans Mono",ui-monospace,Menlo,Consolas,monospace;background:#f3f4f6;padding:0 3px;
 border-radius:3px;overflow-wrap:anywhere}
pre{font:12.5px/1.35 "DejaVu Sans Mono",ui-monospace,Menlo,Consolas,monospace;background:#f6f7f9;
 border:1px solid var(--line);padding:8px;overflow:auto}
.badge{display:inline-block;padding:0 6px;border-radius:9px;font-size:12px;font-weight:bold;border:1px solid;
 white-space:nowrap}
.badge.ok{color:var(--ok);border-color:var(--ok);background:#e9f6ef}
.badge.warn{color:var(--warn);border-color:var(--warn);background:#fdf5e4}
.badge.bad{color:var(--bad);border-color:var(--bad);background:#fbeceb}
.badge.info{color:var(--info);border-color:var(--info);background:#eaf2fa}
.badge.class-no_crs{background:#EEEEEE;border-color:#777777;color:#333}
.badge.class-standard{background:#D6E6F5;border-color:#0072B2;color:#003d63}
.badge.class-cytosorb{background:#D5EFD9;border-color:#009E73;color:#00573f}
.badge.class-contraindicated{background:#F8D3D3;border-color:#C0392B;color:#7d1f16}
.badge.class-insufficient{background:#FFF1C9;border-color:#B8860B;color:#6b4e06}
.cite{display:inline-block;font-size:11.5px;color:#354052;background:#eef1f6;border-radius:3px;padding:0 4px;
 margin:1px 2px 1px 0;white-space:nowrap}
.cite .lvl{color:var(--muted)}
.callout{border-left:5px solid;padding:8px 12px;margin:10px 0;background:#f7f8fa}
.callout.ok{border-color:var(--ok)}.callout.warn{border-color:var(--warn)}
.callout.bad{border-color:var(--bad);background:#fdf1f0}.callout.info{border-color:var(--info)}
figure.diagram{margin:10px 0;border:1px solid var(--line);padding:8px;overflow:auto;background:#fff}
figure.diagram svg{display:block;max-width:100%;height:auto;margin:0 auto}
figcaption{color:var(--muted);font-size:13px;margin-top:6px}
@media print{nav{display:none}main{max-width:none}h2{break-after:avoid}table,pre,figure{break-inside:avoid}}
"""


def _inline_html(parts: Cell) -> str:
    out: list[str] = []
    for p in parts:
        if isinstance(p, T):
            out.append(html.escape(p.text))
        elif isinstance(p, B):
            out.append(f"<strong>{html.escape(p.text)}</strong>")
        elif isinstance(p, Code):
            out.append(f"<code>{html.escape(p.text)}</code>")
        elif isinstance(p, Badge):
            out.append(f'<span class="badge {html.escape(p.kind)}">{html.escape(p.text)}</span>')
        elif isinstance(p, Cite):
            out.append(
                f'<span class="cite" title="{html.escape(p.title)}">{html.escape(p.eid)}'
                f' <span class="lvl">· {html.escape(p.level)}</span></span>'
            )
        else:
            out.append(f'<a href="#{html.escape(p.anchor)}">{html.escape(p.text)}</a>')
    return "".join(out)


def to_html(spec: Spec, inputs: PackInputs) -> str:
    """The self-contained governance pack as one HTML document."""
    pack = _Pack(spec, inputs)
    blocks = pack.blocks()
    md = spec.metadata
    body: list[str] = []
    for b in blocks:
        if isinstance(b, H):
            body.append(f'<h{b.level} id="{html.escape(b.anchor)}">{html.escape(b.text)}</h{b.level}>')
        elif isinstance(b, P):
            body.append(f"<p>{_inline_html(b.parts)}</p>")
        elif isinstance(b, UL):
            body.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            cls = f' class="{b.cls}"' if b.cls else ""
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.head)
            rows = "".join("<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in r) + "</tr>" for r in b.rows)
            body.append(f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Pre):
            pre = f"<pre>{html.escape(b.text)}</pre>"
            body.append(f"<details><summary>{html.escape(b.summary)}</summary>{pre}</details>" if b.summary else pre)
        elif isinstance(b, Figure):
            inner = b.svg if b.svg is not None else f"<p>{html.escape(b.fallback)}</p>"
            body.append(f'<figure class="diagram">{inner}<figcaption>{html.escape(b.caption)}</figcaption></figure>')
        else:
            body.append(f'<div class="callout {b.kind}">{_inline_html(b.parts)}</div>')
    nav = "".join(
        f'<a href="#{b.anchor}">{html.escape(b.text)}</a>' for b in blocks if isinstance(b, H) and b.level == 2
    )
    signed = any(r.sha256 == spec.sha256 for r in inputs.signoffs)
    sign = '<span class="badge ok">signed off</span>' if signed else '<span class="badge bad">not signed off</span>'
    title = f"{md.title} — governance pack {md.version}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # Nothing may be fetched: no scripts, images, fonts or styles from anywhere.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{html.escape(md.title)}</h1>"
        f'<div class="meta">Governance pack · spec <code>{html.escape(md.id)}</code> version '
        f"<code>{html.escape(md.version)}</code> · status <strong>{html.escape(md.status.value.upper())}</strong> · "
        f"{sign} · sha256 <code>{html.escape(spec.sha256)}</code></div></header>\n"
        f"<nav>{nav}</nav>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------------------- Markdown


def _md_escape(text: str) -> str:
    """Markdown-literal text on one line; a leading or trailing space is kept (it separates inline pieces)."""
    inner = re.sub(r"([\\`*_\[\]<>|])", r"\\\1", " ".join(text.split()))
    lead = " " if text[:1].isspace() and inner else ""
    trail = " " if text[-1:].isspace() and inner else ""
    return lead + inner + trail


def _inline_md(parts: Cell) -> str:
    out: list[str] = []
    for p in parts:
        if isinstance(p, T):
            out.append(_md_escape(p.text) if p.text.strip() else " " if p.text else "")
        elif isinstance(p, B):
            out.append(f"**{_md_escape(p.text)}**" if p.text.strip() else "")
        elif isinstance(p, Code):
            out.append("`" + p.text.replace("`", "'") + "`")
        elif isinstance(p, Badge):
            out.append(f"**\\[{_md_escape(p.text)}\\]**")
        elif isinstance(p, Cite):
            out.append(f"\\[{_md_escape(p.eid)} · {_md_escape(p.level)}\\] ")
        else:
            out.append(f"[{_md_escape(p.text)}](#{p.anchor})")
    return "".join(out).replace("\n", " ").strip()


def to_markdown(spec: Spec, inputs: PackInputs) -> str:
    """The governance pack as GitHub-flavoured Markdown (for a pull request description)."""
    pack = _Pack(spec, inputs)
    md = spec.metadata
    signed = any(r.sha256 == spec.sha256 for r in inputs.signoffs)
    lines = [
        f"# {_md_escape(md.title)} — governance pack",
        "",
        f"Spec `{md.id}` version `{md.version}` · status **{md.status.value.upper()}** · "
        f"{'signed off' if signed else '**not signed off**'} · sha256 `{spec.sha256}`",
    ]
    for b in pack.blocks():
        lines.append("")
        if isinstance(b, H):
            lines.append(f'<a id="{b.anchor}"></a>')
            lines.append("#" * b.level + " " + _md_escape(b.text))
        elif isinstance(b, P):
            lines.append(_inline_md(b.parts))
        elif isinstance(b, UL):
            lines.extend("- " + _inline_md(i) for i in b.items)
        elif isinstance(b, Table):
            head = b.head if any(b.head) else ["Field", "Value"]
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|" + "---|" * len(head))
            lines.extend("| " + " | ".join(_inline_md(c) or " " for c in r) + " |" for r in b.rows)
        elif isinstance(b, Pre):
            if b.summary:
                lines.append(f"{_md_escape(b.summary)}:")
            lines.extend(["```json", b.text, "```"])
        elif isinstance(b, Figure):
            lines.append(f"*{_md_escape(b.caption)}* {_md_escape(b.fallback)}")
        else:
            icon = {"ok": "✅", "warn": "⚠️", "bad": "❌", "info": "ℹ️"}[b.kind]
            lines.append(f"> {icon} " + _inline_md(b.parts))
    return "\n".join(lines) + "\n"


def run_verifier(spec: Spec) -> tuple[Any, str]:
    """``(report, "")`` from ``crs_model.verify``, or ``(None, why)`` when this build has no verifier."""
    import importlib

    try:
        module = importlib.import_module("crs_model.verify")
    except ImportError as exc:  # the verifier, or its solver, is not installed
        return None, f"not available in this build ({exc})"
    return module.verify(spec), ""


def gather(
    spec: Spec,
    *,
    verifier: bool = True,
    svg: bool = True,
    diagram_path: str = "",
) -> PackInputs:
    """Collect the pack's inputs: verifier report, diagram SVG, traceability map, sign-offs, versions.

    Missing pieces (no Graphviz, no verifier, no map, malformed sign-off file) are
    stated in the pack rather than raised, so the committee sees what is absent.
    """
    from crs_model.errors import RenderError, SignoffError
    from crs_model.render import Overlay, diagram, dot_text, graphviz_version, run_graphviz, svg_inline
    from crs_model.signoff import read_records, signoff_findings

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
    try:
        records = read_records(spec.path)
        problem = ""
    except SignoffError as exc:
        records, problem = (), str(exc)
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
        signoff_problem=problem,
        tools=tool_versions(graphviz_version(), solver),
    )


__all__ = [
    "PackInputs",
    "TraceMap",
    "gather",
    "load_trace_map",
    "run_verifier",
    "to_html",
    "to_markdown",
    "tool_versions",
    "trace_path",
]
