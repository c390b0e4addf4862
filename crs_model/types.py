"""Static types of the expression language and the symbol table it is checked against."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

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
)
from crs_model.hints import did_you_mean


class Base(enum.StrEnum):
    """The closed set of base types; a member equals its name as a string (``Base.INT == "int"``)."""

    BOOL = "bool"
    INT = "int"
    REAL = "real"
    ENUM = "enum"
    STR = "str"  # a bare string literal, only meaningful beside an enum


@dataclass(frozen=True, slots=True)
class Type:
    """A static type: a :class:`Base`, and for an enum its values in declared order."""

    base: Base
    values: tuple[str, ...] = ()

    @property
    def numeric(self) -> bool:
        """Whether values of this type are numbers (int or real)."""
        return self.base in (Base.INT, Base.REAL)

    def __str__(self) -> str:
        """The type as a spec writes it: ``real``, ``enum {a, b}``."""
        if self.base is Base.ENUM:
            return "enum {" + ", ".join(self.values) + "}"
        return self.base.value


BOOL = Type(Base.BOOL)
INT = Type(Base.INT)
REAL = Type(Base.REAL)
STR = Type(Base.STR)


class SymbolKind(enum.Enum):
    """What a name in an expression refers to."""

    VARIABLE = "variable"
    PARAMETER = "parameter"
    DEFINITION = "definition"
    OUTCOME = "outcome"  # the special name ``recommendation`` in invariants


@dataclass(frozen=True, slots=True)
class Symbol:
    """A name an expression may use: its kind, type, unit and label (and a parameter's value)."""

    name: str
    kind: SymbolKind
    type: Type
    unit: str = ""
    label: str = ""
    value: float | bool | str | None = None  # parameters only


class TypeCheckError(Exception):
    """A type error at ``offset`` characters into the expression."""

    def __init__(self, offset: int, message: str) -> None:
        self.offset = offset
        self.message = message
        super().__init__(message)


def suggest(name: str, candidates: list[str]) -> str:
    """A bounded did-you-mean hint (see :mod:`crs_model.hints`)."""
    return did_you_mean(name, candidates)


@dataclass(frozen=True, slots=True)
class Scope:
    """What an expression may refer to."""

    symbols: Mapping[str, Symbol]
    actions: frozenset[str] | None = None  # has_action ids; None: not allowed here
    flags: frozenset[str] | None = None


def check(node: Expr, scope: Scope) -> Type:
    """Type-check ``node``; return its type or raise :class:`TypeCheckError`."""
    return _Checker(scope).visit(node)


def _join_numeric(a: Type, b: Type) -> Type:
    return INT if a == INT and b == INT else REAL


class _Checker:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def visit(self, node: Expr) -> Type:
        method = getattr(self, "v_" + type(node).__name__)
        result: Type = method(node)
        return result

    def want(self, node: Expr, pred: str) -> Type:
        t = self.visit(node)
        ok = t.numeric if pred == "numeric" else t.base == pred
        if not ok:
            raise TypeCheckError(node.pos, f"expected a {pred} value here, found {t}")
        return t

    def v_Num(self, node: Num) -> Type:
        return INT if node.is_int else REAL

    def v_Str(self, node: Str) -> Type:
        return STR

    def v_BoolLit(self, node: BoolLit) -> Type:
        return BOOL

    def v_Name(self, node: Name) -> Type:
        sym = self.scope.symbols.get(node.id)
        if sym is None:
            # a misspelt input is the commonest slip: suggest among inputs first
            inputs = sorted(n for n, s in self.scope.symbols.items() if s.kind is SymbolKind.VARIABLE)
            hint = suggest(node.id, inputs) or suggest(node.id, sorted(self.scope.symbols))
            raise TypeCheckError(node.pos, f"unknown name '{node.id}'{hint}")
        return sym.type

    def v_Neg(self, node: Neg) -> Type:
        return self.want(node.operand, "numeric")

    def v_Not(self, node: Not) -> Type:
        self.want(node.operand, "bool")
        return BOOL

    def v_Arith(self, node: Arith) -> Type:
        a = self.want(node.left, "numeric")
        b = self.want(node.right, "numeric")
        if node.op == "/":
            if isinstance(node.right, Num) and node.right.value == 0:
                raise TypeCheckError(node.right.pos, "division by zero")
            return REAL
        return _join_numeric(a, b)

    def v_Logic(self, node: Logic) -> Type:
        self.want(node.left, "bool")
        self.want(node.right, "bool")
        return BOOL

    def v_Compare(self, node: Compare) -> Type:
        a = self.visit(node.left)
        b = self.visit(node.right)
        if node.op in ("<", "<=", ">", ">="):
            for side, t in ((node.left, a), (node.right, b)):
                if not t.numeric:
                    raise TypeCheckError(side.pos, f"'{node.op}' needs numbers, found {t}")
            return BOOL
        if a.numeric and b.numeric:
            return BOOL
        if a == b and a.base in ("bool", "enum"):
            return BOOL
        for enum_t, other, other_node in ((a, b, node.right), (b, a, node.left)):
            if enum_t.base == "enum" and other == STR and isinstance(other_node, Str):
                if other_node.value not in enum_t.values:
                    hint = suggest(other_node.value, list(enum_t.values))
                    raise TypeCheckError(
                        other_node.pos,
                        f"'{other_node.value}' is not one of {', '.join(enum_t.values)}{hint}",
                    )
                return BOOL
        raise TypeCheckError(node.pos, f"cannot compare {a} with {b}")

    def v_Member(self, node: Member) -> Type:
        t = self.visit(node.operand)
        for v in node.values:
            if t.base == "enum":
                if not isinstance(v, Str) or v.value not in t.values:
                    raise TypeCheckError(v.pos, f"{v.value!r} is not one of {', '.join(t.values)}")
            elif t.numeric:
                if not isinstance(v, Num):
                    raise TypeCheckError(v.pos, "expected a number in the set")
            else:
                raise TypeCheckError(node.pos, f"'in' needs an enum or a number, found {t}")
        return BOOL

    def v_IfThenElse(self, node: IfThenElse) -> Type:
        self.want(node.cond, "bool")
        a = self.visit(node.then)
        b = self.visit(node.orelse)
        if a.numeric and b.numeric:
            return _join_numeric(a, b)
        if a == b and a.base in ("bool", "enum"):
            return a
        raise TypeCheckError(node.pos, f"'then' branch is {a} but 'else' branch is {b}")

    def v_Call(self, node: Call) -> Type:
        if node.func in ("min", "max"):
            if len(node.args) < 2:
                raise TypeCheckError(node.pos, f"{node.func}() needs at least 2 arguments")
            ts = [self.want(a, "numeric") for a in node.args]
            return INT if all(t == INT for t in ts) else REAL
        allowed = self.scope.actions if node.func == "has_action" else self.scope.flags
        if allowed is None:
            raise TypeCheckError(node.pos, f"{node.func}() is only allowed in invariants")
        if len(node.args) != 1 or not isinstance(node.args[0], Str):
            raise TypeCheckError(node.pos, f"{node.func}() takes one quoted id")
        ident = node.args[0].value
        if ident not in allowed:
            hint = suggest(ident, sorted(allowed))
            raise TypeCheckError(node.args[0].pos, f"no outcome declares '{ident}'{hint}")
        return BOOL
