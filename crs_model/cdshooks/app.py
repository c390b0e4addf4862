"""The ASGI app (Starlette): discovery, the hook endpoint and its feedback endpoint.

Order of work on a call: authenticate (401, no body read), read the body within the size
limit (413), parse within the depth limit and check the fields (400/412), map the FHIR
resources and evaluate (422 on invalid data, never a card), answer one card. The log
holds the hook, hookInstance, recommendation and timing only: no patient data.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crs_model.cdshooks import cards, request
from crs_model.cdshooks.auth import AuthError, Verifier
from crs_model.cdshooks.config import ServiceConfig
from crs_model.cdshooks.feedback import FeedbackStore
from crs_model.cdshooks.mapping import FhirError, sources, to_patient
from crs_model.engine import Decision, Engine
from crs_model.errors import PatientError, SpecDefectError

log = logging.getLogger("crs_model.cdshooks")


@dataclass(frozen=True, slots=True)
class Service:
    """What the app serves: the checked service file, its engine, the token verifier and the feedback store."""

    config: ServiceConfig
    engine: Engine
    verifier: Verifier | None  # None only with --insecure-no-auth
    store: FeedbackStore
    base_url: str
    pack_url: str | None = None
    max_body: int = request.MAX_BODY
    fhir_servers: tuple[str, ...] = ()  # FHIR base URLs the service may read absent prefetch from

    @property
    def endpoint(self) -> str:
        """The hook endpoint's URL: the ``aud`` of every token (also for feedback)."""
        return f"{self.base_url}/cds-services/{self.config.service_id}"


def _error(status: int, body: dict[str, Any] | None = None) -> Response:
    return JSONResponse(body, status_code=status) if body is not None else Response(status_code=status)


async def _body(req: Request, limit: int) -> bytes:
    declared = req.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise request.BadRequest(413, f"the body is over {limit} bytes")
    chunks, size = [], 0
    async for chunk in req.stream():  # a chunked body without a length is cut off at the limit too
        size += len(chunk)
        if size > limit:
            raise request.BadRequest(413, f"the body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _authenticate(svc: Service, req: Request, audiences: tuple[str, ...]) -> bool:
    if svc.verifier is None:
        return True
    header = req.headers.get("authorization")
    reason = "no audience"
    for aud in audiences:
        try:
            svc.verifier.verify(header, aud)
            return True
        except AuthError as exc:
            reason = str(exc)
            if "audience" not in reason.lower():
                break  # only a wrong audience is worth trying the next allowed one
    log.info("401 %s %s: %s", req.method, req.url.path, reason)
    return False


def create_app(svc: Service) -> Starlette:
    """The Starlette app serving ``svc``."""
    sid = svc.config.service_id
    prefetch_keys = tuple(svc.config.prefetch)
    discovery_body = {"services": [svc.config.discovery()]}

    async def discovery(req: Request) -> Response:
        if not _authenticate(svc, req, (f"{svc.base_url}/cds-services", svc.endpoint)):
            return _error(401)
        return JSONResponse(discovery_body)

    async def hook(req: Request) -> Response:
        start = time.perf_counter()
        if not _authenticate(svc, req, (svc.endpoint,)):
            return _error(401)
        try:
            call = request.hook_call(request.parse_json(await _body(req, svc.max_body)), svc.config.hook, prefetch_keys)
            if call.absent:
                call = await _fetch_absent(svc, call)
            request.check_subject(call.prefetch, call.patient_id)
            decision = _decide(svc, call)
        except request.BadRequest as exc:
            log.info("%s %s", exc.status, req.url.path)
            return _error(exc.status, exc.body)
        card = cards.card(svc.config, decision, call.patient_id, source_url=None, pack_url=svc.pack_url)
        await run_in_threadpool(svc.store.issued, [(card["uuid"], decision.recommendation, decision.spec_sha256)])
        log.info(
            "hook=%s hookInstance=%s recommendation=%s ms=%.1f",
            call.hook,
            call.hook_instance,
            decision.recommendation,
            1000 * (time.perf_counter() - start),
        )
        return JSONResponse({"cards": [card]})

    async def feedback(req: Request) -> Response:
        if not _authenticate(svc, req, (svc.endpoint,)):
            return _error(401)
        try:
            items = request.feedback_items(request.parse_json(await _body(req, svc.max_body)))
        except request.BadRequest as exc:
            return _error(exc.status, exc.body)
        unknown = await run_in_threadpool(svc.store.record, items)
        if unknown:
            return _error(400, {"error": "feedback for a card this service did not issue", "cards": unknown[:10]})
        log.info("feedback items=%d", len(items))
        return JSONResponse({})

    routes = [
        Route("/cds-services", discovery, methods=["GET"]),
        Route(f"/cds-services/{sid}", hook, methods=["POST"]),
        Route(f"/cds-services/{sid}/feedback", feedback, methods=["POST"]),
    ]
    return Starlette(routes=routes)


async def _fetch_absent(svc: Service, call: request.HookCall) -> request.HookCall:
    """The call with its absent prefetch read from its (allowed) FHIR server: 412 when not allowed, 502 on failure."""
    from crs_model.cdshooks.fetch import FetchError, allowed, fetch, valid_id

    assert call.fhir_server is not None  # hook_call answers 412 for absent prefetch without one
    if not allowed(call.fhir_server, svc.fhir_servers):
        raise request.BadRequest(
            412,
            "required prefetch not sent, and this service may not query that fhirServer",
            missing_prefetch=list(call.absent),
        )
    if not valid_id(call.patient_id):
        raise request.BadRequest(400, "context.patientId: not a FHIR id to query with", field="context.patientId")
    templates = {k: svc.config.prefetch[k] for k in call.absent}
    try:
        got = await fetch(call.fhir_server, call.fhir_token, templates, call.patient_id)
    except FetchError as exc:
        raise request.BadRequest(502, str(exc), prefetch=exc.key) from None
    return dataclasses.replace(call, prefetch={**call.prefetch, **got}, absent=())


def _decide(svc: Service, call: request.HookCall) -> Decision:
    """Map and evaluate; invalid data is a 422 naming the field and the resource, never a card."""
    mapped = None
    try:
        mapped = to_patient(call.prefetch.values(), at=datetime.now(UTC), spec=svc.config.spec)
        return svc.engine.evaluate(mapped.patient)
    except FhirError as exc:
        raise request.BadRequest(422, str(exc), resource=exc.resource_id) from None
    except PatientError as exc:
        raise request.BadRequest(
            422, str(exc), field=exc.field, resource=list(exc.resources) or sources(mapped, exc.field)
        ) from None
    except SpecDefectError as exc:  # the spec's fault, not the caller's: still no card
        raise request.BadRequest(500, f"spec defect at node {exc.node}: {exc.kind}") from None
