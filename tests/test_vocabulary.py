"""One presentation vocabulary: every output words and colours a patient, a finding and an outcome alike."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from crs_model.engine import Engine
from crs_model.model import Recommendation, Spec
from crs_model.pyeval import compile_expr
from crs_model.render import Overlay, diagram
from crs_model.report import PackInputs, to_html, to_markdown
from crs_model.report.html_writer import pack_css
from crs_model.report_text import decision_text
from crs_model.text import Renderer
from crs_model.vocabulary import (
    SEVERITIES,
    SEVERITY_COLOUR,
    SEVERITY_ORDER,
    OutcomeClass,
    Tone,
    explain,
    outcome_class,
    status_tone,
    truth_text,
    value_text,
    values_read,
)
from tests.conftest import SPEC_PATH
from tests.test_render import attr, edges_of, label_text, nodes_of

PATIENTS = sorted((SPEC_PATH.parent / "examples" / "patients").glob("*.json"))


def test_value_wording() -> None:
    assert [truth_text(v) for v in (True, False, None)] == ["true", "false", "unknown"]
    cases = [
        (None, "unknown"),
        (True, "yes"),
        (False, "no"),
        (320.0, "320"),
        (38.5, "38.5"),
        (3, "3"),
        ("car_t", "car_t"),
    ]
    assert [value_text(v) for v, _ in cases] == [want for _, want in cases]


def test_every_recommendation_has_one_class() -> None:
    assert {outcome_class(r) for r in Recommendation} == set(OutcomeClass)
    assert outcome_class("cytosorb_contraindicated") is OutcomeClass.CONTRAINDICATED
    with pytest.raises(ValueError, match="not_a_code"):
        outcome_class("not_a_code")


def test_status_words_have_one_tone() -> None:
    assert status_tone("proven", Tone.WARN) is Tone.OK
    assert status_tone("refuted", Tone.WARN) is Tone.BAD
    assert status_tone("draft", Tone.OK) is Tone.WARN
    assert status_tone("no such word", Tone.INFO) is Tone.INFO
    assert [SEVERITIES[s].tone for s in ("error", "warning", "info")] == [Tone.BAD, Tone.WARN, Tone.INFO]
    assert sorted(SEVERITY_ORDER, key=SEVERITY_ORDER.__getitem__) == ["error", "warning", "info"]
    assert {s: st.colour for s, st in SEVERITIES.items()} == SEVERITY_COLOUR


def test_explain_names_the_condition_its_value_and_every_input(spec: Spec) -> None:
    guard = spec.definitions["inflammatory_markers_markedly_elevated"].formula.ast
    env = {"il6_pg_ml": 320.0, "crp_mg_l": None, "ferritin_ng_ml": 900.0}
    value = compile_expr(guard, spec.symbols)(env)
    text = explain(Renderer(spec.symbols).render(guard), value, values_read(guard, env, spec.symbols))
    assert text == (
        "'IL-6 ≥ 500 pg/mL or CRP > 100 mg/L or ferritin > 10,000 ng/mL' was unknown: "
        "CRP (crp_mg_l) was unknown, ferritin (ferritin_ng_ml) was 900, IL-6 (il6_pg_ml) was 320"
    )
    env["crp_mg_l"] = 12.5
    value = compile_expr(guard, spec.symbols)(env)
    assert explain("markers", value, values_read(guard, env, spec.symbols)).startswith("'markers' was false: CRP")
    assert explain("dose", 580.0, []) == "'dose' was 580"


def test_pack_css_colours_are_generated_from_the_vocabulary() -> None:
    css = pack_css()
    assert "$" not in css
    for c in OutcomeClass:
        assert f".badge.{c.css_class}{{background:{c.fill};border-color:{c.border};color:{c.ink}}}" in css
    for t in Tone:
        assert f"--{t.css_class}:{t.colour}" in css
        assert f".badge.{t.css_class}{{" in css
        assert t.tint in css
    # the data file holds no class colour of its own: they come only from the vocabulary
    raw = (Path(__file__).resolve().parent.parent / "crs_model" / "report" / "pack.css").read_text(encoding="utf-8")
    for c in OutcomeClass:
        assert c.fill not in raw
        assert c.css_class not in raw


def test_pack_and_diagram_show_an_outcome_in_the_same_class_colours(spec: Spec) -> None:
    page = to_html(spec, PackInputs())
    nodes = nodes_of(diagram(spec))
    for oid, o in spec.outcomes.items():
        cls = outcome_class(o.recommendation)
        assert attr(nodes[oid], "fillcolor") == cls.fill
        assert attr(nodes[oid], "color") == cls.border
        assert f'<span class="badge {cls.css_class}">{cls.title}</span>' in page
        assert re.search(rf"\.badge\.{cls.css_class}\{{background:{cls.fill};", page)


def test_markdown_callouts_use_the_tone_icons(spec: Spec) -> None:
    md = to_markdown(spec, PackInputs())
    assert f"> {Tone.BAD.icon} This exact version" in md  # no sign-off record for these bytes
    assert f"> {Tone.WARN.icon} The verifier was not run" in md


@pytest.mark.parametrize("path", PATIENTS, ids=lambda p: p.stem)
def test_one_patient_reads_the_same_in_text_and_diagram(spec: Spec, engine: Engine, path: Path) -> None:
    d = engine.evaluate(json.loads(path.read_text(encoding="utf-8")))
    text = decision_text(d, spec, trace=True)
    edges = edges_of(diagram(spec, Overlay(decision=d)))
    assert d.trace
    for step in d.trace:
        for target, v in step.guards:
            assert f"{target}={truth_text(v)}" in text
            assert f"guard = {truth_text(v)}".lower() in label_text(edges[(step.node, target)]).lower()
            guard = next(e.guard.ast for e in spec.nodes[step.node].edges if e.target == target)
            for r in values_read(guard, d.values, spec.symbols):
                assert f"{r.label} = {value_text(r.value)}" in label_text(edges[(step.node, target)])
