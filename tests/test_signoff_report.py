"""The governance pack's sign-off section: signer, role, meaning, UTC time, digest, validity, overrides in red."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import crs_model
from crs_model.report import gather, to_html, to_markdown
from crs_model.signoff import signoff_path
from tests.test_signoff import FAULTY_09, Signers, _edit_record, _keys


def _pack(spec_path: Path) -> str:
    spec = crs_model.load_spec(spec_path)
    return to_html(spec, gather(spec, verifier=False, svg=False))


def test_the_pack_shows_each_signed_record_and_refuses_a_forged_one(tmp_path: Path) -> None:
    spec_path = tmp_path / "spec" / FAULTY_09.name
    spec_path.parent.mkdir()
    shutil.copyfile(FAULTY_09, spec_path)
    s = Signers(spec_path, _keys(tmp_path))
    s.register(("Dr A", "chair", "a"), ("Dr B", "pharmacist", "b"))
    assert "NOT SIGNED OFF" in _pack(spec_path)
    reason = "sepsis branch disabled locally"
    s.sign(override_reason=reason, note="pilot")
    html = _pack(spec_path)
    spec = crs_model.load_spec(spec_path)
    (rec,) = [ln for ln in signoff_path(spec_path).read_text(encoding="utf-8").splitlines() if "signed_at" in ln]
    signed_at = rec.split("'")[1]
    assert "is signed off: Dr A (chair, approved, " + signed_at in html
    assert "signature valid" in html
    assert f'<span class="badge bad">OVERRIDE: {reason}</span>' in html  # in red, in the table
    assert re.search(
        rf'<div class="callout bad">Dr A \(chair\) signed &#x27;approved&#x27; although verification failed: '
        rf"2 error\(s\), 0 unknown. Override reason: {reason}</div>",
        html,
    )
    digest = signoff_path(spec_path).read_text(encoding="utf-8").split("verification_sha256: ")[1][:12]
    assert f"<code>{digest}…</code>" in html
    assert "Signed at (UTC)" in html
    assert "Meaning" in html
    md = to_markdown(spec, gather(spec, verifier=False, svg=False))
    assert f"OVERRIDE: {reason}" in md

    _edit_record(spec_path, "meaning: approved", "meaning: reviewed")
    html = _pack(spec_path)
    assert "FORGED OR ALTERED" in html
    assert "NOT SIGNED OFF" in html
    assert "signature does not verify" in html
