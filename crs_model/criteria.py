"""The criteria behind each guard: its boolean definitions expanded into an and/or tree.

A guard such as ``astct_grade >= cytosorb_min_astct_grade and cytosorb_indication``
names a definition whose thresholds a decision diagram does not show. Here every
guard that reads a boolean definition becomes a tree of gates (all of, any of, not,
if-then) down to the criteria themselves — comparisons, memberships and boolean
inputs — and each boolean definition it reads, directly or through another one,
is expanded once for the whole spec (:attr:`Criteria.definitions`): a guard points
at it by name (:class:`Ref`), so a shared threshold appears in one place.

Built from the one expression AST (:func:`crs_model.expr.fold`, no recursion); the
words come from the spec (labels, units, parameter values) through
:class:`crs_model.text.Renderer`. Drawn by :mod:`crs_model.criteria_diagram`, written
as text in the governance pack. :func:`truth` evaluates a node for a patient's
decision (Kleene: ``None`` is unknown), for the overlays.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
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
    fold,
    names,
)
from crs_model.model import Definition, Edge, Spec
from crs_model.types import Base, Symbol, SymbolKind


class GateKind(enum.Enum):
    """How a gate combines its children; ``value`` is how the drawing and the pack word it."""

    ALL = "all of"
    ANY = "any of"
    NOT = "not"
    IMPLIES = "if … then"
    IF = "if … then … else"


# what each child of a gate is, when its place matters (if / then / else)
BRANCH_WORDS: Mapping[GateKind, tuple[str, ...]] = {
    GateKind.IMPLIES: ("if", "then"),
    GateKind.IF: ("if", "then", "else"),
}


@dataclass(frozen=True, slots=True)
class Leaf:
    """One criterion: a comparison, a membership, a boolean input or parameter, or a constant."""

    expr: Expr


@dataclass(frozen=True, slots=True)
class Ref:
    """A boolean definition, expanded once in :attr:`Criteria.definitions` under ``name``."""

    name: str
    expr: Expr


@dataclass(frozen=True, slots=True)
class Gate:
    """``kind`` over ``children`` (chains of one operator flattened: ``a or b or c`` is one gate)."""

    kind: GateKind
    children: tuple[Crit, ...]
    expr: Expr


Crit = Leaf | Ref | Gate


@dataclass(frozen=True, slots=True)
class GuardCriteria:
    """The criteria tree of one edge's guard."""

    edge: Edge
    root: Crit


@dataclass(frozen=True, slots=True)
class DefinitionCriteria:
    """The criteria tree of one boolean definition."""

    definition: Definition
    root: Crit


@dataclass(frozen=True, slots=True)
class Criteria:
    """The guards that read a boolean definition (in spec order) and every boolean definition they read."""

    guards: tuple[GuardCriteria, ...]
    definitions: Mapping[str, DefinitionCriteria]  # in the spec's definition order


def is_bool_definition(symbols: Mapping[str, Symbol], name: str) -> bool:
    """Whether ``name`` is a definition of type bool (what a tree expands)."""
    sym = symbols.get(name)
    return sym is not None and sym.kind is SymbolKind.DEFINITION and sym.type.base is Base.BOOL


def tree(ast: Expr, symbols: Mapping[str, Symbol]) -> Crit:
    """The criteria tree of a boolean expression; a boolean definition it names stays a :class:`Ref`."""

    def step(node: Expr, kids: tuple[Crit, ...]) -> Crit:
        match node:
            case Logic(op="and" | "or"):
                kind = GateKind.ALL if node.op == "and" else GateKind.ANY
                flat: list[Crit] = []
                for k in kids:  # a chain of one operator is one gate
                    flat.extend(k.children if isinstance(k, Gate) and k.kind is kind else (k,))
                return Gate(kind, tuple(flat), node)
            case Logic():  # implies
                return Gate(GateKind.IMPLIES, kids, node)
            case Not():
                return Gate(GateKind.NOT, kids, node)
            case IfThenElse():
                return Gate(GateKind.IF, kids, node)
            case Name() if is_bool_definition(symbols, node.id):
                return Ref(node.id, node)
            case Name() | Compare() | Member() | BoolLit() | Call() | Num() | Str() | Neg() | Arith():
                # a criterion (or a number inside one: its result is never used as a tree node)
                return Leaf(node)
            case _:
                assert_never(node)

    return fold(ast, step)


def refs(root: Crit) -> list[str]:
    """The definitions ``root`` names, in first-seen order (depth first, left to right)."""
    out: list[str] = []
    stack = [root]
    while stack:
        c = stack.pop()
        if isinstance(c, Ref):
            if c.name not in out:
                out.append(c.name)
        elif isinstance(c, Gate):
            stack.extend(reversed(c.children))
    return out


def criteria(spec: Spec) -> Criteria:
    """Every guard that reads a boolean definition, as a tree, with the definitions they read (transitively)."""
    symbols = spec.symbols
    guards = []
    for node in spec.nodes.values():
        for e in node.edges:
            root = tree(e.guard.ast, symbols)
            if refs(root):
                guards.append(GuardCriteria(e, root))
    wanted: dict[str, Crit] = {}
    todo = [name for g in guards for name in refs(g.root)]
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted[name] = tree(spec.definitions[name].formula.ast, symbols)
            todo.extend(refs(wanted[name]))
    defs = {n: DefinitionCriteria(d, wanted[n]) for n, d in spec.definitions.items() if n in wanted}
    return Criteria(tuple(guards), defs)


def parameters_read(expr: Expr, symbols: Mapping[str, Symbol]) -> list[str]:
    """The parameters (thresholds) ``expr`` reads, sorted: whose citations a criterion carries."""
    return sorted(n for n in names(expr) if (s := symbols.get(n)) is not None and s.kind is SymbolKind.PARAMETER)


def truth(crit: Crit, values: Mapping[str, Any], symbols: Mapping[str, Symbol]) -> Any:
    """``crit``'s value for a patient: ``values`` holds the inputs and every definition's value
    (:attr:`crs_model.engine.Decision.values`); ``None`` is unknown (three-valued, as the engine)."""
    from crs_model.pyeval import compile_expr

    if isinstance(crit, Ref):
        return values.get(crit.name)
    return compile_expr(crit.expr, symbols)(values)
