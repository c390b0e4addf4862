"""The computations the spec index replaced, kept as the oracle of ``test_index``.

Each function is the consumer's own code as it was before it read ``spec.index``
(only renamed), so the equality tests still compare the index with an independent
computation rather than with itself.
"""

from __future__ import annotations

import collections
import itertools
import math
from collections.abc import Iterator, Mapping
from typing import Any

from crs_model.expr import Arith, Call, Compare, Expr, Member, Name, Num, children, names
from crs_model.index import constant_value
from crs_model.model import Constraint, Edge, Spec
from crs_model.testing._boundaries import _near


def spec_formulas(spec: Spec) -> Iterator[Expr]:
    """testing/_boundaries: every expression of the spec the threshold harvest reads."""
    for c in spec.constraints:
        yield c.formula.ast
    for d in spec.definitions.values():
        yield d.formula.ast
    for n in spec.nodes.values():
        for e in n.edges:
            yield e.guard.ast
    for o in spec.outcomes.values():
        for f in o.flags:
            if f.when is not None:
                yield f.when.ast
    for i in spec.invariants:
        yield i.formula.ast


def walk(node: Expr) -> Iterator[Expr]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(children(n))


def harvest(spec: Spec, *, near_only: bool = False) -> dict[str, tuple[float, ...]]:
    """testing/_boundaries.harvest before the index."""
    sym = spec.symbols
    direct: dict[str, set[float]] = {n: set() for n, v in spec.variables.items() if v.type.numeric}
    constants: set[float] = {float(p.value) for p in spec.parameters.values() if not isinstance(p.value, bool)}
    scaled: dict[str, set[float]] = {n: set() for n in direct}
    for formula in spec_formulas(spec):
        multipliers: list[tuple[str, float]] = []
        for n in walk(formula):
            if isinstance(n, Num):
                constants.add(n.value)
            elif isinstance(n, Compare):
                for var_side, const_side in ((n.left, n.right), (n.right, n.left)):
                    c = constant_value(const_side, sym)
                    if isinstance(var_side, Name) and var_side.id in direct and c is not None:
                        direct[var_side.id].add(c)
            elif isinstance(n, Member) and isinstance(n.operand, Name) and n.operand.id in direct:
                direct[n.operand.id].update(x.value for x in n.values if isinstance(x, Num))
            elif isinstance(n, Arith) and n.op == "*":
                for var_side, const_side in ((n.left, n.right), (n.right, n.left)):
                    c = constant_value(const_side, sym)
                    if isinstance(var_side, Name) and var_side.id in direct and c:
                        multipliers.append((var_side.id, c))
        caps = [
            c
            for n in walk(formula)
            if isinstance(n, Call)
            for a in children(n)
            if (c := constant_value(a, sym)) is not None
        ]
        for var, m in multipliers:
            scaled[var].update(k / m for k in caps)
    out: dict[str, tuple[float, ...]] = {}
    for name, found in direct.items():
        v = spec.variables[name]
        lo = v.minimum if v.minimum is not None else -math.inf
        hi = v.maximum if v.maximum is not None else math.inf
        vals: set[float] = set()
        for c in found | scaled[name]:
            vals.update(_near(v, c))
        if not near_only:
            vals.update(c for c in constants if v.type.base != "int" or float(c).is_integer())
            if math.isfinite(lo):
                vals.add(lo)
            if math.isfinite(hi):
                vals.add(hi)
        keep = sorted(round(x, 6) for x in vals if lo <= x <= hi and (v.type.base != "int" or float(x).is_integer()))
        out[name] = tuple(int(x) for x in keep) if v.type.base == "int" else tuple(keep)
    return out


def thresholds(spec: Spec) -> dict[str, tuple[float, ...]]:
    """testing/_boundaries.thresholds before the index."""
    sym = spec.symbols
    found: dict[str, set[float]] = {n: set() for n, v in spec.variables.items() if v.type.numeric}
    for formula in spec_formulas(spec):
        for n in walk(formula):
            if isinstance(n, Compare):
                for var_side, const_side in ((n.left, n.right), (n.right, n.left)):
                    c = constant_value(const_side, sym)
                    if isinstance(var_side, Name) and var_side.id in found and c is not None:
                        found[var_side.id].add(c)
    return {k: tuple(sorted(v)) for k, v in found.items()}


def var_names(node: Expr, variables: Mapping[str, Any]) -> list[str]:
    """testing/_steer: the names of ``variables`` that ``node`` reads, in source order."""
    out: list[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Name) and n.id in variables and n.id not in out:
            out.append(n.id)
        stack.extend(reversed(children(n)))
    return out


def dependents(spec: Spec) -> dict[str, tuple[str, ...]]:
    """testing/_steer: per input, the definitions whose value can change with it."""
    definitions = {n: d.formula.ast for n, d in spec.definitions.items()}
    uses = {n: set(var_names(ast, {**spec.variables, **definitions})) for n, ast in definitions.items()}
    out: dict[str, tuple[str, ...]] = {}
    for name in spec.variables:
        hit: set[str] = set()
        frontier = {name}
        while frontier:
            new = {d for d, deps in uses.items() if deps & frontier} - hit
            hit |= new
            frontier = new
        out[name] = tuple(sorted(hit))
    return out


def steering_paths(spec: Spec) -> dict[str, list[tuple[Edge, ...]]]:
    """testing/_steer.InputModel.paths: every entry-to-outcome path, depth capped at 64 edges."""
    paths: dict[str, list[tuple[Edge, ...]]] = {o: [] for o in spec.outcomes}

    def collect(node: str, prefix: tuple[Edge, ...]) -> None:
        if node in spec.outcomes:
            paths[node].append(prefix)
            return
        dn = spec.nodes.get(node)
        if dn is None or len(prefix) > 64:
            return
        for e in dn.edges:
            collect(e.target, (*prefix, e))

    collect(spec.entry, ())
    return paths


def constraint_fields(c: Constraint) -> list[str]:
    """patient.py: the names a constraint reads, ordered by their position in the source."""
    out: list[str] = []
    stack = [c.formula.ast]
    found: list[tuple[int, str]] = []
    while stack:
        n = stack.pop()
        if isinstance(n, Name):
            found.append((n.pos, n.id))
        stack.extend(children(n))
    for _, nm in sorted(found):
        if nm not in out:
            out.append(nm)
    return out


def topo(spec: Spec) -> list[str]:
    """verify.search.Search.topo: decision nodes in Kahn's order, ties by declaration."""
    indeg = dict.fromkeys(spec.nodes, 0)
    for node in spec.nodes.values():
        for e in node.edges:
            if e.target in indeg:
                indeg[e.target] += 1
    ready = collections.deque(n for n in spec.nodes if indeg[n] == 0)
    out: list[str] = []
    while ready:
        nid = ready.popleft()
        out.append(nid)
        for e in spec.nodes[nid].edges:
            if e.target in indeg:
                indeg[e.target] -= 1
                if indeg[e.target] == 0:
                    ready.append(e.target)
    return out


def parents(spec: Spec) -> dict[str, list[tuple[str, int]]]:
    """verify.search.Search.parents: per node or outcome, (parent node, edge index) of each edge into it."""
    pm: dict[str, list[tuple[str, int]]] = {}
    for node in spec.nodes.values():
        for e in node.edges:
            pm.setdefault(e.target, []).append((node.id, e.index))
    return pm


def input_deps(spec: Spec, ast: Expr) -> set[str]:
    """verify.checks.missing_data: input variables ``ast`` depends on, through definitions."""
    out: set[str] = set()
    stack = list(names(ast))
    seen: set[str] = set()
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if n in spec.variables:
            out.add(n)
        elif n in spec.definitions:
            stack.extend(names(spec.definitions[n].formula.ast))
    return out


def boundary_points(spec: Spec) -> dict[str, list[float]]:
    """verify.simulation.boundary_points: thresholds of guards and definitions, neighbours, midpoints."""
    consts: dict[str, set[float]] = {}
    forms = [e.guard.ast for n in spec.nodes.values() for e in n.edges]
    forms += [d.formula.ast for d in spec.definitions.values()]
    stack = list(forms)
    while stack:
        node = stack.pop()
        stack.extend(children(node))
        if not isinstance(node, Compare):
            continue
        for var, other in ((node.left, node.right), (node.right, node.left)):
            if not isinstance(var, Name) or var.id not in spec.variables:
                continue
            if isinstance(other, Num):
                consts.setdefault(var.id, set()).add(other.value)
            elif isinstance(other, Name) and other.id in spec.parameters:
                val = spec.parameters[other.id].value
                if not isinstance(val, bool):
                    consts.setdefault(var.id, set()).add(float(val))
    out: dict[str, list[float]] = {}
    for name, cs in consts.items():
        v = spec.variables[name]
        step = 1.0 if v.type.base == "int" else 0.1
        pts = sorted(cs)
        cand = set(pts) | {c - step for c in pts} | {c + step for c in pts}
        cand |= {(a + b) / 2 for a, b in itertools.pairwise(pts)}
        lo = v.minimum if v.minimum is not None else -math.inf
        hi = v.maximum if v.maximum is not None else math.inf
        keep = [c for c in cand if lo <= c <= hi]
        if v.type.base == "int":
            keep = [float(round(c)) for c in keep]
        out[name] = sorted(set(keep))
    return out
