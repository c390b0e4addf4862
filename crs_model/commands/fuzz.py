"""``crs-model fuzz``: run the property suite on a spec and print a summary."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from crs_model.commands.common import add_spec_argument, load_or_report


def register(sub: Any) -> None:
    """Add the ``fuzz`` subcommand to ``sub``."""
    p = sub.add_parser(
        "fuzz",
        help="property-based fuzzing of the engine against the spec (exit 1 on a failure)",
        description="Run the Hypothesis property suite on a spec: invariants on engine decisions, totality "
        "and determinism, invalid inputs, malformed spec text, the spec's metamorphic relations, the "
        "engine-vs-Z3 differential (when the verifier is installed) and stateful care courses (from the spec's "
        "care section and temporal invariants).",
    )
    add_spec_argument(p, positional=True)
    p.add_argument("--examples", type=int, default=None, metavar="N", help="examples per property (default: profile)")
    p.add_argument("--profile", choices=("dev", "ci", "thorough"), default="ci", help="Hypothesis profile (ci)")
    p.add_argument("--property", action="append", default=None, metavar="NAME", help="run only these properties")
    p.add_argument(
        "--standard-backend",
        action="store_true",
        help="generate on Hypothesis's standard backend instead of the fixed-width one (slower; for comparison)",
    )
    p.set_defaults(handler=cmd_fuzz)


def cmd_fuzz(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``crs-model fuzz``: run the property suite on generated patients."""
    if args.examples is not None and args.examples < 1:
        err.write("crs-model: error: fuzz: --examples must be at least 1\n")
        return 2
    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    from crs_model.testing.runner import (
        BACKEND,
        Context,
        PropertyResult,
        profile,
        run_care_course,
        run_coverage,
        run_property,
        suite,
        with_backend,
    )

    base = profile(args.profile)
    ctx = Context.for_spec(spec)
    props = suite(spec)
    names = [p.name for p in props] + ["coverage", "care_course"]
    wanted = args.property or names
    unknown = [n for n in wanted if n not in names]
    if unknown:
        err.write(f"crs-model: error: fuzz: unknown property {', '.join(unknown)} (known: {', '.join(names)})\n")
        return 2
    md = spec.metadata
    fast = not args.standard_backend
    backend = with_backend(base, fast).backend
    out.write(
        f"fuzzing {spec.path} ({md.id} {md.version}, sha256 {spec.sha256[:12]}), profile {args.profile}, "
        f"backend {backend}{' (fixed-width draws)' if backend == BACKEND else ''}\n"
    )
    results: list[PropertyResult] = []
    for prop in props:
        if prop.name in wanted:
            results.append(run_property(prop, ctx, base, args.examples, fast_backend=fast))
            _line(out, results[-1])
    if "coverage" in wanted:
        results.append(run_coverage(ctx, base, args.examples, fast_backend=fast))
        _line(out, results[-1])
    if "care_course" in wanted:
        results.append(run_care_course(spec, base, args.examples, fast_backend=fast))
        _line(out, results[-1])
    failed = [r for r in results if r.failure]
    total = sum(r.examples for r in results)
    seconds = sum(r.seconds for r in results)
    for r in failed:
        out.write(f"\nFAILED {r.name}: {r.failure}\n")
        if r.example is not None:
            out.write("falsifying input:\n" + json.dumps(r.example, indent=2, sort_keys=True, default=repr) + "\n")
    verdict = f"{len(failed)} of {len(results)} properties failed" if failed else "all properties hold"
    out.write(f"\n{total} examples in {seconds:.1f} s: {verdict}\n")
    return 1 if failed else 0


def _line(out: TextIO, r: Any) -> None:
    status = "SKIP" if r.skipped else "FAIL" if r.failure else "ok"
    rate = f"{r.examples / r.seconds:7.0f}/s" if r.seconds > 0 else " " * 9
    applies = f" ({r.applicable} applicable)" if r.applicable != r.examples else ""
    note = f"  {r.skipped}" if r.skipped else ""
    out.write(f"  {status:4} {r.name:<62} {r.examples:7} ex {r.seconds:6.2f} s {rate}{applies}{note}\n")
