"""How findings read: values in words, icontract-style explanations, unsat-core parts with their lines."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from crs_model.expr import Expr, children
from crs_model.model import Formula, Spec
from crs_model.pyeval import compile_expr
from crs_model.text import Renderer
from crs_model.verify.encoding import Part
from crs_model.vocabulary import explain, truth_text, value_text, values_read


def show(x: Any) -> str:
    """An input value as a message shows it: the presentation vocabulary's wording."""
    return value_text(x)


def tv(x: Any) -> str:
    """A formula's value as a message shows it (``unknown``, ``true``/``false``, a number)."""
    return truth_text(x) if x is None or isinstance(x, bool) else value_text(x)


def start(node: Expr) -> int:
    """Offset of the first character of ``node`` (an operator node's ``pos`` is its operator)."""
    return min([node.pos, *(start(c) for c in children(node))])


def parts_text(parts: Iterable[Part]) -> str:
    """Unsat-core parts as ``text (file:line)``, ``; ``-separated."""
    return "; ".join(f"{p.text} ({p.loc.file}:{p.loc.line})" for p in parts) or "(no core)"


class Wording:
    """The spec's formulas in clinical words (guards and invariants have their own symbol tables)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.renderer = Renderer(spec.symbols)
        self.inv_renderer = Renderer(spec.invariant_symbols)

    def render(self, node: Expr) -> str:
        """A guard or definition formula in words."""
        return self.renderer.render(node)

    def locate_part(self, formula: Formula, element: str) -> Callable[[Expr], Part]:
        """A conjunct of ``formula`` -> its :class:`Part` (words and spec location) for unsat cores."""

        def locate(node: Expr) -> Part:
            return Part(self.renderer.render(node), self.spec.locate(formula, start(node)), element)

        return locate

    def explain(self, formula: Formula, env: Mapping[str, Any], *, invariant: bool = False) -> str:
        """``IL-6 ≥ 500 pg/mL was false: IL-6 was 320`` (icontract style)."""
        symbols = self.spec.invariant_symbols if invariant else self.spec.symbols
        renderer = self.inv_renderer if invariant else self.renderer
        value = compile_expr(formula.ast, symbols)(env)
        return explain(renderer.render(formula.ast), value, values_read(formula.ast, env, symbols))


__all__ = ["Wording", "parts_text", "show", "start", "tv"]
