"""The unreachable check: decision nodes, edges and outcomes no valid patient reaches, with the reason."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import z3

from crs_model.model import Edge, HitPolicy, Severity
from crs_model.verify.encoding import Cone, Undecided
from crs_model.verify.wording import parts_text

if TYPE_CHECKING:
    from crs_model.verify.verifier import Verifier

MAX_EXPLAINED = 50  # unreachable elements explained with an unsat core, per spec


def run(v: Verifier) -> None:
    """Report every edge, node and outcome no valid patient reaches (sets ``v.unreachable``)."""
    spec, enc = v.spec, v.enc
    order = [*spec.nodes, *spec.outcomes]
    # one covering pass over the edges: a node is reachable iff some edge into it is taken
    edge_goals = {
        e.id: (node.id, enc.edge_of(e)) for node in spec.nodes.values() for e in node.edges if e.id not in v.dead_edges
    }
    sim_taken, _ = v.search.simulate()
    taken = sim_taken & set(edge_goals)
    local = {
        e.id: (node.id, enc.nodes[node.id].take[e.index])
        for node in spec.nodes.values()
        for e in node.edges
        if e.id in edge_goals and e.id not in taken
    }
    taken |= v.search.settle_locally(local, _takes_edge)

    def then(m: z3.ModelRef, pending: set[str]) -> set[str]:
        run = v.search.run_patient(v.search.filled(enc.witness(m)))
        if run is None:
            return set()
        return v.search.settle_locally({k: g for k, g in local.items() if k in pending}, _takes_edge, along=run[0])

    cone = v.search.cone()
    taken |= v.search.cover_in_cones({k: g for k, g in edge_goals.items() if k not in taken}, then, cone)
    reachable = {spec.entry} | {e.target for n in spec.nodes.values() for e in n.edges if e.id in taken}
    v.unreachable = {k for k in order if k not in reachable}
    budget = [MAX_EXPLAINED]  # unsat-core explanations left
    for node in spec.nodes.values():
        if node.id in v.unreachable:
            continue
        for e in node.edges:
            if e.id not in edge_goals or e.id in taken:
                continue
            v.add(
                "unreachable",
                Severity.ERROR,
                e.guard.loc,
                f"edge {e.id} is never taken: {_edge_reason(v, budget, e, cone)}",
                f"edge:{e.id}",
            )
    into = spec.index.incoming  # edges into each element, in spec order
    for k in order:
        if k not in v.unreachable:
            continue
        el = spec.nodes[k] if k in spec.nodes else spec.outcomes[k]
        kind = "node" if k in spec.nodes else "outcome"
        reasons: list[str] = []
        for e in into.get(k, ()):
            if e.source in v.unreachable:
                reasons.append(f"via {e.id}: '{e.source}' is itself unreachable")
            elif e.id in v.dead_edges:
                reasons.append(f"via {e.id}: its guard can never hold (see the contradiction finding)")
            else:
                reasons.append(f"via {e.id}: {_edge_reason(v, budget, e, cone)}")
        v.add(
            "unreachable",
            Severity.ERROR,
            el.loc,
            f"{kind} '{k}' can never be reached by a valid patient; " + "; ".join(reasons),
            f"{kind}:{k}",
        )


def _edge_reason(v: Verifier, budget: list[int], e: Edge, cone: Cone | None) -> str:
    """Why edge ``e`` is never taken, in words (the short form once ``budget`` is spent)."""
    if budget[0] <= 0:  # each reason costs solver calls; huge graphs get the short form
        return "its guard never holds on any path into this node"
    budget[0] -= 1
    try:
        return _explain_dead_edge(v, e, cone)
    except Undecided as exc:  # the finding is proven (an unsat cover); only its explanation is not
        return f"its guard never holds on any path into this node (the reason is undecided: {exc})"


def _explain_dead_edge(v: Verifier, e: Edge, cone: Cone | None) -> str:
    enc = v.enc
    reach = enc.reach_lit(e.source)
    node = v.spec.nodes[e.source]
    locate = v.words.locate_part(e.guard, f"edge:{e.id}")
    # the cone the unreachable check just searched holds the node's ancestors and what
    # the search learned about them; the whole graph would start cold
    on = cone.solver if cone is not None and v.spec.index.rank[e.source] < cone.size else None
    ok, parts = enc.check_conjuncts(f"edge:{e.id}", e.guard.ast, locate, reach, local=False, on=on)
    if not ok:
        return "its guard never holds when the patient is at this node; conflicting parts: " + parts_text(parts)
    if node.hit_policy is HitPolicy.FIRST:
        ns = enc.nodes[node.id]
        masks = [
            f"'{v.words.render(s.guard.ast)}' (to {s.target})"
            for s in node.edges[: e.index]
            if not v.status(reach, ns.guards[e.index].t, ns.guards[s.index].unknown, on=on)
            and not v.status(reach, ns.guards[e.index].t, ns.guards[s.index].f, on=on)
        ]
        if not masks:
            masks = [f"'{v.words.render(s.guard.ast)}'" for s in node.edges[: e.index]]
        return (
            "masked by earlier edges of this 'first' node: whenever its guard holds, an earlier guard holds "
            "(or is unknown) first: " + ", ".join(masks)
        )
    return "whenever its guard holds another guard of this 'unique' node holds or is unknown (see overlap)"


def _takes_edge(key: str, path: list[str], i: int, env: dict[str, Any]) -> bool:
    """``settle_locally`` hit test: the path takes edge ``key`` at its ``i``-th node."""
    return i + 1 < len(path) and key == f"{path[i]}->{path[i + 1]}"
