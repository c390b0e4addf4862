"""The sign-off file beside a spec (``SPEC.signoff.yaml``): its records, read robustly and appended atomically.

The file is an append-only YAML list, reviewed in git like the spec. Reading is
per record: one torn or hand-broken record is a located problem and never hides
the valid records around it. Appending reads, checks and replaces the file under
an exclusive ``flock`` on its folder, through a temporary file that is fsynced and
renamed, so concurrent sign-offs lose no record and a reader never sees half of
one. What a record *means* (its signature, its signer) is :mod:`crs_model.signoff`'s
business; this module only stores text fields.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crs_model.diagnostics import Location
from crs_model.errors import Problem, SignoffError, SpecError
from crs_model.fileio import beside

if TYPE_CHECKING:
    from crs_model.source import YNode

SUFFIX = ".signoff.yaml"
SCHEME = "ed25519-v1"
MEANINGS = ("reviewed", "approved")
# a signed record, in file order; every field but ``signature`` is covered by the signature
FIELDS = (
    "scheme",
    "sha256",
    "spec_id",
    "version",
    "status",
    "name",
    "role",
    "meaning",
    "signed_at",
    "toolkit",
    "verification",
    "verification_sha256",
    "override_reason",
    "note",
    "public_key",
    "signature",
)
_REQUIRED = (
    "sha256",
    "name",
    "role",
    "meaning",
    "signed_at",
    "toolkit",
    "verification_sha256",
    "public_key",
    "signature",
)
# the previous, unsigned format: still read (and reported as unsigned), never written
LEGACY_FIELDS = ("sha256", "spec_id", "version", "status", "name", "role", "date", "note")
_LEGACY_REQUIRED = ("sha256", "name", "role", "date")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SignoffRecord:
    """One record of a sign-off file, as text fields; ``signed`` is False for the previous, unsigned format."""

    sha256: str
    name: str
    role: str
    scheme: str = ""
    spec_id: str = ""
    version: str = ""
    status: str = ""
    meaning: str = ""
    signed_at: str = ""  # UTC, ``2026-12-01T09:30:00Z``, set by the tool
    toolkit: str = ""
    verification: str = ""
    verification_sha256: str = ""
    override_reason: str = ""
    note: str = ""
    public_key: str = ""
    signature: str = ""
    date: str = ""  # previous format only
    loc: Location | None = None

    @property
    def signed(self) -> bool:
        """Whether the record is in the signed format (whether its signature verifies is another question)."""
        return bool(self.scheme)

    @property
    def when(self) -> str:
        """The UTC time of a signed record, the date of an unsigned one."""
        return self.signed_at or self.date

    def to_dict(self) -> dict[str, str]:
        """The record as the sign-off file stores it (every field of its format, in file order)."""
        return {k: getattr(self, k) for k in (FIELDS if self.signed else LEGACY_FIELDS)}


def signoff_path(spec_path: str | Path) -> Path:
    """``specs/cytosorb_crs.yaml`` -> ``specs/cytosorb_crs.signoff.yaml``."""
    return beside(spec_path, SUFFIX)


@dataclass(frozen=True, slots=True)
class SignoffFile:
    """What a sign-off file holds: its well-formed records and, located, every record that is not one.

    A malformed or torn record never counts as a sign-off, and never hides the
    records around it.
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
    signed = "scheme" in item.items or "signature" in item.items
    allowed, required = (FIELDS, _REQUIRED) if signed else (LEGACY_FIELDS, _LEGACY_REQUIRED)
    values: dict[str, str] = {}
    for key, (knode, vnode) in item.items.items():
        if key not in allowed:
            raise _Bad(Problem(knode.loc, f"unknown key '{key}' in sign-off record {n}"))
        if not isinstance(vnode, YScalar) or isinstance(vnode.value, bool) or vnode.value is None:
            raise _Bad(Problem(vnode.loc, f"sign-off record {n}: '{key}' must be text"))
        values[key] = str(vnode.value)
    for key in required:
        if not values.get(key, "").strip():
            raise _Bad(Problem(item.loc, f"sign-off record {n} is missing '{key}'"))
    if not _HEX64.match(values["sha256"]):
        raise _Bad(Problem(item.loc, f"sign-off record {n}: sha256 is not 64 lowercase hex digits"))
    if signed:
        if values.get("scheme") != SCHEME:
            raise _Bad(Problem(item.loc, f"sign-off record {n}: scheme={values.get('scheme')!r} is not {SCHEME!r}"))
        if values["meaning"] not in MEANINGS:
            raise _Bad(
                Problem(
                    item.loc, f"sign-off record {n}: meaning={values['meaning']!r} is not one of {', '.join(MEANINGS)}"
                )
            )
        if not _UTC.match(values["signed_at"]):
            raise _Bad(
                Problem(
                    item.loc,
                    f"sign-off record {n}: signed_at={values['signed_at']!r} is not a UTC time (2026-12-01T09:30:00Z)",
                )
            )
        if not _HEX64.match(values["verification_sha256"]):
            raise _Bad(Problem(item.loc, f"sign-off record {n}: verification_sha256 is not 64 lowercase hex digits"))
    return SignoffRecord(**values, loc=item.loc)


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
    """The file's bytes (None when absent); only a regular file is read (a FIFO would block), and a bounded one."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise SignoffError(f"{path}: cannot read sign-off file: not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise SignoffError(
                f"{path}: cannot read sign-off file: it is {st.st_size} bytes; the limit is {MAX_FILE_BYTES}"
            )
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SignoffError(f"{path}: cannot read sign-off file: {exc.strerror}") from None


def read_signoffs(spec_path: str | Path) -> SignoffFile:
    """The sign-off file beside ``spec_path``: well-formed records and located problems (empty when absent).

    Raises :class:`SignoffError` only when the file exists but cannot be read.
    """
    path = signoff_path(spec_path)
    raw = _read_bytes(path)
    if raw is None or not _meaningful(raw.decode("utf-8", "replace")):
        return SignoffFile(path, (), ())
    records, problems = _parse(raw, path)
    return SignoffFile(path, tuple(records), tuple(problems))


def append(path: Path, record: SignoffRecord, header: str) -> None:
    """Append ``record`` to the sign-off file ``path`` (created with ``header``), atomically and under a lock.

    Refused (:class:`SignoffError`, the file untouched) when ``path`` is a symbolic link
    or already holds a malformed record: a record appended after a broken one would be
    reviewed beside it.
    """
    if path.is_symlink():  # the new file replaces the path itself: never write through a link
        raise SignoffError(f"{path}: is a symbolic link; refusing to write the sign-off file through it")
    import yaml

    chunk = yaml.safe_dump([record.to_dict()], sort_keys=False, allow_unicode=True, width=100)
    with _locked(path.parent):  # read, check and replace as one step: concurrent sign-offs lose no record
        existing = _read_bytes(path) or b""
        problems = _parse(existing, path)[1] if _meaningful(existing.decode("utf-8", "replace")) else []
        if problems:
            raise SignoffError(
                f"{problems[0]}; the sign-off file holds {len(problems)} malformed record(s): repair or remove "
                f"them (the file is under review in git) before signing"
            )
        if not existing:
            existing = header.encode("utf-8")
        elif not existing.endswith(b"\n"):
            existing += b"\n"
        _replace_atomically(path, existing + chunk.encode("utf-8"))


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


__all__ = [
    "FIELDS",
    "LEGACY_FIELDS",
    "MEANINGS",
    "SCHEME",
    "SignoffFile",
    "SignoffRecord",
    "append",
    "read_signoffs",
    "signoff_path",
]
