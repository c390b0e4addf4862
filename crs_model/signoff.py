"""Governance sign-off bound to the exact bytes of a spec (its sha256).

A sign-off file sits beside the spec (``cytosorb_crs.yaml`` ->
``cytosorb_crs.signoff.yaml``) and is append-only: each record names who signed,
in which role, on which date, with an optional note, and the sha256 of the spec
bytes they reviewed. Changing one byte of the spec changes its hash, so the
version in use no longer matches any record until the committee signs again.

``require_signoff(spec)`` is what ``load_spec(..., require_signoff=True)`` and
``Engine(spec, require_signoff=True)`` call; ``signoff_findings(spec)`` is the
hook for ``crs-model verify`` (warnings for an unsigned hash or an ``active``
spec without a sign-off).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from pathlib import Path

from crs_model.errors import Location, SignoffError, SpecError
from crs_model.model import Severity, Spec, Status
from crs_model.verify.report import Finding  # z3-free: pure data

SUFFIX = ".signoff.yaml"
FIELDS = ("sha256", "spec_id", "version", "status", "name", "role", "date", "note")
_REQUIRED = ("sha256", "name", "role", "date")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_FIELD = 200
MAX_NOTE = 2000


@dataclass(frozen=True, slots=True)
class SignoffRecord:
    """One reviewer's approval of one exact version of a spec."""

    sha256: str
    spec_id: str
    version: str
    status: str
    name: str
    role: str
    date: str
    note: str
    loc: Location | None = None

    def to_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in FIELDS}


def spec_stem(spec_path: str | Path) -> str:
    """``specs/cytosorb_crs.yaml`` -> ``cytosorb_crs`` (names of files made from a spec)."""
    p = Path(spec_path)
    return p.name[: -len(p.suffix)] if p.suffix in (".yaml", ".yml") else p.name


def beside(spec_path: str | Path, suffix: str) -> Path:
    """A file next to the spec: ``beside("specs/a.yaml", ".trace.yaml")`` -> ``specs/a.trace.yaml``."""
    return Path(spec_path).with_name(spec_stem(spec_path) + suffix)


def signoff_path(spec_path: str | Path) -> Path:
    """``specs/cytosorb_crs.yaml`` -> ``specs/cytosorb_crs.signoff.yaml``."""
    return beside(spec_path, SUFFIX)


def read_records(spec_path: str | Path) -> tuple[SignoffRecord, ...]:
    """Every record of the sign-off file beside ``spec_path`` (none when it does not exist).

    Raises :class:`SignoffError` naming ``file:line:col`` when the file is malformed.
    """
    from crs_model.source import YMap, YScalar, YSeq, load_yaml

    path = signoff_path(spec_path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ()
    except OSError as exc:
        raise SignoffError(f"{path}: cannot read sign-off file: {exc.strerror}") from None
    if not raw.strip() or all(
        ln.lstrip().startswith("#") or not ln.strip() for ln in raw.decode("utf-8", "replace").splitlines()
    ):
        return ()
    try:
        root = load_yaml(raw, str(path)).root
    except SpecError as exc:
        raise SignoffError(f"malformed sign-off file: {exc}") from None
    if not isinstance(root, YSeq):
        raise SignoffError(f"{root.loc}: error: a sign-off file is a list of records")
    records: list[SignoffRecord] = []
    for n, item in enumerate(root.items, 1):
        if not isinstance(item, YMap):
            raise SignoffError(f"{item.loc}: error: sign-off record {n} must be a mapping")
        values: dict[str, str] = {}
        for key, (knode, vnode) in item.items.items():
            if key not in FIELDS:
                raise SignoffError(f"{knode.loc}: error: unknown key '{key}' in sign-off record {n}")
            if not isinstance(vnode, YScalar) or isinstance(vnode.value, bool) or vnode.value is None:
                raise SignoffError(f"{vnode.loc}: error: sign-off record {n}: '{key}' must be text")
            values[key] = str(vnode.value)
        for key in _REQUIRED:
            if not values.get(key, "").strip():
                raise SignoffError(f"{item.loc}: error: sign-off record {n} is missing '{key}'")
        if not _HEX64.match(values["sha256"]):
            raise SignoffError(f"{item.loc}: error: sign-off record {n}: sha256 is not 64 lowercase hex digits")
        records.append(SignoffRecord(**{k: values.get(k, "") for k in FIELDS}, loc=item.loc))
    return tuple(records)


def records_for(spec: Spec) -> tuple[SignoffRecord, ...]:
    """The records whose hash is this spec's exact bytes."""
    return tuple(r for r in read_records(spec.path) if r.sha256 == spec.sha256)


def _clean(value: str, what: str, limit: int, *, required: bool) -> str:
    text = " ".join(value.split())
    if required and not text:
        raise SignoffError(f"{what} must not be empty")
    if len(text) > limit:
        raise SignoffError(f"{what} is {len(text)} characters; the limit is {limit}")
    return text


def append_record(
    spec: Spec, *, name: str, role: str, note: str = "", date: str | None = None
) -> tuple[SignoffRecord, Path]:
    """Append a sign-off of ``spec``'s current bytes to the file beside it; returns the record and file."""
    when = date if date is not None else _dt.datetime.now(_dt.UTC).date().isoformat()
    if not _DATE.match(when):
        raise SignoffError(f"date={when!r} is not an ISO date like 2026-11-23")
    try:
        _dt.date.fromisoformat(when)
    except ValueError:
        raise SignoffError(f"date={when!r} is not a calendar date") from None
    md = spec.metadata
    record = SignoffRecord(
        sha256=spec.sha256,
        spec_id=md.id,
        version=md.version,
        status=md.status.value,
        name=_clean(name, "--name", MAX_FIELD, required=True),
        role=_clean(role, "--role", MAX_FIELD, required=True),
        date=when,
        note=_clean(note, "--note", MAX_NOTE, required=False),
    )
    path = signoff_path(spec.path)
    read_records(spec.path)  # refuse to append to a malformed file
    import yaml

    chunk = yaml.safe_dump([record.to_dict()], sort_keys=False, allow_unicode=True, width=100)
    existing = path.read_bytes() if path.exists() else b""
    with open(path, "ab") as fh:
        if not existing:
            fh.write(
                f"# Governance sign-off records for {Path(spec.path).name} (append-only; written by\n"
                f"# `crs-model signoff`). Each record binds a reviewer to the exact bytes of the spec\n"
                f"# through its sha256: any change to the spec needs a new sign-off.\n".encode()
            )
        elif not existing.endswith(b"\n"):
            fh.write(b"\n")
        fh.write(chunk.encode("utf-8"))
    return record, path


def _short(sha: str) -> str:
    return sha[:12]


def require_signoff(spec: Spec) -> None:
    """Raise :class:`SignoffError` unless the spec's exact bytes have been signed off."""
    records = read_records(spec.path)
    if any(r.sha256 == spec.sha256 for r in records):
        return
    where = signoff_path(spec.path)
    if records:
        known = "; ".join(f"{r.version} sha256 {_short(r.sha256)} by {r.name} ({r.date})" for r in records[-3:])
        detail = f"{where} signs other bytes only ({known})"
    else:
        detail = f"no sign-off file {where}" if not where.exists() else f"{where} holds no records"
    raise SignoffError(
        f"{spec.path}: sha256 {spec.sha256} matches no governance sign-off: {detail}. The spec is unreviewed "
        f"or was changed after review; have the committee review this version and run "
        f"`crs-model signoff {spec.path} --name NAME --role ROLE`"
    )


def _status_location(spec: Spec) -> Location:
    from crs_model.source import YMap

    root = spec.source.root
    if isinstance(root, YMap) and "metadata" in root.items:
        md = root.items["metadata"][1]
        if isinstance(md, YMap) and "status" in md.items:
            return md.items["status"][1].loc
        return md.loc
    return Location(spec.path, 1, 1)


def signoff_findings(spec: Spec) -> list[Finding]:
    """Warnings for ``crs-model verify``: the current hash is unsigned; an ``active`` spec is unsigned.

    A malformed sign-off file is an error finding (it cannot vouch for anything).
    """
    loc = _status_location(spec)
    try:
        records = read_records(spec.path)
    except SignoffError as exc:
        return [
            Finding(
                "signoff", Severity.ERROR, Location(str(signoff_path(spec.path)), 1, 1), str(exc), None, "signoff:file"
            )
        ]
    if any(r.sha256 == spec.sha256 for r in records):
        return []
    md = spec.metadata
    where = signoff_path(spec.path)
    others = f" ({len(records)} record{'s' if len(records) != 1 else ''} for other bytes)" if records else ""
    out = [
        Finding(
            "signoff",
            Severity.WARNING,
            Location(spec.path, 1, 1),
            f"this spec's sha256 {_short(spec.sha256)}… ({md.id} {md.version}) has no governance sign-off in "
            f"{where}{others}; run `crs-model signoff {spec.path} --name NAME --role ROLE` after review",
            None,
            "spec:sha256",
        )
    ]
    if md.status is Status.ACTIVE:
        out.append(
            Finding(
                "signoff",
                Severity.WARNING,
                loc,
                f"metadata.status is 'active' but this exact version ({md.version}, sha256 "
                f"{_short(spec.sha256)}…) has no sign-off: an active spec must be signed off before use",
                None,
                "metadata:status",
            )
        )
    return out


__all__ = [
    "SignoffRecord",
    "append_record",
    "beside",
    "read_records",
    "records_for",
    "require_signoff",
    "signoff_findings",
    "signoff_path",
    "spec_stem",
]
