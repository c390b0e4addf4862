"""Input validation as one SQL column: the engine's contract (:mod:`crs_model.patient`), set-based.

``error`` is NULL for a valid row, else a message naming the first field that breaks the
contract, checked in the order the engine's validator checks them: each input (in the
table's column order) against its domain, then each consistency constraint (false, not
unknown) in declared order. Types need no check: every column is cast to its input's type,
so a value of the wrong type cannot reach the query (the cohort runner checks file schemas
and CSV cells before they do).

The message text follows the validator's templates; numbers are printed by the database's
own cast, so its digits may differ from Python's. The cohort runner therefore takes each
rejected row's canonical message from the Python validator (docs/sql.md, "Validation").
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from crs_model.index import SiteKind
from crs_model.model import Spec, Variable
from crs_model.patient import range_text
from crs_model.sql.expr_sql import column, is_null, literal, paren, text, to_sql
from crs_model.types import Base


def _concat(*parts: exp.Expr | str) -> exp.Expr:
    return exp.func("CONCAT", *(exp.Literal.string(p) if isinstance(p, str) else p for p in parts))


def _domain(v: Variable) -> list[tuple[exp.Expr, exp.Expr]]:
    """(condition, message) pairs for ``v``'s domain, in the validator's order (NULL never fails)."""
    x = column(v.name)
    base = v.type.base
    if base is Base.ENUM:
        shown = ", ".join(v.type.values)
        test = exp.not_(exp.In(this=x, expressions=[exp.Literal.string(s) for s in v.type.values]))
        return [(test, _concat(f'{v.name}="', x.copy(), f'" is not one of {shown}'))]
    if base is Base.BOOL:
        return []
    rng = range_text(v)
    out: list[tuple[exp.Expr, exp.Expr]] = []
    if base is Base.REAL:
        # NaN and infinities fail a comparison with the largest double in every dialect: NaN sorts
        # above all numbers in DuckDB, Spark and PostgreSQL and compares false in BigQuery
        big = exp.Literal.number("1.7976931348623157e308")
        finite = exp.and_(
            exp.GTE(this=x.copy(), expression=exp.Neg(this=big)), exp.LTE(this=x.copy(), expression=big.copy())
        )
        out.append(
            (exp.not_(finite), _concat(f"{v.name}=", text(x.copy()), f" is not a finite number (expected {rng})"))
        )
    outside: list[exp.Expr] = []
    if v.minimum is not None:
        outside.append(exp.LT(this=x.copy(), expression=literal(v.minimum, base)))
    if v.maximum is not None:
        outside.append(exp.GT(this=x.copy(), expression=literal(v.maximum, base)))
    if outside:
        out.append((exp.or_(*outside), _concat(f"{v.name}=", text(x.copy()), f" is outside {rng}")))
    return out


def _shown(name: str, spec: Spec) -> exp.Expr:
    """A field's value in a constraint message (``absent`` when NULL)."""
    x = column(name)
    base = spec.variables[name].type.base
    value = _concat("'", x, "'") if base is Base.ENUM else text(x)
    return exp.func("COALESCE", value, exp.Literal.string("absent"))


def error_column(spec: Spec, order: Sequence[str] | None = None) -> exp.Expr:
    """The ``error`` expression: NULL, or the message of the first broken rule (``order``: the
    inputs in the table's column order; default the spec's declaration order)."""
    case = exp.case()
    checks = 0
    for name in order if order is not None else spec.variables:
        for test, message in _domain(spec.variables[name]):
            case = case.when(exp.and_(exp.not_(is_null(column(name))), test), message)
            checks += 1
    sites = spec.index.of_kind(SiteKind.CONSTRAINT)
    for c, site in zip(spec.constraints, sites, strict=True):
        fields = list(site.direct_inputs)
        # a constraint rejects only when it is false; unknown (an absent input) is valid
        false = exp.not_(exp.func("COALESCE", paren(to_sql(c.formula.ast, spec.symbols)), exp.true()))
        vals: list[exp.Expr | str] = []
        for i, f in enumerate(fields):
            vals += [("" if i == 0 else ", ") + f"{f}=", _shown(f, spec)]
        case = case.when(false, _concat(f"inconsistent input ({c.id}): {c.message} [", *vals, "]"))
        checks += 1
    return case if checks else exp.Null()
