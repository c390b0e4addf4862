"""The service file beside the spec (``<spec>.cds.yaml``): discovery, indicators, suggestions, override reasons.

Pure data, loaded with the YAML safe loader and checked at start-up; a bad file is a
:class:`ServiceConfigError` naming the file, the key and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from crs_model.errors import CrsModelError
from crs_model.fileio import beside
from crs_model.model import OutcomeClass, Spec

SUFFIX = ".cds.yaml"
INDICATORS = ("info", "warning", "critical")
ORDER_TYPES = ("MedicationRequest", "ServiceRequest")
HOOKS = ("patient-view",)


class ServiceConfigError(CrsModelError):
    """The CDS Hooks service file is invalid: fix the key named in the message."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An order a card suggests for one recommendation code."""

    label: str
    resource_type: str
    code: Mapping[str, Any]  # a FHIR CodeableConcept
    dose_output: str | None  # the spec output holding the dose, if any


@dataclass(frozen=True, slots=True)
class OverrideReason:
    """One Coding a clinician may give when overriding a card."""

    system: str
    code: str
    display: str

    def to_json(self) -> dict[str, str]:
        """The CDS Hooks Coding."""
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Everything the service needs besides the spec: read from the service file, checked against the spec."""

    spec: Spec
    path: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]
    indicators: Mapping[str, str]
    suggestions: Mapping[str, Suggestion]
    override_classes: frozenset[OutcomeClass]
    override_reasons: tuple[OverrideReason, ...]

    @property
    def service_id(self) -> str:
        """The CDS service id: the spec's ``metadata.id``."""
        return self.spec.metadata.id

    def discovery(self) -> dict[str, Any]:
        """This service's entry in ``GET /cds-services``."""
        return {
            "hook": self.hook,
            "id": self.service_id,
            "title": self.title,
            "description": self.description,
            "prefetch": dict(self.prefetch),
        }


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, value: object, expected: str) -> ServiceConfigError:
        return ServiceConfigError(f"{self.path}: {key}: {value!r} is not {expected}")

    def mapping(self, data: object, key: str) -> Mapping[str, Any]:
        if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
            raise self.fail(key, data, "a mapping with string keys")
        return data

    def text(self, data: Mapping[str, Any], key: str, where: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}.{key}", value, "a non-empty string")
        return value.strip()

    def only(self, data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in data:
            if key not in allowed:
                raise self.fail(f"{where}.{key}", key, f"a known key (one of {', '.join(allowed)})")


def load_config(spec: Spec, path: str | Path | None = None) -> ServiceConfig:
    """Read and check the service file (default: ``<spec>.cds.yaml`` beside the spec)."""
    file = Path(path) if path is not None else beside(spec.path, SUFFIX)
    r = _Reader(str(file))
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ServiceConfigError(f"{file}: cannot read the CDS Hooks service file: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ServiceConfigError(f"{file}: not valid YAML: {exc}") from None
    top = r.mapping(raw, "(top level)")
    r.only(top, ("service", "indicators", "suggestions", "override_reasons"), "(top level)")
    svc = r.mapping(top.get("service"), "service")
    r.only(svc, ("hook", "title", "description", "prefetch"), "service")
    hook = r.text(svc, "hook", "service")
    if hook not in HOOKS:
        raise r.fail("service.hook", hook, f"a supported hook ({', '.join(HOOKS)})")
    prefetch = r.mapping(svc.get("prefetch", {}), "service.prefetch")
    for key, template in prefetch.items():
        if not isinstance(template, str) or not template:
            raise r.fail(f"service.prefetch.{key}", template, "a FHIR query template")
    return ServiceConfig(
        spec=spec,
        path=str(file),
        hook=hook,
        title=r.text(svc, "title", "service"),
        description=r.text(svc, "description", "service"),
        prefetch=dict(prefetch),
        indicators=_indicators(r, spec, top.get("indicators", {})),
        suggestions=_suggestions(r, spec, top.get("suggestions", {})),
        override_classes=_override_classes(r, top.get("override_reasons", {})),
        override_reasons=_override_reasons(r, top.get("override_reasons", {})),
    )


def _known_code(r: _Reader, spec: Spec, key: str, code: str) -> None:
    if code not in spec.recommendations:
        raise r.fail(key, code, f"a recommendation code of {spec.path}")


def _indicators(r: _Reader, spec: Spec, data: object) -> dict[str, str]:
    out: dict[str, str] = {}
    for code, value in r.mapping(data, "indicators").items():
        _known_code(r, spec, f"indicators.{code}", code)
        if value not in INDICATORS:
            raise r.fail(f"indicators.{code}", value, f"one of {', '.join(INDICATORS)}")
        out[code] = value
    return out


def _suggestions(r: _Reader, spec: Spec, data: object) -> dict[str, Suggestion]:
    out: dict[str, Suggestion] = {}
    for code, raw in r.mapping(data, "suggestions").items():
        where = f"suggestions.{code}"
        _known_code(r, spec, where, code)
        item = r.mapping(raw, where)
        r.only(item, ("label", "resourceType", "code", "dose_output"), where)
        rtype = r.text(item, "resourceType", where)
        if rtype not in ORDER_TYPES:
            raise r.fail(f"{where}.resourceType", rtype, f"one of {', '.join(ORDER_TYPES)}")
        concept = r.mapping(item.get("code"), f"{where}.code")
        if "text" not in concept and "coding" not in concept:
            raise r.fail(f"{where}.code", dict(concept), "a CodeableConcept with text or coding")
        dose = item.get("dose_output")
        if dose is not None and dose not in spec.outputs:
            raise r.fail(f"{where}.dose_output", dose, f"an output of {spec.path} ({', '.join(spec.outputs)})")
        out[code] = Suggestion(r.text(item, "label", where), rtype, dict(concept), dose)
    return out


def _override_classes(r: _Reader, data: object) -> frozenset[OutcomeClass]:
    classes = r.mapping(data, "override_reasons").get("classes", [])
    if not isinstance(classes, list):
        raise r.fail("override_reasons.classes", classes, "a list of outcome classes")
    known = {c.value: c for c in OutcomeClass}
    for c in classes:
        if c not in known:
            raise r.fail("override_reasons.classes", c, f"an outcome class ({', '.join(known)})")
    return frozenset(known[c] for c in classes)


def _override_reasons(r: _Reader, data: object) -> tuple[OverrideReason, ...]:
    block = r.mapping(data, "override_reasons")
    r.only(block, ("classes", "system", "reasons"), "override_reasons")
    reasons = block.get("reasons", [])
    if not isinstance(reasons, list):
        raise r.fail("override_reasons.reasons", reasons, "a list of {code, display}")
    if not reasons:
        return ()
    system = r.text(block, "system", "override_reasons")
    out = []
    for i, raw in enumerate(reasons):
        item = r.mapping(raw, f"override_reasons.reasons[{i}]")
        where = f"override_reasons.reasons[{i}]"
        out.append(OverrideReason(system, r.text(item, "code", where), r.text(item, "display", where)))
    return tuple(out)
