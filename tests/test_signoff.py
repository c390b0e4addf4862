"""Sign-off bound to the spec's sha256: record, require, verify warnings, tamper refusal."""

from __future__ import annotations

import concurrent.futures
import errno
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

import crs_model
from crs_model.cli import main
from crs_model.errors import SignoffError
from crs_model.model import Severity
from crs_model.signoff import (
    append_record,
    read_records,
    read_signoffs,
    records_for,
    signoff_findings,
    signoff_path,
)
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
    (problem,) = read_signoffs(spec_copy).problems
    assert re.search(r"signoff\.yaml:1:3: error: sign-off record 1: sha256 is not 64", str(problem))
    assert read_records(spec_copy) == ()
    spec = crs_model.load_spec(spec_copy)
    (finding,) = [f for f in signoff_findings(spec) if f.severity is Severity.ERROR]
    assert (finding.line, finding.column) == (1, 3)
    signoff_path(spec_copy).write_text("- {name: A, colour: red}\n", encoding="utf-8")
    (problem,) = read_signoffs(spec_copy).problems
    assert "unknown key 'colour'" in str(problem)


def _signed(spec_copy: Path, **kw: str) -> tuple[crs_model.Spec, bytes]:
    spec = crs_model.load_spec(spec_copy)
    append_record(spec, name=kw.get("name", "Dr A"), role="chair", date="2026-11-20")
    return spec, signoff_path(spec_copy).read_bytes()


TORN = [  # what a crash or a hand edit may leave after the valid records
    "- sha256: 'abc\n  name: Dr",  # unclosed quote, no newline: the whole file is not YAML any more
    "- sha256: {}\n  name: [\n",  # broken flow collection
    "- name: Dr B\n  role: chair\n",  # parses, but is not a record (no sha256, no date)
    "- sha256: 0ce8\xff\xfe\n  name: Dr B\n",  # bytes that are not UTF-8 (a torn multi-byte write)
]


@pytest.mark.parametrize("torn", TORN)
def test_torn_trailing_record_is_an_error_and_the_valid_one_still_counts(spec_copy: Path, torn: str) -> None:
    spec, good = _signed(spec_copy)
    path = signoff_path(spec_copy)
    path.write_bytes(good + torn.encode("latin-1"))
    torn_line = good.count(b"\n") + 1
    file = read_signoffs(spec_copy)
    assert [r.name for r in file.records] == ["Dr A"]
    (problem,) = file.problems
    assert problem.location is not None
    assert (problem.location.file, problem.location.line) == (str(path), torn_line)
    assert "sign-off record 2" in problem.message
    crs_model.load_spec(spec_copy, require_signoff=True)  # the earlier valid record still vouches
    (finding,) = signoff_findings(spec)
    assert finding.severity is Severity.ERROR
    assert str(finding).startswith(f"{path}:{torn_line}:")
    code, out, _ = run("verify", str(spec_copy), "--check", "uncited")
    assert code == 1  # an error finding of any origin fails the run
    assert f"{path}:{torn_line}:" in out
    # appending after a broken record is refused until it is repaired; the file is untouched
    code, _, err = run("signoff", str(spec_copy), "--name", "Dr C", "--role", "chair")
    assert code == 2
    assert "malformed record" in err
    assert "Traceback" not in err
    assert path.read_bytes() == good + torn.encode("latin-1")


def test_bad_middle_record_does_not_hide_its_neighbours(spec_copy: Path) -> None:
    spec, good = _signed(spec_copy)
    other = good.decode().split("\n- ", 1)[0]  # the header comment
    first = "- sha256: " + "ab" * 32 + "\n  name: Dr Z\n  role: r\n  date: '2026-01-01'\n"
    middle = "- sha256: " + spec.sha256 + "\n  name: Dr M\n  role: r\n  colour: red\n  date: '2026-01-02'\n"
    last = good.decode()[len(other) + 1 :]
    signoff_path(spec_copy).write_text(f"{other}\n{first}{middle}{last}", encoding="utf-8")
    file = read_signoffs(spec_copy)
    assert [r.name for r in file.records] == ["Dr Z", "Dr A"]
    (problem,) = file.problems
    assert "unknown key 'colour' in sign-off record 2" in problem.message
    assert problem.location is not None
    text = signoff_path(spec_copy).read_text(encoding="utf-8").splitlines()
    assert text[problem.location.line - 1].strip().startswith("colour:")
    assert [r.name for r in records_for(spec)] == ["Dr A"]  # the malformed one never counts


def test_torn_record_never_counts_as_a_signoff(spec_copy: Path) -> None:
    spec = crs_model.load_spec(spec_copy)
    signoff_path(spec_copy).write_text(f"- sha256: {spec.sha256}\n  name: Dr A\n  role: ch", encoding="utf-8")
    assert records_for(spec) == ()
    with pytest.raises(SignoffError, match="matches no governance sign-off"):
        crs_model.load_spec(spec_copy, require_signoff=True)
    # a record with bytes that are not UTF-8 is corrupt, not a sign-off with a replaced character
    corrupt = f"- sha256: {spec.sha256}\n  name: Dr \xff\n  role: r\n  date: '2026-01-01'\n- oops: [\n"
    signoff_path(spec_copy).write_bytes(corrupt.encode("latin-1"))
    assert records_for(spec) == ()
    assert len(read_signoffs(spec_copy).problems) == 2


def test_files_written_before_stay_readable(spec_copy: Path) -> None:
    spec = crs_model.load_spec(spec_copy)
    block = f"# header\n- sha256: {spec.sha256}\n  name: Dr A\n  role: chair\n  date: '2026-11-23'\n"
    signoff_path(spec_copy).write_text(block, encoding="utf-8")
    assert [r.name for r in records_for(spec)] == ["Dr A"]
    flow = f"[{{sha256: {spec.sha256}, name: Dr B, role: chair, date: '2026-11-23'}}]\n"
    signoff_path(spec_copy).write_text(flow, encoding="utf-8")
    assert [r.name for r in records_for(spec)] == ["Dr B"]
    assert read_signoffs(spec_copy).problems == ()


def _no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("call", ["write", "fsync"])
def test_disk_full_during_signoff_leaves_the_file_as_it_was(
    spec_copy: Path, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    _, good = _signed(spec_copy)

    def full(*_: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, call, full)
    code, out, err = run("signoff", str(spec_copy), "--name", "Dr B", "--role", "chair")
    monkeypatch.undo()
    assert code == 2
    assert out == ""
    assert err.startswith("crs-model: error: ")
    assert "the disk is full; the file is unchanged" in err
    assert "Traceback" not in err
    assert signoff_path(spec_copy).read_bytes() == good
    assert _no_temp_files(spec_copy.parent)


def test_first_signoff_on_a_full_disk_creates_no_file(spec_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(SignoffError, match="disk is full"):
        append_record(crs_model.load_spec(spec_copy), name="A", role="chair")
    monkeypatch.undo()
    assert not signoff_path(spec_copy).exists()
    assert _no_temp_files(spec_copy.parent)


def test_unwritable_directory(spec_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only directory (simulated: root may write anywhere, so chmod proves nothing for root)."""
    _, good = _signed(spec_copy)

    def denied(*_: object, **__: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    code, _, err = run("signoff", str(spec_copy), "--name", "Dr B", "--role", "chair")
    monkeypatch.undo()
    assert code == 2
    assert "cannot write sign-off file: Permission denied; the file is unchanged" in err
    assert signoff_path(spec_copy).read_bytes() == good


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory; see test_unwritable_directory")
def test_read_only_directory(spec_copy: Path) -> None:
    _, good = _signed(spec_copy)
    spec_copy.parent.chmod(0o555)
    try:
        code, _, err = run("signoff", str(spec_copy), "--name", "Dr B", "--role", "chair")
    finally:
        spec_copy.parent.chmod(0o755)
    assert code == 2
    assert "the file is unchanged" in err
    assert signoff_path(spec_copy).read_bytes() == good


def test_signoff_replaces_the_file_atomically(spec_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, good = _signed(spec_copy)
    path = signoff_path(spec_copy)
    seen: list[bytes] = []
    real = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append(path.read_bytes())  # at the moment of the rename the old file is intact
        assert Path(src).parent == path.parent
        assert Path(src).read_bytes().startswith(good)
        real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    append_record(crs_model.load_spec(spec_copy), name="Dr B", role="chair", date="2026-11-21")
    assert seen == [good]
    assert path.read_bytes().startswith(good)
    assert [r.name for r in read_records(spec_copy)] == ["Dr A", "Dr B"]


def test_concurrent_signoffs_lose_no_record(spec_copy: Path) -> None:
    spec = crs_model.load_spec(spec_copy)
    names = [f"Dr {i}" for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        list(pool.map(lambda n: append_record(spec, name=n, role="chair", date="2026-11-20"), names))
    assert sorted(r.name for r in read_records(spec_copy)) == names
    assert _no_temp_files(spec_copy.parent)


def test_signoff_never_writes_through_a_symlink(spec_copy: Path, tmp_path: Path) -> None:
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("precious\n", encoding="utf-8")
    signoff_path(spec_copy).symlink_to(victim)
    code, _, err = run("signoff", str(spec_copy), "--name", "Dr B", "--role", "chair")
    assert code == 2
    assert "symbolic link" in err
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert signoff_path(spec_copy).is_symlink()


def test_a_fifo_is_not_read(spec_copy: Path) -> None:
    os.mkfifo(signoff_path(spec_copy))
    with pytest.raises(SignoffError, match="not a regular file"):
        read_signoffs(spec_copy)


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
    assert findings[1].line == status_line
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
