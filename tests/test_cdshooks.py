"""The CDS Hooks service over real HTTP: uvicorn on 127.0.0.1, called with httpx."""

from __future__ import annotations

import asyncio
import io
import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from crs_model.cdshooks.app import Service
from crs_model.cli import main
from tests.cdshooks_support import BASE, ISSUER, PATIENT_ID, Keys, auth, example, hook_body, make_keys, served, token

SERVICE = "/cds-services/cytosorb-crs"
AUD = BASE + SERVICE
GRADE4 = "06_cart_grade4_refractory_consider_cytosorb.json"
FIRST_DOSE = "03_grade2_first_tocilizumab.json"
NO_WEIGHT = "10_no_weight_insufficient_data.json"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def server(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Service]]:
    with served(tmp_path_factory.mktemp("svc"), keys, pack_url="https://pack.test.invalid/pack.html") as s:
        yield s


@pytest.fixture
def client(server: tuple[str, Service]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0], timeout=10) as c:
        yield c


def call(client: httpx.Client, keys: Keys, body: Any) -> httpx.Response:
    return client.post(SERVICE, headers=auth(keys, AUD), json=body)


def test_discovery_lists_the_service_with_prefetch_templates(client: httpx.Client, keys: Keys) -> None:
    r = client.get("/cds-services", headers=auth(keys, AUD))
    assert r.status_code == 200
    (svc,) = r.json()["services"]
    assert (svc["id"], svc["hook"]) == ("cytosorb-crs", "patient-view")
    assert svc["title"]
    assert svc["description"]
    assert svc["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert {"assessments", "vitals_labs", "medications", "procedures"} <= set(svc["prefetch"])
    assert all("{{context.patientId}}" in t for t in svc["prefetch"].values())


def test_device_card_is_a_warning_with_a_service_request_and_override_reasons(client: httpx.Client, keys: Keys) -> None:
    r = call(client, keys, hook_body(example(GRADE4)))
    assert r.status_code == 200, r.text
    (card,) = r.json()["cards"]
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Consider CytoSorb")
    assert len(card["summary"]) < 140
    uuid.UUID(card["uuid"])
    assert card["source"]["label"].endswith("v0.2.0")
    assert card["source"]["topic"]["code"] == "consider_cytosorb"
    assert "**Path:**" in card["detail"]
    assert "`consider_cytosorb`" in card["detail"]
    assert "sha256 `" in card["detail"]
    assert "**Citations:**" in card["detail"]
    assert "**Flags:**" in card["detail"]
    assert card["selectionBehavior"] == "at-most-one"
    (sug,) = card["suggestions"]
    res = sug["actions"][0]["resource"]
    assert res["resourceType"] == "ServiceRequest"
    assert res["subject"] == {"reference": f"Patient/{PATIENT_ID}"}
    assert all(o["display"] for o in card["overrideReasons"])
    assert len(card["overrideReasons"]) >= 2
    assert card["links"][0]["url"] == "https://pack.test.invalid/pack.html"


def test_first_dose_card_suggests_the_computed_dose(client: httpx.Client, keys: Keys, engine: Any) -> None:
    patient = example(FIRST_DOSE)
    (card,) = call(client, keys, hook_body(patient)).json()["cards"]
    dose = engine.evaluate(patient).outputs["tocilizumab_dose_mg"]
    assert card["indicator"] == "info"
    assert "overrideReasons" not in card
    res = card["suggestions"][0]["actions"][0]["resource"]
    assert res["resourceType"] == "MedicationRequest"
    assert res["medicationCodeableConcept"]["coding"][0]["code"] == "612865"
    assert res["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] == {
        "value": dose,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }


def test_insufficient_data_is_an_info_card_naming_what_to_record(client: httpx.Client, keys: Keys) -> None:
    (card,) = call(client, keys, hook_body(example(NO_WEIGHT))).json()["cards"]
    assert card["indicator"] == "info"
    assert "suggestions" not in card
    assert card["summary"] == "insufficient data: record weight (weight_kg)"
    assert "**Missing data, to record:**\n- weight (weight_kg)\n" in card["detail"]


def test_stop_card_is_critical(client: httpx.Client, keys: Keys) -> None:
    patient = example("07_covid19_on_cytosorb_improved_continue.json") | {"anticoagulation_contraindicated": True}
    (card,) = call(client, keys, hook_body(patient)).json()["cards"]
    assert card["source"]["topic"]["code"] == "stop_cytosorb"
    assert card["indicator"] == "critical"


def test_partial_prefetch_with_null_keys_is_evaluated(client: httpx.Client, keys: Keys) -> None:
    body = hook_body(example(GRADE4))
    body["prefetch"]["patient"] = None
    body["prefetch"]["assessments"] = None
    (card,) = call(client, keys, body).json()["cards"]
    assert card["source"]["topic"]["code"] == "insufficient_data"


def test_absent_prefetch_key_without_fhir_server_is_412(client: httpx.Client, keys: Keys) -> None:
    body = hook_body(example(GRADE4))
    del body["prefetch"]["medications"]
    r = call(client, keys, body)
    assert r.status_code == 412
    assert r.json()["missing_prefetch"] == ["medications"]
    assert call(client, keys, {k: v for k, v in hook_body({}).items() if k != "prefetch"}).status_code == 412


@pytest.mark.parametrize(
    "spoil", [{"status": "preliminary"}, {"status": "entered-in-error"}, {"effectiveDateTime": "2020-01-01T00:00:00Z"}]
)
def test_stale_and_non_final_observations_do_not_count(client: httpx.Client, keys: Keys, spoil: dict[str, str]) -> None:
    body = hook_body(example(FIRST_DOSE))
    for e in body["prefetch"]["assessments"]["entry"]:
        if e["resource"]["code"]["coding"][0]["code"] == "weight_kg":
            e["resource"] |= spoil
    (card,) = call(client, keys, body).json()["cards"]
    assert card["source"]["topic"]["code"] == "insufficient_data"
    assert "weight_kg" in card["summary"]


@pytest.mark.parametrize(
    ("change", "status", "names"),
    [
        (lambda b: b.pop("hook"), 400, "hook"),
        (lambda b: b.update(hook="order-sign"), 400, "hook"),
        (lambda b: b.update(hookInstance="not-a-uuid"), 400, "hookInstance"),
        (lambda b: b.pop("context"), 400, "context"),
        (lambda b: b["context"].pop("patientId"), 400, "context.patientId"),
        (lambda b: b.update(prefetch=[]), 400, "prefetch"),
        (lambda b: b["prefetch"].update(medications=[1]), 400, "prefetch.medications"),
    ],
)
def test_malformed_requests_are_400_naming_the_field(
    client: httpx.Client, keys: Keys, change: Any, status: int, names: str
) -> None:
    body = hook_body(example(GRADE4))
    change(body)
    r = call(client, keys, body)
    assert r.status_code == status
    assert r.json()["field"] == names


def test_invalid_data_is_422_naming_field_and_resource_never_a_card(client: httpx.Client, keys: Keys) -> None:
    r = call(client, keys, hook_body(example(GRADE4) | {"weight_kg": -5.0}))
    assert r.status_code == 422
    assert "cards" not in r.json()
    assert r.json()["field"] == "weight_kg"
    assert r.json()["resource"] == ["Observation/obs-3"]
    body = hook_body(example(GRADE4))
    body["prefetch"]["assessments"]["entry"][0]["resource"].pop("valueBoolean")
    r = call(client, keys, body)
    assert r.status_code == 422
    assert r.json()["resource"] == "Observation/obs-0"


def test_a_resource_of_another_patient_is_refused(client: httpx.Client, keys: Keys) -> None:
    body = hook_body(example(GRADE4))
    body["prefetch"]["assessments"]["entry"][3]["resource"]["subject"] = {"reference": "Patient/other"}
    r = call(client, keys, body)
    assert r.status_code == 400
    assert r.json()["resource"] == "Observation/obs-3"


def test_bodies_not_json_too_deep_or_too_large(client: httpx.Client, keys: Keys, server: tuple[str, Service]) -> None:
    h = auth(keys, AUD) | {"content-type": "application/json"}
    assert client.post(SERVICE, headers=h, content=b"{not json").status_code == 400
    assert client.post(SERVICE, headers=auth(keys, AUD), content=b"\xff\xfe").status_code == 400
    assert client.post(SERVICE, headers=auth(keys, AUD), content=b'{"hook": NaN}').status_code == 400
    deep = b"[" * 100 + b"]" * 100
    r = client.post(SERVICE, headers=auth(keys, AUD), content=deep)
    assert r.status_code == 400
    assert "deeper" in r.json()["error"]
    huge = b'{"x": "' + b"a" * (server[1].max_body + 10) + b'"}'
    assert client.post(SERVICE, headers=auth(keys, AUD), content=huge).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while streaming
        for _ in range(20):
            yield b"a" * 65536

    assert client.post(SERVICE, headers=auth(keys, AUD), content=chunks()).status_code == 413


def _other_ec_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP384R1())


AUTH_FAILURES: dict[str, Any] = {
    "no token": None,
    "not bearer": lambda k: {"Authorization": "Basic dXNlcjpwdw=="},
    "garbage": lambda k: {"Authorization": "Bearer abc.def"},
    "expired": lambda k: auth(k, AUD, iat=1_000_000, exp=1_000_300),
    "issued in the future": lambda k: auth(k, AUD, iat=2_000_000_000, exp=2_000_000_100),
    "lifetime over an hour": lambda k: auth(k, AUD, exp=int(datetime.now(UTC).timestamp()) + 7200),
    "wrong aud": lambda k: auth(k, BASE + "/cds-services/other"),
    "wrong iss": lambda k: auth(k, AUD, iss="https://evil.test.invalid"),
    "no jti": lambda k: auth(k, AUD, jti=None),
    "no exp": lambda k: auth(k, AUD, exp=None),
    "alg none": lambda k: {"Authorization": "Bearer " + _unsigned(AUD)},
    "HS256": lambda k: auth(k, AUD, alg="HS256", kid="ec-1", key="secret-secret-secret-secret-secret"),
    "ES256 on ES384 key": lambda k: {"Authorization": "Bearer " + _es256(AUD)},
    "unknown kid": lambda k: auth(k, AUD, kid="nope"),
    "no kid": lambda k: auth(k, AUD, kid=None),
    "wrong key for kid": lambda k: auth(k, AUD, key=_other_ec_key()),
    "RS384 token naming the EC kid": lambda k: auth(k, AUD, alg="RS384", kid="ec-1"),
}


def _unsigned(aud: str) -> str:
    import jwt

    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": ISSUER, "aud": aud, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, "", algorithm="none", headers={"kid": "ec-1"})


def _es256(aud: str) -> str:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": ISSUER, "aud": aud, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": "ec-1"})


@pytest.mark.parametrize("case", AUTH_FAILURES)
def test_every_auth_failure_is_a_bare_401_on_every_endpoint(client: httpx.Client, keys: Keys, case: str) -> None:
    make = AUTH_FAILURES[case]
    for method, path in (("GET", "/cds-services"), ("POST", SERVICE), ("POST", SERVICE + "/feedback")):
        headers = make(keys) if make else {}
        r = client.request(method, path, headers=headers, json=hook_body(example(GRADE4)))
        assert (r.status_code, r.content) == (401, b""), (case, path)


def test_rs384_tokens_are_accepted_and_a_replayed_jti_is_refused(client: httpx.Client, keys: Keys) -> None:
    headers = auth(keys, AUD, alg="RS384")
    body = hook_body(example(GRADE4))
    assert client.post(SERVICE, headers=headers, json=body).status_code == 200
    r = client.post(SERVICE, headers=headers, json=body)
    assert (r.status_code, r.content) == (401, b"")


def test_feedback_round_trip_and_report(client: httpx.Client, keys: Keys, server: tuple[str, Service]) -> None:
    device = call(client, keys, hook_body(example(GRADE4))).json()["cards"][0]
    dose = call(client, keys, hook_body(example(FIRST_DOSE))).json()["cards"][0]
    reason = device["overrideReasons"][0]
    stamp = "2026-12-01T10:00:00Z"
    fb = {
        "feedback": [
            {
                "card": device["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": stamp,
                "overrideReason": {"reason": reason, "userComment": "family meeting first"},
            },
            {
                "card": dose["uuid"],
                "outcome": "accepted",
                "outcomeTimestamp": stamp,
                "acceptedSuggestions": [{"id": dose["suggestions"][0]["uuid"]}],
            },
        ]
    }
    before = server[1].store.count()
    r = client.post(SERVICE + "/feedback", headers=auth(keys, AUD), json=fb)
    assert r.status_code == 200, r.text
    assert server[1].store.count() == before + 2
    db = server[1].store.path
    rows = (
        sqlite3.connect(db)
        .execute(
            "SELECT recommendation, outcome, reason_code, spec_sha256 FROM feedback"
            " WHERE card_uuid IN (?, ?) ORDER BY 1",
            (device["uuid"], dose["uuid"]),
        )
        .fetchall()
    )
    sha = server[1].config.spec.sha256
    assert rows == [
        ("consider_cytosorb", "overridden", reason["code"], sha),
        ("give_tocilizumab", "accepted", None, sha),
    ]
    out, err = io.StringIO(), io.StringIO()
    assert main(["feedback-report", db], out, err) == 0
    text = out.getvalue()
    assert f"spec sha256 {sha}" in text
    assert f"1 × {reason['display']}" in text
    assert "give_tocilizumab:" in text
    assert "1 accepted" in text


@pytest.mark.parametrize(
    "item",
    [
        {"card": "x", "outcome": "ignored", "outcomeTimestamp": "2026-12-01T10:00:00Z"},
        {"card": "x", "outcome": "accepted", "outcomeTimestamp": "2026-12-01T10:00:00Z"},  # no acceptedSuggestions
        {"card": "x", "outcome": "overridden", "outcomeTimestamp": "yesterday"},
        {"card": "x", "outcome": "overridden", "outcomeTimestamp": "2026-12-01T10:00:00+02:00"},
        {"outcome": "overridden", "outcomeTimestamp": "2026-12-01T10:00:00Z"},
    ],
)
def test_bad_feedback_is_400_and_stores_nothing(
    client: httpx.Client, keys: Keys, server: tuple[str, Service], item: dict[str, Any]
) -> None:
    before = server[1].store.count()
    r = client.post(SERVICE + "/feedback", headers=auth(keys, AUD), json={"feedback": [item]})
    assert r.status_code == 400
    assert "field" in r.json()
    assert server[1].store.count() == before


def test_feedback_for_a_card_never_issued_is_refused(
    client: httpx.Client, keys: Keys, server: tuple[str, Service]
) -> None:
    item = {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-12-01T10:00:00Z"}
    before = server[1].store.count()
    r = client.post(SERVICE + "/feedback", headers=auth(keys, AUD), json={"feedback": [item]})
    assert r.status_code == 400
    assert r.json()["cards"] == [item["card"]]
    assert server[1].store.count() == before


def test_concurrent_calls_have_no_server_error_and_lose_no_feedback(keys: Keys, tmp_path: Path) -> None:
    n, width = 1000, 50  # 1,000 calls + 1,000 feedback posts = 2,000 requests
    patients = [example(GRADE4), example(FIRST_DOSE), example(NO_WEIGHT)]
    bodies = [hook_body(patients[i % 3]) for i in range(n)]
    tokens = [token(keys, AUD) for _ in range(2 * n)]  # signed up front: the client's cost is not the server's
    with served(tmp_path, keys) as (url, svc):

        async def run() -> list[int]:
            limits = httpx.Limits(max_connections=width, max_keepalive_connections=width)
            async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as c:
                gate = asyncio.Semaphore(width)

                async def one(i: int) -> int:
                    async with gate:
                        r = await c.post(SERVICE, headers={"Authorization": f"Bearer {tokens[i]}"}, json=bodies[i])
                        if r.status_code != 200:
                            return r.status_code
                        card = r.json()["cards"][0]
                        fb = {
                            "feedback": [
                                {
                                    "card": card["uuid"],
                                    "outcome": "overridden",
                                    "outcomeTimestamp": "2026-12-01T10:00:00Z",
                                }
                            ]
                        }
                        h = {"Authorization": f"Bearer {tokens[n + i]}"}
                        return (await c.post(SERVICE + "/feedback", headers=h, json=fb)).status_code

                return await asyncio.gather(*(one(i) for i in range(n)))

        statuses = asyncio.run(asyncio.wait_for(run(), timeout=120))
        assert statuses == [200] * n
        assert svc.store.count() == n


def test_serve_refuses_to_start_without_keys_or_issuer(tmp_path: Path) -> None:
    err = io.StringIO()
    assert main(["serve", "--port", "0"], io.StringIO(), err) == 2
    assert "--jwks FILE and at least one --issuer" in err.getvalue()
    bad = tmp_path / "jwks.json"
    bad.write_text('{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}', encoding="utf-8")
    err = io.StringIO()
    assert (
        main(
            ["serve", "--jwks", str(bad), "--issuer", ISSUER, "--feedback-db", str(tmp_path / "f.db")],
            io.StringIO(),
            err,
        )
        == 2
    )
    assert "alg None is not one of ES384, RS384" in err.getvalue()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("indicators:\n  stop_cytosorb: critical", "indicators:\n  stop_cytosorb: red"),
            "indicators.stop_cytosorb: 'red'",
        ),
        (
            ("  give_tocilizumab:\n", "  give_toci:\n"),
            "suggestions.give_toci: 'give_toci' is not a recommendation code",
        ),
        (("dose_output: tocilizumab_dose_mg", "dose_output: dose"), "suggestions.give_tocilizumab.dose_output: 'dose'"),
        (("hook: patient-view", "hook: order-sign"), "service.hook: 'order-sign' is not a supported hook"),
    ],
)
def test_a_bad_service_file_is_refused_naming_the_key(
    tmp_path: Path, spec: Any, edit: tuple[str, str], message: str
) -> None:
    from crs_model.cdshooks.config import ServiceConfigError, load_config

    text = (Path(spec.path).with_name("cytosorb_crs.cds.yaml")).read_text(encoding="utf-8")
    assert edit[0] in text
    bad = tmp_path / "bad.cds.yaml"
    bad.write_text(text.replace(edit[0], edit[1]), encoding="utf-8")
    with pytest.raises(ServiceConfigError, match=re.escape(message)):
        load_config(spec, bad)
    assert load_config(spec).suggestions["give_tocilizumab"].dose_output == "tocilizumab_dose_mg"


def test_crs_model_serve_insecure_demo_warns_and_answers_without_a_token(tmp_path: Path) -> None:
    """The real command: `crs-model serve --insecure-no-auth` under uvicorn, called over loopback."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = tmp_path / "demo.sqlite"
    cmd = [sys.executable, "-m", "crs_model.cli", "serve", "--insecure-no-auth", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--feedback-db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/cds-services"
        deadline = time.monotonic() + 60
        r = None
        while time.monotonic() < deadline and proc.poll() is None:  # bounded start-up wait
            try:
                r = httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert r is not None, "the service did not start within 60 s"
        assert r.status_code == 200
        assert [s["id"] for s in r.json()["services"]] == ["cytosorb-crs"]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "WARNING: --insecure-no-auth" in err
    assert f"CDS Hooks discovery: http://127.0.0.1:{port}/cds-services" in out


# ---------------------------------------------------------------- absent prefetch read from the FHIR server
def _fake_fhir(prefetch_values: dict[str, Any], seen: list[tuple[str, str | None]], *, fail: bool = False) -> Any:
    """A loopback FHIR server answering the service's prefetch queries with the given values.

    The assessments searchset is served in two pages (a ``next`` link) to exercise paging.
    """
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    assessments = prefetch_values["assessments"]
    half = len(assessments["entry"]) // 2

    async def anything(req: Request) -> JSONResponse:
        seen.append((req.url.path + ("?" + req.url.query if req.url.query else ""), req.headers.get("authorization")))
        if fail:
            return JSONResponse({"resourceType": "OperationOutcome"}, status_code=500)
        path, query = req.url.path, req.url.query
        if path.endswith(f"/Patient/{PATIENT_ID}"):
            return JSONResponse(prefetch_values["patient"])
        if path.endswith("/Observation") and "assessment" in query and "page=2" not in query:
            first = {**assessments, "entry": assessments["entry"][:half]}
            first["link"] = [{"relation": "next", "url": f"{req.base_url}fhir/Observation?page=2&assessment"}]
            return JSONResponse(first)
        if path.endswith("/Observation") and "page=2" in query:
            return JSONResponse({**assessments, "entry": assessments["entry"][half:]})
        return JSONResponse({"resourceType": "Bundle", "type": "searchset", "entry": []})

    return Starlette(routes=[Route("/fhir/{rest:path}", anything, methods=["GET"])])


def _without_prefetch(body: dict[str, Any], server: str) -> dict[str, Any]:
    return {
        **{k: v for k, v in body.items() if k != "prefetch"},
        "fhirServer": server,
        "fhirAuthorization": {
            "access_token": "ehr-token-1",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "cds-service",
        },
    }


def test_absent_prefetch_is_read_from_an_allowed_fhir_server(tmp_path: Path, keys: Keys) -> None:
    from crs_model.cdshooks.harness import serving

    patient = example(GRADE4)
    body = hook_body(patient)
    seen: list[tuple[str, str | None]] = []
    with serving(_fake_fhir(body["prefetch"], seen)) as fhir_url:
        server = f"{fhir_url}/fhir"
        with served(tmp_path, keys, fhir_servers=(server,)) as (url, _svc), httpx.Client(base_url=url) as c:
            direct = call(c, keys, body)
            fetched = call(c, keys, _without_prefetch(body, server))
            elsewhere = call(c, keys, _without_prefetch(body, "http://127.0.0.1:9/fhir"))  # not allowed: never called
    assert direct.status_code == 200, direct.text
    assert fetched.status_code == 200, fetched.text

    def same(card: dict[str, Any]) -> dict[str, Any]:  # a card without its (and its suggestions') fresh uuids
        drop = {k: v for k, v in card.items() if k != "uuid"}
        drop["suggestions"] = [{k: v for k, v in s.items() if k != "uuid"} for s in card.get("suggestions", [])]
        return drop

    assert [same(c) for c in fetched.json()["cards"]] == [same(c) for c in direct.json()["cards"]]
    assert all(auth == "Bearer ehr-token-1" for _, auth in seen)
    assert any(path.endswith(f"/Patient/{PATIENT_ID}") for path, _ in seen)
    assert any("page=2" in path for path, _ in seen)  # the searchset's next page was followed
    assert len(seen) == 6  # 5 prefetch queries + 1 next page, and nothing for the server not allowed
    assert elsewhere.status_code == 412


def test_a_failing_fhir_server_is_502_never_a_card(tmp_path: Path, keys: Keys) -> None:
    from crs_model.cdshooks.harness import serving

    body = hook_body(example(GRADE4))
    seen: list[tuple[str, str | None]] = []
    with serving(_fake_fhir(body["prefetch"], seen, fail=True)) as fhir_url:
        server = f"{fhir_url}/fhir"
        with served(tmp_path, keys, fhir_servers=(server,)) as (url, _svc), httpx.Client(base_url=url) as c:
            r = call(c, keys, _without_prefetch(body, server))
    assert r.status_code == 502
    assert "cards" not in r.json()
    assert "the FHIR server answered 500" in r.json()["error"]


def test_only_allowed_fhir_servers_and_fhir_ids_are_ever_queried() -> None:
    from crs_model.cdshooks.fetch import allowed, query, valid_id

    allow = ("http://127.0.0.1:8000/fhir",)
    assert allowed("http://127.0.0.1:8000/fhir", allow)
    assert allowed("http://127.0.0.1:8000/fhir/", allow)
    assert allowed("http://127.0.0.1:8000/fhir/r4", allow)
    for bad in (
        "http://127.0.0.1:8000/fhir-evil",
        "http://127.0.0.1:8000/fhir/../admin",
        "http://127.0.0.1:8001/fhir",
        "https://127.0.0.1:8000/fhir",
        "http://127.0.0.1:8000/fhir?x=1",
        "file:///etc/passwd",
        "http://169.254.169.254/latest",
    ):
        assert not allowed(bad, allow), bad
    assert not allowed("http://127.0.0.1:8000/fhir", ())  # no allow-list: never
    assert valid_id("pt-1.a")
    assert not any(valid_id(x) for x in ("..", ".", "a/b", "a?b", "", "x" * 65))
    assert query("Observation?patient={{context.patientId}}", "a b") == "Observation?patient=a%20b"
