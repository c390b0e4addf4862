"""Helpers shared by subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from crs_model.errors import SpecError
from crs_model.model import Spec


def add_spec_argument(p: argparse.ArgumentParser, *, positional: bool = False) -> None:
    """``SPEC`` (positional, optional) or ``--spec SPEC``; default: the bundled spec."""
    if positional:
        p.add_argument("spec", nargs="?", default=None, metavar="SPEC", help="spec file (default: the bundled spec)")
    else:
        p.add_argument("--spec", default=None, metavar="SPEC", help="spec file (default: the bundled spec)")


def load_or_report(path: str | Path | None, err: TextIO) -> Spec | None:
    """Load a spec; on failure print every located problem to ``err`` and return None."""
    from crs_model import load_spec

    try:
        return load_spec(path)
    except SpecError as exc:
        for problem in exc.problems:
            err.write(f"{problem}\n")
        n = len(exc.problems)
        err.write(f"crs-model: spec not loaded ({n} problem{'s' if n != 1 else ''})\n")
        return None
