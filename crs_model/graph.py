"""The decision graph as a networkx DiGraph, for the diagrams (and the tests' reference walks).

Never imported when a spec is loaded or evaluated: the load-time structural checks are
:mod:`crs_model.structure`'s plain walks.
"""

from __future__ import annotations

import networkx as nx

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
