"""The gap check: a reachable patient for whom no guard of a node holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crs_model.model import Severity
from crs_model.verify.witness import expect_defect

if TYPE_CHECKING:
    from crs_model.verify.verifier import Verifier


def run(v: Verifier) -> None:
    """Report a reachable patient for whom no guard of a node holds, with a witness."""
    spec, enc = v.spec, v.enc
    local = {nid: enc.nodes[nid].here.gap for nid in spec.nodes if nid not in v.unreachable}
    goals = {nid: (nid, enc.nodes[nid].gap) for nid in v.search.local_candidates(local)}
    found = v.search.cover(goals)
    for node in spec.nodes.values():
        if node.id not in found:
            continue
        m = v.model([enc.nodes[node.id].gap])
        assert m is not None
        w = enc.witness(m)
        env = v.env(w)
        detail = "; ".join(v.words.explain(e.guard, env) for e in node.edges) if env is not None else ""
        v.add(
            "gap",
            Severity.ERROR,
            node.loc,
            f"at '{node.id}' ({node.question.strip()}) no guard holds for this patient: {detail}",
            f"node:{node.id}",
            w,
            expect_defect(node.id, "gap"),
        )
