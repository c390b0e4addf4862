"""The routing key: rows with one key get one exact decision, so the engine decides each key once.

The exact engine (:mod:`crs_model.completion`) reads a numeric input only through
comparisons with constants and with other inputs of its comparison group (else the input is
*opaque*). Two valid rows that agree on which inputs are absent, on the *cell* of every known
numeric input (where it lies among the constants of its group, and against each known
partner), on every bool and enum value, and on the raw value of every opaque input that can
matter, get the same exact decision: every comparison the spec makes has one truth value on a
cell, so the valid completions of both rows reach the same outcomes, flags, required-output
knowledge and deciding sets. This is the argument the completion module's own cache rests on
(:meth:`~crs_model.completion.Completer._cell`); here it is one SQL expression per row.

An opaque input read only by reported outputs (the weight, read by the dose) is keyed by its
cell among the constants it is compared with; its raw value joins the key only on a row where
an output that reads it is unknown (then the engine may settle that output from the value). A
known output's value is never taken from the key's decision: the row's own SQL value is used.
"""

from __future__ import annotations

from fractions import Fraction

from sqlglot import exp

from crs_model.completion import Scope, build_scope
from crs_model.index import SiteKind
from crs_model.model import Spec
from crs_model.sql.expr_sql import column, double, is_null, text
from crs_model.types import Base

SEPARATOR = "\x1f"  # ASCII unit separator: in no enum value, number or marker
ABSENT = "~"


def _point(p: Fraction | int | float) -> exp.Expr:
    return double(exp.Literal.number(repr(float(p))))


def _cell(x: exp.Expr, points: tuple[Fraction | int, ...]) -> exp.Expr:
    """``2 * (points below x) + (1 if x is a point)``: one integer per cell of the cut line."""
    terms: list[exp.Expr] = [
        exp.case()
        .when(exp.GT(this=x.copy(), expression=_point(p)), exp.Literal.number(2))
        .when(exp.EQ(this=x.copy(), expression=_point(p)), exp.Literal.number(1))
        .else_(exp.Literal.number(0))
        for p in points
    ]
    if not terms:
        return exp.Literal.number(0)
    total: exp.Expr = terms[0]
    for t in terms[1:]:
        total = exp.Add(this=total, expression=t)
    return total


def _sign(x: exp.Expr, y: exp.Expr) -> exp.Expr:
    return (
        exp.case()
        .when(exp.GT(this=x.copy(), expression=y.copy()), exp.Literal.string("+"))
        .when(exp.LT(this=x.copy(), expression=y.copy()), exp.Literal.string("-"))
        .when(exp.EQ(this=x.copy(), expression=y.copy()), exp.Literal.string("="))
        .else_(exp.Literal.string(ABSENT))
    )


def _output_readers(spec: Spec) -> dict[str, list[str]]:
    """Per input, the reported outputs whose formula reads it (through definitions)."""
    defs = spec.index.definitions
    out: dict[str, list[str]] = {}
    for name in spec.outputs:
        site = defs.get(name)
        for inp in site.inputs if site is not None else (name,):
            out.setdefault(inp, []).append(name)
    return out


def key_column(spec: Spec, scope: Scope | None = None) -> exp.Expr:
    """The routing key of a row (a string; absent inputs and unknown outputs marked)."""
    scope = scope if scope is not None else build_scope(spec)
    output_sites = {s.element for s in spec.index.sites if s.kind is SiteKind.OUTPUT}
    readers = _output_readers(spec)
    parts: list[exp.Expr] = []
    for name, v in spec.variables.items():
        x = column(name)
        base = v.type.base
        part: exp.Expr
        if base is Base.BOOL:
            part = exp.case().when(x, exp.Literal.string("t")).when(exp.not_(x.copy()), exp.Literal.string("f"))
        elif base is Base.ENUM:
            part = x.copy()
        elif name in scope.grid:
            part = text(_cell(x, scope.grid[name]))
            for partner in scope.group.get(name, ()):
                part = exp.func("CONCAT", part, exp.Literal.string(":"), _sign(x, column(partner)))
        elif set(scope.opaque.get(name, ())) <= output_sites and name not in scope.group:
            cut = text(_cell(x, tuple(c for c, _ in scope.cuts.get(name, ()))))
            unknown = [is_null(column(o)) for o in readers.get(name, [])]
            raw = exp.case().when(exp.or_(*unknown), text(x.copy())) if unknown else None
            if raw is None:
                part = cut
            else:
                part = exp.func(
                    "CONCAT", cut, exp.Literal.string("="), exp.func("COALESCE", raw, exp.Literal.string(""))
                )
        else:  # opaque: the value itself
            part = text(x.copy())
        parts.append(exp.func("COALESCE", part, exp.Literal.string(ABSENT)))
    for name in spec.outputs:  # whether each reported output is known on the row
        parts.append(exp.case().when(is_null(column(name)), exp.Literal.string("?")).else_(exp.Literal.string("k")))
    return exp.ConcatWs(expressions=[exp.Literal.string(SEPARATOR), *parts])
