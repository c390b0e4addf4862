"""``render`` (decision diagrams), ``report`` (governance pack) and ``signoff``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from crs_model.commands.common import add_spec_argument, load_or_report
from crs_model.errors import PatientError, SpecDefectError
from crs_model.signoff import spec_stem

MAX_PATIENT_BYTES = 1024 * 1024


def register(sub: Any) -> None:
    p = sub.add_parser(
        "render",
        help="draw the decision graph (DOT always; SVG/PNG/PDF through Graphviz)",
        description="Write the decision diagrams of a spec: the full graph, a compact overview and, for large "
        "graphs or with --split, one diagram per decision node. DOT is always written; image formats need "
        "Graphviz's 'dot'. --patient highlights the path the engine takes for one patient; --findings marks "
        "what the verifier reports.",
    )
    add_spec_argument(p, positional=True)
    p.add_argument("--out", default="diagrams", metavar="DIR", help="output folder (default: diagrams)")
    p.add_argument(
        "--format", default="dot,svg", metavar="LIST", help="comma list of dot,svg,png,pdf (default dot,svg)"
    )
    p.add_argument("--patient", metavar="FILE", help="patient JSON: highlight the engine's path and guard values")
    p.add_argument("--findings", action="store_true", help="run the verifier and mark its findings")
    p.add_argument("--split", action="store_true", help="also write one diagram per decision node")
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a DOT file in --out differs from what the spec gives (stale diagram)",
    )
    p.set_defaults(handler=cmd_render)

    p = sub.add_parser(
        "report",
        help="write the governance pack (self-contained HTML, or Markdown for a pull request)",
        description="One file with metadata and hashes, the diagram, every rule in clinical words with sources "
        "and evidence levels, parameters, invariants with proof status, verifier findings, the seed "
        "traceability matrix, open governance questions and the sign-off record.",
    )
    add_spec_argument(p, positional=True)
    p.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    p.add_argument("--format", choices=("html", "markdown"), default=None, help="default: from --out, else html")
    p.add_argument("--no-verify", action="store_true", help="do not run the verifier (proof status shown unknown)")
    p.add_argument("--no-diagram", action="store_true", help="do not embed the diagram (no Graphviz needed)")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser(
        "signoff",
        help="record a governance sign-off of the spec's exact bytes (sha256)",
        description="Append a record (name, role, date, note, spec sha256) to the sign-off file beside the spec "
        "(SPEC.signoff.yaml). load_spec(..., require_signoff=True) and Engine(..., require_signoff=True) refuse "
        "bytes that match no record.",
    )
    p.add_argument("spec", metavar="SPEC", help="spec file to sign off")
    p.add_argument("--name", required=True, help="reviewer's name")
    p.add_argument("--role", required=True, help="reviewer's role (e.g. 'committee chair')")
    p.add_argument("--note", default="", help="free-text note (conditions, scope)")
    p.add_argument("--date", default=None, metavar="YYYY-MM-DD", help="date of the sign-off (default: today, UTC)")
    p.set_defaults(handler=cmd_signoff)


def _formats(text: str) -> list[str]:
    from crs_model.errors import RenderError
    from crs_model.render import FORMATS

    fmts = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise RenderError(f"--format {text!r}: choose from {', '.join(FORMATS)} (comma-separated)")
    return ["dot", *[f for f in FORMATS if f in fmts and f != "dot"]]


def _read_patient(path: str) -> Any:
    def no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d = dict(pairs)
        if len(d) != len(pairs):
            raise PatientError("<input>", "a key appears twice in the object")
        return d

    try:
        raw = Path(path).read_bytes()[: MAX_PATIENT_BYTES + 1]
    except OSError as exc:
        raise PatientError(path, f"cannot read: {exc.strerror}") from None
    if len(raw) > MAX_PATIENT_BYTES:
        raise PatientError(path, f"larger than {MAX_PATIENT_BYTES} bytes")
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=no_dupes)
    except UnicodeDecodeError:
        raise PatientError(path, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise PatientError(path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def cmd_render(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from crs_model.engine import Engine
    from crs_model.render import Overlay, diagram, dot_text, views, write_diagrams

    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    formats = _formats(args.format)
    stem = spec_stem(spec.path)
    decision = None
    label = ""
    if args.patient:
        try:
            decision = Engine(spec).evaluate(_read_patient(args.patient))
        except PatientError as exc:
            err.write(f"crs-model: error: {args.patient}: invalid patient: {exc.field}: {exc.message}\n")
            return 2
        except SpecDefectError as exc:
            err.write(f"crs-model: error: {args.patient}: spec defect, no path to draw: {exc}\n")
            return 1
        label = Path(args.patient).name
        stem += ".patient-" + Path(args.patient).stem
    findings = None
    if args.findings:
        from crs_model.report import run_verifier

        report, why = run_verifier(spec)
        if report is None:
            err.write(f"crs-model: error: --findings needs the verifier, which is {why}\n")
            return 2
        findings = tuple(report.findings)
        stem += ".findings"
    overlay = Overlay(decision=decision, patient_label=label, findings=findings)
    split = True if args.split else None
    if args.check:
        stale = []
        for view in views(spec, split=split):
            from crs_model.render import view_suffix

            path = Path(args.out) / f"{stem}{view_suffix(view)}.dot"
            fresh = dot_text(diagram(spec, overlay, view=view))
            if not path.is_file() or path.read_text(encoding="utf-8") != fresh:
                stale.append(path)
        for path in stale:
            err.write(f"stale: {path} does not match {spec.path}\n")
        if stale:
            err.write(f"crs-model: regenerate with: crs-model render {spec.path} --out {args.out}\n")
            return 1
        out.write(f"ok: diagrams in {args.out} match {spec.path}\n")
        return 0
    for path in write_diagrams(spec, args.out, formats=formats, overlay=overlay, stem=stem, split=split):
        out.write(f"wrote {path}\n")
    if decision is not None:
        out.write(f"patient {label}: {decision.recommendation} via {' -> '.join(decision.path)}\n")
    return 0


def cmd_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from crs_model.report import gather, to_html, to_markdown

    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    fmt = args.format or ("markdown" if args.out and args.out.endswith(".md") else "html")
    stem = spec_stem(spec.path)
    inputs = gather(
        spec,
        verifier=not args.no_verify,
        svg=fmt == "html" and not args.no_diagram,
        diagram_path=f"diagrams/{stem}.svg (crs-model render)" if fmt == "markdown" or args.no_diagram else "",
    )
    text = to_html(spec, inputs) if fmt == "html" else to_markdown(spec, inputs)
    if args.out:
        target = Path(args.out)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        out.write(f"wrote {target} ({fmt}, {len(text.encode('utf-8'))} bytes)\n")
    else:
        out.write(text)
    for note in (inputs.verify_note, inputs.svg_note, inputs.signoff_problem):
        if note:
            err.write(f"crs-model: note: {note}\n")
    return 0


def cmd_signoff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from crs_model.signoff import append_record, records_for

    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    record, path = append_record(spec, name=args.name, role=args.role, note=args.note, date=args.date)
    n = len(records_for(spec))
    md = spec.metadata
    out.write(
        f"signed off: {md.id} {md.version} ({md.status.value}) sha256 {record.sha256} by {record.name} "
        f"({record.role}) on {record.date}; {n} sign-off{'s' if n != 1 else ''} of these bytes in {path}\n"
    )
    return 0
