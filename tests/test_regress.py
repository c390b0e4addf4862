"""crs-model regress: the shipped suite passes; a behaviour change is named; malformed lines are located."""

from __future__ import annotations

import io
import json
from pathlib import Path

from crs_model.cli import main

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "cytosorb_crs.yaml"
SUITE = ROOT / "specs" / "cytosorb_crs.cases.jsonl"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_the_shipped_suite_still_gets_its_recorded_decisions() -> None:
    code, out, err = run("regress", str(SUITE))
    assert code == 0, out + err
    n = len(SUITE.read_text(encoding="utf-8").splitlines())
    assert f"regress: {n} cases, all unchanged" in out


def test_a_one_threshold_edit_is_caught_naming_the_case(tmp_path: Path) -> None:
    text = SPEC.read_text(encoding="utf-8")
    edited = text.replace(
        "  il6_markedly_elevated_pg_ml:\n    value: 500\n", "  il6_markedly_elevated_pg_ml:\n    value: 600\n"
    )
    assert edited != text
    changed_spec = tmp_path / "edited.yaml"
    changed_spec.write_text(edited, encoding="utf-8")
    code, out, _ = run("regress", str(SUITE), str(changed_spec), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert not report["ok"]
    assert report["changed"]
    cases = {json.loads(line)["name"]: json.loads(line) for line in SUITE.read_text(encoding="utf-8").splitlines()}
    for c in report["changed"]:
        assert cases[c["name"]]["patient"].get("il6_pg_ml") == 500  # the cases at the old threshold
        assert c["old"] != c["new"]
    code, text_out, _ = run("regress", str(SUITE), str(changed_spec))
    assert code == 1
    first = report["changed"][0]
    assert f"{SUITE}:{first['line']}: changed: {first['name']}: recommendation: " in text_out


def test_a_refused_patient_is_a_changed_case(tmp_path: Path) -> None:
    suite = tmp_path / "s.jsonl"
    case = {
        "name": "extra",
        "patient": {"no_such_input": 1},
        "expect": {"recommendation": "no_crs", "outcome": "no_crs"},
    }
    suite.write_text(json.dumps(case) + "\n", encoding="utf-8")
    code, out, _ = run("regress", str(suite))
    assert code == 1
    assert "extra: was no_crs, now refused: no_such_input" in out


def test_every_malformed_line_is_located_and_the_rest_still_run(tmp_path: Path) -> None:
    good = SUITE.read_text(encoding="utf-8").splitlines()[0]
    suite = tmp_path / "bad.jsonl"
    suite.write_bytes(b'{"name": "x"\n' + good.encode() + b'\n[1]\n\xff\n{"name": "y", "patient": {}, "expect": {}}\n')
    code, out, err = run("regress", str(suite), "--format", "json")
    assert code == 2
    report = json.loads(out)
    assert report["cases"] == 1
    assert report["changed"] == []
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(1, 13), (3, 1), (4, 1), (5, 1)]
    assert f"{suite}:1:13: invalid JSON" in err
    assert f"{suite}:4:1: not UTF-8" in err
    assert "4 malformed lines" in err
    assert "Traceback" not in err


def test_an_unreadable_suite_exits_2(tmp_path: Path) -> None:
    code, _, err = run("regress", str(tmp_path))
    assert code == 2
    assert "cannot read" in err


def test_the_pack_section_shows_the_suites_coverage() -> None:
    from crs_model import load_spec
    from crs_model.report.coverage import coverage_blocks
    from crs_model.report.document import UL, Table

    blocks = coverage_blocks(load_spec(), analyse_suite=True)
    table = next(b for b in blocks if isinstance(b, Table))
    kinds = {row[0][0].text: row[1][0].text for row in table.rows}  # type: ignore[union-attr]
    assert kinds["edge"] == "23 of 23"
    assert kinds["mcdc"].startswith("92 of 92")
    infeasible = next(b for b in blocks if isinstance(b, UL))
    assert any("threshold:hours_on_cytosorb=-0.1" in str(item) for item in infeasible.items)


def test_a_flags_only_edit_is_caught(tmp_path: Path) -> None:
    text = SPEC.read_text(encoding="utf-8")
    edited = text.replace(
        "  post_il6_prognostic_pg_ml:\n    value: 620\n", "  post_il6_prognostic_pg_ml:\n    value: 100000\n"
    )
    assert edited != text
    changed_spec = tmp_path / "flag.yaml"
    changed_spec.write_text(edited, encoding="utf-8")
    code, out, _ = run("regress", str(SUITE), str(changed_spec), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["changed"]
    for c in report["changed"]:
        assert c["old"]["recommendation"] == c["new"]["recommendation"]  # the decision stands
        assert "post_cytosorb_il6_prognostic" in c["old"]["flags"]
        assert "post_cytosorb_il6_prognostic" not in c["new"]["flags"]
