"""Counterfactuals: "what would change this decision" (``Decision.counterfactuals()``, ``evaluate --explain``).

Every counterfactual is checked against the engine, not against the solver that found it:
the changed patient is valid and decided as claimed; a smaller change does not exist (a
brute-force search over each single input's values, run by the three-valued engine, for
every counterfactual of two or more changes, and a second solver query); codes left out
are proven out of reach.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from crs_model.cli import main
from crs_model.engine import Decision, Engine
from crs_model.errors import PatientError, SpecDefectError
from crs_model.model import Spec
from crs_model.text import Renderer
from crs_model.types import Base
from tests.conftest import ROOT, modules_loaded

z3 = pytest.importorskip("z3")

from crs_model.verify.counterfactual import Counterfactual, Explainer, Undecided, explainer_for  # noqa: E402

PATIENTS = sorted((ROOT / "specs" / "examples" / "patients").glob("*.json"))
# partial records: an insufficient_data decision, and one an exact decision settles
PARTIAL: tuple[dict[str, Any], ...] = (
    {"etiology": "car_t", "temperature_c": 39.0},
    {"on_cytosorb": False, "etiology": "car_t", "temperature_c": 39.5, "hypotension": False, "oxygen_support": "none"},
)


def _patients() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in PATIENTS:
        yield path.stem, json.loads(path.read_text(encoding="utf-8"))
    for i, partial in enumerate(PARTIAL):
        yield f"partial{i}", partial


CASES = list(_patients())


def _inputs(d: Decision, spec: Spec) -> dict[str, Any]:
    return {n: d.values[n] for n in spec.variables if d.values.get(n) is not None}


@pytest.fixture(scope="module")
def decisions(engine: Engine) -> dict[str, Decision]:
    return {name: engine.evaluate(p) for name, p in CASES}


@pytest.fixture(scope="module")
def cfs(decisions: dict[str, Decision]) -> dict[str, tuple[Counterfactual, ...]]:
    """Each case's counterfactuals, found once for the module (each search re-runs the exact engine)."""
    return {name: d.counterfactuals() for name, d in decisions.items()}


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_each_counterfactual_is_valid_and_reproduces_through_the_exact_engine(
    spec: Spec, engine: Engine, decisions: dict[str, Decision], cfs: dict[str, tuple[Counterfactual, ...]], name: str
) -> None:
    d = decisions[name]
    search = explainer_for(engine).search(d)
    assert search.dropped == ()  # the solver's answer and the engine's never disagree
    assert search.kept == cfs[name]  # what Decision.counterfactuals() gives
    assert search.kept, "every example patient can be moved to some other recommendation"
    base = _inputs(d, spec)
    codes = [c.recommendation for c in search.kept]
    assert d.recommendation not in codes
    assert codes == [r for r in spec.recommendations if r in codes]  # the spec's order, each code once
    fresh = Engine(spec)  # not the explainer's engine: an independent re-run
    for c in search.kept:
        assert c.change
        for n, v in c.change.items():
            assert v != base.get(n), f"{n} is listed as changed but keeps its value"
            var = spec.variables[n]
            if var.type.base == Base.INT:
                assert type(v) is int
            elif var.type.base == Base.REAL:
                assert type(v) in (int, float)
                assert Fraction(str(v)).denominator in (1, 2, 5, 10), f"{n}={v} is not a short decimal"
        assert list(c.change) == [n for n in spec.variables if n in c.change]  # declaration order
        after = fresh.evaluate({**base, **c.change})  # raises PatientError on an invalid change
        assert (after.recommendation, after.outcome) == (c.recommendation, c.outcome)
        strict = Engine(spec, exact=False).evaluate({**base, **c.change})
        assert strict.recommendation == c.recommendation  # definitive already without completions


def _single_changes(spec: Spec, base: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every one-input change over the values that stand for each cell of its domain."""
    for n, var in spec.variables.items():
        b = var.type.base
        values: list[Any]
        if b == Base.BOOL:
            values = [True, False]
        elif b == Base.ENUM:
            values = list(var.type.values)
        else:
            cuts = {float(t) for t in spec.index.thresholds.get(n, ())}
            cuts |= {float(x) for x in (var.minimum, var.maximum) if x is not None}
            cuts |= {float(v) for v in base.values() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            eps = 1 if b == Base.INT else 0.001
            values = sorted({c + d for c in cuts for d in (-eps, 0, eps)})
            if b == Base.INT:
                values = [int(v) for v in values if float(v).is_integer()]
        for v in values:
            if v != base.get(n):
                yield {n: v}


def test_minimality_no_single_change_reaches_a_code_that_needs_two_or_more(
    spec: Spec, engine: Engine, decisions: dict[str, Decision], cfs: dict[str, tuple[Counterfactual, ...]]
) -> None:
    strict = Engine(spec, exact=False)  # the decision the search requires: definitive without completions
    explainer = explainer_for(engine)
    checked = 0
    for name, d in decisions.items():
        base = _inputs(d, spec)
        singles: dict[str, set[str]] = {}
        for change in _single_changes(spec, base):
            try:
                rec = strict.evaluate({**base, **change}).recommendation
            except (PatientError, SpecDefectError):
                continue
            singles.setdefault(rec, set()).add(next(iter(change)))
        for c in cfs[name]:
            k = len(c.change)
            assert explainer.fewer_reach(d, c.recommendation, k)  # the claimed size works ...
            assert not explainer.fewer_reach(d, c.recommendation, k - 1), (name, c.recommendation)  # ... no fewer
            if k >= 2:
                checked += 1
                assert c.recommendation not in singles, (name, c.recommendation, singles.get(c.recommendation))
            else:  # the brute force is not blind: it finds every one-input change the solver found
                assert next(iter(c.change)) in singles.get(c.recommendation, set()), (name, c.recommendation)
    assert checked >= 20  # the brute force really ran on many two-or-more-input counterfactuals


def test_codes_left_out_are_proven_out_of_reach(
    spec: Spec, engine: Engine, decisions: dict[str, Decision], cfs: dict[str, tuple[Counterfactual, ...]]
) -> None:
    explainer = explainer_for(engine)
    left_out = 0
    for name, d in decisions.items():
        given = {c.recommendation for c in cfs[name]}
        for code in spec.recommendations:
            if code == d.recommendation or code in given:
                continue
            left_out += 1
            assert not explainer.fewer_reach(d, code, len(spec.variables))  # unbounded: no change at all
    assert left_out > 0


def test_a_change_that_needs_an_inconsistent_patient_is_never_given(
    spec: Spec, engine: Engine, decisions: dict[str, Decision], cfs: dict[str, tuple[Counterfactual, ...]]
) -> None:
    d = decisions["05_refractory_to_tocilizumab_add_corticosteroids"]
    base = _inputs(d, spec)
    with pytest.raises(PatientError, match="vasopressors_need_hypotension"):
        engine.evaluate({**base, "hypotension": False})  # the tempting one-input change is invalid
    (to_no_crs,) = [c for c in cfs["05_refractory_to_tocilizumab_add_corticosteroids"] if c.recommendation == "no_crs"]
    assert to_no_crs.change["hypotension"] is False
    assert to_no_crs.change["vasopressor_count"] == 0  # the constraint is kept by changing the count too
    # CytoSorb running with hours on the current cartridge cannot be undone (a known input is never
    # erased): every pathway behind "not running" is out of reach, and none is offered
    running = decisions["07_covid19_on_cytosorb_improved_continue"]
    assert "on_cytosorb" not in {n for c in cfs["07_covid19_on_cytosorb_improved_continue"] for n in c.change}
    with pytest.raises(PatientError, match="cartridge_hours_need_running_cytosorb"):
        engine.evaluate({**_inputs(running, spec), "on_cytosorb": False})


def test_partial_patients_may_record_absent_inputs(
    spec: Spec, decisions: dict[str, Decision], cfs: dict[str, tuple[Counterfactual, ...]]
) -> None:
    d = decisions["10_no_weight_insufficient_data"]
    assert d.recommendation == "insufficient_data"
    by_code = {c.recommendation: c for c in cfs["10_no_weight_insufficient_data"]}
    assert len(by_code) >= 5  # an insufficient_data decision gets counterfactuals too
    dose = next(o.recommendation for o in spec.outcomes.values() if o.outputs)  # the code whose output is missing
    assert set(by_code[dose].change) == set(d.missing)  # recording the missing input alone decides it
    assert by_code[dose].flips == ()  # same path: no guard turns, the output becomes known
    sparse = decisions["partial0"]
    recorded = {n for c in cfs["partial0"] for n in c.change if n not in _inputs(sparse, spec)}
    assert recorded, "changes of a sparse record include inputs it did not have"


def test_flips_name_the_guards_the_change_turns(
    spec: Spec, engine: Engine, decisions: dict[str, Decision], cfs: dict[str, tuple[Counterfactual, ...]]
) -> None:
    shown = 0
    for name, d in decisions.items():
        for c in cfs[name]:
            after = engine.evaluate({**_inputs(d, spec), **c.change})
            for f in c.flips:
                assert f.node in d.path
                assert f.node in after.path
                assert f.was is not f.now
                assert f.to in {e.target for e in spec.nodes[f.node].edges}
            # where the paths part, the guard to the new branch is among the flips, turned true
            parts = [i for i in range(1, min(len(d.path), len(after.path))) if d.path[i] != after.path[i]]
            if parts:
                i = parts[0]
                assert d.path[:i] == after.path[:i]
                assert any(f.node == d.path[i - 1] and f.to == after.path[i] and f.now is True for f in c.flips)
                shown += 1
    assert shown > 20
    (c,) = [c for c in cfs["06_cart_grade4_refractory_consider_cytosorb"] if c.change == {"bmi_kg_m2": 40}]
    assert [(f.node, f.to, f.was, f.now) for f in c.flips][:1] == [("device_contraindicated", c.outcome, False, True)]
    edge = next(e for e in spec.nodes["device_contraindicated"].edges if e.target == c.outcome)
    assert c.flips[0].guard == Renderer(spec.symbols).render(edge.guard.ast)  # in words, not the formula
    assert c.flips[0].guard != edge.guard.text


def test_text_uses_the_spec_vocabulary(spec: Spec, cfs: dict[str, tuple[Counterfactual, ...]]) -> None:
    for found in cfs.values():
        for c in found:
            assert c.text.startswith(spec.recommendations[c.recommendation].label + " if ")
            for n in c.change:
                assert spec.variables[n].label in c.text
    texts = [c.text for c in cfs["09_four_doses_given_continue_standard_therapy"]]
    assert f"{spec.recommendations['add_corticosteroids'].label} if corticosteroids given were no" in texts


def test_values_prefer_the_thresholds_the_spec_names(spec: Spec, cfs: dict[str, tuple[Counterfactual, ...]]) -> None:
    (c,) = [c for c in cfs["01_afebrile_no_crs"] if c.recommendation == "supportive_care"]
    (threshold,) = spec.index.thresholds["temperature_c"]
    assert c.change == {"temperature_c": threshold}  # at the boundary, not an arbitrary rational
    (down,) = [c for c in cfs["02_grade1_fever_supportive_care"] if c.recommendation == "no_crs"]
    assert down.change == {"temperature_c": threshold - 0.1}  # just below a strict boundary


def test_deterministic_whatever_the_solver_was_asked_before(
    spec: Spec, engine: Engine, cfs: dict[str, tuple[Counterfactual, ...]]
) -> None:
    # the module's searches ran in case order; now in reverse, on a fresh explainer built from a
    # three-valued engine (another encoding, another history), and again on the cached one
    other = Explainer(Engine(spec, exact=False))
    for name, patient in reversed(CASES[:6]):
        assert other.search(engine.evaluate(patient)).kept == cfs[name]
        assert engine.evaluate(patient).counterfactuals() == cfs[name]


def test_an_undecided_query_raises_and_claims_nothing(
    spec: Spec, engine: Engine, decisions: dict[str, Decision]
) -> None:
    starved = Explainer(engine, rlimit=1)
    with pytest.raises(Undecided):
        starved.search(decisions["06_cart_grade4_refractory_consider_cytosorb"])


def test_import_loads_no_z3_until_counterfactuals_is_called() -> None:
    evaluate = "import crs_model\nd = crs_model.evaluate({'etiology': 'car_t', 'temperature_c': 39.0})"
    assert modules_loaded(evaluate, ("z3",)) == []
    assert modules_loaded(evaluate + "\nd.to_dict()\nd.trace", ("z3",)) == []
    assert modules_loaded(evaluate + "\nd.counterfactuals()", ("z3",)) == ["z3"]


# ---------------------------------------------------------------------------- CLI


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_cli_explain_json_adds_counterfactuals_and_keeps_every_other_key(
    cfs: dict[str, tuple[Counterfactual, ...]],
) -> None:
    path = str(PATIENTS[5])
    code, out, err = _run("evaluate", path, "--format", "json")
    assert (code, err) == (0, "")
    plain = json.loads(out)
    code, out, err = _run("evaluate", path, "--format", "json", "--explain")
    assert (code, err) == (0, "")
    explained = json.loads(out)
    assert list(explained) == [*plain, "counterfactuals"]
    assert {k: v for k, v in explained.items() if k != "counterfactuals"} == plain
    assert explained["counterfactuals"] == [c.to_dict() for c in cfs[PATIENTS[5].stem]]
    first = explained["counterfactuals"][0]
    assert list(first) == ["recommendation", "outcome", "change", "flips", "text"]
    assert list(first["flips"][0]) == ["node", "to", "guard", "was", "now"]


def test_cli_explain_text_lists_them_under_the_decision(cfs: dict[str, tuple[Counterfactual, ...]]) -> None:
    code, out, err = _run("evaluate", str(PATIENTS[8]), "--explain")
    assert (code, err) == (0, "")
    head, _, tail = out.partition("what would change this decision:\n")
    assert head.startswith("recommendation: continue_standard_therapy")
    for c in cfs[PATIENTS[8].stem]:
        assert f"  - {c.recommendation}: {c.text} (outcome {c.outcome})\n" in tail
    assert "      at corticosteroids_started: " in tail


def test_cli_explain_jsonl_batch(tmp_path: Path, cfs: dict[str, tuple[Counterfactual, ...]]) -> None:
    lines = [json.dumps(p) for _, p in CASES[:3]] + ['{"etiology": "nope"}']
    batch = tmp_path / "b.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = _run("evaluate", str(batch), "--explain")
    assert code == 2  # the invalid line
    assert "some lines were invalid" in err
    records = [json.loads(x) for x in out.splitlines()]
    assert len(records) == 4
    for (name, _), rec in zip(CASES[:3], records, strict=False):
        assert rec["counterfactuals"] == [c.to_dict() for c in cfs[name]]
    assert records[3]["line"] == 4
    assert "error" in records[3]
    code, out, _ = _run("evaluate", str(batch), "--explain", "--format", "text")
    assert out.count("what would change this decision:") == 3
    code, out, _ = _run("evaluate", str(batch))
    assert "counterfactuals" not in out  # only with --explain


def test_cli_reports_an_undecided_search_instead_of_claiming_a_result() -> None:
    from crs_model.commands.core import _counterfactuals

    class Starved:  # a decision whose search the solver could not decide
        def counterfactuals(self) -> tuple[Counterfactual, ...]:
            raise Undecided("max. resource limit exceeded")

    err = io.StringIO()
    assert _counterfactuals(Starved(), err, "p.json") is None
    assert err.getvalue() == (
        "crs-model: error: p.json: the solver could not decide what would change this decision "
        "(resource limit): max. resource limit exceeded\n"
    )


def test_text_says_so_when_nothing_reaches_another_recommendation() -> None:
    from crs_model.report_text import counterfactuals_text

    assert counterfactuals_text((), indent="  ") == (
        "  what would change this decision:\n    (no valid change of the inputs reaches another recommendation)"
    )
