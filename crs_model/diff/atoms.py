"""Input literals: the atoms a region is a conjunction of, and a patient read from a model.

An atom is one condition on one input as the specs compare it: absent or present, a
bool's value, an enum's value, or a number against a threshold that occurs in either
version (comparison constants, ``min``/``max`` cap crossings and ``in {...}`` values).
A model makes some atoms true; the region is the weakest subset that still forces the
difference (:mod:`crs_model.diff.regions`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import z3

from crs_model.diff.pair import Pair
from crs_model.exact import exact
from crs_model.model import Variable
from crs_model.types import Base
from crs_model.verify.capi import mk_and, mk_not
from crs_model.verify.z3expr import numeral


@dataclass(frozen=True, slots=True)
class Atom:
    """``input op value``: op is absent, present, is (a bool or enum value), or a comparison."""

    input: str
    op: str  # absent | present | is | < | <= | > | >= | ==
    value: float | bool | str | None = None

    @property
    def strength(self) -> int:
        """Deletion order: the strongest atoms are tried for removal first (0 first)."""
        return 0 if self.op in ("==", ">", "<") else 1 if self.op in (">=", "<=") else 2


def thresholds(pair: Pair) -> dict[str, tuple[float, ...]]:
    """Per numeric input, every constant either version compares it with, and its domain bounds (sorted)."""
    out: dict[str, set[float]] = {}
    for side in (pair.old, pair.new):
        for name, var in side.spec.variables.items():  # a domain narrowed or widened is crossed at its bounds
            out.setdefault(name, set()).update(b for b in (var.minimum, var.maximum) if b is not None)
        idx = side.spec.index
        for table in (idx.thresholds, idx.cap_crossings, idx.members):
            for name, values in table.items():
                out.setdefault(name, set()).update(values)
    return {n: tuple(sorted(v)) for n, v in out.items()}


def _frac(x: float) -> Fraction:
    return Fraction(exact(x))


def _fraction(num: z3.ExprRef) -> Fraction:
    """A numeric model value exactly, or an algebraic one (non-linear arithmetic) to 12 decimals."""
    if isinstance(num, z3.IntNumRef):
        return Fraction(num.as_long())
    if z3.is_rational_value(num):
        return num.as_fraction()
    assert isinstance(num, z3.AlgebraicNumRef), "a numeric model value"
    return Fraction(num.as_decimal(12).rstrip("?"))


class GivenError(ValueError):
    """A ``--given NAME=VALUE`` that names no input of either version or a value outside its type."""


def parse_given(text: str, variables: Mapping[str, Variable]) -> Atom:
    """``on_cytosorb=false``, ``etiology=car_t``, ``weight_kg=70``, ``il6_pg_ml=unknown`` as an atom."""
    name, eq, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    var = variables.get(name)
    if not eq or var is None:
        known = ", ".join(variables)
        raise GivenError(f"--given {text!r}: expected NAME=VALUE with NAME one of the inputs ({known})")
    if raw in ("unknown", "absent", "null"):
        return Atom(name, "absent")
    base = var.type.base
    if base == Base.BOOL and raw in ("true", "false"):
        return Atom(name, "is", raw == "true")
    if base == Base.ENUM and raw in var.type.values:
        return Atom(name, "is", raw)
    if base in (Base.INT, Base.REAL):
        try:
            value = int(raw) if base == Base.INT else float(raw)
        except ValueError:
            pass
        else:
            if math.isfinite(value):
                return Atom(name, "==", value)
    raise GivenError(f"--given {text!r}: {raw!r} is not a value of {name} ({var.type}, or 'unknown')")


class Atoms:
    """The atoms over a :class:`Pair`'s shared patient, and their Z3 terms (built once each)."""

    def __init__(self, pair: Pair) -> None:
        self.pair = pair
        self.inputs = pair.inputs
        self.thresholds = thresholds(pair)
        self._terms: dict[Atom, z3.BoolRef] = {}

    def term(self, a: Atom) -> z3.BoolRef:
        """The atom as a Z3 formula over the shared patient."""
        hit = self._terms.get(a)
        if hit is not None:
            return hit
        inp = self.inputs
        known = inp.known[a.input]
        var = inp.variables[a.input]
        if a.op == "absent":
            t = mk_not(known)
        elif a.op == "present":
            t = known
        elif var.type.base == Base.BOOL:
            v = inp.values[a.input]
            assert isinstance(v, z3.BoolRef)
            t = mk_and(known, v if a.value else mk_not(v))
        elif var.type.base == Base.ENUM:
            assert isinstance(a.value, str)
            t = mk_and(known, inp.number(a.input) == inp.enum_values[a.input].index(a.value))
        else:
            assert isinstance(a.value, (int, float))
            x = inp.number(a.input)
            c = numeral(a.value, x.is_int() and float(a.value).is_integer(), inp.ctx)
            ops = {"<": x < c, "<=": x <= c, ">": x > c, ">=": x >= c, "==": x == c}
            t = mk_and(known, ops[a.op])
        self._terms[a] = t
        return t

    def of_model(self, model: z3.ModelRef, *, points: bool = False) -> list[Atom]:
        """The atoms ``model`` makes true, strongest first; ``points`` adds ``x == value`` per known number."""
        out: list[Atom] = []
        patient = self.patient(model)
        for name, var in self.inputs.variables.items():
            if name not in patient:
                out.append(Atom(name, "absent"))
                continue
            value = patient[name]
            if var.type.base in (Base.BOOL, Base.ENUM):
                out.append(Atom(name, "is", value))
                continue
            raw = _fraction(model.eval(self.inputs.values[name], model_completion=True))
            # the cell of the value: the nearest threshold on each side (:meth:`weaker` widens them)
            found = self.thresholds.get(name, ())
            below = [t for t in found if _frac(t) <= raw]
            above = [t for t in found if _frac(t) >= raw]
            if below:
                t = below[-1]
                out += [Atom(name, ">", t), Atom(name, ">=", t)] if _frac(t) < raw else [Atom(name, ">=", t)]
            if above:
                t = above[0]
                out += [Atom(name, "<", t), Atom(name, "<=", t)] if _frac(t) > raw else [Atom(name, "<=", t)]
            if points:
                out.append(Atom(name, "==", value))
            out.append(Atom(name, "present"))  # the weakest: kept when any known value will do
        return sorted(out, key=lambda a: a.strength)

    def weaker(self, a: Atom) -> list[Atom]:
        """The bounds weaker than ``a`` on the same side, weakest last (``x > 500``: ``x >= 500``,
        ``x > 100``, ``x >= 100``, ... for the thresholds below 500)."""
        if a.op not in (">", ">=", "<", "<="):
            return []
        assert isinstance(a.value, (int, float))
        t0 = _frac(a.value)
        found = self.thresholds.get(a.input, ())
        out: list[Atom] = []
        if a.op in (">", ">="):
            if a.op == ">":
                out.append(Atom(a.input, ">=", a.value))
            for t in reversed([t for t in found if _frac(t) < t0]):
                out += [Atom(a.input, ">", t), Atom(a.input, ">=", t)]
        else:
            if a.op == "<":
                out.append(Atom(a.input, "<=", a.value))
            for t in [t for t in found if _frac(t) > t0]:
                out += [Atom(a.input, "<", t), Atom(a.input, "<=", t)]
        return out

    def patient(self, model: z3.ModelRef) -> dict[str, Any]:
        """The patient JSON of ``model`` over the union vocabulary (known inputs, declaration order)."""
        inp = self.inputs
        out: dict[str, Any] = {}
        for name, var in inp.variables.items():
            if not z3.is_true(model.eval(inp.known[name], model_completion=True)):
                continue
            raw = model.eval(inp.values[name], model_completion=True)
            base = var.type.base
            if base == Base.BOOL:
                out[name] = z3.is_true(raw)
            elif base in (Base.ENUM, Base.INT):
                assert isinstance(raw, z3.IntNumRef), f"an int model value for {name}"
                out[name] = inp.enum_values[name][raw.as_long()] if base == Base.ENUM else raw.as_long()
            else:
                frac = _fraction(raw)
                out[name] = int(frac) if frac.denominator == 1 else float(frac)
        return out


__all__ = ["Atom", "Atoms", "GivenError", "parse_given", "thresholds"]
