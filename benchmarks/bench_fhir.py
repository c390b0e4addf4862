"""FHIR mapping cost: ``crs_model.fhir.to_patient`` per bundle pair against ``json.loads`` of the same bytes.

The two hand-built R4 test bundles (``tests/data/fhir/``: an ICU chart and a medications
searchset, with stale, preliminary and entered-in-error data) are parsed and mapped
repeatedly, after one warm-up call that loads the spec, the mapping file and the UCUM
registry. The ratio is what an integrator pays for mapping on top of reading the JSON it
receives anyway; it is measured against ``json.loads`` in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crs_model.fhir import to_patient  # noqa: E402

BUNDLES = (
    ROOT / "tests" / "data" / "fhir" / "icu_chart.json",
    ROOT / "tests" / "data" / "fhir" / "icu_medications.json",
)


def _best(fn: Callable[[], None], n: int, rounds: int = 5) -> float:
    """Best-of-``rounds`` mean seconds per call of ``fn`` over ``n`` calls."""
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t) / n)
    return best


def main() -> None:
    """Print the per-call times and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="calls per round (default 300)")
    ap.add_argument("--at", default="2026-12-01T12:00:00+00:00", help="the reference time of the bundles")
    args = ap.parse_args()
    raw = [p.read_bytes() for p in BUNDLES]
    at = datetime.fromisoformat(args.at)
    t0 = time.perf_counter()
    mapped = to_patient([json.loads(b) for b in raw], at=at)
    first = time.perf_counter() - t0
    resources = sum(len(json.loads(b).get("entry", [])) for b in raw)

    def parse() -> None:
        for b in raw:
            json.loads(b)

    def parse_and_map() -> None:
        to_patient([json.loads(b) for b in raw], at=at)

    t_parse = _best(parse, args.n)
    t_map = _best(parse_and_map, args.n)
    kept, left = len(mapped.patient), len(mapped.ignored)
    print(f"bundles: {len(raw)} ({resources} entries), inputs mapped: {kept}, resources ignored: {left}")
    print(f"first call (loads spec, mapping, UCUM registry): {first * 1000:.0f} ms")
    print(f"json.loads: {t_parse * 1e6:.0f} us; json.loads + to_patient: {t_map * 1e6:.0f} us")
    print(f"mapping cost: {(t_map - t_parse) / t_parse:.2f}x json.loads on top of it ({t_map / t_parse:.2f}x in total)")


if __name__ == "__main__":
    main()
