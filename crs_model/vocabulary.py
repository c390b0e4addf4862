"""The presentation vocabulary: how every output names and styles the same things.

Diagrams, the governance pack and the CLI's text show outcome classes, finding
severities and evidence levels; they take the words and colours from here so that
one patient, one finding or one outcome looks the same wherever it appears.
Pure data and string functions: no pydot, no z3.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from crs_model.errors import Location
from crs_model.model import EvidenceLevel, Recommendation


class OutcomeClass(enum.Enum):
    """The five colour classes of the diagram, with fill and border (colour-blind-safe tints)."""

    NO_CRS = ("no CRS", "#EEEEEE", "#777777")
    STANDARD = ("standard therapy", "#D6E6F5", "#0072B2")
    CYTOSORB = ("CytoSorb", "#D5EFD9", "#009E73")
    CONTRAINDICATED = ("contraindicated", "#F8D3D3", "#C0392B")
    INSUFFICIENT = ("insufficient data", "#FFF1C9", "#B8860B")

    @property
    def title(self) -> str:
        return self.value[0]

    @property
    def fill(self) -> str:
        return self.value[1]

    @property
    def border(self) -> str:
        return self.value[2]


_CLASS_OF = {
    Recommendation.NO_CRS: OutcomeClass.NO_CRS,
    Recommendation.SUPPORTIVE_CARE: OutcomeClass.STANDARD,
    Recommendation.GIVE_TOCILIZUMAB: OutcomeClass.STANDARD,
    Recommendation.ADD_CORTICOSTEROIDS: OutcomeClass.STANDARD,
    Recommendation.CONTINUE_STANDARD_THERAPY: OutcomeClass.STANDARD,
    Recommendation.CONSIDER_CYTOSORB: OutcomeClass.CYTOSORB,
    Recommendation.CYTOSORB_CONTRAINDICATED: OutcomeClass.CONTRAINDICATED,
    Recommendation.INSUFFICIENT_DATA: OutcomeClass.INSUFFICIENT,
}


def outcome_class(recommendation: Recommendation | str) -> OutcomeClass:
    """The colour class of a recommendation code."""
    return _CLASS_OF[Recommendation(recommendation)]


class FindingLike(Protocol):
    """What the overlay reads from a verifier finding (``crs_model.verify.Finding``)."""

    @property
    def check(self) -> str: ...
    @property
    def severity(self) -> Any: ...  # Severity enum (``.value`` error|warning|info) or its text
    @property
    def location(self) -> Location | None: ...
    @property
    def message(self) -> str: ...
    @property
    def witness(self) -> Mapping[str, Any] | None: ...
    @property
    def element(self) -> str: ...


SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
SEVERITY_COLOUR = {"error": "#C0392B", "warning": "#D35400", "info": "#2471A3"}


def severity_text(finding: FindingLike) -> str:
    sev = finding.severity
    return str(getattr(sev, "value", sev))


def sort_findings(findings: Iterable[FindingLike]) -> list[FindingLike]:
    """Stable, deterministic order: severity, check, element, location, message."""

    def key(f: FindingLike) -> tuple[int, str, str, str, str]:
        return (SEVERITY_ORDER.get(severity_text(f), 9), f.check, f.element, str(f.location or ""), f.message)

    return sorted(findings, key=key)


def level_text(level: EvidenceLevel) -> str:
    """``grade_very_low`` -> ``GRADE very low``; ``expert_opinion`` -> ``expert opinion``."""
    v = level.value
    return "GRADE " + v[6:].replace("_", " ") if v.startswith("grade_") else v.replace("_", " ")
