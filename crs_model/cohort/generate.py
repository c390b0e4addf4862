"""A seeded synthetic cohort derived from the spec alone (no clinical number is typed here).

How a row is made:

1. A *pool* of valid patients is decoded from seeded random bytes by the property-test
   generator (:func:`crs_model.testing.patient_decoder`): every input drawn from its
   declared domain, biased to the spec's own thresholds, steered toward a drawn decision path
   (so every branch is reached and the inputs a path needs are correlated as the guards demand)
   and repaired into consistency with every declared constraint.
2. Each row copies a pool patient drawn at random, then makes each input absent with
   ``absent_share``. Absence never breaks validity: a constraint that held can only become
   unknown, never false.
3. A row is made invalid with ``invalid_share`` (default 0.5 %), of one of two kinds:

   - *constraint* (``CONSTRAINT_SHARE`` = half of the invalid rows): a row that breaks one
     declared consistency constraint with every value inside its domain, found for each
     constraint before the rows are drawn (:mod:`~crs_model.cohort.violations`); the
     constraint is drawn uniformly, and the inputs it reads are never made absent (that
     would make it unknown, so valid);
   - *domain* (the other half, and all of them when no constraint can be broken): one
     bounded numeric input set outside its declared range (one range width beyond a
     bound), or one enumerated input set to a value that is not one of its values.

   A cell of the wrong type (text in a number column) is not generated: the cohort is a
   typed table, and a typed Parquet column cannot hold one (the CSV and JSONL readers'
   handling of such cells is tested on hand-written files).

The shares are generic knobs, not clinical facts. The same ``seed`` gives the same rows.
The pool size trades realism for start-up time: each pool patient is one steered decode
(~0.2 ms), rows copy pool patients, so a cohort holds at most ``pool_size`` distinct
patients before absences and corruption (4,096 by default; 65,536 cost ~12 s more on one core).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from crs_model.cohort.columns import input_columns
from crs_model.cohort.violations import find_violations
from crs_model.model import Spec, Variable
from crs_model.types import Base

DEFAULT_ABSENT_SHARE = 0.05
DEFAULT_INVALID_SHARE = 0.005
DEFAULT_POOL = 4096  # distinct steered patients; decoding one costs ~0.2 ms, copying a row far less
CONSTRAINT_SHARE = 0.5  # of the invalid rows: those breaking a constraint (the rest: out of domain)
NOT_A_VALUE = "<not a declared value>"


def _corrupters(spec: Spec) -> list[tuple[str, list[Any]]]:
    """For each input that can be made invalid in a typed column: the out-of-domain values to use."""
    out: list[tuple[str, list[Any]]] = []
    for name, v in spec.variables.items():
        bad = _out_of_domain(v)
        if bad:
            out.append((name, bad))
    return out


def _out_of_domain(v: Variable) -> list[Any]:
    base = v.type.base
    if base == Base.ENUM:
        return [NOT_A_VALUE]
    if base not in (Base.INT, Base.REAL):
        return []
    lo, hi = v.minimum, v.maximum
    width = (hi - lo) if lo is not None and hi is not None and hi > lo else 1.0
    bad = []
    if hi is not None:
        bad.append(hi + width)
    if lo is not None:
        bad.append(lo - width)
    return [int(x) if base == Base.INT else float(x) for x in bad]


def generate(
    spec: Spec,
    n: int,
    *,
    seed: int = 0,
    absent_share: float = DEFAULT_ABSENT_SHARE,
    invalid_share: float = DEFAULT_INVALID_SHARE,
    batch_rows: int = 8192,
    pool_size: int = DEFAULT_POOL,
) -> Iterator[dict[str, list[Any]]]:
    """``n`` synthetic rows of ``spec``'s inputs, in column batches of at most ``batch_rows`` rows."""
    for label, share in (("absent_share", absent_share), ("invalid_share", invalid_share)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{label}={share!r} is outside 0..1")
    if n < 0:
        raise ValueError(f"n={n} is negative (expected a row count)")
    if pool_size < 1:
        raise ValueError(f"pool_size={pool_size} is not a positive count")
    from crs_model.testing import patient_decoder  # Hypothesis loads here, on this path only

    rng = random.Random(seed)  # noqa: S311 - a reproducible cohort, not a secret
    size, decode = patient_decoder(spec, absent_probability=0.0)
    pool = [decode(rng.randbytes(size)) for _ in range(max(1, min(n, pool_size)))]
    names = [c.name for c in input_columns(spec)]
    pool_rows = [[p.get(k) for k in names] for p in pool]
    index = {k: i for i, k in enumerate(names)}
    corrupt = [(index[k], bad) for k, bad in _corrupters(spec)]
    broken = find_violations(spec, names, pool_rows, rng) if invalid_share > 0 else []
    rand = rng.random
    done = 0
    while done < n:
        m = min(batch_rows, n - done)
        rows = []
        for _ in range(m):
            invalid = rand() < invalid_share
            if invalid and broken and rand() < CONSTRAINT_SHARE:
                of_one = broken[rng.randrange(len(broken))]  # the constraint first: each equally often
                v = of_one[rng.randrange(len(of_one))]
                row = [None if rand() < absent_share else x for x in v.row]
                for i in v.keep:
                    row[i] = v.row[i]
            else:
                row = [None if rand() < absent_share else x for x in pool_rows[rng.randrange(len(pool_rows))]]
                if invalid and corrupt:
                    i, bad = corrupt[rng.randrange(len(corrupt))]
                    row[i] = bad[rng.randrange(len(bad))]
            rows.append(row)
        yield {k: [r[i] for r in rows] for i, k in enumerate(names)}
        done += m
