"""The ``crs-model`` command line: a thin argparse front over handler functions.

Each subcommand lives in a module under ``crs_model.commands`` that exposes
``register(subparsers)``; handlers take ``(args, out, err)`` and return an exit
code (0 ok, 1 the check found problems, 2 bad input or usage), so tests call
them directly. Heavy libraries are imported inside handlers only.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from crs_model import __version__
from crs_model.errors import CrsModelError

Handler = Callable[[argparse.Namespace, TextIO, TextIO], int]

COMMAND_MODULES = (
    "crs_model.commands.core",
    "crs_model.commands.verify",
    "crs_model.commands.render",
    "crs_model.commands.signing",
    "crs_model.commands.fuzz",
    "crs_model.commands.mutate",
    "crs_model.commands.suite",
    "crs_model.commands.diff",
    "crs_model.commands.robustness",
    "crs_model.commands.fhir",
    "crs_model.commands.serve",
    "crs_model.commands.sql",
    "crs_model.commands.cohort",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"crs-model: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``crs-model`` parser with every subcommand registered."""
    parser = _Parser(
        prog="crs-model",
        description="A verified clinical decision model declared as a spec (default: the bundled one): "
        "evaluate patients, check and verify specs. Exit codes: 0 ok, 1 a check found problems, "
        "2 bad input or usage.",
    )
    parser.add_argument("--version", action="version", version=f"crs-model {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    from crs_model.commands.common import merge_spec_option

    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(out)
        return 2
    problem = merge_spec_option(args)
    if problem:
        err.write(f"crs-model: error: {args.command}: {problem}\n")
        return 2
    try:
        code = handler(args, out, err)
        out.flush()  # a full disk or a closed pipe shows here, while we can still report it
        return code
    except CrsModelError as exc:  # user errors never show a traceback
        err.write(f"crs-model: error: {exc}\n")
        return 2
    except BrokenPipeError:  # the reader left (| head): nothing more to say
        return 0
    except OSError as exc:  # mostly writing the output failed (disk full); reading errors are CrsModelErrors
        what = f"{exc.filename}:" if exc.filename else "cannot write the output:"
        err.write(f"crs-model: error: {what} {exc.strerror or exc}\n")
        return 2
    except KeyboardInterrupt:
        err.write("crs-model: interrupted\n")
        return 130


def _standard_streams() -> tuple[TextIO, str | None]:
    """Guard against closed standard streams; return a usable stderr and a problem, if any.

    Python sets ``sys.stdin``/``stdout``/``stderr`` to None when the descriptor is closed
    (``<&-``, ``>&-``, ``2>&-``). The closed descriptors are pointed at /dev/null so that a
    file opened later cannot take their number; a closed stdout is an error (the result would
    be lost), a closed stdin is left None (``evaluate -`` reports it), a closed stderr is
    silenced.
    """
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is None:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    err: TextIO = sys.stderr if sys.stderr is not None else open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    sys.stderr = err
    if sys.stdout is None:
        return err, "standard output is closed; nothing can be printed"
    # JSON output is UTF-8 whatever the locale; a lone surrogate from a JSON escape in the
    # input is written as its JSON escape (backslashreplace), so the bytes stay valid UTF-8
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    return err, None


def run() -> None:
    """The ``crs-model`` console script."""
    err, problem = _standard_streams()
    if problem:
        err.write(f"crs-model: error: {problem}\n")
        sys.exit(2)
    code = main(err=err)
    try:
        sys.stdout.flush()
    except OSError:  # a closed pipe or a full disk, already reported: drop what is left unwritten
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
