"""Reading a regression suite (JSON Lines) and re-running it: which cases changed their decision.

A suite line is ``{"name", "patient", "expect", "covers"}``; a malformed line is reported at
``file:line:col`` and the other lines still run (a batch never loses a line). A case whose
patient the spec now refuses is a *changed* case (its new decision is the refusal), not a
malformed line. No solver here: regress only runs the engine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crs_model.engine import Engine
from crs_model.errors import PatientError, SpecDefectError
from crs_model.fileio import iter_lines, open_regular
from crs_model.model import Spec
from crs_model.verify.coverage import decision_key

MAX_LINE = 64 * 1024
KEYS = ("name", "patient", "expect", "covers")


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that is not a suite case: where, and why."""

    line: int
    column: int
    message: str

    def located(self, path: str) -> str:
        """``path:line:col: message`` (compiler style)."""
        return f"{path}:{self.line}:{self.column}: {self.message}"


@dataclass(frozen=True, slots=True)
class Entry:
    """A well-formed case read from a suite file."""

    line: int
    name: str
    patient: Mapping[str, Any]
    expect: Mapping[str, Any]
    covers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Changed:
    """A case whose decision differs from the recorded one (only the recorded keys are compared)."""

    entry: Entry
    new: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """``{"line", "name", "old", "new"}``."""
        return {"line": self.entry.line, "name": self.entry.name, "old": dict(self.entry.expect), "new": dict(self.new)}


class _Repeated(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise _Repeated(next(k for i, (k, _) in enumerate(pairs) if k in dict(pairs[:i])))
    return d


def _parse(raw: bytes | None, line: int) -> Entry | BadLine:
    if raw is None:
        return BadLine(line, 1, f"line longer than {MAX_LINE} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadLine(line, exc.start + 1, f"not UTF-8 text (byte 0x{raw[exc.start : exc.start + 1].hex()})")
    try:
        obj = json.loads(text.rstrip("\r\n"), object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        return BadLine(line, exc.colno, f"invalid JSON: {exc.msg}")
    except _Repeated as exc:
        return BadLine(line, 1, f"key '{exc.args[0]}' appears twice in an object")
    except (RecursionError, ValueError) as exc:
        return BadLine(line, 1, f"invalid JSON: {exc}")
    if not isinstance(obj, dict):
        return BadLine(line, 1, f"a case is a JSON object with keys {', '.join(KEYS)}, got {type(obj).__name__}")
    unknown = sorted(set(obj) - set(KEYS))
    if unknown:
        return BadLine(line, 1, f"unknown key '{unknown[0]}' (a case has {', '.join(KEYS)})")
    name, patient, expect, covers = (obj.get(k) for k in KEYS)
    if not isinstance(name, str) or not name:
        return BadLine(line, 1, f"name={name!r}: expected a non-empty string")
    if not isinstance(patient, dict):
        return BadLine(line, 1, f"case {name}: patient={patient!r}: expected a JSON object")
    if not isinstance(expect, dict) or not isinstance(expect.get("recommendation"), str) or "outcome" not in expect:
        return BadLine(line, 1, f"case {name}: expect must be an object with recommendation and outcome")
    if covers is None:
        covers = []
    if not isinstance(covers, list) or not all(isinstance(c, str) for c in covers):
        return BadLine(line, 1, f"case {name}: covers={covers!r}: expected a list of strings")
    return Entry(line, name, patient, expect, tuple(covers))


def read_suite(path: str | Path) -> tuple[list[Entry], list[BadLine]]:
    """Every case of a suite file and every malformed line (raises ``InputFileError`` when unreadable)."""
    entries: list[Entry] = []
    bad: list[BadLine] = []
    with open_regular(path) as stream:
        for n, raw in enumerate(iter_lines(stream, MAX_LINE), start=1):
            if raw is not None and not raw.strip():
                continue  # a blank line is no case
            got = _parse(raw, n)
            (bad if isinstance(got, BadLine) else entries).append(got)  # type: ignore[arg-type]
    return entries, bad


def rerun(spec: Spec, entries: list[Entry], engine: Engine | None = None) -> list[Changed]:
    """The cases whose decision (the keys each recorded) is no longer what was recorded."""
    engine = engine or Engine(spec)
    changed: list[Changed] = []
    for e in entries:
        try:
            now = decision_key(spec, engine.evaluate(e.patient))
        except (PatientError, SpecDefectError) as exc:
            changed.append(Changed(e, {"error": str(exc)}))
            continue
        new = {k: now.get(k) for k in e.expect}
        if new != dict(e.expect):
            changed.append(Changed(e, new))
    return changed


__all__ = ["MAX_LINE", "BadLine", "Changed", "Entry", "read_suite", "rerun"]
