"""Helpers shared by subcommands: the spec argument, loading a spec, reading patient JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from crs_model.errors import InputFileError, PatientError, SpecError
from crs_model.model import Spec

MAX_PATIENT_BYTES = 1024 * 1024
STDIN = "<stdin>"


def add_spec_argument(p: argparse.ArgumentParser, *, positional: bool = False) -> None:
    """``SPEC`` (positional, optional) and ``--spec SPEC``, or only ``--spec``; default: the bundled spec.

    The two spellings are merged by :func:`merge_spec_option` after parsing.
    """
    if positional:
        p.add_argument("spec", nargs="?", default=None, metavar="SPEC", help="spec file (default: the bundled spec)")
        p.add_argument("--spec", dest="spec_option", default=None, metavar="SPEC", help="the same, as an option")
    else:
        p.add_argument("--spec", default=None, metavar="SPEC", help="spec file (default: the bundled spec)")


def merge_spec_option(args: argparse.Namespace) -> str | None:
    """Fold ``--spec`` into the positional spec argument(s); return a usage error, or None."""
    option = getattr(args, "spec_option", None)
    if option is not None:
        if isinstance(getattr(args, "specs", None), list):
            args.specs.extend(option)
        elif args.spec is not None and args.spec != option:
            return f"the spec is given twice ({args.spec!r} and --spec {option!r}): give it once"
        else:
            args.spec = option
    if getattr(args, "spec_required", False) and args.spec is None:
        return "a spec file is required (SPEC or --spec SPEC)"
    return None


def load_or_report(path: str | Path | None, err: TextIO) -> Spec | None:
    """Load a spec; on failure print every located problem to ``err`` and return None."""
    from crs_model import load_spec

    try:
        return load_spec(path)
    except SpecError as exc:
        for problem in exc.problems:
            err.write(f"{problem}\n")
        n = len(exc.problems)
        err.write(f"crs-model: error: spec not loaded ({n} problem{'s' if n != 1 else ''})\n")
        return None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise PatientError(k, f"key '{k}' appears twice in the object")
            seen.add(k)
    return d


class BadJson(ValueError):
    """Patient text that is not JSON; ``line``/``column`` locate it when the parser could."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(message)

    def located(self, where: str) -> str:
        """``where:line:col: invalid JSON: ...`` (compiler style)."""
        at = f":{self.line}:{self.column}" if self.line is not None else ""
        return f"{where}{at}: invalid JSON: {self.message}"


def loads_json(text: str, **options: Any) -> Any:
    """``json.loads(text, **options)`` with every failure as :class:`BadJson` (line and column when known)."""
    try:
        return json.loads(text, **options)
    except json.JSONDecodeError as exc:
        raise BadJson(exc.msg, exc.lineno, exc.colno) from None
    except RecursionError:
        raise BadJson("nested too deeply") from None
    except ValueError as exc:
        raise BadJson(str(exc)) from None


def loads_patient(text: str) -> Any:
    """Parse one patient's JSON text; :class:`BadJson` when it is not JSON.

    NaN/Infinity are read as floats so that the validator rejects them naming the field,
    the value and the allowed range; a repeated key is a :class:`PatientError`; nesting
    too deep for the parser is an error, never a crash.
    """
    try:
        return loads_json(text, object_pairs_hook=_no_duplicates, parse_constant=float)
    except BadJson as exc:
        if exc.line is not None or _DIGIT_LIMIT not in str(exc):
            raise
        # an integer longer than Python's int-from-text limit: read it exactly (on this rare
        # path only), so that the validator names its field like any other bad value
        return loads_json(text, object_pairs_hook=_no_duplicates, parse_constant=float, parse_int=_long_int)


_DIGIT_LIMIT = "Exceeds the limit"  # CPython's message for int(text) over sys.get_int_max_str_digits()
_CHUNK_DIGITS = 1000


def _long_int(text: str) -> int:
    """``int(text)`` for a JSON integer of any length (exact; the limit guards str -> int only)."""
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("-")
    value = 0
    for i in range(0, len(digits), _CHUNK_DIGITS):
        chunk = digits[i : i + _CHUNK_DIGITS]
        value = value * 10 ** len(chunk) + int(chunk)
    return sign * value


def decode_utf8(raw: bytes) -> str:
    """``raw`` as strict UTF-8; :class:`BadJson` naming the offending byte otherwise."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        raise BadJson(f"not UTF-8 text (byte 0x{bad} at offset {exc.start})") from None


def read_patient_bytes(item: str, limit: int = MAX_PATIENT_BYTES) -> bytes:
    """The bytes of a patient file, or of standard input for ``-``; bounded, regular files only."""
    from crs_model.fileio import read_regular, read_stream

    if item != "-":
        return read_regular(item, limit)
    if sys.stdin is None:
        raise InputFileError(STDIN, "standard input is closed")
    return read_stream(sys.stdin.buffer, limit, STDIN)


def read_patient(item: str) -> Any:
    """One patient object from a JSON file (or ``-``); raises InputFileError, BadJson or PatientError."""
    return loads_patient(decode_utf8(read_patient_bytes(item)))
