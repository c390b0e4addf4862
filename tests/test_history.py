"""Earlier spec versions kept for change control still load, verify and decide as they did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import crs_model
from crs_model.engine import Engine
from crs_model.model import Spec
from crs_model.verify import verify
from tests.vignette_support import check_expectations, load_vignettes

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "specs" / "history" / "cytosorb_crs-0.1.0.yaml"
VIGNETTES_010 = load_vignettes(ROOT / "tests" / "history" / "vignettes-0.1.0")


@pytest.fixture(scope="module")
def v010() -> Spec:
    return crs_model.load_spec(HISTORY)


@pytest.fixture(scope="module")
def engine(v010: Spec) -> Engine:
    # the frozen expectations record v0.1's three-valued procedure (its ``missing`` is the blame
    # where evaluation stopped); the exact decisions of issue 12 are tested on the current spec
    return Engine(v010, exact=False)


def test_history_file_is_version_0_1_0_in_the_current_format(v010: Spec) -> None:
    assert v010.metadata.version == "0.1.0"
    head = HISTORY.read_text(encoding="utf-8").split("\n", 6)[:6]
    assert any("f539e0d:specs/cytosorb_crs.yaml" in line for line in head), "say where the original bytes are"


def test_history_file_verifies_clean(v010: Spec) -> None:
    report = verify(v010)
    assert report.ok, [str(f) for f in report.errors]
    assert report.invariant_status == {inv.id: "proven" for inv in v010.invariants}


def test_frozen_vignettes_are_the_whole_v010_set() -> None:
    assert len(VIGNETTES_010) >= 30


@pytest.mark.parametrize("vig", VIGNETTES_010, ids=[v["id"] for v in VIGNETTES_010])
def test_history_file_decides_every_v010_vignette_as_expected(vig: dict[str, Any], engine: Engine) -> None:
    d = engine.evaluate(vig["patient"])
    check_expectations(d.to_dict(), vig["expect"])
    assert engine.invariant_violations(d) == []
