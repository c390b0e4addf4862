"""Ed25519 keys of governance signers: generate, store, load, and the public key as text.

A private key is a PKCS#8 PEM file readable by its owner only: ``keygen`` creates it
with ``O_EXCL`` and mode 0600 in the same ``open`` call (never an existing file,
never a moment with wider permissions), and a key file others can read is refused
when signing. A public key is written ``ed25519:<base64 of its 32 raw bytes>``, the
form the signers registry (``SPEC.signers.yaml``) holds.

``cryptography`` is imported only here and only when a key is used, so evaluating
patients never loads it.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crs_model.errors import InputFileError, SignoffError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PREFIX = "ed25519:"
MAX_KEY_FILE = 16 * 1024  # a PEM Ed25519 key is 119 bytes
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def public_key_text(raw: bytes) -> str:
    """``ed25519:<base64>`` of a raw 32-byte public key."""
    return PREFIX + base64.b64encode(raw).decode("ascii")


def parse_public_key(text: str) -> bytes:
    """The 32 raw bytes of ``ed25519:<base64>``; :class:`ValueError` says what is wrong."""
    if not text.startswith(PREFIX):
        raise ValueError(f"public_key={text[:60]!r} does not start with {PREFIX!r} (paste the line keygen prints)")
    try:
        raw = base64.b64decode(text[len(PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError(f"public_key={text[:60]!r} is not valid base64") from None
    if len(raw) != 32:
        raise ValueError(f"public_key={text[:60]!r} holds {len(raw)} bytes; an Ed25519 public key has 32")
    return raw


def verify_signature(public_key: str, signature: str, data: bytes) -> bool:
    """Whether ``signature`` (base64) is a valid Ed25519 signature of ``data`` by ``public_key`` (text form).

    Malformed keys or signatures are simply not valid: a record carrying them vouches for nothing.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(parse_public_key(public_key))
        sig = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return False
    try:
        key.verify(sig, data)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A loaded private key and the file it came from."""

    path: str
    _key: Ed25519PrivateKey

    @property
    def public_key(self) -> str:
        """The public half in registry form, ``ed25519:<base64>``."""
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return public_key_text(self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, data: bytes) -> str:
        """The base64 Ed25519 signature of ``data``."""
        return base64.b64encode(self._key.sign(data)).decode("ascii")


def generate_key_file(path: str | Path) -> SigningKey:
    """Create a new Ed25519 private key at ``path`` (mode 0600; an existing path is refused)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    try:
        fd = os.open(path, _CREATE_FLAGS, 0o600)
    except FileExistsError:
        raise SignoffError(f"{path}: already exists; refusing to overwrite a key file (choose another --out)") from None
    except OSError as exc:
        raise SignoffError(f"{path}: cannot create key file: {exc.strerror or exc}") from None
    try:
        view = memoryview(pem)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        os.unlink(path)  # a half-written key is no key
        raise SignoffError(f"{path}: cannot write key file: {exc.strerror or exc}; nothing was kept") from None
    os.close(fd)
    return SigningKey(str(path), key)


def load_private_key(path: str | Path) -> SigningKey:
    """The Ed25519 private key in ``path``; refused when others may read the file or it is not such a key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from crs_model.fileio import read_regular

    try:
        raw = read_regular(path, MAX_KEY_FILE)
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except InputFileError as exc:
        raise SignoffError(f"cannot read key file: {exc}") from None
    if mode & 0o077:
        raise SignoffError(
            f"{path}: key file has mode {mode:04o}; a private key must be readable by its owner only (chmod 600)"
        )
    try:
        key = load_pem_private_key(raw, password=None)
    except (ValueError, TypeError) as exc:
        raise SignoffError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignoffError(f"{path}: holds a {type(key).__name__}; sign-off needs an Ed25519 key (crs-model keygen)")
    return SigningKey(str(path), key)


__all__ = [
    "PREFIX",
    "SigningKey",
    "generate_key_file",
    "load_private_key",
    "parse_public_key",
    "public_key_text",
    "verify_signature",
]
