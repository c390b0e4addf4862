"""FHIR R4 resources -> the flat patient input of a spec, through a mapping file beside the spec.

::

    from crs_model.fhir import to_patient
    mapped = to_patient([bundle], at=datetime.now(timezone.utc))
    mapped.patient, mapped.provenance, mapped.ignored

The mapping (``SPEC.fhir.yaml``) declares per input the resource type, codes, accepted UCUM
units, time window, statuses and aggregation; see ``docs/fhir.md``. Importing this package
loads no UCUM library: that happens when a mapping is first loaded.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from crs_model.errors import FhirError
from crs_model.fhir.mapper import Mapped, _Mapper
from crs_model.fhir.mapping import FhirMapping, load_mapping, mapping_path_for
from crs_model.model import Spec

_CACHE: dict[tuple[str, str], _Mapper] = {}  # (mapping path, spec sha256) -> compiled mapper
_LOCK = threading.Lock()
_MAX_CACHED = 8


@functools.cache
def _bundled_spec() -> Spec:
    from crs_model import load_spec

    return load_spec()  # loaded once per process: loading is what costs, not mapping


def _mapper(spec: Spec, mapping: FhirMapping | str | Path | None) -> _Mapper:
    if isinstance(mapping, FhirMapping):
        return _Mapper(spec, mapping)
    path = str(mapping_path_for(spec) if mapping is None else mapping)
    key = (path, spec.sha256)
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    mapper = _Mapper(spec, load_mapping(path, spec))
    with _LOCK:
        if len(_CACHE) >= _MAX_CACHED:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = mapper
    return mapper


def to_patient(
    resources_or_bundles: Iterable[Mapping[str, Any] | None],
    *,
    at: datetime,
    spec: Spec | None = None,
    mapping: FhirMapping | str | Path | None = None,
) -> Mapped:
    """Map FHIR R4 input to ``spec``'s patient (default: the bundled spec and its mapping file).

    ``resources_or_bundles``: Bundles, resources, lists of them, or ``None`` (an empty prefetch
    key); every resource counts. ``at`` is the reference time (timezone-aware) the windows and
    ages are measured from. Raises :class:`FhirError` naming the resource for malformed FHIR or
    a unit the mapping does not accept, :class:`~crs_model.errors.PatientError` naming the
    resource for a value outside the input's domain, and
    :class:`~crs_model.errors.SpecError` for a mapping file that does not load.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise FhirError(None, f"the reference time {at.isoformat()} has no time zone")
    return _mapper(spec or _bundled_spec(), mapping).run(resources_or_bundles, at)


__all__ = ["FhirError", "FhirMapping", "Mapped", "load_mapping", "mapping_path_for", "to_patient"]
