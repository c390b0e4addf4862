"""FHIR R4 -> patient: rules, units, statuses, windows, assessments, provenance, errors, CLI."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crs_model import load_spec
from crs_model.cli import main
from crs_model.errors import FhirError, PatientError, SpecError
from crs_model.fhir import load_mapping, mapping_path_for, to_patient
from crs_model.fhir.units import affine, convert

DATA = Path(__file__).parent / "data" / "fhir"
CHART, MEDS = DATA / "icu_chart.json", DATA / "icu_medications.json"
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
UCUM, LOINC = "http://unitsofmeasure.org", "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ASSESS = "urn:crs-model:assessment"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _obs(rid: str, code: str, value: float, unit: str, when: str = "2026-12-01T08:00:00Z", **kw: Any) -> Any:
    o = {
        "resourceType": "Observation",
        "id": rid,
        "status": kw.pop("status", "final"),
        "code": {"coding": [{"system": kw.pop("system", LOINC), "code": code}]},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "system": UCUM, "code": unit},
    }
    o.update(kw)
    return o


def _ma(rid: str, rx: str, status: str, start: str, end: str | None = None) -> Any:
    period = {"start": start} | ({"end": end} if end else {})
    return {
        "resourceType": "MedicationAdministration",
        "id": rid,
        "status": status,
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rx}]},
        "subject": {"reference": "Patient/p"},
        "effectivePeriod": period,
    }


def _assess(rid: str, name: str, when: str = "2026-12-01T09:00:00Z", **value: Any) -> Any:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": ASSESS, "code": name}]},
        "effectiveDateTime": when,
        **value,
    }


# ---------------------------------------------------------------- the hand-built ICU bundles
EXPECTED = {
    "etiology": "car_t",
    "age_years": 57,  # born 1968-12-02: the birthday is tomorrow
    "weight_kg": 79.83225712,  # 176 [lb_av]; the older 82500 g weight is superseded
    "bmi_kg_m2": 27.6,
    "pregnant": False,
    "temperature_c": 39.0,  # 102.2 [degF], the highest of the final ones in 24 h
    "hypotension": True,
    "vasopressor_count": 2,  # norepinephrine (twice) + epinephrine; phenylephrine stopped
    "vasopressin": True,
    "oxygen_support": "high_flow",
    "tocilizumab_doses": 2,  # the entered-in-error third dose does not count
    "hours_since_last_tocilizumab": 12.0,
    "hours_since_first_tocilizumab": 22.0,
    "corticosteroids_given": True,
    "hemodynamic_instability_persistent": True,
    "il6_pg_ml": 1450.0,
    "crp_mg_l": 152.0,  # 15.2 mg/dL x 10
    "ferritin_ng_ml": 12800.0,
    "d_dimer_mg_l_feu": 4.2,
    "on_ecmo": False,  # ECMO procedure completed days ago
    "platelets_10e9_l": 96.0,
    "cytosorb_cartridges_used": 0,
}


def test_test_bundles_are_valid_fhir_r4() -> None:
    from fhirclient.models.bundle import Bundle  # R4 4.0.1 models; strict raises on any structural error

    for path in (CHART, MEDS):
        bundle = Bundle(_load(path), strict=True)
        assert bundle.entry
        assert all(e.resource is not None for e in bundle.entry)
    broken = _load(CHART)
    broken["entry"][2]["resource"]["valueQuantity"]["value"] = "high"
    with pytest.raises(Exception, match="Wrong type"):
        Bundle(broken, strict=True)


def test_realistic_bundles_map_every_rule() -> None:
    mapped = to_patient([_load(CHART), _load(MEDS)], at=AT)
    assert mapped.patient == EXPECTED
    assert list(mapped.patient) == [n for n in load_spec().variables if n in EXPECTED]  # spec order


def test_ignored_lists_stale_non_final_and_superseded_with_reasons() -> None:
    ignored = {
        (i["resource"], i["reason"].split(" ")[0]) for i in to_patient([_load(CHART), _load(MEDS)], at=AT).ignored
    }
    assert ("Observation/temp-3", "stale") in ignored  # 30 h old
    assert ("Observation/crp-2", "stale") in ignored
    assert ("Observation/temp-4", "status") in ignored  # preliminary
    assert ("Observation/temp-5", "status") in ignored  # entered-in-error
    assert ("Observation/il6-2", "status") in ignored
    assert ("MedicationAdministration/toci-3", "status") in ignored
    assert ("MedicationAdministration/phen-1", "status") in ignored  # stopped
    assert ("Observation/plt-2", "no") in ignored  # dataAbsentReason
    assert ("Observation/temp-1", "superseded") in ignored
    assert ("Observation/hr-1", "no") in ignored  # no rule for heart rate
    assert ("Encounter/enc-icu-1", "no") in ignored


def test_provenance_names_resources_raw_values_and_units() -> None:
    prov = to_patient([_load(CHART), _load(MEDS)], at=AT).provenance
    assert prov["crp_mg_l"] == [
        {
            "resource": "Observation/crp-1",
            "code": "http://loinc.org|1988-5",
            "time": "2026-12-01T06:30:00+00:00",
            "value": 15.2,
            "unit": "mg/dL",
            "converted": 152.0,
            "to": "mg/L",
            "rule": "latest of 1",  # crp-2 is stale
        }
    ]
    assert [p["resource"] for p in prov["tocilizumab_doses"]] == [
        "MedicationAdministration/toci-1",
        "MedicationAdministration/toci-2",
    ]
    assert all(p["unverified_code"] for p in prov["tocilizumab_doses"])  # RxNorm 612865 is unverified
    assert prov["etiology"][0]["resource"] == "Observation/as-etio"


def test_pooling_is_order_independent_and_deterministic() -> None:
    resources = [e["resource"] for b in (_load(CHART), _load(MEDS)) for e in b["entry"]]
    random.Random(7).shuffle(resources)  # noqa: S311 - a reproducible order, not a secret
    shuffled = to_patient(resources, at=AT)  # a bare list of resources, as a prefetch may hold
    assert shuffled.patient == EXPECTED
    once = json.dumps(to_patient([_load(CHART), None, _load(MEDS)], at=AT).to_dict())
    assert once == json.dumps(to_patient([_load(CHART), None, _load(MEDS)], at=AT).to_dict())
    # the same resource in two prefetch results counts once
    again = to_patient([_load(MEDS), _load(MEDS)], at=AT)
    assert again.patient["tocilizumab_doses"] == 2


# ---------------------------------------------------------------- units
@pytest.mark.parametrize(
    ("code", "value", "name", "expected"),
    [
        ("8310-5", 101.3, "temperature_c", 38.5),
        ("8310-5", 38.2, "temperature_c", 38.2),
        ("29463-7", 154.0, "weight_kg", 69.85322498),
        ("29463-7", 70500, "weight_kg", 70.5),
        ("1988-5", 12.0, "crp_mg_l", 120.0),
        ("1988-5", 12.0, "crp_mg_l", 12.0),
        ("26881-3", 640, "il6_pg_ml", 640.0),
        ("2276-4", 950, "ferritin_ng_ml", 950.0),
        ("48065-7", 3.5, "d_dimer_mg_l_feu", 3.5),
        ("777-3", 45, "platelets_10e9_l", 45.0),
        ("39156-5", 31.0, "bmi_kg_m2", 31.0),
    ],
    ids=["degF", "Cel", "lb_av", "g", "mg/dL", "mg/L", "ng/L", "ug/L", "ug/mL", "10*3/uL", "kg/m2"],
)
def test_each_unit_conversion(code: str, value: float, name: str, expected: float) -> None:
    units = {"temperature_c": {38.5: "[degF]", 38.2: "Cel"}, "weight_kg": {69.85322498: "[lb_av]", 70.5: "g"}}
    single = {"crp_mg_l": {120.0: "mg/dL", 12.0: "mg/L"}}
    table = units.get(name) or single.get(name)
    unit = table[expected] if table else {
        "il6_pg_ml": "ng/L", "ferritin_ng_ml": "ug/L", "d_dimer_mg_l_feu": "ug/mL",
        "platelets_10e9_l": "10*3/uL", "bmi_kg_m2": "kg/m2",
    }[name]  # fmt: skip
    assert to_patient([_obs("x", code, value, unit)], at=AT).patient == {name: expected}


def test_crp_mg_dl_is_ten_times_mg_l_by_the_ucum_library() -> None:
    assert affine("mg/dL", "mg/L") == (10.0, 0.0)
    assert convert(212.0, "[degF]", "Cel") == 100.0
    assert convert(1.0, "10*3/uL", "10*9/L") == 1.0


def test_unit_not_listed_for_the_input_is_refused_naming_the_resource() -> None:
    with pytest.raises(FhirError, match=r"Observation/w1: unit 'mg' is not accepted for weight_kg"):
        to_patient([_obs("w1", "29463-7", 70, "mg")], at=AT)  # convertible, but not listed: refused
    with pytest.raises(FhirError, match=r"Observation/c2: unit 'mg/dl' is not accepted.*did you mean 'mg/dL'"):
        to_patient([_obs("c2", "1988-5", 12, "mg/dl")], at=AT)


def test_quantity_without_ucum_code_is_refused() -> None:
    o = _obs("c3", "1988-5", 12, "mg/dL")
    o["valueQuantity"] = {"value": 12, "unit": "mg/dL"}
    with pytest.raises(FhirError, match="Observation/c3: valueQuantity for crp_mg_l has no UCUM code") as exc:
        to_patient([o], at=AT)
    assert exc.value.resource_id == "Observation/c3"


def test_value_outside_domain_after_conversion_names_the_resource() -> None:
    with pytest.raises(PatientError, match=r"crp_mg_l=1500.0 is outside .*\(from Observation/c4\)") as exc:
        to_patient([_obs("c4", "1988-5", 150, "mg/dL")], at=AT)  # 1500 mg/L > 1000
    assert exc.value.field == "crp_mg_l"


# ---------------------------------------------------------------- statuses, windows, times
def test_statuses_windows_and_future_times() -> None:
    items = [
        _obs("a", "1988-5", 50, "mg/L", "2026-11-29T11:00:00Z"),  # 49 h: stale
        _obs("b", "1988-5", 60, "mg/L", "2026-12-01T13:00:00Z"),  # after at
        _obs("c", "1988-5", 70, "mg/L", status="amended"),
        _obs("d", "1988-5", 80, "mg/L", "2026-12-01T09:00:00Z", status="preliminary"),
        _obs("e", "1988-5", 90, "mg/L", "2026-12-01"),  # to the day only: no instant
    ]
    mapped = to_patient(items, at=AT)
    assert mapped.patient == {"crp_mg_l": 70.0}
    reasons = {i["resource"]: i["reason"] for i in mapped.ignored}
    assert reasons["Observation/a"].startswith("stale for crp_mg_l: 49 h")
    assert "after the reference time" in reasons["Observation/b"]
    assert reasons["Observation/d"].startswith("status 'preliminary'")
    assert "gives no time of day" in reasons["Observation/e"]


def test_in_progress_infusion_that_ended_does_not_count() -> None:
    items = [
        _ma("n1", "7512", "in-progress", "2026-12-01T01:00:00Z", "2026-12-01T05:00:00Z"),
        _ma("e1", "3992", "in-progress", "2026-12-01T01:00:00Z"),
    ]
    mapped = to_patient(items, at=AT)
    assert mapped.patient["vasopressor_count"] == 1
    assert any(i["resource"] == "MedicationAdministration/n1" and "ended" in i["reason"] for i in mapped.ignored)


def test_none_found_is_zero_only_when_that_record_was_sent() -> None:
    dexa = _ma("d1", "3264", "completed", "2026-12-01T01:00:00Z")
    mapped = to_patient([dexa], at=AT)
    assert mapped.patient["tocilizumab_doses"] == 0
    assert mapped.patient["vasopressor_count"] == 0
    assert "on_ecmo" not in mapped.patient  # no Procedure was sent: unknown, not false
    assert to_patient([_obs("t", "8310-5", 38, "Cel")], at=AT).patient == {"temperature_c": 38.0}


def test_age_from_birth_date_at_the_reference_time() -> None:
    def age(born: str, at: datetime) -> Any:
        return to_patient([{"resourceType": "Patient", "id": "p", "birthDate": born}], at=at).patient.get("age_years")

    assert age("2008-12-01", AT) == 18
    assert age("2008-12-02", AT) == 17
    assert age("2008", AT) is None  # year only: not computed, listed
    with pytest.raises(FhirError, match="Patient/p: birthDate"):
        age("2008-13-01", AT)


# ---------------------------------------------------------------- assessments
def test_assessment_overrides_a_derived_value() -> None:
    items = [
        _ma("n1", "7512", "in-progress", "2026-12-01T01:00:00Z"),
        _assess("s1", "vasopressor_count", valueInteger=3),
        _assess("s0", "vasopressor_count", "2026-12-01T08:00:00Z", valueInteger=2),
        _assess("s2", "temperature_c", valueQuantity={"value": 100.4, "system": UCUM, "code": "[degF]"}),
        _assess("s3", "aki", valueBoolean=False),
    ]
    mapped = to_patient([*items, _obs("t", "8310-5", 39.5, "Cel")], at=AT)
    assert mapped.patient["vasopressor_count"] == 3
    assert mapped.patient["temperature_c"] == 38.0
    assert mapped.patient["aki"] is False
    assert mapped.provenance["vasopressor_count"][0]["overrides"] == 1
    assert mapped.provenance["temperature_c"][0]["overrides"] == 39.5


def test_bad_assessments_are_errors_naming_the_resource() -> None:
    with pytest.raises(FhirError, match=r"Observation/s1: assessment code 'akii' is not an input.*'aki'"):
        to_patient([_assess("s1", "akii", valueBoolean=True)], at=AT)
    with pytest.raises(FhirError, match="Observation/s2: aki expects valueBoolean, found valueInteger"):
        to_patient([_assess("s2", "aki", valueInteger=1)], at=AT)
    with pytest.raises(FhirError, match=r"Observation/s3: valueCodeableConcept for etiology.*car_t"):
        to_patient(
            [_assess("s3", "etiology", valueCodeableConcept={"coding": [{"system": ASSESS, "code": "cart"}]})], at=AT
        )


# ---------------------------------------------------------------- bad FHIR
@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"id": "x"}, r"input\[0\]: not a FHIR resource: no 'resourceType'"),
        ("text", r"input\[0\]: expected a FHIR resource"),
        ({"resourceType": "Bundle", "id": "b", "entry": {}}, "Bundle/b: Bundle.entry must be a list"),
        ({"resourceType": "Observation", "id": "o", "code": {"coding": [{"system": LOINC, "code": "1988-5"}]}},
         "Observation/o: Observation.status is required"),
        (_obs("v", "1988-5", float("nan"), "mg/L"), "Observation/v: valueQuantity.value must be a finite number"),
        ({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Observation", "status": "final",
          "code": {"coding": [{"system": LOINC, "code": "1988-5"}]}, "effectiveDateTime": "2026-12-01T08:00:00Z",
          "valueString": "high"}}]}, r"Observation at input\[0\].entry\[0\].resource: crp_mg_l expects valueQuantity"),
    ],
    ids=["no-type", "not-object", "entry-not-list", "no-status", "nan", "no-id-string-value"],
)  # fmt: skip
def test_bad_fhir_is_an_error_naming_the_resource(item: Any, message: str) -> None:
    with pytest.raises(FhirError, match=message):
        to_patient([item], at=AT)


def test_conflicting_versions_of_one_resource_are_refused() -> None:
    with pytest.raises(FhirError, match="Observation/c: appears twice with different content"):
        to_patient([_obs("c", "1988-5", 10, "mg/L"), _obs("c", "1988-5", 11, "mg/L")], at=AT)


def test_reference_time_needs_a_zone() -> None:
    with pytest.raises(FhirError, match="no time zone"):
        to_patient([], at=datetime(2026, 12, 1, 12, 0))


# ---------------------------------------------------------------- the mapping file
def test_shipped_mapping_loads_and_marks_unverified_codes() -> None:
    spec = load_spec()
    mapping = load_mapping(mapping_path_for(spec), spec)
    by_input = {r.input: r for r in mapping.rules}
    assert by_input["crp_mg_l"].codes == ("1988-5",)
    assert not by_input["crp_mg_l"].unverified
    assert by_input["il6_pg_ml"].unverified == {"26881-3"}
    assert by_input["vasopressin"].unverified == {"11149"}
    assert mapping.units["crp_mg_l"].accept == ("mg/L", "mg/dL")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  - input: crp_mg_l\n", "  - input: crp_mg_dl\n",
         r":\d+:12: error: input: 'crp_mg_dl' is not an input of spec cytosorb-crs \(did you mean 'crp_mg_l'\?\)"),
        ('accept: [mg/L, mg/dL]}', 'accept: [mg/L, mmol/L]}', r":\d+:\d+: error: crp_mg_l.accept: 'mmol/L' cannot be "
         r"converted to 'mg/L'"),
        ('accept: [mg/L, mg/dL]}', 'accept: [mg/L, "mg/dl/"]}', r"crp_mg_l.accept: 'mg/dl/' is not a valid UCUM code"),
        ("    aggregate: highest\n", "    aggregate: hottest\n", r"aggregate='hottest' is not one of"),
        ("    aggregate: count\n", "    aggregate: any\n", r"aggregate 'any' cannot give tocilizumab_doses"),
        ("    window_hours: 24\n    aggregate: highest", "    window_hours: -1\n    aggregate: highest",
         r"window_hours=-1 must be a positive number of hours"),
        ("spec: cytosorb-crs", "spec: other-spec", r"this mapping is checked against spec cytosorb-crs"),
        ('    unverified: ["26881-3"]', '    unverified: ["2688-3"]', r"unverified code '2688-3' is not among"),
        ("    value: quantity\n", "    valu: quantity\n", r"unknown key 'valu' in rule \(did you mean 'value'\?\)"),
    ],
    ids=["unknown-input", "incommensurable", "not-ucum", "bad-aggregate", "wrong-type", "window", "spec-id",
         "unverified", "typo-key"],
)  # fmt: skip
def test_mapping_errors_are_located(tmp_path: Path, old: str, new: str, message: str) -> None:
    spec = load_spec()
    text = mapping_path_for(spec).read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "bad.fhir.yaml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_mapping(bad, spec)
    shown = "\n".join(str(p) for p in exc.value.problems)
    assert str(bad) in shown
    import re

    assert re.search(message, shown), shown


# ---------------------------------------------------------------- CLI
def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(list(argv), out, err)
    return rc, out.getvalue(), err.getvalue()


def test_cli_fhir_map_json_and_text() -> None:
    rc, out, err = _run("fhir-map", str(CHART), str(MEDS), "--at", "2026-12-01T12:00:00Z")
    assert (rc, err) == (0, "")
    doc = json.loads(out)
    assert list(doc) == ["patient", "provenance", "ignored"]
    assert doc["patient"] == EXPECTED
    rc, out, _ = _run("fhir-map", str(CHART), "--at", "2026-12-01T12:00:00Z", "--format", "text")
    assert rc == 0
    assert "crp_mg_l = 152.0  <- Observation/crp-1 15.2 mg/dL" in out.splitlines()


def test_cli_evaluate_fhir_adds_provenance() -> None:
    rc, out, err = _run("evaluate", "--fhir", str(CHART), str(MEDS), "--at", "2026-12-01T12:00:00Z", "--format", "json")
    assert (rc, err) == (0, "")
    doc = json.loads(out)
    assert doc["recommendation"]
    assert doc["fhir"]["patient"] == EXPECTED
    assert doc["fhir"]["provenance"]["crp_mg_l"][0]["resource"] == "Observation/crp-1"


def test_cli_exit_codes_for_bad_input(tmp_path: Path) -> None:
    unit = tmp_path / "unit.json"
    unit.write_text(json.dumps(_obs("c9", "1988-5", 1.2, "mmol/L")), encoding="utf-8")
    rc, out, err = _run("fhir-map", str(unit), "--at", "2026-12-01T12:00:00Z")
    assert (rc, out) == (2, "")
    assert (
        err == "crs-model: error: Observation/c9: unit 'mmol/L' is not accepted for crp_mg_l (accepted: mg/L, mg/dL)\n"
    )
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceType": "Bundle",\n "entry": [}', encoding="utf-8")
    rc, _, err = _run("fhir-map", str(broken))
    assert rc == 2
    assert f"{broken}:2:" in err
    assert "invalid JSON" in err
    rc, _, err = _run("fhir-map", str(CHART), "--at", "2026-12-01T12:00:00")
    assert rc == 2
    assert "has no time zone" in err
    rc, _, err = _run("evaluate", "--fhir", str(unit), "--at", "2026-12-01T12:00:00Z")
    assert rc == 2
    assert "Observation/c9" in err
    assert "Traceback" not in err
    rc, _, err = _run("fhir-map", str(tmp_path / "missing.json"))
    assert rc == 2
    assert "cannot read" in err
