"""Governance sign-off bound to the exact bytes of a spec (its sha256).

A sign-off file sits beside the spec (``cytosorb_crs.yaml`` ->
``cytosorb_crs.signoff.yaml``) and is append-only: each record names who signed,
in which role, on which date, with an optional note, and the sha256 of the spec
bytes they reviewed. Changing one byte of the spec changes its hash, so the
version in use no longer matches any record until the committee signs again.

``require_signoff(spec)`` is what ``load_spec(..., require_signoff=True)`` and
``Engine(spec, require_signoff=True)`` call; ``signoff_findings(spec)`` is the
hook for ``crs-model verify`` (warnings for an unsigned hash or an ``active``
spec without a sign-off).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crs_model.diagnostics import Diagnostic, Location, Severity
from crs_model.errors import Problem, SignoffError, SpecError
from crs_model.fileio import beside, spec_stem
from crs_model.model import Spec, Status

if TYPE_CHECKING:
    from crs_model.source import YNode

SUFFIX = ".signoff.yaml"
FIELDS = ("sha256", "spec_id", "version", "status", "name", "role", "date", "note")
_REQUIRED = ("sha256", "name", "role", "date")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_FIELD = 200
MAX_NOTE = 2000


@dataclass(frozen=True, slots=True)
class SignoffRecord:
    """One reviewer's approval of one exact version of a spec."""

    sha256: str
    spec_id: str
    version: str
    status: str
    name: str
    role: str
    date: str
    note: str
    loc: Location | None = None

    def to_dict(self) -> dict[str, str]:
        """The record as the sign-off file stores it (every field, in file order)."""
        return {k: getattr(self, k) for k in FIELDS}


def signoff_path(spec_path: str | Path) -> Path:
    """``specs/cytosorb_crs.yaml`` -> ``specs/cytosorb_crs.signoff.yaml``."""
    return beside(spec_path, SUFFIX)


@dataclass(frozen=True, slots=True)
class SignoffFile:
    """What a sign-off file holds: its valid records and, located, every record that is not one.

    A malformed or torn record never counts as a sign-off, and never hides the
    valid records around it.
    """

    path: Path
    records: tuple[SignoffRecord, ...]
    problems: tuple[Problem, ...]


class _Bad(Exception):
    """A record (or the file's shape) is not valid: ``args[0]`` is the located :class:`Problem`."""


def _record(item: YNode, n: int) -> SignoffRecord:
    """Record ``n`` (1-based) of the file from its YAML node; :class:`_Bad` says what is wrong."""
    from crs_model.source import YMap, YScalar

    if not isinstance(item, YMap):
        raise _Bad(Problem(item.loc, f"sign-off record {n} must be a mapping"))
    values: dict[str, str] = {}
    for key, (knode, vnode) in item.items.items():
        if key not in FIELDS:
            raise _Bad(Problem(knode.loc, f"unknown key '{key}' in sign-off record {n}"))
        if not isinstance(vnode, YScalar) or isinstance(vnode.value, bool) or vnode.value is None:
            raise _Bad(Problem(vnode.loc, f"sign-off record {n}: '{key}' must be text"))
        values[key] = str(vnode.value)
    for key in _REQUIRED:
        if not values.get(key, "").strip():
            raise _Bad(Problem(item.loc, f"sign-off record {n} is missing '{key}'"))
    if not _HEX64.match(values["sha256"]):
        raise _Bad(Problem(item.loc, f"sign-off record {n}: sha256 is not 64 lowercase hex digits"))
    return SignoffRecord(**{k: values.get(k, "") for k in FIELDS}, loc=item.loc)


def _problem(exc: SpecError, fallback: Location) -> Problem:
    first = exc.problems[0]
    return Problem(first.location or fallback, f"malformed sign-off file: {first.message}")


def _chunks(raw: bytes) -> list[tuple[int, bytes]]:
    """(first line, bytes) of each top-level ``- `` item; line 0 holds what precedes the first one.

    Split as bytes, so a chunk with bytes that are not UTF-8 fails on its own.
    """
    out: list[tuple[int, list[bytes]]] = [(0, [])]
    for i, line in enumerate(raw.splitlines(keepends=True), 1):
        if line.startswith(b"-") and (len(line) == 1 or line[1:2] in (b" ", b"\t", b"\r", b"\n")):
            out.append((i, []))
        out[-1][1].append(line)
    return [(first, b"".join(lines)) for first, lines in out]


def _parse(raw: bytes, path: Path) -> tuple[list[SignoffRecord], list[Problem]]:
    """Every record the bytes hold; a record that does not parse is a problem, its neighbours still count.

    The whole file is parsed first (any YAML list is accepted); when that fails (a
    torn or malformed record), each top-level list item is parsed on its own, at
    its own line numbers, so one bad record cannot hide the others.
    """
    from crs_model.source import YSeq, load_yaml

    name = str(path)
    top = Location(name, 1, 1)
    try:
        items = list(enumerate(_items(load_yaml(raw, name).root), 1))
    except _Bad as exc:
        return [], [exc.args[0]]
    except SpecError as whole:
        chunks = _chunks(raw)
        # not a block list (flow style, or text before the first item): nothing to recover record by record
        if len(chunks) == 1 or _meaningful(chunks[0][1].decode("utf-8", "replace")):
            return [], [_problem(whole, top)]
        items, problems = [], []
        for n, (first, chunk) in enumerate(chunks[1:], 1):
            padded = b"\n" * (first - 1) + chunk  # so that locations are the file's own
            try:
                root = load_yaml(padded, name).root
            except SpecError as exc:  # located at the record's start: that is what to repair or remove
                detail = exc.problems[0]
                at = f" at {detail.location.line}:{detail.location.column}" if detail.location else ""
                problems.append(
                    Problem(Location(name, first, 1), f"sign-off record {n} is torn or malformed: {detail.message}{at}")
                )
                continue
            if not isinstance(root, YSeq) or len(root.items) != 1:  # pragma: no cover - a chunk is one "- " item
                problems.append(Problem(Location(name, first, 1), f"sign-off record {n} is not one list item"))
                continue
            items.append((n, root.items[0]))
        records, bad = _records(items)
        return records, sorted([*problems, *bad], key=_problem_order)
    return _records(items)


def _items(root: YNode) -> list[YNode]:
    from crs_model.source import YSeq

    if not isinstance(root, YSeq):
        raise _Bad(Problem(root.loc, "a sign-off file is a list of records"))
    return list(root.items)


def _records(items: list[tuple[int, YNode]]) -> tuple[list[SignoffRecord], list[Problem]]:
    records: list[SignoffRecord] = []
    problems: list[Problem] = []
    for n, item in items:
        try:
            records.append(_record(item, n))
        except _Bad as exc:
            problems.append(exc.args[0])
    return records, problems


def _problem_order(p: Problem) -> tuple[int, int]:
    return (p.location.line, p.location.column) if p.location else (0, 0)


def _meaningful(text: str) -> bool:
    """Whether ``text`` holds more than blank lines and comments."""
    return any(ln.strip() and not ln.lstrip().startswith("#") for ln in text.splitlines())


def _read_bytes(path: Path) -> bytes | None:
    """The file's bytes (None when absent); only a regular file is read (a FIFO would block)."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise SignoffError(f"{path}: cannot read sign-off file: not a regular file")
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SignoffError(f"{path}: cannot read sign-off file: {exc.strerror}") from None


def read_signoffs(spec_path: str | Path) -> SignoffFile:
    """The sign-off file beside ``spec_path``: valid records and located problems (empty when absent).

    Raises :class:`SignoffError` only when the file exists but cannot be read.
    """
    path = signoff_path(spec_path)
    raw = _read_bytes(path)
    if raw is None or not _meaningful(raw.decode("utf-8", "replace")):
        return SignoffFile(path, (), ())
    records, problems = _parse(raw, path)
    return SignoffFile(path, tuple(records), tuple(problems))


def read_records(spec_path: str | Path) -> tuple[SignoffRecord, ...]:
    """Every valid record of the sign-off file beside ``spec_path`` (none when it does not exist).

    Malformed records are skipped (see :func:`read_signoffs` for them); raises
    :class:`SignoffError` only when the file cannot be read.
    """
    return read_signoffs(spec_path).records


def records_for(spec: Spec) -> tuple[SignoffRecord, ...]:
    """The records whose hash is this spec's exact bytes."""
    return tuple(r for r in read_records(spec.path) if r.sha256 == spec.sha256)


def _clean(value: str, what: str, limit: int, *, required: bool) -> str:
    text = " ".join(value.split())
    if required and not text:
        raise SignoffError(f"{what} must not be empty")
    if len(text) > limit:
        raise SignoffError(f"{what} is {len(text)} characters; the limit is {limit}")
    return text


def append_record(
    spec: Spec, *, name: str, role: str, note: str = "", date: str | None = None
) -> tuple[SignoffRecord, Path]:
    """Append a sign-off of ``spec``'s current bytes to the file beside it; returns the record and file."""
    when = date if date is not None else _dt.datetime.now(_dt.UTC).date().isoformat()
    if not _DATE.match(when):
        raise SignoffError(f"date={when!r} is not an ISO date like 2026-11-23")
    try:
        _dt.date.fromisoformat(when)
    except ValueError:
        raise SignoffError(f"date={when!r} is not a calendar date") from None
    md = spec.metadata
    record = SignoffRecord(
        sha256=spec.sha256,
        spec_id=md.id,
        version=md.version,
        status=md.status.value,
        name=_clean(name, "--name", MAX_FIELD, required=True),
        role=_clean(role, "--role", MAX_FIELD, required=True),
        date=when,
        note=_clean(note, "--note", MAX_NOTE, required=False),
    )
    path = signoff_path(spec.path)
    if path.is_symlink():  # the new file replaces the path itself: never write through a link
        raise SignoffError(f"{path}: is a symbolic link; refusing to write the sign-off file through it")
    import yaml

    chunk = yaml.safe_dump([record.to_dict()], sort_keys=False, allow_unicode=True, width=100)
    with _locked(path.parent):  # read, check and replace as one step: concurrent sign-offs lose no record
        existing = _read_bytes(path) or b""
        problems = _parse(existing, path)[1] if _meaningful(existing.decode("utf-8", "replace")) else []
        if problems:  # a record appended after a broken one would be reviewed beside it: repair first
            raise SignoffError(
                f"{problems[0]}; the sign-off file holds {len(problems)} malformed record(s): repair or remove "
                f"them (the file is under review in git) before signing"
            )
        if not existing:
            existing = (
                f"# Governance sign-off records for {Path(spec.path).name} (append-only; written by\n"
                f"# `crs-model signoff`). Each record binds a reviewer to the exact bytes of the spec\n"
                f"# through its sha256: any change to the spec needs a new sign-off.\n".encode()
            )
        elif not existing.endswith(b"\n"):
            existing += b"\n"
        _replace_atomically(path, existing + chunk.encode("utf-8"))
    return record, path


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``directory`` for the duration (none where it cannot be taken)."""
    try:
        import fcntl

        fd = os.open(directory, os.O_RDONLY)
    except (ImportError, OSError):  # no flock here, or an unreadable directory (the write will say so)
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, rename it over ``path``.

    A reader sees the old file or the new one, never a torn one; on any failure
    (disk full, read-only directory) the old file is left as it was.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    except OSError as exc:
        raise SignoffError(f"{path}: cannot write sign-off file: {exc.strerror}; nothing was written") from None
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)  # a symlink at ``path`` would be replaced, not followed
        tmp = None
        _fsync_dir(path.parent)
    except OSError as exc:
        why = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise SignoffError(f"{path}: cannot write sign-off file: {why}; the file is unchanged") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse to fsync a directory; the rename itself is done
    finally:
        os.close(fd)


def _short(sha: str) -> str:
    return sha[:12]


def require_signoff(spec: Spec) -> None:
    """Raise :class:`SignoffError` unless the spec's exact bytes have been signed off."""
    records = read_records(spec.path)
    if any(r.sha256 == spec.sha256 for r in records):
        return
    where = signoff_path(spec.path)
    if records:
        known = "; ".join(f"{r.version} sha256 {_short(r.sha256)} by {r.name} ({r.date})" for r in records[-3:])
        detail = f"{where} signs other bytes only ({known})"
    else:
        detail = f"no sign-off file {where}" if not where.exists() else f"{where} holds no records"
    raise SignoffError(
        f"{spec.path}: sha256 {spec.sha256} matches no governance sign-off: {detail}. The spec is unreviewed "
        f"or was changed after review; have the committee review this version and run "
        f"`crs-model signoff {spec.path} --name NAME --role ROLE`"
    )


def _status_location(spec: Spec) -> Location:
    from crs_model.source import YMap

    root = spec.source.root
    if isinstance(root, YMap) and "metadata" in root.items:
        md = root.items["metadata"][1]
        if isinstance(md, YMap) and "status" in md.items:
            return md.items["status"][1].loc
        return md.loc
    return Location(spec.path, 1, 1)


def signoff_findings(spec: Spec) -> list[Diagnostic]:
    """Warnings for ``crs-model verify``: the current hash is unsigned; an ``active`` spec is unsigned.

    Each malformed or torn record is an error finding at its ``file:line:col`` (it
    vouches for nothing); the valid records around it still count.
    """
    loc = _status_location(spec)
    try:
        file = read_signoffs(spec.path)
    except SignoffError as exc:
        return [
            Diagnostic(
                location=Location(str(signoff_path(spec.path)), 1, 1),
                message=str(exc),
                severity=Severity.ERROR,
                code="signoff",
                element="signoff:file",
            )
        ]
    fallback = Location(str(file.path), 1, 1)
    bad = [
        Diagnostic(
            location=p.location or fallback,
            message=p.message,
            severity=Severity.ERROR,
            code="signoff",
            element="signoff:file",
        )
        for p in file.problems
    ]
    records = file.records
    if any(r.sha256 == spec.sha256 for r in records):
        return bad
    md = spec.metadata
    where = signoff_path(spec.path)
    others = f" ({len(records)} record{'s' if len(records) != 1 else ''} for other bytes)" if records else ""
    out = [
        *bad,
        Diagnostic(
            location=Location(spec.path, 1, 1),
            message=f"this spec's sha256 {_short(spec.sha256)}… ({md.id} {md.version}) has no governance sign-off in "
            f"{where}{others}; run `crs-model signoff {spec.path} --name NAME --role ROLE` after review",
            severity=Severity.WARNING,
            code="signoff",
            element="spec:sha256",
        ),
    ]
    if md.status is Status.ACTIVE:
        out.append(
            Diagnostic(
                location=loc,
                message=f"metadata.status is 'active' but this exact version ({md.version}, sha256 "
                f"{_short(spec.sha256)}…) has no sign-off: an active spec must be signed off before use",
                severity=Severity.WARNING,
                code="signoff",
                element="metadata:status",
            )
        )
    return out


__all__ = [
    "SignoffFile",
    "SignoffRecord",
    "append_record",
    "beside",
    "read_records",
    "read_signoffs",
    "records_for",
    "require_signoff",
    "signoff_findings",
    "signoff_path",
    "spec_stem",
]
