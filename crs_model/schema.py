"""JSON Schema (draft 2020-12) of the patient input, derived from the spec's variables."""

from __future__ import annotations

from typing import Any

from crs_model.model import Spec
from crs_model.text import Renderer
from crs_model.types import Base


def patient_schema(spec: Spec) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a patient input for ``spec``."""
    props: dict[str, Any] = {}
    for v in spec.variables.values():
        base = v.type.base
        s: dict[str, Any]
        if base == Base.BOOL:
            s = {"type": ["boolean", "null"]}
        elif base == Base.ENUM:
            s = {"enum": [*v.type.values, None]}
        else:
            s = {"type": ["integer" if base == Base.INT else "number", "null"]}
            if v.minimum is not None:
                s["minimum"] = int(v.minimum) if base == Base.INT else v.minimum
            if v.maximum is not None:
                s["maximum"] = int(v.maximum) if base == Base.INT else v.maximum
        s["title"] = v.label
        desc = v.description
        if v.unit:
            s["x-unit"] = v.unit
            desc = f"{desc} Unit: {v.unit}.".strip()
        if desc:
            s["description"] = desc
        if v.measurement_error is not None:  # how far a measured value may be off (robustness, borderline)
            err = v.measurement_error
            s["x-measurement-error"] = {err.kind.value: err.amount, "cites": list(err.cites)}
        props[v.name] = s
    render = Renderer(spec.symbols)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:crs-model:{spec.metadata.id}:{spec.metadata.version}:patient",
        "title": f"Patient input for {spec.metadata.title} {spec.metadata.version}",
        "description": "Flat object; an absent key or null means the value is unknown. "
        "Unknown keys are rejected. Cross-field constraints are listed in x-constraints.",
        "type": "object",
        "additionalProperties": False,
        "properties": props,
        "x-constraints": [
            {"id": c.id, "expr": c.formula.text, "text": render.render(c.formula.ast), "message": c.message}
            for c in spec.constraints
        ],
    }
