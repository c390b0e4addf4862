"""A region in clinical words: its atoms grouped per input, with the spec's labels and units."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from crs_model.diff.atoms import Atom
from crs_model.exact import exact
from crs_model.model import Variable
from crs_model.vocabulary import value_text

_SHOWN = {">=": "≥", ">": ">", "<": "<", "<=": "≤", "==": "="}


def number_text(x: float) -> str:
    """A threshold as a reader writes it: ``500``, ``38.5``; ``≈66.6667`` when its decimals run on."""
    if float(x).is_integer():
        return f"{x:.0f}"
    text = repr(float(x))
    return text if len(text) <= 9 else f"≈{x:.6g}"


def _num(a: Atom) -> Fraction:
    assert isinstance(a.value, (int, float))
    return Fraction(exact(a.value))


def _bounds(atoms: Sequence[Atom]) -> str:
    """``≥ 500 and < 1000`` from the comparisons of one input: the tightest bound on each side."""
    eq = [a for a in atoms if a.op == "=="]
    lows = [a for a in atoms if a.op in (">", ">=")]
    highs = [a for a in atoms if a.op in ("<", "<=")]
    chosen = eq[:1] or [
        *([max(lows, key=lambda a: (_num(a), a.op == ">"))] if lows else []),
        *([min(highs, key=lambda a: (_num(a), a.op == "<="))] if highs else []),
    ]
    return " and ".join(f"{_SHOWN[a.op]} {number_text(float(_num(a)))}" for a in chosen)


def describe(atoms: Sequence[Atom], variables: Mapping[str, Variable]) -> str:
    """``IL-6 ≥ 500 and < 1000 pg/mL, multi-organ dysfunction, CRS etiology car_t, weight unknown``."""
    if not atoms:
        return "every valid patient"
    by_input: dict[str, list[Atom]] = {}
    for a in atoms:
        by_input.setdefault(a.input, []).append(a)
    words: list[str] = []
    for name in variables:
        mine = by_input.get(name)
        if not mine:
            continue
        var = variables[name]
        label = var.label or name
        first = mine[0]
        if first.op == "absent":
            words.append(f"{label} unknown")
        elif first.op == "present":
            words.append(f"{label} known")
        elif first.op == "is" and isinstance(first.value, bool):
            words.append(label if first.value else f"{label}: no")
        elif first.op == "is":
            words.append(f"{label} {value_text(first.value)}")
        else:
            unit = f" {var.unit}" if var.unit else ""
            words.append(f"{label} {_bounds(mine)}{unit}")
    return ", ".join(words)


def condition(a: Atom) -> dict[str, Any]:
    """An atom as JSON: ``{"input", "op", "value"}`` (value omitted for absent/present)."""
    out: dict[str, Any] = {"input": a.input, "op": a.op}
    if a.value is not None:
        out["value"] = a.value
    return out


__all__ = ["condition", "describe", "number_text"]
