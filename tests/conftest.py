from __future__ import annotations

import subprocess
import sys
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


def modules_loaded(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {modules!r} if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return [m for m in res.stdout.strip().split(",") if m]


def idle_inputs(patient: dict[str, object]) -> set[str]:
    """The shipped spec's inputs that mean nothing for this patient, so a complete record may omit them:
    the optional post-treatment IL-6, hours since a dose when none was given, and cartridge hours when
    CytoSorb is not running or was never used."""
    idle = {"post_cytosorb_il6_pg_ml"}
    if patient.get("tocilizumab_doses") == 0:
        idle |= {"hours_since_last_tocilizumab", "hours_since_first_tocilizumab"}
    if patient.get("on_cytosorb") is False:
        idle.add("hours_since_cartridge_change")
    if patient.get("cytosorb_cartridges_used") == 0:
        idle |= {"hours_on_cytosorb", "hours_since_cartridge_change"}
    return idle
