"""Shared paths and loaders for the vignette, traceability and example tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "specs" / "cytosorb_crs.yaml"
VIGNETTE_DIR = ROOT / "tests" / "vignettes"
EXAMPLES_DIR = ROOT / "specs" / "examples" / "patients"
TRACE_PATH = ROOT / "specs" / "cytosorb_crs.trace.yaml"
# CI checks the project out with the shared reference folder beside the clone.
SEED_PATH = ROOT.parent / "shared" / "reference" / "000_131ea735c4698000.txt"

SEED_START = "CytoSorb hemoadsorption is indicated as a rescue therapy"
SEED_END = "Professional Medical Disclaimer"


def normalize(text: str) -> str:
    """Collapse white space so a quoted phrase matches across the seed's line layout."""
    return re.sub(r"\s+", " ", text).strip()


def seed_text() -> str | None:
    """The seed summary, or None when the shared reference folder is not beside the clone."""
    return SEED_PATH.read_text(encoding="utf-8") if SEED_PATH.is_file() else None


def seed_statements(text: str) -> list[str]:
    """Every statement of the seed's clinical sections, whitespace-normalized.

    The clinical sections run from the opening indication sentence to the etiology
    notes (the disclaimer and page chrome are excluded). A statement is a bullet line
    (``•``), a numbered indication line (``1. ...``), or a prose line that ends like a
    sentence or a lead-in (``.``, ``:`` or a reference number); section headings end in
    none of these and are skipped.
    """
    start = text.index(SEED_START)
    end = text.index(SEED_END, start)
    out: list[str] = []
    for raw in text[start:end].splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("•"):
            out.append(normalize(line[1:]))
        elif re.match(r"^\d+\.\s", line) or re.search(r"[.:]$|\d$", line):
            out.append(normalize(line))
    return out


def load_vignettes(folder: Path = VIGNETTE_DIR) -> list[dict[str, Any]]:
    """Every vignette of every ``*.yaml`` file of ``folder`` (default ``tests/vignettes``), with its
    file name in ``_file``."""
    out: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        items = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(items, list), f"{path.name}: a vignette file holds a list"
        for item in items:
            assert isinstance(item, dict), f"{path.name}: each vignette is a mapping"
            out.append({**item, "_file": path.name})
    return out


# an expect key is one of these or a reported output the spec declares (``outputs:``)
EXPECT_KEYS = {
    "recommendation", "outcome", "missing", "missing_any_of", "path", "flags", "absent_flags", "actions",
    "possible_flags", "undecided_outputs", "missing_includes",
}  # fmt: skip


def check_expectations(got: dict[str, Any], expect: dict[str, Any]) -> None:
    """Compare a decision (as its JSON dict) with a vignette's ``expect``."""
    assert got["recommendation"] == expect["recommendation"]
    if "outcome" in expect:
        assert got["outcome"] == expect["outcome"]
    for key, want in expect.items():  # every other key is a reported output
        if key in EXPECT_KEYS:
            continue
        assert key in got, f"{key} is not reported on the decision"
        if want is None or isinstance(want, (bool, str)):
            assert got[key] == want, key
        else:
            assert got[key] == pytest.approx(want, rel=1e-9), key
    if "missing" in expect:
        assert got["missing"] == expect["missing"]
    assert set(expect.get("missing_includes", ())) <= set(got["missing"]), f"missing: {got['missing']}"
    if "missing_any_of" in expect:
        assert got["missing_any_of"] == expect["missing_any_of"]
    if "undecided_outputs" in expect:
        assert got["undecided_outputs"] == expect["undecided_outputs"]
    possible = {f["id"] for f in got["possible_flags"]}
    assert set(expect.get("possible_flags", ())) <= possible, f"possible flags: {sorted(possible)}"
    if "path" in expect:
        assert got["path"] == expect["path"]
    flags = {f["id"] for f in got["flags"]}
    actions = {a["id"] for a in got["actions"]}
    assert set(expect.get("flags", ())) <= flags, f"flags shown: {sorted(flags)}"
    assert not set(expect.get("absent_flags", ())) & flags, f"flags shown: {sorted(flags)}"
    assert set(expect.get("actions", ())) <= actions, f"actions: {sorted(actions)}"
