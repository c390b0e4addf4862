"""Fuzzing throughput (run on demand: ``python benchmarks/bench_fuzz.py [N]``).

Examples per second of each property of the suite, with the baseline measured in
the same run: the bare engine (``Engine.evaluate``) on the same number of
already generated patients - the ratio shows what generation, steering and the
checks cost on top of evaluation. Targets: engine-only properties >= 2,000
examples/s, the engine-vs-Z3 differential >= 500 examples/s. The suite runs on the
fixed-width generation backend (``crs_model.testing._backend``); one property is
also run on Hypothesis's standard backend, for comparison in the same run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import Phase, given, settings  # noqa: E402

import crs_model  # noqa: E402
from crs_model.loader import load_spec_bytes  # noqa: E402
from crs_model.testing import patients  # noqa: E402
from crs_model.testing._care import run_care_course  # noqa: E402
from crs_model.testing._profiles import profile  # noqa: E402
from crs_model.testing._properties import Context, run_property, suite  # noqa: E402
from tests.care.care_support import care_text  # noqa: E402

TARGETS = {"differential": 500.0}
DEFAULT_TARGET = 2000.0


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    spec = crs_model.load_spec()
    ctx = Context.for_spec(spec)
    base = settings(profile("ci"), phases=[Phase.explicit, Phase.generate])

    pool: list[dict[str, Any]] = []

    @settings(base, max_examples=n)
    @given(patients(spec))
    def collect(p: dict[str, Any]) -> None:
        pool.append(p)

    collect()
    t0 = time.perf_counter()
    for p in pool:
        ctx.engine.evaluate(p)
    engine_rate = len(pool) / (time.perf_counter() - t0)
    print(f"spec {spec.path} sha256 {spec.sha256[:12]}; {n} examples per property (ci profile, no shrinking)")
    print(f"baseline: bare Engine.evaluate on {len(pool)} generated patients: {engine_rate:,.0f} patients/s\n")
    print(f"{'property':<66} {'examples/s':>10} {'vs engine':>9} {'target':>7}")
    worst = 0
    for prop in suite(spec):
        share = prop.share
        r = run_property(prop, ctx, base, max(1, int(n * share)) if share < 1 else n)
        if r.skipped:
            print(f"{prop.name:<66} {'skipped':>10}   ({r.skipped})")
            continue
        rate = r.examples / r.seconds
        target = TARGETS.get(prop.name, DEFAULT_TARGET) if prop.name != "spec_loader" else None
        mark = "" if target is None else ("ok" if rate >= target else "BELOW")
        if mark == "BELOW":
            worst += 1
        print(f"{prop.name:<66} {rate:10,.0f} {rate / engine_rate:9.2f} {mark:>7}")
    # the same property on Hypothesis's standard backend (one byte per draw call, explored-choices tree)
    inv = next(p for p in suite(spec) if p.name == "invariants")
    r = run_property(inv, ctx, base, n, fast_backend=False)
    rate = r.examples / r.seconds
    label = "invariants, on the standard Hypothesis backend (for comparison)"
    print(f"{label:<66} {rate:10,.0f} {rate / engine_rate:9.2f}")
    # the care machine needs a care section: the shipped spec's, else the care tests' mini fixture
    care = spec if spec.care is not None else load_spec_bytes(care_text().encode(), "mini_care.yaml")
    r = run_care_course(care, base, n)
    steps = r.extra.get("steps", 0)
    label = f"care_course on {Path(care.path).name} (30-step courses; one engine call per step)"
    if r.failure or not r.seconds:
        print(f"{label:<66} {'failed' if r.failure else 'skipped':>10}   ({r.failure or r.skipped})")
    else:
        print(f"{label:<66} {steps / r.seconds:10,.0f} {steps / r.seconds / engine_rate:9.2f}  steps/s")
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
