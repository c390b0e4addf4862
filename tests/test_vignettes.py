"""Clinical vignettes (tests/vignettes/*.yaml) through the API and the CLI.

Each expectation was derived by hand from the seed summary, clinical-facts.md and the
spec; see each vignette's ``derivation``. Together the vignettes must reach every
outcome and take every edge of the decision graph.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import crs_model
from crs_model.cli import main
from crs_model.engine import Decision, Engine
from crs_model.model import Spec
from tests.vignette_support import EXPECT_KEYS, SPEC_PATH, check_expectations, load_vignettes, normalize, seed_text

VIGNETTES = load_vignettes()
IDS = [v["id"] for v in VIGNETTES]
VIGNETTE_KEYS = {"id", "exercises", "derivation", "patient", "expect", "_file"}
# A few vignettes also go through the command line, one per kind of answer.
CLI_IDS = (
    "fever_exactly_38_grade1_supportive",
    "dose_29_9_kg_is_12_mg_per_kg",
    "covid19_on_ecmo_specialist_review",
    "platelets_19_9_contraindicated",
    "no_weight_first_tocilizumab",
    "absent_temperature_before_tocilizumab",
)


@pytest.fixture(scope="module")
def vspec() -> Spec:
    return crs_model.load_spec(SPEC_PATH)


@pytest.fixture(scope="module")
def vengine(vspec: Spec) -> Engine:
    return Engine(vspec)


def _decide(patient: dict[str, Any]) -> Decision:
    # the public API on the bundled spec, exactly as an embedding app calls it
    return crs_model.evaluate(patient)


# ------------------------------------------------------------------ the vignette files
def test_vignette_count_and_unique_ids() -> None:
    assert len(VIGNETTES) >= 30
    dupes = sorted({i for i in IDS if IDS.count(i) > 1})
    assert not dupes, f"duplicate vignette ids: {dupes}"


@pytest.mark.parametrize("vig", VIGNETTES, ids=IDS)
def test_vignette_is_well_formed(vig: dict[str, Any], vspec: Spec) -> None:
    assert set(vig) <= VIGNETTE_KEYS, f"unknown keys {sorted(set(vig) - VIGNETTE_KEYS)}"
    assert str(vig.get("derivation", "")).strip(), "say how the expectation was derived"
    keys = EXPECT_KEYS | set(vspec.outputs)
    assert set(vig["expect"]) <= keys, f"unknown expect keys {sorted(set(vig['expect']) - keys)}"
    assert vig["expect"]["recommendation"] in vspec.invariant_symbols["recommendation"].type.values
    unknown_inputs = set(vig["patient"]) - set(vspec.variables)
    assert not unknown_inputs, f"not inputs of the spec: {sorted(unknown_inputs)}"
    ex = vig["exercises"]
    assert set(ex) <= {"seed", "evidence"}
    assert ex.get("seed") or ex.get("evidence"), "name the seed statement or the evidence exercised"
    unknown_evidence = set(ex.get("evidence", ())) - set(vspec.evidence)
    assert not unknown_evidence, f"unknown evidence ids {sorted(unknown_evidence)}"
    for key in ("flags", "absent_flags"):
        ids = {f"flag:{f}" for f in vig["expect"].get(key, ())}
        assert ids <= vspec.element_ids(), f"{key}: no such flag {sorted(ids - vspec.element_ids())}"
    for a in vig["expect"].get("actions", ()):
        assert f"action:{a}" in vspec.element_ids()


@pytest.mark.parametrize("vig", [v for v in VIGNETTES if v["exercises"].get("seed")], ids=lambda v: v["id"])
def test_vignette_quotes_the_seed(vig: dict[str, Any]) -> None:
    text = seed_text()
    if text is None:
        pytest.skip("seed summary ../shared/reference/000_131ea735c4698000.txt is not beside the clone")
    seed = normalize(text)
    for phrase in vig["exercises"]["seed"]:
        assert normalize(phrase) in seed, f"not a quotation of the seed: {phrase!r}"


# ------------------------------------------------------------------ through the engine
@pytest.mark.parametrize("vig", VIGNETTES, ids=IDS)
def test_vignette(vig: dict[str, Any], vengine: Engine) -> None:
    decision = _decide(vig["patient"])
    check_expectations(decision.to_dict(), vig["expect"])
    if decision.recommendation == "insufficient_data":
        # no recommendation on a guess: nothing to act on, and a reason to collect data
        assert decision.outcome is None
        assert not decision.actions
        assert not decision.flags
        assert decision.missing
    else:
        assert not decision.missing
    assert vengine.invariant_violations(decision) == []


def test_vignettes_cover_every_outcome_and_edge(vspec: Spec) -> None:
    taken: set[str] = set()
    reached: set[str] = set()
    for vig in VIGNETTES:
        d = _decide(vig["patient"])
        reached.add(d.recommendation if d.outcome is None else d.outcome)
        taken |= {f"{a}->{b}" for a, b in zip(d.path, d.path[1:], strict=False)}
    edges = {e.id for n in vspec.nodes.values() for e in n.edges}
    assert edges - taken == set(), "edges no vignette takes"
    assert (set(vspec.outcomes) | {"insufficient_data"}) - reached == set(), "outcomes no vignette reaches"


# ------------------------------------------------------------------ through the CLI
@pytest.mark.parametrize("vid", CLI_IDS)
def test_vignette_through_cli(vid: str, tmp_path: Path) -> None:
    vig = next(v for v in VIGNETTES if v["id"] == vid)
    f = tmp_path / f"{vid}.json"
    f.write_text(json.dumps(vig["patient"]), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["evaluate", str(f), "--format", "json"], out, err) == 0, err.getvalue()
    assert err.getvalue() == ""
    check_expectations(json.loads(out.getvalue()), vig["expect"])


def test_vignettes_as_one_jsonl_batch(tmp_path: Path) -> None:
    batch = tmp_path / "vignettes.jsonl"
    batch.write_text("".join(json.dumps(v["patient"]) + "\n" for v in VIGNETTES), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["evaluate", str(batch), "--format", "json"], out, err) == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    assert len(lines) == len(VIGNETTES)
    for vig, line in zip(VIGNETTES, lines, strict=True):
        check_expectations(json.loads(line), vig["expect"])
