"""Boundary values harvested from a spec's expressions.

Every numeric constant and parameter the spec compares an input against is a
threshold; the interesting inputs sit exactly at it and just either side of it
(``weight_kg`` 29.9 / 30 / 30.1 for the 30 kg dose cut-off). Thresholds reached
through a multiplier (``min(800, 8 * weight_kg)`` caps at 100 kg) are harvested
too. No hypothesis import here: the values are plain data, reused by the
mutation runner and the care-course machine.
"""

from __future__ import annotations

import math

from crs_model.model import Spec, Variable
from crs_model.types import Base

REAL_STEP = 0.1  # "just below / above" for a real input, readable in a care story


def _near(v: Variable, c: float) -> list[float]:
    if v.type.base == Base.INT:
        lo = math.floor(c)
        cands: list[float] = [lo - 1, lo, lo + 1] if lo == c else [lo, lo + 1]
    else:
        cands = [round(c - REAL_STEP, 6), c, round(c + REAL_STEP, 6)]
    return cands


def harvest(spec: Spec, *, near_only: bool = False) -> dict[str, tuple[float, ...]]:
    """Boundary values for every numeric input: at, just below and just above each threshold.

    Sources: comparisons and memberships of the input against a constant, caps
    divided by a multiplier of the input, every numeric constant and parameter of
    the spec that lies in the input's domain, and the domain ends. ``near_only``
    keeps only the first two: the values right at the input's own thresholds.
    """
    idx = spec.index
    out: dict[str, tuple[float, ...]] = {}
    for name, compared in idx.thresholds.items():
        v = spec.variables[name]
        lo = v.minimum if v.minimum is not None else -math.inf
        hi = v.maximum if v.maximum is not None else math.inf
        vals: set[float] = set()
        for c in {*compared, *idx.members[name], *idx.cap_crossings[name]}:
            vals.update(_near(v, c))
        if not near_only:
            vals.update(c for c in idx.constants if v.type.base != Base.INT or float(c).is_integer())
            if math.isfinite(lo):
                vals.add(lo)
            if math.isfinite(hi):
                vals.add(hi)
        keep = sorted(round(x, 6) for x in vals if lo <= x <= hi and (v.type.base != Base.INT or float(x).is_integer()))
        out[name] = tuple(int(x) for x in keep) if v.type.base == Base.INT else tuple(keep)
    return out


def thresholds(spec: Spec) -> dict[str, tuple[float, ...]]:
    """Only the thresholds each numeric input is directly compared with (for reports and tests)."""
    return dict(spec.index.thresholds)
