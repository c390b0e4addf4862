"""The example patients that ``make run`` evaluates (specs/examples/patients/)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

import pytest

import crs_model
from crs_model.cli import main
from tests.vignette_support import EXAMPLES_DIR, ROOT

# Hand-derived answer for each example (see the vignette of the same scenario).
EXPECTED: dict[str, dict[str, Any]] = {
    "01_afebrile_no_crs.json": {"recommendation": "no_crs", "astct_grade": 0},
    "02_grade1_fever_supportive_care.json": {"recommendation": "supportive_care", "astct_grade": 1},
    # hypotension on fluids (2) and low-flow oxygen (2); 8 mg/kg x 70 kg
    "03_grade2_first_tocilizumab.json": {"recommendation": "give_tocilizumab", "astct_grade": 2, "dose": 560},
    # high-flow oxygen (3); 25 kg < 30 kg -> 12 mg/kg
    "04_child_25kg_grade3_first_tocilizumab.json": {
        "recommendation": "give_tocilizumab",
        "astct_grade": 3,
        "dose": 300,
    },
    # afebrile after tocilizumab: fever not required; one vasopressor / high flow = 3
    "05_refractory_to_tocilizumab_add_corticosteroids.json": {
        "recommendation": "add_corticosteroids",
        "astct_grade": 3,
    },
    "06_cart_grade4_refractory_consider_cytosorb.json": {
        "recommendation": "consider_cytosorb",
        "astct_grade": 4,
        "flags": {"car_t_note"},
    },
    # positive pressure (4); prone-refractory with IL-6 1200; post-treatment IL-6 900 > 620
    # on CytoSorb 74 h, improved at the 72 h assessment, indication persisting (prone-refractory with
    # IL-6 1200); post-treatment IL-6 900 > 620 (unverified note)
    "07_covid19_on_cytosorb_improved_continue.json": {
        "recommendation": "continue_cytosorb",
        "astct_grade": 4,
        "flags": {"continued_after_assessment", "post_cytosorb_il6_prognostic"},
    },
    # sepsis gets no CRS algorithm (no tocilizumab dose, no CytoSorb): standard sepsis care
    "08_sepsis_standard_care.json": {
        "recommendation": "sepsis_standard_care",
        "astct_grade": 4,
        "flags": {"sepsis_hydrocortisone_not_crs_steroids"},
    },
    # one vasopressor + vasopressin = 3, 0.2 ug/kg/min (not above 0.3), no indication, 4 doses given
    "09_four_doses_given_continue_standard_therapy.json": {
        "recommendation": "continue_standard_therapy",
        "astct_grade": 3,
        "flags": {"tocilizumab_course_complete"},
    },
    "10_no_weight_insufficient_data.json": {"recommendation": "insufficient_data", "missing": ["weight_kg"]},
}


def test_every_example_has_an_expectation() -> None:
    files = sorted(p.name for p in EXAMPLES_DIR.glob("*.json"))
    assert 8 <= len(files) <= 10
    assert files == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example(name: str) -> None:
    patient = json.loads((EXAMPLES_DIR / name).read_text(encoding="utf-8"))
    spec = crs_model.load_spec()
    assert set(patient) <= set(spec.variables), "examples hold the input contract only"
    d = crs_model.evaluate(patient)
    want = EXPECTED[name]
    assert d.recommendation == want["recommendation"]
    if "astct_grade" in want:
        assert d.astct_grade == want["astct_grade"]  # a declared output, read as an attribute
        assert d.outputs["astct_grade"] == want["astct_grade"]
    if "dose" in want:
        assert d.outputs["tocilizumab_dose_mg"] == pytest.approx(want["dose"])
    assert want.get("flags", set()) <= {f.id for f in d.flags}
    assert list(d.missing) == want.get("missing", [])


def test_folder_through_cli() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["evaluate", str(EXAMPLES_DIR), "--format", "text"], out, err) == 0, err.getvalue()
    text = out.getvalue()
    for name, want in EXPECTED.items():
        assert f"== {EXAMPLES_DIR / name}\nrecommendation: {want['recommendation']}" in text


def test_make_run_command() -> None:
    """What ``make run`` runs, as a subprocess from the repository root."""
    proc = subprocess.run(
        [sys.executable, "-m", "crs_model.cli", "evaluate", "specs/examples/patients/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("== specs/examples/patients/") == len(EXPECTED)
