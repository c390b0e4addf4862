"""A decision as a CDS Hooks card: summary, indicator, Markdown detail, source, suggestions, overrides.

Every clinical word comes from the spec (recommendation labels, class titles, outcome
actions and flags, variable labels, evidence) or the service file (order labels and codes).
"""

from __future__ import annotations

import uuid
from typing import Any

from crs_model.cdshooks.config import ServiceConfig
from crs_model.engine import Decision
from crs_model.model import INSUFFICIENT_DATA, OutcomeClass
from crs_model.vocabulary import outcome_class, value_text

SUMMARY_MAX = 139  # CDS Hooks: "<140-character"
_CLASS_INDICATOR = {OutcomeClass.CONTRAINDICATED: "critical", OutcomeClass.DEVICE: "warning"}


def indicator(config: ServiceConfig, code: str) -> str:
    """``critical``/``warning``/``info``: the service file's entry for ``code``, else from its outcome class."""
    if code in config.indicators:
        return config.indicators[code]
    return _CLASS_INDICATOR.get(outcome_class(config.spec, code).cls, "info")


def _label(config: ServiceConfig, code: str) -> str:
    rc = config.spec.recommendations.get(code)
    return rc.label if rc is not None else outcome_class(config.spec, code).title


def _input_label(config: ServiceConfig, name: str) -> str:
    v = config.spec.variables.get(name)
    return f"{v.label} ({name})" if v is not None and v.label else name


def _to_record(config: ServiceConfig, d: Decision) -> list[str]:
    """What to record to decide: each missing input, then each 'one of' group."""
    out = [_input_label(config, n) for n in d.missing]
    out += [" or ".join(_input_label(config, n) for n in group) for group in d.missing_any_of]
    return list(dict.fromkeys(out))  # a name can be both missing and a one-of group of one


def _shorten(text: str) -> str:
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


def summary(config: ServiceConfig, d: Decision) -> str:
    """One sentence under 140 characters naming the recommendation (and what to record when undecided)."""
    label = _label(config, d.recommendation)
    if d.recommendation == INSUFFICIENT_DATA:
        todo = _to_record(config, d)
        return _shorten(f"{label}: record {', '.join(todo)}" if todo else label)
    return _shorten(f"{label[:1].upper()}{label[1:]} ({config.spec.metadata.title} v{d.spec_version})")


def detail(config: ServiceConfig, d: Decision) -> str:
    """The card's Markdown: outputs, path, actions, flags, data to record, citations, spec identity."""
    spec = config.spec
    lines = [f"**{_label(config, d.recommendation)}** ({outcome_class(spec, d.recommendation).title})", ""]
    shown = [(k, v) for k, v in d.outputs.items() if v is not None]
    if shown:
        unit = {k: (o.unit or "") for k, o in spec.outputs.items()}
        lines += ["**Outputs:** " + "; ".join(f"{k} = {value_text(v)} {unit[k]}".rstrip() for k, v in shown), ""]
    lines += ["**Path:** " + " → ".join(f"`{p}`" for p in d.path), ""]
    for title, notes in (("Actions", d.actions), ("Flags", d.flags)):
        if notes:
            lines += [f"**{title}:**", *(f"- {n.text} [{', '.join(n.citations)}]" for n in notes), ""]
    if d.possible_flags:
        lines += ["**Possible flags:**"]
        lines += [f"- {p.note.text} (if known: {', '.join(p.if_known)})" for p in d.possible_flags]
        lines += [""]
    todo = _to_record(config, d)
    if todo:
        lines += ["**Missing data, to record:**", *(f"- {t}" for t in todo), ""]
    if d.cites:
        lines += ["**Citations:**"]
        lines += [f"- [{c}] {spec.evidence[c].citation}" if c in spec.evidence else f"- [{c}]" for c in d.cites]
        lines += [""]
    lines += [f"Spec `{d.spec_id}` v{d.spec_version} ({spec.metadata.status.value}), sha256 `{d.spec_sha256}`"]
    return "\n".join(lines)


def _suggestions(config: ServiceConfig, d: Decision, patient_id: str) -> list[dict[str, Any]]:
    s = config.suggestions.get(d.recommendation)
    if s is None:
        return []
    resource: dict[str, Any] = {
        "resourceType": s.resource_type,
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    concept_key = "medicationCodeableConcept" if s.resource_type == "MedicationRequest" else "code"
    resource[concept_key] = dict(s.code)
    if s.dose_output is not None:
        dose = d.outputs.get(s.dose_output)
        if dose is None:  # the dose is not decided: no order to suggest
            return []
        unit = config.spec.outputs[s.dose_output].unit or ""
        quantity = {"value": dose, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
        texts = " ".join(a.text for a in d.actions)
        resource["dosageInstruction"] = [{"text": texts, "doseAndRate": [{"doseQuantity": quantity}]}]
    return [
        {
            "label": s.label,
            "uuid": str(uuid.uuid4()),
            "isRecommended": True,
            "actions": [{"type": "create", "description": s.label, "resource": resource}],
        }
    ]


def card(
    config: ServiceConfig, d: Decision, patient_id: str, *, source_url: str | None, pack_url: str | None
) -> dict[str, Any]:
    """The one card for decision ``d`` about ``Patient/patient_id``."""
    spec = config.spec
    c: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": summary(config, d),
        "indicator": indicator(config, d.recommendation),
        "detail": detail(config, d),
        "source": {
            "label": f"{spec.metadata.title} v{spec.metadata.version}",
            "topic": {
                "system": "urn:crs-model:recommendation",
                "code": d.recommendation,
                "display": _label(config, d.recommendation),
            },
        },
    }
    if source_url:
        c["source"]["url"] = source_url
    suggestions = _suggestions(config, d, patient_id)
    if suggestions:
        c["suggestions"] = suggestions
        c["selectionBehavior"] = "at-most-one"
    if config.override_reasons and outcome_class(spec, d.recommendation).cls in config.override_classes:
        c["overrideReasons"] = [r.to_json() for r in config.override_reasons]
    if pack_url:
        c["links"] = [
            {
                "label": f"Governance pack of {spec.metadata.id} v{spec.metadata.version}",
                "url": pack_url,
                "type": "absolute",
            }
        ]
    return c
