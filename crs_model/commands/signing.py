"""``keygen`` (a signer's Ed25519 key) and ``signoff`` (a signed governance sign-off of a spec's exact bytes)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from crs_model.commands.common import load_or_report


def register(sub: Any) -> None:
    """Add the ``keygen`` and ``signoff`` subcommands to ``sub``."""
    p = sub.add_parser(
        "keygen",
        help="create a signer's Ed25519 private key (mode 0600) and print its public key",
        description="Write a new Ed25519 private key to KEYFILE (PEM, readable by you only; an existing file is "
        "never overwritten) and print the public key. The last line printed is the public_key value to add, with "
        "your name and role, to the signers registry beside the spec (SPEC.signers.yaml).",
    )
    p.add_argument("--out", required=True, metavar="KEYFILE", help="where to write the private key (must not exist)")
    p.set_defaults(handler=cmd_keygen)

    p = sub.add_parser(
        "signoff",
        help="sign off the spec's exact bytes with your Ed25519 key (after verification)",
        description="Run the verifier, then append an Ed25519-signed record (spec sha256, meaning, UTC time, name, "
        "role, toolkit version, digest of the verification report, note, override reason) to the sign-off file "
        "beside the spec (SPEC.signoff.yaml). The key must be the one registered for NAME in ROLE in "
        "SPEC.signers.yaml. A spec whose verification has an error or an unknown is refused (exit 1, findings "
        "listed) unless --override-reason is given. load_spec(..., require_signoff=True) accepts only valid "
        "approved records of the exact bytes.",
    )
    p.add_argument("spec", nargs="?", default=None, metavar="SPEC", help="spec file to sign off")
    p.add_argument("--spec", dest="spec_option", default=None, metavar="SPEC", help="the same, as an option")
    p.add_argument("--name", required=True, help="your printed name, as registered in SPEC.signers.yaml")
    p.add_argument("--role", required=True, help="your role, as registered (e.g. 'committee chair')")
    p.add_argument(
        "--meaning", required=True, choices=("reviewed", "approved"), help="what the signature means (21 CFR 11.50)"
    )
    p.add_argument("--key", required=True, metavar="KEYFILE", help="your private key (crs-model keygen)")
    p.add_argument("--note", default="", help="free-text note (conditions, scope)")
    p.add_argument(
        "--override-reason",
        default="",
        metavar="TEXT",
        help="sign although verification reports errors or unknowns; the reason is recorded, signed and shown in red",
    )
    p.set_defaults(handler=cmd_signoff, spec_required=True)


def cmd_keygen(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``crs-model keygen``: a new private key file; the public key is the last line printed."""
    from crs_model.keys import generate_key_file

    key = generate_key_file(args.out)
    out.write(
        f"wrote Ed25519 private key {args.out} (mode 0600): keep it secret, never commit it\n"
        f"add this public key, with your name and role, to SPEC.signers.yaml (signers: - {{name, role, public_key}}):\n"
        f"{key.public_key}\n"
    )
    return 0


def cmd_signoff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``crs-model signoff``: verify the spec, then append a signed record; exit 1 when verification fails."""
    from crs_model import __version__
    from crs_model.keys import load_private_key
    from crs_model.signoff import sign_off, signoff_state
    from crs_model.verification_digest import verify_for_signoff

    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    key = load_private_key(args.key)  # a bad key fails before the slow verification
    verification = verify_for_signoff(spec)
    if not verification.ok and not " ".join(args.override_reason.split()):
        for line in verification.problems:
            out.write(f"{line}\n")
        err.write(
            f"crs-model: error: {spec.path}: refusing to sign off: {verification.summary}; fix the spec, or sign "
            f"with --override-reason TEXT (recorded, signed and shown in the pack)\n"
        )
        return 1
    record, path = sign_off(
        spec,
        key=key,
        name=args.name,
        role=args.role,
        meaning=args.meaning,
        verification=verification,
        toolkit=__version__,
        note=args.note,
        override_reason=args.override_reason,
    )
    state = signoff_state(spec)
    md = spec.metadata
    roles = state.approving_roles
    out.write(
        f"signed off: {md.id} {md.version} ({md.status.value}) sha256 {record.sha256} {record.meaning} by "
        f"{record.name} ({record.role}) at {record.signed_at}; {record.verification} (report sha256 "
        f"{record.verification_sha256})\n"
    )
    if record.override_reason:
        out.write(f"override reason recorded: {record.override_reason}\n")
    out.write(
        f"{path}: these bytes are approved by {len(roles)} role{'s' if len(roles) != 1 else ''}"
        f"{': ' + ', '.join(roles) if roles else ''}; {'signed off' if state.signed_off else 'not yet signed off'} "
        f"(needs {state.needed_roles})\n"
    )
    return 0
