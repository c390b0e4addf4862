"""Nothing a user sends is lost or crashes a command: hostile batches, non-regular files,
unwritable targets and closed standard streams, through the real console script.

Every subprocess has a timeout and small inputs; the memory-bounded cases run under an
address-space limit, so a regression fails here instead of eating the machine.
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crs_model.cli import main
from crs_model.errors import InputFileError, OutputFileError, PatientError
from crs_model.fileio import iter_lines, read_regular, write_atomic
from tests.conftest import SPEC_PATH
from tests.test_engine import FULL

EXE = str(Path(sys.executable).parent / "crs-model")
ROOT = Path(__file__).resolve().parent.parent
PATIENTS = ROOT / "specs" / "examples" / "patients"
MINI = ROOT / "specs" / "examples" / "mini_crs.yaml"
GiB = 1024**3


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 * GiB, 2 * GiB))


def cli(
    *argv: str,
    stdin: bytes | int | None = None,
    timeout: float = 60,
    preexec: Callable[[], None] | None = _limit_memory,
    **kw: Any,
) -> subprocess.CompletedProcess[bytes]:
    """The console script as a user runs it; output kept as bytes (we check they are UTF-8)."""
    opts: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kw}
    if isinstance(stdin, bytes):
        opts["input"] = stdin
    else:
        opts["stdin"] = stdin
    return subprocess.run([EXE, *argv], timeout=timeout, preexec_fn=preexec, check=False, **opts)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


def rows(stdout: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.decode("utf-8").splitlines()]  # strict: must be UTF-8


def no_traceback(res: subprocess.CompletedProcess[bytes]) -> None:
    assert b"Traceback" not in res.stderr
    assert b"Traceback" not in res.stdout


OK_LINE = json.dumps(FULL).encode()


# ------------------------------------------------------------------ JSONL: one line out per line in
def test_deeply_nested_line_is_one_error_record_and_the_batch_goes_on(tmp_path: Path) -> None:
    batch = tmp_path / "b.jsonl"
    batch.write_bytes(b"[" * 1000 + b"\n" + OK_LINE + b"\n" + b'{"a": ' * 5000 + b"\n")
    res = cli("evaluate", str(batch))
    no_traceback(res)
    assert res.returncode == 2
    out = rows(res.stdout)
    assert len(out) == 3
    assert out[0] == {"line": 1, "error": {"field": "<input>", "message": "invalid JSON: nested too deeply"}}
    assert out[1]["recommendation"] == "consider_cytosorb"
    assert out[2]["line"] == 3
    assert "nested too deeply" in out[2]["error"]["message"]


def test_non_utf8_byte_costs_exactly_its_own_line(tmp_path: Path) -> None:
    n, bad = 3000, 1234
    lines = [OK_LINE] * n
    lines[bad - 1] = b'{"etiology": "car_t\xff"}'
    batch = tmp_path / "b.jsonl"
    batch.write_bytes(b"\n".join(lines) + b"\n")
    code, out, err = run("evaluate", str(batch))
    assert code == 2
    records = [json.loads(x) for x in out.splitlines()]
    assert len(records) == n
    errors = [r for r in records if "error" in r]
    assert errors == [{"line": bad, "error": {"field": "<input>", "message": errors[0]["error"]["message"]}}]
    assert "not UTF-8" in errors[0]["error"]["message"]
    assert "0xff" in errors[0]["error"]["message"]
    assert "some lines were invalid" in err


def test_stdin_raw_byte_is_never_echoed_and_output_stays_utf8() -> None:
    data = OK_LINE + b"\n" + b'{"etiology": "\xc3\x28"}\n' + b'{"w\xe9ight_kg": 70}\n' + OK_LINE + b"\n"
    res = cli("evaluate", "-", "--jsonl", stdin=data, env={**os.environ, "LC_ALL": "C", "LANG": "C"})
    no_traceback(res)
    assert res.returncode == 2
    out = rows(res.stdout)  # decodes strictly
    assert [("error" in r) for r in out] == [False, True, True, False]
    assert b"\xe9" not in res.stdout
    assert b"\xc3\x28" not in res.stdout


def test_lone_surrogate_escape_in_a_key_stays_valid_utf8_json() -> None:
    res = cli("evaluate", "-", "--jsonl", stdin=b'{"\\udc80x": 1}\n{}\n')
    no_traceback(res)
    out = rows(res.stdout)
    assert len(out) == 2
    assert out[0]["error"]["field"] == "\udc80x"  # the JSON escape round-trips to the same key


def test_overlong_line_is_skipped_in_bounded_memory_and_the_next_is_read(tmp_path: Path) -> None:
    batch = tmp_path / "b.jsonl"
    with batch.open("wb") as fh:
        fh.write(b'{"weight_kg": ' + b"1" * (8 * 1024 * 1024) + b"}\n")  # 8 MiB on one line
        fh.write(OK_LINE + b"\n" + b"{}")  # last line without a newline still counts
    res = cli("evaluate", str(batch))
    no_traceback(res)
    out = rows(res.stdout)
    assert len(out) == 3
    assert out[0]["line"] == 1
    assert "line longer than" in out[0]["error"]["message"]
    assert out[1]["recommendation"] == "consider_cytosorb"
    assert out[2]["recommendation"] == "insufficient_data"


def test_iter_lines_yields_none_for_each_long_line() -> None:
    data = b"a" * 10 + b"\n" + b"b" * 11 + b"\n" + b"c" * 30 + b"\n" + b"d\n" + b"e" * 11
    assert list(iter_lines(io.BytesIO(data), 10)) == [b"a" * 10 + b"\n", None, None, b"d\n", None]
    assert list(iter_lines(io.BytesIO(b""), 10)) == []


def test_deeply_nested_single_object_names_the_file(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_bytes(b"[" * 100_000)
    res = cli("evaluate", str(deep))
    no_traceback(res)
    assert res.returncode == 2
    assert res.stdout == b""
    assert f"crs-model: error: {deep}: invalid JSON: nested too deeply".encode() in res.stderr
    res = cli("evaluate", "-", stdin=b'{"a":' * 100_000)
    no_traceback(res)
    assert res.returncode == 2
    assert b"<stdin>: invalid JSON: nested too deeply" in res.stderr


def test_non_utf8_single_object_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    p.write_bytes(b'{"etiology": "\xff"}')
    code, out, err = run("evaluate", str(p))
    assert (code, out) == (2, "")
    assert f"{p}: invalid JSON: not UTF-8 text (byte 0xff" in err


# ------------------------------------------------------------------ only regular files, bounded
@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    return path


def test_fifo_in_a_patient_folder_is_refused_and_the_rest_evaluated(tmp_path: Path, fifo: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(FULL))
    res = cli("evaluate", str(tmp_path), "--format", "json", timeout=20)
    no_traceback(res)
    assert res.returncode == 2
    out = rows(res.stdout)
    assert [Path(r["file"]).name for r in out] == ["a.json", "pipe.json"]
    assert out[0]["recommendation"] == "consider_cytosorb"
    assert "FIFO" in out[1]["error"]["message"]
    assert f"{fifo}: cannot read: it is a FIFO (named pipe), not a regular file".encode() in res.stderr


def test_fifo_as_jsonl_batch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pipe.jsonl"
    os.mkfifo(path)
    res = cli("evaluate", str(path), timeout=20)
    no_traceback(res)
    assert res.returncode == 2
    assert b"not a regular file" in res.stderr


@pytest.mark.parametrize("command", ["check-spec", "schema", "render", "report", "fuzz", "mutate"])
def test_fifo_or_device_as_spec_is_refused_at_once(command: str, fifo: Path) -> None:
    for spec in (str(fifo), "/dev/zero"):
        res = cli(command, spec, timeout=30)
        no_traceback(res)
        assert res.returncode == 2, res.stderr
        assert f"cannot read spec '{spec}': it is a".encode() in res.stderr
        assert b"not a regular file" in res.stderr


def test_devices_and_fifos_as_patient_are_refused(fifo: Path) -> None:
    for argv in (["evaluate", "/dev/zero"], ["evaluate", "--spec", str(fifo), "-"], ["render", "--patient", str(fifo)]):
        res = cli(*argv, stdin=b"{}", timeout=30)
        no_traceback(res)
        assert res.returncode == 2, (argv, res.stderr)
        assert b"not a regular file" in res.stderr


def test_fifo_as_trace_map_is_reported_not_read(tmp_path: Path) -> None:
    from crs_model.report import load_trace_map

    spec = tmp_path / "s.yaml"
    spec.write_bytes(SPEC_PATH.read_bytes())
    os.mkfifo(tmp_path / "s.trace.yaml")
    t0 = time.monotonic()
    trace = load_trace_map(spec)
    assert time.monotonic() - t0 < 5
    assert trace is not None
    assert trace.entries == ()
    assert trace.problems == (
        f"{tmp_path / 's.trace.yaml'}: cannot read: it is a FIFO (named pipe), not a regular file",
    )


def test_oversized_spec_is_refused_from_its_size_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(4 * GiB)  # sparse: costs no disk, and reading it whole would exceed the memory limit
    t0 = time.perf_counter()
    res = cli("check-spec", str(big))
    no_traceback(res)
    assert res.returncode == 2
    assert f"cannot read spec '{big}': file is {4 * GiB} bytes; the limit is 2097152".encode() in res.stderr
    assert time.perf_counter() - t0 < 30


def test_read_regular_bounds(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"x" * 11)
    assert read_regular(p, 11) == b"x" * 11
    with pytest.raises(InputFileError, match="file is 11 bytes; the limit is 10"):
        read_regular(p, 10)
    with pytest.raises(InputFileError, match="it is a folder"):
        read_regular(tmp_path, 10)
    with pytest.raises(InputFileError, match="No such file"):
        read_regular(tmp_path / "missing", 10)


def test_ten_thousand_unknown_keys_are_fast_and_name_the_field(tmp_path: Path) -> None:
    import crs_model

    t0 = time.perf_counter()
    with pytest.raises(PatientError) as info:
        crs_model.evaluate({f"unknown_key_{i}_{'x' * (i % 300)}": 1 for i in range(10_000)})
    assert info.value.field == "<input>"  # more keys than any spec has: refused before any lookup
    assert "too many keys (10000" in info.value.message
    # the same names one per patient: every one is reported, each with a bounded suggestion
    batch = tmp_path / "keys.jsonl"
    batch.write_text("".join(json.dumps({f"weight_kg{'_' * (i % 90)}{i}": 70}) + "\n" for i in range(10_000)))
    code, out, _ = run("evaluate", str(batch))
    records = [json.loads(x) for x in out.splitlines()]
    assert code == 2
    assert len(records) == 10_000
    assert records[0]["error"]["field"] == "weight_kg0"
    assert "did you mean 'weight_kg'?" in records[0]["error"]["message"]
    assert all(r["error"]["field"] == f"weight_kg{'_' * (i % 90)}{i}" for i, r in enumerate(records))
    huge = "il6_pg_ml" * 20_000
    with pytest.raises(PatientError) as info:
        crs_model.evaluate({huge: 1})
    assert info.value.field == huge
    assert "did you mean" not in info.value.message  # a 180,000-character name is no typo
    assert time.perf_counter() - t0 < 5


# ------------------------------------------------------------------ output paths
def _report(tmp_path: Path, out: str, *extra: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return cli("report", str(MINI), "--out", out, "--no-verify", "--no-diagram", *extra, cwd=tmp_path, **kw)


@pytest.mark.parametrize(
    ("out", "extra", "fragment"),
    [
        ("pack.txt", (), "cannot tell the format from '.txt'"),
        ("pack", (), "cannot tell the format from 'no extension'"),
    ],
)
def test_report_refuses_what_it_cannot_write(tmp_path: Path, out: str, extra: tuple[str, ...], fragment: str) -> None:
    res = _report(tmp_path, out, *extra)
    no_traceback(res)
    assert res.returncode == 2
    assert f"crs-model: error: {out}: cannot write: {fragment}".encode() in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_report_with_explicit_format_takes_any_name(tmp_path: Path) -> None:
    res = _report(tmp_path, "pack.txt", "--format", "markdown")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "pack.txt").read_text(encoding="utf-8").startswith("#")


def test_unwritable_targets_exit_2_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for argv, path in (
        (["report", str(MINI), "--no-verify", "--no-diagram", "--out", f"{blocker}/pack.html"], blocker),
        (["render", str(MINI), "--format", "dot", "--out", str(blocker)], blocker),
        (["render", str(MINI), "--format", "dot", "--out", f"{blocker}/sub"], blocker / "sub"),
        (["report", str(MINI), "--no-verify", "--no-diagram", "--out", str(tmp_path)], tmp_path),
    ):
        res = cli(*argv)
        no_traceback(res)
        assert res.returncode == 2, (argv, res.stderr)
        assert res.stderr.decode().startswith(f"crs-model: error: {path}: cannot write: "), res.stderr
    assert blocker.read_text() == "not a folder"


def test_outputs_replace_a_symlink_and_never_write_through_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "pack.html").symlink_to(victim)
    (out / "mini_crs.dot").symlink_to(victim)
    assert _report(tmp_path, "out/pack.html", "--format", "html").returncode == 0
    assert cli("render", str(MINI), "--format", "dot", "--out", str(out)).returncode == 0
    assert victim.read_text() == "precious"
    for name in ("pack.html", "mini_crs.dot"):
        assert not (out / name).is_symlink()
        assert (out / name).stat().st_size > 1000
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no temp file left


def test_full_disk_leaves_the_old_file_and_exits_2(tmp_path: Path) -> None:
    target = tmp_path / "pack.html"
    target.write_text("old pack")

    def small_files() -> None:  # a write past 4 KiB fails with EFBIG, as a full disk fails with ENOSPC
        _limit_memory()
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    res = _report(tmp_path, "pack.html", preexec=small_files)
    no_traceback(res)
    assert res.returncode == 2
    assert res.stderr.decode().startswith("crs-model: error: pack.html: cannot write: File too large")
    assert target.read_text() == "old pack"
    assert [p.name for p in tmp_path.iterdir()] == ["pack.html"]


def test_write_atomic_refuses_devices_and_keeps_the_mode(tmp_path: Path, fifo: Path) -> None:
    with pytest.raises(OutputFileError, match="it is a FIFO"):
        write_atomic(fifo, b"x")
    with pytest.raises(OutputFileError, match="it is a character device"):
        write_atomic("/dev/null", b"x")
    p = tmp_path / "f"
    p.write_bytes(b"old")
    p.chmod(0o600)
    write_atomic(p, b"new")
    assert (p.read_bytes(), p.stat().st_mode & 0o777) == (b"new", 0o600)


def test_stdout_full_exits_2() -> None:
    with open("/dev/full", "wb") as full:
        res = cli("schema", stdout=full, stderr=subprocess.PIPE)
    assert res.returncode == 2
    assert res.stderr.decode() == "crs-model: error: cannot write the output: No space left on device\n"


# ------------------------------------------------------------------ closed streams and | head
def _shell(script: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["sh", "-c", script], capture_output=True, timeout=60, preexec_fn=_limit_memory, check=False)


def test_closed_stdout_stdin_stderr() -> None:
    patient = PATIENTS / "03_grade2_first_tocilizumab.json"
    res = _shell(f"'{EXE}' evaluate '{patient}' >&-")
    assert res.returncode == 2
    assert res.stderr == b"crs-model: error: standard output is closed; nothing can be printed\n"
    res = _shell(f"'{EXE}' evaluate <&-")
    assert res.returncode == 2
    assert res.stderr == b"crs-model: error: <stdin>: cannot read: standard input is closed\n"
    res = _shell(f"'{EXE}' evaluate '{patient}' <&-")  # stdin not needed: works
    assert res.returncode == 0
    assert b"give_tocilizumab" in res.stdout
    res = _shell(f"'{EXE}' evaluate '{patient}' 2>&-")
    assert (res.returncode, res.stderr) == (0, b"")
    assert b"give_tocilizumab" in res.stdout
    res = _shell(f"'{EXE}' evaluate /nonexistent.json 2>&-; echo rc=$?")
    assert res.stdout == b"rc=2\n"


def test_pipe_closed_by_head_is_quiet_success(tmp_path: Path) -> None:
    res = _shell(f"'{EXE}' schema | head -1")
    assert (res.returncode, res.stdout, res.stderr) == (0, b"{\n", b"")
    batch = tmp_path / "b.jsonl"
    batch.write_bytes((OK_LINE + b"\n") * 20_000)  # far more output than a pipe buffers
    res = subprocess.run(
        ["bash", "-c", f"'{EXE}' evaluate '{batch}' | head -1; echo \"rc=${{PIPESTATUS[0]}}\""],
        capture_output=True,
        timeout=120,
        check=False,
    )
    lines = res.stdout.decode().splitlines()
    assert json.loads(lines[0])["recommendation"] == "consider_cytosorb"
    assert lines[1] == "rc=0"
    assert res.stderr == b""


def test_evaluate_without_argument_on_a_terminal_prints_usage() -> None:
    import pty

    leader, follower = pty.openpty()
    try:
        res = subprocess.run(
            [EXE, "evaluate"], stdin=follower, capture_output=True, timeout=30, preexec_fn=_limit_memory, check=False
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert res.returncode == 2
    err = res.stderr.decode()
    assert err.startswith("usage: crs-model evaluate")
    assert "crs-model: error: evaluate: no patient given" in err
    assert res.stdout == b""


def test_spec_path_in_the_repo_is_a_regular_file() -> None:
    assert read_regular(SPEC_PATH, 2 * 1024 * 1024) == SPEC_PATH.read_bytes()


def test_integer_longer_than_pythons_digit_limit_names_its_field(tmp_path: Path) -> None:
    digits = "9" * 5000  # over CPython's 4,300-digit int-from-text limit
    single = tmp_path / "p.json"
    single.write_text(f'{{"weight_kg": {digits}}}')
    code, out, err = run("evaluate", str(single))
    assert (code, out) == (2, "")
    assert "weight_kg=<an integer of 5000 digits> is outside 0.5..350 kg" in err
    batch = tmp_path / "b.jsonl"
    batch.write_text(f'{{"tocilizumab_doses": -{digits}}}\n' + json.dumps(FULL) + "\n")
    code, out, _ = run("evaluate", str(batch))
    first, second = (json.loads(line) for line in out.splitlines())
    assert code == 2
    assert first["line"] == 1
    assert first["error"]["field"] == "tocilizumab_doses"
    assert second["recommendation"] == "consider_cytosorb"


def test_thousands_of_unknown_names_in_a_spec_are_all_reported_the_first_with_hints(tmp_path: Path) -> None:
    from crs_model.hints import SPEC_HINTS

    n = 1500  # unknown names, each among 1,500 parameters: hints must not cost their product
    text = (ROOT / "specs" / "examples" / "mini_crs.yaml").read_text(encoding="utf-8")
    params = "".join(f"  pz_{i}:\n    value: 1\n    label: p\n    rationale: r\n    cites: [seed]\n" for i in range(n))
    defs = "".join(f"  dz_{i}:\n    type: real\n    expr: qzz_{i} + 1\n" for i in range(n))
    text = text.replace("\nparameters:\n", "\nparameters:\n" + params, 1)
    text = text.replace("\ndefinitions:\n", "\ndefinitions:\n" + defs, 1)
    spec = tmp_path / "many.yaml"
    spec.write_text(text, encoding="utf-8")
    res = cli("check-spec", str(spec), timeout=120)
    no_traceback(res)
    assert res.returncode == 2
    err = res.stderr.decode()
    assert f"spec not loaded ({n} problems)" in err
    hinted = err.count("did you mean")
    assert 0 < hinted <= SPEC_HINTS
    assert "unknown name 'qzz_0' (did you mean" in err
    assert f"unknown name 'qzz_{n - 1}'\n" in err
