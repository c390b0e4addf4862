"""Programmatic runs of the validation suite: what ``crs-model fuzz`` and ``crs-model mutate`` call.

A public facade over the private modules of this package, so that the command line (and an
app that wants the same runs in its own tooling) depends on named entry points rather than
on internals::

    from crs_model.testing.runner import Context, profile, run_property, suite

Importing it imports Hypothesis (and, for mutation scoring, the verifier when a run needs it).
"""

from __future__ import annotations

from crs_model.testing._backend import BACKEND, with_backend
from crs_model.testing._care import run_care_course
from crs_model.testing._mutate import MutantResult, mutants, run_all, select, verifier_for
from crs_model.testing._profiles import profile
from crs_model.testing._properties import Context, PropertyResult, run_coverage, run_property, suite

__all__ = [
    "BACKEND",
    "Context",
    "MutantResult",
    "PropertyResult",
    "mutants",
    "profile",
    "run_all",
    "run_care_course",
    "run_coverage",
    "run_property",
    "select",
    "suite",
    "verifier_for",
    "with_backend",
]
