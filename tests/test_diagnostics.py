"""The one diagnostic type at the bottom: loader problems, verifier findings and sign-off share it."""

from __future__ import annotations

import dataclasses

import pytest

from crs_model import model
from crs_model.diagnostics import Diagnostic, Location, Severity
from crs_model.errors import Problem, SpecError
from crs_model.verify import Finding
from crs_model.verify.report import Report, to_sarif

LOC = Location("specs/x.yaml", 12, 7)


def test_the_old_names_are_the_one_type() -> None:
    assert Problem is Diagnostic
    assert Finding is Diagnostic
    assert model.Severity is Severity  # model values and diagnostics share one severity enum


def test_a_spec_problem_prints_like_the_loader_always_did() -> None:
    assert str(Problem(LOC, "unknown variable 'il_6'")) == "specs/x.yaml:12:7: error: unknown variable 'il_6'"
    assert str(Problem(None, "cannot read spec")) == "error: cannot read spec"
    err = SpecError([Problem(LOC, "a"), Problem(None, "b")])
    assert str(err) == "specs/x.yaml:12:7: error: a\nerror: b"
    assert SpecError(Problem(LOC, "a")).problems == (Problem(LOC, "a"),)


def test_a_finding_prints_its_check_and_serialises_as_before() -> None:
    f = Finding(
        location=LOC,
        message="guards both hold",
        severity=Severity.WARNING,
        code="overlap",
        element="node:n",
        witness={"age": 3},
    )
    assert f.check == "overlap"
    assert str(f) == "specs/x.yaml:12:7: warning: [overlap] guards both hold"
    assert f.to_dict() == {
        "check": "overlap",
        "severity": "warning",
        "location": {"file": "specs/x.yaml", "line": 12, "column": 7},
        "element": "node:n",
        "message": "guards both hold",
        "witness": {"age": 3},
    }
    assert (f.line, f.column) == (12, 7)
    for name in ("code", "check", "message"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(f, name, "x")


def test_an_unlocated_diagnostic_has_no_place_rather_than_a_made_up_one() -> None:
    d = Diagnostic(None, "m", Severity.INFO, "signoff", "signoff:file")
    assert (d.line, d.column) == (0, 0)
    assert d.to_dict()["location"] is None
    assert str(d) == "info: [signoff] m"
    report = Report("s.yaml", "id", "1", "0" * 64, "4", (d,), ())
    (result,) = to_sarif([report], tool_version="0")["runs"][0]["results"]
    assert result["locations"] == [{"logicalLocations": [{"fullyQualifiedName": "signoff:file"}]}]
