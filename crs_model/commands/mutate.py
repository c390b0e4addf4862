"""``crs-model mutate``: mutation score of the validation suite on a spec."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from crs_model.commands.common import add_spec_argument, load_or_report


def register(sub: Any) -> None:
    """Add the ``mutate`` subcommand to ``sub``."""
    p = sub.add_parser(
        "mutate",
        help="plant small faults in a spec and report which the fuzz suite catches",
        description="Generate first-order mutants of a spec (flip a comparison, shift a threshold, drop a "
        "conjunct, swap two outcomes, delete an edge, negate a guard), run the fuzz suite on each and report "
        "killed/survived, and which survivors change an invariant's truth (gaps in the suite). Exit 1 when "
        "fewer than --min-score % of the invariant-violating mutants are killed.",
    )
    add_spec_argument(p, positional=True)
    p.add_argument("--max-mutants", type=int, default=80, metavar="N", help="mutant budget (default 80)")
    p.add_argument("--examples", type=int, default=300, metavar="N", help="examples per property (default 300)")
    p.add_argument("--deep", type=int, default=2000, metavar="N", help="examples per deep-search round (default 2000)")
    p.add_argument("--min-score", type=float, default=95.0, metavar="PCT", help="goal in %% (default 95)")
    p.add_argument("--jobs", type=int, default=2, metavar="N", help="worker processes (default 2)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=cmd_mutate)


def cmd_mutate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``crs-model mutate``: score the verifier and suite on mutants of the spec."""
    if args.max_mutants < 1 or args.examples < 1 or args.deep < 1:
        err.write("crs-model: error: mutate: --max-mutants, --examples and --deep must be at least 1\n")
        return 2
    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    from crs_model.testing.runner import MutantResult, mutants, profile, run_all, select, verifier_for

    base = profile("ci")
    every = mutants(spec)
    chosen = select(every, args.max_mutants)
    verifier = verifier_for(spec)
    text = args.format == "text"
    if text:
        how = "fuzz suite" + (" + Z3 verifier" if verifier else "")
        out.write(f"mutating {spec.path}: {len(chosen)} of {len(every)} mutants, each through the {how}\n")
    results: list[MutantResult] = []
    for r in run_all(chosen, base, args.examples, args.deep, verifier, args.jobs):
        m = r.mutant
        results.append(r)
        if text:
            status = "killed  " if r.killed else "SURVIVED"
            inv = {True: "violates an invariant", False: "no invariant violated", None: "undecided"}[
                r.violates_invariant
            ]
            by = f" by {', '.join(r.killed_by)}" if r.killed else ""
            out.write(f"  {status} {m.id}{by}  [{inv}] {r.seconds:.1f} s\n")
    killed = [r for r in results if r.killed]
    violating = [r for r in results if r.violates_invariant]
    caught = [r for r in violating if r.killed]
    gaps = [r for r in violating if not r.killed]
    score = 100.0 * len(caught) / len(violating) if violating else 100.0
    summary = {
        "spec": spec.path,
        "sha256": spec.sha256,
        "mutants_total": len(every),
        "mutants_run": len(results),
        "killed": len(killed),
        "survived": len(results) - len(killed),
        "invariant_violating": len(violating),
        "invariant_violating_killed": len(caught),
        "score_percent": round(score, 1),
        "survivors": [
            {
                "id": r.mutant.id,
                "description": r.mutant.description,
                "violates_invariant": r.violates_invariant,
                "evidence": r.evidence,
            }
            for r in results
            if not r.killed
        ],
    }
    if text:
        out.write(
            f"\n{len(killed)} of {len(results)} mutants killed ({100.0 * len(killed) / len(results):.1f} %); "
            f"{len(caught)} of {len(violating)} invariant-violating mutants killed: score {score:.1f} % "
            f"(goal {args.min_score:g} %)\n"
        )
        for r in gaps:
            out.write(f"  GAP: {r.mutant.id}: {r.mutant.description} (shown by {r.evidence})\n")
    else:
        out.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return 0 if score >= args.min_score else 1
