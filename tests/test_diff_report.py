"""The pack's "Changes since the last signed-off version": which old version, and what it shows."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import crs_model
from crs_model.keys import generate_key_file, load_private_key
from crs_model.report import to_markdown
from crs_model.report.changes import changes_blocks, find_baseline, gather_changes
from crs_model.report.document import H
from crs_model.report.inputs import PackInputs
from crs_model.signers import signers_path
from crs_model.signoff import sign_off
from crs_model.verification_digest import verify_for_signoff

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "specs" / "cytosorb_crs.yaml"
V01 = ROOT / "specs" / "history" / "cytosorb_crs-0.1.0.yaml"


def approve(spec: crs_model.Spec, folder: Path) -> None:
    """A registered committee key signs ``spec``'s bytes as approved (into the sign-off file beside it)."""
    key_file = folder / "chair.pem"
    key = generate_key_file(key_file) if not key_file.exists() else None
    if key is not None:
        entry = {"name": "A. Chair", "role": "committee", "public_key": key.public_key}
        signers_path(spec.path).write_text(yaml.safe_dump({"signers": [entry]}), encoding="utf-8")
    sign_off(
        spec,
        key=load_private_key(key_file),
        name="A. Chair",
        role="committee",
        meaning="approved",
        verification=verify_for_signoff(spec),
        toolkit=crs_model.__version__,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of specs/: the v0.2 spec and history/ with v0.1, no sign-off."""
    (tmp_path / "history").mkdir()
    shutil.copyfile(SHIPPED, tmp_path / "cytosorb_crs.yaml")
    shutil.copyfile(V01, tmp_path / "history" / V01.name)
    return tmp_path


def test_unsigned_spec_is_compared_with_the_newest_history_file(folder: Path) -> None:
    spec = crs_model.load_spec(folder / "cytosorb_crs.yaml")
    base, note = find_baseline(spec)
    assert base == str(folder / "history" / V01.name)
    assert note.startswith("No signed-off version was found")
    assert V01.name in note


def test_a_signed_history_version_is_the_baseline(folder: Path) -> None:
    spec_path = folder / "cytosorb_crs.yaml"
    old = crs_model.load_spec(folder / "history" / V01.name)
    # a record of v0.1's bytes in v0.2's sign-off file (v0.1 was signed, then edited into v0.2)
    approve(dataclasses.replace(old, path=str(spec_path)), folder)
    spec = crs_model.load_spec(spec_path)
    base, note = find_baseline(spec)
    assert base == str(folder / "history" / V01.name)
    assert "approved by A. Chair (committee) at 20" in note
    result, _ = gather_changes(spec)
    assert result is not None
    assert not result.equivalent
    assert result.regions
    blocks = changes_blocks(result, note)
    assert blocks[0] == H(2, "Changes since the last signed-off version", "changes")
    md = to_markdown(spec, PackInputs(changes=result, changes_note=note))
    assert "## Changes since the last signed-off version" in md
    assert "Behaviour differs" in md
    assert "Region 1: witness patient" in md
    assert result.regions[0].description in md.replace("\\", "")


def test_a_signed_current_version_has_nothing_to_show(folder: Path) -> None:
    spec_path = folder / "cytosorb_crs.yaml"
    approve(crs_model.load_spec(spec_path), folder)
    spec = crs_model.load_spec(spec_path)
    result, note = gather_changes(spec)
    assert "This exact version is the last signed-off one" in note
    assert result is not None
    assert result.equivalent
    assert not result.elements


def test_a_signed_version_found_in_git_history(folder: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, timeout=60)

    spec_path = folder / "cytosorb_crs.yaml"
    shutil.rmtree(folder / "history")
    git("init", "-q")
    git("add", "cytosorb_crs.yaml")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "signed version")
    approve(crs_model.load_spec(spec_path), folder)
    text = spec_path.read_text(encoding="utf-8").replace("    value: 500\n", "    value: 1000\n", 1)
    spec_path.write_text(text, encoding="utf-8")
    base, note = find_baseline(crs_model.load_spec(spec_path))
    assert base is not None
    assert base.endswith(":cytosorb_crs.yaml")
    assert "in git" in note


def test_no_history_says_so(tmp_path: Path) -> None:
    shutil.copyfile(SHIPPED, tmp_path / "cytosorb_crs.yaml")
    result, note = gather_changes(crs_model.load_spec(tmp_path / "cytosorb_crs.yaml"))
    assert result is None
    assert "there is no history/ folder" in note
    assert changes_blocks(None, "") == []
