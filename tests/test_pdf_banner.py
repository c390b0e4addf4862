"""The "verification failed" banner at the top of a pack (HTML, Markdown; the PDF in tests/test_pdf.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import crs_model
from crs_model.errors import Location
from crs_model.model import Severity, Spec
from crs_model.report import gather, to_html, to_markdown
from crs_model.verify.report import Finding
from tests.test_report import fake_report, plain_text

ROOT = Path(__file__).resolve().parent.parent
FAULTY = ROOT / "specs" / "examples" / "faulty" / "09_invariant_sepsis_naive.yaml"


def test_failing_spec_shows_the_banner_first_with_its_counts() -> None:
    spec = crs_model.load_spec(FAULTY)
    inputs = gather(spec, svg=False)
    errors = len(inputs.verify_report.errors)
    assert errors >= 1  # the planted fault is refuted
    page = to_html(spec, inputs)
    main = page[page.index("<main>") :]
    banner = main.index('class="callout bad banner"')
    assert banner < main.index("<h2")  # before every section
    text = plain_text(page)
    assert f"VERIFICATION FAILED: the verifier reports {errors} error{'s' if errors != 1 else ''}." in text
    md = to_markdown(spec, inputs)
    first = next(line for line in md.splitlines() if line.startswith(("> ", "#### ", "## ")))
    assert first.startswith("> ")
    assert "VERIFICATION FAILED" in first
    assert f"{errors} error" in first


def test_unknowns_are_named(spec: Spec) -> None:
    undecided = Finding(
        location=Location(spec.path, 10, 3),
        message="the solver could not decide",
        severity=Severity.ERROR,
        code="undecided",
        element="invariant:x",
    )
    rep = fake_report(spec)
    rep = dataclasses.replace(rep, findings=(*rep.findings, undecided))
    inputs = dataclasses.replace(gather(spec, verifier=False, svg=False), verify_report=rep)
    text = plain_text(to_html(spec, inputs))
    assert "reports 2 errors, 1 of them unknown (the solver could not decide)" in text


@pytest.mark.parametrize("verifier", [True, False])
def test_no_banner_when_verified_or_not_run(spec: Spec, verifier: bool) -> None:
    inputs = gather(spec, verifier=verifier, svg=False)
    if verifier:
        assert inputs.verify_report.ok  # the shipped spec verifies
    assert "VERIFICATION FAILED" not in to_html(spec, inputs)
    assert "VERIFICATION FAILED" not in to_markdown(spec, inputs)
