"""The verifier's layout holds its contracts: CHECKS, one module per check, z3-free top and report."""

from __future__ import annotations

import importlib

from crs_model.verify import CHECKS
from crs_model.verify.checks import RUNNERS
from crs_model.verify.report import Check
from tests.conftest import modules_loaded


def test_checks_keep_their_names_and_order() -> None:
    assert CHECKS == (
        "contradiction",
        "unreachable",
        "overlap",
        "gap",
        "invariant",
        "temporal",
        "missing-data",
        "missing-data-complete",
        "redundant",
        "uncited",
    )
    assert tuple(c.value for c in Check) == CHECKS
    assert tuple(RUNNERS) == tuple(Check)


def test_one_module_per_check() -> None:
    for check in Check:
        module = importlib.import_module(f"crs_model.verify.checks.{check.value.replace('-', '_')}")
        assert RUNNERS[check] is module.run
        assert module.run.__doc__


def test_the_api_and_the_report_formats_do_not_import_z3() -> None:
    code = "import crs_model.verify, crs_model.verify.report, crs_model.commands.verify"
    assert modules_loaded(code, ("z3",)) == []
