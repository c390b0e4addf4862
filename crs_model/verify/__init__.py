"""Prove a decision spec with Z3: contradictions, reachability, overlaps, gaps,
invariants and missing-data soundness, each finding with a witness patient.

Public API (the contract other tools code against)::

    from crs_model.verify import verify
    report = verify(spec)                 # all checks
    report.ok, report.findings, report.to_json()

z3 is imported when ``verify`` runs, not by importing this package or ``crs_model``.
"""

from __future__ import annotations

from collections.abc import Sequence

from crs_model.model import Severity, Spec
from crs_model.verify.report import CHECKS, CheckResult, Finding, Report, to_junit, to_sarif

__all__ = ["CHECKS", "CheckResult", "Finding", "Report", "Severity", "to_junit", "to_sarif", "verify"]


def verify(spec: Spec, *, checks: Sequence[str] | None = None) -> Report:
    """Run the named ``checks`` (default: every kind in :data:`CHECKS`) on ``spec``.

    Raises ``ValueError`` for an unknown check name.
    """
    if checks is not None:
        unknown = sorted(set(checks) - set(CHECKS))
        if unknown:
            raise ValueError(f"unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    from crs_model.verify.checks import run_checks

    return run_checks(spec, checks)
