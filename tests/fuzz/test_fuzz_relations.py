"""The spec format's metamorphic_relations section: loaded typed, errors located."""

from __future__ import annotations

import pytest

from crs_model.errors import SpecError
from crs_model.model import Spec
from tests.fuzz.conftest import planted

ANCHOR = "metamorphic_relations:\n"


def _with_relation(text: str) -> Spec:
    return planted(ANCHOR, ANCHOR + text)


def test_shipped_relations_are_loaded_and_cite_evidence(spec: Spec) -> None:
    rels = {r.id: r for r in spec.metamorphic_relations}
    assert "more_vasopressors_never_deescalate_cytosorb" in rels
    for r in rels.values():
        assert r.cites
        assert set(r.cites) <= set(spec.evidence)
        assert r.rationale
    vaso = rels["more_vasopressors_never_deescalate_cytosorb"]
    assert {k: f.text for k, f in vaso.change if f}["vasopressor_count"] == "vasopressor_count + 1"
    untreated = dict(rels["untreated_without_fever_is_no_crs"].change)
    assert untreated["hours_since_last_tocilizumab"] is None  # null: unknown in the follow-up
    assert f"relation:{vaso.id}" in spec.element_ids()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "  - id: bad_input\n    change:\n      vasopresor_count: 1\n    expect: true\n    cites: [seed]\n",
            "metamorphic relation 'bad_input'.change sets unknown input 'vasopresor_count' "
            "(did you mean 'vasopressor_count'?)",
        ),
        (
            "  - id: no_cites\n    change:\n      pregnant: true\n    expect: true\n",
            "metamorphic relation 'no_cites' must cite evidence",
        ),
        (
            "  - id: bad_expect\n    change:\n      pregnant: true\n"
            "    expect: recommendation + 1\n    cites: [seed]\n",
            "metamorphic relation 'bad_expect'.expect",
        ),
        (
            "  - id: bad_type\n    change:\n      pregnant: 3\n    expect: true\n    cites: [seed]\n",
            "metamorphic relation 'bad_type'.change.pregnant must be bool",
        ),
    ],
)
def test_relation_errors_are_located(entry: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        _with_relation(entry)
    problems = [p for p in info.value.problems if message in p.message]
    assert problems, str(info.value)
    loc = problems[0].location
    assert loc is not None
    assert loc.file == "planted.yaml"
    assert loc.line > 1
