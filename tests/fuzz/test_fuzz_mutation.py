"""Mutation score: ``crs-model mutate`` kills the mutants that violate a safety invariant."""

from __future__ import annotations

import json

import pytest

from tests.fuzz.conftest import SPEC_PATH
from tests.fuzz.test_fuzz_cli import _cli

pytestmark = pytest.mark.quality


def test_mutate_reports_killed_and_score() -> None:
    code, out, _ = _cli(
        "mutate",
        str(SPEC_PATH),
        "--max-mutants",
        "6",
        "--examples",
        "100",
        "--deep",
        "200",
        "--jobs",
        "1",
        "--format",
        "json",
    )
    report = json.loads(out)
    assert report["mutants_run"] == 6
    assert report["killed"] >= 4
    assert report["invariant_violating"] >= report["invariant_violating_killed"]
    assert code == (0 if report["score_percent"] >= 95 else 1)
