"""Borderline decisions: would the recommendation change within an input's measurement error?

A spec may declare, per numeric input, how far a measured value may lie from the true one
(``measurement_error``). A decision is *borderline* on input ``x`` (measured ``v``, error
``e``) when some value in ``[v - e, v + e]`` (inside ``x``'s domain, every other input held)
gives another recommendation. Computed without a solver, on the evaluation path's terms:

* Only an input a guard or a required output reads (directly or through definitions) can change
  the recommendation; the others are never looked at.
* An input compared only with constants (and with other inputs, whose values are then the cut
  points too) gives the same result on each *cell* of the line those cut points separate (the
  argument :mod:`crs_model.completion` rests on). So only the cells the interval reaches are
  tried, one value each, and a decision whose interval contains no cut point costs a bisection.
  This is exact: every recommendation some value in the interval gives is found.
* An *opaque* input (read by arithmetic, ``min``/``max`` or as an ``if`` value) that a guard reads
  is also tried at the interval's ends; between its cut points a flip can then be missed (the Z3
  check ``crs-model robustness`` covers it). One only outputs read (the weight of a dose) changes
  whether an output is known only through a comparison, so its cut points suffice.

A changed value that breaks a consistency constraint is not a patient: it is skipped. Each
entry names the input, its measured value, the threshold crossed (the cut point bounding the
other cell on the measured value's side; ``None`` for a flip found only at an opaque input's
interval end) and the recommendation it would be. One entry per input and other recommendation,
the nearest threshold first.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple

from crs_model.completion import build_scope
from crs_model.exact import Exact, exact
from crs_model.index import SiteKind
from crs_model.model import ErrorKind, Spec
from crs_model.types import Base

if TYPE_CHECKING:
    from crs_model.engine import Decision, Engine

Number = int | float


@dataclass(frozen=True, slots=True)
class Borderline:
    """One way a decision's recommendation would change within an input's measurement error."""

    input: str
    value: Number  # the measured value
    threshold: Number | None  # the cut point crossed (None: only sampled at an opaque input's interval end)
    would_be: str  # the recommendation a value within the error gives

    def to_dict(self) -> dict[str, Any]:
        """``{"input", "value", "threshold", "would_be"}`` as in the JSON decision."""
        return {"input": self.input, "value": self.value, "threshold": self.threshold, "would_be": self.would_be}


def borderline_text(b: Borderline, spec: Spec) -> str:
    """``IL-6 480 pg/mL is within ±20 % of 500 pg/mL: within the error it would be consider_cytosorb``."""
    var = spec.variables[b.input]
    unit = f" {var.unit}" if var.unit else ""
    err = var.measurement_error
    within = f"within {err.text(var.unit)} of" if err is not None else "near"
    reach = f"{within} {_shown(b.threshold)}{unit}" if b.threshold is not None else f"{within} its measured value"
    return f"{var.label} {_shown(b.value)}{unit} is {reach}: within the error it would be {b.would_be}"


def _shown(x: Number) -> str:
    return f"{x:.0f}" if isinstance(x, float) and x.is_integer() else str(x)


class _Reach(NamedTuple):
    lo: Exact  # the interval, inside the domain
    hi: Exact
    cuts: tuple[tuple[Exact, str], ...]  # the cut points inside it, ascending, with their sides


@dataclass(frozen=True, slots=True)
class _Measured:
    name: str
    is_int: bool
    lo: float | None  # the domain
    hi: float | None
    cuts: tuple[float, ...]  # the constants it is compared with, ascending (for the quick test)
    exact_cuts: tuple[tuple[Exact, str], ...]  # the same, exact, with the side each point joins
    partners: tuple[str, ...]  # inputs it is compared with: their values are cut points too
    opaque: bool
    absolute: bool  # the error's kind and amount, read on every decision
    amount: float
    always: bool  # partners or opaque: tried even with no constant cut point within reach


def _one_per_gap(cuts: list[Exact], lo: Exact, hi: Exact, is_int: bool) -> list[Number]:
    """Patient values of ``[lo, hi]``: its ends, each cut point and one value strictly inside each gap
    between neighbours, so every cell of the comparisons with ``cuts`` has one (ascending; floats, as
    patients give them: a cut point's float may fall beside it, its cell is then read off exactly)."""
    points = sorted({float(p) for p in (lo, *cuts, hi)})
    out: list[Number] = []
    for i, p in enumerate(points):
        out.append(int(p) if is_int else p)
        if i + 1 < len(points):
            q = points[i + 1]
            if is_int:
                if math.floor(p) + 1 < q:
                    out.append(math.floor(p) + 1)
            elif p < (mid := (p + q) / 2) < q:
                out.append(mid)
    return out


def _number(p: Exact) -> Number:
    """A cut point as JSON shows it: an int where it is whole, else a float."""
    return int(p) if isinstance(p, int) or p.denominator == 1 else float(p)


class BorderlineFinder:
    """The measured inputs of one spec and their cut points, built once per engine (on first use)."""

    def __init__(self, spec: Spec) -> None:
        idx = spec.index
        guards = {n for s in idx.sites if s.kind is SiteKind.GUARD for n in s.inputs}
        # a required output's value never decides; whether it is known can, through a comparison only
        read = guards | {n for s in idx.sites if s.kind is SiteKind.OUTPUT for n in s.inputs}
        scope = build_scope(spec)
        out: list[_Measured] = []
        for name, var in spec.variables.items():
            err = var.measurement_error
            if err is None or name not in read:  # nothing the route depends on reads it
                continue
            cuts = scope.cuts.get(name, ())
            partners = scope.group.get(name, ())
            opaque = name in scope.opaque and name in guards
            out.append(
                _Measured(
                    name,
                    var.type.base == Base.INT,
                    var.minimum,
                    var.maximum,
                    tuple(float(c) for c, _ in cuts),
                    cuts,
                    partners,
                    opaque,
                    err.kind is ErrorKind.ABSOLUTE,
                    err.amount,
                    bool(partners) or opaque,
                )
            )
        self.measured = tuple(out)
        self._variables = frozenset(spec.variables)
        names = frozenset(m.name for m in out)
        self._all = names
        self._node_reads = {
            nid: frozenset(n for e in node.edges for n in idx.by_element[f"edge:{e.id}"][0].inputs if n in names)
            for nid, node in spec.nodes.items()
        }
        self._outcome_reads = {
            oid: frozenset(n for out_name in o.outputs for n in idx.definitions[out_name].inputs if n in names)
            for oid, o in spec.outcomes.items()
        }
        self._reads_cache: dict[tuple[tuple[str, ...], str | None], frozenset[str]] = {}

    def find(self, decision: Decision, env: Mapping[str, Any], engine: Engine) -> tuple[Borderline, ...]:
        """The borderline entries of ``decision``, made by ``engine`` from the validated inputs in ``env``."""
        found: list[Borderline] = []
        reads: frozenset[str] | None = None
        for m in self.measured:
            v = env.get(m.name)
            if v is None:
                continue
            # the quick test, first: domain and whole numbers only shrink the interval
            half = m.amount if m.absolute else abs(v) * m.amount
            if not m.always and bisect_left(m.cuts, v - half) == bisect_right(m.cuts, v + half):
                continue
            reach = self._reach(m, v, half, env)
            if reach is None:
                continue
            if reads is None:  # only once some input's interval reaches a cut point
                reads = self._route_reads(engine, env)
            if m.name in reads:
                found.extend(self._flips(m, v, reach, decision.recommendation, env, engine.decide_valid))
        return tuple(found)

    def _route_reads(self, engine: Engine, env: Mapping[str, Any]) -> frozenset[str]:
        """The measured inputs that can change this patient's route: those the guards of the nodes on
        its three-valued route (and the required outputs of the outcome it reaches) read. Every input,
        when the exact engine decided over completions (their routes go beyond the stopping node)."""
        route = engine.route_nodes(env)
        if route is None:
            return self._all
        hit = self._reads_cache.get(route)
        if hit is None:
            nodes, outcome = route
            acc: set[str] = set()
            for n in nodes:
                acc |= self._node_reads.get(n, frozenset())
            if outcome is not None:
                acc |= self._outcome_reads.get(outcome, frozenset())
            hit = frozenset(acc)
            if len(self._reads_cache) < 4096:
                self._reads_cache[route] = hit
        return hit

    def _reach(self, m: _Measured, v: Number, half: float, env: Mapping[str, Any]) -> _Reach | None:
        """The interval of ``v`` and the cut points inside it, or None when none is (and no sampling is due)."""
        lo, hi = float(v) - half, float(v) + half
        if m.lo is not None:
            lo = max(lo, m.lo)
        if m.hi is not None:
            hi = min(hi, m.hi)
        if m.is_int:
            lo, hi = float(math.ceil(lo)), float(math.floor(hi))
        # the cut points inside [lo, hi]: the constants, then the partners' recorded values
        # rounding is monotonic: a cut whose exact value is inside [lo, hi] has its float inside too
        i, j = bisect_left(m.cuts, lo), bisect_right(m.cuts, hi)
        if i == j and not m.partners and not m.opaque:  # the common case: nothing within reach
            return None
        xlo, xhi = exact(lo), exact(hi)
        cuts = [(c, side) for c, side in m.exact_cuts[i:j] if xlo <= c <= xhi]
        for p in m.partners:
            pv = env.get(p)
            if pv is not None and xlo <= exact(pv) <= xhi:
                cuts.append((exact(pv), "point"))
        if not cuts and not m.opaque:
            return None
        cuts.sort()
        return _Reach(xlo, xhi, tuple(cuts))

    def _flips(
        self,
        m: _Measured,
        v: Number,
        reach: _Reach,
        now: str,
        env: Mapping[str, Any],
        decide: Callable[[dict[str, Any]], Decision | None],
    ) -> list[Borderline]:
        xv, xlo, xhi, cuts = exact(v), reach.lo, reach.hi, reach.cuts

        def cell(x: Exact) -> tuple[int, ...]:
            return tuple(
                int(x >= c) if side == "up" else int(x > c) if side == "down" else (x > c) - (x < c) for c, side in cuts
            )

        home = cell(xv)
        tried: set[tuple[int, ...]] = {home}
        best: dict[str, tuple[Fraction, Number | None]] = {}  # would_be -> (distance, threshold)
        inputs = {k: x for k, x in env.items() if k in self._variables}  # definitions are recomputed
        for r in _one_per_gap([c for c, _ in cuts], xlo, xhi, m.is_int):
            xr = exact(r)
            key = cell(xr)
            if m.opaque:
                if xr == xv:
                    continue
            elif key in tried:
                continue
            tried.add(key)
            changed = dict(inputs)
            changed[m.name] = r
            d = decide(changed)
            if d is None or d.recommendation == now:  # not a valid patient, or no flip
                continue
            rec = d.recommendation
            crossed = [c for (c, _), a, b in zip(cuts, home, key, strict=True) if a != b]  # the cuts between v and r
            # the cut bounding r's cell on v's side: the last one crossed going from v to r
            thr: Exact | None = (max(crossed) if xv < xr else min(crossed)) if crossed else None
            dist = abs(Fraction(thr if thr is not None else xr) - xv)
            old = best.get(rec)
            if old is None or dist < old[0]:
                best[rec] = (dist, _number(thr) if thr is not None else None)
        return [
            Borderline(m.name, v, thr, rec) for rec, (_, thr) in sorted(best.items(), key=lambda kv: (kv[1][0], kv[0]))
        ]
