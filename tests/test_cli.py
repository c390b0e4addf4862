"""The ``crs-model`` command line: handlers called in-process, plus the real console script."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crs_model import __version__
from crs_model.cli import main
from tests.conftest import SPEC_PATH
from tests.test_engine import FULL


def run(*argv: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8"))
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path: Path, name: str, data: Any) -> str:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(p)


def test_evaluate_json_file(tmp_path: Path) -> None:
    code, out, err = run("evaluate", write(tmp_path, "p.json", FULL), "--format", "json")
    assert (code, err) == (0, "")
    d = json.loads(out)
    assert d["recommendation"] == "consider_cytosorb"
    assert d["path"][-1] == "consider_cytosorb"


def test_evaluate_text_names_dose_and_path(tmp_path: Path) -> None:
    p = {"on_cytosorb": False, "etiology": "car_t", "temperature_c": 39.0, "hypotension": False,
         "oxygen_support": "low_flow", "tocilizumab_doses": 0, "weight_kg": 120.0}  # fmt: skip
    code, out, _ = run("evaluate", write(tmp_path, "p.json", p))
    assert code == 0
    assert "recommendation: give_tocilizumab" in out
    assert "tocilizumab dose: 800.0 mg" in out
    assert "path: cytosorb_running -> crs_grade -> crs_pathway -> tocilizumab_given -> give_first_tocilizumab" in out


def test_invalid_object_exits_2_with_field_value_and_range(tmp_path: Path) -> None:
    code, out, err = run("evaluate", write(tmp_path, "p.json", {**FULL, "weight_kg": 400}))
    assert code == 2
    assert out == ""
    assert "weight_kg=400 is outside 0.5..350 kg" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"weight_kg": NaN}', "NaN is not valid JSON"),
        ('{"weight_kg": 70', "invalid JSON"),
        ('{"weight_kg": 70, "weight_kg": 71}', "appears twice"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_malformed_json_exits_2(tmp_path: Path, text: str, fragment: str) -> None:
    code, out, err = run("evaluate", write(tmp_path, "p.json", text))
    assert code == 2
    assert out == ""
    assert fragment in err


def test_jsonl_batch_keeps_every_line(tmp_path: Path) -> None:
    lines = [json.dumps(FULL), json.dumps({**FULL, "vasopressor_count": True}), "not json", json.dumps({})]
    code, out, err = run("evaluate", write(tmp_path, "b.jsonl", "\n".join(lines) + "\n"))
    assert code == 2
    rows = [json.loads(x) for x in out.splitlines()]
    assert len(rows) == 4
    assert rows[0]["recommendation"] == "consider_cytosorb"
    assert rows[1] == {"line": 2, "error": {"field": "vasopressor_count", "message": rows[1]["error"]["message"]}}
    assert "true is not a whole number" in rows[1]["error"]["message"]
    assert rows[2]["line"] == 3
    assert "invalid JSON" in rows[2]["error"]["message"]
    assert rows[3]["recommendation"] == "insufficient_data"
    assert "some lines were invalid" in err


def test_jsonl_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run("evaluate", "-", "--jsonl", stdin=json.dumps(FULL) + "\n{}\n", monkeypatch=monkeypatch)
    assert code == 0
    assert [json.loads(x)["recommendation"] for x in out.splitlines()] == ["consider_cytosorb", "insufficient_data"]


def test_evaluate_folder_prints_each(tmp_path: Path) -> None:
    write(tmp_path, "a.json", FULL)
    write(tmp_path, "b.json", {})
    code, out, _ = run("evaluate", str(tmp_path))
    assert code == 0
    assert out.count("== ") == 2
    assert "insufficient_data" in out
    assert "consider_cytosorb" in out


def test_trace_shows_guard_values(tmp_path: Path) -> None:
    code, out, _ = run("evaluate", write(tmp_path, "p.json", FULL), "--format", "json", "--trace")
    assert code == 0
    trace = json.loads(out)["trace"]
    assert trace[0]["node"] == "cytosorb_running"
    assert {"to": "crs_grade", "value": True} in trace[0]["guards"]
    assert trace[1]["node"] == "crs_grade"
    assert {"to": "crs_pathway", "value": True} in trace[1]["guards"]


def test_schema_is_derived_from_spec() -> None:
    code, out, _ = run("schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["additionalProperties"] is False
    w = schema["properties"]["weight_kg"]
    assert (w["minimum"], w["maximum"], w["type"]) == (0.5, 350, ["number", "null"])
    assert schema["properties"]["vasopressor_count"]["type"] == ["integer", "null"]
    assert None in schema["properties"]["etiology"]["enum"]
    assert any(c["id"] == "vasopressors_need_hypotension" for c in schema["x-constraints"])


def test_check_spec_ok_and_bad(tmp_path: Path) -> None:
    code, out, _ = run("check-spec", str(SPEC_PATH))
    assert code == 0
    assert out.startswith("ok: ")
    bad = write(tmp_path, "bad.yaml", SPEC_PATH.read_text().replace("astct_grade == 0", "astct_grade == O"))
    code, out, err = run("check-spec", bad)
    assert code == 2
    assert out == ""
    assert f"{bad}:" in err
    assert "unknown name 'O'" in err


def test_usage_errors_exit_2() -> None:
    assert run()[0] == 2
    assert run("evaluate", "--format", "xml")[0] == 2
    code, _, err = run("evaluate", "/nonexistent/p.json")
    assert code == 2
    assert "cannot read" in err


def test_console_script_version_and_help() -> None:
    exe = Path(sys.executable).parent / "crs-model"
    res = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    assert res.returncode == 0
    assert res.stdout.strip() == f"crs-model {__version__}"
    res = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=False)
    assert res.returncode == 0
    assert "evaluate" in res.stdout
    assert "check-spec" in res.stdout


def test_folder_in_json_prints_one_json_line_per_file(tmp_path: Path) -> None:
    write(tmp_path, "a.json", FULL)
    write(tmp_path, "b.json", {"weight_kg": 400})
    write(tmp_path, "c.json", "{not json")
    write(tmp_path, "d.jsonl", json.dumps(FULL) + "\n" + json.dumps({"etiology": "x"}) + "\n")
    code, out, err = run("evaluate", str(tmp_path), "--format", "json")
    assert code == 2
    rows = [json.loads(line) for line in out.splitlines()]  # every line parses on its own
    assert [(Path(r["file"]).name, r.get("line")) for r in rows] == [
        ("a.json", None), ("b.json", None), ("c.json", None), ("d.jsonl", None), ("d.jsonl", 2)
    ]  # fmt: skip
    assert list(rows[0])[:2] == ["file", "recommendation"]
    assert rows[0]["recommendation"] == "consider_cytosorb"
    assert rows[1]["error"] == {"field": "weight_kg", "message": "weight_kg=400 is outside 0.5..350 kg"}
    assert rows[2]["error"]["field"] == "<input>"
    assert rows[3]["recommendation"] == "consider_cytosorb"
    assert rows[4]["error"]["field"] == "etiology"
    assert f"crs-model: error: {tmp_path / 'c.json'}:1:2: invalid JSON" in err
    # the decisions are exactly the single-file ones, plus the file name
    code, single, _ = run("evaluate", str(tmp_path / "a.json"), "--format", "json")
    assert {k: v for k, v in rows[0].items() if k != "file"} == json.loads(single)


def test_jsonl_line_decisions_in_a_folder_equal_the_single_batch(tmp_path: Path) -> None:
    batch = write(tmp_path, "d.jsonl", json.dumps(FULL) + "\n{}\n")
    write(tmp_path, "e.json", {})
    _, alone, _ = run("evaluate", batch, "--trace")
    _, folder, _ = run("evaluate", str(tmp_path), "--format", "json", "--trace")
    rows = [json.loads(line) for line in folder.splitlines()]
    assert [Path(r["file"]).name for r in rows] == ["e.json", "d.jsonl", "d.jsonl"]
    assert [{k: v for k, v in r.items() if k != "file"} for r in rows[1:]] == [
        json.loads(x) for x in alone.splitlines()
    ]
    assert "trace" in rows[1]


@pytest.mark.parametrize(
    "argv",
    [
        ("evaluate", "--format", "xml"),
        ("nosuchcommand",),
        ("fuzz", "--examples", "0"),
        ("mutate", "--max-mutants", "0"),
        ("evaluate", "/nonexistent/p.json"),
        ("check-spec", "/nonexistent/spec.yaml"),
        ("schema", str(SPEC_PATH), "--spec", "other.yaml"),
        ("signoff", "--name", "a", "--role", "b"),
        ("report", "--format", "pdf"),  # a PDF needs --out
    ],
)
def test_every_error_has_one_prefix(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(*argv)
    err += capsys.readouterr().err  # argparse writes usage errors to sys.stderr itself
    assert code == 2
    lines = [x for x in err.splitlines() if x and not x.startswith(("usage:", " ", "error: cannot read spec"))]
    assert lines, err
    assert all(x.startswith("crs-model: error: ") for x in lines), err


@pytest.mark.parametrize("command", ["schema", "check-spec", "fuzz --property totality --examples 5", "render --check"])
def test_spec_positional_or_spec_option(command: str, tmp_path: Path) -> None:
    mini = str(SPEC_PATH.parent / "examples" / "mini_crs.yaml")
    argv = command.split() + (["--out", str(tmp_path)] if command.startswith("render") else [])
    by_position = run(*argv[:1], mini, *argv[1:])
    by_option = run(*argv, "--spec", mini)
    default = run(*argv)
    untimed = [
        # timings and rates vary (and so does their column padding): drop them, then the spacing
        (code, re.sub(r"\s+", " ", re.sub(r"[\d,.]+ s\b|[\d,]+/s", "", out)), err)
        for code, out, err in (by_position, by_option, default)
    ]
    assert untimed[0] == untimed[1]  # the same run (timings aside)
    assert untimed[0] != untimed[2]  # and not the bundled spec's


def test_check_spec_takes_specs_both_ways() -> None:
    mini = str(SPEC_PATH.parent / "examples" / "mini_crs.yaml")
    code, out, _ = run("check-spec", str(SPEC_PATH), "--spec", mini)
    assert code == 0
    oks = [line for line in out.splitlines() if line.startswith("ok:")]
    assert [line.split(":")[1].strip() for line in oks] == [str(SPEC_PATH), mini]


def test_help_texts_are_rendered() -> None:
    import argparse

    from crs_model.cli import build_parser

    (action,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    sub: dict[str, argparse.ArgumentParser] = dict(action.choices)
    for name, parser in sub.items():
        text = parser.format_help()
        assert "%%" not in text, name
        # keygen has no spec; diff takes two, OLD and NEW; feedback-report reads a feedback DB
        if name not in ("evaluate", "verify", "keygen", "diff", "feedback-report"):
            assert "--spec SPEC" in text, name
    assert "fewer than --min-score % of" in sub["mutate"].format_help()
    assert "JSON Lines" in sub["evaluate"].format_help()


def test_a_folder_of_one_file_is_still_json_lines(tmp_path: Path) -> None:
    write(tmp_path, "only.json", FULL)
    code, out, _ = run("evaluate", str(tmp_path), "--format", "json")
    assert code == 0
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert (Path(row["file"]).name, row["recommendation"]) == ("only.json", "consider_cytosorb")
