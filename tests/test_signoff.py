"""Signed sign-off round trip: keygen, registry, sign, verify, forge -> refused, faulty spec, quorum, migration."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import crs_model
from crs_model.cli import main
from crs_model.errors import SignoffError, SpecError
from crs_model.keys import SigningKey, generate_key_file, load_private_key, parse_public_key
from crs_model.model import Severity
from crs_model.signers import read_registry, signers_path
from crs_model.signoff import (
    DOMAIN,
    SIGNED_FIELDS,
    RecordState,
    check_record,
    payload,
    sign_off,
    signoff_findings,
    signoff_path,
    signoff_state,
)
from crs_model.signoff_store import read_signoffs
from crs_model.verification_digest import Verification, verify_for_signoff
from tests.conftest import SPEC_PATH as SPEC

ROOT = Path(__file__).resolve().parent.parent
FAULTY_09 = ROOT / "specs" / "examples" / "faulty" / "09_invariant_sepsis_naive.yaml"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@functools.cache
def _verified(sha256: str, name: str, path: str) -> Verification:
    # the digest does not depend on the spec's folder (tested below), so one run serves every copy of the bytes
    return verify_for_signoff(crs_model.load_spec(path))


def verification(spec: crs_model.Spec) -> Verification:
    """The real verifier's verdict on these bytes (computed once per bytes and file name)."""
    return _verified(spec.sha256, Path(spec.path).name, spec.path)


@dataclasses.dataclass
class Signers:
    """Keys made for a test and the registry written beside the spec copy."""

    spec: Path
    keys: dict[str, SigningKey]

    def register(self, *entries: tuple[str, str, str]) -> None:
        """Write the registry: (name, role, key label) per signer."""
        signers = [{"name": n, "role": r, "public_key": self.keys[k].public_key} for n, r, k in entries]
        signers_path(self.spec).write_text(yaml.safe_dump({"signers": signers}, sort_keys=False), encoding="utf-8")

    def sign(
        self, who: str = "a", *, name: str = "Dr A", role: str = "chair", meaning: str = "approved", **kw: str
    ) -> None:
        spec = crs_model.load_spec(self.spec)
        sign_off(
            spec,
            key=self.keys[who],
            name=name,
            role=role,
            meaning=meaning,
            verification=verification(spec),
            toolkit=crs_model.__version__,
            **kw,
        )


def _keys(tmp_path: Path) -> dict[str, SigningKey]:
    (tmp_path / "keys").mkdir()
    return {k: generate_key_file(tmp_path / "keys" / f"{k}.pem") for k in ("a", "b", "c", "mallory")}


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    target = tmp_path / "spec" / "cytosorb_crs.yaml"
    target.parent.mkdir()
    shutil.copyfile(SPEC, target)
    return target


@pytest.fixture
def signers(spec_copy: Path, tmp_path: Path) -> Signers:
    s = Signers(spec_copy, _keys(tmp_path))
    s.register(("Dr A", "chair", "a"), ("Dr B", "pharmacist", "b"), ("Dr C", "chair", "c"))
    return s


# ---------------------------------------------------------------- keygen


def test_keygen_writes_a_0600_key_and_prints_its_public_key_last(tmp_path: Path) -> None:
    old = os.umask(0)  # the mode is set at creation, not left to the umask
    try:
        code, out, err = run("keygen", "--out", str(tmp_path / "me.pem"))
    finally:
        os.umask(old)
    assert code == 0, err
    path = tmp_path / "me.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    last = out.splitlines()[-1]
    assert last.startswith("ed25519:")
    assert len(parse_public_key(last)) == 32
    assert load_private_key(path).public_key == last
    before = path.read_bytes()
    code, _, err = run("keygen", "--out", str(path))
    assert code == 2
    assert "already exists; refusing to overwrite" in err
    assert path.read_bytes() == before
    link = tmp_path / "link.pem"
    link.symlink_to(tmp_path / "elsewhere.pem")
    assert run("keygen", "--out", str(link))[0] == 2
    assert not (tmp_path / "elsewhere.pem").exists()  # never created through a link


def test_a_key_readable_by_others_or_not_a_key_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    generate_key_file(key)
    key.chmod(0o644)
    with pytest.raises(SignoffError, match="mode 0644; a private key must be readable by its owner only"):
        load_private_key(key)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key\n", encoding="utf-8")
    junk.chmod(0o600)
    with pytest.raises(SignoffError, match="not an unencrypted PEM private key"):
        load_private_key(junk)


# ---------------------------------------------------------------- registry


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("signers:\n  - {name: A, role: r, public_key: 'ed25519:AAAA'}\n", (2, 36), "holds 3 bytes"),
        ("signers:\n  - {name: A, role: r, public_key: 'rsa:xyz'}\n", (2, 36), "does not start with 'ed25519:'"),
        ("signers:\n  - {name: A, role: r, key: x}\n", (2, 24), "unknown key 'key' in signer 1"),
        ("signers:\n  - {name: A, role: r}\n", (2, 5), "signer 1 is missing 'public_key'"),
        ("signers: {name: A}\n", (1, 10), "'signers' must be a list"),
        ("- {name: A}\n", (1, 1), "a mapping with one key, 'signers:'"),
        ("signers:\n  - {name: A, name: B}\n", (2, 15), "duplicate key 'name'"),
    ],
)
def test_bad_registry_entries_are_located(spec_copy: Path, text: str, where: tuple[int, int], message: str) -> None:
    signers_path(spec_copy).write_text(text, encoding="utf-8")
    reg = read_registry(spec_copy)
    assert reg.signers == ()
    (problem,) = reg.problems
    assert problem.location is not None
    assert (problem.location.line, problem.location.column) == where
    assert message in problem.message
    (finding,) = [f for f in signoff_findings(crs_model.load_spec(spec_copy)) if f.severity is Severity.ERROR]
    assert str(finding).startswith(f"{signers_path(spec_copy)}:{where[0]}:{where[1]}: error: [signoff]")


def test_a_name_or_key_registered_twice_is_refused_and_the_first_counts(signers: Signers) -> None:
    k = signers.keys
    signers.register(("Dr A", "chair", "a"), ("Dr A", "pharmacist", "mallory"), ("Dr M", "chair", "a"))
    reg = read_registry(signers.spec)
    assert [(s.name, s.role) for s in reg.signers] == [("Dr A", "chair")]
    assert [p.message.split(": ", 1)[1] for p in reg.problems] == [
        "name 'Dr A' is already registered at line 2; each signer and each key is listed once",
        f"public key '{k['a'].public_key}' is already registered at line 2; each signer and each key is listed once",
    ]
    assert [p.location.line for p in reg.problems if p.location] == [5, 10]


# ---------------------------------------------------------------- round trip


def test_round_trip_sign_load_tamper_refuse(signers: Signers) -> None:
    spec_copy = signers.spec
    crs_model.load_spec(spec_copy)
    with pytest.raises(SignoffError, match="is not signed off") as exc:
        crs_model.load_spec(spec_copy, require_signoff=True)
    assert "crs-model signoff" in str(exc.value)

    key = str(spec_copy.parent.parent / "keys" / "a.pem")
    argv = ["signoff", str(spec_copy), "--name", "Dr A", "--role", "chair", "--meaning", "approved", "--key", key]
    code, out, err = run(*argv, "--note", "v0.2 approved")
    assert code == 0, err
    sha = hashlib.sha256(spec_copy.read_bytes()).hexdigest()
    assert f"sha256 {sha} approved by Dr A (chair)" in out
    spec = crs_model.load_spec(spec_copy, require_signoff=True)
    assert signoff_findings(spec) == []

    (rec,) = yaml.safe_load(signoff_path(spec_copy).read_text(encoding="utf-8"))
    assert list(rec) == [*SIGNED_FIELDS, "signature"]
    assert rec["sha256"] == sha
    assert (rec["name"], rec["role"], rec["meaning"], rec["note"]) == ("Dr A", "chair", "approved", "v0.2 approved")
    assert rec["toolkit"] == crs_model.__version__
    assert rec["verification_sha256"] == verification(spec).digest
    assert rec["verification"] == "verified: no errors, nothing unknown"
    assert rec["signed_at"].endswith("Z")
    assert len(rec["signed_at"]) == 20

    raw = bytearray(spec_copy.read_bytes())
    raw[raw.index(b"decision model")] = ord("D")  # one byte, in a comment
    spec_copy.write_bytes(bytes(raw))
    with pytest.raises(SignoffError, match="signs other bytes only") as exc:
        crs_model.load_spec(spec_copy, require_signoff=True)
    assert "Dr A" in str(exc.value)
    assert [f.element for f in signoff_findings(crs_model.load_spec(spec_copy))] == ["spec:sha256"]


def test_the_payload_is_canonical_and_every_signed_field_matters(signers: Signers) -> None:
    signers.sign()
    state = signoff_state(crs_model.load_spec(signers.spec))
    (checked,) = state.checked
    record = checked.record
    assert checked.state is RecordState.VALID
    body = payload(record)
    assert body.startswith(DOMAIN)
    fields = json.loads(body[len(DOMAIN) :])
    assert list(fields) == sorted(SIGNED_FIELDS)  # sorted keys, every field but the signature
    assert body[len(DOMAIN) :] == json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    for name in SIGNED_FIELDS:
        if name in ("scheme", "public_key"):
            continue  # another scheme is not read; another key is checked against its own signature
        altered = dataclasses.replace(record, **{name: getattr(record, name) + "x"})
        assert check_record(altered, state.registry).state is RecordState.FORGED, name


def _record_line(spec: Path, n: int) -> int:
    """The line of the n-th (1-based) record of the sign-off file."""
    lines = signoff_path(spec).read_text(encoding="utf-8").splitlines()
    return [i for i, ln in enumerate(lines, 1) if ln.startswith("- ")][n - 1]


def _edit_record(spec: Path, old: str, new: str) -> None:
    path = signoff_path(spec)
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_altered_field_is_refused_with_the_records_place(signers: Signers) -> None:
    signers.sign(meaning="reviewed")
    _edit_record(signers.spec, "meaning: reviewed", "meaning: approved")
    line = _record_line(signers.spec, 1)
    with pytest.raises(SignoffError) as exc:
        crs_model.load_spec(signers.spec, require_signoff=True)
    assert f"refused {signoff_path(signers.spec)}:{line}: sign-off record 1 (Dr A, chair)" in str(exc.value)
    assert "signature does not verify" in str(exc.value)
    (finding,) = [f for f in signoff_findings(crs_model.load_spec(signers.spec)) if f.severity is Severity.ERROR]
    assert (finding.line, finding.element) == (line, "signoff:record")


def test_a_signature_copied_onto_other_bytes_is_refused(signers: Signers) -> None:
    signers.sign()
    old_sha = crs_model.load_spec(signers.spec).sha256
    signers.spec.write_bytes(signers.spec.read_bytes().replace(b"version: 0.2.0", b"version: 0.2.1", 1))
    new_sha = crs_model.load_spec(signers.spec).sha256
    _edit_record(signers.spec, f"sha256: {old_sha}", f"sha256: {new_sha}")
    with pytest.raises(SignoffError, match="signature does not verify: a field was altered, or the record was copied"):
        crs_model.load_spec(signers.spec, require_signoff=True)


def test_an_unregistered_key_is_refused(signers: Signers) -> None:
    # mallory registers herself as Dr A, signs, then puts the committee's registry back
    signers.register(("Dr A", "chair", "mallory"))
    signers.sign("mallory")
    signers.register(("Dr A", "chair", "a"), ("Dr B", "pharmacist", "b"))
    with pytest.raises(SignoffError, match="signed with a key that is not in the signers registry"):
        crs_model.load_spec(signers.spec, require_signoff=True)
    assert [c.state for c in signoff_state(crs_model.load_spec(signers.spec)).checked] == [RecordState.UNREGISTERED]


def test_a_registered_key_under_another_role_or_name_is_refused(signers: Signers) -> None:
    signers.register(("Dr A", "committee chair", "a"))  # the role a record claims
    signers.sign(role="committee chair")
    signers.register(("Dr A", "chair", "a"))  # ... is not the key's registered role
    with pytest.raises(SignoffError, match=r"its key is registered to Dr A \(chair\) at .*signers.yaml:2"):
        crs_model.load_spec(signers.spec, require_signoff=True)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"name": "Dr Z"}, "'Dr Z' is not registered in"),
        ({"role": "pharmacist"}, "'Dr A' is registered as 'chair' at"),
        ({"who": "b"}, "b.pem is not the registered key of 'Dr A'"),
        ({"name": "  "}, "--name must not be empty"),
        ({"override_reason": "because"}, "verification passed: there is nothing to override"),
    ],
)
def test_signing_needs_the_registered_key_name_and_role(signers: Signers, kw: dict[str, str], message: str) -> None:
    who = kw.pop("who", "a")
    with pytest.raises(SignoffError, match=message):
        signers.sign(who, **kw)
    assert not signoff_path(signers.spec).exists()


def test_a_reviewed_record_is_not_an_approval(signers: Signers) -> None:
    signers.sign(meaning="reviewed")
    with pytest.raises(SignoffError, match="is 'reviewed', not 'approved'"):
        crs_model.load_spec(signers.spec, require_signoff=True)
    signers.sign("b", name="Dr B", role="pharmacist")
    crs_model.load_spec(signers.spec, require_signoff=True)


# ---------------------------------------------------------------- faulty spec


def test_a_spec_failing_verification_is_refused_unless_overridden(tmp_path: Path) -> None:
    spec_path = tmp_path / "spec" / FAULTY_09.name
    spec_path.parent.mkdir()
    shutil.copyfile(FAULTY_09, spec_path)
    s = Signers(spec_path, _keys(tmp_path))
    s.register(("Dr A", "chair", "a"))
    key = str(tmp_path / "keys" / "a.pem")
    argv = ["signoff", str(spec_path), "--name", "Dr A", "--role", "chair", "--meaning", "approved", "--key", key]
    code, out, err = run(*argv)
    assert code == 1
    assert "refusing to sign off: verification failed: 2 error(s)" in err
    assert ": error: [invariant]" in out  # the findings are listed
    assert not signoff_path(spec_path).exists()
    with pytest.raises(SignoffError, match="is signed only with --override-reason"):
        s.sign()

    reason = "pilot on CAR-T patients only; sepsis branch disabled locally"
    code, out, err = run(*argv, "--override-reason", reason)
    assert code == 0, err
    assert f"override reason recorded: {reason}" in out
    spec = crs_model.load_spec(spec_path, require_signoff=True)  # a recorded, signed override counts
    (checked,) = signoff_state(spec).checked
    assert checked.valid
    assert checked.record.override_reason == reason
    assert checked.record.verification == "verification failed: 2 error(s), 0 unknown"
    (warning,) = signoff_findings(spec)
    assert (warning.severity, warning.element) == (Severity.WARNING, "signoff:override")
    assert reason in warning.message


def test_the_verification_digest_does_not_depend_on_the_folder(tmp_path: Path) -> None:
    digests = set()
    for folder in ("one", "two/deeper"):
        target = tmp_path / folder / FAULTY_09.name
        target.parent.mkdir(parents=True)
        shutil.copyfile(FAULTY_09, target)
        digests.add(verify_for_signoff(crs_model.load_spec(target)).digest)
    assert len(digests) == 1
    other = tmp_path / "one" / "other.yaml"
    other.write_bytes(FAULTY_09.read_bytes().replace(b"0.0.1", b"0.0.2", 1))
    assert verify_for_signoff(crs_model.load_spec(other)).digest not in digests


# ---------------------------------------------------------------- quorum


def _active_with_policy(spec: Path, roles: int) -> None:
    raw = spec.read_bytes().replace(b"status: draft", b"status: active", 1)
    raw = re.sub(rb"\n  signoff_policy: [^\n]*", b"", raw, count=1)  # the shipped spec's own policy, if any
    spec.write_bytes(
        raw.replace(
            b"  reviewers: []\n", f"  reviewers: []\n  signoff_policy: {{approved_by_roles: {roles}}}\n".encode(), 1
        )
    )


def test_an_active_spec_needs_the_quorum_of_its_policy(signers: Signers) -> None:
    _active_with_policy(signers.spec, 2)
    spec = crs_model.load_spec(signers.spec)
    assert spec.metadata.signoff_policy is not None
    assert spec.metadata.signoff_policy.approved_by_roles == 2
    signers.sign()
    with pytest.raises(SignoffError, match=r"approval by 2 distinct roles .*approved by 1: chair"):
        crs_model.load_spec(signers.spec, require_signoff=True)
    signers.sign("c", name="Dr C")  # a second chair is not a second role
    with pytest.raises(SignoffError, match="approved by 1: chair"):
        crs_model.load_spec(signers.spec, require_signoff=True)
    assert [f.element for f in signoff_findings(spec)] == ["metadata:status"]
    signers.sign("b", name="Dr B", role="pharmacist")
    crs_model.load_spec(signers.spec, require_signoff=True)
    assert signoff_findings(spec) == []


def test_the_policy_applies_to_active_specs_only(signers: Signers) -> None:
    _active_with_policy(signers.spec, 2)
    signers.spec.write_bytes(signers.spec.read_bytes().replace(b"status: active", b"status: draft", 1))
    signers.sign()
    crs_model.load_spec(signers.spec, require_signoff=True)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("{approved_by_roles: 0}", "approved_by_roles=0 is not a whole number of distinct approving roles in 1..20"),
        ("{approved_by_roles: two}", "approved_by_roles='two' is not a whole number"),
        ("{roles: 2}", "unknown key 'roles' in metadata.signoff_policy"),
        ("2", "metadata.signoff_policy must be a mapping"),
    ],
)
def test_a_bad_policy_is_a_located_spec_error(spec_copy: Path, policy: str, message: str) -> None:
    raw = re.sub(rb"\n  signoff_policy: [^\n]*", b"", spec_copy.read_bytes(), count=1)
    raw = raw.replace(b"  reviewers: []\n", f"  reviewers: []\n  signoff_policy: {policy}\n".encode())
    spec_copy.write_bytes(raw)
    line = raw.decode().splitlines().index(f"  signoff_policy: {policy}") + 1
    with pytest.raises(SpecError) as exc:
        crs_model.load_spec(spec_copy)
    assert any(message in p.message and p.location and p.location.line == line for p in exc.value.problems), exc.value


# ---------------------------------------------------------------- migration


def test_old_unsigned_records_are_reported_and_never_accepted(signers: Signers) -> None:
    spec = crs_model.load_spec(signers.spec)
    old = f"# header\n- sha256: {spec.sha256}\n  name: Dr A\n  role: chair\n  date: '2026-11-23'\n  note: ok\n"
    signoff_path(signers.spec).write_text(old, encoding="utf-8")
    (checked,) = signoff_state(spec).checked
    assert checked.state is RecordState.UNSIGNED
    with pytest.raises(SignoffError, match=r"signoff.yaml:2: sign-off record 1 \(Dr A, chair\): unsigned record"):
        crs_model.load_spec(signers.spec, require_signoff=True)
    unsigned, missing = signoff_findings(spec)
    assert (unsigned.severity, unsigned.element, unsigned.line) == (Severity.WARNING, "signoff:record", 2)
    assert missing.element == "spec:sha256"
    signers.sign()  # a signed record may follow the old ones; the old one still does not count
    crs_model.load_spec(signers.spec, require_signoff=True)
    assert [c.state for c in signoff_state(spec).checked] == [RecordState.UNSIGNED, RecordState.VALID]


# ---------------------------------------------------------------- the file


def test_concurrent_signoffs_lose_no_record(signers: Signers) -> None:
    spec = crs_model.load_spec(signers.spec)
    ver = verification(spec)
    notes = [f"note {i}" for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(len(notes)) as pool:
        list(
            pool.map(
                lambda n: sign_off(
                    spec,
                    key=signers.keys["a"],
                    name="Dr A",
                    role="chair",
                    meaning="approved",
                    verification=ver,
                    toolkit="0.1.0",
                    note=n,
                ),
                notes,
            )
        )
    checked = signoff_state(spec).checked
    assert sorted(c.record.note for c in checked) == notes
    assert all(c.valid for c in checked)
    assert not [p for p in signers.spec.parent.iterdir() if p.name.endswith(".tmp")]


def test_torn_trailing_record_is_an_error_and_the_valid_one_still_counts(signers: Signers) -> None:
    signers.sign()
    path = signoff_path(signers.spec)
    good = path.read_bytes()
    path.write_bytes(good + b"- scheme: ed25519-v1\n  sha256: 'abc\n  name: Dr")
    torn_line = good.count(b"\n") + 1
    file = read_signoffs(signers.spec)
    assert [r.name for r in file.records] == ["Dr A"]
    (problem,) = file.problems
    assert problem.location is not None
    assert problem.location.line == torn_line
    crs_model.load_spec(signers.spec, require_signoff=True)
    (finding,) = signoff_findings(crs_model.load_spec(signers.spec))
    assert str(finding).startswith(f"{path}:{torn_line}:")
    with pytest.raises(SignoffError, match="malformed record"):
        signers.sign()
    assert path.read_bytes() == good + b"- scheme: ed25519-v1\n  sha256: 'abc\n  name: Dr"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("meaning: approved", "meaning: maybe"), "meaning='maybe' is not one of reviewed, approved"),
        (("scheme: ed25519-v1", "scheme: rsa"), "scheme='rsa' is not 'ed25519-v1'"),
        (("  signed_at: '", "  signed_at: 'yesterday "), "is not a UTC time"),
        (("  note: ''\n", "  date: '2026-01-01'\n"), "unknown key 'date' in sign-off record 1"),
    ],
)
def test_a_malformed_signed_record_is_located(signers: Signers, edit: tuple[str, str], message: str) -> None:
    signers.sign()
    _edit_record(signers.spec, *edit)
    (problem,) = read_signoffs(signers.spec).problems
    assert message in problem.message
    assert read_signoffs(signers.spec).records == ()


def test_signoff_never_writes_through_a_symlink(signers: Signers, tmp_path: Path) -> None:
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("precious\n", encoding="utf-8")
    signoff_path(signers.spec).symlink_to(victim)
    with pytest.raises(SignoffError, match="symbolic link"):
        signers.sign()
    assert victim.read_text(encoding="utf-8") == "precious\n"


def test_a_fifo_is_not_read(spec_copy: Path) -> None:
    os.mkfifo(signoff_path(spec_copy))
    with pytest.raises(SignoffError, match="not a regular file"):
        read_signoffs(spec_copy)


def test_disk_full_leaves_the_file_as_it_was(signers: Signers, monkeypatch: pytest.MonkeyPatch) -> None:
    signers.sign()
    good = signoff_path(signers.spec).read_bytes()
    spec = crs_model.load_spec(signers.spec)
    ver = verification(spec)

    def full(*_: object) -> None:
        raise OSError(28, os.strerror(28))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(SignoffError, match="the disk is full; the file is unchanged"):
        sign_off(
            spec,
            key=signers.keys["b"],
            name="Dr B",
            role="pharmacist",
            meaning="approved",
            verification=ver,
            toolkit="0.1.0",
        )
    monkeypatch.undo()
    assert signoff_path(signers.spec).read_bytes() == good
    assert not [p for p in signers.spec.parent.iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------- verify hook


def test_verify_command_warns_until_signed(signers: Signers) -> None:
    code, out, err = run("verify", str(signers.spec), "--check", "gap")
    assert code == 0, out + err
    assert f"{signers.spec}:1:1: warning: [signoff] this spec's sha256" in out
    assert "0 error(s), 1 warning(s)" in out.splitlines()[-1]
    signers.sign()
    code, out, _ = run("verify", str(signers.spec), "--check", "gap", "--format", "json")
    assert code == 0
    assert json.loads(out)["summary"]["warning"] == 0
    _edit_record(signers.spec, "name: Dr A", "name: Dr B")  # a forged record fails the run
    code, out, _ = run("verify", str(signers.spec), "--check", "gap")
    assert code == 1
    assert "error: [signoff] sign-off record 1 (Dr B, chair): its Ed25519 signature does not verify" in out


def test_require_signoff_does_not_import_renderer_or_solver() -> None:
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
