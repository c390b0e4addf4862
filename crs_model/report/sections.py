"""The pack's sections, built once from the spec and its inputs as document blocks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from crs_model.care_diagram import follow_sets, held_inputs, labels, step_hours_text
from crs_model.fileio import spec_stem
from crs_model.model import INSUFFICIENT_DATA, Spec
from crs_model.report.banner import verification_banner
from crs_model.report.changes import changes_blocks
from crs_model.report.coverage import coverage_blocks
from crs_model.report.criteria_section import criteria_section
from crs_model.report.document import (
    UL,
    B,
    Badge,
    Block,
    Callout,
    Cell,
    Cite,
    Code,
    Figure,
    H,
    Link,
    P,
    Pre,
    T,
    Table,
)
from crs_model.report.inputs import PackInputs
from crs_model.report.robustness import robustness_blocks
from crs_model.report.signoff_section import signoff_blocks
from crs_model.report.trace_map import trace_path
from crs_model.signoff import signoff_path
from crs_model.text import Renderer, fmt_number
from crs_model.vocabulary import (
    SEVERITIES,
    FindingLike,
    Tone,
    level_text,
    outcome_class,
    severity_text,
    sort_findings,
    status_tone,
    value_text,
)


class Sections:
    """The pack's blocks for one spec and its inputs, in reading order (:meth:`blocks`)."""

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
        """Source badges for evidence ids (an unknown id is shown as such)."""
        out: Cell = []
        for eid in ids:
            ev = self.spec.evidence.get(eid)
            if ev is None:
                out.append(Badge(f"{eid}: unknown source", Tone.BAD))
            else:
                out.append(Cite(eid, level_text(ev.level), " ".join(ev.citation.split())))
        return out

    def title(self, target: str) -> str:
        """The question of a node or the title of an outcome."""
        if target in self.spec.outcomes:
            return self.spec.outcomes[target].title
        if target in self.spec.nodes:
            return self.spec.nodes[target].question
        return target

    # ------------------------------------------------------------ metadata
    def metadata(self) -> list[Block]:
        """Metadata, status, sign-off, generation inputs and tool versions."""
        md = self.spec.metadata
        signed = [c for c in self.inp.signoffs if c.valid and c.record.sha256 == self.spec.sha256]
        rows: list[list[Cell]] = [
            [[T("Title")], [B(md.title)]],
            [[T("Spec id")], [Code(md.id)]],
            [[T("Version")], [Code(md.version)]],
            [[T("Status")], [Badge(md.status.value.upper(), status_tone(md.status.value, Tone.WARN))]],
            [[T("Date")], [T(md.date)]],
            [[T("Authors")], [T(", ".join(md.authors) or "none listed")]],
            [[T("Reviewers")], [T(", ".join(md.reviewers) or "none listed")]],
            [[T("Spec file")], [Code(self.spec.path)]],
            [[T("sha256")], [Code(self.spec.sha256)]],
            [
                [T("Sign-off")],
                [Badge(f"signed off ({len(signed)} valid record{'s' if len(signed) != 1 else ''})", Tone.OK)]
                if self.inp.signed_off
                else [Badge("NOT SIGNED OFF", Tone.BAD)],
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
        """The embedded diagram (or where to find it)."""
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
        """Every decision, definition, consistency constraint and outcome in clinical words."""
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
            cls = outcome_class(spec, o.recommendation)
            out.append(H(4, o.title, f"outcome-{oid}"))
            head: Cell = [Badge(cls.title, cls), T(" "), Code(o.recommendation), T(" · ")]
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
                    [Badge(f.confidence.value, Tone.WARN)]
                    if f.confidence and f.confidence.value == "unverified"
                    else []
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
        """The thresholds with their rationale and sources."""
        rows: list[list[Cell]] = []
        for name, p in self.spec.parameters.items():
            value = value_text(p.value) if isinstance(p.value, bool) else fmt_number(p.value, p.unit)
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
        """The evidence registry with levels and confidence."""
        rows: list[list[Cell]] = []
        for eid, ev in self.spec.evidence.items():
            rows.append(
                [
                    [Code(eid)],
                    [T(" ".join(ev.citation.split()))],
                    [T(ev.kind.value.replace("_", " "))],
                    [B(level_text(ev.level))],
                    [Badge(ev.confidence.value, status_tone(ev.confidence.value, Tone.INFO))],
                ]
            )
        return [
            H(2, "Sources and evidence levels", "sources"),
            Table(["Id", "Citation", "Kind", "Level", "Confidence"], rows),
        ]

    # ------------------------------------------------------------ invariants
    def invariants(self) -> list[Block]:
        """The safety invariants with proof status and counterexamples."""
        verified = self.inp.verify_report is not None
        out: list[Block] = [H(2, "Safety invariants", "invariants")]
        if not verified:
            out.append(
                Callout(
                    Tone.WARN,
                    [T("Proof status unknown: " + (self.inp.verify_note or "the verifier was not run") + ".")],
                )
            )
        rows: list[list[Cell]] = []
        examples: list[Block] = []
        for inv in self.spec.invariants:
            status = self.inv_status.get(inv.id)
            word = status or ("not checked" if verified else "not verified")
            badge = Badge(word.upper() if word == "refuted" else word, status_tone(word, Tone.WARN))
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

    # ------------------------------------------------------------ care course
    def care(self) -> list[Block]:
        """The care section in words, its transitions, the temporal invariants and the care diagram."""
        spec, care = self.spec, self.spec.care
        if care is None:
            return []
        out: list[Block] = [H(2, "Care course", "care")]
        if care.description:
            out.append(P([T(" ".join(care.description.split()))]))
        rows: list[list[Cell]] = [
            [[T("A course starts when")], [T(self.words.render(care.start.ast))]],
            [[T("Hours between consultations")], [T(step_hours_text(care))]],
            [[T("Clock inputs (grow with the hours)")], [T(labels(spec, care.clock))]],
            [[T("Inputs that change by themselves")], [T(labels(spec, care.spontaneous))]],
            [[T("Held unless a transition sets them")], [T(labels(spec, held_inputs(spec)))]],
            [[T("Sources")], self.cites(care.cites)],
        ]
        out.append(Table(["", ""], rows, "kv"))
        out.append(H(3, "Transitions: what following a recommendation does", "care-transitions"))
        trows: list[list[Cell]] = []
        for code, follow in care.follow.items():
            cls = outcome_class(spec, code)
            sets = "; ".join(f"{name} ← {value}" for name, value in follow_sets(spec, code))
            what: Cell = [T(sets)]
            if follow.description:
                what.append(T(" — " + " ".join(follow.description.split())))
            trows.append([[Badge(cls.title, cls), T(" "), Code(code)], what, self.cites(follow.cites)])
        out.append(Table(["Recommendation", "Following it sets", "Sources"], trows))
        quiet = [c for c in (*spec.recommendations, INSUFFICIENT_DATA) if c not in care.follow]
        out.append(P([T("Following any other recommendation changes no input: "), *_join_codes(quiet), T(".")]))
        out += self._temporal()
        out += self._successors()
        return out

    def _temporal(self) -> list[Block]:
        rep = self.inp.verify_report
        summary = getattr(rep, "temporal", None) if rep is not None else None
        status: Mapping[str, str] = getattr(summary, "status", {}) if summary is not None else {}
        out: list[Block] = [H(3, "Temporal invariants (bounded model checking)", "care-invariants")]
        if summary is not None:
            k = summary.depth
            out.append(
                P(
                    [
                        T(
                            f"Proven means: true at every step of every care course of up to {k} steps from any "
                            f"start state (bounded model checking, depth {k})."
                        )
                    ]
                )
            )
        else:
            out.append(
                Callout(
                    Tone.WARN,
                    [T("BMC verdicts unknown: " + (self.inp.verify_note or "the verifier was not run") + ".")],
                )
            )
        if not self.spec.temporal_invariants:
            out.append(P([T("No temporal invariants are declared.")]))
            return out
        rows: list[list[Cell]] = []
        examples: list[Block] = []
        for inv in self.spec.temporal_invariants:
            word = status.get(inv.id) or "not verified"
            badge = Badge(word.upper() if word == "refuted" else word, status_tone(word, Tone.WARN))
            depth = [T(f" (depth {summary.depth})")] if summary is not None and inv.id in status else []
            rows.append(
                [
                    [Code(inv.id)],
                    [T(" ".join(inv.description.split()))],
                    [T(self.inv_words.render(inv.formula.ast))],
                    [T(inv.severity.value)],
                    [badge, *depth],
                    self.cites(inv.cites),
                ]
            )
            for f in self.findings:
                course = getattr(f, "course", None)
                if f.element == f"invariant:{inv.id}" and course:
                    examples.append(P([B(f"Counterexample course for {inv.id}: "), T(f.message)]))
                    examples.append(Pre("\n".join(course.get("story", ()))))
        out.append(Table(["Invariant", "Statement", "Formally", "Severity", "BMC verdict", "Sources"], rows))
        out.extend(examples)
        return out

    def _successors(self) -> list[Block]:
        succ = self.inp.care
        out: list[Block] = [H(3, "Which recommendation can follow which", "care-diagram")]
        if succ is None:
            out.append(Callout(Tone.WARN, [T("Not computed: " + (self.inp.care_note or "unavailable") + ".")]))
            return out
        k = succ.depth
        out.append(
            P(
                [
                    T(
                        f"An edge A → B is proven: some care course of up to {k} steps from the start has a "
                        "consultation recommending A directly followed by one recommending B (Z3 on the unrolled "
                        "course; each witness course below was replayed through the engine). A pair without an edge is "
                        "proven not to occur within that depth (unsatisfiable); a dashed edge is undecided, not "
                        "proven."
                    ),
                ]
            )
        )
        for problem in succ.problems:
            out.append(Callout(Tone.BAD, [T("Internal error: " + problem)]))
        caption = (
            f"Care course: recommendations coloured by class, each with what following it sets; edges proven "
            f"reachable in one consultation within courses of up to {k} steps."
        )
        fallback = self.inp.care_note or f"See diagrams/{spec_stem(self.spec.path)}.care.svg (crs-model render)."
        out.append(Figure(self.inp.care_svg, caption, fallback))
        rows: list[list[Cell]] = []
        sources = [succ.start, *succ.codes]
        for a in sources:
            nexts: Cell = []
            for b in succ.codes:
                verdict = succ.verdicts.get((a, b))
                if verdict == "yes":
                    nexts += [T(", ")] if nexts else []
                    nexts.append(Code(b))
                elif verdict == "unknown":
                    nexts += [T(", ")] if nexts else []
                    nexts += [Code(b), T(" "), Badge("undecided", Tone.WARN)]
            head: Cell = [T("course start")] if a == succ.start else [Code(a)]
            rows.append([head, nexts or [T("nothing (not given in any course of the depth)")]])
        out.append(Table(["Recommendation", "Can be followed by"], rows))
        stories = [f"{a} → {b}:\n" + "\n".join(lines) for (a, b), lines in succ.stories.items()]
        if stories:
            out.append(Pre("\n\n".join(stories), f"Witness courses ({len(stories)})"))
        return out

    # ------------------------------------------------------------ findings
    def findings_section(self) -> list[Block]:
        """The verifier's checks and its findings by severity, with witnesses."""
        out: list[Block] = [H(2, "Verification findings", "findings")]
        rep = self.inp.verify_report
        if rep is None:
            out.append(
                Callout(Tone.WARN, [T("The verifier was not run: " + (self.inp.verify_note or "unavailable") + ".")])
            )
        else:
            checks = getattr(rep, "checks", ())
            if checks:
                rows: list[list[Cell]] = []
                for c in checks:
                    tone = status_tone(str(c.status), Tone.WARN)
                    rows.append([[Code(str(c.name))], [Badge(str(c.status), tone)], [T(str(c.findings))]])
                out.append(Table(["Check", "Result", "Findings"], rows))
        counts = {s: sum(1 for f in self.findings if severity_text(f) == s) for s in SEVERITIES}
        if not self.findings:
            out.append(Callout(Tone.OK, [T("No findings.")]))
        else:
            out.append(P([T(f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} info.")]))
        for sev, style in SEVERITIES.items():
            group = [f for f in self.findings if severity_text(f) == sev]
            if not group:
                continue
            out.append(H(3, f"{sev.capitalize()} ({len(group)})", f"findings-{sev}"))
            for f in group:
                where = str(f.location) if f.location else ""
                out.append(P([Badge(sev, style.tone), T(" "), Code(f.check), T(" "), Code(f.element), T(f" {where}")]))
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
        """The seed statements and the spec elements that encode them."""
        out: list[Block] = [H(2, "Seed traceability", "traceability")]
        tm = self.inp.trace
        if tm is None:
            out.append(
                Callout(
                    Tone.WARN,
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
            out.append(Callout(Tone.BAD, [T(prob)]))
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
                    by.append(Badge("unknown element", Tone.BAD))
            if not e.encoded_by:
                by = [Badge("not encoded", Tone.WARN), T(" " + (e.not_encoded or "no reason given"))]
            rows.append([[Code(e.id)], [T(e.section)], [T(f"“{e.match}”")], by])
        out.append(Table(["Id", "Section", "Seed statement", "Encoded by"], rows))
        return out

    # ------------------------------------------------------------ governance
    def governance(self) -> list[Block]:
        """Open (then decided) governance questions with sources' positions."""
        out: list[Block] = [H(2, "Open governance questions", "governance")]
        open_q = [g for g in self.spec.governance if g.status == "open"]
        decided = [g for g in self.spec.governance if g.status != "open"]
        if not open_q:
            out.append(Callout(Tone.OK, [T("No open questions.")]))
        for g in [*open_q, *decided]:
            out.append(H(3, g.title, f"question-{g.id}"))
            out.append(P([Code(g.id), T(" · "), Badge(g.status, status_tone(g.status, Tone.OK))]))
            out.append(P([T(" ".join(g.question.split()))]))
            items: list[Cell] = [[*self.cites([src]), T(": " + " ".join(says.split()))] for src, says in g.positions]
            out.append(UL(items))
            out.append(P([B("Conservative choice encoded: "), T(" ".join(g.conservative_choice.split()))]))
            out.append(P([T("Affects: "), *_join_codes(g.affects)]))
        return out

    # ------------------------------------------------------------ sign-off
    def signoff(self) -> list[Block]:
        """Whether these exact bytes are signed off, and every record with its signer, meaning and verification."""
        return signoff_blocks(self.spec, self.inp)

    def blocks(self) -> list[Block]:
        """All sections in reading order."""
        return [
            *verification_banner(self.inp.verify_report),
            *self.metadata(),
            *changes_blocks(self.inp.changes, self.inp.changes_note),  # what the committee is asked to approve
            *self.diagram(),
            *criteria_section(self.spec, self.inp.criteria_svg, self.inp.criteria_note, self.cites),
            *self.rules(),
            *self.parameters(),
            *self.invariants(),
            *robustness_blocks(self),
            *self.care(),
            *self.findings_section(),
            *coverage_blocks(self.spec, analyse_suite=self.inp.verify_report is not None),
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
