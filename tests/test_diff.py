"""``crs-model diff``: the issue's cases (refactor, threshold, flags-only, absence-only), REV:path, bad input."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import crs_model
from crs_model.cli import main
from crs_model.diff import DiffResult, diff_specs
from crs_model.engine import Engine
from crs_model.model import Spec

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "specs" / "cytosorb_crs.yaml"
V01 = ROOT / "specs" / "history" / "cytosorb_crs-0.1.0.yaml"
DATA = ROOT / "tests" / "data" / "diff"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["diff", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def shipped() -> Spec:
    return crs_model.load_spec(SHIPPED)


def _diff(shipped: Spec, name: str, **kw: Any) -> DiffResult:
    return diff_specs(shipped, crs_model.load_spec(DATA / f"{name}.yaml"), **kw)


def _reproduced(result: DiffResult) -> None:
    """Every region's witness, re-run here, shows the claimed difference (three-valued)."""
    old = Engine(crs_model.load_spec(result.old.path), exact=False)
    new = Engine(crs_model.load_spec(result.new.path), exact=False)
    for r in result.regions:
        assert r.problem is None
        a = old.evaluate({k: v for k, v in r.witness.items() if k in old.spec.variables})
        b = new.evaluate({k: v for k, v in r.witness.items() if k in new.spec.variables})
        key = (a.recommendation, a.outcome, dict(a.outputs), {n.id for n in a.actions}, {n.id for n in a.flags})
        assert key != (b.recommendation, b.outcome, dict(b.outputs), {n.id for n in b.actions}, {n.id for n in b.flags})


def test_identical_specs_are_equivalent() -> None:
    code, out, err = run(str(SHIPPED), str(SHIPPED))
    assert code == 0, err
    assert out.splitlines()[-1].startswith("decision-equivalent")
    assert "elements: 0 change(s)" in out


def test_pure_refactor_is_proven_equivalent(shipped: Spec) -> None:
    r = _diff(shipped, "refactor")
    assert r.equivalent
    assert r.exit_code == 0
    assert not r.regions
    assert not r.errors
    changes = {(c.element, c.change) for c in r.elements}
    # the refactor is visible element by element, but decides the same everywhere
    assert ("definition:anti_cytokine_therapy_given", "removed") in changes
    assert ("definition:anticytokine_treatment_received", "added") in changes
    assert ("edge:cytosorb_running->crs_grade", "changed") in changes
    assert ("flag:ecmo_side_branch", "changed") in changes
    # reformatting alone (a block scalar split over lines, flow style) is no element change
    edge = next(c for c in r.elements if c.element == "edge:cytosorb_running->crs_grade")
    assert edge.details == ("position: 2 -> 1",)
    assert not any(c.element == "output:astct_grade" for c in r.elements)


def test_one_threshold_change_is_found_at_the_threshold(shipped: Spec) -> None:
    r = _diff(shipped, "threshold", max_regions=5)
    assert r.exit_code == 1
    assert not r.equivalent
    assert r.regions
    assert r.cap_hit  # many regions: the cap stopped the search and says so
    for region in r.regions:
        il6 = {(c["op"], c["value"]) for c in region.conditions if c["input"] == "il6_pg_ml"}
        assert il6 == {(">=", 500), ("<", 1000)}, region.description
        assert "IL-6 ≥ 500 and < 1000 pg/mL" in region.description
        assert 500 <= region.witness["il6_pg_ml"] < 1000
        assert region.element == "parameter:il6_markedly_elevated_pg_ml"
        assert region.location is not None
        assert region.location.file.endswith("threshold.yaml")
        assert not region.flags_only
    _reproduced(r)
    param = next(c for c in r.elements if c.element == "parameter:il6_markedly_elevated_pg_ml")
    assert param.details == ("value: 500 -> 1000",)


def test_flags_only_change_is_found_with_flags_only(shipped: Spec) -> None:
    r = _diff(shipped, "flags_only", max_regions=3)
    assert r.exit_code == 1
    assert r.regions
    for region in r.regions:
        assert region.flags_only
        assert region.old["recommendation"] == region.new["recommendation"]
        assert region.old["outputs"] == region.new["outputs"]
        assert set(region.new["flags"]) - set(region.old["flags"]) == {"crrt_integration"}
        assert region.witness.get("aki") is True
        assert region.witness.get("on_crrt") is not True
    _reproduced(r)


def test_max_rewrite_is_found_with_an_absent_input(shipped: Spec) -> None:
    """The grade cascade as max(): equal whenever both grades are known, so every region has an absent
    input; the exact engine decides over completions and agrees on some of them."""
    r = _diff(shipped, "absent_max", max_regions=6)
    assert r.exit_code == 1
    assert r.regions
    grading = {"hypotension", "vasopressor_count", "vasopressin", "oxygen_support"}
    for region in r.regions:
        absent = {c["input"] for c in region.conditions if c["op"] == "absent"}
        assert absent & grading, region.description
        assert not (absent & set(region.witness))  # the witness leaves those inputs out
        assert region.old["outputs"]["astct_grade"] != region.new["outputs"]["astct_grade"]
    assert any(not region.exact_differs for region in r.regions)  # the default engine completes them
    _reproduced(r)


def test_v01_to_v02_finds_regions_on_the_new_inputs() -> None:
    old, new = crs_model.load_spec(V01), crs_model.load_spec(SHIPPED)
    r = diff_specs(old, new, max_regions=3)
    assert r.exit_code == 1
    assert "on_cytosorb" in r.only_new
    assert not r.only_old
    assert not r.errors
    _reproduced(r)
    # restricted to the patients v0.1 was written for (CytoSorb not running), sepsis gets its own outcome
    r2 = diff_specs(old, new, max_regions=20, given=["on_cytosorb=false"])
    assert r2.given == ("CytoSorb running: no",)
    assert all(region.witness["on_cytosorb"] is False for region in r2.regions)
    assert any(region.new.get("recommendation") == "sepsis_standard_care" for region in r2.regions)
    _reproduced(r2)


def _variant(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = SHIPPED.read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / f"{name}.yaml"
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p


def test_patients_rejected_by_one_version_are_their_own_region(tmp_path: Path, shipped: Spec) -> None:
    narrower = _variant(
        tmp_path,
        "narrow",
        "    min: 0.5\n    max: 350\n    label: weight",
        "    min: 0.5\n    max: 300\n    label: weight",
    )
    r = diff_specs(shipped, crs_model.load_spec(narrower))
    kinds = {region.kind for region in r.regions}
    assert kinds == {"rejected_by_new"}
    (region,) = r.regions
    assert region.conditions == ({"input": "weight_kg", "op": ">", "value": 300},)
    assert region.description == "weight > 300 kg"
    assert "rejected" in region.new
    assert "rejected" not in region.old
    back = diff_specs(crs_model.load_spec(narrower), shipped)
    assert {g.kind for g in back.regions} == {"rejected_by_old"}


def test_an_enum_value_added_is_compared_by_name(tmp_path: Path, shipped: Spec) -> None:
    more = _variant(
        tmp_path, "enum", "values: [car_t, covid19, sepsis, other]", "values: [car_t, hlh, covid19, sepsis, other]"
    )
    r = diff_specs(shipped, crs_model.load_spec(more), max_regions=2)
    assert r.regions
    assert {g.kind for g in r.regions} == {"rejected_by_old"}  # only 'hlh' differs; covid19 keeps its meaning
    assert all(g.witness["etiology"] == "hlh" for g in r.regions)


def test_formats(tmp_path: Path) -> None:
    args = (str(SHIPPED), str(DATA / "threshold.yaml"), "--max-regions", "2")
    code, out, _ = run(*args, "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["equivalent"] is False
    assert set(doc["changes"][0]) >= {"description", "witness", "old", "new", "flags_only", "exact_differs"}
    assert doc["elements"][0]["element"] == "parameter:il6_markedly_elevated_pg_ml"
    assert doc["cap"] == {"regions": 2, "hit": True}
    assert run(*args, "--format", "json")[1] == out  # deterministic
    code, out, _ = run(*args, "--format", "sarif")
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert len(results) == 2
    assert {x["level"] for x in results} == {"note"}
    where = results[0]["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"].endswith("threshold.yaml")
    assert where["region"]["startLine"] > 500
    code, out, _ = run(*args, "--format", "markdown")
    assert out.startswith("### ⚠️ crs-model diff")
    assert "| # | kind | where |" in out
    assert "<details>" in out


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def test_rev_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / "specs").mkdir(parents=True)
    spec = repo / "specs" / "crs.yaml"
    spec.write_bytes(SHIPPED.read_bytes())
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v1")
    spec.write_bytes((DATA / "threshold.yaml").read_bytes())
    monkeypatch.chdir(repo)
    code, out, err = run("HEAD:specs/crs.yaml", "specs/crs.yaml", "--max-regions", "1")
    assert code == 1, err
    assert out.startswith("diff HEAD:specs/crs.yaml (0.2.0) -> specs/crs.yaml (0.2.0)")
    code, out, err = run("HEAD:specs/crs.yaml", str(SHIPPED))
    assert code == 0, err
    code, _, err = run("nosuchrev:specs/crs.yaml", "specs/crs.yaml")
    assert code == 2
    assert "unknown revision 'nosuchrev'" in err
    code, _, err = run("--", "--output=/tmp/x:specs/crs.yaml", "specs/crs.yaml")
    assert code == 2
    assert "does not start with '-'" in err
    code, _, err = run("HEAD:specs/missing.yaml", "specs/crs.yaml")
    assert code == 2
    assert "has no file 'specs/missing.yaml'" in err
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.chdir(outside)
    code, _, err = run("HEAD:crs.yaml", str(SHIPPED))
    assert code == 2
    assert "is not in a git repository" in err
    assert "Traceback" not in err


def test_bad_input_exits_2(tmp_path: Path) -> None:
    code, out, err = run(str(tmp_path / "none.yaml"), str(SHIPPED))
    assert code == 2
    assert out == ""
    assert "OLD spec" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec_format: 2\nmetadata: [\n", encoding="utf-8")
    code, _, err = run(str(SHIPPED), str(bad))
    assert code == 2
    assert f"{bad}:" in err
    assert "NEW spec" in err
    code, _, err = run(str(SHIPPED), str(SHIPPED), "--max-regions", "0")
    assert code == 2
    assert "--max-regions=0" in err
    code, _, err = run(str(SHIPPED), str(SHIPPED), "--given", "on_cytosorb=maybe")
    assert code == 2
    assert "'maybe' is not a value of on_cytosorb" in err
    code, _, err = run(str(SHIPPED), str(SHIPPED), "--given", "nosuch=1")
    assert code == 2
    assert "NAME one of the inputs" in err


def test_incomparable_input_types_exit_2(tmp_path: Path) -> None:
    mini = ROOT / "tests" / "data" / "good_min.yaml"
    text = mini.read_text(encoding="utf-8")
    enum = "  etiology:\n    type: enum\n    values: [car_t, sepsis]\n"
    assert enum in text
    typed = tmp_path / "typed.yaml"
    typed.write_text(text.replace(enum, "  etiology:\n    type: bool\n"), encoding="utf-8")
    code, out, err = run(str(mini), str(typed))
    assert code == 2
    assert out == ""
    assert "input 'etiology' is enum {car_t, sepsis} in the old version and bool in the new one" in err


def test_fixtures_are_the_shipped_spec_edited() -> None:
    """A stale fixture would diff more than its one edit: regenerate with ``python -m tests.diff_fixtures``."""
    from tests.diff_fixtures import variants

    for name, text in variants().items():
        assert (DATA / f"{name}.yaml").read_text(encoding="utf-8") == text, f"{name}.yaml is stale"
