"""The "verification failed" banner at the top of a pack whose spec has verifier errors or undecided checks."""

from __future__ import annotations

from typing import Any

from crs_model.report.document import B, Block, Callout, Link, T
from crs_model.vocabulary import Tone, severity_text


def verification_banner(report: Any) -> list[Block]:
    """One callout naming the numbers of errors and unknowns (``[]`` when verified, or not run).

    ``report`` is a :class:`crs_model.verify.Report` (duck-typed): undecided elements are error
    findings of their own, so they are counted among the errors and named again as unknown.
    """
    if report is None:
        return []
    findings = tuple(getattr(report, "findings", ()))
    errors = sum(1 for f in findings if severity_text(f) == "error")
    unknown = len(getattr(report, "undecided", ()))
    if not errors and not unknown:
        return []
    said = f"{errors} error{'s' if errors != 1 else ''}"
    if unknown:
        said += f", {unknown} of them unknown (the solver could not decide)"
    return [
        Callout(
            Tone.BAD,
            [
                B("VERIFICATION FAILED: "),
                T(f"the verifier reports {said}. The decisions below are not proven safe; see "),
                Link("findings", "Verification findings"),
                T("."),
            ],
            "banner",
        )
    ]
