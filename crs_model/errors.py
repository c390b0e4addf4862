"""Every error crs_model raises on purpose.

Each class says, in its docstring, what caused it and how to fix it. User errors
(bad spec, bad patient) are the caller's to fix and carry a location; internal
errors mean the spec or the tool is wrong and should be reported.
"""

from __future__ import annotations

from crs_model.diagnostics import Diagnostic, Location


class CrsModelError(Exception):
    """Root of every error raised on purpose by crs_model."""


# A spec problem is a diagnostic of error severity without a code; the old name stays importable.
Problem = Diagnostic


class SpecError(CrsModelError, ValueError):
    """The spec file cannot be used: YAML, structure, expressions, types or graph.

    Fix the spec at the reported ``file:line:col``; every problem found is listed
    (not only the first), so one edit cycle can fix them all.
    """

    def __init__(self, problems: list[Diagnostic] | Diagnostic) -> None:
        self.problems: tuple[Diagnostic, ...] = (problems,) if isinstance(problems, Diagnostic) else tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PatientError(CrsModelError, ValueError):
    """The patient input is invalid: unknown key, wrong type, out of domain, or
    inconsistent with a declared constraint.

    ``field`` names the offending input (or constraint id); correct that value.
    ``resources`` names the FHIR resources the value was mapped from, when it was.
    No recommendation is ever produced for invalid input.
    """

    def __init__(self, field: str, message: str, value: object = None, resources: tuple[str, ...] = ()) -> None:
        self.field = field
        self.value = value
        self.message = message
        self.resources = resources
        super().__init__(f"{field}: {message}")


class SpecDefectError(CrsModelError):
    """The spec routed a valid patient into a defect the verifier reports: two
    guards of a ``unique`` node both true (overlap) or no guard true (gap).

    Run ``crs-model verify`` on the spec and fix the node named here. The engine
    refuses to guess, so no recommendation is produced.
    """

    def __init__(self, node: str, kind: str, detail: str) -> None:
        self.node = node
        self.kind = kind
        super().__init__(f"node {node!r}: {kind}: {detail}")


class SignoffError(CrsModelError):
    """The spec's bytes do not match any signed-off hash (tampered or unreviewed).

    Have the governance committee review and sign this exact version off.
    """


class RenderError(CrsModelError):
    """A diagram could not be produced: Graphviz's ``dot`` is missing or failed.

    Install Graphviz (Debian: ``apt-get install graphviz``) or ask for ``--format dot`` only.
    """


class FhirError(CrsModelError, ValueError):
    """FHIR input cannot be mapped to a patient: not a resource, a missing or malformed
    field, or a unit the mapping file does not accept for that input.

    ``resource_id`` (``Observation/t1``, or the resource's place in its bundle when it has
    no id) names the resource to correct; the mapping never guesses a unit or a value.
    """

    def __init__(self, resource_id: str | None, message: str) -> None:
        self.resource_id = resource_id
        self.message = message
        super().__init__(f"{resource_id}: {message}" if resource_id else message)


class InputFileError(CrsModelError):
    """A file given to crs_model cannot be read: missing, unreadable, not a regular
    file (a folder, FIFO or device), or larger than the limit for its kind.

    Pass a regular file of the stated size; ``path`` names the file, ``reason`` the cause.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: cannot read: {reason}")


class OutputFileError(CrsModelError):
    """An output file cannot be written: its folder is missing or read-only, the disk is
    full, or the target is a folder or a device.

    Choose another ``--out`` or free space; nothing was left half-written at ``path``.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: cannot write: {reason}")


__all__ = [
    "CrsModelError",
    "FhirError",
    "InputFileError",
    "Location",
    "OutputFileError",
    "PatientError",
    "Problem",
    "RenderError",
    "SignoffError",
    "SpecDefectError",
    "SpecError",
]
