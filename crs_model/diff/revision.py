"""The two sides of a diff: a spec file, or ``REV:path`` read from git (``git show REV:path``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from crs_model.errors import CrsModelError, Problem, SpecError
from crs_model.model import Spec
from crs_model.source import MAX_SPEC_BYTES


class RevisionError(CrsModelError):
    """``REV:path`` cannot be read: not a git repository, an unknown revision, or a path the
    revision does not hold. Check the revision (``git log``) and the path (``git ls-tree REV``)."""


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        # fixed argv (no shell); the revision and path are arguments git parses, never a command
        return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, check=False, timeout=60)  # noqa: S603, S607
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RevisionError(f"cannot run git: {exc}") from None


def _existing_dir(path: Path) -> Path:
    """The nearest existing folder holding ``path`` (the file may exist only in history)."""
    p = path.absolute().parent
    while not p.is_dir():
        p = p.parent
    return p


def read_revision(rev: str, path: str) -> tuple[bytes, str]:
    """The bytes of ``path`` at git revision ``rev`` and the name to show (``rev:relative/path``).

    ``path`` is relative to the current folder; git runs in the repository holding it.
    """
    if rev.startswith("-"):  # git would read it as an option
        raise RevisionError(f"'{rev}:{path}': a revision does not start with '-'")
    where = _existing_dir(Path(path))
    top = _git(where, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise RevisionError(f"'{rev}:{path}': {where} is not in a git repository")
    root = Path(top.stdout.decode().strip())
    try:
        rel = Path(path).absolute().relative_to(root).as_posix()
    except ValueError:
        raise RevisionError(f"'{rev}:{path}': the path is outside the repository at {root}") from None
    if _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").returncode != 0:
        raise RevisionError(f"'{rev}:{path}': unknown revision '{rev}' in the repository at {root}")
    if _git(root, "cat-file", "-e", f"{rev}:{rel}").returncode != 0:
        raise RevisionError(f"'{rev}:{path}': revision '{rev}' has no file '{rel}'")
    size = _git(root, "cat-file", "-s", f"{rev}:{rel}")
    if size.returncode != 0 or int(size.stdout.strip() or 0) > MAX_SPEC_BYTES:
        raise RevisionError(f"'{rev}:{rel}' is not a file of at most {MAX_SPEC_BYTES} bytes")
    shown = _git(root, "show", f"{rev}:{rel}")
    if shown.returncode != 0:
        raise RevisionError(f"'{rev}:{rel}': git show failed: {shown.stderr.decode(errors='replace').strip()}")
    return shown.stdout, f"{rev}:{rel}"


def load_side(arg: str) -> Spec:
    """A spec file, or ``REV:path`` when no file of that name exists and it holds a ``:``.

    Raises :class:`SpecError` (a located problem) or :class:`RevisionError`.
    """
    from crs_model.loader import load_spec_bytes, load_spec_file

    if Path(arg).exists() or ":" not in arg:
        return load_spec_file(arg)
    rev, _, path = arg.partition(":")
    if not rev or not path:
        raise SpecError(Problem(None, f"'{arg}' is neither a spec file nor REV:path"))
    raw, name = read_revision(rev, path)
    return load_spec_bytes(raw, name)


__all__ = ["RevisionError", "load_side", "read_revision"]
