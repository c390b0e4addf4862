"""FHIR resources -> patient: the one place the service meets the FHIR mapping (``crs_model.fhir``).

The prefetch values (Bundles, resources or ``null``) are pooled and mapped by the mapping file
beside the spec; a unit it does not list, a malformed resource or a value outside a domain is
refused naming the resource, and the service answers 422 instead of a card.
"""

from __future__ import annotations

from typing import Any

from crs_model.fhir import FhirError, Mapped, to_patient


def sources(mapped: Mapped | None, field: str | None) -> list[str]:
    """The resource ids a mapped input came from (for a 422 naming them)."""
    if mapped is None or field is None:
        return []
    entries: list[dict[str, Any]] = mapped.provenance.get(field, [])
    return [str(p["resource"]) for p in entries if "resource" in p]


__all__ = ["FhirError", "Mapped", "sources", "to_patient"]
