"""``crs-model testgen`` and ``crs-model regress``: generated regression suites (MC/DC) and their re-run."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, TextIO

from crs_model.commands.common import add_spec_argument, load_or_report
from crs_model.errors import InputFileError
from crs_model.verify.limits import DEFAULT_RLIMIT


def register(sub: Any) -> None:
    """Add ``testgen`` and ``regress`` to the CLI's subparsers."""
    p = sub.add_parser(
        "testgen",
        help="generate a regression suite: every edge, outcome, both sides of every threshold, MC/DC",
        description="Generate vignettes (JSON Lines) covering every edge, every outcome, both sides of every "
        "threshold and MC/DC of every guard's conditions, with Z3; infeasible goals are proven so and listed. "
        "Each case records the engine's decision. Prints the coverage achieved. Exit 0 done, 1 a solver "
        "query undecided or an internal disagreement, 2 bad input.",
    )
    add_spec_argument(p, positional=True)
    p.add_argument("--out", metavar="FILE", help="write the suite here (default: standard output)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="coverage summary format")
    p.add_argument("--rlimit", type=int, default=DEFAULT_RLIMIT, metavar="N", help="solver work per query")
    p.set_defaults(handler=cmd_testgen)

    r = sub.add_parser(
        "regress",
        help="re-run a regression suite: exit 1 listing every case whose decision changed",
        description="Re-run each case of a suite (JSON Lines from testgen) through the engine and compare "
        "the recorded decision (recommendation, outcome, recorded outputs). Exit 0 all unchanged, 1 some "
        "changed (each listed with old and new), 2 a malformed line (file:line:col, every one reported) "
        "or bad input.",
    )
    r.add_argument("cases", metavar="CASES", help="the suite file (JSON Lines)")
    add_spec_argument(r, positional=True)
    r.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    r.set_defaults(handler=cmd_regress)


def cmd_testgen(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Generate the suite; write it and print the coverage summary."""
    from crs_model.fileio import make_dirs, write_atomic
    from crs_model.verify.encoding import Undecided
    from crs_model.verify.testgen import GenerationError, generate

    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    if args.rlimit < 1:
        err.write(f"crs-model: error: --rlimit {args.rlimit}: expected a positive number of solver units\n")
        return 2
    t0 = time.perf_counter()
    try:
        suite = generate(spec, rlimit=args.rlimit)
    except Undecided as exc:
        err.write(f"crs-model: error: a coverage query was undecided ({exc.args[0]}); raise --rlimit\n")
        return 1
    except GenerationError as exc:
        err.write(f"crs-model: error: internal: {exc}\n")
        return 1
    seconds = time.perf_counter() - t0
    text = suite.jsonl()
    report = out
    if args.out:
        target = Path(args.out)
        make_dirs(target.parent)
        write_atomic(target, text.encode("utf-8"))
    else:
        out.write(text)
        report = err  # the suite is on stdout: the summary goes beside it
    if args.format == "json":
        report.write(json.dumps({**suite.to_dict(), "seconds": round(seconds, 3)}, ensure_ascii=False) + "\n")
    else:
        where = f"wrote {args.out}: " if args.out else ""
        report.write(f"{where}{len(suite.cases)} cases in {seconds:.1f} s\n{suite.summary()}")
    return 0


def cmd_regress(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Re-run a suite; list changed cases and malformed lines."""
    from crs_model.verify.regress import read_suite, rerun

    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    try:
        entries, bad = read_suite(args.cases)
    except InputFileError as exc:
        err.write(f"crs-model: error: {exc}\n")
        return 2
    t0 = time.perf_counter()
    changed = rerun(spec, entries)
    seconds = time.perf_counter() - t0
    code = 2 if bad else 1 if changed else 0
    if args.format == "json":
        obj = {
            "ok": code == 0,
            "cases": len(entries),
            "changed": [c.to_dict() for c in changed],
            "errors": [{"line": b.line, "column": b.column, "message": b.message} for b in bad],
        }
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    else:
        for c in changed:
            if "error" in c.new:
                diff = f"was {c.entry.expect.get('recommendation')}, now refused: {c.new['error']}"
            else:
                diff = "; ".join(
                    f"{k}: {json.dumps(c.entry.expect.get(k))} -> {json.dumps(c.new.get(k))}"
                    for k in c.entry.expect
                    if c.entry.expect.get(k) != c.new.get(k)
                )
            out.write(f"{args.cases}:{c.entry.line}: changed: {c.entry.name}: {diff}\n")
        verdict = "all unchanged" if not changed else f"{len(changed)} changed"
        out.write(f"regress: {len(entries)} cases, {verdict} ({seconds:.2f} s)\n")
    for b in bad:
        err.write(f"{b.located(args.cases)}\n")
    if bad:
        err.write(f"crs-model: error: {len(bad)} malformed line{'s' if len(bad) != 1 else ''} in {args.cases}\n")
    return code
