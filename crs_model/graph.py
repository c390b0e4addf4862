"""The decision graph as a networkx DiGraph, and the structural checks run at load.

Imported only when a spec is loaded, never on the evaluation hot path.
"""

from __future__ import annotations

import networkx as nx

from crs_model.errors import Problem
from crs_model.model import Spec


def build_graph(spec: Spec) -> nx.DiGraph:
    """Nodes carry ``kind`` (decision|outcome); edges carry the :class:`Edge`."""
    g = nx.DiGraph()
    for nid in spec.nodes:
        g.add_node(nid, kind="decision")
    for oid in spec.outcomes:
        g.add_node(oid, kind="outcome")
    for node in spec.nodes.values():
        for e in node.edges:
            if e.target in g:
                g.add_edge(e.source, e.target, edge=e)
    return g


def structural_problems(spec: Spec) -> list[Problem]:
    """One entry, no dangling edge, acyclic, all reachable, leaves are outcomes."""
    problems: list[Problem] = []
    known = set(spec.nodes) | set(spec.outcomes)
    if spec.entry not in spec.nodes:
        hint = f" (decision nodes: {', '.join(sorted(spec.nodes))})" if spec.nodes else ""
        problems.append(Problem(spec.graph_loc, f"graph.entry '{spec.entry}' is not a decision node{hint}"))
    for node in spec.nodes.values():
        for e in node.edges:
            if e.target not in known:
                from crs_model.types import suggest

                problems.append(
                    Problem(
                        e.loc,
                        f"edge {e.id} points to '{e.target}', which is neither a node nor an outcome"
                        f"{suggest(e.target, sorted(known))}",
                    )
                )
    g = build_graph(spec)
    try:
        cycle = nx.find_cycle(g, source=spec.entry if spec.entry in g else None)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle is None and not nx.is_directed_acyclic_graph(g):
        cycle = nx.find_cycle(g)
    if cycle:
        first = g.edges[cycle[0][0], cycle[0][1]]["edge"]
        path = " -> ".join([cycle[0][0], *(v for _, v in cycle)])
        problems.append(Problem(first.loc, f"the graph has a cycle: {path}"))
    if spec.entry in g:
        reach = nx.descendants(g, spec.entry) | {spec.entry}
        for nid in sorted(known - reach):
            el = spec.nodes.get(nid) or spec.outcomes[nid]
            problems.append(Problem(el.loc, f"'{nid}' cannot be reached from the entry '{spec.entry}' by any edge"))
    return problems
