"""Validate one patient's input against the spec's variable declarations.

Rules: the input is a flat JSON object; ``null`` or an absent key means the value
is unknown; unknown keys, wrong types (``true`` for a number, ``1.5`` for an int),
NaN/infinity, out-of-domain values and violated consistency constraints raise
:class:`PatientError` naming the field. Hot path: no heavy imports.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from crs_model.errors import PatientError
from crs_model.hints import did_you_mean
from crs_model.index import SiteKind
from crs_model.model import Constraint, Spec, Variable
from crs_model.pyeval import compile_expr
from crs_model.text import fmt_number
from crs_model.types import Base

MAX_PATIENT_KEYS = 256

Check = Callable[[Any], Any]


def _hint(name: str, candidates: list[str]) -> str:
    """A bounded did-you-mean for one unknown ``name`` (empty for names no typo explains)."""
    return did_you_mean(name, candidates)


def _js(x: Any) -> str:
    """A value as the JSON the user wrote (``true``, ``"70"``, ``NaN``); a huge int by its size."""
    if type(x) is int and x.bit_length() > 128:  # str() of a 4,300+ digit int raises
        sign = "-" if x < 0 else ""
        digits = int(x.bit_length() * 0.30103) + 1  # an upper bound, at most one too many
        if abs(x) < 10 ** (digits - 1):
            digits -= 1
        return f"{sign}<an integer of {digits} digits>"
    try:
        return json.dumps(x, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(x)


def range_text(v: Variable) -> str:
    """A variable's domain as the validator's messages print it (``0..100 pg/mL``)."""
    lo = fmt_number(v.minimum) if v.minimum is not None else "-inf"
    hi = fmt_number(v.maximum) if v.maximum is not None else "inf"
    return f"{lo}..{hi}{' ' + v.unit if v.unit else ''}"


def _checker(v: Variable) -> Check:
    name = v.name
    base = v.type.base
    if base == Base.BOOL:

        def check_bool(x: Any) -> Any:
            if x is True or x is False:
                return x
            raise PatientError(name, f"{name}={_js(x)} is not a boolean (expected true or false)", x)

        return check_bool
    if base == Base.ENUM:
        values = frozenset(v.type.values)
        shown = ", ".join(v.type.values)

        def check_enum(x: Any) -> Any:
            if type(x) is str and x in values:
                return x
            hint = _hint(x, list(v.type.values)) if isinstance(x, str) else ""
            raise PatientError(name, f"{name}={_js(x)} is not one of {shown}{hint}", x)

        return check_enum
    lo = v.minimum if v.minimum is not None else -math.inf
    hi = v.maximum if v.maximum is not None else math.inf
    rng = range_text(v)
    if base == Base.INT:

        def check_int(x: Any) -> Any:
            if type(x) is not int:
                raise PatientError(name, f"{name}={_js(x)} is not a whole number (expected an integer in {rng})", x)
            if not lo <= x <= hi:
                raise PatientError(name, f"{name}={_js(x)} is outside {rng}", x)
            return x

        return check_int

    def check_real(x: Any) -> Any:
        t = type(x)
        if t is not float and t is not int:
            raise PatientError(name, f"{name}={_js(x)} is not a number (expected a value in {rng})", x)
        if not lo <= x <= hi:  # NaN fails both comparisons
            if t is float and not math.isfinite(x):
                shown = "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")  # as JSON input spells them
                raise PatientError(
                    name, f"{name}={shown} is not a finite number ({shown} is not valid JSON; expected {rng})", x
                )
            raise PatientError(name, f"{name}={_js(x)} is outside {rng}", x)
        return x

    return check_real


class PatientValidator:
    """Compiled validator for one spec; ``validate`` returns the known values."""

    def __init__(self, spec: Spec) -> None:
        self._checks: dict[str, Check] = {n: _checker(v) for n, v in spec.variables.items()}
        self._names = sorted(spec.variables)
        self._constraints = []
        # the fields a violation names: the inputs the constraint reads, in source order
        sites = spec.index.of_kind(SiteKind.CONSTRAINT)
        for c, site in zip(spec.constraints, sites, strict=True):
            self._constraints.append((compile_expr(c.formula.ast, spec.symbols), c, list(site.direct_inputs)))

    @property
    def compiled_constraints(self) -> tuple[tuple[Callable[[Any], Any], Constraint], ...]:
        """Each constraint with its compiled three-valued closure (what :meth:`validate` evaluates)."""
        return tuple((fn, c) for fn, c, _ in self._constraints)

    def validate(self, data: Any) -> dict[str, Any]:
        """The checked inputs of ``data`` (absent or null ones left out); :class:`PatientError` names a bad field."""
        if not isinstance(data, Mapping):
            raise PatientError("<input>", f"a patient must be a JSON object, got {type(data).__name__}", None)
        if len(data) > MAX_PATIENT_KEYS:
            raise PatientError("<input>", f"too many keys ({len(data)}; at most {MAX_PATIENT_KEYS})", None)
        checks = self._checks
        out: dict[str, Any] = {}
        for key, value in data.items():
            check = checks.get(key)
            if check is None:
                shown = key if isinstance(key, str) else repr(key)
                hint = _hint(shown, self._names)
                raise PatientError(str(key), f"unknown input '{shown}'{hint}", value)
            if value is not None:
                out[key] = check(value)
        for fn, c, fields in self._constraints:
            if fn(out) is False:
                vals = ", ".join(f"{f}={_show(out.get(f))}" for f in fields)
                raise PatientError(
                    fields[0] if fields else c.id,
                    f"inconsistent input ({c.id}): {c.message} [{vals}]",
                    out.get(fields[0]) if fields else None,
                )
        return out


def _show(x: Any) -> str:
    if x is None:
        return "absent"
    if isinstance(x, bool):
        return "true" if x else "false"
    return repr(x) if isinstance(x, str) else f"{x:g}" if isinstance(x, float) else str(x)


__all__ = ["PatientValidator"]
