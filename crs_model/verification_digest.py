"""What a sign-off attests about verification: the digest and verdict of the verifier's report.

The digest is the sha256 of a canonical serialisation of the JSON report
(``crs-model verify --format json`` without timings and without sign-off
findings): keys sorted, no whitespace, UTF-8, with the spec's path written as its
file name so that the same bytes give the same digest in any checkout. The
verifier is deterministic (fixed seed, resource limit rather than wall clock), so a
reviewer can reproduce the digest a record carries.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crs_model.model import Spec


@dataclass(frozen=True, slots=True)
class Verification:
    """The verifier's verdict on one spec, as a sign-off records it."""

    spec_sha256: str  # the bytes that were verified
    digest: str  # sha256 of the canonical JSON report
    errors: int  # error findings (undecided ones included)
    unknown: int  # elements the solver could not decide, and invariants left unknown
    problems: tuple[str, ...]  # the error and unknown findings, one line each (for a refusal message)

    @property
    def ok(self) -> bool:
        """True when the report has no error and nothing unknown."""
        return not self.errors and not self.unknown

    @property
    def summary(self) -> str:
        """``verified: no errors, nothing unknown`` or the counts, as recorded and signed."""
        if self.ok:
            return "verified: no errors, nothing unknown"
        return f"verification failed: {self.errors} error(s), {self.unknown} unknown"


def canonical_digest(report_json: dict[str, Any], spec_path: str) -> str:
    """sha256 of the canonical serialisation of a verify JSON report (see the module docstring)."""
    text = json.dumps(report_json, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # the path as it appears inside JSON strings (escaped), then without its folder
    escaped, name = (json.dumps(p, ensure_ascii=False)[1:-1] for p in (spec_path, Path(spec_path).name))
    if escaped:
        text = text.replace(escaped, name)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_for_signoff(spec: Spec) -> Verification:
    """Run every verifier check on ``spec`` (loads z3) and return what a sign-off records."""
    from crs_model.verify import verify
    from crs_model.verify.report import Verdict

    report = verify(spec)
    statuses = [*report.invariant_status.values(), *(report.temporal.status.values() if report.temporal else ())]
    unknown_status = sum(1 for s in statuses if s == Verdict.UNKNOWN)
    problems = tuple(str(f) for f in report.errors)
    return Verification(
        spec_sha256=spec.sha256,
        digest=canonical_digest(report.to_json(timings=False), spec.path),
        errors=len(report.errors),
        # an invariant left unknown is also an undecided finding: count the larger, not both
        unknown=max(len(report.undecided), unknown_status),
        problems=problems,
    )


__all__ = ["Verification", "canonical_digest", "verify_for_signoff"]
