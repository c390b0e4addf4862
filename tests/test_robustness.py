"""``crs-model robustness``: Z3 regions where the recommendation flips within the measurement errors."""

from __future__ import annotations

import io
import json
from fractions import Fraction

import pytest

import crs_model
from crs_model.cli import main
from crs_model.verify.robustness import ALL, robustness
from tests.vignette_support import ROOT

DATA = ROOT / "tests" / "data" / "robustness"
FLIP = DATA / "flip.yaml"
NO_FLIP = DATA / "no_flip.yaml"


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def flips() -> crs_model.Spec:
    return crs_model.load_spec(FLIP)


def test_flip_regions_are_real(flips: crs_model.Spec) -> None:
    r = robustness(flips)
    assert r.measured == ("weight_kg", "temperature_c", "il6_pg_ml")
    assert r.regions
    assert r.confirmed
    assert not r.cap_hit
    engine = crs_model.Engine(flips, exact=False)
    for g in r.regions:
        # the engine itself gives both recommendations, not only the region's own flag
        assert engine.evaluate(dict(g.witness)).recommendation == g.old
        assert engine.evaluate(dict(g.moved)).recommendation == g.new
        assert g.old != g.new
        for name, var in flips.variables.items():
            err = var.measurement_error
            if g.scope in (name, ALL) and err is not None:
                a, b = Fraction(g.witness[name]), Fraction(g.moved[name])
                assert abs(b - a) <= Fraction(err.half_width(float(a))) + Fraction(1, 10**9), (name, a, b)
            else:  # all else equal, absent alike
                assert g.witness.get(name) == g.moved.get(name), name
    il6 = {(g.old, g.new) for g in r.regions if g.scope == "il6_pg_ml"}
    assert ("continue_standard_therapy", "consider_cytosorb") in il6
    assert ("consider_cytosorb", "continue_standard_therapy") in il6
    one = next(
        g
        for g in r.regions
        if (g.scope, g.old, g.new) == ("il6_pg_ml", "continue_standard_therapy", "consider_cytosorb")
    )
    assert [c.threshold for c in one.crossings] == [500]
    assert "IL-6 ≥ 500 pg/mL (definition:inflammatory_markers_markedly_elevated)" in one.crossings[0].uses
    assert "within ±20 % across 500 pg/mL: continue_standard_therapy becomes consider_cytosorb" in one.description
    assert one.description.endswith("(at cytosorb_indicated: Does a CytoSorb indication hold in severe CRS?)")
    for scope in r.scopes:  # flips between two definitive recommendations are listed first
        open_ = ["insufficient_data" in (g.old, g.new) for g in scope.regions]
        assert open_ == sorted(open_), scope.name
    temp = {(g.old, g.new) for g in r.regions if g.scope == "temperature_c"}
    assert ("no_crs", "supportive_care") in temp
    # the weight only sets the dose: alone it flips nothing
    assert next(s for s in r.scopes if s.name == "weight_kg").regions == ()


def test_no_flip_is_proven() -> None:
    code, out, _ = _run("robustness", str(NO_FLIP))
    assert code == 0
    assert "weight_kg (weight ±2 % [fixture_error]): no regions" in out
    assert "result: robust: no recommendation flips within the declared errors (proven)" in out


def test_cli_text_and_json() -> None:
    code, out, err = _run("robustness", str(FLIP), "--input", "il6_pg_ml")
    assert code == 1, err
    assert "il6_pg_ml (IL-6 ±20 % [fixture_error])" in out
    assert "measured: {" in out
    assert "moved:    {" in out
    assert "regions where the recommendation flips within the declared errors" in out
    code, out, _ = _run("robustness", str(FLIP), "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert list(doc) == ["spec", "measured", "robust", "cap", "cap_hit", "confirmed", "scopes", "regions"]
    assert doc["robust"] is False
    assert doc["confirmed"] is True
    assert doc["cap_hit"] is False
    assert [s["scope"] for s in doc["scopes"]] == ["weight_kg", "temperature_c", "il6_pg_ml", ALL]
    assert doc["measured"][2] == {"input": "il6_pg_ml", "relative": 0.2, "unit": "pg/mL", "cites": ["fixture_error"]}
    region = doc["regions"][0]
    assert list(region) == ["scope", "old", "new", "description", "crossings", "witness", "moved", "confirmed"]
    again = _run("robustness", str(FLIP), "--format", "json")[1]
    assert again == out  # deterministic


def test_cap_hit_is_said() -> None:
    code, out, _ = _run("robustness", str(FLIP), "--input", "il6_pg_ml", "--cap", "1")
    assert code == 1
    assert "cap hit: more than 1 regions" in out
    assert "(cap hit: not all listed)" in out
    doc = json.loads(_run("robustness", str(FLIP), "--cap", "1", "--format", "json")[1])
    assert doc["cap_hit"] is True
    assert len([g for g in doc["regions"] if g["scope"] == "il6_pg_ml"]) == 1


def test_bad_input_exits_2() -> None:
    code, out, err = _run("robustness", str(FLIP), "--input", "pregnant")
    assert code == 2
    assert out == ""
    assert (
        "--input pregnant: not an input with a measurement_error (the spec's: weight_kg, temperature_c, il6_pg_ml)"
        in err
    )
    assert _run("robustness", str(FLIP), "--cap", "0")[0] == 2
    assert _run("robustness", str(DATA / "missing.yaml"))[0] == 2


def test_shipped_spec_has_nothing_to_check() -> None:
    code, out, _ = _run("robustness")
    assert code == 0
    assert "no input declares a measurement error: nothing to check" in out


def test_undecided_is_a_failure() -> None:
    code, _, err = _run("robustness", str(FLIP), "--input", "il6_pg_ml", "--rlimit", "1")
    assert code == 1
    assert "undecided" in err
    assert "raise --rlimit" in err


def test_pack_robustness_table() -> None:
    from crs_model.report.inputs import PackInputs
    from crs_model.report.markdown_writer import to_markdown

    md = to_markdown(crs_model.load_spec(FLIP), PackInputs())
    assert "## Threshold robustness (measurement error)" in md
    assert "| **IL-6** `il6_pg_ml` | **±20 %** | \\[fixture\\_error · expert opinion\\] | 500 pg/mL | 10 |" in md
    assert "| **weight** `weight_kg` | **±2 %** | \\[fixture\\_error · expert opinion\\] | 30 kg | 0 |" in md
    assert "**18 region(s)** where the recommendation flips within the declared errors" in md
    shipped = to_markdown(crs_model.load_spec(), PackInputs())
    assert "No input declares a measurement error, so no threshold is checked against one." in shipped


def test_sarif_locates_each_region_at_the_error() -> None:
    code, out, _ = _run("robustness", str(FLIP), "--input", "il6_pg_ml", "--format", "sarif")
    doc = json.loads(out)
    assert code == 1
    assert doc["version"] == "2.1.0"
    results = doc["runs"][0]["results"]
    err = crs_model.load_spec(FLIP).variables["il6_pg_ml"].measurement_error
    assert err is not None
    assert len(results) == 10
    for res in results:
        region = res["locations"][0]["physicalLocation"]["region"]
        assert (region["startLine"], region["startColumn"]) == (err.loc.line, err.loc.column)
        assert res["level"] == "warning"
        assert res["properties"]["old"] != res["properties"]["new"]
