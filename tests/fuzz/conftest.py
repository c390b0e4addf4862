"""Hypothesis budget for this project's own runs: the ``ci`` profile unless one is chosen."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from crs_model.loader import load_spec_bytes
from crs_model.model import Spec
from crs_model.testing._profiles import register_profiles

SPEC_PATH = Path(__file__).resolve().parents[2] / "specs" / "cytosorb_crs.yaml"


def pytest_configure(config: pytest.Config) -> None:
    register_profiles()
    if not config.getoption("--hypothesis-profile", default=None) and not config.getoption("crs_profile", default=None):
        settings.load_profile("ci")


def planted(old: str, new: str) -> Spec:
    """The bundled spec with one planted fault (``old`` replaced once by ``new``)."""
    raw = SPEC_PATH.read_bytes()
    assert raw.count(old.encode()) >= 1, f"{old!r} not in the spec"
    return load_spec_bytes(raw.replace(old.encode(), new.encode(), 1), "planted.yaml")
