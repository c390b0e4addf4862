"""Bounded reading of regular files, and atomic writing.

Reading: a spec, a patient file or a trace map is opened without blocking (a FIFO
would otherwise wait forever for a writer), checked with ``fstat`` to be a regular
file, and read to at most ``limit + 1`` bytes, so ``/dev/zero`` or a file that grows
while it is read cannot exhaust memory.

Writing: the bytes go to a temporary file in the target's folder, which then
replaces the target with ``os.replace``. A reader sees the old file or the new one,
never half of it; a failed write (disk full, read-only folder) leaves the old file
as it was. A target that is a symbolic link is replaced as a link: the file it
points to is never written.

Naming: the files made from a spec (sign-off, trace map, diagrams) sit beside it
and share its stem.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from crs_model.errors import InputFileError, OutputFileError

_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_SKIP_CHUNK = 1024 * 1024


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _too_large(size: int, limit: int) -> str:
    return f"file is {size} bytes; the limit is {limit}"


def open_regular(path: str | Path) -> BinaryIO:
    """Open ``path`` for binary reading; raise :class:`InputFileError` unless it is a regular file."""
    name = str(path)
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        raise InputFileError(name, exc.strerror or str(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputFileError(name, f"it is {_kind(mode)}, not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_regular(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, refused when it holds more than ``limit`` bytes."""
    name = str(path)
    with open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise InputFileError(name, _too_large(size, limit))
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise InputFileError(name, exc.strerror or str(exc)) from None
    if len(data) > limit:  # it grew while we read it
        raise InputFileError(name, f"file is larger than the limit of {limit} bytes")
    return data


def read_stream(stream: BinaryIO, limit: int, name: str) -> bytes:
    """At most ``limit`` bytes of an open stream (standard input), refused when there are more."""
    try:
        data = stream.read(limit + 1)
    except OSError as exc:
        raise InputFileError(name, exc.strerror or str(exc)) from None
    if len(data) > limit:
        raise InputFileError(name, f"input is larger than the limit of {limit} bytes")
    return data


def iter_lines(stream: BinaryIO, max_line: int) -> Iterator[bytes | None]:
    """Each line of ``stream`` (with its newline), or None for a line longer than ``max_line`` bytes.

    A too-long line is skipped in bounded chunks, never held in memory whole, so one
    line of any length costs one ``None`` and the lines after it are still read.
    """
    readline = stream.readline
    cap = max_line + 1
    while line := readline(cap):
        if len(line) == cap and not line.endswith(b"\n"):
            while (more := readline(_SKIP_CHUNK)) and not more.endswith(b"\n"):
                pass
            yield None
        else:
            yield line


def make_dirs(path: str | Path) -> None:
    """Create the folder ``path`` (and its parents); :class:`OutputFileError` when that fails."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputFileError(str(path), "it exists and is not a folder") from None
    except OSError as exc:
        raise OutputFileError(str(path), exc.strerror or str(exc)) from None


def _temp_beside(target: Path) -> tuple[int, Path]:
    # 0o666 lets the umask decide the mode, as for a file opened normally
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        tmp = target.with_name(f".{target.name[:64]}.{os.urandom(6).hex()}.tmp")
        with contextlib.suppress(FileExistsError):
            return os.open(tmp, flags, 0o666), tmp


def write_atomic(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; :class:`OutputFileError` names the path on failure.

    An existing regular file keeps its permission bits; a symbolic link is replaced by
    the new file (its target is left untouched); a folder, FIFO or device is refused.
    """
    target = Path(path)
    name = str(path)
    try:
        old = os.lstat(target)
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise OutputFileError(name, exc.strerror or str(exc)) from None
    if old is not None and not (stat.S_ISREG(old.st_mode) or stat.S_ISLNK(old.st_mode)):
        raise OutputFileError(name, f"it is {_kind(old.st_mode)}")
    tmp: Path | None = None
    try:
        fd, tmp = _temp_beside(target)
        try:
            if old is not None and stat.S_ISREG(old.st_mode):
                os.fchmod(fd, stat.S_IMODE(old.st_mode))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise OutputFileError(name, exc.strerror or str(exc)) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def spec_stem(spec_path: str | Path) -> str:
    """``specs/cytosorb_crs.yaml`` -> ``cytosorb_crs`` (names of files made from a spec)."""
    p = Path(spec_path)
    return p.name[: -len(p.suffix)] if p.suffix in (".yaml", ".yml") else p.name


def beside(spec_path: str | Path, suffix: str) -> Path:
    """A file next to the spec: ``beside("specs/a.yaml", ".trace.yaml")`` -> ``specs/a.trace.yaml``."""
    return Path(spec_path).with_name(spec_stem(spec_path) + suffix)


__all__ = [
    "beside",
    "iter_lines",
    "make_dirs",
    "open_regular",
    "read_regular",
    "read_stream",
    "spec_stem",
    "write_atomic",
]
