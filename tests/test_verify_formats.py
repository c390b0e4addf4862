"""CLI exit codes and the machine formats: JSON shape, SARIF 2.1.0 essentials, JUnit XML."""

from __future__ import annotations

import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

import crs_model
from crs_model.cli import main

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = str(ROOT / "specs" / "cytosorb_crs.yaml")
FAULTY = ROOT / "specs" / "examples" / "faulty"
GAP = str(FAULTY / "14_gap_grade_typo.yaml")
UNCITED = str(FAULTY / "13_uncited_edge.yaml")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["verify", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def test_exit_codes() -> None:
    assert run(SHIPPED)[0] == 0
    assert run(UNCITED)[0] == 0  # warnings only
    code, out, _ = run(GAP)
    assert code == 1
    assert "[gap]" in out
    assert "FAILED" in out.splitlines()[-1]


def test_unloadable_spec_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec_format: 2\nmetadata: [\n", encoding="utf-8")
    code, _, err = run(str(bad))
    assert code == 2
    assert "bad.yaml:" in err
    assert run("--check", "bogus", SHIPPED)[0] == 2


def test_text_summary_and_timings() -> None:
    code, out, _ = run(SHIPPED, "--timings")
    assert code == 0
    last = out.splitlines()[-1]
    assert "total:" in last
    assert any(line.strip().startswith("invariant") and "ms" in line for line in out.splitlines())
    n = len(crs_model.load_spec(SHIPPED).invariants)
    assert f"{n}/{n} invariants proven" in out


def test_json_shape() -> None:
    code, out, _ = run(GAP, "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert set(doc) >= {"spec", "checks", "findings"}
    assert len(doc["spec"]["sha256"]) == 64
    assert all("duration_s" not in c for c in doc["checks"])  # stable output without --timings
    (gap,) = [f for f in doc["findings"] if f["check"] == "gap"]
    assert set(gap) >= {"check", "severity", "location", "message", "witness"}
    assert set(gap["location"]) == {"file", "line", "column"}
    assert gap["severity"] == "error"
    assert isinstance(gap["witness"], dict)
    assert run(GAP, "--format", "json")[1] == out  # deterministic


def test_sarif_essentials() -> None:
    code, out, _ = run(GAP, UNCITED, "--format", "sarif")
    log = json.loads(out)
    assert code == 1
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run_,) = log["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"]
    assert isinstance(driver["rules"], list)
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    assert run_["results"]
    for res in run_["results"]:
        assert res["ruleId"] in rule_ids
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note", "none")
        assert res["message"]["text"]
        (loc,) = res["locations"]
        phys = loc["physicalLocation"]
        assert phys["artifactLocation"]["uri"].endswith(".yaml")
        assert phys["region"]["startLine"] >= 1
        assert phys["region"]["startColumn"] >= 1
    levels = {r["ruleId"]: r["level"] for r in run_["results"]}
    assert levels["gap"] == "error"
    assert levels["uncited"] == "warning"


def test_junit_parses_with_a_case_per_check_and_invariant() -> None:
    code, out, _ = run(GAP, "--format", "junit")
    assert code == 1
    root = ET.fromstring(out)  # noqa: S314 - parses our own output
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    names = [c.get("name") for c in cases]
    assert {"contradiction", "gap", "invariant", "missing-data"} <= set(names)
    assert "tocilizumab_dose_cap" in names
    assert int(suite.get("tests", "0")) == len(cases)
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["gap"]
    assert int(suite.get("failures", "0")) == 1


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit"])
def test_every_format_on_the_shipped_spec_exits_0(fmt: str) -> None:
    assert run(SHIPPED, "--format", fmt)[0] == 0
