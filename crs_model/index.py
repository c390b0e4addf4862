"""The spec-analysis index: the facts about a spec that several backends need, computed once.

:func:`build_index` walks every formula of a :class:`~crs_model.model.Spec` once and
derives what the engine, the verifier, the validation strategies and the patient
validator each used to rebuild for themselves: the formula sites, the names each
formula reads and the inputs it depends on through definitions, the definitions
that depend on each input, the definitions in dependency order, the decision nodes
in topological order with the edges into every node and outcome, the outcomes each
node can reach and (when there are few enough) every entry-to-outcome path, the
constants each numeric input is compared with, and the invariant environment.

Consumers read it as ``spec.index`` (:attr:`crs_model.model.Spec.index`): built on
first access and kept on the spec, so each fact is computed once per spec; a spec
made with ``dataclasses.replace`` (a mutant) gets its own. docs/architecture.md
lists which consumer reads which field.

The result is a frozen value: tuples and read-only mappings, nothing a consumer can
change under another's feet. Every walk is iterative (specs can be deep), and every
order is fixed by the spec (never by hashing), so the index is the same in every
process. The boundary-value *policies* (which neighbours of a threshold are tried)
stay with their consumers; the index holds only their inputs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, assert_never

from crs_model.expr import (
    Arith,
    BoolLit,
    Call,
    Compare,
    Expr,
    IfThenElse,
    Logic,
    Member,
    Name,
    Neg,
    Not,
    Num,
    Str,
    children,
    conjuncts,
    fold,
)
from crs_model.types import Symbol, SymbolKind

if TYPE_CHECKING:  # annotations only: model imports this module when Spec.index is first read
    from crs_model.errors import Location
    from crs_model.model import Edge, Formula, Spec

MAX_PATHS = 4096  # entry-to-outcome paths listed at most; beyond it ``outcome_paths`` is None


class SiteKind(enum.Enum):
    """Where in the spec a formula sits."""

    CONSTRAINT = "constraint"
    DEFINITION = "definition"
    GUARD = "guard"
    OUTPUT = "output"  # a definition an outcome lists in ``outputs`` (the definition's own formula)
    FLAG = "flag"  # a flag's ``when`` condition
    INVARIANT = "invariant"
    RELATION = "relation"  # a metamorphic relation's ``when``, ``change`` or ``expect``


# The sites the testing layer's threshold harvest reads (``_boundaries.harvest``):
# an output re-lists a definition and a relation describes pairs of patients.
THRESHOLD_SOURCES = frozenset(
    {SiteKind.CONSTRAINT, SiteKind.DEFINITION, SiteKind.GUARD, SiteKind.FLAG, SiteKind.INVARIANT}
)
# The sites the verifier's random simulation takes its sampling points from.
SAMPLING_SOURCES = frozenset({SiteKind.GUARD, SiteKind.DEFINITION})


@dataclass(frozen=True, slots=True)
class FormulaSite:
    """One formula of the spec, where it sits, and what it reads.

    ``element`` names the spec element as findings do (``edge:a->b``,
    ``definition:fever``, ``outcome:o`` for an output, ``flag:f``, ...); ``detail``
    tells sites of one element apart (an output's definition name; a relation's
    ``when``, ``expect`` or ``change:<input>``). ``names`` are the names the formula
    reads directly, ``direct_inputs`` those of them that are inputs, both in source
    order without repeats; ``inputs`` are the inputs it depends on directly or
    through definitions, in declaration order. ``conjuncts`` are its top-level
    ``and`` operands, left to right (the formula itself when it is no conjunction).
    """

    kind: SiteKind
    element: str
    detail: str
    formula: Formula
    loc: Location
    names: tuple[str, ...]
    direct_inputs: tuple[str, ...]
    inputs: tuple[str, ...]
    conjuncts: tuple[Expr, ...]

    @property
    def ast(self) -> Expr:
        """The formula's expression tree."""
        return self.formula.ast


@dataclass(frozen=True, slots=True)
class Comparison:
    """A numeric input compared with a constant: ``input op value`` as written, or mirrored.

    ``value`` is the constant side's value (literals and parameters folded);
    ``literal`` says that side is a bare number or parameter name, not an
    expression of them; ``input_left`` that the input is the left operand.
    """

    kind: SiteKind
    element: str
    input: str
    op: str
    value: float
    literal: bool
    input_left: bool


@dataclass(frozen=True, slots=True)
class SpecIndex:
    """Facts about one spec, computed once by :func:`build_index`; read-only throughout.

    Formulas: ``sites`` (every formula, in spec order: constraints, definitions,
    guards, per outcome its outputs then its flags, invariants, relations),
    ``by_element`` (the sites of each element, e.g. ``edge:a->b``; a flag declared at
    several outcomes has a site at each), ``definitions`` (the definition site of each name), ``definition_order``
    (dependencies first), ``dependents`` (per input, the definitions whose value can
    change with it, sorted by name) and ``readers`` (per input, the sites that depend
    on it, in site order).

    Graph: ``node_order`` (decision nodes, stable topological order, entry first),
    ``rank`` (position in it), ``edges`` (by id), ``incoming`` (per node and outcome,
    the edges into it in spec order), ``reachable_outcomes`` (per decision node, in
    outcome declaration order), ``path_count`` (entry-to-outcome paths, saturating at
    ``MAX_PATHS + 1``) and ``outcome_paths`` (per outcome, every path from the entry
    as its edges, depth first in edge order; None when there are more than
    ``MAX_PATHS``).

    Thresholds, per numeric input: ``thresholds`` (constants it is compared with in
    the harvest's sites, sorted), ``sampling_thresholds`` (literal or parameter it is
    compared with in guards and definitions; only inputs that have one), ``members``
    (numeric ``in {...}`` values), ``cap_crossings`` (``cap / m`` for ``m * input`` in a
    formula with a constant ``min``/``max`` argument ``cap``); ``constants`` (every
    number literal of the harvest's sites and every numeric parameter value) and the
    raw ``comparisons`` they come from.

    Invariant environment: ``invariant_symbols`` (the spec's symbols plus
    ``recommendation``), ``action_outcomes`` and ``flag_outcomes`` (per action or flag
    id, the outcomes declaring it, in spec order).
    """

    spec_sha256: str
    sites: tuple[FormulaSite, ...]
    by_element: Mapping[str, tuple[FormulaSite, ...]]
    definitions: Mapping[str, FormulaSite]
    definition_order: tuple[str, ...]
    dependents: Mapping[str, tuple[str, ...]]
    readers: Mapping[str, tuple[FormulaSite, ...]]
    node_order: tuple[str, ...]
    rank: Mapping[str, int]
    edges: Mapping[str, Edge]
    incoming: Mapping[str, tuple[Edge, ...]]
    reachable_outcomes: Mapping[str, tuple[str, ...]]
    path_count: int
    outcome_paths: Mapping[str, tuple[tuple[Edge, ...], ...]] | None
    comparisons: tuple[Comparison, ...]
    thresholds: Mapping[str, tuple[float, ...]]
    sampling_thresholds: Mapping[str, tuple[float, ...]]
    members: Mapping[str, tuple[float, ...]]
    cap_crossings: Mapping[str, tuple[float, ...]]
    constants: tuple[float, ...]
    invariant_symbols: Mapping[str, Symbol]
    action_outcomes: Mapping[str, tuple[str, ...]]
    flag_outcomes: Mapping[str, tuple[str, ...]]

    def of_kind(self, *kinds: SiteKind) -> tuple[FormulaSite, ...]:
        """The sites of the given kinds, in site order."""
        return tuple(s for s in self.sites if s.kind in kinds)


# ---------------------------------------------------------------- one formula
@dataclass(frozen=True, slots=True)
class _Facts:
    """What one walk of one expression tree finds (shared by every site holding that tree)."""

    names: tuple[str, ...]
    conjuncts: tuple[Expr, ...]
    literals: tuple[float, ...]
    comparisons: tuple[tuple[str, str, float, bool, bool], ...]  # (input, op, value, literal, input left)
    members: tuple[tuple[str, float], ...]
    multipliers: tuple[tuple[str, float], ...]  # (input, m) for ``m * input`` with a non-zero constant m
    caps: tuple[float, ...]  # constant arguments of min/max (of any call)


def _preorder(root: Expr) -> Iterator[Expr]:
    """Every node of ``root``, parents before children, children in source order."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def constant_value(
    node: Expr, symbols: Mapping[str, Symbol], memo: dict[int, tuple[Expr, float | None]] | None = None
) -> float | None:
    """Numeric value of a constant sub-expression (literals and numeric parameters), else None.

    The values test data aims at, not proofs: float arithmetic on purpose; a division by zero
    and every node that reads an input (or is not arithmetic) are not constant. ``memo``
    (see :func:`crs_model.expr.fold`) shares results across calls.
    """

    def step(n: Expr, kids: tuple[float | None, ...]) -> float | None:
        match n:
            case Num():
                return n.value
            case Name():
                sym = symbols.get(n.id)
                if sym is not None and sym.kind is SymbolKind.PARAMETER and isinstance(sym.value, (int, float)):
                    return float(sym.value)
                return None
            case Neg():
                return None if kids[0] is None else -kids[0]
            case Arith():
                a, b = kids
                if a is None or b is None:
                    return None
                if n.op == "+":
                    return a + b
                if n.op == "-":
                    return a - b
                if n.op == "*":
                    return a * b
                return a / b if b else None
            case Str() | BoolLit() | Not() | Compare() | Logic() | IfThenElse() | Member() | Call():
                return None
            case _:
                assert_never(n)

    return fold(node, step, memo)


def _facts(root: Expr, symbols: Mapping[str, Symbol], numeric: Mapping[str, object]) -> _Facts:
    memo: dict[int, tuple[Expr, float | None]] = {}
    names: dict[str, None] = {}  # insertion-ordered set
    literals: list[float] = []
    comparisons: list[tuple[str, str, float, bool, bool]] = []
    members: list[tuple[str, float]] = []
    multipliers: list[tuple[str, float]] = []
    caps: list[float] = []
    for node in _preorder(root):
        if isinstance(node, Name):
            names.setdefault(node.id)
        elif isinstance(node, Num):
            literals.append(node.value)
        elif isinstance(node, Compare):
            for var, other, left in ((node.left, node.right, True), (node.right, node.left, False)):
                c = constant_value(other, symbols, memo)
                if isinstance(var, Name) and var.id in numeric and c is not None:
                    # a bare number or a numeric parameter's name, as the verifier's sampler reads them
                    literal = isinstance(other, Num) or (
                        isinstance(other, Name) and not isinstance(symbols[other.id].value, bool)
                    )
                    comparisons.append((var.id, node.op, c, literal, left))
        elif isinstance(node, Member):
            if isinstance(node.operand, Name) and node.operand.id in numeric:
                members.extend((node.operand.id, v.value) for v in node.values if isinstance(v, Num))
        elif isinstance(node, Arith) and node.op == "*":
            for var, other in ((node.left, node.right), (node.right, node.left)):
                c = constant_value(other, symbols, memo)
                if isinstance(var, Name) and var.id in numeric and c:
                    multipliers.append((var.id, c))
        elif isinstance(node, Call):
            caps.extend(c for a in node.args if (c := constant_value(a, symbols, memo)) is not None)
    return _Facts(
        tuple(names),
        tuple(conjuncts(root)),
        tuple(literals),
        tuple(comparisons),
        tuple(members),
        tuple(multipliers),
        tuple(caps),
    )


# ---------------------------------------------------------------- definitions
def _definition_order(spec: Spec, facts: Mapping[str, _Facts]) -> tuple[str, ...]:
    """Dependencies first: depth first from each definition in the spec's order, a
    definition's dependencies visited by name (as the loader orders them). A cycle
    (rejected at load) is cut where it closes."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in spec.definitions:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(sorted(n for n in facts[root].names if n in facts)))]
        while stack:
            name, deps = stack[-1]
            nxt = next((d for d in deps if d not in state), None)
            if nxt is None:
                stack.pop()
                state[name] = 2
                order.append(name)
                continue
            state[nxt] = 1
            stack.append((nxt, iter(sorted(n for n in facts[nxt].names if n in facts))))
    return tuple(order)


# ---------------------------------------------------------------- graph
def _topological(spec: Spec) -> tuple[str, ...]:
    """Decision nodes in Kahn's order, ties by declaration (the entry first in a loaded spec)."""
    indeg = dict.fromkeys(spec.nodes, 0)
    for node in spec.nodes.values():
        for e in node.edges:
            if e.target in indeg:
                indeg[e.target] += 1
    ready = [n for n in spec.nodes if indeg[n] == 0]
    out: list[str] = []
    i = 0
    while i < len(ready):  # the list is the FIFO queue: everything appended is popped in order
        nid = ready[i]
        i += 1
        out.append(nid)
        for e in spec.nodes[nid].edges:
            if e.target in indeg:
                indeg[e.target] -= 1
                if indeg[e.target] == 0:
                    ready.append(e.target)
    return tuple(out)


def _reachable(spec: Spec, order: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    rank = {o: i for i, o in enumerate(spec.outcomes)}
    reach: dict[str, frozenset[str]] = {}
    for nid in reversed(order):
        acc: set[str] = set()
        for e in spec.nodes[nid].edges:
            if e.target in rank:
                acc.add(e.target)
            else:
                acc |= reach.get(e.target, frozenset())
        reach[nid] = frozenset(acc)
    return {nid: tuple(sorted(reach.get(nid, ()), key=rank.__getitem__)) for nid in spec.nodes}


def _path_count(spec: Spec, order: tuple[str, ...]) -> int:
    """Entry-to-outcome paths, counted bottom-up and saturating at ``MAX_PATHS + 1``."""
    if spec.entry not in spec.nodes or len(order) < len(spec.nodes):  # a cycle: no finite listing
        return MAX_PATHS + 1
    count: dict[str, int] = dict.fromkeys(spec.outcomes, 1)
    for nid in reversed(order):
        count[nid] = min(MAX_PATHS + 1, sum(count.get(e.target, 0) for e in spec.nodes[nid].edges))
    return count[spec.entry]


def _paths(spec: Spec) -> dict[str, tuple[tuple[Edge, ...], ...]]:
    """Every entry-to-outcome path, depth first in edge order (call only when they are few)."""
    found: dict[str, list[tuple[Edge, ...]]] = {o: [] for o in spec.outcomes}
    stack: list[tuple[str, tuple[Edge, ...]]] = [(spec.entry, ())]
    while stack:
        nid, prefix = stack.pop()
        if nid in found:
            found[nid].append(prefix)
            continue
        node = spec.nodes.get(nid)
        if node is not None:
            stack.extend((e.target, (*prefix, e)) for e in reversed(node.edges))
    return {o: tuple(ps) for o, ps in found.items()}


# ---------------------------------------------------------------- the index
def _sites(spec: Spec) -> Iterator[tuple[SiteKind, str, str, Formula, Location]]:
    for c in spec.constraints:
        yield SiteKind.CONSTRAINT, f"constraint:{c.id}", "", c.formula, c.formula.loc
    for name, d in spec.definitions.items():
        yield SiteKind.DEFINITION, f"definition:{name}", "", d.formula, d.formula.loc
    for node in spec.nodes.values():
        for e in node.edges:
            yield SiteKind.GUARD, f"edge:{e.id}", "", e.guard, e.guard.loc
    for o in spec.outcomes.values():
        for name in o.outputs:
            yield SiteKind.OUTPUT, f"outcome:{o.id}", name, spec.definitions[name].formula, o.loc
        for fl in o.flags:
            if fl.when is not None:
                yield SiteKind.FLAG, f"flag:{fl.id}", "", fl.when, fl.when.loc
    for inv in spec.invariants:
        yield SiteKind.INVARIANT, f"invariant:{inv.id}", "", inv.formula, inv.formula.loc
    for rel in spec.metamorphic_relations:
        element = f"relation:{rel.id}"
        if rel.when is not None:
            yield SiteKind.RELATION, element, "when", rel.when, rel.when.loc
        for target, f in rel.change:
            if f is not None:
                yield SiteKind.RELATION, element, f"change:{target}", f, f.loc
        yield SiteKind.RELATION, element, "expect", rel.expect, rel.expect.loc


def build_index(spec: Spec) -> SpecIndex:
    """Compute the :class:`SpecIndex` of ``spec`` (one walk per distinct formula).

    A pure function of the spec: called twice (or from two threads at once), it gives
    equal values. Consumers read the cached ``spec.index`` instead of calling it.
    """
    variables = spec.variables
    var_rank = {v: i for i, v in enumerate(variables)}
    numeric = {n: v for n, v in variables.items() if v.type.numeric}
    symbols = spec.symbols
    memo: dict[int, _Facts] = {}  # by id(): an output shares its definition's tree

    def facts_of(formula: Formula) -> _Facts:
        hit = memo.get(id(formula.ast))
        if hit is None:
            hit = memo[id(formula.ast)] = _facts(formula.ast, symbols, numeric)
        return hit

    def_facts = {name: facts_of(d.formula) for name, d in spec.definitions.items()}
    order = _definition_order(spec, def_facts)
    def_inputs: dict[str, frozenset[str]] = {}
    for name in order:  # dependencies first, so each one's inputs are known when it is read
        acc = {n for n in def_facts[name].names if n in variables}
        for n in def_facts[name].names:
            acc |= def_inputs.get(n, frozenset())
        def_inputs[name] = frozenset(acc)

    sites: list[FormulaSite] = []
    comparisons: list[Comparison] = []
    literals: set[float] = {float(p.value) for p in spec.parameters.values() if not isinstance(p.value, bool)}
    members: dict[str, set[float]] = {n: set() for n in numeric}
    crossings: dict[str, set[float]] = {n: set() for n in numeric}
    for kind, element, detail, formula, loc in _sites(spec):
        f = facts_of(formula)
        deps = {n for n in f.names if n in variables}
        for n in f.names:
            deps |= def_inputs.get(n, frozenset())
        direct = tuple(n for n in f.names if n in variables)
        inputs = tuple(sorted(deps, key=var_rank.__getitem__))
        sites.append(FormulaSite(kind, element, detail, formula, loc, f.names, direct, inputs, f.conjuncts))
        if kind is SiteKind.OUTPUT:  # the definition's own site already holds its constants
            continue
        comparisons.extend(Comparison(kind, element, *c) for c in f.comparisons)
        if kind in THRESHOLD_SOURCES:
            literals.update(f.literals)
            for var, value in f.members:
                members[var].add(value)
            for var, m in f.multipliers:  # min(800, 8 * weight_kg) is crossed at weight 800 / 8
                crossings[var].update(k / m for k in f.caps)

    thresholds: dict[str, set[float]] = {n: set() for n in numeric}
    sampling: dict[str, set[float]] = {}
    for c in comparisons:
        if c.kind in THRESHOLD_SOURCES:
            thresholds[c.input].add(c.value)
        if c.kind in SAMPLING_SOURCES and c.literal:
            sampling.setdefault(c.input, set()).add(c.value)

    dependents: dict[str, list[str]] = {v: [] for v in variables}
    for name in sorted(def_inputs):
        for v in def_inputs[name]:
            dependents[v].append(name)
    readers: dict[str, list[FormulaSite]] = {v: [] for v in variables}
    by_element: dict[str, list[FormulaSite]] = {}
    for site in sites:
        by_element.setdefault(site.element, []).append(site)
        for v in site.inputs:
            readers[v].append(site)

    node_order = _topological(spec)
    incoming: dict[str, list[Edge]] = {k: [] for k in (*spec.nodes, *spec.outcomes)}
    edges: dict[str, Edge] = {}
    for node in spec.nodes.values():
        for e in node.edges:
            edges[e.id] = e
            if e.target in incoming:
                incoming[e.target].append(e)
    path_count = _path_count(spec, node_order)
    paths = _paths(spec) if path_count <= MAX_PATHS else None

    action_outcomes: dict[str, list[str]] = {}
    flag_outcomes: dict[str, list[str]] = {}
    for o in spec.outcomes.values():
        for a in o.actions:
            action_outcomes.setdefault(a.id, []).append(o.id)
        for fl in o.flags:
            flag_outcomes.setdefault(fl.id, []).append(o.id)

    def sort_ro(d: Mapping[str, set[float]]) -> MappingProxyType[str, tuple[float, ...]]:
        return MappingProxyType({k: tuple(sorted(v)) for k, v in d.items()})

    def tuple_ro(d: Mapping[str, list[str]]) -> MappingProxyType[str, tuple[str, ...]]:
        return MappingProxyType({k: tuple(v) for k, v in d.items()})

    definition_sites = {s.element.removeprefix("definition:"): s for s in sites if s.kind is SiteKind.DEFINITION}
    return SpecIndex(
        spec_sha256=spec.sha256,
        sites=tuple(sites),
        by_element=MappingProxyType({k: tuple(v) for k, v in by_element.items()}),
        definitions=MappingProxyType(definition_sites),
        definition_order=order,
        dependents=tuple_ro(dependents),
        readers=MappingProxyType({k: tuple(v) for k, v in readers.items()}),
        node_order=node_order,
        rank=MappingProxyType({n: i for i, n in enumerate(node_order)}),
        edges=MappingProxyType(edges),
        incoming=MappingProxyType({k: tuple(v) for k, v in incoming.items()}),
        reachable_outcomes=MappingProxyType(_reachable(spec, node_order)),
        path_count=path_count,
        outcome_paths=None if paths is None else MappingProxyType(paths),
        comparisons=tuple(comparisons),
        thresholds=sort_ro(thresholds),
        sampling_thresholds=sort_ro({k: sampling[k] for k in numeric if k in sampling}),
        members=sort_ro(members),
        cap_crossings=sort_ro(crossings),
        constants=tuple(sorted(literals)),
        invariant_symbols=MappingProxyType(dict(spec.invariant_symbols)),
        action_outcomes=tuple_ro(action_outcomes),
        flag_outcomes=tuple_ro(flag_outcomes),
    )


__all__ = [
    "MAX_PATHS",
    "SAMPLING_SOURCES",
    "THRESHOLD_SOURCES",
    "Comparison",
    "FormulaSite",
    "SiteKind",
    "SpecIndex",
    "build_index",
]
