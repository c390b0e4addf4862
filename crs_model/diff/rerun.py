"""Re-running a witness through both versions' engines, in both modes, and comparing what they show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crs_model.engine import Engine
from crs_model.errors import PatientError, SpecDefectError
from crs_model.model import Spec


def summary(engine: Engine, patient: Mapping[str, Any], outputs: tuple[str, ...]) -> dict[str, Any]:
    """What a diff compares of the engine's answer: the decision, or the rejection or defect.

    ``patient`` is given over the version's own inputs only (it does not read the others).
    """
    own = {k: v for k, v in patient.items() if k in engine.spec.variables}
    try:
        d = engine.evaluate(own)
    except PatientError as exc:
        return {"rejected": str(exc)}
    except SpecDefectError as exc:
        return {"defect": str(exc)}
    return {
        "recommendation": d.recommendation,
        "outcome": d.outcome,
        "outputs": {n: d.outputs[n] for n in outputs},
        "actions": sorted(a.id for a in d.actions),
        "flags": sorted(f.id for f in d.flags),
    }


def differs_beyond_notes(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """The summaries differ in more than actions and flags."""
    keys = ("rejected", "defect", "recommendation", "outcome", "outputs")
    return any(a.get(k) != b.get(k) for k in keys)


class Runner:
    """Both versions' engines, three-valued and exact, each compiled on first use."""

    def __init__(self, old: Spec, new: Spec) -> None:
        self.specs = (old, new)
        self.outputs = tuple(n for n in new.outputs if n in old.outputs)
        self._engines: dict[bool, tuple[Engine, Engine]] = {}

    def engines(self, *, exact: bool) -> tuple[Engine, Engine]:
        """(old, new) engines in the mode asked for."""
        if exact not in self._engines:
            self._engines[exact] = (Engine(self.specs[0], exact=exact), Engine(self.specs[1], exact=exact))
        return self._engines[exact]

    def run(self, patient: Mapping[str, Any], *, exact: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """(old, new) summaries of ``patient``."""
        old, new = self.engines(exact=exact)
        return summary(old, patient, self.outputs), summary(new, patient, self.outputs)


__all__ = ["Runner", "differs_beyond_notes", "summary"]
