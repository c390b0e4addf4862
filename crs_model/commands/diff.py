"""``crs-model diff OLD NEW``: semantic diff of two spec versions (exit 0 equivalent, 1 differs, 2 error)."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from crs_model.commands.verify import _rlimit
from crs_model.verify import DEFAULT_RLIMIT, MAX_RLIMIT  # z3-free

FORMATS = ("text", "json", "markdown", "sarif")
MAX_REGIONS = 1000


def register(sub: Any) -> None:
    """Add the ``diff`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "diff",
        help="prove two spec versions decision-equivalent, or list the regions of patients they decide differently",
        description="Semantic diff of two spec versions with Z3: for every valid patient, including every pattern "
        "of absent inputs, the same recommendation, outcome, reported outputs, actions and flags? Each region that "
        "differs comes as input conditions in clinical words with a witness patient re-run through both engines; "
        "the element-level changes (parameters, edges, outcomes, texts, invariants, governance questions) follow. "
        "OLD and NEW are spec files or REV:path (read with git show). Exit 0 decision-equivalent, 1 behaviour "
        "differs, 2 an error (a spec that does not load, a bad revision, an undecided query, a witness that does "
        "not reproduce).",
    )
    p.add_argument("old", metavar="OLD", help="the old version: a spec file or REV:path")
    p.add_argument("new", metavar="NEW", help="the new version: a spec file or REV:path")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument(
        "--max-regions",
        type=int,
        default=20,
        metavar="N",
        help=f"regions reported per kind before the search stops and says so (1..{MAX_REGIONS}, default: 20)",
    )
    p.add_argument(
        "--given",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="compare only patients with this input value (repeatable; VALUE 'unknown' for absent), e.g. an "
        "input the old version lacks, at the value the patients it was written for had",
    )
    p.add_argument(
        "--rlimit",
        default=str(DEFAULT_RLIMIT),
        metavar="N",
        help=f"solver resource limit per query (default: {DEFAULT_RLIMIT:_})",
    )
    p.set_defaults(handler=cmd_diff)


def cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Diff ``args.old`` and ``args.new``; print the result in ``args.format``; return the exit code."""
    from crs_model import __version__
    from crs_model.diff import RevisionError, diff_specs, load_side
    from crs_model.diff.atoms import GivenError
    from crs_model.diff.formats import to_markdown, to_sarif, to_text
    from crs_model.diff.pair import VocabularyError
    from crs_model.errors import SpecError

    rlimit = _rlimit(args.rlimit)
    if rlimit is None:
        err.write(f"crs-model: error: --rlimit={args.rlimit!r} is not a whole number in 1..{MAX_RLIMIT}\n")
        return 2
    if not 1 <= args.max_regions <= MAX_REGIONS:
        err.write(f"crs-model: error: --max-regions={args.max_regions} is outside 1..{MAX_REGIONS}\n")
        return 2
    specs = []
    for which, arg in (("OLD", args.old), ("NEW", args.new)):
        try:
            specs.append(load_side(arg))
        except SpecError as exc:
            for problem in exc.problems:
                err.write(f"{problem}\n")
            err.write(f"crs-model: error: {which} spec '{arg}' not loaded\n")
            return 2
        except RevisionError as exc:
            err.write(f"crs-model: error: {which}: {exc}\n")
            return 2
    try:
        result = diff_specs(specs[0], specs[1], max_regions=args.max_regions, rlimit=rlimit, given=args.given)
    except (VocabularyError, GivenError) as exc:
        err.write(f"crs-model: error: {exc}\n")
        return 2
    if args.format == "json":
        out.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    elif args.format == "sarif":
        out.write(json.dumps(to_sarif(result, tool_version=__version__), indent=2, ensure_ascii=False) + "\n")
    elif args.format == "markdown":
        out.write(to_markdown(result))
    else:
        out.write(to_text(result))
    for e in result.errors:
        err.write(f"crs-model: error: {e}\n")
    return result.exit_code
