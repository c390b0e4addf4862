"""The pack's sign-off section: whether these bytes are signed off, and each record as checked.

Each record shows its signer, role, meaning, UTC time, the verification it was
signed against (verdict and report digest) and whether its signature checks out;
an override of a failed verification is shown in red with its reason.
"""

from __future__ import annotations

from crs_model.model import Spec
from crs_model.report.document import Badge, Block, Callout, Cell, Code, H, P, T, Table
from crs_model.report.inputs import PackInputs
from crs_model.signers import signers_path
from crs_model.signoff import CheckedRecord, RecordState
from crs_model.signoff_store import signoff_path
from crs_model.vocabulary import Tone

_STATE_BADGE = {
    RecordState.VALID: ("signature valid", Tone.OK),
    RecordState.UNSIGNED: ("UNSIGNED (old format)", Tone.WARN),
    RecordState.FORGED: ("FORGED OR ALTERED", Tone.BAD),
    RecordState.UNREGISTERED: ("UNREGISTERED KEY", Tone.BAD),
    RecordState.MISMATCH: ("NAME/ROLE NOT THE KEY'S", Tone.BAD),
}


def _row(c: CheckedRecord, sha256: str) -> list[Cell]:
    r = c.record
    text, tone = _STATE_BADGE[c.state]
    verification: Cell = [T(r.verification or "not recorded")]
    if r.verification_sha256:
        verification += [T(" · report sha256 "), Code(r.verification_sha256[:12] + "…")]
    if r.override_reason:
        verification += [T(" "), Badge(f"OVERRIDE: {r.override_reason}", Tone.BAD)]
    return [
        [T(r.name)],
        [T(r.role)],
        [T(r.meaning or "—")],
        [T(r.when)],
        [Code(r.version or "?"), T(" "), Code(r.sha256[:12] + "…")],
        verification,
        [
            Badge(text, tone),
            T(" "),
            Badge("this version", Tone.OK) if r.sha256 == sha256 else Badge("other", Tone.INFO),
        ],
        [T(r.note)],
    ]


def signoff_blocks(spec: Spec, inp: PackInputs) -> list[Block]:
    """The sign-off section's blocks."""
    out: list[Block] = [H(2, "Sign-off record", "signoff")]
    path = signoff_path(spec.path)
    if inp.signoff_problem:
        out.append(Callout(Tone.BAD, [T(inp.signoff_problem)]))
    here = [c for c in inp.signoffs if c.record.sha256 == spec.sha256]
    valid = [c for c in here if c.valid]
    if inp.signed_off:
        who = "; ".join(f"{c.record.name} ({c.record.role}, {c.record.meaning}, {c.record.when})" for c in valid)
        out.append(Callout(Tone.OK, [T(f"This exact version (sha256 {spec.sha256[:12]}…) is signed off: {who}.")]))
    else:
        out.append(
            Callout(
                Tone.BAD,
                [
                    T(
                        f"This exact version (sha256 {spec.sha256[:12]}…) is not signed off ({len(valid)} valid "
                        f"record(s) of these bytes). After review run "
                    ),
                    Code(f"crs-model signoff {spec.path} --name NAME --role ROLE --meaning approved --key KEYFILE"),
                    T("."),
                ],
            )
        )
    for c in here:
        if c.valid and c.record.override_reason:
            out.append(
                Callout(
                    Tone.BAD,
                    [
                        T(
                            f"{c.record.name} ({c.record.role}) signed '{c.record.meaning}' although "
                            f"{c.record.verification}. Override reason: {c.record.override_reason}"
                        )
                    ],
                )
            )
    for n, c in enumerate(inp.signoffs, 1):
        if not c.valid:
            out.append(
                Callout(
                    Tone.BAD if c.state is not RecordState.UNSIGNED else Tone.WARN, [T(f"{c.where(n)}: {c.reason}")]
                )
            )
    if inp.signoffs:
        rows = [_row(c, spec.sha256) for c in inp.signoffs]
        out.append(
            P(
                [
                    T("Records in "),
                    Code(str(path)),
                    T(" (signed with Ed25519, checked against "),
                    Code(str(signers_path(spec.path))),
                    T("):"),
                ]
            )
        )
        out.append(
            Table(["Name", "Role", "Meaning", "Signed at (UTC)", "Version", "Verification", "Signature", "Note"], rows)
        )
    else:
        out.append(P([T("No records in "), Code(str(path)), T(".")]))
    return out
