"""What a diff found: regions that decide differently, element-level changes, errors. No z3 here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crs_model.diagnostics import Location

DECISION = "decision"  # valid in both versions, decided differently
REJECTED_BY_NEW = "rejected_by_new"  # valid in the old version, rejected by the new one
REJECTED_BY_OLD = "rejected_by_old"  # valid in the new version, rejected by the old one
KINDS = (DECISION, REJECTED_BY_NEW, REJECTED_BY_OLD)


@dataclass(frozen=True, slots=True)
class Region:
    """A conjunction of input conditions under which the versions differ, with a witness.

    ``old``/``new`` are the three-valued decisions (``Engine(spec, exact=False)``) on the
    witness, ``exact_old``/``exact_new`` the default engine's; ``exact_differs`` says
    whether the default engine differs too. ``flags_only``: proven for the whole region,
    only actions or flags differ. ``problem`` is set when the witness did not reproduce.
    """

    kind: str
    description: str
    conditions: tuple[dict[str, Any], ...]
    witness: dict[str, Any]
    old: dict[str, Any]
    new: dict[str, Any]
    flags_only: bool
    exact_old: dict[str, Any]
    exact_new: dict[str, Any]
    exact_differs: bool
    element: str  # the new version's element the region is located at
    location: Location | None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The region as JSON."""
        return {
            "kind": self.kind,
            "description": self.description,
            "conditions": list(self.conditions),
            "witness": self.witness,
            "old": self.old,
            "new": self.new,
            "flags_only": self.flags_only,
            "exact_differs": self.exact_differs,
            "exact": {"old": self.exact_old, "new": self.exact_new},
            "element": self.element,
            "location": None if self.location is None else str(self.location),
            "reproduced": self.problem is None,
            **({"problem": self.problem} if self.problem else {}),
        }


@dataclass(frozen=True, slots=True)
class ElementChange:
    """One element added, removed or changed between the versions, located in each it exists in."""

    kind: str  # parameter, variable, definition, edge, ...
    id: str
    change: str  # added | removed | changed
    details: tuple[str, ...]
    old: Location | None
    new: Location | None

    @property
    def element(self) -> str:
        """``kind:id``, the element reference."""
        return f"{self.kind}:{self.id}"

    def to_dict(self) -> dict[str, Any]:
        """The change as JSON."""
        return {
            "element": self.element,
            "change": self.change,
            "details": list(self.details),
            "old": None if self.old is None else str(self.old),
            "new": None if self.new is None else str(self.new),
        }


@dataclass(frozen=True, slots=True)
class SpecRef:
    """One side of the diff: where it was read and what it is."""

    path: str
    id: str
    version: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        """The side as JSON."""
        return {"path": self.path, "id": self.id, "version": self.version, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class DiffResult:
    """The whole diff. ``equivalent`` only when every search was proven empty."""

    old: SpecRef
    new: SpecRef
    regions: tuple[Region, ...]
    elements: tuple[ElementChange, ...]
    cap: int
    cap_hit: bool
    errors: tuple[str, ...] = ()  # undecided queries, witnesses that did not reproduce
    only_old: tuple[str, ...] = ()  # inputs only the old version declares
    only_new: tuple[str, ...] = ()
    given: tuple[str, ...] = ()  # the restriction of the compared patients (``--given``), in words
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def equivalent(self) -> bool:
        """Decision-equivalent: proven (no region, no error)."""
        return not self.regions and not self.errors

    @property
    def exit_code(self) -> int:
        """0 equivalent, 1 behaviour differs, 2 an error (undecided, or a witness that did not reproduce)."""
        return 2 if self.errors else 1 if self.regions else 0

    def to_dict(self) -> dict[str, Any]:
        """``{"equivalent", "changes": [...], "elements": [...], ...}`` (docs/diff.md)."""
        return {
            "equivalent": self.equivalent,
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "semantics": "three-valued (Engine(spec, exact=False)); exact_differs re-runs each witness exactly",
            "inputs": {"only_old": list(self.only_old), "only_new": list(self.only_new)},
            "given": list(self.given),
            "changes": [r.to_dict() for r in self.regions],
            "cap": {"regions": self.cap, "hit": self.cap_hit},
            "errors": list(self.errors),
            "elements": [e.to_dict() for e in self.elements],
        }


__all__ = [
    "DECISION",
    "KINDS",
    "REJECTED_BY_NEW",
    "REJECTED_BY_OLD",
    "DiffResult",
    "ElementChange",
    "Region",
    "SpecRef",
]
