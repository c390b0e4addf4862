"""Governance sign-off: Ed25519-signed records bound to the exact bytes of a spec and to its verification.

A record (in ``SPEC.signoff.yaml``, :mod:`crs_model.signoff_store`) carries the
spec's sha256, the meaning (``reviewed`` or ``approved``), the UTC time set by the
tool, the signer's printed name and role, the toolkit version, the digest and
verdict of the verifier's report it was signed against, an override reason when
verification failed, a note, the signer's public key and an Ed25519 signature over
the canonical bytes of all of those (:func:`payload`). A record counts only when
its signature verifies, its key is in the signers registry beside the spec
(:mod:`crs_model.signers`) under the record's name and role, and its sha256 is
the spec's: an altered field, a record copied onto other bytes, an unregistered
key or a borrowed name is refused. Records in the previous, unsigned format are
read and reported as unsigned; they never count.

``require_signoff(spec)`` is what ``load_spec(..., require_signoff=True)`` calls: it
needs one valid ``approved`` record of these bytes, and for an ``active`` spec with
``metadata.signoff_policy.approved_by_roles: N`` approvals by N distinct roles.
``signoff_findings(spec)`` is the hook for ``crs-model verify``.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
from dataclasses import dataclass, replace
from pathlib import Path

from crs_model.diagnostics import Diagnostic, Location, Severity
from crs_model.errors import SignoffError
from crs_model.keys import SigningKey, verify_signature
from crs_model.model import Spec, Status
from crs_model.signers import Registry, read_registry, signers_path
from crs_model.signoff_store import (
    FIELDS,
    MEANINGS,
    SCHEME,
    SignoffFile,
    SignoffRecord,
    append,
    read_signoffs,
    signoff_path,
)
from crs_model.verification_digest import Verification

DOMAIN = b"crs-model sign-off record ed25519-v1\n"  # separates these signatures from any other use of the key
SIGNED_FIELDS = tuple(f for f in FIELDS if f != "signature")
MAX_FIELD = 200
MAX_NOTE = 2000


def payload(record: SignoffRecord) -> bytes:
    """The bytes a record's signature covers: a domain prefix, then sorted-key compact JSON of every other field."""
    fields = {k: getattr(record, k) for k in SIGNED_FIELDS}
    return DOMAIN + json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class RecordState(enum.Enum):
    """What checking one record established; only ``valid`` vouches for anything."""

    VALID = "valid"
    UNSIGNED = "unsigned"
    FORGED = "forged"
    UNREGISTERED = "unregistered"
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class CheckedRecord:
    """A record and what checking its signature against the registry established (``reason`` in words)."""

    record: SignoffRecord
    state: RecordState
    reason: str

    @property
    def valid(self) -> bool:
        """True when the signature verifies against the registered key of the record's name and role."""
        return self.state is RecordState.VALID

    def where(self, n: int) -> str:
        """``file:line: record n (name, role)`` for messages."""
        loc = self.record.loc
        at = f"{loc.file}:{loc.line}: " if loc else ""
        return f"{at}sign-off record {n} ({self.record.name}, {self.record.role})"


def check_record(record: SignoffRecord, registry: Registry) -> CheckedRecord:
    """Check ``record``'s signature and signer against ``registry`` (whatever bytes it claims)."""
    if not record.signed:
        return CheckedRecord(
            record,
            RecordState.UNSIGNED,
            "unsigned record in the previous format (no Ed25519 signature): it vouches for nothing; "
            "the signer must sign again with `crs-model signoff ... --key KEYFILE`",
        )
    if not verify_signature(record.public_key, record.signature, payload(record)):
        return CheckedRecord(
            record,
            RecordState.FORGED,
            "its Ed25519 signature does not verify: a field was altered, or the record was copied onto other "
            "bytes, after signing; it vouches for nothing",
        )
    entry = registry.by_key(record.public_key)
    if entry is None:
        return CheckedRecord(
            record, RecordState.UNREGISTERED, f"signed with a key that is not in the signers registry {registry.path}"
        )
    if (entry.name, entry.role) != (record.name, record.role):
        return CheckedRecord(
            record,
            RecordState.MISMATCH,
            f"its key is registered to {entry.name} ({entry.role}) at {registry.path}:{entry.loc.line}, "
            f"not to {record.name} ({record.role})",
        )
    return CheckedRecord(record, RecordState.VALID, "")


@dataclass(frozen=True, slots=True)
class SignoffState:
    """The sign-off state of one spec: every record checked, and what its status needs."""

    sha256: str
    file: SignoffFile
    registry: Registry
    checked: tuple[CheckedRecord, ...]
    needed_roles: int  # distinct approving roles the spec's status needs
    policy: bool  # whether ``needed_roles`` comes from ``metadata.signoff_policy``

    @property
    def here(self) -> tuple[CheckedRecord, ...]:
        """The records that claim this spec's bytes (valid or not)."""
        return tuple(c for c in self.checked if c.record.sha256 == self.sha256)

    @property
    def approving_roles(self) -> tuple[str, ...]:
        """The distinct roles of valid ``approved`` records of these bytes, sorted."""
        return tuple(sorted({c.record.role for c in self.here if c.valid and c.record.meaning == "approved"}))

    @property
    def signed_off(self) -> bool:
        """True when valid approvals of these bytes come from at least ``needed_roles`` distinct roles."""
        return len(self.approving_roles) >= self.needed_roles


def signoff_state(spec: Spec) -> SignoffState:
    """Read and check the sign-off file and signers registry beside ``spec``.

    Raises :class:`SignoffError` only when one of the files exists but cannot be read.
    """
    file = read_signoffs(spec.path)
    registry = read_registry(spec.path)
    policy = spec.metadata.signoff_policy
    applies = policy is not None and spec.metadata.status is Status.ACTIVE
    return SignoffState(
        sha256=spec.sha256,
        file=file,
        registry=registry,
        checked=tuple(check_record(r, registry) for r in file.records),
        needed_roles=policy.approved_by_roles if applies and policy is not None else 1,
        policy=applies,
    )


def _short(sha: str) -> str:
    return sha[:12]


def _needs(state: SignoffState) -> str:
    if state.policy:
        roles = state.approving_roles
        return (
            f"approval by {state.needed_roles} distinct roles (metadata.signoff_policy, status active); "
            f"approved by {len(roles)}{': ' + ', '.join(roles) if roles else ''}"
        )
    return "a valid approved sign-off"


def require_signoff(spec: Spec) -> None:
    """Raise :class:`SignoffError` unless the spec's exact bytes carry the valid approvals its status needs.

    The message names every refused record that claims these bytes (``file:line`` and why).
    """
    state = signoff_state(spec)
    if state.signed_off:
        return
    where = state.file.path
    details: list[str] = []
    for n, c in enumerate(state.checked, 1):
        if c.record.sha256 == spec.sha256 and not c.valid:
            details.append(f"refused {c.where(n)}: {c.reason}")
        elif c.record.sha256 == spec.sha256 and c.record.meaning != "approved":
            details.append(f"{c.where(n)} is '{c.record.meaning}', not 'approved'")
    others = [c.record for c in state.checked if c.valid and c.record.sha256 != spec.sha256]
    if others:
        known = "; ".join(f"{r.version} sha256 {_short(r.sha256)} by {r.name} ({r.when})" for r in others[-3:])
        details.append(f"{where} signs other bytes only ({known})")
    if not state.file.records:
        details.append(f"no sign-off file {where}" if not where.exists() else f"{where} holds no records")
    elif not state.registry.exists:
        details.append(f"no signers registry {state.registry.path}")
    raise SignoffError(
        f"{spec.path}: sha256 {spec.sha256} is not signed off (needs {_needs(state)}): {'; '.join(details)}. "
        f"The spec is unreviewed or was changed after review; have the committee review this version and run "
        f"`crs-model signoff {spec.path} --name NAME --role ROLE --meaning approved --key KEYFILE`"
    )


def _clean(value: str, what: str, limit: int, *, required: bool) -> str:
    text = " ".join(value.split())
    if required and not text:
        raise SignoffError(f"{what} must not be empty")
    if len(text) > limit:
        raise SignoffError(f"{what} is {len(text)} characters; the limit is {limit}")
    return text


def _utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_off(
    spec: Spec,
    *,
    key: SigningKey,
    name: str,
    role: str,
    meaning: str,
    verification: Verification,
    toolkit: str,
    note: str = "",
    override_reason: str = "",
) -> tuple[SignoffRecord, Path]:
    """Sign ``spec``'s current bytes with ``key`` and append the record beside it; returns the record and file.

    Refused (:class:`SignoffError`, nothing written) when verification failed and no
    override reason is given, when ``key`` is not the registered key of ``name`` in
    ``role``, or when the sign-off file or registry is malformed. ``toolkit`` is the
    version of crs_model that verified and signs (``crs_model.__version__``; passed in,
    because this layer does not import the package facade).
    """
    name = _clean(name, "--name", MAX_FIELD, required=True)
    role = _clean(role, "--role", MAX_FIELD, required=True)
    note = _clean(note, "--note", MAX_NOTE, required=False)
    reason = _clean(override_reason, "--override-reason", MAX_NOTE, required=False)
    if meaning not in MEANINGS:
        raise SignoffError(f"--meaning={meaning!r} is not one of {', '.join(MEANINGS)}")
    if verification.spec_sha256 != spec.sha256:
        raise SignoffError(f"the verification given is of sha256 {_short(verification.spec_sha256)}…, not these bytes")
    if not verification.ok and not reason:
        raise SignoffError(
            f"{spec.path}: {verification.summary}; a spec that fails verification is signed only with "
            f"--override-reason TEXT (recorded, signed and shown in the pack)"
        )
    if verification.ok and reason:
        raise SignoffError("--override-reason given, but verification passed: there is nothing to override")
    registry = read_registry(spec.path)
    if registry.problems:
        raise SignoffError(f"{registry.problems[0]}; repair the signers registry before signing")
    entry = registry.by_name(name)
    if entry is None:
        raise SignoffError(
            f"{name!r} is not registered in {registry.path}; add {{name, role, public_key}} there "
            f"(public key: {key.public_key}) and have the change reviewed"
        )
    if entry.role != role:
        raise SignoffError(
            f"{name!r} is registered as {entry.role!r} at {registry.path}:{entry.loc.line}, not {role!r}"
        )
    if entry.public_key != key.public_key:
        raise SignoffError(
            f"{key.path} is not the registered key of {name!r} ({registry.path}:{entry.loc.line}); "
            f"its public key is {key.public_key}"
        )
    md = spec.metadata
    unsigned = SignoffRecord(
        scheme=SCHEME,
        sha256=spec.sha256,
        spec_id=md.id,
        version=md.version,
        status=md.status.value,
        name=name,
        role=role,
        meaning=meaning,
        signed_at=_utc_now(),
        toolkit=_clean(toolkit, "toolkit version", MAX_FIELD, required=True),
        verification=verification.summary,
        verification_sha256=verification.digest,
        override_reason=reason,
        note=note,
        public_key=key.public_key,
    )
    record = replace(unsigned, signature=key.sign(payload(unsigned)))
    path = signoff_path(spec.path)
    header = (
        f"# Governance sign-off records for {Path(spec.path).name} (append-only; written by\n"
        f"# `crs-model signoff`). Each record is Ed25519-signed over the sha256 of the spec's bytes,\n"
        f"# the meaning, the UTC time, the signer and the verification report: any change to the\n"
        f"# spec, or to a record, needs a new sign-off. Signers: {signers_path(spec.path).name}.\n"
    )
    append(path, record, header)
    return record, path


def _status_location(spec: Spec) -> Location:
    from crs_model.source import YMap

    root = spec.source.root
    if isinstance(root, YMap) and "metadata" in root.items:
        md = root.items["metadata"][1]
        if isinstance(md, YMap) and "status" in md.items:
            return md.items["status"][1].loc
        return md.loc
    return Location(spec.path, 1, 1)


def _finding(loc: Location | None, message: str, severity: Severity, element: str) -> Diagnostic:
    return Diagnostic(location=loc, message=message, severity=severity, code="signoff", element=element)


def signoff_findings(spec: Spec) -> list[Diagnostic]:
    """Findings for ``crs-model verify`` about the sign-off state.

    Errors: each malformed record or registry entry, and each record whose signature
    or signer does not check out (forged, altered, copied, unregistered key, wrong
    name or role), at its ``file:line:col``. Warnings: each unsigned record of the
    previous format; each valid approval of these bytes given over a failed
    verification; these bytes without a valid approval; an ``active`` spec short of
    the approvals its policy needs.
    """
    try:
        state = signoff_state(spec)
    except SignoffError as exc:
        return [_finding(Location(str(signoff_path(spec.path)), 1, 1), str(exc), Severity.ERROR, "signoff:file")]
    fallback = Location(str(state.file.path), 1, 1)
    out = [_finding(p.location or fallback, p.message, Severity.ERROR, "signoff:file") for p in state.file.problems]
    out += [_finding(p.location, p.message, Severity.ERROR, "signoff:registry") for p in state.registry.problems]
    for n, c in enumerate(state.checked, 1):
        r = c.record
        if c.state is RecordState.UNSIGNED:
            out.append(
                _finding(
                    r.loc, f"sign-off record {n} ({r.name}, {r.when}): {c.reason}", Severity.WARNING, "signoff:record"
                )
            )
        elif not c.valid:
            out.append(
                _finding(
                    r.loc, f"sign-off record {n} ({r.name}, {r.role}): {c.reason}", Severity.ERROR, "signoff:record"
                )
            )
        elif r.override_reason and r.sha256 == spec.sha256:
            out.append(
                _finding(
                    r.loc,
                    f"sign-off record {n}: {r.name} ({r.role}) {r.meaning} these bytes although {r.verification}; "
                    f"override reason: {r.override_reason}",
                    Severity.WARNING,
                    "signoff:override",
                )
            )
    md = spec.metadata
    roles = state.approving_roles
    if not roles:
        others = sum(1 for c in state.checked if c.valid and c.record.sha256 != spec.sha256)
        extra = f" ({others} valid record{'s' if others != 1 else ''} for other bytes)" if others else ""
        out.append(
            _finding(
                Location(spec.path, 1, 1),
                f"this spec's sha256 {_short(spec.sha256)}… ({md.id} {md.version}) has no valid approved sign-off in "
                f"{state.file.path}{extra}; run `crs-model signoff {spec.path} --name NAME --role ROLE "
                f"--meaning approved --key KEYFILE` after review",
                Severity.WARNING,
                "spec:sha256",
            )
        )
    if md.status is Status.ACTIVE and not state.signed_off:
        out.append(
            _finding(
                _status_location(spec),
                f"metadata.status is 'active' but this exact version ({md.version}, sha256 {_short(spec.sha256)}…) "
                f"lacks {_needs(state)}: an active spec must be signed off before use",
                Severity.WARNING,
                "metadata:status",
            )
        )
    return out


__all__ = [
    "DOMAIN",
    "CheckedRecord",
    "RecordState",
    "SignoffFile",
    "SignoffRecord",
    "SignoffState",
    "check_record",
    "payload",
    "read_signoffs",
    "require_signoff",
    "sign_off",
    "signoff_findings",
    "signoff_path",
    "signoff_state",
]
