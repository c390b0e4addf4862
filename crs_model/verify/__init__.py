"""Prove a decision spec with Z3: contradictions, reachability, overlaps, gaps,
invariants, temporal invariants over care courses (bounded model checking) and
missing-data soundness, each finding with a witness patient (or course).

Public API (the contract other tools code against)::

    from crs_model.verify import verify
    report = verify(spec)                 # all checks
    report.ok, report.findings, report.to_json()
    verify(spec, rlimit=10**9)            # more solver work per query
    verify(spec, bmc_depth=8)             # care courses of up to 8 steps (default 6)

z3 is imported when ``verify`` runs, not by importing this package or ``crs_model``.
"""

from __future__ import annotations

from collections.abc import Sequence

from crs_model.model import Severity, Spec
from crs_model.verify.limits import DEFAULT_BMC_DEPTH, DEFAULT_RLIMIT, MAX_BMC_DEPTH, MAX_RLIMIT
from crs_model.verify.report import (
    CHECKS,
    CheckResult,
    Finding,
    Report,
    TemporalSummary,
    Verdict,
    to_junit,
    to_sarif,
)

__all__ = [
    "CHECKS",
    "DEFAULT_BMC_DEPTH",
    "DEFAULT_RLIMIT",
    "MAX_BMC_DEPTH",
    "MAX_RLIMIT",
    "CheckResult",
    "Finding",
    "Report",
    "Severity",
    "TemporalSummary",
    "Verdict",
    "to_junit",
    "to_sarif",
    "verify",
]


def verify(
    spec: Spec,
    *,
    checks: Sequence[str] | None = None,
    rlimit: int = DEFAULT_RLIMIT,
    bmc_depth: int = DEFAULT_BMC_DEPTH,
) -> Report:
    """Run the named ``checks`` (default: every kind in :data:`CHECKS`) on ``spec``.

    Every query gets ``rlimit`` units of solver work; one the solver cannot decide
    makes its element ``unknown`` and the report not ``ok``. Temporal invariants are
    proven for every care course of up to ``bmc_depth`` steps.
    Raises ``ValueError`` for an unknown check name, a non-positive ``rlimit`` or a
    ``bmc_depth`` outside 1..MAX_BMC_DEPTH.
    """
    if checks is not None:
        unknown = sorted(set(checks) - set(CHECKS))
        if unknown:
            raise ValueError(f"unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    if not 1 <= rlimit <= MAX_RLIMIT:
        raise ValueError(f"rlimit={rlimit} must be a number of solver resource units in 1..{MAX_RLIMIT}")
    if not 1 <= bmc_depth <= MAX_BMC_DEPTH:
        raise ValueError(f"bmc_depth={bmc_depth} must be a number of care-course steps in 1..{MAX_BMC_DEPTH}")
    from crs_model.verify.verifier import run_checks

    return run_checks(spec, checks, rlimit=rlimit, bmc_depth=bmc_depth)
