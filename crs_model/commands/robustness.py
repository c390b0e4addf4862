"""``crs-model robustness``: where the recommendation flips within the inputs' measurement error.

Exit 0 when no flip exists (proven), 1 when regions are found (or a query is undecided, or a
witness is not reproduced), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from crs_model.commands.common import add_spec_argument, load_or_report
from crs_model.verify import DEFAULT_RLIMIT, MAX_RLIMIT  # z3-free
from crs_model.verify.limits import DEFAULT_ROBUSTNESS_CAP, MAX_ROBUSTNESS_CAP

FORMATS = ("text", "json", "sarif")


def register(sub: Any) -> None:
    """Add the ``robustness`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "robustness",
        help="find where the recommendation flips within the inputs' declared measurement error (Z3)",
        description="For each input with a measurement_error, and for all of them together, find the regions "
        "where two patients whose measured values lie within that error of each other (all else equal) get "
        "different recommendations, with both witnesses re-run through the engine. Exit 0 when no flip exists "
        "(proven), 1 when regions are found or a query is undecided, 2 on bad input.",
    )
    add_spec_argument(p, positional=True)
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument(
        "--cap",
        type=int,
        default=DEFAULT_ROBUSTNESS_CAP,
        metavar="N",
        help=f"regions per question (default {DEFAULT_ROBUSTNESS_CAP}); more are reported as 'cap hit'",
    )
    p.add_argument("--input", action="append", metavar="NAME", help="only this measured input (repeatable)")
    p.add_argument("--rlimit", type=int, default=DEFAULT_RLIMIT, metavar="N", help="solver work units per query")
    p.set_defaults(handler=cmd_robustness)


def cmd_robustness(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the robustness questions on the spec and print the regions."""
    if not 1 <= args.cap <= MAX_ROBUSTNESS_CAP:
        err.write(f"crs-model: error: --cap={args.cap} is not in 1..{MAX_ROBUSTNESS_CAP}\n")
        return 2
    if not 1 <= args.rlimit <= MAX_RLIMIT:
        err.write(f"crs-model: error: --rlimit={args.rlimit} is not in 1..{MAX_RLIMIT}\n")
        return 2
    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    if args.input:
        measured = [n for n, v in spec.variables.items() if v.measurement_error is not None]
        bad = [n for n in args.input if n not in measured]
        if bad:
            err.write(
                f"crs-model: error: --input {', '.join(bad)}: not an input with a measurement_error "
                f"(the spec's: {', '.join(measured) or 'none'})\n"
            )
            return 2
    from crs_model import __version__
    from crs_model.verify.encoding import Undecided
    from crs_model.verify.robustness import robustness, to_json, to_sarif, to_text

    try:
        result = robustness(spec, cap=args.cap, rlimit=args.rlimit, inputs=args.input)
    except Undecided as exc:
        err.write(f"crs-model: error: robustness: a solver query was undecided ({exc.args[0]}): raise --rlimit\n")
        return 1
    if args.format in ("json", "sarif"):
        doc = to_json(result) if args.format == "json" else to_sarif(result, tool_version=__version__)
        json.dump(doc, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        out.write(to_text(result))
    return 0 if not result.regions and result.confirmed else 1
