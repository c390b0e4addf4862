"""Render expression ASTs as readable clinical text (``IL-6 ≥ 500 pg/mL``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import assert_never

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
)
from crs_model.types import Symbol, SymbolKind

_OPS = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠", "*": "×", "/": "/"}
_PREC = {"implies": 1, "or": 2, "and": 3, "not": 4, "cmp": 5, "+": 6, "-": 6, "*": 7, "/": 7}


def fmt_number(value: float, unit: str = "") -> str:
    """``10000.0`` -> ``10,000``; ``0.5`` -> ``0.5``; with a unit when given."""
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.6g}"
    return f"{text} {unit}".rstrip() if unit else text


class Renderer:
    """``param_names=True`` shows parameters as ``name (value unit)``, for diagrams."""

    def __init__(self, symbols: Mapping[str, Symbol], *, param_names: bool = False) -> None:
        self.symbols = symbols
        self.param_names = param_names

    def render(self, node: Expr) -> str:
        """``node`` as clinical text, parenthesised only where precedence needs it."""
        return _flatten(fold(node, self._raw)[0])

    def _unit_of(self, node: Expr) -> str:
        if isinstance(node, Name):
            sym = self.symbols.get(node.id)
            if sym is not None and sym.kind is not SymbolKind.PARAMETER:
                return sym.unit
        return ""

    def _name(self, node: Name) -> str:
        sym = self.symbols.get(node.id)
        if sym is None:
            return node.id
        if sym.kind is SymbolKind.PARAMETER:
            if isinstance(sym.value, bool) or not isinstance(sym.value, (int, float)):
                shown = str(sym.value)
            else:
                shown = fmt_number(sym.value, sym.unit)
            return f"{node.id} ({shown})" if self.param_names else shown
        return sym.label or node.id

    def _raw(self, node: Expr, kids: tuple[_Part, ...]) -> _Part:
        """``(text, precedence)`` of ``node`` from its children's pairs (see :func:`~crs_model.expr.fold`)."""
        match node:
            case Num():
                return fmt_number(node.value), 9
            case Str():
                return node.value, 9
            case BoolLit():
                return ("yes" if node.value else "no"), 9
            case Name():
                return self._name(node), 9
            case Neg():
                return ("-", _wrap(kids[0], 8)), 8
            case Not():
                return ("not ", _wrap(kids[0], 5)), 4
            case Logic():
                p = _PREC[node.op]
                left_p = p + 1 if node.op == "implies" else p
                right_p = p if node.op == "implies" else p + 1
                return (_wrap(kids[0], left_p), f" {node.op} ", _wrap(kids[1], right_p)), p
            case Compare():
                unit = self._unit_of(node.left)
                left = _wrap(kids[0], 6)
                if isinstance(node.right, Num) and unit:
                    right: _Text = fmt_number(node.right.value, unit)
                else:
                    right = _wrap(kids[1], 6)
                return (left, f" {_OPS[node.op]} ", right), 5
            case Arith():
                p = _PREC[node.op]
                return (_wrap(kids[0], p), f" {_OPS.get(node.op, node.op)} ", _wrap(kids[1], p + 1)), p
            case Member():
                vals = ", ".join(v.value if isinstance(v, Str) else fmt_number(v.value) for v in node.values)
                word = "not one of" if node.negated else "one of"
                return (_wrap(kids[0], 6), f" {word} {{{vals}}}"), 5
            case IfThenElse():
                return ("if ", _wrap(kids[0], 0), " then ", _wrap(kids[1], 0), " else ", _wrap(kids[2], 0)), 0
            case Call():
                args = tuple(piece for i, a in enumerate(kids) for piece in ((", ",) if i else ()) + (_wrap(a, 0),))
                if node.func in ("has_action", "has_flag"):
                    return (f"{node.func.replace('_', ' ')} ", *args), 9
                return (f"{node.func}(", *args, ")"), 9
            case _:
                assert_never(node)


# Text is built as nested tuples of pieces and joined once at the end: concatenating at
# every level would copy the text once per level (quadratic on a deep tree).
_Text = str | tuple["_Text", ...]
_Part = tuple[_Text, int]


def _wrap(part: _Part, outer: int) -> _Text:
    """A child's text, in parentheses when it binds looser than its place needs."""
    text, prec = part
    return ("(", text, ")") if prec < outer else text


def _flatten(text: _Text) -> str:
    out: list[str] = []
    stack = [text]
    while stack:
        t = stack.pop()
        if isinstance(t, str):
            out.append(t)
        else:
            stack.extend(reversed(t))
    return "".join(out)
