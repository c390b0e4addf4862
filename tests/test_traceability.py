"""Seed traceability (specs/cytosorb_crs.trace.yaml): every seed statement is mapped.

The seed half needs ``../shared/reference/000_131ea735c4698000.txt`` beside the clone
(as in CI); only that half is skipped, with the reason, when the file is absent.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

import crs_model
from crs_model.model import Spec
from tests.vignette_support import SEED_PATH, SPEC_PATH, TRACE_PATH, normalize, seed_statements, seed_text

ENTRY_KEYS = {"id", "section", "match", "encoded_by", "not_encoded"}


def _trace() -> dict[str, Any]:
    data = yaml.safe_load(TRACE_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


ENTRIES: list[dict[str, Any]] = _trace()["statements"]


@pytest.fixture(scope="module")
def tspec() -> Spec:
    return crs_model.load_spec(SPEC_PATH)


@pytest.fixture(scope="module")
def statements() -> list[str]:
    text = seed_text()
    if text is None:
        pytest.skip(f"seed summary not found at {SEED_PATH} (CI puts ../shared beside the clone)")
    return seed_statements(text)


def test_trace_names_the_spec_and_seed() -> None:
    data = _trace()
    assert data["spec"] == SPEC_PATH.name
    assert data["seed"] == SEED_PATH.name


def test_entries_are_well_formed() -> None:
    ids = [e["id"] for e in ENTRIES]
    assert len(ids) == len(set(ids)), "duplicate entry ids"
    for e in ENTRIES:
        assert set(e) <= ENTRY_KEYS, f"{e['id']}: unknown keys {sorted(set(e) - ENTRY_KEYS)}"
        assert e["section"].strip()
        assert 1 <= len(e["match"].split()) <= 12, f"{e['id']}: match is a short citation (<= 12 words)"
        # exactly one of: the elements encoding it, or the reason it is not encoded
        assert ("encoded_by" in e) != ("not_encoded" in e), f"{e['id']}: encoded_by xor not_encoded"
        if "encoded_by" in e:
            assert e["encoded_by"], f"{e['id']}: encoded_by is empty"
        else:
            assert len(e["not_encoded"].split()) >= 5, f"{e['id']}: give a reason"


def test_every_element_exists(tspec: Spec) -> None:
    known = tspec.element_ids()
    unknown = [(e["id"], ref) for e in ENTRIES for ref in e.get("encoded_by", ()) if ref not in known]
    assert unknown == []


def test_every_match_occurs_in_the_seed() -> None:
    text = seed_text()
    if text is None:
        pytest.skip(f"seed summary not found at {SEED_PATH} (CI puts ../shared beside the clone)")
    seed = normalize(text)
    absent = [e["id"] for e in ENTRIES if normalize(e["match"]) not in seed]
    assert absent == []


def test_seed_has_the_expected_statement_layout(statements: list[str]) -> None:
    # a guard on the extraction itself: the opening sentence, the three numbered
    # indication groups and the last etiology bullet are statements; headings are not
    assert statements[0].startswith("CytoSorb hemoadsorption is indicated as a rescue therapy")
    assert sum(1 for s in statements if s[:2] in ("1.", "2.", "3.")) == 3
    assert statements[-1].startswith("Sepsis-induced CRS")
    assert "Understanding Cytokine Release Syndrome" not in statements


def test_every_statement_is_matched_by_exactly_one_entry(statements: list[str]) -> None:
    problems: list[str] = []
    for s in statements:
        hits = [e["id"] for e in ENTRIES if normalize(e["match"]) in s]
        if len(hits) != 1:
            problems.append(f"{len(hits)} entries {hits} match: {s[:90]}")
    assert problems == []


def test_every_entry_matches_exactly_one_statement(statements: list[str]) -> None:
    problems = []
    for e in ENTRIES:
        n = sum(1 for s in statements if normalize(e["match"]) in s)
        if n != 1:
            problems.append(f"{e['id']} matches {n} statements")
    assert problems == []


def test_key_elements_are_traced(tspec: Spec) -> None:
    """Every composite criterion, invariant and unverified flag traces to the seed."""
    traced = {ref for e in ENTRIES for ref in e.get("encoded_by", ())}
    must = {f"invariant:{i.id}" for i in tspec.invariants if "seed" in i.cites}
    must |= {
        "definition:refractory_to_standard_therapy",
        "definition:severe_hyperinflammation",
        "definition:severe_clinical_scenario",
        "flag:post_cytosorb_il6_prognostic",
    }
    assert must - traced == set()
