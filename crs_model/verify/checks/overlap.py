"""The overlap check: two guards of a ``unique`` node that hold together for a reachable patient."""

from __future__ import annotations

from typing import TYPE_CHECKING

import z3

from crs_model.model import HitPolicy, Severity
from crs_model.verify.capi import mk_and, raw_and
from crs_model.verify.witness import expect_defect

if TYPE_CHECKING:
    from crs_model.verify.verifier import Verifier


def run(v: Verifier) -> None:
    """Report two guards of a ``unique`` node holding together, with a witness."""
    spec, enc = v.spec, v.enc
    goals: dict[tuple[str, int, int], tuple[str, z3.BoolRef]] = {}
    for node in spec.nodes.values():
        if node.hit_policy is not HitPolicy.UNIQUE or node.id in v.unreachable:
            continue
        ns = enc.nodes[node.id]
        for i, a in enumerate(node.edges):
            for b in node.edges[i + 1 :]:
                goals[(node.id, a.index, b.index)] = (
                    node.id,
                    mk_and(ns.reach, ns.guards[a.index].t, ns.guards[b.index].t),
                )
    local = {k: raw_and(*(enc.nodes[k[0]].guards[i].t for i in k[1:])) for k in goals}
    goals = {k: goals[k] for k in v.search.local_candidates(local)}
    for key in sorted(v.search.cover(goals)):
        nid, ia, ib = key
        node = spec.nodes[nid]
        a, b = node.edges[ia], node.edges[ib]
        m = v.model([goals[key][1]])
        assert m is not None
        w = enc.witness(m)
        env = v.env(w)
        detail = f"; {v.words.explain(a.guard, env)}; {v.words.explain(b.guard, env)}" if env is not None else ""
        v.add(
            "overlap",
            Severity.ERROR,
            b.guard.loc,
            f"at '{node.id}' ({node.question.strip()}) the guards of {a.id} and {b.id} both hold for "
            f"this patient{detail}",
            f"node:{node.id}",
            w,
            expect_defect(node.id, "overlap"),
        )
