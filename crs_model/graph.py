"""The decision graph as a networkx DiGraph, and the structural checks run at load.

Imported only when a spec is loaded, never on the evaluation hot path.
"""

from __future__ import annotations

import networkx as nx

from crs_model.errors import Problem
from crs_model.model import Spec
from crs_model.types import suggest


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
                problems.append(
                    Problem(
                        e.loc,
                        f"edge {e.id} points to '{e.target}', which is neither a node nor an outcome"
                        f"{suggest(e.target, sorted(known))}",
                    )
                )
    g = build_graph(spec)
    cycle = _first_cycle(g, spec.entry)
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


def _first_cycle(g: nx.DiGraph, entry: str) -> list[tuple[str, str]]:
    """A cycle reachable from the entry if there is one (the one a reader meets first), else any."""
    for source in ((entry,) if entry in g else ()) + (None,):
        try:
            return list(nx.find_cycle(g, source=source))
        except nx.NetworkXNoCycle:
            continue
    return []
