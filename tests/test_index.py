"""The spec index equals what every consumer computes for itself today, and cannot be changed.

Each equality test calls the existing ad-hoc function (or repeats the few lines a
consumer computes inline) and compares it with the index's field, on the shipped
spec, the mini spec and every planted-fault spec: wiring a consumer to the index is
then behaviour-preserving by construction. Where a consumer keeps a policy (the
neighbours of a threshold it tries), the test applies that policy, unchanged, to the
index's inputs and compares the results.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import hashlib
import itertools
import os
import subprocess
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

import crs_model
from crs_model import expr
from crs_model.expr import Arith, Compare, Name, Num
from crs_model.graph import build_graph
from crs_model.index import MAX_PATHS, SiteKind, SpecIndex, build_index, constant_value
from crs_model.model import Definition, Formula, Spec
from crs_model.testing import _boundaries
from crs_model.testing._invalid import _names as invalid_names
from crs_model.testing._steer import InputModel
from crs_model.types import BOOL, REAL
from crs_model.verify.simulation import boundary_points as _boundary_points
from tests import index_reference as ref
from tests.conftest import modules_loaded

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATHS = [
    ROOT / "specs" / "cytosorb_crs.yaml",
    ROOT / "specs" / "examples" / "mini_crs.yaml",
    *sorted((ROOT / "specs" / "examples" / "faulty").glob("*.yaml")),
]
IDS = [p.stem for p in SPEC_PATHS]

_specs: dict[Path, tuple[Spec, SpecIndex]] = {}


def loaded(path: Path) -> tuple[Spec, SpecIndex]:
    if path not in _specs:
        spec = crs_model.load_spec(path)
        _specs[path] = (spec, build_index(spec))
    return _specs[path]


each_spec = pytest.mark.parametrize("path", SPEC_PATHS, ids=IDS)


# ---------------------------------------------------------------- formulas
@each_spec
def test_sites_cover_every_formula_in_spec_order(path: Path) -> None:
    spec, idx = loaded(path)
    # the harvest's own list of formulas is the index's threshold sources, in the same order
    harvested = list(ref.spec_formulas(spec))
    sources = [s.ast for s in idx.sites if s.kind not in (SiteKind.OUTPUT, SiteKind.RELATION)]
    assert len(sources) == len(harvested)
    assert all(a is b for a, b in zip(sources, harvested, strict=True))
    assert len(idx.of_kind(SiteKind.RELATION)) >= len(spec.metamorphic_relations)
    assert {s.element.removeprefix("definition:") for s in idx.of_kind(SiteKind.DEFINITION)} == set(spec.definitions)
    for name, site in idx.definitions.items():
        assert site.formula is spec.definitions[name].formula
        assert site.loc == spec.definitions[name].formula.loc
    position = {id(s): i for i, s in enumerate(idx.sites)}
    grouped = [s for group in idx.by_element.values() for s in group]
    assert sorted(position[id(s)] for s in grouped) == list(range(len(idx.sites)))
    for element, group in idx.by_element.items():
        assert all(s.element == element for s in group)
        assert [position[id(s)] for s in group] == sorted(position[id(s)] for s in group)
    for node in spec.nodes.values():
        for e in node.edges:
            [guard] = idx.by_element[f"edge:{e.id}"]
            assert guard.formula is e.guard
    for o in spec.outcomes.values():
        for fl in o.flags:
            if fl.when is not None:
                assert any(s.formula is fl.when for s in idx.by_element[f"flag:{fl.id}"])


@each_spec
def test_missing_data_formula_list_is_the_index_guard_output_and_flag_sites(path: Path) -> None:
    spec, idx = loaded(path)
    # verify/checks.py check_missing_data builds this list inline
    formulas: list[tuple[str, Formula, Any]] = []
    for node in spec.nodes.values():
        formulas += [(f"edge:{e.id}", e.guard, e.guard.loc) for e in node.edges]
    for o in spec.outcomes.values():
        for name in o.outputs:
            formulas.append((f"outcome:{o.id}", spec.definitions[name].formula, o.loc))
        formulas += [(f"flag:{fl.id}", fl.when, spec.locate(fl.when, 0)) for fl in o.flags if fl.when]
    sites = idx.of_kind(SiteKind.GUARD, SiteKind.OUTPUT, SiteKind.FLAG)
    assert [(s.element, s.loc) for s in sites] == [(el, loc) for el, _, loc in formulas]
    assert all(s.formula is f for s, (_, f, _) in zip(sites, formulas, strict=True))


@each_spec
def test_names_inputs_and_conjuncts_of_every_site(path: Path) -> None:
    spec, idx = loaded(path)
    for site in idx.sites:
        assert set(site.names) == expr.names(site.ast)
        assert len(site.names) == len(set(site.names))
        assert list(site.direct_inputs) == ref.var_names(site.ast, spec.variables)
        assert set(site.inputs) == ref.input_deps(spec, site.ast)
        assert list(site.inputs) == [v for v in spec.variables if v in site.inputs]  # declaration order
        conj = expr.conjuncts(site.ast)
        assert len(site.conjuncts) == len(conj)
        assert all(a is b for a, b in zip(site.conjuncts, conj, strict=True))


@each_spec
def test_constraint_fields_as_the_validator_and_invalid_strategy_read_them(path: Path) -> None:
    spec, idx = loaded(path)
    constraints = idx.of_kind(SiteKind.CONSTRAINT)
    assert len(constraints) == len(spec.constraints)
    for i, (c, site) in enumerate(zip(spec.constraints, constraints, strict=True)):
        assert site.element == f"constraint:{c.id}"
        # patient.py: the fields named in an inconsistent-input message, in source order
        assert list(site.direct_inputs) == [f for f in ref.constraint_fields(c) if f in spec.variables]
        assert set(site.direct_inputs) == set(invalid_names(spec, i))


@each_spec
def test_definition_order_dependents_and_readers(path: Path) -> None:
    spec, idx = loaded(path)
    assert idx.definition_order == tuple(spec.definitions)  # the loader's dependency order
    assert dict(idx.dependents) == ref.dependents(spec)
    for v in spec.variables:
        want = [s for s in idx.sites if v in ref.input_deps(spec, s.ast)]
        assert list(idx.readers[v]) == want
    assert any(idx.dependents.values())  # the comparison above is not between empty maps


# ---------------------------------------------------------------- thresholds
@each_spec
def test_thresholds_equal_the_testing_layers(path: Path) -> None:
    spec, idx = loaded(path)
    assert dict(idx.thresholds) == ref.thresholds(spec) == _boundaries.thresholds(spec)
    assert _boundaries.harvest(spec) == ref.harvest(spec)
    assert _boundaries.harvest(spec, near_only=True) == ref.harvest(spec, near_only=True)
    assert any(idx.thresholds.values())


@each_spec
def test_sampling_points_equal_the_verifiers(path: Path) -> None:
    spec, idx = loaded(path)
    assert _boundary_points(spec) == ref.boundary_points(spec)
    assert idx.sampling_thresholds


@each_spec
def test_raw_comparisons_once_per_formula(path: Path) -> None:
    spec, idx = loaded(path)
    numeric = {n for n, v in spec.variables.items() if v.type.numeric}
    want: list[tuple[str, str, str, float, bool]] = []
    for site in idx.sites:
        if site.kind is SiteKind.OUTPUT:  # the same tree as its definition's site
            continue
        for node in ref.walk(site.ast):
            if not isinstance(node, Compare):
                continue
            for var, other, left in ((node.left, node.right, True), (node.right, node.left, False)):
                c = constant_value(other, spec.symbols)
                if isinstance(var, Name) and var.id in numeric and c is not None:
                    want.append((site.element, var.id, node.op, c, left))
    got = [(c.element, c.input, c.op, c.value, c.input_left) for c in idx.comparisons]
    assert sorted(got) == sorted(want)
    assert want


def test_thresholds_of_the_shipped_spec_by_hand() -> None:
    """A few facts read off specs/cytosorb_crs.yaml, so an index that agreed with a broken
    harvest would still fail here."""
    _, idx = loaded(SPEC_PATHS[0])
    assert 30.0 in idx.thresholds["weight_kg"]  # the 12 vs 8 mg/kg cut-off
    assert idx.cap_crossings["weight_kg"] == (800 / 12, 800 / 8)  # the 800 mg cap
    assert 500.0 in idx.thresholds["il6_pg_ml"]
    assert 38.0 in idx.sampling_thresholds["temperature_c"]
    weight = [c for c in idx.comparisons if c.input == "weight_kg" and c.kind is SiteKind.DEFINITION]
    assert {(c.op, c.value, c.literal, c.input_left) for c in weight} == {("<", 30.0, True, True)}


def test_comparison_records_folded_constants_and_the_side_of_the_input() -> None:
    spec, _ = loaded(SPEC_PATHS[1])
    d = spec.definitions["fever"]

    def with_guard(text_ast: expr.Expr) -> SpecIndex:
        formula = dataclasses.replace(d.formula, ast=text_ast)
        defs = {**spec.definitions, "fever": dataclasses.replace(d, formula=formula)}
        return build_index(dataclasses.replace(spec, definitions=defs))

    # 2 * fever_threshold_c > temperature_c: folded to 2 * 38, the input on the right, not a literal
    folded = Arith("*", Num(2.0, True, 0), Name("fever_threshold_c", 0), 0)
    idx = with_guard(Compare(">", folded, Name("temperature_c", 0), 0))
    [c] = [c for c in idx.comparisons if c.element == "definition:fever"]
    assert (c.input, c.op, c.value, c.literal, c.input_left) == ("temperature_c", ">", 76.0, False, False)
    assert 76.0 in idx.thresholds["temperature_c"]
    assert 76.0 not in idx.sampling_thresholds.get("temperature_c", ())
    # a division by zero is not a constant: nothing is recorded
    idx = with_guard(Compare(">", Name("temperature_c", 0), Arith("/", Num(1.0, True, 0), Num(0.0, True, 0), 0), 0))
    assert not [c for c in idx.comparisons if c.element == "definition:fever"]


# ---------------------------------------------------------------- graph
@each_spec
def test_node_order_rank_and_parents_equal_the_verifiers(path: Path) -> None:
    spec, idx = loaded(path)
    assert idx.node_order == tuple(ref.topo(spec))
    assert dict(idx.rank) == {n: i for i, n in enumerate(ref.topo(spec))}
    assert idx.node_order[0] == spec.entry
    parents = {k: [(e.source, e.index) for e in edges] for k, edges in idx.incoming.items() if edges}
    assert parents == ref.parents(spec)
    assert dict(idx.edges) == {e.id: e for n in spec.nodes.values() for e in n.edges}
    # check_unreachable's edges into each element, in spec order
    into: dict[str, list[Any]] = {}
    for node in spec.nodes.values():
        for e in node.edges:
            into.setdefault(e.target, []).append(e)
    assert {k: list(v) for k, v in idx.incoming.items() if v} == into
    assert set(idx.incoming) == set(spec.nodes) | set(spec.outcomes)


@each_spec
def test_paths_equal_the_steering_models_and_reachability_networkxs(path: Path) -> None:
    spec, idx = loaded(path)
    assert idx.outcome_paths is not None
    model_paths = ref.steering_paths(spec)
    assert {o: list(p) for o, p in idx.outcome_paths.items()} == model_paths
    assert InputModel(spec).paths == model_paths
    assert idx.path_count == sum(len(p) for p in model_paths.values())
    g = build_graph(spec)
    for nid in spec.nodes:
        below = nx.descendants(g, nid)
        assert idx.reachable_outcomes[nid] == tuple(o for o in spec.outcomes if o in below)


def test_steering_beyond_the_path_listing_takes_the_first_path_to_each_outcome() -> None:
    from benchmarks.bench_verify import synthetic_spec

    spec = synthetic_spec(1_000)
    assert spec.index.outcome_paths is None
    paths = InputModel(spec).paths
    assert set(paths) == set(spec.outcomes)
    for o, ps in paths.items():
        assert len(ps) == (1 if o in spec.index.reachable_outcomes[spec.entry] else 0)
        for p in ps:  # a real path from the entry, each edge the first in its node that leads to o
            assert p[0].source == spec.entry
            assert p[-1].target == o
            assert len(p) <= 65
            for a, b in itertools.pairwise(p):
                assert a.target == b.source
            for e in p:
                first = next(
                    x
                    for x in spec.nodes[e.source].edges
                    if x.target == o or o in spec.index.reachable_outcomes.get(x.target, ())
                )
                assert first is e
    assert any(paths.values())


def test_a_synthetic_1000_node_graph_saturates_the_path_count() -> None:
    from benchmarks.bench_verify import synthetic_spec

    spec = synthetic_spec(1_000)
    idx = build_index(spec)
    assert idx.path_count == MAX_PATHS + 1
    assert idx.outcome_paths is None  # exponentially many: not listed
    assert idx.node_order == tuple(ref.topo(spec))
    g = build_graph(spec)
    for nid in list(spec.nodes)[::97]:
        below = nx.descendants(g, nid)
        assert idx.reachable_outcomes[nid] == tuple(o for o in spec.outcomes if o in below)


# ---------------------------------------------------------------- invariant environment
@each_spec
def test_invariant_environment(path: Path) -> None:
    spec, idx = loaded(path)
    assert dict(idx.invariant_symbols) == dict(spec.invariant_symbols)
    assert "recommendation" in idx.invariant_symbols
    # verify/encoding.py invariant_translator's map, and the loader's scope of has_action/has_flag
    actions: dict[str, list[str]] = {}
    for o in spec.outcomes.values():
        for a in o.actions:
            actions.setdefault(a.id, []).append(o.id)
    assert {k: list(v) for k, v in idx.action_outcomes.items()} == actions
    assert set(idx.flag_outcomes) == {f.id for o in spec.outcomes.values() for f in o.flags}
    for fid, outs in idx.flag_outcomes.items():
        assert all(any(f.id == fid for f in spec.outcomes[o].flags) for o in outs)


# ---------------------------------------------------------------- frozen
def _containers(value: Any, seen: set[int]) -> list[Any]:
    """Every container reachable from the index, down to (not into) the spec's own objects."""
    if id(value) in seen or isinstance(value, (str, int, float, bool, type(None), enum.Enum)):
        return []
    seen.add(id(value))
    out = [value]
    if isinstance(value, (tuple, types.MappingProxyType)):
        items = value.items() if isinstance(value, types.MappingProxyType) else value
        for item in items:
            out += _containers(item, seen)
    elif dataclasses.is_dataclass(value) and type(value).__module__ == "crs_model.index":
        for f in dataclasses.fields(value):
            out += _containers(getattr(value, f.name), seen)
    return out


def test_nothing_in_the_index_is_mutable() -> None:
    _, idx = loaded(SPEC_PATHS[0])
    found = _containers(idx, set())
    assert len(found) > 100
    for c in found:
        assert not isinstance(c, (list, dict, set, bytearray)), type(c)
        if dataclasses.is_dataclass(c):
            assert type(c).__dict__["__dataclass_params__"].frozen, type(c)


def test_mutation_attempts_raise() -> None:
    _, idx = loaded(SPEC_PATHS[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        idx.path_count = 0  # type: ignore[misc]
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        idx.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        idx.thresholds["weight_kg"] = ()  # type: ignore[index]
    with pytest.raises(TypeError):
        del idx.rank[idx.node_order[0]]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        idx.dependents.pop("weight_kg")  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        idx.readers.clear()  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        idx.sites[0].inputs = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        idx.sites[0].names[0] = "x"  # type: ignore[index]
    assert idx.outcome_paths is not None
    with pytest.raises(TypeError):
        idx.outcome_paths["x"] = ()  # type: ignore[index]
    with pytest.raises(AttributeError):
        idx.invariant_symbols.update({})  # type: ignore[attr-defined]


def test_the_index_does_not_share_the_specs_mappings() -> None:
    spec, _ = loaded(SPEC_PATHS[1])
    given = dict(spec.invariant_symbols)
    copy = dataclasses.replace(spec, invariant_symbols=given)
    idx = build_index(copy)
    given.pop("recommendation")  # the spec copied the dict it was built from (frozen means frozen)
    assert "recommendation" in copy.invariant_symbols
    assert "recommendation" in idx.invariant_symbols


# ---------------------------------------------------------------- deep specs
def _chain_yaml(n: int) -> str:
    """The mini spec with ``n`` more definitions, each one the previous one plus 1."""
    text = (ROOT / "specs" / "examples" / "mini_crs.yaml").read_text(encoding="utf-8")
    lines = ["definitions:", "  chain_0:", "    expr: weight_kg + 1"]
    for i in range(1, n):
        lines += [f"  chain_{i}:", f"    expr: chain_{i - 1} + 1"]
    assert "\ndefinitions:\n" in text
    return text.replace("\ndefinitions:\n", "\n" + "\n".join(lines) + "\n", 1)


def test_a_loaded_chain_as_long_as_the_loader_allows(tmp_path: Path) -> None:
    from crs_model.loader import MAX_DEFINITION_CHAIN

    n = MAX_DEFINITION_CHAIN
    path = tmp_path / "chain.yaml"
    path.write_text(_chain_yaml(n), encoding="utf-8")
    spec = crs_model.load_spec(path)
    idx = build_index(spec)
    assert idx.definition_order == tuple(spec.definitions)
    order = idx.definition_order
    assert order.index("chain_0") < order.index(f"chain_{n // 2}") < order.index(f"chain_{n - 1}")
    assert idx.definitions[f"chain_{n - 1}"].inputs == ("weight_kg",)
    assert {f"chain_{i}" for i in range(n)} <= set(idx.dependents["weight_kg"])
    assert dict(idx.dependents) == ref.dependents(spec)


def test_far_deeper_than_the_loader_allows_without_recursion() -> None:
    """20,000 chained definitions and a 20,000-deep expression (built directly: the loader
    bounds depth), under a recursion limit a recursive walk would exceed."""
    spec, _ = loaded(SPEC_PATHS[1])
    base = spec.definitions["fever"]
    n = 20_000
    defs: dict[str, Definition] = dict(spec.definitions)
    prev: expr.Expr = Name("weight_kg", 0)
    for i in range(n):
        ast = Arith("+", prev, Num(1.0, True, 0), 0)
        defs[f"chain_{i}"] = dataclasses.replace(base, name=f"chain_{i}", formula=_formula(base.formula, ast, REAL))
        prev = Name(f"chain_{i}", 0)
    deep: expr.Expr = Name("temperature_c", 0)
    for _ in range(n):
        deep = Arith("+", deep, Num(1.0, True, 0), 0)
    guard = Compare(">", deep, Name("fever_threshold_c", 0), 0)
    defs["deep_fever"] = dataclasses.replace(base, name="deep_fever", formula=_formula(base.formula, guard, BOOL))
    big = dataclasses.replace(spec, definitions=defs)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        idx = build_index(big)
    finally:
        sys.setrecursionlimit(limit)
    assert idx.definitions[f"chain_{n - 1}"].inputs == ("weight_kg",)
    assert len(idx.dependents["weight_kg"]) >= n
    assert idx.definition_order.index("chain_0") < idx.definition_order.index(f"chain_{n - 1}")
    assert idx.definitions["deep_fever"].inputs == ("temperature_c",)
    assert idx.thresholds["temperature_c"]  # the comparison at the top is still recorded


def _formula(like: Formula, ast: expr.Expr, ty: Any) -> Formula:
    return dataclasses.replace(like, ast=ast, type=ty)


# ---------------------------------------------------------------- determinism, purity
def test_same_index_twice() -> None:
    spec, idx = loaded(SPEC_PATHS[0])
    assert build_index(spec) == idx
    assert repr(build_index(spec)) == repr(idx)


_DIGEST = """
import hashlib, sys
import crs_model
from crs_model.index import build_index
for p in sys.argv[1:]:
    print(hashlib.sha256(repr(build_index(crs_model.load_spec(p))).encode()).hexdigest())
"""


def test_independent_of_the_hash_seed() -> None:
    paths = [str(p) for p in SPEC_PATHS[:2]]
    digests = []
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        res = subprocess.run(
            [sys.executable, "-c", _DIGEST, *paths], capture_output=True, text=True, check=True, env=env
        )
        digests.append(res.stdout)
    assert digests[0] == digests[1]
    assert len(digests[0].split()) == 2
    assert digests[0].split()[0] == hashlib.sha256(repr(loaded(SPEC_PATHS[0])[1]).encode()).hexdigest()


def test_pure_imports() -> None:
    tree = ast.parse((ROOT / "crs_model" / "index.py").read_text(encoding="utf-8"))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    ours = {m for m in modules if m.startswith("crs_model")}
    # crs_model.model and crs_model.errors for annotations only, under TYPE_CHECKING
    assert ours <= {"crs_model.expr", "crs_model.model", "crs_model.types", "crs_model.errors"}
    assert all(m.split(".")[0] in sys.stdlib_module_names for m in modules - ours - {"__future__"})
    code = "import crs_model, crs_model.index\ncrs_model.index.build_index(crs_model.load_spec())"
    assert modules_loaded(code, ("z3", "hypothesis", "pydot")) == []


def test_mapping_fields_are_read_only_proxies() -> None:
    _, idx = loaded(SPEC_PATHS[0])
    for f in dataclasses.fields(idx):
        value = getattr(idx, f.name)
        if isinstance(value, Mapping):
            assert isinstance(value, types.MappingProxyType), f.name


# ---------------------------------------------------------------- Spec.index: built once per spec
def test_spec_index_is_built_once_and_equals_build_index() -> None:
    spec = crs_model.load_spec(SPEC_PATHS[1])
    assert spec._index is None  # nothing is computed before a consumer asks
    first = spec.index
    assert spec.index is first
    assert first == build_index(spec)
    assert "_index" not in repr(spec)


def test_a_replaced_spec_gets_a_fresh_index() -> None:
    """Mutation testing builds mutants with ``dataclasses.replace``: a mutant must not
    inherit the original's index."""
    spec = crs_model.load_spec(SPEC_PATHS[1])
    original = spec.index
    node = spec.nodes[spec.entry]
    first, *rest = node.edges
    flipped = dataclasses.replace(first, guard=_formula(first.guard, expr.Not(first.guard.ast, 0), BOOL))
    nodes = {**spec.nodes, spec.entry: dataclasses.replace(node, edges=(flipped, *rest))}
    mutant = dataclasses.replace(spec, nodes=nodes)
    assert mutant._index is None
    assert mutant.index is not original
    assert mutant.index == build_index(mutant)
    assert mutant.index.by_element[f"edge:{first.id}"][0].ast is flipped.guard.ast
    assert spec.index is original  # the original keeps its own
    assert mutant == dataclasses.replace(mutant)  # the memo takes no part in equality


def test_two_threads_building_at_once_get_equal_indexes() -> None:
    import threading

    spec = crs_model.load_spec(SPEC_PATHS[0])
    start = threading.Barrier(2)
    got: list[SpecIndex] = []

    def read() -> None:
        start.wait()
        got.append(spec.index)

    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 2
    assert got[0] == got[1] == spec.index == build_index(spec)
