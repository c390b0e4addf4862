"""What absent inputs leave open reads the same in the CLI text, the JSONL text line and the diagrams:
an output's possible values, possible flags with the inputs that would settle them, and the inputs to
record to decide (``undecided_outputs``, ``possible_flags``, ``missing_any_of``)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from crs_model import Engine, Spec
from crs_model.commands.core import _evaluate_jsonl
from crs_model.render import Overlay, diagram
from crs_model.report_text import decision_line, decision_text
from crs_model.vocabulary import (
    alternatives,
    deciding_text,
    possible_flag_text,
    sets_to_record,
    undecided_text,
)
from tests.test_render import edges_of, label_text, nodes_of, title_text

# The example: fever, hypotension, no vasopressor running, vasopressin absent, no tocilizumab
# yet: the grade is 2 or 3, both give the same first dose; the grade-3 flag stays possible.
VASOPRESSIN_ABSENT: dict[str, Any] = {
    "on_cytosorb": False,
    "etiology": "car_t",
    "weight_kg": 72.5,
    "temperature_c": 39.1,
    "hypotension": True,
    "vasopressor_count": 0,
    "oxygen_support": "none",
    "tocilizumab_doses": 0,
    "corticosteroids_given": False,
}
# Refractory severe CRS with every CytoSorb criterion met but ECMO status absent (found on random partial
# patients): the recommendation is decided, the ECMO side-branch flag is only possible.
ECMO_ABSENT: dict[str, Any] = {
    "etiology": "other",
    "age_years": 18.0,
    "weight_kg": 80.0,
    "bmi_kg_m2": 22.0,
    "pregnant": False,
    "temperature_c": 38.1,
    "hypotension": True,
    "vasopressor_count": 2,
    "vasopressin": False,
    "norepinephrine_equivalent_ug_kg_min": 0.3,
    "oxygen_support": "high_flow",
    "tocilizumab_doses": 2,
    "hours_since_last_tocilizumab": 8.1,
    "hours_since_first_tocilizumab": 72.0,
    "corticosteroids_given": True,
    "il6_pg_ml": 499.9,
    "crp_mg_l": 1.3,
    "ferritin_ng_ml": 10000.0,
    "d_dimer_mg_l_feu": 0.5,
    "organ_dysfunction_progressive": True,
    "severe_capillary_leak": True,
    "respiratory_failure_refractory_to_prone": True,
    "aki": False,
    "on_crrt": False,
    "anticoagulation_contraindicated": False,
    "heparin_induced_thrombocytopenia": False,
    "platelets_10e9_l": 571.8,
    "cytosorb_cartridges_used": 0,
    "on_cytosorb": False,
}
# Hypotension and the vasopressor count both absent: either one alone decides (found on random partial patients).
EITHER_DECIDES: dict[str, Any] = {
    "etiology": "car_t",
    "age_years": 17.9,
    "weight_kg": 31.8,
    "temperature_c": 38.0,
    "vasopressin": False,
    "norepinephrine_equivalent_ug_kg_min": 10.0,
    "oxygen_support": "none",
    "tocilizumab_doses": 3,
    "hours_since_last_tocilizumab": 27.8,
    "hours_since_first_tocilizumab": 30.0,
    "corticosteroids_given": False,
    "cytosorb_cartridges_used": 2,
    "on_cytosorb": False,
}


# ---------------------------------------------------------------------------- the wording


def test_alternatives_join_the_last_two_with_the_given_word() -> None:
    assert alternatives([]) == ""
    assert alternatives(["a"]) == "a"
    assert alternatives(["a", "b"]) == "a or b"
    assert alternatives(["a", "b", "c"], "and") == "a, b and c"


def test_undecided_text_lists_values_with_precision_and_unit() -> None:
    assert undecided_text([2, 3], "") == "2 or 3 (not decided by the inputs given)"
    assert undecided_text([358.8, 580.0], "mg", 1) == "358.8 or 580.0 mg (not decided by the inputs given)"
    assert undecided_text(None, "mg", 1) == "unknown (not decided by the inputs given)"
    assert (
        undecided_text([1, 2, 3, 4, 5, 6, 7], "h") == "one of 7 values from 1 to 7 h (not decided by the inputs given)"
    )


def test_deciding_text_reads_one_set_or_alternatives() -> None:
    assert deciding_text([]) == ""
    assert deciding_text([("vasopressin",)]) == "to decide, record: vasopressin"
    assert deciding_text([("a", "b")]) == "to decide, record: a and b"
    assert deciding_text([("a",), ("b", "c")]) == "to decide, record one of: a; or b and c"
    assert deciding_text([("a",), ("b",), ("c",)]) == "to decide, record one of: a; or b; or c"


def test_deciding_sets_fall_back_to_missing_without_the_exact_method() -> None:
    assert sets_to_record(("a",), (("a",), ("b",))) == [("a",), ("b",)]
    assert sets_to_record(("a", "b"), ()) == [("a", "b")]
    assert sets_to_record((), ()) == []


def test_possible_flag_text_names_the_inputs_that_would_settle_it() -> None:
    assert possible_flag_text("Side branch only.", ("on_ecmo",)) == "possible: Side branch only. — if known: on_ecmo"
    assert possible_flag_text("x", ("a", "b")) == "possible: x — if known: a, b"


# ---------------------------------------------------------------------------- the CLI text


def test_text_shows_the_possible_grades_and_the_possible_flag(spec: Spec, engine: Engine) -> None:
    d = engine.evaluate(VASOPRESSIN_ABSENT)
    assert d.recommendation == "give_tocilizumab"
    assert dict(d.undecided_outputs) == {"astct_grade": {"values": [2, 3]}}
    assert [f.if_known for f in d.possible_flags] == [("vasopressin",)]
    text = decision_text(d, spec)
    label = spec.outputs["astct_grade"].label
    assert f"\n{label}: 2 or 3 (not decided by the inputs given)\n" in text
    (pf,) = d.possible_flags
    assert f"\n  ? possible: {pf.note.text} — if known: vasopressin [{', '.join(pf.note.citations)}]" in text
    assert "flags:\n  ? possible:" in text  # no definitive flag: the possible one opens the section
    assert "to decide" not in text  # a definitive answer asks for nothing


def test_text_of_a_definitive_answer_with_a_possible_flag(spec: Spec, engine: Engine) -> None:
    d = engine.evaluate(ECMO_ABSENT)
    assert d.recommendation == "consider_cytosorb"
    (pf,) = [f for f in d.possible_flags if "on_ecmo" in f.if_known]
    text = decision_text(d, spec)
    assert f"? possible: {pf.note.text} — if known: {', '.join(pf.if_known)}" in text
    for f in d.flags:
        assert f"  ! {f.text}" in text
    assert text.index("flags:") < text.index("? possible:")


def test_text_asks_for_one_of_several_sets(spec: Spec, engine: Engine) -> None:
    d = engine.evaluate(EITHER_DECIDES)
    assert d.recommendation == "insufficient_data"
    assert len(d.missing_any_of) > 1
    assert d.missing == d.missing_any_of[0]
    text = decision_text(d, spec)
    assert f"\n{deciding_text(d.missing_any_of)}\n" in text
    assert "to decide, record one of: " in text
    for s in d.missing_any_of:
        assert alternatives(list(s), "and") in text


def test_text_without_the_exact_method_names_the_three_valued_missing(spec: Spec) -> None:
    d = Engine(spec, exact=False).evaluate(VASOPRESSIN_ABSENT)
    assert d.recommendation == "insufficient_data"
    assert d.missing == ("vasopressin",)
    assert d.missing_any_of == ()
    text = decision_text(d, spec)
    assert "\nto decide, record: vasopressin\n" in text
    assert "not decided by the inputs given" not in text  # the three-valued engine lists no possible values
    assert f"{spec.outputs['astct_grade'].label}: unknown\n" in text


def test_jsonl_text_line_shows_what_is_open(spec: Spec, engine: Engine) -> None:
    d = engine.evaluate(VASOPRESSIN_ABSENT)
    line = decision_line(d, spec)
    assert line.startswith("give_tocilizumab astct_grade=2|3 tocilizumab_dose_mg=580 ")
    assert line.endswith(" possible_flags=" + ",".join(f.note.id for f in d.possible_flags))
    d = engine.evaluate(EITHER_DECIDES)
    assert decision_line(d, spec).endswith(" missing=" + ";".join(",".join(s) for s in d.missing_any_of))


def test_cli_jsonl_text_uses_the_one_line_form(tmp_path: Path, spec: Spec, engine: Engine) -> None:
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps(VASOPRESSIN_ABSENT) + "\n" + json.dumps(EITHER_DECIDES) + "\n", encoding="utf-8")

    class Args:
        format = "text"
        trace = False
        explain = False

    out, err = io.StringIO(), io.StringIO()
    assert _evaluate_jsonl(engine, str(batch), Args(), out, err, many=False) == 0  # type: ignore[arg-type]
    expected = [
        f"{n}: {decision_line(engine.evaluate(p), spec)}" for n, p in enumerate((VASOPRESSIN_ABSENT, EITHER_DECIDES), 1)
    ]
    assert out.getvalue().splitlines() == expected
    assert err.getvalue() == ""


# ---------------------------------------------------------------------------- the diagrams


def test_diagram_title_shows_open_outputs_and_possible_flags(spec: Spec, engine: Engine) -> None:
    d = engine.evaluate(VASOPRESSIN_ABSENT)
    title = title_text(diagram(spec, Overlay(decision=d, patient_label="p.json")))
    assert "patient p.json: give_tocilizumab (give_first_tocilizumab)" in title
    assert f"{spec.outputs['astct_grade'].label}: 2 or 3 (not decided by the inputs given)" in title
    assert "— if known: vasopressin" in title
    assert "to decide" not in title


def test_diagram_draws_the_exact_path_through_an_unknown_guard(spec: Spec, engine: Engine) -> None:
    d = engine.evaluate(VASOPRESSIN_ABSENT)
    g = diagram(spec, Overlay(decision=d))
    edges = edges_of(g)
    step = next(s for s in d.trace if s.node == "crs_grade")
    nxt = d.path[d.path.index("crs_grade") + 1]
    assert step.taken is None  # three-valued evaluation does not take it ...
    e = edges[("crs_grade", nxt)]
    assert (e.get("color").strip('"'), e.get("penwidth").strip('"'), e.get("style").strip('"')) == (
        "#0072B2",
        "4",
        "dashed",
    )  # ... every valid completion does
    assert "guard = UNKNOWN" in label_text(e)
    assert "Dashed blue" in label_text(nodes_of(g)["legend"])
    plain = diagram(spec, Overlay(decision=engine.evaluate({**VASOPRESSIN_ABSENT, "vasopressin": False})))
    assert "Dashed blue" not in label_text(nodes_of(plain)["legend"])  # complete: no such edge, no legend line


@pytest.mark.parametrize("patient", [EITHER_DECIDES, VASOPRESSIN_ABSENT], ids=["several-sets", "three-valued"])
def test_diagram_insufficient_node_asks_for_the_deciding_sets(spec: Spec, patient: dict[str, Any]) -> None:
    exact = patient is EITHER_DECIDES
    d = Engine(spec, exact=exact).evaluate(patient)
    assert d.recommendation == "insufficient_data"
    g = diagram(spec, Overlay(decision=d))
    words = " ".join(label_text(nodes_of(g)["insufficient_data"]).split())
    assert deciding_text(sets_to_record(d.missing, d.missing_any_of)) in words
    assert deciding_text(sets_to_record(d.missing, d.missing_any_of)) in " ".join(title_text(g).split())


# ---------------------------------------------------------------------------- the documentation

DOC = Path(__file__).resolve().parent.parent / "docs" / "missing-data.md"


def test_the_documented_worked_example_is_the_real_output(spec: Spec, engine: Engine) -> None:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("$ cat p.json\n", 1)[1].split("\n```", 1)[0]
    patient_text, output = block.split("\n$ crs-model evaluate p.json\n", 1)
    patient = json.loads(patient_text)
    assert patient == VASOPRESSIN_ABSENT
    assert output == decision_text(engine.evaluate(patient), spec)
    # the JSON keys shown for both engines, each under its label in one block
    json_block = text.split("\nEngine(spec, exact=False):\n", 1)[1].split("\n```", 1)[0]
    three_valued, exact = json_block.split("\nEngine(spec):\n")
    for shown_text, eng in ((three_valued, Engine(spec, exact=False)), (exact, engine)):
        shown = json.loads(shown_text)
        d = eng.evaluate(patient).to_dict()
        assert len(shown) >= 9
        assert shown == {k: d[k] for k in shown}
