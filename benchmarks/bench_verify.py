"""Scaling benchmark for ``crs-model verify`` (run: ``python benchmarks/bench_verify.py``).

* Synthetic layered decision DAGs with 100 / 1,000 / 10,000 decision nodes: random
  typed guards over 30 inputs (bool, int, real, enum), every node sending 2-3 edges
  to nodes one to three layers down (so sub-paths are shared), a few outcomes at
  the bottom. Each size runs in a fresh process: time and peak RSS (memory of the
  whole process, Z3's native heap included).
* A naive baseline on the same graphs: enumerate entry-to-outcome paths depth-first
  and check each path condition with a fresh solver, capped in time.
* On the shipped spec: the same queries answered with assumption literals on one
  solver vs push/pop scopes.

Prints a Markdown table (the one recorded in docs/verify.md).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crs_model.errors import Location  # noqa: E402
from crs_model.expr import parse  # noqa: E402
from crs_model.model import (  # noqa: E402
    INSUFFICIENT_DATA,
    DecisionNode,
    Edge,
    Formula,
    HitPolicy,
    Metadata,
    Outcome,
    OutcomeClass,
    RecommendationCode,
    Spec,
    Status,
    Variable,
)
from crs_model.source import Source, YMap, YScalar  # noqa: E402
from crs_model.types import BOOL, INT, REAL, Base, Symbol, SymbolKind, Type, check  # noqa: E402
from crs_model.types import Scope as TypeScope  # noqa: E402

SIZES = (100, 1_000, 10_000)
NAIVE_CAP_S = 20.0
N_VARS = 30
OUTCOMES = ("no_crs", "supportive_care", "give_tocilizumab", "consider_cytosorb")


def _vars(rng: random.Random) -> dict[str, Variable]:
    out: dict[str, Variable] = {}
    loc = Location("synthetic.yaml", 1, 1)
    for i in range(N_VARS):
        kind = ("bool", "int", "real", "enum")[i % 4]
        name = f"{kind}_{i}"
        if kind == "bool":
            out[name] = Variable(name, BOOL, "", None, None, name, "", loc)
        elif kind == "int":
            out[name] = Variable(name, INT, "", 0, 100, name, "", loc)
        elif kind == "real":
            out[name] = Variable(name, REAL, "mg/L", 0, 1000, name, "", loc)
        else:
            out[name] = Variable(name, Type(Base.ENUM, ("a", "b", "c", "d")), "", None, None, name, "", loc)
    return out


def _split(var: Variable, rng: random.Random) -> list[str]:
    """2-3 mutually exclusive, jointly exhaustive guards on one input."""
    n = var.name
    base = var.type.base
    if base == "bool":
        return [n, f"not {n}"]
    if base == "enum":
        vals = list(var.type.values)
        rng.shuffle(vals)
        k = rng.randint(1, 3)
        inside = ", ".join(f"'{v}'" for v in vals[:k])
        return [f"{n} in {{{inside}}}", f"{n} not in {{{inside}}}"]
    lo, hi = (10, 90) if base == "int" else (50, 950)
    a = rng.randint(lo, hi)
    if rng.random() < 0.5:
        return [f"{n} < {a}", f"{n} >= {a}"]
    b = rng.randint(a, hi + 5)
    return [f"{n} < {a}", f"{n} >= {a} and {n} < {b}", f"{n} >= {b}"]


def synthetic_spec(n_nodes: int, seed: int = 1) -> Spec:
    """A layered DAG of ``n_nodes`` unique-policy decision nodes (guards partition one input each)."""
    rng = random.Random(seed)
    variables = _vars(rng)
    symbols = {n: Symbol(n, SymbolKind.VARIABLE, v.type, v.unit, v.label) for n, v in variables.items()}
    width = max(4, int(n_nodes**0.5))
    ids = [f"n{i}" for i in range(n_nodes)]
    layer_of = {nid: i // width for i, nid in enumerate(ids)}
    layers: dict[int, list[str]] = {}
    for nid in ids:
        layers.setdefault(layer_of[nid], []).append(nid)
    last = max(layers)
    loc = Location("synthetic.yaml", 1, 1)
    text = ""
    scalar = YScalar("", loc, None, 0, 0)
    nodes: dict[str, DecisionNode] = {}
    has_parent: set[str] = set()
    scope = TypeScope(symbols)
    for nid in ids:
        layer = layer_of[nid]
        var = variables[rng.choice(list(variables))]
        guards = _split(var, rng)
        edges = []
        used: set[str] = set()
        for idx, g in enumerate(guards):
            below = [m for d in (1, 2, 3) for m in layers.get(layer + d, [])]
            choices = [m for m in below if m not in used] if layer < last else []
            target = rng.choice(choices) if choices else OUTCOMES[(idx + len(used)) % len(OUTCOMES)]
            while target in used:
                target = OUTCOMES[rng.randrange(len(OUTCOMES))] if target in OUTCOMES else rng.choice(choices)
            used.add(target)
            has_parent.add(target)
            ast = parse(g)
            f = Formula(g, ast, check(ast, scope), loc, scalar)
            edges.append(Edge(nid, target, idx, f, "", ("synthetic",), loc))
        nodes[nid] = DecisionNode(nid, f"split on {var.name}", HitPolicy.UNIQUE, tuple(edges), ("synthetic",), loc)
    # every node except the entry gets a parent: orphans hang off a random node one layer up
    for nid in ids[1:]:
        if nid in has_parent:
            continue
        up = layers[max(0, layer_of[nid] - 1)]
        parent = nodes[rng.choice(up)] if layer_of[nid] > 0 else nodes[ids[0]]
        e = parent.edges[-1]
        new = Edge(parent.id, nid, e.index, e.guard, "", e.cites, loc)
        nodes[parent.id] = DecisionNode(
            parent.id, parent.question, parent.hit_policy, (*parent.edges[:-1], new), parent.cites, loc
        )
        has_parent.add(nid)
    outcomes = {o: Outcome(o, o, o, (), (), (), ("s",), loc) for o in OUTCOMES}
    codes = {o: RecommendationCode(o, OutcomeClass.STANDARD_THERAPY, o, "", loc) for o in OUTCOMES}
    inv_symbols = dict(symbols)
    inv_symbols["recommendation"] = Symbol(
        "recommendation", SymbolKind.OUTCOME, Type(Base.ENUM, (*OUTCOMES, INSUFFICIENT_DATA))
    )
    md = Metadata(f"synthetic-{n_nodes}", "synthetic", "0", Status.DRAFT, "", (), (), "", "")
    raw = f"synthetic {n_nodes} {seed}".encode()
    return Spec(
        path=f"synthetic-{n_nodes}.yaml",
        sha256=hashlib.sha256(raw).hexdigest(),
        source=Source("synthetic.yaml", text, raw, YMap(loc)),
        metadata=md,
        evidence={},
        variables=variables,
        constraints=(),
        parameters={},
        definitions={},
        entry=ids[0],
        nodes=nodes,
        outcomes=outcomes,
        invariants=(),
        governance=(),
        symbols=symbols,
        invariant_symbols=inv_symbols,
        graph_loc=loc,
        recommendations=codes,
        outputs={},
        class_labels={},
    )


def naive_paths(spec: Spec, cap_s: float) -> dict[str, Any]:
    """Enumerate entry-to-outcome paths; check each path condition with a fresh solver."""
    import z3

    from crs_model.verify.encoding import Inputs
    from crs_model.verify.solver import make_solver
    from crs_model.verify.z3expr import Translator

    t0 = time.perf_counter()
    checked = feasible = 0
    finished = True
    stack: list[tuple[str, tuple[Any, ...]]] = [(spec.entry, ())]
    while stack:
        if time.perf_counter() - t0 > cap_s:
            finished = False
            break
        nid, guards = stack.pop()
        if nid in spec.outcomes:
            ctx = z3.Context()
            inputs = Inputs(spec, ctx)
            tr = Translator(spec.symbols, inputs.pairs(), {}, ctx=ctx)
            s = make_solver(ctx)
            s.add(*(tr.tri(g).t for g in guards))
            checked += 1
            feasible += s.check() == z3.sat
            continue
        for e in spec.nodes[nid].edges:
            stack.append((e.target, (*guards, e.guard.ast)))
    return {"paths_checked": checked, "feasible": feasible, "seconds": time.perf_counter() - t0, "finished": finished}


def one_size(n: int, naive: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    spec = synthetic_spec(n)
    build = time.perf_counter() - t0
    from crs_model.verify import verify

    t1 = time.perf_counter()
    rep = verify(spec)
    dt = time.perf_counter() - t1
    out: dict[str, Any] = {
        "nodes": n,
        "edges": sum(len(x.edges) for x in spec.nodes.values()),
        "build_s": build,
        "verify_s": dt,
        "checks": {c.name: round(c.duration_s, 3) for c in rep.checks},
        "findings": rep.counts(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if naive:
        out["naive"] = naive_paths(spec, NAIVE_CAP_S)
    return out


def assumptions_vs_pushpop() -> dict[str, float]:
    """The reachability and gap queries of the shipped spec, answered both ways (x20)."""
    import z3

    import crs_model
    from crs_model.verify.encoding import Encoding

    spec = crs_model.load_spec(ROOT / "specs" / "cytosorb_crs.yaml")
    enc = Encoding(spec)
    goals = [n.reach for n in enc.nodes.values()] + [n.gap for n in enc.nodes.values()]
    goals += [o.reach for o in enc.outcomes.values()]
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        for g in goals:
            enc.check(g)
    t_assume = time.perf_counter() - t0
    s = enc.solver
    t0 = time.perf_counter()
    for _ in range(reps):
        for g in goals:
            s.push()
            s.add(*enc.background, g)
            s.check()
            s.pop()
    t_push = time.perf_counter() - t0
    n = reps * len(goals)
    _ = z3
    return {"queries": n, "assumptions_ms": 1000 * t_assume / n, "pushpop_ms": 1000 * t_push / n}


def oracle_throughput(n: int = 2000) -> dict[str, float]:
    """Z3Oracle vs Engine on the same random patients of the shipped spec (same run)."""
    import crs_model
    from crs_model.errors import PatientError, SpecDefectError
    from crs_model.verify.oracle import Z3Oracle

    spec = crs_model.load_spec(ROOT / "specs" / "cytosorb_crs.yaml")
    engine = crs_model.Engine(spec)
    oracle = Z3Oracle(spec)
    rng = random.Random(5)
    patients = []
    for _ in range(n):
        p: dict[str, Any] = {}
        for name, v in spec.variables.items():
            if rng.random() < 0.2:
                continue
            base = v.type.base
            if base == "bool":
                p[name] = rng.random() < 0.5
            elif base == "enum":
                p[name] = rng.choice(v.type.values)
            else:
                lo, hi = v.minimum or 0, min(v.maximum or 1000, 1000)
                p[name] = rng.randint(int(lo), int(lo) + 8) if base == "int" else round(rng.uniform(lo, hi), 1)
        patients.append(p)

    def timed(f: Any) -> float:
        t0 = time.perf_counter()
        for p in patients:
            with contextlib.suppress(PatientError, SpecDefectError):
                f(p)
        return n / (time.perf_counter() - t0)

    return {"patients": n, "oracle_per_s": timed(oracle.decide), "engine_per_s": timed(engine.evaluate)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--naive", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    ap.add_argument("--oracle", action="store_true", help="only measure Z3Oracle throughput")
    args = ap.parse_args()
    if args.oracle:
        o = oracle_throughput()
        print(
            f"Z3Oracle: {o['oracle_per_s']:.0f} patients/s; engine: {o['engine_per_s']:.0f} patients/s "
            f"({o['engine_per_s'] / o['oracle_per_s']:.0f}x) on {o['patients']} random patients of the shipped spec."
        )
        return
    if args.one:
        print(json.dumps(one_size(args.one, args.naive)))
        return
    rows = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(n), "--naive"]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(res.stdout))
        r = rows[-1]
        print(f"  {n} nodes: verify {r['verify_s']:.2f} s, {r['peak_rss_mb']:.0f} MB", file=sys.stderr)
    print("| decision nodes | edges | verify (s) | s per 1k nodes | peak RSS (MB) | naive paths checked | naive (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        nv = r["naive"]
        done = "" if nv["finished"] else " (cap hit, unfinished)"
        print(
            f"| {r['nodes']:,} | {r['edges']:,} | {r['verify_s']:.2f} | {1000 * r['verify_s'] / r['nodes']:.2f} "
            f"| {r['peak_rss_mb']:.0f} | {nv['paths_checked']:,}{done} | {nv['seconds']:.1f} |"
        )
    base = rows[0]
    print()
    for r in rows[1:]:
        growth = r["verify_s"] / base["verify_s"]
        print(
            f"- {r['nodes']:,} vs {base['nodes']:,} nodes: {r['nodes'] / base['nodes']:.0f}x nodes, {growth:.1f}x time"
        )
    print()
    print("Per-check seconds:")
    for r in rows:
        print(f"- {r['nodes']:,}: " + ", ".join(f"{k} {v}" for k, v in r["checks"].items()))
    ab = assumptions_vs_pushpop()
    print()
    print(
        f"Incremental queries on the shipped spec ({ab['queries']} queries): assumption literals "
        f"{ab['assumptions_ms']:.3f} ms/query, push/pop {ab['pushpop_ms']:.3f} ms/query "
        f"({ab['pushpop_ms'] / ab['assumptions_ms']:.1f}x)."
    )


if __name__ == "__main__":
    main()
