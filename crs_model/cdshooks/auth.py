"""CDS Hooks 2.0 client authentication: the JWT in ``Authorization: Bearer`` on every call.

Checked with PyJWT against a configured JWKS: ``alg`` ES384 or RS384 only (``none`` and
HMAC are refused before any key is looked up), ``kid`` required and known, ``iss``
allow-listed, ``aud`` = the service endpoint, ``exp``/``iat``/``jti`` required, a lifetime of
at most an hour, and each ``jti`` accepted once while its token lives. A failure says why to
the log only; the client gets a bare 401.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jwt

from crs_model.errors import CrsModelError

ALGORITHMS = ("ES384", "RS384")
LEEWAY_S = 30  # clock skew allowed on exp and iat
MAX_LIFETIME_S = 3600  # CDS Hooks best practice: jti values are kept no longer than an hour


class AuthError(Exception):
    """A token was refused; the reason is for the log, never for the client."""


class JwksError(CrsModelError):
    """The JWKS file is unreadable or holds no usable ES384/RS384 key with a ``kid``: fix the file."""


def load_jwks(path: str | Path) -> dict[str, jwt.PyJWK]:
    """The signing keys of a JWKS file, by ``kid``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        keys = data["keys"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JwksError(f"{path}: not a readable JWKS (a JSON object with 'keys'): {exc}") from None
    out: dict[str, jwt.PyJWK] = {}
    for i, jwk in enumerate(keys if isinstance(keys, list) else []):
        kid = jwk.get("kid") if isinstance(jwk, dict) else None
        if not isinstance(kid, str) or not kid:
            raise JwksError(f"{path}: keys[{i}]: kid is required")
        # an RSA JWK without ``alg`` would default to RS256: pin the algorithm we allow
        alg = jwk.get("alg") or {"EC": "ES384", "RSA": "RS384"}.get(jwk.get("kty", ""))
        if alg not in ALGORITHMS:
            raise JwksError(f"{path}: keys[{i}] (kid {kid!r}): alg {alg!r} is not one of {', '.join(ALGORITHMS)}")
        try:
            out[kid] = jwt.PyJWK(jwk, algorithm=alg)
        except jwt.PyJWTError as exc:
            raise JwksError(f"{path}: keys[{i}] (kid {kid!r}): {exc}") from None
    if not out:
        raise JwksError(f"{path}: no keys")
    return out


class ReplayCache:
    """Each (iss, jti) once while its token is valid; entries expire with their tokens."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def first_use(self, iss: str, jti: str, exp: float, now: float) -> bool:
        """Record the token; False when it was seen before."""
        with self._lock:
            if now >= self._next_purge:  # amortised: one sweep a second at most
                self._seen = {k: e for k, e in self._seen.items() if e + LEEWAY_S > now}
                self._next_purge = now + 1.0
            key = (iss, jti)
            if key in self._seen:
                return False
            self._seen[key] = exp
            return True


class Verifier:
    """Checks a bearer token for one audience family (the service endpoint and its feedback)."""

    def __init__(self, keys: Mapping[str, jwt.PyJWK], issuers: Iterable[str]) -> None:
        self.keys = dict(keys)
        self.issuers = tuple(issuers)
        self.replay = ReplayCache()

    def verify(self, authorization: str | None, audience: str) -> Mapping[str, Any]:
        """The token's claims, or :class:`AuthError`."""
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthError("no bearer token")
        token = authorization[len("Bearer ") :].strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError(f"malformed token: {exc}") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise AuthError(f"alg {alg!r} not allowed")
        if not isinstance(kid, str) or kid not in self.keys:
            raise AuthError(f"unknown kid {kid!r}")
        key = self.keys[kid]
        if key.algorithm_name != alg:
            raise AuthError(f"kid {kid!r} is a {key.algorithm_name} key, token says {alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audience,
                issuer=list(self.issuers),
                leeway=LEEWAY_S,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        exp, iat, jti = claims["exp"], claims["iat"], claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise AuthError("jti is not a string")
        if exp - iat > MAX_LIFETIME_S:
            raise AuthError("token lifetime over an hour")
        if not self.replay.first_use(claims["iss"], jti, float(exp), time.time()):
            raise AuthError("jti replayed")
        return claims
