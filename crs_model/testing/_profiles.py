"""Hypothesis settings profiles: ``dev``, ``ci`` (what ``make test`` uses) and ``thorough``."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

PROFILES = ("dev", "ci", "thorough")
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def register_profiles() -> None:
    """Register the three profiles (idempotent)."""
    settings.register_profile(
        "dev", max_examples=300, deadline=None, suppress_health_check=_QUIET, report_multiple_bugs=False
    )
    # derandomized and without an example database: the same examples on every machine and run
    settings.register_profile(
        "ci",
        max_examples=1000,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        suppress_health_check=_QUIET,
        report_multiple_bugs=False,
    )
    settings.register_profile(
        "thorough",
        max_examples=100_000,
        deadline=None,
        suppress_health_check=_QUIET,
        report_multiple_bugs=False,
    )


def profile(name: str) -> settings:
    """The settings object of a registered profile."""
    register_profiles()
    return settings.get_profile(name)
