"""The Z3 oracle decides exactly like the engine (differential test on random patients)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

import crs_model
from crs_model.errors import PatientError, SpecDefectError
from crs_model.model import Spec
from crs_model.verify.oracle import Z3Oracle

ROOT = Path(__file__).resolve().parent.parent


def random_patient(spec: Spec, rng: random.Random) -> dict[str, Any]:
    p: dict[str, Any] = {}
    for name, v in spec.variables.items():
        if rng.random() < 0.25:
            continue
        base = v.type.base
        if base == "bool":
            p[name] = rng.random() < 0.5
        elif base == "enum":
            p[name] = rng.choice(v.type.values)
        else:
            lo = v.minimum if v.minimum is not None else 0.0
            hi = min(v.maximum if v.maximum is not None else 1000.0, lo + 1200)
            if base == "int":
                p[name] = rng.randint(int(lo), int(min(hi, lo + 8)))
            else:
                p[name] = round(rng.uniform(lo, hi), 1) if rng.random() < 0.6 else rng.randint(int(lo), int(hi))
    return p


def outcome(f: Any, patient: dict[str, Any]) -> Any:
    try:
        return f(patient)
    except PatientError:
        return "invalid"
    except SpecDefectError as exc:
        return (exc.kind, exc.node)


@pytest.mark.parametrize(
    "spec_path",
    [
        ROOT / "specs" / "cytosorb_crs.yaml",
        ROOT / "specs" / "examples" / "faulty" / "14_gap_grade_typo.yaml",
        ROOT / "specs" / "examples" / "faulty" / "15_overlap_grade_typo.yaml",
        ROOT / "specs" / "examples" / "faulty" / "05_unreachable_masked_first.yaml",
    ],
    ids=lambda p: p.stem,
)
def test_oracle_agrees_with_engine(spec_path: Path) -> None:
    spec = crs_model.load_spec(spec_path)
    engine = crs_model.Engine(spec, exact=False)  # the three-valued procedure the oracle encodes
    oracle = Z3Oracle(spec)
    rng = random.Random(20261123)  # noqa: S311 - reproducible test data, not cryptography

    def by_engine(p: dict[str, Any]) -> tuple[str, str | None, tuple[str, ...]]:
        d = engine.evaluate(p)
        return d.recommendation, d.outcome, d.path

    seen = set()
    for _ in range(300):
        p = random_patient(spec, rng)
        a, b = outcome(oracle.decide, p), outcome(by_engine, p)
        assert a == b, p
        seen.add(a if isinstance(a, str) else a[0])
    assert len(seen) >= 3  # the sample exercised several kinds of result


def test_oracle_rejects_like_the_validator() -> None:
    oracle = Z3Oracle(crs_model.load_spec(ROOT / "specs" / "cytosorb_crs.yaml"))
    with pytest.raises(PatientError):
        oracle.decide({"weight_kg": 400})
    with pytest.raises(PatientError):
        oracle.decide({"vasopressor_count": 2, "hypotension": False})
    with pytest.raises(PatientError):
        oracle.decide({"il_6": 3})
    with pytest.raises(PatientError):
        oracle.decide({"pregnant": "yes"})
    assert oracle.decide({})[0] == "insufficient_data"
