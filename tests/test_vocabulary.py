"""One presentation vocabulary: every output words and colours a patient, a finding and an outcome alike."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from crs_model import load_spec
from crs_model.engine import Engine
from crs_model.model import OutcomeClass, Spec
from crs_model.pyeval import compile_expr
from crs_model.render import Overlay, diagram
from crs_model.report import PackInputs, to_html, to_markdown
from crs_model.report.html_writer import pack_css
from crs_model.report_text import decision_text
from crs_model.text import Renderer
from crs_model.vocabulary import (
    ALL_CLASSES,
    SEVERITIES,
    SEVERITY_COLOUR,
    SEVERITY_ORDER,
    Tone,
    class_style,
    explain,
    outcome_class,
    status_tone,
    truth_text,
    value_text,
    values_read,
)
from tests.conftest import SPEC_PATH
from tests.test_render import attr, edges_of, label_text, nodes_of

ROOT = Path(__file__).resolve().parent.parent
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


def test_every_recommendation_has_one_class(spec: Spec) -> None:
    assert {outcome_class(spec, r).cls for r in spec.recommendations} == set(OutcomeClass) - {
        OutcomeClass.INSUFFICIENT,
    }
    assert outcome_class(spec, "specialist_review").cls is OutcomeClass.REVIEW
    assert outcome_class(spec, "cytosorb_contraindicated").cls is OutcomeClass.CONTRAINDICATED
    assert outcome_class(spec, "insufficient_data").cls is OutcomeClass.INSUFFICIENT
    with pytest.raises(KeyError, match="not_a_code"):
        outcome_class(spec, "not_a_code")


def test_class_titles_default_to_generic_words_and_the_spec_renames_them(spec: Spec) -> None:
    assert [c.title for c in ALL_CLASSES] == [
        "no condition",
        "standard therapy",
        "device",
        "specialist review",
        "contraindicated",
        "insufficient data",
    ]
    assert outcome_class(spec, "no_crs").title == "no CRS"  # outcome_classes.no_condition.label
    assert outcome_class(spec, "give_tocilizumab").title == "standard therapy"  # not renamed: the default
    # the five colour sets of the first version are kept exactly; review adds a sixth
    assert [(c.fill, c.border, c.ink) for c in ALL_CLASSES if c.cls is not OutcomeClass.REVIEW] == [
        ("#EEEEEE", "#777777", "#333"),
        ("#D6E6F5", "#0072B2", "#003d63"),
        ("#D5EFD9", "#009E73", "#00573f"),
        ("#F8D3D3", "#C0392B", "#7d1f16"),
        ("#FFF1C9", "#B8860B", "#6b4e06"),
    ]
    assert len({c.fill for c in ALL_CLASSES}) == len(ALL_CLASSES)
    assert class_style(OutcomeClass.DEVICE, spec).css_class == "class-device"


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
    for c in ALL_CLASSES:
        assert f".badge.{c.css_class}{{background:{c.fill};border-color:{c.border};color:{c.ink}}}" in css
    for t in Tone:
        assert f"--{t.css_class}:{t.colour}" in css
        assert f".badge.{t.css_class}{{" in css
        assert t.tint in css
    # the data file holds no class colour of its own: they come only from the vocabulary
    raw = (Path(__file__).resolve().parent.parent / "crs_model" / "report" / "pack.css").read_text(encoding="utf-8")
    for c in ALL_CLASSES:
        assert c.fill not in raw
        assert c.css_class not in raw


def test_pack_and_diagram_show_an_outcome_in_the_same_class_colours(spec: Spec) -> None:
    page = to_html(spec, PackInputs())
    nodes = nodes_of(diagram(spec))
    for oid, o in spec.outcomes.items():
        cls = outcome_class(spec, o.recommendation)
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


# ---------------------------------------------------------------------------- clinical content only in the spec

PRESENTATION = [
    "crs_model/diagram.py",
    "crs_model/dot_labels.py",
    "crs_model/graphviz.py",
    "crs_model/render.py",
    "crs_model/report_text.py",
    "crs_model/vocabulary.py",
    *(f"crs_model/report/{p.name}" for p in sorted((ROOT / "crs_model" / "report").glob("*.py"))),
]


def _literals(path: Path) -> list[str]:
    """Every string literal in a module except docstrings (f-string pieces included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]


def test_presentation_modules_hold_no_clinical_text_of_the_spec(spec: Spec) -> None:
    phrases = {s.label for s in spec.symbols.values() if s.label}
    phrases |= {o.title for o in spec.outcomes.values()}
    for o in spec.outcomes.values():
        for text in [a.text for a in o.actions] + [f.text for f in o.flags]:
            words = text.split()
            phrases |= {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}  # every 3-word run
    literals = [(p, s) for p in PRESENTATION for s in _literals(ROOT / p)]
    assert literals
    hits = sorted(
        {
            (p, phrase)
            for p, s in literals
            for phrase in phrases
            if phrase in s and re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", s)
        }
    )
    assert hits == []


def test_text_output_words_come_from_the_spec(tmp_path: Path) -> None:
    raw = SPEC_PATH.read_text(encoding="utf-8")
    renamed = raw.replace("    label: tocilizumab dose\n", "    label: anti-IL-6 dose\n", 1)
    renamed = renamed.replace("    label: ASTCT grade\n", "    label: CRS grade\n", 1)
    assert renamed.count("anti-IL-6 dose") == 1
    assert "CRS grade\n" in renamed
    variant = tmp_path / "variant.yaml"
    variant.write_text(renamed, encoding="utf-8")
    spec = load_spec(variant)
    patient = json.loads((SPEC_PATH.parent / "examples" / "patients" / "03_grade2_first_tocilizumab.json").read_text())
    d = Engine(spec).evaluate(patient)
    text = decision_text(d, spec)
    assert f"anti-IL-6 dose: {d.outputs['tocilizumab_dose_mg']:.1f} mg\n" in text
    assert "CRS grade: 2\n" in text
    assert "tocilizumab dose" not in text
    # how the drug is given is the spec's action text, shown once, under actions
    assert text.count("IV over 60 min") == sum("IV over 60 min" in a.text for a in d.actions) == 1
