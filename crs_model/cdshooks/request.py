"""Reading and checking a CDS Hooks request body: size and depth limits, then the fields the service uses.

A problem is a :class:`BadRequest` with the HTTP status and a JSON error naming the field.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

MAX_BODY = 1 << 20  # 1 MiB: a patient's prefetch, not a data dump
MAX_DEPTH = 64  # FHIR resources nest ~10 deep, in a Bundle in a prefetch a few more
MAX_FEEDBACK = 100


class BadRequest(Exception):
    """An invalid request: ``status`` and the JSON ``body`` to answer with."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        self.status = status
        self.body: dict[str, Any] = {"error": message, **extra}
        super().__init__(message)


def parse_json(raw: bytes) -> Any:
    """The body as JSON, or :class:`BadRequest` (400) when it is not UTF-8 JSON or nests too deeply."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise BadRequest(400, "the body is not UTF-8") from None
    except RecursionError:
        raise BadRequest(400, f"the body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise BadRequest(400, f"the body is not JSON: {exc}") from None
    _check_depth(data)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python accepts NaN/Infinity; JSON does not


def _check_depth(data: Any) -> None:
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:  # iterative: the limit is what stops a deep body, not Python's stack
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(400, f"the body nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


@dataclass(frozen=True, slots=True)
class HookCall:
    """The fields of a hook call the service uses."""

    hook: str
    hook_instance: str
    patient_id: str
    prefetch: Mapping[str, Any]
    fhir_server: str | None
    fhir_token: str | None = None  # fhirAuthorization.access_token
    absent: tuple[str, ...] = ()  # declared prefetch keys not sent (to read from fhir_server)


_EXPECTED: dict[type, str] = {str: "a string", dict: "a JSON object", list: "a JSON array"}


def _field(data: Mapping[str, Any], key: str, kind: type, where: str = "") -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        expected = _EXPECTED.get(kind, kind.__name__)
        shown = "missing" if key not in data else f"{json.dumps(value)[:60]} is not {expected}"
        raise BadRequest(400, f"{where}{key}: {shown}", field=f"{where}{key}")
    return value


def hook_call(data: Any, hook: str, prefetch_keys: tuple[str, ...]) -> HookCall:
    """Check a hook request (400 on a bad field, 412 when a declared prefetch key is absent and no FHIR server)."""
    if not isinstance(data, dict):
        raise BadRequest(400, "the body is not a JSON object")
    name = _field(data, "hook", str)
    if name != hook:
        raise BadRequest(400, f"hook: {name[:60]!r} is not the hook of this service ({hook})", field="hook")
    instance = _field(data, "hookInstance", str)
    try:
        uuid.UUID(instance)
    except ValueError:
        raise BadRequest(400, "hookInstance: not a UUID", field="hookInstance") from None
    context = _field(data, "context", dict)
    patient_id = _field(context, "patientId", str, "context.")
    fhir_server = data.get("fhirServer")
    if fhir_server is not None and not isinstance(fhir_server, str):
        raise BadRequest(400, "fhirServer: not a string", field="fhirServer")
    if "fhirAuthorization" in data and fhir_server is None:
        raise BadRequest(400, "fhirAuthorization needs fhirServer", field="fhirServer")
    auth = data.get("fhirAuthorization")
    token: str | None = None
    if auth is not None:
        if not isinstance(auth, dict) or not isinstance(auth.get("access_token"), str):
            raise BadRequest(400, "fhirAuthorization: needs an access_token string", field="fhirAuthorization")
        if str(auth.get("token_type", "Bearer")).lower() != "bearer":
            raise BadRequest(400, "fhirAuthorization.token_type: only Bearer", field="fhirAuthorization")
        token = auth["access_token"]
    prefetch = data.get("prefetch", {})
    if not isinstance(prefetch, dict):
        raise BadRequest(400, "prefetch: not a JSON object", field="prefetch")
    absent = [k for k in prefetch_keys if k not in prefetch]
    if absent and fhir_server is None:
        raise BadRequest(412, "required prefetch not sent and no fhirServer to read it from", missing_prefetch=absent)
    for key, value in prefetch.items():
        if value is not None and not isinstance(value, dict):
            raise BadRequest(400, f"prefetch.{key}: not a FHIR resource, Bundle or null", field=f"prefetch.{key}")
    return HookCall(name, instance, patient_id, prefetch, fhir_server, token, tuple(absent))


def resources(prefetch: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(prefetch key, resource) for every resource sent, bundles unpacked (one level, as searchsets come)."""
    for key, value in prefetch.items():
        if value is None:
            continue
        if value.get("resourceType") == "Bundle":
            entries = value.get("entry", [])
            for e in entries if isinstance(entries, list) else []:
                res = e.get("resource") if isinstance(e, dict) else None
                if isinstance(res, dict):
                    yield key, res
        else:
            yield key, value


def check_subject(prefetch: Mapping[str, Any], patient_id: str) -> None:
    """400 when a resource is about another patient than ``context.patientId`` (never mix two records)."""
    want = f"Patient/{patient_id}"
    for key, res in resources(prefetch):
        rid = f"{res.get('resourceType', '?')}/{res.get('id', '?')}"
        if res.get("resourceType") == "Patient":
            if res.get("id") != patient_id:
                raise BadRequest(400, f"prefetch.{key}: {rid} is not context.patientId", resource=rid)
            continue
        subject = res.get("subject")
        ref = subject.get("reference") if isinstance(subject, dict) else None
        if ref is not None and ref != want:
            raise BadRequest(400, f"prefetch.{key}: {rid} is about {str(ref)[:60]}, not {want}", resource=rid)


def feedback_items(data: Any) -> list[dict[str, Any]]:
    """The checked items of a feedback body: card, outcome, accepted ids, reason, comment, timestamp."""
    if not isinstance(data, dict):
        raise BadRequest(400, "the body is not a JSON object")
    raw = _field(data, "feedback", list)
    if not 1 <= len(raw) <= MAX_FEEDBACK:
        raise BadRequest(400, f"feedback: expected 1 to {MAX_FEEDBACK} items, got {len(raw)}", field="feedback")
    items = []
    for i, item in enumerate(raw):
        where = f"feedback[{i}]."
        if not isinstance(item, dict):
            raise BadRequest(400, f"feedback[{i}]: not a JSON object", field=f"feedback[{i}]")
        card = _field(item, "card", str, where)
        outcome = _field(item, "outcome", str, where)
        if outcome not in ("accepted", "overridden"):
            raise BadRequest(
                400, f"{where}outcome: {outcome[:40]!r} is not accepted or overridden", field=f"{where}outcome"
            )
        stamp = _field(item, "outcomeTimestamp", str, where)
        if not stamp.endswith(("Z", "+00:00")) or not _is_datetime(stamp):
            raise BadRequest(
                400, f"{where}outcomeTimestamp: not an RFC 3339 UTC time", field=f"{where}outcomeTimestamp"
            )
        accepted: list[str] = []
        if outcome == "accepted":
            for j, s in enumerate(_field(item, "acceptedSuggestions", list, where)):
                if not isinstance(s, dict) or not isinstance(s.get("id"), str):
                    raise BadRequest(
                        400, f"{where}acceptedSuggestions[{j}].id: missing", field=f"{where}acceptedSuggestions"
                    )
                accepted.append(s["id"])
        reason: dict[str, Any] = {}
        comment = None
        override = item.get("overrideReason")
        if override is not None:
            if not isinstance(override, dict):
                raise BadRequest(400, f"{where}overrideReason: not a JSON object", field=f"{where}overrideReason")
            coding = override.get("reason")
            if coding is not None:
                if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
                    raise BadRequest(400, f"{where}overrideReason.reason: not a Coding", field=f"{where}overrideReason")
                reason = {"code": coding["code"], "display": coding.get("display")}
            comment = override.get("userComment")
            if comment is not None and not isinstance(comment, str):
                raise BadRequest(
                    400, f"{where}overrideReason.userComment: not a string", field=f"{where}overrideReason"
                )
        items.append(
            {
                "card": card,
                "outcome": outcome,
                "timestamp": stamp,
                "accepted": accepted,
                "reason": reason,
                "comment": comment,
            }
        )
    return items


def _is_datetime(text: str) -> bool:
    from datetime import datetime

    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
