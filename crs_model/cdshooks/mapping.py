"""FHIR resources -> patient: the one place the service meets the FHIR mapping.

Interim adapter until ``crs_model.fhir`` (issue 14 §1, another branch) lands: at merge,
:func:`to_patient` and :class:`FhirError` are replaced by ``from crs_model.fhir import
to_patient, FhirError`` with the same signature. This adapter maps only the assessment
Observations (``code.coding.system = "urn:crs-model:assessment"``, code = the input name;
``valueBoolean``, ``valueInteger``, ``valueQuantity.value`` or ``valueCodeableConcept`` of the
same system): the latest final/amended/corrected one per input within 24 h of ``at``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crs_model.errors import CrsModelError
from crs_model.model import Spec

ASSESSMENT = "urn:crs-model:assessment"
_COUNTED = ("final", "amended", "corrected")
_WINDOW = timedelta(hours=24)


class FhirError(CrsModelError):
    """A FHIR resource cannot be mapped (malformed, or a value of the wrong kind): fix the resource named."""

    def __init__(self, resource_id: str, message: str) -> None:
        self.resource_id = resource_id
        super().__init__(f"{resource_id}: {message}")


@dataclass(frozen=True, slots=True)
class Mapped:
    """The flat patient, where each value came from, and what was left out and why."""

    patient: dict[str, Any]
    provenance: dict[str, list[str]] = field(default_factory=dict)  # input -> resource ids
    ignored: list[dict[str, str]] = field(default_factory=list)


def _resources(items: Iterable[Mapping[str, Any] | None]) -> Iterator[Mapping[str, Any]]:
    for item in items:
        if item is None:
            continue
        if not isinstance(item, Mapping):
            raise FhirError("(prefetch)", f"expected a FHIR resource or Bundle, got {type(item).__name__}")
        if item.get("resourceType") == "Bundle":
            entries = item.get("entry", [])
            if not isinstance(entries, list):
                raise FhirError(_rid(item), "Bundle.entry is not a list")
            for e in entries:
                res = e.get("resource") if isinstance(e, Mapping) else None
                if res is not None:
                    yield from _resources([res])
        else:
            yield item


def _rid(res: Mapping[str, Any]) -> str:
    return f"{res.get('resourceType', '?')}/{res.get('id', '?')}"


def _when(res: Mapping[str, Any], rid: str) -> datetime | None:
    raw = res.get("effectiveDateTime", res.get("issued"))
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise FhirError(rid, f"effectiveDateTime {raw!r} is not an ISO 8601 date-time")
    try:
        t = datetime.fromisoformat(raw)
    except ValueError:
        raise FhirError(rid, f"effectiveDateTime {raw!r} is not an ISO 8601 date-time") from None
    if t.tzinfo is None:
        raise FhirError(rid, f"effectiveDateTime {raw!r} has no time zone")
    return t


def _assessment_code(res: Mapping[str, Any]) -> str | None:
    code = res.get("code")
    codings = code.get("coding", []) if isinstance(code, Mapping) else []
    for c in codings if isinstance(codings, list) else []:
        if isinstance(c, Mapping) and c.get("system") == ASSESSMENT and isinstance(c.get("code"), str):
            return str(c["code"])
    return None


def _value(res: Mapping[str, Any], rid: str) -> Any:
    if "valueBoolean" in res:
        return res["valueBoolean"]
    if "valueInteger" in res:
        return res["valueInteger"]
    if "valueQuantity" in res:
        q = res["valueQuantity"]
        if not isinstance(q, Mapping) or "value" not in q:
            raise FhirError(rid, "valueQuantity has no value")
        return q["value"]
    if "valueCodeableConcept" in res:
        cc = res["valueCodeableConcept"]
        codings = cc.get("coding", []) if isinstance(cc, Mapping) else []
        for c in codings if isinstance(codings, list) else []:
            if isinstance(c, Mapping) and c.get("system") == ASSESSMENT:
                return c.get("code")
        raise FhirError(rid, f"valueCodeableConcept has no coding of system {ASSESSMENT}")
    raise FhirError(rid, "has no valueBoolean, valueInteger, valueQuantity or valueCodeableConcept")


def to_patient(
    resources_or_bundles: Iterable[Mapping[str, Any] | None], *, at: datetime, spec: Spec | None = None
) -> Mapped:
    """Pool the resources (bundles unpacked, ``None`` = no data) and map them to a flat patient at ``at``."""
    best: dict[str, tuple[datetime, str, Any]] = {}
    ignored: list[dict[str, str]] = []
    for res in _resources(resources_or_bundles):
        if res.get("resourceType") != "Observation":
            continue
        name = _assessment_code(res)
        if name is None:
            continue
        rid = _rid(res)
        if res.get("status") not in _COUNTED:
            ignored.append({"resource": rid, "reason": f"status {res.get('status')!r}"})
            continue
        when = _when(res, rid)
        if when is None or not (at - _WINDOW <= when <= at):
            ignored.append({"resource": rid, "reason": "outside the 24 h window"})
            continue
        value = _value(res, rid)
        if name not in best or when > best[name][0]:
            best[name] = (when, rid, value)
    patient = {k: v for k, (_, _, v) in sorted(best.items())}
    provenance = {k: [rid] for k, (_, rid, _) in sorted(best.items())}
    return Mapped(patient, provenance, ignored)
