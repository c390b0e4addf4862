"""The ``crs-model`` command line: a thin argparse front over handler functions.

Each subcommand lives in a module under ``crs_model.commands`` that exposes
``register(subparsers)``; handlers take ``(args, out, err)`` and return an exit
code (0 ok, 1 the check found problems, 2 bad input or usage), so tests call
them directly. Heavy libraries are imported inside handlers only.
"""

from __future__ import annotations

import argparse
import importlib
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
    "crs_model.commands.fuzz",
    "crs_model.commands.mutate",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="crs-model",
        description="Decision model for CytoSorb hemoadsorption in cytokine release syndrome: "
        "evaluate patients, check and verify specs.",
    )
    parser.add_argument("--version", action="version", version=f"crs-model {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
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
    try:
        return handler(args, out, err)
    except CrsModelError as exc:  # user errors never show a traceback
        err.write(f"crs-model: error: {exc}\n")
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        err.write("crs-model: interrupted\n")
        return 130


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
