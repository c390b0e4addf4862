"""The one diagnostic type every layer reports with: loader problems, verifier findings, sign-off.

A :class:`Diagnostic` is a located message (``file:line:col``), a :class:`Severity`,
a code naming its kind (a verifier check such as ``overlap``, ``signoff``, or empty
for a spec problem), the spec element it is about and, when a patient exhibits it,
a witness. It lives in the base layer so that the loader, the verifier and
sign-off share it without importing each other; ``errors.Problem`` and
``verify.Finding`` are its names in those layers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Severity(enum.Enum):
    """How much a diagnostic matters: an error fails the run, a warning is shown, info is counted."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a spec file: 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        """``file:line:col``."""
        return f"{self.file}:{self.line}:{self.column}"


# not slotted: on Python 3.11 a frozen slotted dataclass raises TypeError, not FrozenInstanceError,
# when a non-field name (the ``check`` property) is assigned; a few diagnostics per run cost nothing
@dataclass(frozen=True)
class Diagnostic:
    """One located message about a spec (or a file beside it), compiler-style.

    ``location`` is None only for a problem with no place in a file (the file
    itself cannot be read). ``code`` is the kind (a check name, ``signoff``);
    empty for a spec problem. ``witness`` is a patient (JSON object) that exhibits
    the finding, or None; ``course`` a care course (JSON object: dated steps and
    their story) that exhibits a temporal finding, or None.
    """

    location: Location | None
    message: str
    severity: Severity = Severity.ERROR
    code: str = ""
    element: str = ""
    witness: dict[str, Any] | None = None
    course: dict[str, Any] | None = None

    @property
    def check(self) -> str:
        """The verifier's name for :attr:`code` (the check kind that produced a finding)."""
        return self.code

    @property
    def line(self) -> int:
        """The 1-based line, 0 when unlocated (for sorting)."""
        return self.location.line if self.location else 0

    @property
    def column(self) -> int:
        """The 1-based column, 0 when unlocated (for sorting)."""
        return self.location.column if self.location else 0

    def to_dict(self) -> dict[str, Any]:
        """The diagnostic as JSON (see docs/verify.md); ``check`` is its code, ``location`` null when none."""
        loc = self.location
        out: dict[str, Any] = {
            "check": self.code,
            "severity": self.severity.value,
            "location": None if loc is None else {"file": loc.file, "line": loc.line, "column": loc.column},
            "element": self.element,
            "message": self.message,
            "witness": self.witness,
        }
        if self.course is not None:  # only temporal findings have one: other findings' JSON is unchanged
            out["course"] = self.course
        return out

    def __str__(self) -> str:
        """``file:line:col: severity: [code] message`` (no place or ``[code]`` when there is none)."""
        where = f"{self.location}: " if self.location else ""
        code = f"[{self.code}] " if self.code else ""
        return f"{where}{self.severity.value}: {code}{self.message}"


__all__ = ["Diagnostic", "Location", "Severity"]
