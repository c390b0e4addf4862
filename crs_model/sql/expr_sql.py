"""The expression AST as a sqlglot tree, with the engine's three-valued semantics.

SQL ``NULL`` is the engine's *unknown* (an absent input). SQL already is Kleene for
``AND``/``OR``/``NOT`` and for comparisons; the other operators need care, each noted
where it is built:

* ``if c then x else y``: SQL ``CASE`` takes ``ELSE`` when ``c`` is NULL; the engine is
  unknown then unless ``x`` and ``y`` are known and equal.
* ``min``/``max``: ``LEAST``/``GREATEST`` skip NULLs in DuckDB, PostgreSQL and Spark; the
  engine is unknown when any argument is.
* ``/``: the engine is unknown on a zero divisor (``NULLIF``), and divides exactly (never
  as integers: both operands are cast to DOUBLE).
* ``in``: a literal set holds no NULL, so ``x IN (...)`` is NULL exactly when ``x`` is.

Arithmetic runs in IEEE double, not the engine's exact rationals (docs/sql.md, "Numbers").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import assert_never

from sqlglot import exp

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
)
from crs_model.types import Base, Symbol, SymbolKind

_COMPARE: dict[str, type[exp.Binary]] = {
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
    "==": exp.EQ,
    "!=": exp.NEQ,
}
_ARITH: dict[str, type[exp.Binary]] = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}


class SqlUnsupported(ValueError):
    """An expression the SQL backend cannot compile (a function that reads a care course or a
    decision's actions and flags, which only invariants use)."""


def column(name: str) -> exp.Column:
    """A quoted column reference."""
    return exp.column(name, quoted=True)


def is_null(e: exp.Expr) -> exp.Expr:
    """``e IS NULL`` (``e`` parenthesized unless an atom)."""
    return exp.Is(this=paren(e), expression=exp.Null())


def text(e: exp.Expr) -> exp.Expr:
    """``e`` as text (VARCHAR; Spark's STRING)."""
    return exp.cast(e, exp.DataType.Type.VARCHAR)


def double(e: exp.Expr) -> exp.Expr:
    """``e`` as a DOUBLE (so no dialect divides as integers or keeps an exact DECIMAL)."""
    return exp.cast(e, exp.DataType.Type.DOUBLE)


def literal(value: float | bool | str, base: Base) -> exp.Expr:
    """The SQL literal of a spec value of type ``base``."""
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, str):
        return exp.Literal.string(value)
    if base is Base.INT:
        return exp.Literal.number(int(value))
    return double(exp.Literal.number(repr(float(value))))


ATOMS = (exp.Column, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Cast, exp.Case)  # not Func: Or is one


def paren(e: exp.Expr) -> exp.Expr:
    """``e`` in parentheses unless it is an atom (the generator does not add them for precedence)."""
    return e if isinstance(e, ATOMS) else exp.paren(e, copy=False)


def to_sql(node: Expr, symbols: Mapping[str, Symbol]) -> exp.Expr:
    """The SQL of a type-checked expression: NULL where the three-valued engine is unknown.

    A definition or an input is a column of that name (the query computes definitions as
    columns, dependencies first); a parameter is its literal value.
    """
    return fold(node, lambda n, kids: _build(n, kids, symbols))


def _build(node: Expr, kids: tuple[exp.Expr, ...], symbols: Mapping[str, Symbol]) -> exp.Expr:
    # each node gets fresh copies of its children: a shared sub-tree (fold memoizes by identity)
    # must not be re-parented in two places of the sqlglot tree
    k = [c.copy() for c in kids]
    match node:
        case Num():
            return literal(int(node.value) if node.is_int else node.value, Base.INT if node.is_int else Base.REAL)
        case Str():
            return exp.Literal.string(node.value)
        case BoolLit():
            return exp.true() if node.value else exp.false()
        case Name():
            sym = symbols.get(node.id)
            if sym is not None and sym.kind is SymbolKind.PARAMETER:
                assert sym.value is not None  # a parameter has a value
                return literal(sym.value, sym.type.base)
            return column(node.id)
        case Not():
            return exp.not_(paren(k[0]))
        case Neg():
            return exp.Neg(this=paren(k[0]))
        case Arith() if node.op == "/":
            return exp.Div(
                this=double(k[0]), expression=exp.Nullif(this=double(k[1]), expression=exp.Literal.number(0))
            )
        case Arith():
            return _ARITH[node.op](this=paren(k[0]), expression=paren(k[1]))
        case Compare():
            return _COMPARE[node.op](this=paren(k[0]), expression=paren(k[1]))
        case Logic() if node.op == "and":
            return exp.and_(paren(k[0]), paren(k[1]))
        case Logic() if node.op == "or":
            return exp.or_(paren(k[0]), paren(k[1]))
        case Logic():  # implies: (not a) or b, Kleene as the engine's
            return exp.or_(exp.not_(paren(k[0])), paren(k[1]))
        case IfThenElse():
            c, x, y = k
            # CASE falls to ELSE on a NULL condition; the engine's answer then is x only where x = y
            return (
                exp.case()
                .when(c, x)
                .when(exp.not_(paren(c.copy())), y)
                .when(exp.EQ(this=paren(x.copy()), expression=paren(y.copy())), x.copy())
            )
        case Member():
            test = exp.In(this=paren(k[0]), expressions=k[1:])
            return exp.not_(test) if node.negated else test
        case Call() if node.func in ("min", "max"):
            pick = exp.Least if node.func == "min" else exp.Greatest
            # LEAST/GREATEST skip NULLs in most dialects: the engine's min/max is unknown instead
            any_null = exp.or_(*(is_null(a.copy()) for a in k))
            return exp.case().when(any_null, exp.Null()).else_(pick(this=k[0], expressions=k[1:]))
        case Call():
            kind = "care course" if node.func in TEMPORAL_FUNCTIONS else "decision's actions and flags"
            raise SqlUnsupported(f"{node.func}() reads a {kind}; only invariants use it, and SQL decides, not checks")
        case _:
            assert_never(node)
