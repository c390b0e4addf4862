"""``crs-model verify``: prove the spec with Z3 (exit 0 ok, 1 error or undecided findings, 2 bad input)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, TextIO

from crs_model.commands.common import load_or_report
from crs_model.verify import DEFAULT_BMC_DEPTH, DEFAULT_RLIMIT, MAX_BMC_DEPTH, MAX_RLIMIT  # z3-free

FORMATS = ("text", "json", "sarif", "junit")


def _rlimit(text: str) -> int | None:
    """``--rlimit`` as an int in 1..MAX_RLIMIT (ASCII digits, ``_`` separators allowed), else None."""
    digits = text.strip().replace("_", "")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 10:
        return None
    value = int(digits)
    return value if 1 <= value <= MAX_RLIMIT else None


def _depth(text: str) -> int | None:
    """``--bmc-depth`` as an int in 1..MAX_BMC_DEPTH (ASCII digits), else None."""
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 4:
        return None
    value = int(digits)
    return value if 1 <= value <= MAX_BMC_DEPTH else None


def register(sub: Any) -> None:
    """Add the ``verify`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "verify",
        help="prove the spec with Z3: contradictions, reachability, overlaps, gaps, invariants, missing data",
        description="Verify decision specs with the Z3 SMT solver. Every finding is located in the spec "
        "(file:line:col) and, when a patient exhibits it, comes with a witness patient that the engine "
        "reproduces. Sign-off findings are part of the report. Exit 0 when no finding has error severity, "
        "1 when any has (a query the solver could not decide is such a finding), 2 when a spec cannot be "
        "loaded or the usage is wrong.",
    )
    p.add_argument("specs", nargs="*", metavar="SPEC", help="spec files (default: the bundled spec)")
    p.add_argument(
        "--spec", dest="spec_opts", action="append", default=[], metavar="SPEC", help="a spec file (alias of SPEC)"
    )
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument("--timings", action="store_true", help="show per-check timings (text) / keep them (json)")
    p.add_argument(
        "--check",
        action="append",
        metavar="KIND",
        help="run only this check kind (repeatable): contradiction, unreachable, overlap, gap, invariant, "
        "temporal, missing-data, missing-data-complete, redundant, uncited",
    )
    p.add_argument("--info", action="store_true", help="list info findings in text output (default: count only)")
    p.add_argument(
        "--rlimit",
        default=str(DEFAULT_RLIMIT),
        metavar="N",
        help=f"solver resource limit per query (deterministic work units; default: {DEFAULT_RLIMIT:_}); "
        "raise it when a query is reported undecided",
    )
    p.add_argument(
        "--bmc-depth",
        default=str(DEFAULT_BMC_DEPTH),
        metavar="K",
        help=f"temporal invariants are proven for every care course of up to K steps (bounded model checking; "
        f"1..{MAX_BMC_DEPTH}, default: {DEFAULT_BMC_DEPTH})",
    )
    p.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Verify each spec, print the report(s) in ``args.format``; return the exit code."""
    from crs_model import __version__
    from crs_model.signoff import signoff_findings
    from crs_model.verify import CHECKS, Report, to_junit, to_sarif, verify

    if args.check:
        bad = sorted(set(args.check) - set(CHECKS))
        if bad:
            err.write(f"crs-model: error: unknown check {', '.join(bad)} (choose from {', '.join(CHECKS)})\n")
            return 2
    rlimit = _rlimit(args.rlimit)
    if rlimit is None:
        err.write(
            f"crs-model: error: --rlimit={args.rlimit!r} is not a whole number of solver work units "
            f"in 1..{MAX_RLIMIT}\n"
        )
        return 2
    depth = _depth(args.bmc_depth)
    if depth is None:
        err.write(
            f"crs-model: error: --bmc-depth={args.bmc_depth!r} is not a whole number of care-course steps "
            f"in 1..{MAX_BMC_DEPTH}\n"
        )
        return 2
    paths: list[str | None] = [*args.specs, *args.spec_opts] or [None]
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
        # sign-off findings are part of the report: counted, in every format, and an error fails the run
        report = verify(spec, checks=args.check, rlimit=rlimit, bmc_depth=depth).with_findings(signoff_findings(spec))
        reports.append(report)
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
