"""Seeded random patients through the engine: cheap positive evidence before any solver query.

As random simulation does before SAT in hardware equivalence checking: the edges
random valid patients take, and the guard conjuncts they need, settle most "can
some patient ..." goals for free. Only positive facts come from here; every "no
patient can" answer still comes from the solver.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from crs_model.engine import Engine
from crs_model.errors import PatientError, SpecDefectError
from crs_model.model import Spec, Variable
from crs_model.pyeval import compile_expr
from crs_model.types import Base

SIM_SEED = 0
SIM_MAX = 50_000  # random patients at most
SIM_PATIENCE = 300  # stop sampling after this many patients without a new fact


def boundary_points(spec: Spec) -> dict[str, list[float]]:
    """Per numeric input: the thresholds its guards compare it with, their neighbours and midpoints.

    Uniform sampling rarely lands between two close thresholds; these points do.
    """
    out: dict[str, list[float]] = {}
    for name, pts in spec.index.sampling_thresholds.items():  # sorted; a number or parameter, as written
        v = spec.variables[name]
        step = 1.0 if v.type.base == Base.INT else 0.1
        cand = set(pts) | {c - step for c in pts} | {c + step for c in pts}
        cand |= {(a + b) / 2 for a, b in itertools.pairwise(pts)}
        lo = v.minimum if v.minimum is not None else -math.inf
        hi = v.maximum if v.maximum is not None else math.inf
        keep = [c for c in cand if lo <= c <= hi]
        if v.type.base == Base.INT:
            keep = [float(round(c)) for c in keep]
        out[name] = sorted(set(keep))
    return out


def sample(v: Variable, rng: random.Random, points: list[float] | None = None) -> Any:
    """A random in-domain value for one input (all inputs known), often at a guard threshold."""
    base = v.type.base
    if base == Base.BOOL:
        return rng.random() < 0.5
    if base == Base.ENUM:
        return rng.choice(v.type.values)
    if points and rng.random() < 0.6:
        x = rng.choice(points)
        return int(x) if base == Base.INT else x
    lo = v.minimum if v.minimum is not None else -1000.0
    hi = v.maximum if v.maximum is not None else 1000.0
    if base == Base.INT:
        return rng.randint(math.ceil(lo), math.floor(hi))
    return round(rng.uniform(lo, hi), 1) if rng.random() < 0.8 else float(rng.randint(math.ceil(lo), int(hi)))


def simulate(
    spec: Spec,
    engine: Engine,
    points: dict[str, list[float]],
    record: Callable[[Sequence[str]], None],
) -> tuple[set[str], set[tuple[str, int]]]:
    """Edge ids random valid patients take, and (edge id, conjunct index) pairs they need false.

    ``record(path)`` is told each engine-confirmed path (the search keeps them as
    ways into nodes). Seeded: the same samples on every run.
    """
    rng = random.Random(SIM_SEED)  # noqa: S311 - reproducible sampling, not cryptography
    n_edges = sum(len(n.edges) for n in spec.nodes.values())
    guards = spec.index.by_element
    multi = {
        e.id: [compile_expr(c, spec.symbols) for c in parts]
        for n in spec.nodes.values()
        for e in n.edges
        if len(parts := guards[f"edge:{e.id}"][0].conjuncts) > 1
    }
    guards_at = {n.id: ids for n in spec.nodes.values() if (ids := [e.id for e in n.edges if e.id in multi])}
    variables = [(name, v, points.get(name)) for name, v in spec.variables.items()]
    steps: set[tuple[str, str]] = set()  # (source, target) of every edge taken
    needed: set[tuple[str, int]] = set()
    stale = 0
    for _ in range(min(SIM_MAX, 4 * n_edges)):
        patient = {name: sample(v, rng, pts) for name, v, pts in variables}
        try:
            env = engine.environment(patient)
            d = engine.decide(env)
        except (PatientError, SpecDefectError):
            continue
        before = len(steps) + len(needed)
        path = d.path
        steps.update(itertools.pairwise(path))  # pairs, not edge-id strings: paths are 100 deep
        for nid in path:
            if nid in guards_at:
                for eid in guards_at[nid]:
                    for i, fn in enumerate(multi[eid]):
                        if fn(env) is not True:
                            needed.add((eid, i))
        record(path)
        stale = stale + 1 if len(steps) + len(needed) == before else 0
        if stale >= SIM_PATIENCE:
            break
    return {f"{a}->{b}" for a, b in steps}, needed


__all__ = ["boundary_points", "sample", "simulate"]
