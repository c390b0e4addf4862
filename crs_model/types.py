"""Static types of the expression language and the symbol table it is checked against."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import assert_never

from crs_model.expr import (
    TEMPORAL_FUNCTIONS,
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
    walk,
)
from crs_model.hints import did_you_mean, hint_available


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
    temporal: bool = False  # count_before / count_within allowed (temporal invariants)


def check(node: Expr, scope: Scope) -> Type:
    """Type-check ``node``; return its type or raise :class:`TypeCheckError`."""
    result = fold(node, _Checker(scope).step)
    if isinstance(result, TypeCheckError):
        raise result
    return result


def _join_numeric(a: Type, b: Type) -> Type:
    return INT if a == INT and b == INT else REAL


# A child's result: its type, or the error checking it found. Errors are values, not
# raised, so the parent reports the first one a left-to-right reading meets: the same
# error a recursive checker raises, whatever order the bottom-up walk computed them in.
_Result = Type | TypeCheckError


class _Error(Exception):
    """Carries a child's error out of :meth:`_Checker.step` (never leaves this module)."""

    def __init__(self, error: TypeCheckError) -> None:
        self.error = error


def _ok(result: _Result) -> Type:
    if isinstance(result, TypeCheckError):
        raise _Error(result)
    return result


def _want(node: Expr, result: _Result, pred: str) -> Type:
    t = _ok(result)
    ok = t.numeric if pred == "numeric" else t.base == pred
    if not ok:
        raise _Error(TypeCheckError(node.pos, f"expected a {pred} value here, found {t}"))
    return t


class _Checker:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def step(self, node: Expr, kids: tuple[_Result, ...]) -> _Result:
        try:
            return self._type(node, kids)
        except _Error as exc:
            return exc.error
        except TypeCheckError as exc:
            return exc

    def _type(self, node: Expr, kids: tuple[_Result, ...]) -> Type:
        match node:
            case Num():
                return INT if node.is_int else REAL
            case Str():
                return STR
            case BoolLit():
                return BOOL
            case Name():
                return self._name(node)
            case Neg():
                return _want(node.operand, kids[0], "numeric")
            case Not():
                _want(node.operand, kids[0], "bool")
                return BOOL
            case Arith():
                a = _want(node.left, kids[0], "numeric")
                b = _want(node.right, kids[1], "numeric")
                if node.op == "/":
                    if isinstance(node.right, Num) and node.right.value == 0:
                        raise TypeCheckError(node.right.pos, "division by zero")
                    return REAL
                return _join_numeric(a, b)
            case Logic():
                _want(node.left, kids[0], "bool")
                _want(node.right, kids[1], "bool")
                return BOOL
            case Compare():
                return self._compare(node, _ok(kids[0]), _ok(kids[1]))
            case Member():
                return self._member(node, _ok(kids[0]))
            case IfThenElse():
                _want(node.cond, kids[0], "bool")
                a, b = _ok(kids[1]), _ok(kids[2])
                if a.numeric and b.numeric:
                    return _join_numeric(a, b)
                if a == b and a.base in (Base.BOOL, Base.ENUM):
                    return a
                raise TypeCheckError(node.pos, f"'then' branch is {a} but 'else' branch is {b}")
            case Call():
                return self._call(node, kids)
            case _:
                assert_never(node)

    def _name(self, node: Name) -> Type:
        sym = self.scope.symbols.get(node.id)
        if sym is None:
            hint = ""
            if hint_available():  # gathering candidates costs as much as a hint: skip both once spent
                # a misspelt input is the commonest slip: suggest among inputs first
                inputs = sorted(n for n, s in self.scope.symbols.items() if s.kind is SymbolKind.VARIABLE)
                hint = suggest(node.id, inputs) or suggest(node.id, sorted(self.scope.symbols))
            raise TypeCheckError(node.pos, f"unknown name '{node.id}'{hint}")
        return sym.type

    def _compare(self, node: Compare, a: Type, b: Type) -> Type:
        if node.op in ("<", "<=", ">", ">="):
            for side, t in ((node.left, a), (node.right, b)):
                if not t.numeric:
                    raise TypeCheckError(side.pos, f"'{node.op}' needs numbers, found {t}")
            return BOOL
        if a.numeric and b.numeric:
            return BOOL
        if a == b and a.base in (Base.BOOL, Base.ENUM):
            return BOOL
        for enum_t, other, other_node in ((a, b, node.right), (b, a, node.left)):
            if enum_t.base == Base.ENUM and other == STR and isinstance(other_node, Str):
                if other_node.value not in enum_t.values:
                    hint = suggest(other_node.value, list(enum_t.values))
                    raise TypeCheckError(
                        other_node.pos,
                        f"'{other_node.value}' is not one of {', '.join(enum_t.values)}{hint}",
                    )
                return BOOL
        raise TypeCheckError(node.pos, f"cannot compare {a} with {b}")

    def _member(self, node: Member, t: Type) -> Type:
        for v in node.values:
            if t.base == Base.ENUM:
                if not isinstance(v, Str) or v.value not in t.values:
                    raise TypeCheckError(v.pos, f"{v.value!r} is not one of {', '.join(t.values)}")
            elif t.numeric:
                if not isinstance(v, Num):
                    raise TypeCheckError(v.pos, "expected a number in the set")
            else:
                raise TypeCheckError(node.pos, f"'in' needs an enum or a number, found {t}")
        return BOOL

    def _temporal(self, node: Call, kids: tuple[_Result, ...]) -> Type:
        if not self.scope.temporal:
            raise TypeCheckError(node.pos, f"{node.func}() is only allowed in temporal invariants")
        arity = 1 if node.func == "count_before" else 2
        if len(node.args) != arity:
            shape = "(condition)" if arity == 1 else "(hours, condition)"
            raise TypeCheckError(node.pos, f"{node.func}() takes {arity} argument(s): {node.func}{shape}")
        if arity == 2:
            hours = node.args[0]
            _want(hours, kids[0], "numeric")
            constant = isinstance(hours, Num) or (
                isinstance(hours, Name)
                and (sym := self.scope.symbols.get(hours.id)) is not None
                and sym.kind is SymbolKind.PARAMETER
            )
            if not constant:
                raise TypeCheckError(hours.pos, "count_within() needs its hours as a number or a parameter")
            if isinstance(hours, Num) and hours.value < 0:
                raise TypeCheckError(hours.pos, "count_within() needs hours of 0 or more")
        cond = node.args[-1]
        _want(cond, kids[-1], "bool")
        for inner in walk(cond):
            if isinstance(inner, Call) and inner.func in TEMPORAL_FUNCTIONS:
                raise TypeCheckError(inner.pos, f"{inner.func}() cannot be nested inside {node.func}()")
        return INT

    def _call(self, node: Call, kids: tuple[_Result, ...]) -> Type:
        if node.func in TEMPORAL_FUNCTIONS:
            return self._temporal(node, kids)
        if node.func in ("min", "max"):
            if len(node.args) < 2:
                raise TypeCheckError(node.pos, f"{node.func}() needs at least 2 arguments")
            ts = [_want(a, r, "numeric") for a, r in zip(node.args, kids, strict=True)]
            return INT if all(t == INT for t in ts) else REAL
        # the arguments' own types are not asked: only one quoted id is allowed here
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
