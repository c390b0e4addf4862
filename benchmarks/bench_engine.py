"""Engine benchmarks (run on demand: ``make bench``). Prints ratios against baselines
measured in the same run, so the numbers mean something on a shared machine.

1. API evaluation (validation + decision) vs the hand-written baseline function, and the
   one-call `crs_model.evaluate` vs `Engine.evaluate`.
2. CLI on a 20,000-line JSONL file vs a minimal hand-written JSONL loop.
3. ``import crs_model`` time, and which heavy modules it pulls in.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import crs_model  # noqa: E402
from benchmarks.baseline_rules import decide  # noqa: E402


def complete_patients(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Complete, valid patients spread over every branch (deterministic)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        doses = rng.choice([0, 0, 1, 2, 3, 4])
        vaso = rng.choice([0, 0, 1, 2, 3])
        p: dict[str, Any] = {
            "etiology": rng.choice(["car_t", "covid19", "sepsis", "other"]),
            "age_years": round(rng.uniform(1, 90), 1),
            "weight_kg": round(rng.uniform(10, 140), 1),
            "bmi_kg_m2": round(rng.uniform(15, 45), 1),
            "pregnant": rng.random() < 0.05,
            "temperature_c": round(rng.uniform(36.5, 40.5), 1),
            "hypotension": vaso > 0 or rng.random() < 0.4,
            "vasopressor_count": vaso,
            "vasopressin": vaso > 0 and rng.random() < 0.3,
            "oxygen_support": rng.choice(["none", "low_flow", "high_flow", "positive_pressure"]),
            "tocilizumab_doses": doses,
            "corticosteroids_given": doses > 0 and rng.random() < 0.7,
            "il6_pg_ml": round(rng.uniform(5, 5000), 1),
            "crp_mg_l": round(rng.uniform(1, 300), 1),
            "ferritin_ng_ml": round(rng.uniform(100, 20000), 1),
            "d_dimer_mg_l_feu": round(rng.uniform(0.1, 20), 2),
            "multi_organ_dysfunction": rng.random() < 0.4,
            "organ_dysfunction_progressive": rng.random() < 0.2,
            "severe_capillary_leak": rng.random() < 0.2,
            "respiratory_failure_refractory_to_prone": rng.random() < 0.2,
            "aki": rng.random() < 0.3,
            "on_crrt": rng.random() < 0.2,
            "on_ecmo": rng.random() < 0.1,
            "anticoagulation_contraindicated": rng.random() < 0.1,
            "heparin_induced_thrombocytopenia": rng.random() < 0.05,
            "platelets_10e9_l": round(rng.uniform(5, 300), 0),
            "cytosorb_cartridges_used": 0,
            "on_cytosorb": False,
        }
        if vaso or p["vasopressin"]:
            p["norepinephrine_equivalent_ug_kg_min"] = round(rng.uniform(0.05, 0.6), 2)
        if rng.random() < 0.25:  # on CytoSorb: the course branch
            hours = round(rng.uniform(0, 120), 1)
            p.update(on_cytosorb=True, cytosorb_cartridges_used=1 + int(hours // 24), hours_on_cytosorb=hours)
            p["hours_since_cartridge_change"] = round(min(hours, rng.uniform(0, 30)), 1)
            p["cytosorb_response"] = rng.choice(["improved", "unchanged", "worsened"])
        p["hemodynamic_instability_persistent"] = (
            p["hypotension"] and doses > 0 and p["corticosteroids_given"] and rng.random() < 0.5
        )
        if doses:
            last = round(rng.uniform(1, 48), 1)
            p["hours_since_last_tocilizumab"] = last
            p["hours_since_first_tocilizumab"] = round(last + 8 * (doses - 1) + rng.uniform(0, 12), 1)
        out.append(p)
    return out


def best_of(fn: Any, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_api(n: int = 20_000) -> dict[str, float]:
    engine = crs_model.Engine(crs_model.load_spec())
    pts = complete_patients(n)
    # the two implementations must agree before their speed is compared
    for p in pts[:2000]:
        assert engine.evaluate(p).recommendation == decide(p)["recommendation"], p
    t_base = best_of(lambda: [decide(p) for p in pts])
    t_eng = best_of(lambda: [engine.evaluate(p) for p in pts])
    t_dict = best_of(lambda: [engine.evaluate(p).to_dict() for p in pts])
    # the documented one-call API, on the bundled spec and with a Spec object
    evaluate, spec = crs_model.evaluate, engine.spec
    t_api = best_of(lambda: [evaluate(p) for p in pts])
    t_api_spec = best_of(lambda: [evaluate(p, spec=spec) for p in pts])
    return {
        "baseline_us": 1e6 * t_base / n,
        "engine_us": 1e6 * t_eng / n,
        "engine_to_dict_us": 1e6 * t_dict / n,
        "api_us": 1e6 * t_api / n,
        "ratio": t_eng / t_base,
        "ratio_with_to_dict": t_dict / t_base,
        "api_vs_engine": t_api / t_eng,
        "api_spec_vs_engine": t_api_spec / t_eng,
        "api_vs_baseline": t_api / t_base,
    }


MINIMAL_LOOP = """
import json, sys
sys.path.insert(0, {root!r})
from benchmarks.baseline_rules import decide
out = sys.stdout.write
for line in open(sys.argv[1]):
    out(json.dumps(decide(json.loads(line))) + "\\n")
"""


def bench_cli(n: int = 20_000) -> dict[str, float]:
    exe = str(Path(sys.executable).parent / "crs-model")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.jsonl"
        path.write_text("".join(json.dumps(p) + "\n" for p in complete_patients(n)))
        loop = Path(tmp) / "loop.py"
        loop.write_text(MINIMAL_LOOP.format(root=str(ROOT)))

        def cli() -> None:
            subprocess.run([exe, "evaluate", str(path)], check=True, stdout=subprocess.DEVNULL)

        def minimal() -> None:
            subprocess.run([sys.executable, str(loop), str(path)], check=True, stdout=subprocess.DEVNULL)

        t_cli = best_of(cli, 3)
        t_min = best_of(minimal, 3)
    return {"cli_s": t_cli, "minimal_loop_s": t_min, "ratio": t_cli / t_min}


def bench_import() -> dict[str, Any]:
    def timed(code: str) -> float:
        samples = []
        for _ in range(7):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples)

    bare = timed("pass")
    full = timed("import crs_model")
    probe = "import sys, crs_model; print([m for m in ('z3', 'hypothesis', 'pydot') if m in sys.modules])"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {"import_ms": 1000 * (full - bare), "interpreter_ms": 1000 * bare, "heavy_modules": res.stdout.strip()}


def main() -> None:
    api = bench_api()
    print(
        f"API evaluate: engine {api['engine_us']:.1f} us/patient, hand-written baseline {api['baseline_us']:.1f} us"
        f" -> ratio {api['ratio']:.2f}x (goal <= 4x); with to_dict() {api['ratio_with_to_dict']:.2f}x"
    )
    print(
        f"crs_model.evaluate(p): {api['api_us']:.1f} us/patient -> {api['api_vs_engine']:.3f}x Engine.evaluate"
        f" (goal <= 1.2x), {api['api_vs_baseline']:.2f}x the baseline (goal <= 4x);"
        f" evaluate(p, spec=Spec) {api['api_spec_vs_engine']:.3f}x Engine.evaluate"
    )
    cli = bench_cli()
    print(
        f"CLI 20,000-line JSONL: crs-model {cli['cli_s']:.2f} s, minimal loop {cli['minimal_loop_s']:.2f} s"
        f" -> ratio {cli['ratio']:.2f}x (goal <= 3x)"
    )
    imp = bench_import()
    print(
        f"import crs_model: {imp['import_ms']:.0f} ms over a bare interpreter ({imp['interpreter_ms']:.0f} ms)"
        f" (goal <= 250 ms); heavy modules imported: {imp['heavy_modules']}"
    )


if __name__ == "__main__":
    main()
