from __future__ import annotations

from pathlib import Path

import pytest

import crs_model
from crs_model.engine import Engine
from crs_model.model import Spec

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "specs" / "cytosorb_crs.yaml"


@pytest.fixture(scope="session")
def spec() -> Spec:
    return crs_model.load_spec(SPEC_PATH)


@pytest.fixture(scope="session")
def engine(spec: Spec) -> Engine:
    return Engine(spec)
