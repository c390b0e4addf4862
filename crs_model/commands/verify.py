"""``crs-model verify``: prove the spec with Z3 (exit 0 ok, 1 error findings, 2 spec not loaded)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, TextIO

from crs_model.commands.common import load_or_report

FORMATS = ("text", "json", "sarif", "junit")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "verify",
        help="prove the spec with Z3: contradictions, reachability, overlaps, gaps, invariants, missing data",
        description="Verify decision specs with the Z3 SMT solver. Every finding is located in the spec "
        "(file:line:col) and, when a patient exhibits it, comes with a witness patient that the engine "
        "reproduces. Exit 0 when no finding has error severity, 1 when any has, 2 when a spec cannot be loaded.",
    )
    p.add_argument("specs", nargs="*", metavar="SPEC", help="spec files (default: the bundled spec)")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument("--timings", action="store_true", help="show per-check timings (text) / keep them (json)")
    p.add_argument(
        "--check",
        action="append",
        metavar="KIND",
        help="run only this check kind (repeatable): contradiction, unreachable, overlap, gap, invariant, "
        "missing-data, redundant, uncited",
    )
    p.add_argument("--info", action="store_true", help="list info findings in text output (default: count only)")
    p.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from crs_model import __version__
    from crs_model.signoff import signoff_findings
    from crs_model.verify import CHECKS, Report, to_junit, to_sarif, verify

    if args.check:
        bad = sorted(set(args.check) - set(CHECKS))
        if bad:
            err.write(f"crs-model verify: unknown check {', '.join(bad)} (choose from {', '.join(CHECKS)})\n")
            return 2
    paths: list[str | None] = list(args.specs) or [None]
    reports: list[Report] = []
    status = 0
    progress = args.format == "text" and len(paths) > 1
    for i, path in enumerate(paths, 1):
        spec = load_or_report(path, err)
        if spec is None:
            status = 2
            continue
        if progress:
            err.write(f"[{i}/{len(paths)}] verifying {spec.path}\n")
        t0 = time.perf_counter()
        report = verify(spec, checks=args.check)
        reports.append(report)
        err.writelines(f"{f}\n" for f in signoff_findings(spec))  # governance sign-off warnings
        if not report.ok and status == 0:
            status = 1
        if args.format == "text":
            out.write(report.to_text(timings=args.timings, info=args.info))
            if args.timings:
                out.write(f"  total: {(time.perf_counter() - t0) * 1000:.0f} ms\n")
    if args.format == "json":
        docs = [r.to_json(timings=args.timings) for r in reports]
        json.dump(docs[0] if len(docs) == 1 and len(paths) == 1 else docs, out, indent=2, ensure_ascii=False)
        out.write("\n")
    elif args.format == "sarif":
        json.dump(to_sarif(reports, tool_version=__version__), out, indent=2, ensure_ascii=False)
        out.write("\n")
    elif args.format == "junit":
        out.write(to_junit(reports))
    return status
