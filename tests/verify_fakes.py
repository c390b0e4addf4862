"""Stand-ins shaped like ``crs_model.verify``'s ``Finding`` and ``Report``.

They test how diagrams and the governance pack *render* a verifier result,
independently of the solver (tests against the real verifier live beside them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crs_model.errors import Location
from crs_model.model import Severity


@dataclass(frozen=True)
class FakeFinding:
    check: str
    severity: Severity
    location: Location
    message: str
    witness: dict[str, Any] | None
    element: str


@dataclass(frozen=True)
class FakeCheck:
    name: str
    status: str
    findings: int
    duration_s: float = 0.0


@dataclass(frozen=True)
class FakeReport:
    findings: tuple[FakeFinding, ...]
    invariant_status: dict[str, str]
    solver_version: str = "4.99.0"
    checks: tuple[FakeCheck, ...] = field(default_factory=tuple)
