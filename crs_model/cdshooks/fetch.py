"""Prefetch the EHR did not send, read from its FHIR server (CDS Hooks 2.0: ``fhirServer``, ``fhirAuthorization``).

Only servers on the service's allow-list (``crs-model serve --fhir-server URL``) are ever
called: a ``fhirServer`` in a request is the caller's word, and calling any URL it names would
let a caller aim the service at internal hosts. Each query is the discovery template with
``{{context.patientId}}`` filled in (URL-encoded), sent with the bearer token the EHR gave;
searchsets are followed through ``next`` links on the same server, up to :data:`MAX_PAGES`.
Every call is bounded in time and size; a failure is a :class:`FetchError` (the service answers
502, never a card from partial data).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

MAX_PAGES = 5  # pages of one searchset
MAX_BYTES = 4 * 1024 * 1024  # per response
TIMEOUT_S = 5.0  # per request (connect, read, write, pool)
PATIENT_ID_FIELD = "{{context.patientId}}"


class FetchError(Exception):
    """A prefetch query to the FHIR server failed (status, size, time or not FHIR JSON)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"prefetch {key}: {message}")


def _norm(url: str) -> str:
    return url.rstrip("/") + "/"


def allowed(server: str, allow: Sequence[str]) -> bool:
    """``server`` is one of the allowed FHIR base URLs, or below one (compared by scheme, host, port, path).

    A path with ``.`` or ``..`` segments is refused: it would leave the allowed base once resolved.
    """
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        return False
    if any(seg in (".", "..") for seg in parts.path.split("/")):
        return False
    return any(_norm(server).startswith(_norm(a)) for a in allow)


FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")  # FHIR R4 id datatype


def valid_id(patient_id: str) -> bool:
    """A FHIR id (and not a relative path segment): the only patient ids a query is built from."""
    return bool(FHIR_ID.match(patient_id)) and patient_id not in (".", "..")


def query(template: str, patient_id: str) -> str:
    """The template with the patient id filled in (the only context token the service's templates use)."""
    return template.replace(PATIENT_ID_FIELD, quote(patient_id, safe=""))


async def _get(client: httpx.AsyncClient, key: str, url: str, headers: Mapping[str, str]) -> Any:
    try:
        async with client.stream("GET", url, headers=headers) as r:
            if r.status_code != 200:
                raise FetchError(key, f"the FHIR server answered {r.status_code}")
            body = bytearray()
            async for chunk in r.aiter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise FetchError(key, f"the response is over {MAX_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise FetchError(key, f"the FHIR server could not be read ({type(exc).__name__})") from None
    try:
        data = json.loads(bytes(body))
    except ValueError:
        raise FetchError(key, "the FHIR server did not answer JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise FetchError(key, "the FHIR server did not answer a FHIR resource")
    return data


def _next(bundle: Mapping[str, Any]) -> str | None:
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


async def fetch(server: str, token: str | None, templates: Mapping[str, str], patient_id: str) -> dict[str, Any]:
    """The prefetch values for ``templates`` (key -> query template), read from ``server``."""
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    base = _norm(server)
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=httpx.Timeout(TIMEOUT_S), follow_redirects=False) as client:
        for key, template in templates.items():
            data = await _get(client, key, base + query(template, patient_id).lstrip("/"), headers)
            if data.get("resourceType") == "Bundle":
                entries = list(data.get("entry") or [])
                url, pages = _next(data), 1
                while url is not None:
                    if not _norm(url).startswith(base):
                        raise FetchError(key, "a next link leaves the FHIR server")
                    if pages >= MAX_PAGES:
                        raise FetchError(key, f"more than {MAX_PAGES} pages")
                    page = await _get(client, key, url, headers)
                    entries += list(page.get("entry") or [])
                    url, pages = _next(page), pages + 1
                data = {**data, "entry": entries}
                data.pop("link", None)
            out[key] = data
    return out


__all__ = ["MAX_BYTES", "MAX_PAGES", "TIMEOUT_S", "FetchError", "allowed", "fetch", "query", "valid_id"]
