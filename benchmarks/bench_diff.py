"""Benchmark of ``crs-model diff`` (run: ``python benchmarks/bench_diff.py``).

* The shipped spec against a one-parameter change (IL-6 500 -> 1000 pg/mL, the test
  fixture ``tests/data/diff/threshold.yaml``), beside ``verify`` of the shipped spec in
  the same process: the ratio diff / verify is the issue's budget (at most 3).
* Synthetic 1,000-node pairs (the layered DAGs of ``bench_verify.py``): the graph against
  itself (the equivalence proof) and against a copy with one threshold moved.

Prints a Markdown table (the one recorded in docs/diff.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_verify import synthetic_spec  # noqa: E402
from crs_model import load_spec  # noqa: E402
from crs_model.diff import diff_specs  # noqa: E402
from crs_model.expr import parse  # noqa: E402
from crs_model.model import DecisionNode, Formula, Spec  # noqa: E402
from crs_model.types import Scope, check  # noqa: E402
from crs_model.verify import verify  # noqa: E402

_NUMBER = re.compile(r"(?<![\w.])(\d+)(?![\w.])")


def moved_threshold(spec: Spec) -> tuple[Spec, str]:
    """``spec`` with the thresholds of its first numeric split (the middle of the graph) raised by 1."""
    ids = list(spec.nodes)
    for nid in ids[len(ids) // 2 :]:
        node = spec.nodes[nid]
        if not any(_NUMBER.search(e.guard.text) for e in node.edges):
            continue
        scope = Scope(spec.symbols)
        edges = []
        for e in node.edges:
            text = _NUMBER.sub(lambda m: str(int(m.group(1)) + 1), e.guard.text)
            ast = parse(text)
            f = Formula(text, ast, check(ast, scope), e.guard.loc, e.guard.scalar)
            edges.append(dataclasses.replace(e, guard=f))
        nodes = dict(spec.nodes)
        nodes[nid] = DecisionNode(nid, node.question, node.hit_policy, tuple(edges), node.cites, node.loc)
        changed = dataclasses.replace(spec, nodes=nodes, path=spec.path.replace(".yaml", "-moved.yaml"))
        return changed, f"{nid}: {node.edges[0].guard.text} -> {edges[0].guard.text}"
    raise ValueError("no numeric split to move")


def timed_diff(old: Spec, new: Spec, max_regions: int) -> tuple[float, int, bool, bool]:
    t0 = time.perf_counter()
    r = diff_specs(old, new, max_regions=max_regions)
    assert not r.errors, r.errors
    return time.perf_counter() - t0, len(r.regions), r.equivalent, r.cap_hit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1_000, help="synthetic graph size (default 1000)")
    ap.add_argument("--max-regions", type=int, default=20, help="the diff's cap per region kind (default 20)")
    args = ap.parse_args()

    shipped = load_spec(ROOT / "specs" / "cytosorb_crs.yaml")
    changed = load_spec(ROOT / "tests" / "data" / "diff" / "threshold.yaml")
    t0 = time.perf_counter()
    verify(shipped)
    t_verify = time.perf_counter() - t0
    t_diff, n, _, hit = timed_diff(shipped, changed, args.max_regions)
    t_same, _, same_eq, _ = timed_diff(shipped, shipped, args.max_regions)
    print("| case | time | regions | ratio to verify |")
    print("|---|---:|---:|---:|")
    print(f"| verify shipped spec | {t_verify:.2f} s | | 1.00 |")
    cap = " (cap)" if hit else ""
    print(f"| diff shipped vs IL-6 500 -> 1000 | {t_diff:.2f} s | {n}{cap} | {t_diff / t_verify:.2f} |")
    print(f"| diff shipped vs itself (equivalent: {same_eq}) | {t_same:.2f} s | 0 | {t_same / t_verify:.2f} |")

    big = synthetic_spec(args.nodes)
    moved, what = moved_threshold(big)
    t0 = time.perf_counter()
    verify(big)
    t_vbig = time.perf_counter() - t0
    t_eq, _, eq, _ = timed_diff(big, big, args.max_regions)
    t_mv, n_mv, _, hit_mv = timed_diff(big, moved, args.max_regions)
    print(f"| verify synthetic {args.nodes}-node graph | {t_vbig:.2f} s | | 1.00 |")
    print(f"| diff {args.nodes}-node graph vs itself (equivalent: {eq}) | {t_eq:.2f} s | 0 | {t_eq / t_vbig:.2f} |")
    print(
        f"| diff {args.nodes}-node graph vs one threshold moved ({what}) | {t_mv:.2f} s | "
        f"{n_mv}{' (cap)' if hit_mv else ''} | {t_mv / t_vbig:.2f} |"
    )
    ratio = t_diff / t_verify
    print(f"\nshipped spec: diff / verify = {ratio:.2f} (budget 3.00): {'ok' if ratio <= 3 else 'OVER BUDGET'}")


if __name__ == "__main__":
    main()
