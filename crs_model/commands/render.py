"""``render`` (decision diagrams) and ``report`` (governance pack)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from crs_model.commands.common import BadJson, add_spec_argument, load_or_report, read_patient
from crs_model.errors import InputFileError, OutputFileError, PatientError, SpecDefectError
from crs_model.fileio import spec_stem

# --out's extension -> report format
REPORT_SUFFIXES = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown", ".pdf": "pdf"}


def register(sub: Any) -> None:
    """Add the ``render`` and ``report`` subcommands to ``sub``."""
    p = sub.add_parser(
        "render",
        help="draw the decision graph (DOT always; SVG/PNG/PDF through Graphviz)",
        description="Write the decision diagrams of a spec: the full graph, a compact overview and, for large "
        "graphs or with --split, one diagram per decision node; with a care section, the care-course diagram "
        "(which recommendation can follow which, proven by the verifier). DOT is always written; image formats need "
        "Graphviz's 'dot'. --patient highlights the path the engine takes for one patient; --findings marks "
        "what the verifier reports.",
    )
    add_spec_argument(p, positional=True)
    p.add_argument(
        "--out", default="diagrams", metavar="DIR", help="output folder, created if needed (default: diagrams)"
    )
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
        help="write the governance pack (self-contained HTML, a printable PDF, or Markdown for a pull request)",
        description="One file with metadata and hashes, the diagram, every rule in clinical words with sources "
        "and evidence levels, parameters, invariants with proof status, verifier findings, the seed "
        "traceability matrix, open governance questions and the sign-off record.",
    )
    add_spec_argument(p, positional=True)
    p.add_argument(
        "--out",
        metavar="FILE",
        help="output file, written atomically (default: standard output; a PDF needs it); "
        ".html/.htm, .pdf or .md/.markdown",
    )
    p.add_argument("--format", choices=("html", "pdf", "markdown"), default=None, help="default: from --out, else html")
    p.add_argument(
        "--paper",
        choices=("A4", "A3"),
        default="A4",
        help="printed page size (PDF, and the HTML's print style); each diagram gets a landscape page (default A4)",
    )
    p.add_argument("--no-verify", action="store_true", help="do not run the verifier (proof status shown unknown)")
    p.add_argument("--no-diagram", action="store_true", help="do not embed the diagram (no Graphviz needed)")
    p.set_defaults(handler=cmd_report)


def _formats(text: str) -> list[str]:
    from crs_model.errors import RenderError
    from crs_model.render import FORMATS

    fmts = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise RenderError(f"--format {text!r}: choose from {', '.join(FORMATS)} (comma-separated)")
    return ["dot", *[f for f in FORMATS if f in fmts and f != "dot"]]


def cmd_render(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``crs-model render``: write the decision diagrams of a spec."""
    from crs_model.engine import Engine
    from crs_model.fileio import read_regular
    from crs_model.render import Overlay, write_diagrams

    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    formats = _formats(args.format)
    stem = spec_stem(spec.path)
    decision = None
    label = ""
    if args.patient:
        try:
            decision = Engine(spec).evaluate(read_patient(args.patient))
        except InputFileError as exc:
            err.write(f"crs-model: error: {exc}\n")
            return 2
        except BadJson as exc:
            err.write(f"crs-model: error: {exc.located(args.patient)}\n")
            return 2
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
    # the care diagram belongs to the spec, not to an overlay: drawn with the plain diagrams only
    care, problems = (None, ()) if decision is not None or findings is not None else _care(spec, err)
    if args.check:
        from crs_model.render import diagram_sources

        wanted = [
            (Path(args.out) / f"{stem}{suffix}.dot", text)
            for suffix, text in diagram_sources(spec, overlay, split=split, care=care)
        ]
        stale = []
        for path, text in wanted:
            fresh = text.encode("utf-8")
            try:  # a file of another size, a FIFO or a missing file are all stale
                same = read_regular(path, len(fresh)) == fresh
            except InputFileError:
                same = False
            if not same:
                stale.append(path)
        for path in stale:
            err.write(f"stale: {path} does not match {spec.path}\n")
        if stale:
            err.write(f"crs-model: note: regenerate with: crs-model render {spec.path} --out {args.out}\n")
            return 1
        out.write(f"ok: diagrams in {args.out} match {spec.path}\n")
        return 1 if problems else 0
    for path in write_diagrams(spec, args.out, formats=formats, overlay=overlay, stem=stem, split=split, care=care):
        out.write(f"wrote {path}\n")
    if decision is not None:
        out.write(f"patient {label}: {decision.recommendation} via {' -> '.join(decision.path)}\n")
    return 1 if problems else 0


def _care(spec: Any, err: TextIO) -> tuple[Any, tuple[str, ...]]:
    """The proven successor pairs for the care diagram (None without a care section or verifier) and
    the internal errors of their witness courses, each written to ``err``."""
    from crs_model.report import care_successors

    if spec.care is None:
        return None, ()
    care, why = care_successors(spec)
    if care is None:
        err.write(f"crs-model: note: care diagram skipped: {why}\n")
        return None, ()
    for p in care.problems:
        err.write(f"crs-model: error: internal: {p}\n")
    return care, tuple(care.problems)


def report_format(out: str | None, fmt: str | None) -> str:
    """The pack's format from ``--format`` and ``--out``; :class:`OutputFileError` when it cannot be written."""
    suffix = Path(out).suffix.lower() if out else ""
    if fmt == "pdf" and not out:
        raise OutputFileError("-", "a PDF pack is binary: give --out FILE.pdf")
    if fmt is not None:
        return fmt
    if not out:
        return "html"
    if suffix not in REPORT_SUFFIXES:
        known = ", ".join(REPORT_SUFFIXES)
        raise OutputFileError(out, f"cannot tell the format from {suffix or 'no extension'!r}: use {known} or --format")
    return REPORT_SUFFIXES[suffix]


def cmd_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``crs-model report``: write the governance report of a spec."""
    from crs_model.fileio import make_dirs, write_atomic
    from crs_model.report import gather, to_html, to_markdown

    fmt = report_format(args.out, args.format)  # before the slow part: a bad --out fails at once
    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    stem = spec_stem(spec.path)
    inputs = gather(
        spec,
        verifier=not args.no_verify,
        svg=fmt != "markdown" and not args.no_diagram,
        diagram_path=f"diagrams/{stem}.svg (crs-model render)" if fmt == "markdown" or args.no_diagram else "",
    )
    text = to_markdown(spec, inputs) if fmt == "markdown" else to_html(spec, inputs, paper=args.paper)
    if args.out:
        target = Path(args.out)
        if fmt == "pdf":
            from crs_model.report.pdf import html_to_pdf

            data = html_to_pdf(text)  # RenderError (exit 2) when no Chromium is found
        else:
            data = text.encode("utf-8")
        make_dirs(target.parent)
        write_atomic(target, data)
        out.write(f"wrote {target} ({fmt}, {len(data)} bytes)\n")
    else:
        out.write(text)
    for note in (inputs.verify_note, inputs.svg_note, inputs.signoff_problem):
        if note:
            err.write(f"crs-model: note: {note}\n")
    return 0
