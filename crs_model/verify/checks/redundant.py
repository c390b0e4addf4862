"""The redundant check: a guard conjunct every path to its node already implies."""

from __future__ import annotations

from typing import TYPE_CHECKING

import z3

from crs_model.expr import Expr
from crs_model.model import Edge, Severity
from crs_model.pyeval import compile_expr
from crs_model.verify.capi import mk_and, raw_not
from crs_model.verify.wording import start

if TYPE_CHECKING:
    from crs_model.verify.verifier import Verifier


def run(v: Verifier) -> None:
    """Report guard conjuncts every path to their node implies (info)."""
    spec, enc = v.spec, v.enc
    # its path-local queries are many small satisfiable ones: cheap on a solver that
    # has not internalised the earlier checks' formulas (the answers are the same)
    enc.renew_local()
    goals: dict[tuple[str, int], tuple[str, z3.BoolRef]] = {}
    where: dict[tuple[str, int], tuple[Edge, Expr]] = {}
    for node in spec.nodes.values():
        if node.id in v.unreachable:
            continue
        reach = enc.nodes[node.id].reach
        for e in node.edges:
            parts = spec.index.by_element[f"edge:{e.id}"][0].conjuncts
            if len(parts) < 2 or e.id in v.dead_edges:
                continue
            for i, c in enumerate(parts):
                goals[(e.id, i)] = (node.id, mk_and(reach, raw_not(enc.tr.tri(c).t)))
                where[(e.id, i)] = (e, c)
    _, needed = v.search.simulate()
    needed = needed & set(goals)
    local = {k: (where[k][0].source, raw_not(enc.tr.tri(where[k][1]).t)) for k in goals if k not in needed}
    fns = {k: compile_expr(where[k][1], spec.symbols) for k in local}
    needed |= v.search.settle_locally(local, lambda k, path, i, env: fns[k](env) is not True)
    needed |= v.search.cover_in_cones({k: g for k, g in goals.items() if k not in needed}, cone=v.search.cone())
    for key in goals:
        if key in needed:
            continue
        e, c = where[key]
        v.add(
            "redundant",
            Severity.INFO,
            spec.locate(e.guard, start(c)),
            f"in the guard of {e.id}, '{v.words.render(c)}' always holds when a patient reaches "
            f"'{e.source}'; it can be dropped",
            f"edge:{e.id}",
        )
