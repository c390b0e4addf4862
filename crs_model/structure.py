"""The structural checks run when a spec is loaded: one entry, no dangling edge, no cycle, every
node reachable. Plain depth-first walks over the spec's edges, so loading a spec (and so every
``crs-model`` command and every app that evaluates) does not import networkx (about 150 ms);
:mod:`crs_model.graph` builds the networkx graph the diagrams draw, and the tests check these
walks against networkx's ``find_cycle`` and ``descendants`` on every spec and on random graphs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import pairwise

from crs_model.errors import Problem
from crs_model.model import Edge, Spec
from crs_model.types import suggest


def successors(spec: Spec) -> dict[str, list[str]]:
    """Each decision node's and outcome's distinct targets, in edge order (dangling targets left out)."""
    out: dict[str, list[str]] = {n: [] for n in (*spec.nodes, *spec.outcomes)}
    for node in spec.nodes.values():
        targets = out[node.id]
        for e in node.edges:
            if e.target in out and e.target not in targets:
                targets.append(e.target)
    return out


def first_cycle(succ: Mapping[str, Sequence[str]], starts: Iterable[str]) -> list[tuple[str, str]]:
    """The edges of the first cycle a depth-first walk meets, starting from each of ``starts`` in turn
    and following each node's edges in order, from the node the cycle closes on; [] without a cycle."""
    done: set[str] = set()
    for start in starts:
        if start in done:
            continue
        path = [start]
        on_path = {start}
        pending: list[Iterator[str]] = [iter(succ[start])]
        while pending:
            head = next(pending[-1], None)
            if head is None:  # every edge of the path's last node followed: back up
                pending.pop()
                node = path.pop()
                on_path.discard(node)
                done.add(node)
            elif head in on_path:
                loop = [*path[path.index(head) :], head]
                return list(pairwise(loop))
            elif head not in done:
                path.append(head)
                on_path.add(head)
                pending.append(iter(succ[head]))
    return []


def descendants(succ: Mapping[str, Sequence[str]], source: str) -> set[str]:
    """Every node other than ``source`` reachable from it (as networkx's ``descendants``)."""
    seen: set[str] = set()
    todo = list(succ[source])
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(succ[n])
    seen.discard(source)
    return seen


def structural_problems(spec: Spec) -> list[Problem]:
    """One entry, no dangling edge, acyclic, all reachable, leaves are outcomes."""
    problems: list[Problem] = []
    known = set(spec.nodes) | set(spec.outcomes)
    if spec.entry not in spec.nodes:
        hint = f" (decision nodes: {', '.join(sorted(spec.nodes))})" if spec.nodes else ""
        problems.append(Problem(spec.graph_loc, f"graph.entry '{spec.entry}' is not a decision node{hint}"))
    last: dict[tuple[str, str], Edge] = {}  # the edge a message names for a pair of nodes: the last one
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
            else:
                last[e.source, e.target] = e
    succ = successors(spec)
    entry = (spec.entry,) if spec.entry in succ else ()
    cycle = first_cycle(succ, entry) or first_cycle(succ, succ)  # one the entry reaches first, else any
    if cycle:
        path = " -> ".join([cycle[0][0], *(v for _, v in cycle)])
        problems.append(Problem(last[cycle[0]].loc, f"the graph has a cycle: {path}"))
    if entry:
        reach = descendants(succ, spec.entry) | {spec.entry}
        for nid in sorted(known - reach):
            el = spec.nodes.get(nid) or spec.outcomes[nid]
            problems.append(Problem(el.loc, f"'{nid}' cannot be reached from the entry '{spec.entry}' by any edge"))
    return problems
