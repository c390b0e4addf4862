"""Sign-off bound to the spec's sha256: record, require, verify warnings, tamper refusal."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml

import crs_model
from crs_model.cli import main
from crs_model.engine import Engine
from crs_model.errors import SignoffError
from crs_model.model import Severity
from crs_model.signoff import append_record, read_records, records_for, signoff_findings, signoff_path
from tests.conftest import SPEC_PATH as SPEC

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    target = tmp_path / "cytosorb_crs.yaml"
    shutil.copyfile(SPEC, target)
    return target


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_signoff_path_is_beside_the_spec() -> None:
    assert signoff_path("specs/cytosorb_crs.yaml") == Path("specs/cytosorb_crs.signoff.yaml")
    assert signoff_path("/x/y/a.yml") == Path("/x/y/a.signoff.yaml")


def test_round_trip_sign_load_tamper_refuse(spec_copy: Path) -> None:
    # unsigned: plain load works, required sign-off refuses with a clear, actionable error
    crs_model.load_spec(spec_copy)
    with pytest.raises(SignoffError, match="matches no governance sign-off") as exc:
        crs_model.load_spec(spec_copy, require_signoff=True)
    assert "crs-model signoff" in str(exc.value)

    code, out, err = run(
        "signoff", str(spec_copy), "--name", "Dr A. Chair", "--role", "committee chair", "--note", "v0.1 approved"
    )
    assert code == 0, err
    sha = hashlib.sha256(spec_copy.read_bytes()).hexdigest()
    assert f"sha256 {sha}" in out

    spec = crs_model.load_spec(spec_copy, require_signoff=True)
    assert spec.sha256 == sha
    Engine(spec, require_signoff=True)  # accepted
    assert signoff_findings(spec) == []  # verify is clean about sign-off

    # alter one byte (inside a comment: the model is the same, the reviewed bytes are not)
    raw = bytearray(spec_copy.read_bytes())
    i = raw.index(b"decision model")
    raw[i] = ord("D")
    spec_copy.write_bytes(bytes(raw))
    with pytest.raises(SignoffError, match="signs other bytes only") as exc:
        crs_model.load_spec(spec_copy, require_signoff=True)
    assert "Dr A. Chair" in str(exc.value)
    tampered = crs_model.load_spec(spec_copy)
    with pytest.raises(SignoffError):
        Engine(tampered, require_signoff=True)
    assert [f.element for f in signoff_findings(tampered)] == ["spec:sha256"]


def test_record_fields_and_append_only(spec_copy: Path) -> None:
    spec = crs_model.load_spec(spec_copy)
    append_record(spec, name="Dr A", role="chair", note="first", date="2026-11-20")
    first = signoff_path(spec_copy).read_bytes()
    append_record(spec, name="Dr B", role="pharmacist", date="2026-11-21")
    text = signoff_path(spec_copy).read_bytes()
    assert text.startswith(first)  # append-only: earlier records untouched
    data = yaml.safe_load(text)
    assert [r["name"] for r in data] == ["Dr A", "Dr B"]
    rec = data[0]
    assert rec == {
        "sha256": spec.sha256,
        "spec_id": "cytosorb-crs",
        "version": spec.metadata.version,
        "status": "draft",
        "name": "Dr A",
        "role": "chair",
        "date": "2026-11-20",
        "note": "first",
    }
    assert [r.role for r in records_for(spec)] == ["chair", "pharmacist"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--name", "  ", "--role", "chair"], "--name must not be empty"),
        (["--name", "A", "--role", "chair", "--date", "2026-02-30"], "not a calendar date"),
        (["--name", "A", "--role", "chair", "--date", "yesterday"], "not an ISO date"),
    ],
)
def test_signoff_command_rejects_bad_input(spec_copy: Path, argv: list[str], message: str) -> None:
    code, _, err = run("signoff", str(spec_copy), *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not signoff_path(spec_copy).exists()


def test_signoff_of_a_broken_spec_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("metadata: [\n", encoding="utf-8")
    code, _, err = run("signoff", str(bad), "--name", "A", "--role", "chair")
    assert code == 2
    assert "bad.yaml:" in err
    assert not signoff_path(bad).exists()


def test_malformed_signoff_file_is_located(spec_copy: Path) -> None:
    signoff_path(spec_copy).write_text("- sha256: abc\n  name: A\n  role: r\n  date: '2026-01-01'\n", encoding="utf-8")
    with pytest.raises(SignoffError, match=r"signoff\.yaml:1:3: error: sign-off record 1: sha256 is not 64"):
        read_records(spec_copy)
    spec = crs_model.load_spec(spec_copy)
    (finding,) = signoff_findings(spec)
    assert finding.severity is Severity.ERROR
    signoff_path(spec_copy).write_text("- {name: A, colour: red}\n", encoding="utf-8")
    with pytest.raises(SignoffError, match="unknown key 'colour'"):
        read_records(spec_copy)


def test_verify_hook_warns_for_unsigned_and_active(spec_copy: Path) -> None:
    draft = crs_model.load_spec(spec_copy)
    (unsigned,) = signoff_findings(draft)
    assert unsigned.severity is Severity.WARNING
    assert unsigned.check == "signoff"
    assert draft.sha256[:12] in unsigned.message
    assert str(unsigned).startswith(f"{spec_copy}:1:1: warning: [signoff] this spec's sha256")

    spec_copy.write_bytes(spec_copy.read_bytes().replace(b"status: draft", b"status: active", 1))
    active = crs_model.load_spec(spec_copy)
    findings = signoff_findings(active)
    assert [f.element for f in findings] == ["spec:sha256", "metadata:status"]
    status_line = spec_copy.read_text(encoding="utf-8").splitlines().index("  status: active") + 1
    assert findings[1].location.line == status_line
    assert "active" in findings[1].message

    append_record(active, name="Dr A", role="chair")
    assert signoff_findings(active) == []


def test_verify_report_has_no_errors_after_signoff(spec_copy: Path) -> None:
    import importlib

    spec = crs_model.load_spec(spec_copy)
    append_record(spec, name="Dr A", role="chair")
    report = importlib.import_module("crs_model.verify").verify(spec)
    assert [f for f in report.findings if f.severity is Severity.ERROR] == []
    assert signoff_findings(spec) == []


def test_require_signoff_does_not_import_renderer_or_solver() -> None:
    import subprocess
    import sys

    code = (
        "import sys, crs_model\n"
        "try:\n"
        "    crs_model.load_spec(require_signoff=True)\n"
        "except crs_model.SignoffError:\n"
        "    pass\n"
        "print(','.join(m for m in ('z3', 'pydot', 'hypothesis') if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert res.stdout.strip() == ""


def test_verify_command_warns_until_signed(spec_copy: Path) -> None:
    code, out, err = run("verify", str(spec_copy), "--check", "gap")
    assert code == 0, out + err
    assert f"{spec_copy}:1:1: warning: [signoff] this spec's sha256" in out  # part of the report
    assert "0 error(s), 1 warning(s)" in out.splitlines()[-1]  # and counted
    run("signoff", str(spec_copy), "--name", "Dr A", "--role", "chair")
    code, out, err = run("verify", str(spec_copy), "--check", "gap", "--format", "json")
    assert code == 0
    assert "[signoff]" not in err
    assert json.loads(out)["summary"]["warning"] == 0
