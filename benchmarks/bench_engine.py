"""Engine benchmarks (run on demand: ``make bench``). Prints ratios against baselines
measured in the same run, so the numbers mean something on a shared machine.

1. API evaluation (validation + decision) vs the hand-written baseline function, and the
   one-call `crs_model.evaluate` vs `Engine.evaluate`.
2. CLI on a 20,000-line JSONL file vs a minimal hand-written JSONL loop.
3. ``import crs_model`` time, and which heavy modules it pulls in.
4. Exact decisions under absent inputs (``python benchmarks/bench_engine.py partial [N]`` runs
   only this part): (a) complete patients, ``Engine(spec)`` vs ``Engine(spec, exact=False)``;
   (b) partial patients (random valid complete patients from the testing strategies' decoder,
   then 1-3 given fields dropped) vs their complete originals, with ``Engine(spec)``, with and
   without ``to_json()``; (c) which ``insufficient_data`` answers of the three-valued engine the
   exact one decides, by input asked for, and for the answers still ``insufficient_data`` whether
   two valid completions sampled from other patients' values disagree (a witness that the
   answer cannot be decided).
"""

from __future__ import annotations

import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import crs_model  # noqa: E402
from benchmarks.baseline_rules import decide  # noqa: E402


def complete_patients(n: int, seed: int = 7, *, post_il6: bool = True) -> list[dict[str, Any]]:
    """Complete, valid patients spread over every branch (deterministic). ``post_il6=False`` leaves
    out the optional post-treatment IL-6 of patients on CytoSorb (a flag then stays possible)."""
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
            if post_il6:
                p["post_cytosorb_il6_pg_ml"] = round(rng.uniform(5, 2000), 1)
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


def strategy_patients(n: int, seed: int = 11) -> list[dict[str, Any]]:
    """Random valid complete patients from the testing strategies' decoder (no input absent but the
    ones a constraint leaves without a value), deterministic: seeded bytes, decoded."""
    from crs_model.testing._strategies import patient_decoder  # here: it imports Hypothesis

    size, decode = patient_decoder(crs_model.load_spec(), 0.0)
    rng = random.Random(seed)
    return [{k: v for k, v in decode(rng.randbytes(size)).items() if v is not None} for _ in range(n)]


def drop_fields(patients: list[dict[str, Any]], seed: int = 12) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    """Each patient with 1-3 of its given fields dropped (uniformly, deterministic), and the dropped names."""
    rng = random.Random(seed)
    out = []
    for p in patients:
        dropped = tuple(rng.sample(sorted(p), rng.randint(1, min(3, len(p)))))
        out.append(({k: v for k, v in p.items() if k not in dropped}, dropped))
    return out


def _timed(fn: Any, items: list[Any], repeat: int) -> float:
    return best_of(lambda: [fn(x) for x in items], repeat) / len(items)


def _paired(fa: Any, fb: Any, items: list[Any], repeat: int = 5) -> tuple[float, float]:
    """Best time per item of ``fa`` and of ``fb``, run alternately (a drifting machine slows both alike)."""
    best = [math.inf, math.inf]
    for _ in range(repeat):
        for i, fn in enumerate((fa, fb)):
            t0 = time.perf_counter()
            for x in items:
                fn(x)
            best[i] = min(best[i], time.perf_counter() - t0)
    return best[0] / len(items), best[1] / len(items)


def _answer(spec: crs_model.Spec, d: crs_model.Decision) -> tuple[Any, ...] | None:
    """What a definitive answer is (outcome and the outputs it lists), None for insufficient_data."""
    if d.outcome is None:
        return None
    return (d.outcome, *(d.outputs[n] for n in spec.outcomes[d.outcome].outputs))


def _disagreeing_completion(
    engine: crs_model.Engine,
    partial: dict[str, Any],
    dropped: tuple[str, ...],
    pool: list[dict[str, Any]],
    reference: tuple[Any, ...] | None,
    boundaries: dict[str, tuple[float, ...]],
    tries: int = 60,
) -> bool:
    """Whether a valid completion of ``partial`` gives another answer than ``reference`` (:func:`_answer`
    of the complete original): a witness that ``partial`` cannot be decided. A completion takes the
    dropped fields from a pool patient or the ``boundaries`` (or leaves them absent where the pool
    patient has none) and, if that is still undecided, every other absent input the pool patient has."""
    rng = random.Random(",".join(dropped))  # a str seed is hashed deterministically (not hash())
    absent = [k for k in engine.spec.variables if k not in partial]
    for _ in range(tries):
        src = dict(pool[rng.randrange(len(pool))])
        for k in dropped:  # half the time a numeric field takes a value at or next to a threshold
            if k in boundaries and rng.random() < 0.5:
                src[k] = rng.choice(boundaries[k])
        for names in (dropped, absent):
            trial = dict(partial)
            trial.update((k, src[k]) for k in names if k in src)
            try:
                answer = _answer(engine.spec, engine.evaluate(trial))
            except crs_model.PatientError:
                break  # not a valid completion
            if answer is not None:
                if answer != reference:
                    return True
                break
    return False


def bench_partial(n: int = 3000) -> dict[str, Any]:
    spec = crs_model.load_spec()
    exact, three = crs_model.Engine(spec), crs_model.Engine(spec, exact=False)
    drawn = strategy_patients(n)
    # complete: three-valued evaluation leaves nothing open, so both engines give the same JSON (the
    # decoder may leave an input absent that no constraint requires, e.g. hours since the last dose)
    complete = [
        p
        for p in drawn
        if three.evaluate(p).recommendation != "insufficient_data"
        and exact.evaluate(p).to_json() == three.evaluate(p).to_json()
    ]
    partial = drop_fields(complete)
    # (a) complete records, every input given: the exact engine has nothing to search; and the same
    # records without the optional post-treatment IL-6, which leaves a flag possible on CytoSorb
    full_records = complete_patients(n)
    records = complete_patients(n, post_il6=False)
    t_exact_full, t_three_full = _paired(exact.evaluate, three.evaluate, full_records)
    t_exact_rec, t_three_rec = _paired(exact.evaluate, three.evaluate, records)
    possible = sum(bool(exact.evaluate(p).possible_flags) for p in records)
    t_exact, t_three = _paired(exact.evaluate, three.evaluate, complete)
    # (b) partial patients vs their complete originals, same engine
    parts = [p for p, _ in partial]
    t_part = _timed(exact.evaluate, parts, 3)
    t_part_json = _timed(lambda p: exact.evaluate(p).to_json(), parts, 3)
    t_comp_json = _timed(lambda p: exact.evaluate(p).to_json(), complete, 5)
    t_part_three = _timed(three.evaluate, parts, 3)
    slow: list[tuple[float, tuple[str, ...]]] = []
    for p, dropped in partial:
        t0 = time.perf_counter()
        exact.evaluate(p)
        slow.append((time.perf_counter() - t0, dropped))
    slow.sort(reverse=True)
    # (c) insufficient_data under three-valued evaluation, decided by the exact method
    from crs_model.testing import boundary_values
    from crs_model.verify.oracle import ExactOracle  # an independent Z3 decision of the same question

    oracle = ExactOracle(spec)
    boundaries = boundary_values(spec)
    asked: Counter[str] = Counter()
    decided: Counter[str] = Counter()
    n_insufficient = n_decided = n_device = n_left = n_witnessed = n_needless = n_wrong = 0
    for (p, dropped), full in zip(partial, complete, strict=True):
        d3, dx = three.evaluate(p), exact.evaluate(p)
        ref = _answer(spec, exact.evaluate(full))
        if dx.outcome is not None:  # sound: the complete original is a valid completion
            assert _answer(spec, dx) == ref, (p, dropped)
        if d3.recommendation != "insufficient_data":
            continue
        n_insufficient += 1
        now_decided = dx.recommendation != "insufficient_data"
        n_decided += now_decided
        n_device += now_decided and spec.recommendations[dx.recommendation].cls.value == "device"
        for name in d3.missing:
            asked[name] += 1
            decided[name] += now_decided
        if not now_decided:
            n_left += 1
            n_witnessed += _disagreeing_completion(exact, p, dropped, complete, ref, boundaries)
        # the solver's exact answer: a needless insufficient_data is one it decides; a wrong one differs
        rec, outcome, _ = oracle.decide(p)
        if rec != dx.recommendation or outcome != dx.outcome:
            n_needless += dx.outcome is None
            n_wrong += dx.outcome is not None
    return {
        "n": len(complete),
        "drawn": n,
        "records": len(records),
        "full_three_us": 1e6 * t_three_full,
        "full_exact_us": 1e6 * t_exact_full,
        "full_ratio": t_exact_full / t_three_full,
        "records_ratio": t_exact_rec / t_three_rec,
        "records_possible": possible,
        "complete_three_us": 1e6 * t_three,
        "complete_exact_us": 1e6 * t_exact,
        "complete_ratio": t_exact / t_three,
        "partial_us": 1e6 * t_part,
        "partial_ratio": t_part / t_exact,
        "partial_json_ratio": t_part_json / t_comp_json,
        "partial_three_ratio": t_part_three / t_three,
        "slowest": [(1e3 * t, d) for t, d in slow[:5]],
        "p99_ms": 1e3 * slow[len(slow) // 100][0],
        "insufficient": n_insufficient,
        "decided": n_decided,
        "device": n_device,
        "left": n_left,
        "witnessed": n_witnessed,
        "needless": n_needless,
        "wrong": n_wrong,
        "by_input": [(k, asked[k], decided[k]) for k, _ in asked.most_common()],
    }


def print_partial(r: dict[str, Any]) -> None:
    print(
        f"(a) complete records, every input given ({r['records']}): Engine(spec) {r['full_exact_us']:.1f} us, "
        f"Engine(spec, exact=False) {r['full_three_us']:.1f} us -> {r['full_ratio']:.3f}x (goal <= 1.05x); "
        f"the same records without the optional post-treatment IL-6: {r['records_ratio']:.3f}x "
        f"({r['records_possible']} with a possible flag); strategy patients decided alike by both "
        f"({r['n']} of {r['drawn']} drawn): {r['complete_ratio']:.3f}x"
    )
    print(
        f"(b) partial patients (1-3 fields dropped): Engine(spec) {r['partial_us']:.1f} us/patient -> "
        f"{r['partial_ratio']:.2f}x a complete patient (goal <= 3x); with to_json() {r['partial_json_ratio']:.2f}x; "
        f"three-valued on the same partial patients {r['partial_three_ratio']:.2f}x; p99 {r['p99_ms']:.2f} ms; "
        "slowest: " + ", ".join(f"{t:.1f} ms ({'+'.join(d)})" for t, d in r["slowest"])
    )
    ins, dec = r["insufficient"], r["decided"]
    print(
        f"(c) insufficient_data under three-valued evaluation: {ins}; decided by the exact method: {dec} "
        f"({100 * dec / max(ins, 1):.1f} %), {r['device']} of them device decisions; still insufficient_data: "
        f"{r['left']}, of which {r['witnessed']} with two sampled valid completions that disagree "
        f"({r['left'] - r['witnessed']} without such a witness by sampling); against the Z3 exact oracle "
        f"(ExactOracle): needless insufficient_data {r['needless']} of {ins} "
        f"({100 * r['needless'] / max(ins, 1):.1f} %), definitive answers that differ {r['wrong']}"
    )
    print("    input asked for (three-valued)        asked  decided exactly")
    for name, asked, decided in r["by_input"]:
        print(f"    {name:<38} {asked:>5}  {decided:>5} ({100 * decided / asked:.0f} %)")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "partial":
        print_partial(bench_partial(int(sys.argv[2]) if len(sys.argv) > 2 else 3000))
        return
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
    print_partial(bench_partial())


if __name__ == "__main__":
    main()
