"""The engine benchmark compares like with like: its hand-written baseline decides as the shipped spec does."""

from __future__ import annotations

from collections import Counter

import crs_model
from benchmarks.baseline_rules import decide
from benchmarks.bench_engine import complete_patients


def test_baseline_agrees_with_the_engine_on_the_benchmark_patients() -> None:
    engine = crs_model.Engine(crs_model.load_spec())
    seen: Counter[str] = Counter()
    for p in complete_patients(2000):
        d = engine.evaluate(p)
        assert decide(p)["recommendation"] == d.recommendation, p
        seen[d.recommendation] += 1
    # the benchmark patients spread over every code the spec declares
    assert set(seen) == set(engine.spec.recommendations), seen
