"""UCUM unit conversion for FHIR quantities.

UCUM codes (``Cel``, ``[degF]``, ``[lb_av]``, ``10*3/uL``) are parsed by ``ucumvert``, a parser
for the full UCUM grammar generated from ``ucum-essence.xml``, and converted through the ``pint``
registry it builds (pint alone does not read UCUM: ``Cel`` and ``[lb_av]`` do not parse). Each
(source, target) pair is reduced once to an affine map ``scale * x + offset`` (offsets exist for
temperatures only), so mapping a value costs two float operations, not a pint conversion.
"""

from __future__ import annotations

import functools
from typing import Any

SIGNIFICANT_DIGITS = 12  # float noise of the affine map (101.3 [degF] -> 38.50000000000006) is cut here


class UnitError(ValueError):
    """A UCUM code that does not parse, or two codes that measure different things."""


@functools.cache
def _registry() -> Any:
    from ucumvert import PintUcumRegistry  # imported on first use: the FHIR path only

    return PintUcumRegistry()


def _parse(code: str) -> Any:
    from ucumvert import InvalidUcumError

    try:
        return _registry().from_ucum(code)
    except InvalidUcumError:
        raise UnitError(f"'{code}' is not a valid UCUM code") from None
    except Exception as exc:  # pint's own parse errors on what the UCUM grammar let through
        raise UnitError(f"'{code}' is not a usable UCUM code: {exc}") from None


@functools.cache
def affine(source: str, target: str) -> tuple[float, float]:
    """``(scale, offset)`` so that ``x`` in ``source`` is ``scale * x + offset`` in ``target``.

    Raises :class:`UnitError` when a code is not UCUM or the two are not commensurable.
    """
    from pint.errors import DimensionalityError

    a, b = _parse(source), _parse(target)
    ureg = _registry()

    def to_target(x: float) -> float:
        q = ureg.Quantity(x * float(a.magnitude), a.units).to(b.units)
        return float(q.magnitude) / float(b.magnitude)

    try:
        f0, f1 = to_target(0.0), to_target(1.0)
    except DimensionalityError:
        raise UnitError(f"'{source}' cannot be converted to '{target}' (different dimensions)") from None
    return f1 - f0, f0


def significant(x: float) -> float:
    """``x`` to :data:`SIGNIFICANT_DIGITS` significant digits (deterministic, free of conversion noise)."""
    return float(f"{x:.{SIGNIFICANT_DIGITS}g}")


def convert(value: float, source: str, target: str) -> float:
    """``value`` in UCUM unit ``source`` expressed in ``target``."""
    if source == target:
        return float(value)
    scale, offset = affine(source, target)
    return significant(scale * value + offset)


__all__ = ["UnitError", "affine", "convert", "significant"]
