"""``crs-model fuzz`` and the pytest plugin, end to end (``mutate``: test_fuzz_mutation.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from crs_model.cli import main
from tests.fuzz.conftest import SPEC_PATH
from tests.fuzz.test_fuzz_catches import NO_ANTICOAGULATION_CONTRA


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def _faulty(tmp_path: Path) -> Path:
    text = SPEC_PATH.read_text(encoding="utf-8").replace(*NO_ANTICOAGULATION_CONTRA, 1)
    path = tmp_path / "faulty.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_fuzz_green_on_the_shipped_spec() -> None:
    code, out, _ = _cli("fuzz", str(SPEC_PATH), "--examples", "60")
    assert code == 0, out
    assert "all properties hold" in out
    for name in ("invariants", "totality", "invalid_inputs", "spec_loader", "care_course"):
        assert f" {name} " in out


def test_fuzz_says_which_backend_generated_and_can_use_the_standard_one() -> None:
    code, out, _ = _cli("fuzz", str(SPEC_PATH), "--examples", "40", "--property", "invariants")
    assert code == 0, out
    assert "backend crs-model (fixed-width draws)" in out.splitlines()[0]
    code, out, _ = _cli("fuzz", str(SPEC_PATH), "--examples", "40", "--property", "invariants", "--standard-backend")
    assert code == 0, out
    assert out.splitlines()[0].endswith("backend hypothesis")


def test_fuzz_fails_with_the_patient_json(tmp_path: Path) -> None:
    code, out, _ = _cli("fuzz", str(_faulty(tmp_path)), "--examples", "300", "--property", "invariants")
    assert code == 1
    assert "FAILED invariants" in out
    blob = out.split("falsifying input:\n", 1)[1].split("\n\n", 1)[0]
    patient = json.loads(blob)
    assert patient["corticosteroids_given"] is True


def test_fuzz_usage_errors() -> None:
    assert _cli("fuzz", "--examples", "0")[0] == 2
    code, _, err = _cli("fuzz", "--property", "nonsense")
    assert code == 2
    assert "unknown property" in err
    assert _cli("fuzz", "no/such/spec.yaml")[0] == 2


def test_pytest_plugin_runs_the_suite_on_a_given_spec(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--crs-spec",
            str(_faulty(tmp_path)),
            "-k",
            "invariants and not relation",
            "--rootdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cytosorb_never_contraindicated" in proc.stdout
    assert "falsifying input" in proc.stdout
