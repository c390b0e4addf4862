"""The load-time structural walks (:mod:`crs_model.structure`) against networkx, their reference.

Loading a spec does not import networkx; these tests hold that the plain walks find the cycle
``networkx.find_cycle`` finds (the same edges, from the same node) and the nodes
``networkx.descendants`` reaches, on random graphs and on every spec of the repository.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crs_model import load_spec
from crs_model.errors import SpecError
from crs_model.graph import build_graph
from crs_model.structure import descendants, first_cycle, successors
from tests.conftest import modules_loaded

ROOT = Path(__file__).resolve().parent.parent


def _loadable() -> list[Path]:
    """Every spec of the repository that loads (the refused ones have golden messages elsewhere)."""
    out = []
    for p in sorted([*ROOT.glob("specs/**/*.yaml"), *ROOT.glob("tests/data/**/*.yaml")]):
        if p.name.endswith((".cds.yaml", ".fhir.yaml", ".trace.yaml", ".signoff.yaml")):
            continue
        try:
            load_spec(p)
        except SpecError:
            continue
        out.append(p)
    return out


SPECS = _loadable()


def _nx_cycle(g: nx.DiGraph, source: str | None) -> list[tuple[str, str]]:
    try:
        return [(u, v) for u, v in nx.find_cycle(g, source=source)]
    except nx.NetworkXNoCycle:
        return []


@st.composite
def digraphs(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    n = draw(st.integers(1, 9))
    nodes = [f"n{i}" for i in range(n)]
    pair = st.tuples(st.sampled_from(nodes), st.sampled_from(nodes))
    return nodes, draw(st.lists(pair, max_size=20))


@settings(max_examples=400, deadline=None)
@given(digraphs())
def test_walks_equal_networkx_on_random_graphs(graph: tuple[list[str], list[tuple[str, str]]]) -> None:
    nodes, edges = graph
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    succ = {n: list(g.successors(n)) for n in nodes}  # networkx's order: first insertion of each pair
    assert first_cycle(succ, [nodes[0]]) == _nx_cycle(g, nodes[0])
    assert first_cycle(succ, nodes) == _nx_cycle(g, None)
    for n in nodes:
        assert descendants(succ, n) == nx.descendants(g, n)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_walks_equal_networkx_on_every_spec(path: Path) -> None:
    spec = load_spec(path)
    g = build_graph(spec)
    succ = successors(spec)
    assert succ == {n: list(g.successors(n)) for n in g}
    assert first_cycle(succ, [spec.entry]) == [] == _nx_cycle(g, None)
    assert descendants(succ, spec.entry) == nx.descendants(g, spec.entry)


def test_every_shipped_spec_is_checked() -> None:
    assert len(SPECS) >= 20
    assert ROOT / "specs" / "cytosorb_crs.yaml" in SPECS


def test_the_cycle_message_names_the_cycle_networkx_finds() -> None:
    bad = ROOT / "tests" / "data" / "bad_specs" / "graph_cycle.yaml"
    with pytest.raises(SpecError, match=r"the graph has a cycle: start -> recheck -> start"):
        load_spec(bad)


def test_loading_and_evaluating_import_no_networkx() -> None:
    code = "import crs_model\ncrs_model.evaluate({'temperature_c': 39.0})"
    assert modules_loaded(code, ("networkx", "z3", "hypothesis", "pydot")) == []
