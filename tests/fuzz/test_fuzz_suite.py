"""The reusable invariant suite, run on the bundled spec (what ``pytest --crs-spec`` runs)."""

from __future__ import annotations

from crs_model.testing.suite import (
    crs_context,
    pytest_generate_tests,
    test_care_course,
    test_coverage,
    test_property,
)

__all__ = ["crs_context", "pytest_generate_tests", "test_care_course", "test_coverage", "test_property"]
