"""Shared helpers of the CDS Hooks tests and benchmark: keys, tokens, prefetch, a served app."""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

import crs_model
from crs_model.cdshooks.app import Service, create_app
from crs_model.cdshooks.auth import Verifier, load_jwks
from crs_model.cdshooks.config import load_config
from crs_model.cdshooks.feedback import FeedbackStore
from crs_model.cdshooks.harness import serving
from crs_model.engine import Engine
from crs_model.fhir import FhirMapping, load_mapping, mapping_path_for
from crs_model.types import Base

ROOT = Path(__file__).resolve().parent.parent
PATIENTS = ROOT / "specs" / "examples" / "patients"
ISSUER = "https://ehr.test.invalid"
BASE = "https://cds.test.invalid"
PATIENT_ID = "pt-1"

ASSESSMENT = "urn:crs-model:assessment"  # the assessment code system of specs/cytosorb_crs.fhir.yaml


@dataclass(frozen=True)
class Keys:
    """An EC P-384 and an RSA key of the test EHR, and the JWKS file of their public halves."""

    ec: ec.EllipticCurvePrivateKey
    rsa: rsa.RSAPrivateKey
    jwks: Path


def make_keys(folder: Path) -> Keys:
    ec_key = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_jwk = json.loads(ECAlgorithm.to_jwk(ec_key.public_key()))
    rsa_jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    ec_jwk |= {"kid": "ec-1", "alg": "ES384", "use": "sig"}
    rsa_jwk |= {"kid": "rsa-1", "use": "sig"}  # no alg: the service pins RS384
    path = folder / "jwks.json"
    path.write_text(json.dumps({"keys": [ec_jwk, rsa_jwk]}), encoding="utf-8")
    return Keys(ec_key, rsa_key, path)


def token(keys: Keys, aud: str, **over: Any) -> str:
    """A valid ES384 token for ``aud``; ``over`` changes claims, or ``alg``/``kid``/``key`` of the header."""
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": aud, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    alg = over.pop("alg", "ES384")
    kid = over.pop("kid", "ec-1" if alg == "ES384" else "rsa-1")
    key = over.pop("key", keys.ec if alg == "ES384" else keys.rsa)
    claims |= over
    claims = {k: v for k, v in claims.items() if v is not None}
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def auth(keys: Keys, aud: str, **over: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(keys, aud, **over)}"}


def observation(name: str, value: Any, at: datetime, rid: str, status: str = "final") -> dict[str, Any]:
    """An assessment Observation of ``name`` (FHIR R4) recorded at ``at``."""
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "status": status,
        "code": {"coding": [{"system": ASSESSMENT, "code": name}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": at.isoformat(),
    }
    base = _spec().variables[name].type.base if name in _spec().variables else None
    if isinstance(value, bool):
        obs["valueBoolean"] = value
    elif isinstance(value, int | float) and base is Base.REAL:
        unit = _mapping().units[name].unit  # a real input is a Quantity in its own UCUM unit
        obs["valueQuantity"] = {"value": value, "system": "http://unitsofmeasure.org", "code": unit}
    elif isinstance(value, int):
        obs["valueInteger"] = value
    elif isinstance(value, float):
        obs["valueQuantity"] = {"value": value}
    else:
        obs["valueCodeableConcept"] = {"coding": [{"system": ASSESSMENT, "code": value}]}
    return obs


@functools.cache
def _spec() -> crs_model.Spec:
    return crs_model.load_spec()


@functools.cache
def _mapping() -> FhirMapping:
    return load_mapping(mapping_path_for(_spec()), _spec())


def prefetch(patient: Mapping[str, Any], *, at: datetime | None = None) -> dict[str, Any]:
    """The service's prefetch for a flat patient: its Patient, a searchset of assessments, empty other keys."""
    at = at or datetime.now(UTC) - timedelta(minutes=5)
    entries = [
        {
            "resource": observation(
                k,
                float(v) if isinstance(v, int) and not isinstance(v, bool) and k.endswith(("_kg", "_c")) else v,
                at,
                f"obs-{i}",
            )
        }
        for i, (k, v) in enumerate(patient.items())
    ]
    return {
        "patient": {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": "1980-01-01"},
        "assessments": {"resourceType": "Bundle", "type": "searchset", "entry": entries},
        "vitals_labs": None,
        "medications": None,
        "procedures": None,
    }


def hook_body(patient: Mapping[str, Any], **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": PATIENT_ID},
        "prefetch": prefetch(patient),
    }
    body |= over
    return body


def example(name: str) -> dict[str, Any]:
    return dict(json.loads((PATIENTS / name).read_text(encoding="utf-8")))


@contextmanager
def served(folder: Path, keys: Keys | None, **service: Any) -> Iterator[tuple[str, Service]]:
    """The shipped spec's service under uvicorn on loopback: (base URL, service)."""
    spec = crs_model.load_spec()
    verifier = Verifier(load_jwks(keys.jwks), [ISSUER]) if keys is not None else None
    svc = Service(load_config(spec), Engine(spec), verifier, FeedbackStore(folder / "fb.sqlite"), BASE, **service)
    try:
        with serving(create_app(svc)) as url:
            yield url, svc
    finally:
        svc.store.close()
