"""``pytest --crs-spec``: the invariant suite runs next to the app's own tests, and says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.conftest import SPEC_PATH

APP_TESTS = """
from crs_model.model import Spec


def test_app_own(crs_spec: Spec) -> None:
    assert crs_spec.metadata.id == "cytosorb-crs"  # the app sees the spec given with --crs-spec
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A small app project: its own tests under testpaths, its own copy of the spec."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_app.py").write_text(APP_TESTS, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n", encoding="utf-8")
    (tmp_path / "app_spec.yaml").write_bytes(SPEC_PATH.read_bytes())
    return tmp_path


def _pytest(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "--crs-spec", "app_spec.yaml", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("paths", [(), ("tests",)], ids=["testpaths", "paths-given"])
def test_the_suite_runs_next_to_the_apps_own_tests(app: Path, paths: tuple[str, ...]) -> None:
    proc = _pytest(app, "-k", "app_own or (invariants and not relation)", *paths)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "tests/test_app.py::test_app_own PASSED" in out
    assert "::test_property[invariants] PASSED" in out  # the suite (outside rootdir: no file part)
    assert "crs_model: invariant suite on app_spec.yaml (profile ci), run next to this project's own tests" in out


def test_without_crs_spec_the_plugin_adds_nothing(app: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=app,
        timeout=300,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out  # crs_spec defaults to the bundled spec, the same one
    assert "1 passed" in out
    assert "suite.py" not in out
    assert "crs_model: invariant suite" not in out
