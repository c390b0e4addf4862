"""What an installed wheel gives an app: the spec with its traceability map, the examples,
a ``py.typed`` marker, and a one-call API that does not depend on the working directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import crs_model

ROOT = Path(__file__).resolve().parent.parent
PATIENT = {"etiology": "car_t", "weight_kg": 44.85, "temperature_c": 39.1, "hypotension": False}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (whl,) = out.glob("crs_model-*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked into a folder of its own (what site-packages would hold)."""
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    return target


def _run(code: str, site: Path, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(site)}
    res = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )
    return res.stdout


def test_wheel_holds_spec_trace_map_examples_and_py_typed(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for member in (
        "crs_model/py.typed",
        "crs_model/specs/cytosorb_crs.yaml",
        "crs_model/specs/cytosorb_crs.trace.yaml",
        "crs_model/specs/examples/mini_crs.yaml",
        "crs_model/report/pack.css",
    ):
        assert member in names, member
    shipped = {p.name for p in (ROOT / "specs/examples/patients").glob("*.json")}
    packed = {n.rsplit("/", 1)[1] for n in names if n.startswith("crs_model/specs/examples/patients/")}
    assert shipped
    assert shipped <= packed


def test_installed_package_uses_its_own_spec_and_finds_the_trace_map(installed: Path, tmp_path: Path) -> None:
    code = (
        "import crs_model\n"
        "from crs_model.report import load_trace_map\n"
        "p = crs_model.bundled_spec_path()\n"
        "print(p)\n"
        "print(load_trace_map(p) is not None)\n"
        f"print(crs_model.evaluate({PATIENT!r}).recommendation)\n"
    )
    path, has_trace, rec = _run(code, installed, tmp_path).split()
    assert Path(path).is_relative_to(installed)
    assert has_trace == "True"
    assert rec == crs_model.evaluate(PATIENT).recommendation


def test_installed_package_is_typed_for_an_apps_mypy(wheel: Path, tmp_path: Path) -> None:
    # a real site-packages: mypy treats PYTHONPATH folders as sources and would not need py.typed
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(purelib)
    app = tmp_path / "app.py"
    app.write_text(
        "import crs_model\n"
        "from crs_model.engine import OutputValue\n\n"
        "def grade(p: dict[str, object]) -> OutputValue:\n"
        "    return crs_model.evaluate(p).astct_grade  # a declared output, typed as one\n\n"
        "bad: bytes = crs_model.evaluate({}).recommendation\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    res = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-executable", str(python), str(app)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    # the one deliberate error is found, so mypy read crs_model's types (not "missing py.typed")
    assert "py.typed" not in res.stdout, res.stdout
    assert 'Incompatible types in assignment (expression has type "str", variable has type "bytes")' in res.stdout, (
        res.stdout
    )
    assert res.stdout.count("error:") == 1, res.stdout


def test_bundled_spec_path_is_absolute_and_survives_chdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = crs_model.bundled_spec_path()
    assert path.is_absolute()
    monkeypatch.chdir(tmp_path)
    assert crs_model.bundled_spec_path() == path
    assert crs_model.load_spec(crs_model.bundled_spec_path()).sha256 == crs_model.load_spec().sha256


def test_bundled_spec_is_named_relative_to_the_working_directory_in_messages() -> None:
    # reports and messages show what a user would type from the checkout, so their bytes
    # do not depend on where the checkout lies
    here = Path.cwd()
    spec = crs_model.load_spec()
    if crs_model.bundled_spec_path().is_relative_to(here):
        assert not Path(spec.path).is_absolute()
    assert (here / spec.path).resolve() == crs_model.bundled_spec_path()


def test_evaluate_with_a_spec_object_compiles_its_engine_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Any] = []

    class Counting(crs_model.Engine):
        def __init__(self, spec: crs_model.Spec) -> None:
            built.append(spec)
            super().__init__(spec)

    monkeypatch.setattr(crs_model, "Engine", Counting)
    spec = crs_model.load_spec()
    first = crs_model.evaluate(PATIENT, spec=spec)
    for _ in range(5):
        assert crs_model.evaluate(PATIENT, spec=spec) == first
    assert built == [spec]
    other = crs_model.load_spec()  # an equal but distinct object gets its own engine
    crs_model.evaluate(PATIENT, spec=other)
    assert len(built) == 2
