"""Prove a decision spec with Z3: contradictions, reachability, overlaps, gaps,
invariants and missing-data soundness, each finding with a witness patient.

Public API (the contract other tools code against)::

    from crs_model.verify import verify
    report = verify(spec)                 # all checks
    report.ok, report.findings, report.to_json()
    verify(spec, rlimit=10**9)            # more solver work per query

z3 is imported when ``verify`` runs, not by importing this package or ``crs_model``.
"""

from __future__ import annotations

from collections.abc import Sequence

from crs_model.model import Severity, Spec
from crs_model.verify.limits import DEFAULT_RLIMIT, MAX_RLIMIT
from crs_model.verify.report import CHECKS, CheckResult, Finding, Report, Verdict, to_junit, to_sarif

__all__ = [
    "CHECKS",
    "DEFAULT_RLIMIT",
    "MAX_RLIMIT",
    "CheckResult",
    "Finding",
    "Report",
    "Severity",
    "Verdict",
    "to_junit",
    "to_sarif",
    "verify",
]


def verify(spec: Spec, *, checks: Sequence[str] | None = None, rlimit: int = DEFAULT_RLIMIT) -> Report:
    """Run the named ``checks`` (default: every kind in :data:`CHECKS`) on ``spec``.

    Every query gets ``rlimit`` units of solver work; one the solver cannot decide
    makes its element ``unknown`` and the report not ``ok``.
    Raises ``ValueError`` for an unknown check name or a non-positive ``rlimit``.
    """
    if checks is not None:
        unknown = sorted(set(checks) - set(CHECKS))
        if unknown:
            raise ValueError(f"unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    if not 1 <= rlimit <= MAX_RLIMIT:
        raise ValueError(f"rlimit={rlimit} must be a number of solver resource units in 1..{MAX_RLIMIT}")
    from crs_model.verify.verifier import run_checks

    return run_checks(spec, checks, rlimit=rlimit)
