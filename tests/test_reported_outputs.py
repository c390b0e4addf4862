"""Reported outputs are declared in the spec (``outputs:``): order, always/listed, unit, precision."""

from __future__ import annotations

import json
import textwrap

import pytest

from crs_model.engine import Engine
from crs_model.errors import SpecError
from crs_model.loader import load_spec_bytes
from crs_model.model import OutcomeClass, ReportMode, Spec
from crs_model.report_text import decision_text
from crs_model.vocabulary import outcome_class

SPEC = textwrap.dedent(
    """\
    spec_format: 2
    metadata: {id: outs, title: outputs, version: 1.0.0, status: draft, date: 2026-01-01, authors: [x], jurisdiction: x}
    evidence: [{id: s, citation: c, kind: study, level: grade_low, confidence: primary}]
    variables:
      v: {type: int, min: 0, max: 10}
      x: {type: real, min: 0, max: 10}
    definitions:
      level: {type: int, expr: v, label: the level, cites: [s]}
      doubled: {type: real, expr: x * 2.05, unit: mg, label: doubled x, cites: [s]}
      high: {type: bool, expr: v > 7, cites: [s]}
    recommendations:
      act: {class: review, label: act now}
      wait: {class: no_condition}
    outcome_classes:
      review: {label: second opinion}
    outputs:
      level: {report: always}
      doubled: {precision: 1}
      high: {}
    graph:
      entry: n
      nodes:
        n:
          question: q
          hit_policy: unique
          edges:
            - {to: o1, when: v >= 5, cites: [s]}
            - {to: o2, when: v < 5, cites: [s]}
      outcomes:
        o1: {recommendation: act, title: a, outputs: [doubled, high], cites: [s]}
        o2: {recommendation: wait, title: b, cites: [s]}
    invariants: []
    """
)


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec_bytes(SPEC.encode(), "outs.yaml")


@pytest.fixture(scope="module")
def engine(spec: Spec) -> Engine:
    return Engine(spec)


def test_outputs_are_declared_with_defaults(spec: Spec) -> None:
    assert list(spec.outputs) == ["level", "doubled", "high"]
    level, doubled, high = spec.outputs.values()
    assert (level.report, level.precision, level.label) == (ReportMode.ALWAYS, None, "the level")
    assert (doubled.report, doubled.unit, doubled.precision) == (ReportMode.LISTED, "mg", 1)  # unit from definition
    assert (high.report, high.unit, high.label) == (ReportMode.LISTED, "", "high")
    assert spec.recommendations["act"].label == "act now"
    assert spec.recommendations["wait"].label == "wait"  # defaults to the code
    assert spec.invariant_symbols["recommendation"].type.values == ("act", "wait", "insufficient_data")


def test_a_listed_output_is_reported_where_listed_in_declared_order(engine: Engine) -> None:
    d = engine.evaluate({"v": 8, "x": 1.23})
    assert d.recommendation == "act"
    assert dict(d.outputs) == {"level": 8, "doubled": 2.5, "high": True}  # 2.5215 at precision 1
    assert list(d.to_dict())[:5] == ["recommendation", "outcome", "level", "doubled", "high"]
    assert d.to_json().startswith(
        '{"recommendation":"act","outcome":"o1","level":8,"doubled":2.5,"high":true,"undecided_outputs":{},"act'
    )
    assert json.loads(d.to_json()) == d.to_dict()
    assert d.values["doubled"] != 2.5  # guards and invariants see the exact value
    # elsewhere a listed output is null, even when it could be computed
    d = engine.evaluate({"v": 2, "x": 1.23})
    assert dict(d.outputs) == {"level": 2, "doubled": None, "high": None}


def test_an_always_output_is_reported_on_insufficient_data_too(engine: Engine) -> None:
    d = engine.evaluate({"v": 6})  # o1 needs doubled known: x is missing
    assert (d.recommendation, d.missing) == ("insufficient_data", ("x",))
    assert dict(d.outputs) == {"level": 6, "doubled": None, "high": None}
    d = engine.evaluate({})
    assert dict(d.outputs) == {"level": None, "doubled": None, "high": None}
    assert d.to_json().startswith('{"recommendation":"insufficient_data","outcome":null,"level":null,"doubled":null,')


def test_a_declared_output_reads_as_an_attribute(engine: Engine) -> None:
    d = engine.evaluate({"v": 8, "x": 1.0})
    assert (d.level, d.doubled, d.high) == (8, 2.1, True)
    assert not hasattr(d, "nothing_declared")
    with pytest.raises(AttributeError, match="no attribute or output 'nothing_declared'"):
        _ = d.nothing_declared
    with pytest.raises(TypeError):
        d.outputs["level"] = 3  # type: ignore[index]  # read-only


def test_text_shows_each_reported_output_under_its_label(spec: Spec, engine: Engine) -> None:
    text = decision_text(engine.evaluate({"v": 8, "x": 1.0}), spec)
    assert "the level: 8\ndoubled x: 2.1 mg\nhigh: yes\n" in text
    text = decision_text(engine.evaluate({"v": 1, "x": 1.0}), spec)
    assert "the level: 1\npath:" in text  # the listed outputs are not reported on o2


def test_class_titles_come_from_the_spec(spec: Spec) -> None:
    assert outcome_class(spec, "act").cls is OutcomeClass.REVIEW
    assert outcome_class(spec, "act").title == "second opinion"
    assert outcome_class(spec, "wait").title == "no condition"  # the toolkit's generic default


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("doubled: {precision: 1}", "doubled: {precision: 1, unit: g}", "unit 'g' differs from its definition's unit"),
        ("high: {}", "high: {report: sometimes}", "report='sometimes' is not one of always, listed"),
        ("high: {}", "hihg: {}", "output 'hihg' is not a definition (did you mean 'high'?)"),
        ("o2: {recommendation: wait,", "o2: {recommendation: act,", "recommendation 'wait' is declared but no outcome"),
        ("outputs: [doubled, high]", "outputs: [doubled, hgh]", "output 'hgh' is not declared under 'outputs'"),
        ("outcome_classes:\n  review:", "outcome_classes:\n  reviews:", "'reviews' is not one of no_condition"),
    ],
)
def test_output_and_code_errors_are_located(old: str, new: str, message: str) -> None:
    assert old in SPEC
    with pytest.raises(SpecError) as exc:
        load_spec_bytes(SPEC.replace(old, new, 1).encode(), "outs.yaml")
    assert message in str(exc.value)
    assert str(exc.value).startswith("outs.yaml:")
