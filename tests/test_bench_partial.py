"""The partial-patient benchmark measures what it says: valid complete patients, 1-3 given fields
dropped, and witnesses of undecidable answers that really are two valid completions disagreeing."""

from __future__ import annotations

import crs_model
from benchmarks.bench_engine import _answer, _disagreeing_completion, bench_partial, drop_fields, strategy_patients
from crs_model.testing import boundary_values

# fever, hypotension, no vasopressor, no tocilizumab yet: the first dose whatever vasopressin is
DECIDED_WITHOUT_VASOPRESSIN = {
    "on_cytosorb": False,
    "etiology": "car_t",
    "weight_kg": 72.5,
    "temperature_c": 39.1,
    "hypotension": True,
    "vasopressor_count": 0,
    "vasopressin": False,
    "oxygen_support": "none",
    "tocilizumab_doses": 0,
    "corticosteroids_given": False,
}


def test_strategy_patients_are_valid_deterministic_and_dropping_keeps_them_valid() -> None:
    engine = crs_model.Engine(crs_model.load_spec())
    first, again = strategy_patients(40), strategy_patients(40)
    assert first == again
    assert len({tuple(sorted(p.items())) for p in first}) > 30  # not one patient repeated
    dropped = drop_fields(first)
    assert dropped == drop_fields(again)
    for p, (partial, names) in zip(first, dropped, strict=True):
        engine.evaluate(p)  # valid: no PatientError
        assert all(v is not None for v in p.values())
        assert 1 <= len(names) <= 3
        assert set(names) <= set(p)
        assert partial == {k: v for k, v in p.items() if k not in names}
        engine.evaluate(partial)  # a dropped field is unknown, never inconsistent


def test_a_witness_is_found_only_where_completions_disagree() -> None:
    spec = crs_model.load_spec()
    engine = crs_model.Engine(spec)
    pool = strategy_patients(200)
    bounds = boundary_values(spec)
    ref = _answer(spec, engine.evaluate(DECIDED_WITHOUT_VASOPRESSIN))
    assert ref == ("give_first_tocilizumab", 580.0)
    # vasopressin does not change the answer: no completion can disagree
    no_vaso = {k: v for k, v in DECIDED_WITHOUT_VASOPRESSIN.items() if k != "vasopressin"}
    assert engine.evaluate(no_vaso).recommendation == "give_tocilizumab"
    assert not _disagreeing_completion(engine, no_vaso, ("vasopressin",), pool, ref, bounds)
    # the temperature does (no fever, no CRS): a completion from the pool shows it
    no_temp = {k: v for k, v in DECIDED_WITHOUT_VASOPRESSIN.items() if k != "temperature_c"}
    assert engine.evaluate(no_temp).recommendation == "insufficient_data"
    assert _disagreeing_completion(engine, no_temp, ("temperature_c",), pool, ref, bounds)


def test_bench_partial_counts_are_consistent() -> None:
    r = bench_partial(120)
    assert 0 < r["n"] <= r["drawn"] == 120
    assert 0 <= r["decided"] <= r["insufficient"]
    assert r["left"] == r["insufficient"] - r["decided"]
    assert 0 <= r["witnessed"] <= r["left"]
    assert sum(asked for _, asked, _ in r["by_input"]) >= r["insufficient"]  # each asks for at least one input
    assert all(0 <= decided <= asked for _, asked, decided in r["by_input"])
    assert r["full_ratio"] > 0
    assert r["partial_ratio"] > 0
