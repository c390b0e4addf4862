"""Hypothesis fuzz of the hook request body against a real uvicorn: never a server error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cdshooks_support import BASE, auth, example, hook_body, make_keys, served

SERVICE = "/cds-services/cytosorb-crs"
_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
_BASE_BODY = hook_body(example("06_cart_grade4_refractory_consider_cytosorb.json"))


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    """Mostly valid bodies with one part replaced by arbitrary JSON, sometimes arbitrary JSON whole."""
    if draw(st.booleans()):
        return draw(_json)
    body: dict[str, Any] = dict(_BASE_BODY.items())
    body["prefetch"] = dict(body["prefetch"])
    where = draw(st.sampled_from(["hook", "hookInstance", "context", "prefetch", "fhirServer", "obs", "value"]))
    junk = draw(_json)
    if where == "obs":
        bundle = dict(body["prefetch"]["assessments"])
        entries = list(bundle["entry"])
        entries[draw(st.integers(0, len(entries) - 1))] = {"resource": junk}
        bundle["entry"] = entries
        body["prefetch"]["assessments"] = bundle
    elif where == "value":
        bundle = dict(body["prefetch"]["assessments"])
        entries = list(bundle["entry"])
        i = draw(st.integers(0, len(entries) - 1))
        res = {k: v for k, v in entries[i]["resource"].items() if not k.startswith("value")}
        res[draw(st.sampled_from(["valueBoolean", "valueInteger", "valueQuantity", "valueCodeableConcept"]))] = junk
        entries[i] = {"resource": res}
        bundle["entry"] = entries
        body["prefetch"]["assessments"] = bundle
    else:
        body[where] = junk
    return body


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Any]]:
    folder = tmp_path_factory.mktemp("fuzz")
    keys = make_keys(folder)
    with served(folder, keys) as (url, _svc), httpx.Client(base_url=url, timeout=10) as client:
        yield client, keys


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies())
def test_fuzzed_bodies_never_get_a_server_error(fuzz_server: tuple[httpx.Client, Any], body: Any) -> None:
    client, keys = fuzz_server
    r = client.post(SERVICE, headers=auth(keys, BASE + SERVICE), json=body)
    assert r.status_code in (200, 400, 412, 422), (r.status_code, r.text[:300])
    if r.status_code == 200:
        assert len(r.json()["cards"]) == 1
    else:
        assert "error" in r.json()
