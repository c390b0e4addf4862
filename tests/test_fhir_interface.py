"""The interface the CDS Hooks service codes against: to_patient, Mapped, FhirError."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crs_model.errors import CrsModelError
from crs_model.fhir import FhirError, to_patient

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
UCUM = "http://unitsofmeasure.org"


def _obs(rid: str, code: str, value: float, unit: str, when: str = "2026-12-01T08:00:00Z") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "system": UCUM, "code": unit},
    }


def test_prefetch_values_of_every_shape_pool() -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": _obs("c1", "1988-5", 12, "mg/dL")}]}
    mapped = to_patient([bundle, None, _obs("t1", "8310-5", 38.2, "Cel")], at=AT)
    assert mapped.patient == {"temperature_c": 38.2, "crp_mg_l": 120.0}
    assert [p["resource"] for p in mapped.provenance["crp_mg_l"]] == ["Observation/c1"]
    assert mapped.to_dict() == {"patient": mapped.patient, "provenance": mapped.provenance, "ignored": []}


def test_unknown_unit_is_a_fhir_error_naming_the_resource() -> None:
    with pytest.raises(FhirError) as exc:
        to_patient([_obs("c9", "1988-5", 1.2, "mmol/L")], at=AT)
    assert isinstance(exc.value, CrsModelError)
    assert exc.value.resource_id == "Observation/c9"
    assert "Observation/c9" in str(exc.value)
    assert "'mmol/L' is not accepted for crp_mg_l" in str(exc.value)
