"""Rows that break a declared consistency constraint, found by a seeded, bounded search.

Each row is a valid pool patient with one input the constraint reads set to another value
of that input's own domain (its bounds, the spec's thresholds for it and the values one
either side of them, its enum values, true/false), kept only when the constraint is false on it,
every other constraint is not false, and :class:`~crs_model.patient.PatientValidator`
rejects it. So a row is rejected by exactly the constraint it was made for, with every
value in its declared domain. Nothing about the constraints is typed here: they, their
inputs and the candidate values come from the spec.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crs_model.errors import PatientError
from crs_model.index import SiteKind
from crs_model.model import Spec, Variable
from crs_model.patient import PatientValidator
from crs_model.types import Base

TRIES_PER_CONSTRAINT = 512  # bounded: a constraint no single-input change can break gets no rows
ROWS_PER_CONSTRAINT = 32


@dataclass(frozen=True, slots=True)
class Violation:
    """One row (values in column order) that ``constraint`` rejects; ``keep`` are the columns it reads."""

    constraint: str
    row: tuple[Any, ...]
    keep: tuple[int, ...]


def candidates(spec: Spec, v: Variable) -> list[Any]:
    """In-domain values of ``v`` to try: booleans, enum values, bounds and thresholds (with neighbours)."""
    base = v.type.base
    if base == Base.BOOL:
        return [True, False]
    if base == Base.ENUM:
        return list(v.type.values)
    lo, hi = v.minimum, v.maximum
    points = {x for x in (lo, hi) if x is not None}
    for t in spec.index.thresholds.get(v.name, ()):
        points.update((t - 1, t, t + 1))
    inside = sorted(x for x in points if (lo is None or lo <= x) and (hi is None or x <= hi))
    if base == Base.INT:
        return sorted({int(x) for x in inside if float(x).is_integer()})
    return [float(x) for x in inside]


def find_violations(
    spec: Spec, names: Sequence[str], pool: Sequence[Sequence[Any]], rng: random.Random
) -> list[list[Violation]]:
    """Per constraint (in spec order, empty ones left out): up to ``ROWS_PER_CONSTRAINT`` distinct rows it rejects."""
    validator = PatientValidator(spec)
    fns = [fn for fn, _ in validator.compiled_constraints]
    index = {k: i for i, k in enumerate(names)}
    values = {k: candidates(spec, spec.variables[k]) for k in names}
    out: list[list[Violation]] = []
    sites = spec.index.of_kind(SiteKind.CONSTRAINT)
    for ci, (c, site) in enumerate(zip(spec.constraints, sites, strict=True)):
        reads = [k for k in site.inputs if values[k]]
        keep = tuple(sorted(index[k] for k in site.inputs))
        found: dict[tuple[Any, ...], Violation] = {}
        for _ in range(TRIES_PER_CONSTRAINT if reads else 0):
            if len(found) >= ROWS_PER_CONSTRAINT:
                break
            row = list(pool[rng.randrange(len(pool))])
            k = reads[rng.randrange(len(reads))]
            row[index[k]] = values[k][rng.randrange(len(values[k]))]
            known = {n: x for n, x in zip(names, row, strict=True) if x is not None}
            if fns[ci](known) is not False or any(fn(known) is False for j, fn in enumerate(fns) if j != ci):
                continue
            try:
                validator.validate(known)
            except PatientError:
                found.setdefault(tuple(row), Violation(c.id, tuple(row), keep))
        if found:
            out.append(list(found.values()))
    return out
