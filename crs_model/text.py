"""Render expression ASTs as readable clinical text (``IL-6 ≥ 500 pg/mL``)."""

from __future__ import annotations

from collections.abc import Mapping

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
        return self._r(node, 0)

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

    def _r(self, node: Expr, outer: int) -> str:
        text, prec = self._raw(node)
        return f"({text})" if prec < outer else text

    def _raw(self, node: Expr) -> tuple[str, int]:
        if isinstance(node, Num):
            return fmt_number(node.value), 9
        if isinstance(node, Str):
            return node.value, 9
        if isinstance(node, BoolLit):
            return ("yes" if node.value else "no"), 9
        if isinstance(node, Name):
            return self._name(node), 9
        if isinstance(node, Neg):
            return "-" + self._r(node.operand, 8), 8
        if isinstance(node, Not):
            return "not " + self._r(node.operand, 5), 4
        if isinstance(node, Logic):
            p = _PREC[node.op]
            left_p = p + 1 if node.op == "implies" else p
            right_p = p if node.op == "implies" else p + 1
            return f"{self._r(node.left, left_p)} {node.op} {self._r(node.right, right_p)}", p
        if isinstance(node, Compare):
            unit = self._unit_of(node.left)
            left = self._r(node.left, 6)
            if isinstance(node.right, Num) and unit:
                right = fmt_number(node.right.value, unit)
            else:
                right = self._r(node.right, 6)
            return f"{left} {_OPS[node.op]} {right}", 5
        if isinstance(node, Arith):
            p = _PREC[node.op]
            return f"{self._r(node.left, p)} {_OPS.get(node.op, node.op)} {self._r(node.right, p + 1)}", p
        if isinstance(node, Member):
            vals = ", ".join(v.value if isinstance(v, Str) else fmt_number(v.value) for v in node.values)
            word = "not one of" if node.negated else "one of"
            return f"{self._r(node.operand, 6)} {word} {{{vals}}}", 5
        if isinstance(node, IfThenElse):
            return (
                f"if {self._r(node.cond, 0)} then {self._r(node.then, 0)} else {self._r(node.orelse, 0)}",
                0,
            )
        if isinstance(node, Call):
            args = ", ".join(self._r(a, 0) for a in node.args)
            if node.func in ("has_action", "has_flag"):
                return f"{node.func.replace('_', ' ')} {args}", 9
            return f"{node.func}({args})", 9
        raise TypeError(type(node).__name__)  # pragma: no cover
