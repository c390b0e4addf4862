"""Cone-local covering (``Search.cover_in_cones``) answers as the whole graph does.

Small random layered specs (loaded from YAML text through the ordinary loader)
are verified with cones of a few nodes, so every graph is searched in many
steps, and compared with a straightforward reference: one whole-graph query
per edge, no simulation, no covering.
"""

from __future__ import annotations

import random

import pytest

from crs_model.loader import load_spec_bytes
from crs_model.model import Spec
from crs_model.verify.report import Finding
from crs_model.verify.verifier import Verifier

SEEDS = range(6)
OUTCOMES = ("no_crs", "supportive_care", "give_tocilizumab", "consider_cytosorb")
VARIABLES = {  # name -> YAML type lines
    "a": "type: int\n    min: 0\n    max: 100",
    "b": "type: int\n    min: 0\n    max: 100",
    "c": "type: real\n    unit: mg/L\n    min: 0\n    max: 100",
    "p": "type: bool",
    "q": "type: bool",
    "e": "type: enum\n    values: [x, y, z]",
}


def _guards(rng: random.Random) -> tuple[str, list[str]]:
    """A hit policy and guards on one input (the same inputs recur, so some paths are infeasible)."""
    var = rng.choice(sorted(VARIABLES))
    if var in ("p", "q"):
        return "unique", [var, f"not {var}"]
    if var == "e":
        inside = ", ".join(f"'{v}'" for v in rng.sample(["x", "y", "z"], rng.randint(1, 2)))
        return "unique", [f"e in {{{inside}}}", f"e not in {{{inside}}}"]
    lo, hi = sorted(rng.sample(range(5, 96), 2))
    if rng.random() < 0.25:  # earlier edges may mask later ones
        return "first", [f"{var} < {hi}", f"{var} < {lo}", f"{var} >= 0"]
    other = rng.choice(["a", "b"])
    mid = f"{var} >= {lo} and {var} < {hi}"
    if rng.random() < 0.3:  # a conjunct the path may already imply
        mid = f"{mid} and {other} <= 100"
    return "unique", [f"{var} < {lo}", mid, f"{var} >= {hi}"]


def random_spec(seed: int, n_nodes: int = 48, width: int = 4) -> Spec:
    """A layered DAG spec: edges go one to three layers down; slots left over go to outcomes."""
    rng = random.Random(seed)  # noqa: S311 - reproducible fixtures, not cryptography
    layer = [0, 1, 1] + [2 + (i - 3) // width for i in range(3, n_nodes)]  # 1, 2, then `width` per layer
    policies, guards = zip(*(_guards(rng) for _ in range(n_nodes)), strict=True)
    targets: list[list[str]] = [[] for _ in range(n_nodes)]
    for i in range(1, n_nodes):  # a parent first, one to three layers up, so every node is in the graph
        up = [j for j in range(i) if 1 <= layer[i] - layer[j] <= 3 and len(targets[j]) < len(guards[j])]
        targets[rng.choice(up)].append(f"n{i}")
    for i in range(n_nodes):
        below = [f"n{j}" for j in range(i + 1, n_nodes) if 1 <= layer[j] - layer[i] <= 3]
        free = [t for t in below if t not in targets[i]]
        targets[i] += rng.sample(free, min(len(guards[i]) - len(targets[i]), len(free)))
        targets[i] += [OUTCOMES[(i + k) % len(OUTCOMES)] for k in range(len(targets[i]), len(guards[i]))]
        rng.shuffle(targets[i])
    nodes = [(policies[i], list(zip(targets[i], guards[i], strict=True))) for i in range(n_nodes)]
    lines = [
        "spec_format: 2",
        "metadata:",
        f"  id: random-{seed}",
        "  title: random layered spec",
        "  version: 0.0.1",
        "  status: draft",
        "  date: 2026-11-23",
        "  authors: [test]",
        "  reviewers: []",
        "  jurisdiction: test fixture",
        "  description: random layered spec",
        "evidence:",
        "  - id: t",
        "    citation: test",
        "    kind: seed_reference",
        "    level: expert_opinion",
        "    confidence: secondary",
        "variables:",
    ]
    for name, body in VARIABLES.items():
        lines += [f"  {name}:", f"    {body}", f"    label: {name}"]
    lines += ["graph:", "  entry: n0", "  nodes:"]
    for i, (policy, edges) in enumerate(nodes):
        lines += [f"    n{i}:", f"      question: node {i}", f"      hit_policy: {policy}", "      edges:"]
        for t, g in edges:
            lines += [f"        - to: {t}", f"          when: {g}", "          cites: [t]"]
    lines += ["  outcomes:"]
    for o in OUTCOMES:
        lines += [f"    {o}:", f"      recommendation: {o}", f"      title: {o}", "      cites: [t]"]
    lines += ["recommendations:", *(f"  {o}: {{class: standard_therapy}}" for o in OUTCOMES)]
    lines += ["invariants: []", ""]
    return load_spec_bytes("\n".join(lines).encode(), f"random-{seed}.yaml")


def _key(f: Finding) -> tuple[str, str, str, int, int, str]:
    return (f.check, f.severity.value, f.element, f.line, f.column, f.message)


@pytest.fixture(scope="module", params=SEEDS)
def spec(request: pytest.FixtureRequest) -> Spec:
    return random_spec(request.param)


def test_random_specs_exercise_the_checks(spec: Spec) -> None:
    """The fixtures are not trivial: each has unreachable elements and is many cone steps deep."""
    v = Verifier(spec, cone_step=6)
    report = v.run(["contradiction", "unreachable"])
    assert any(f.check == "unreachable" for f in report.findings)
    assert v.search.cone() is not None
    assert len(spec.nodes) >= 4 * v.search.cone_step


def test_cones_find_what_one_query_per_edge_finds(spec: Spec) -> None:
    report = Verifier(spec, cone_step=6).run(["contradiction", "unreachable"])
    ref = Verifier(spec)
    takable = [e for n in spec.nodes.values() for e in n.edges if ref.status(ref.enc.edge_of(e))]
    reachable = {spec.entry} | {e.target for e in takable}
    taken = {e.id for e in takable}
    dead = {f.element for f in report.findings if f.check == "contradiction"}
    expected = {f"node:{k}" for k in spec.nodes if k not in reachable}
    expected |= {f"outcome:{k}" for k in spec.outcomes if k not in reachable}
    expected |= {
        f"edge:{e.id}"
        for n in spec.nodes.values()
        if n.id in reachable
        for e in n.edges
        if e.id not in taken and f"edge:{e.id}" not in dead
    }
    assert {f.element for f in report.findings if f.check == "unreachable"} == expected


def test_cones_report_the_same_findings_as_the_whole_graph(spec: Spec) -> None:
    in_cones = Verifier(spec, cone_step=6).run()
    whole = Verifier(spec, cone_step=10**9).run()
    assert [_key(f) for f in in_cones.findings] == [_key(f) for f in whole.findings]
