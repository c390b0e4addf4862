"""Mutation testing of the validation suite: plant small faults, see which are caught.

Mutants are built on the loaded, typed model (never by editing YAML text), so
each is well-typed and differs from the spec in exactly one place:

* ``flip``: a comparison's operator (``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``);
* ``shift``: a threshold moved a little (a parameter or a literal in a guard or
  definition; +-1 for whole numbers, +-10 % otherwise);
* ``drop``: one conjunct of an ``and`` removed;
* ``swap``: the targets of two edges of one node exchanged (two outcomes swapped);
* ``delete``: an edge removed;
* ``negate``: a guard negated.

A mutant is *killed* when a property of the fuzz suite fails on it. Whether a
mutant *violates an invariant* (changes an invariant's truth: the shipped spec
satisfies them all) is decided independently of the suite by a deep search
(many more examples of the invariant property plus the care course) - or by
the Z3 verifier when it is installed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, assert_never

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
    replace,
    walk,
)
from crs_model.model import DecisionNode, Edge, Formula, Parameter, Spec
from crs_model.types import Base

_FLIP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}


@dataclass(frozen=True)
class Mutant:
    id: str  # stable: operator:element:site
    operator: str
    element: str  # kind:id of the mutated element
    description: str
    spec: Spec = field(repr=False, compare=False)


@dataclass
class MutantResult:
    mutant: Mutant
    killed_by: list[str]
    violates_invariant: bool | None  # None: undecided
    evidence: str  # the property/search that showed the violation
    seconds: float

    @property
    def killed(self) -> bool:
        return bool(self.killed_by)


# ------------------------------------------------------------------ AST surgery
def _replace(node: Expr, target: Expr, new: Expr) -> Expr:
    """``node`` with the sub-tree ``target`` (by identity) replaced by ``new``."""
    return replace(node, lambda n: new if n is target else None)


def _shifted(value: float, is_int: bool) -> list[float]:
    if is_int or float(value).is_integer():
        return [value - 1, value + 1]
    step = abs(value) * 0.1 or 0.1
    return [round(value - step, 6), round(value + step, 6)]


def _expr_mutations(ast: Expr) -> Iterator[tuple[str, str, Expr]]:
    """(operator, site description, mutated AST) for one expression."""
    for n in walk(ast):
        match n:
            case Compare():
                yield (
                    "flip",
                    f"'{n.op}' -> '{_FLIP[n.op]}' at {n.pos}",
                    _replace(ast, n, dataclasses.replace(n, op=_FLIP[n.op])),
                )
            case Num():
                for v in _shifted(n.value, n.is_int):
                    yield "shift", f"{n.value:g} -> {v:g} at {n.pos}", _replace(ast, n, dataclasses.replace(n, value=v))
            case Logic() if n.op == "and":
                yield "drop", f"drop left conjunct at {n.pos}", _replace(ast, n, n.right)
                yield "drop", f"drop right conjunct at {n.pos}", _replace(ast, n, n.left)
            case Str() | BoolLit() | Name() | Neg() | Not() | Arith() | Logic() | IfThenElse() | Member() | Call():
                pass  # no operator of this kind
            case _:
                assert_never(n)


def _formula(f: Formula, ast: Expr, note: str) -> Formula:
    return dataclasses.replace(f, ast=ast, text=f"{f.text}  [mutant: {note}]")


def _with_node(spec: Spec, node: DecisionNode) -> Spec:
    nodes = dict(spec.nodes)
    nodes[node.id] = node
    return dataclasses.replace(spec, nodes=nodes)


def _with_edge(spec: Spec, edge: Edge, new: Edge | None) -> Spec:
    node = spec.nodes[edge.source]
    edges: list[Edge] = []
    for e in node.edges:
        if e is not edge:
            edges.append(e)
        elif new is not None:
            edges.append(new)
    return _with_node(spec, dataclasses.replace(node, edges=tuple(edges)))


def mutants(spec: Spec) -> list[Mutant]:
    """Every first-order mutant of ``spec`` (guards, definitions, parameters, edges)."""
    out: list[Mutant] = []
    for node in spec.nodes.values():
        for e in node.edges:
            el = f"edge:{e.id}"
            for op, note, ast in _expr_mutations(e.guard.ast):
                m = _with_edge(spec, e, dataclasses.replace(e, guard=_formula(e.guard, ast, note)))
                out.append(Mutant(f"{op}:{el}:{note}", op, el, f"{e.guard.text}: {note}", m))
            neg = Not(e.guard.ast, 0)
            m = _with_edge(spec, e, dataclasses.replace(e, guard=_formula(e.guard, neg, "negated")))
            out.append(Mutant(f"negate:{el}", "negate", el, f"not ({e.guard.text})", m))
            if len(node.edges) > 1:
                out.append(Mutant(f"delete:{el}", "delete", el, f"edge {e.id} deleted", _with_edge(spec, e, None)))
        for i, a in enumerate(node.edges):
            for b in node.edges[i + 1 :]:
                if a.target != b.target:
                    edges = tuple(
                        dataclasses.replace(x, target=b.target)
                        if x is a
                        else dataclasses.replace(x, target=a.target)
                        if x is b
                        else x
                        for x in node.edges
                    )
                    m = _with_node(spec, dataclasses.replace(node, edges=edges))
                    el = f"node:{node.id}"
                    out.append(
                        Mutant(f"swap:{el}:{a.target}<->{b.target}", "swap", el, f"{a.target} <-> {b.target}", m)
                    )
    for name, d in spec.definitions.items():
        el = f"definition:{name}"
        for op, note, ast in _expr_mutations(d.formula.ast):
            defs = dict(spec.definitions)
            defs[name] = dataclasses.replace(d, formula=_formula(d.formula, ast, note))
            out.append(
                Mutant(f"{op}:{el}:{note}", op, el, f"{name}: {note}", dataclasses.replace(spec, definitions=defs))
            )
    for name, p in spec.parameters.items():
        if isinstance(p.value, bool):
            continue
        for v in _shifted(float(p.value), p.type.base == Base.INT):
            out.append(
                Mutant(
                    f"shift:parameter:{name}:{v:g}",
                    "shift",
                    f"parameter:{name}",
                    f"{name} {p.value:g} -> {v:g}",
                    _with_param(spec, name, p, v),
                )
            )
    return out


def _with_param(spec: Spec, name: str, p: Parameter, value: float) -> Spec:
    params = dict(spec.parameters)
    params[name] = dataclasses.replace(p, value=value)
    symbols = dict(spec.symbols)
    symbols[name] = dataclasses.replace(spec.symbols[name], value=value)
    inv = dict(spec.invariant_symbols)
    inv[name] = symbols[name]
    return dataclasses.replace(spec, parameters=params, symbols=symbols, invariant_symbols=inv)


def select(all_mutants: list[Mutant], budget: int) -> list[Mutant]:
    """A deterministic, operator-balanced sample of at most ``budget`` mutants."""
    if budget >= len(all_mutants):
        return list(all_mutants)
    by_op: dict[str, list[Mutant]] = {}
    for m in all_mutants:
        by_op.setdefault(m.operator, []).append(m)
    picked: list[Mutant] = []
    queues = {op: _spread(ms) for op, ms in sorted(by_op.items())}
    while len(picked) < budget and any(queues.values()):
        for op in sorted(queues):
            if queues[op] and len(picked) < budget:
                picked.append(queues[op].pop(0))
    return picked


def _spread(items: list[Mutant]) -> list[Mutant]:
    """Reorder so a prefix covers the list evenly (bit-reversal order of indexes)."""
    n = len(items)
    order: list[int] = []
    step = 1
    while step < n:
        step *= 2
    seen: set[int] = set()
    k = step
    while k >= 1:
        for i in range(0, step, k):
            if i < n and i not in seen:
                seen.add(i)
                order.append(i)
        k //= 2
    return [items[i] for i in order]


# ------------------------------------------------------------------ running
_POOL_STATE: dict[str, Any] = {}


def run_all(
    chosen: list[Mutant],
    base: Any,
    examples: int,
    deep_examples: int,
    verifier: Verifier | None,
    jobs: int,
) -> Iterator[MutantResult]:
    """Run mutants, in ``jobs`` forked worker processes when more than one (results in order)."""
    import multiprocessing

    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for m in chosen:
            yield run_mutant(m, base, examples, deep_examples, verifier)
        return
    from concurrent.futures import ProcessPoolExecutor

    _POOL_STATE.update(chosen=chosen, args=(base, examples, deep_examples, verifier))
    ctx = multiprocessing.get_context("fork")  # workers inherit the mutants: specs are not pickled
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        for i, killed_by, violates, evidence, seconds in pool.map(_run_index, range(len(chosen))):
            yield MutantResult(chosen[i], killed_by, violates, evidence, seconds)
    _POOL_STATE.clear()


def _run_index(i: int) -> tuple[int, list[str], bool | None, str, float]:
    r = run_mutant(_POOL_STATE["chosen"][i], *_POOL_STATE["args"])
    return i, r.killed_by, r.violates_invariant, r.evidence, r.seconds


# the verifier's error-level checks on a mutant, and whether one of them refutes an invariant
Verifier = Callable[[Spec], "tuple[list[str], bool] | None"]


def run_mutant(
    mutant: Mutant,
    base: Any,
    examples: int,
    deep_examples: int,
    verifier: Verifier | None = None,
) -> MutantResult:
    """Run the fuzz suite on one mutant; then decide whether it violates an invariant."""
    from hypothesis import Phase, settings

    from crs_model.errors import CrsModelError
    from crs_model.testing._care import run_care_course
    from crs_model.testing._properties import (
        Context,
        Property,
        check_invariants_where_decided,
        run_property,
        suite,
    )
    from crs_model.testing._strategies import patients

    t0 = time.perf_counter()
    fast = settings(base, phases=[Phase.explicit, Phase.generate], derandomize=True, database=None)
    killed: list[str] = []
    violates: bool | None = None
    evidence = ""
    try:
        ctx = Context.for_spec(mutant.spec, with_oracle=False)
    except CrsModelError as exc:  # a mutant the engine refuses to compile counts as caught
        return MutantResult(mutant, [f"engine: {exc}"], None, "", time.perf_counter() - t0)
    for prop in suite(mutant.spec):
        if prop.needs_oracle or prop.name == "spec_loader":
            continue
        r = run_property(prop, ctx, fast, examples)
        if r.failure:
            killed.append(prop.name)
            if "invariant(s)" in (r.failure or ""):
                violates, evidence = True, f"{prop.name} property"
            break
    if not killed:
        r = run_care_course(mutant.spec, fast, examples)
        if r.failure:
            killed.append("care_course")
            # a snapshot or temporal invariant broken in a course; not a gap, nor an invalid transition
            if "invariant(s)" in r.failure:
                violates, evidence = True, "care course"
    if verifier is not None:
        v = verifier(mutant.spec)
        if v is not None:
            kinds, refuted = v
            killed.extend(f"verify:{k}" for k in kinds)
            violates, evidence = refuted, "Z3 verifier"
    if violates is None:
        # independent deep search: many more examples, several seeds, shrinking off. A mutant already
        # killed (by a gap or a relation) only needs classifying, with a smaller budget.
        deep = settings(fast, derandomize=False)
        rounds, budget = (1, 3 * examples) if killed else (3, deep_examples)
        inv = Property(
            "deep_invariants",
            "invariants where the spec decides",
            lambda c: patients(c.spec),
            check_invariants_where_decided,
        )
        found = False
        for _ in range(rounds):
            r = run_property(inv, ctx, deep, budget)
            if r.failure:
                found = True
                break
        violates, evidence = (True, "deep search") if found else (False, "deep search found none")
    return MutantResult(mutant, killed, violates, evidence, time.perf_counter() - t0)


def verifier_for(spec: Spec) -> Verifier | None:
    """Verification of a mutant with the Z3 verifier (``crs_model.verify``), when installed.

    The function returns the error-level checks the verifier reports (a mutant
    with any is killed by verification) and whether an invariant is refuted -
    the authoritative answer to "does this mutant change an invariant's truth".
    """
    try:
        from crs_model.verify import verify  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None

    def run(mutant_spec: Spec) -> tuple[list[str], bool] | None:
        try:
            report = verify(mutant_spec, checks=["contradiction", "unreachable", "overlap", "gap", "invariant"])
        except Exception:  # a verifier failure must not stop the mutation run; fuzzing still decides
            return None
        kinds = sorted({f.check for f in report.errors})
        return kinds, "invariant" in kinds

    return run
