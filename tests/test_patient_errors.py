"""Invalid patient input: PatientError naming the field (API), exit 2 with the field,
value and allowed range on stderr and nothing on stdout (CLI), and one error record
per bad line in a JSONL batch."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest

import crs_model
from crs_model import PatientError
from crs_model.cli import main
from crs_model.model import Spec
from tests.vignette_support import SPEC_PATH

# (case id, patient, field named, fragments of the message)
CASES: list[tuple[str, Any, str, tuple[str, ...]]] = [
    ("unknown_key", {"il6": 500}, "il6", ("unknown input 'il6'", "did you mean 'il6_pg_ml'")),
    ("unknown_key_typo", {"wieght_kg": 70}, "wieght_kg", ("did you mean 'weight_kg'",)),
    ("true_for_real", {"weight_kg": True}, "weight_kg", ("weight_kg=true is not a number", "0.5..350 kg")),
    ("true_for_int", {"vasopressor_count": True}, "vasopressor_count", ("is not a whole number", "0..6")),
    ("float_for_int", {"tocilizumab_doses": 1.5}, "tocilizumab_doses", ("tocilizumab_doses=1.5", "0..10")),
    ("text_for_real", {"weight_kg": "70"}, "weight_kg", ('weight_kg="70" is not a number',)),
    ("text_for_bool", {"pregnant": "true"}, "pregnant", ("is not a boolean",)),
    ("int_for_bool", {"aki": 1}, "aki", ("aki=1 is not a boolean",)),
    ("nan", {"il6_pg_ml": math.nan}, "il6_pg_ml", ("il6_pg_ml=NaN is not a finite number", "1,000,000 pg/mL")),
    ("infinity", {"crp_mg_l": math.inf}, "crp_mg_l", ("crp_mg_l=Infinity", "0..1,000 mg/L")),
    ("minus_infinity", {"temperature_c": -math.inf}, "temperature_c", ("-Infinity", "25..45 °C")),
    ("below_min", {"weight_kg": 0.4}, "weight_kg", ("weight_kg=0.4 is outside 0.5..350 kg",)),
    ("above_max", {"weight_kg": 350.1}, "weight_kg", ("weight_kg=350.1 is outside 0.5..350 kg",)),
    ("age_negative", {"age_years": -1}, "age_years", ("age_years=-1 is outside 0..120 years",)),
    ("temperature_high", {"temperature_c": 45.5}, "temperature_c", ("outside 25..45 °C",)),
    ("int_above_max", {"vasopressor_count": 7}, "vasopressor_count", ("vasopressor_count=7 is outside 0..6",)),
    ("int_negative", {"tocilizumab_doses": -1}, "tocilizumab_doses", ("outside 0..10",)),
    ("platelets_high", {"platelets_10e9_l": 2000.5}, "platelets_10e9_l", ("outside 0..2,000",)),
    ("bad_enum", {"etiology": "cart"}, "etiology", ("car_t, covid19, sepsis, other", "did you mean 'car_t'")),
    ("enum_number", {"oxygen_support": 2}, "oxygen_support", ("none, low_flow, high_flow, positive_pressure",)),
    ("enum_case", {"oxygen_support": "High_Flow"}, "oxygen_support", ("is not one of",)),
    ("not_an_object_list", [1, 2], "<input>", ("must be a JSON object",)),
    ("not_an_object_text", "car_t", "<input>", ("must be a JSON object",)),
    ("not_an_object_null", None, "<input>", ("must be a JSON object",)),
]

# One violation per declared consistency constraint (the test below checks that every
# constraint of the spec has one): (constraint id, patient, field named).
CONSTRAINT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("vasopressors_need_hypotension", {"vasopressor_count": 1, "hypotension": False}, "vasopressor_count"),
    ("vasopressin_needs_hypotension", {"vasopressin": True, "hypotension": False}, "vasopressin"),
    (
        "hours_need_a_prior_dose",
        {"hours_since_last_tocilizumab": 5, "tocilizumab_doses": 0},
        "hours_since_last_tocilizumab",
    ),
    (
        "persistent_instability_after_standard_therapy",
        {
            "hemodynamic_instability_persistent": True,
            "hypotension": True,
            "tocilizumab_doses": 1,
            "corticosteroids_given": False,
        },
        "hemodynamic_instability_persistent",
    ),
    (
        "post_il6_needs_cytosorb",
        {"post_cytosorb_il6_pg_ml": 700, "cytosorb_cartridges_used": 0},
        "post_cytosorb_il6_pg_ml",
    ),
    (
        "first_dose_hours_need_a_dose",
        {"hours_since_first_tocilizumab": 5, "tocilizumab_doses": 0},
        "hours_since_first_tocilizumab",
    ),
    (
        "vasopressor_dose_needs_a_vasopressor",
        {"norepinephrine_equivalent_ug_kg_min": 0.2, "vasopressor_count": 0, "vasopressin": False},
        "norepinephrine_equivalent_ug_kg_min",
    ),
    ("running_cytosorb_needs_a_cartridge", {"on_cytosorb": True, "cytosorb_cartridges_used": 0}, "on_cytosorb"),
    ("cytosorb_hours_need_a_cartridge", {"hours_on_cytosorb": 5, "cytosorb_cartridges_used": 0}, "hours_on_cytosorb"),
    (
        "cartridge_hours_need_running_cytosorb",
        {"hours_since_cartridge_change": 5, "on_cytosorb": False},
        "hours_since_cartridge_change",
    ),
]


@pytest.fixture(scope="module")
def pspec() -> Spec:
    return crs_model.load_spec(SPEC_PATH)


def _cli(tmp_path: Path, name: str, text: str) -> tuple[int, str, str]:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    rc = main(["evaluate", str(f), "--format", "json"], out, err)
    return rc, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------ API
@pytest.mark.parametrize(("case", "patient", "field", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_api_rejects(case: str, patient: Any, field: str, fragments: tuple[str, ...]) -> None:
    with pytest.raises(PatientError) as exc:
        crs_model.evaluate(patient)
    assert isinstance(exc.value, ValueError)
    assert exc.value.field == field
    for frag in fragments:
        assert frag in exc.value.message


def test_every_constraint_has_a_violation_case(pspec: Spec) -> None:
    assert sorted(c.id for c in pspec.constraints) == sorted(c[0] for c in CONSTRAINT_CASES)


@pytest.mark.parametrize(("cid", "patient", "field"), CONSTRAINT_CASES, ids=[c[0] for c in CONSTRAINT_CASES])
def test_api_rejects_inconsistent_input(cid: str, patient: dict[str, Any], field: str) -> None:
    with pytest.raises(PatientError) as exc:
        crs_model.evaluate(patient)
    assert exc.value.field == field
    assert f"inconsistent input ({cid})" in exc.value.message


@pytest.mark.parametrize(("cid", "patient", "field"), CONSTRAINT_CASES, ids=[c[0] for c in CONSTRAINT_CASES])
def test_constraint_with_an_unknown_side_passes(cid: str, patient: dict[str, Any], field: str) -> None:
    """An absent value makes the constraint unknown, which passes (only false rejects)."""
    decision = crs_model.evaluate({field: patient[field]})
    assert decision.recommendation == "insufficient_data"


@pytest.mark.parametrize("name", ["weight_kg", "hypotension", "etiology", "vasopressor_count"])
def test_null_means_absent(name: str) -> None:
    assert crs_model.evaluate({name: None}).missing == crs_model.evaluate({}).missing


def test_every_variable_rejects_an_out_of_domain_value(pspec: Spec) -> None:
    """Derived from the spec, so a new input is covered without a new test."""
    for name, v in pspec.variables.items():
        if v.type.base == "bool":
            bad: Any = "yes"
        elif v.type.base == "enum":
            bad = "zzz_not_a_value"
        else:
            assert v.maximum is not None
            bad = int(v.maximum) + 1 if v.type.base == "int" else v.maximum + 0.5
        with pytest.raises(PatientError) as exc:
            crs_model.evaluate({name: bad})
        assert exc.value.field == name
        assert exc.value.value == bad


# ------------------------------------------------------------------ CLI, one object
@pytest.mark.parametrize(
    ("case", "patient", "field", "fragments"),
    [c for c in CASES if c[0] not in ("nan", "infinity", "minus_infinity")],
    ids=[c[0] for c in CASES if c[0] not in ("nan", "infinity", "minus_infinity")],
)
def test_cli_rejects(tmp_path: Path, case: str, patient: Any, field: str, fragments: tuple[str, ...]) -> None:
    rc, out, err = _cli(tmp_path, "p.json", json.dumps(patient))
    assert rc == 2
    assert out == ""
    assert err.startswith("crs-model: error: ")
    assert "Traceback" not in err
    if field != "<input>":
        assert field in err
    for frag in fragments:
        assert frag in err


@pytest.mark.parametrize(
    ("text", "shown", "rng"),
    [
        ('{"weight_kg": NaN}', "weight_kg=NaN", "0.5..350 kg"),
        ('{"il6_pg_ml": Infinity}', "il6_pg_ml=Infinity", "0..1,000,000 pg/mL"),
        ('{"temperature_c": -Infinity}', "temperature_c=-Infinity", "25..45 °C"),
    ],
)
def test_cli_rejects_nan_and_infinity_in_json(tmp_path: Path, text: str, shown: str, rng: str) -> None:
    rc, out, err = _cli(tmp_path, "p.json", text)
    assert rc == 2
    assert out == ""
    assert shown in err  # the field and the value as written
    assert rng in err  # the allowed range
    assert "not valid JSON" in err


@pytest.mark.parametrize(("cid", "patient", "field"), CONSTRAINT_CASES, ids=[c[0] for c in CONSTRAINT_CASES])
def test_cli_rejects_inconsistent_input(tmp_path: Path, cid: str, patient: dict[str, Any], field: str) -> None:
    rc, out, err = _cli(tmp_path, "p.json", json.dumps(patient))
    assert rc == 2
    assert out == ""
    assert cid in err
    assert f"{field}=" in err  # the values involved are echoed


# ------------------------------------------------------------------ CLI, JSONL batch
def test_jsonl_batch_one_line_per_input_line(tmp_path: Path) -> None:
    good = {"on_cytosorb": False, "temperature_c": 36.9, "tocilizumab_doses": 0, "corticosteroids_given": False}
    lines = [
        json.dumps(good),
        json.dumps({"il6": 500}),
        json.dumps({"weight_kg": True}),
        '{"weight_kg": NaN}',
        json.dumps({"vasopressor_count": 1, "hypotension": False}),
        json.dumps([1, 2]),
        "{not json",
        json.dumps({}),
    ]
    rc, out, err = _cli(tmp_path, "batch.jsonl", "\n".join(lines) + "\n")
    assert rc == 2
    rows = [json.loads(x) for x in out.splitlines()]
    assert len(rows) == len(lines)
    assert rows[0]["recommendation"] == "no_crs"
    assert rows[7]["recommendation"] == "insufficient_data"
    expected_fields = {2: "il6", 3: "weight_kg", 4: "weight_kg", 5: "vasopressor_count", 6: "<input>", 7: "<input>"}
    for n, field in expected_fields.items():
        row = rows[n - 1]
        assert set(row) == {"line", "error"}
        assert row["line"] == n
        assert set(row["error"]) == {"field", "message"}
        assert row["error"]["field"] == field
        assert row["error"]["message"]
    assert "0.5..350 kg" in rows[3]["error"]["message"]
    assert "invalid JSON" in rows[6]["error"]["message"]
    assert "some lines were invalid" in err


def test_jsonl_batch_all_valid_exits_0(tmp_path: Path) -> None:
    lines = [
        json.dumps({"temperature_c": 36.0 + i / 10, "tocilizumab_doses": 0, "corticosteroids_given": False})
        for i in range(3)
    ]
    rc, out, err = _cli(tmp_path, "ok.jsonl", "\n".join(lines) + "\n")
    assert rc == 0
    assert err == ""
    assert len(out.splitlines()) == 3


# ------------------------------------------------------------------ ints too big for a float
def _numeric_variables(spec: Spec) -> list[str]:
    return [n for n, v in spec.variables.items() if v.type.numeric]


@pytest.mark.parametrize(
    "value",
    [10**5000, -(10**5000), 10**400, -(10**309), 2**1024],
    ids=["1e5000", "-1e5000", "1e400", "-1e309", "2^1024"],  # str() of such an int raises
)
def test_api_rejects_ints_too_big_for_a_float(pspec: Spec, value: int) -> None:
    """Every numeric input (int and real kinds): PatientError naming the field, never OverflowError."""
    names = _numeric_variables(pspec)
    assert {pspec.variables[n].type.base for n in names} == {"int", "real"}
    for name in names:
        with pytest.raises(PatientError) as exc:
            crs_model.evaluate({name: value})
        assert exc.value.field == name
        assert f"{name}=" in str(exc.value)
        assert "is outside" in str(exc.value)
        assert "digits>" in str(exc.value)  # its size, not 5,000 digits echoed back
        assert ("-<an integer" in str(exc.value)) is (value < 0)


@pytest.mark.parametrize("digits", [400, 5000])
def test_cli_rejects_ints_too_big_for_a_float(tmp_path: Path, digits: int) -> None:
    # 5,000 digits is over Python's 4,300-digit int-from-text limit: still read, still named
    rc, out, err = _cli(tmp_path, "p.json", '{"weight_kg": -1' + "0" * digits + "}")
    assert rc == 2
    assert out == ""
    assert "Traceback" not in err
    assert f"weight_kg=-<an integer of {digits + 1} digits> is outside" in err


@pytest.mark.parametrize(
    ("patient", "field"),
    [
        ({"il6": None, "weight_kg": True}, "il6"),  # an unknown key is an error even when null
        ({"weight_kg": True, "il6": None}, "weight_kg"),  # the first bad key in the record's order
        ({"weight_kg": 70, "aki": 1, "pregnant": "no"}, "aki"),
    ],
)
def test_the_first_bad_key_in_order_is_reported(patient: dict[str, Any], field: str) -> None:
    with pytest.raises(PatientError) as exc:
        crs_model.evaluate(patient)
    assert exc.value.field == field
