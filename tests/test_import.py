"""Apps that only evaluate must not pay for the verifier, fuzzing or rendering."""

from __future__ import annotations

from tests.conftest import modules_loaded

HEAVY = ("z3", "hypothesis", "pydot", "networkx")


def test_import_is_light() -> None:
    assert modules_loaded("import crs_model", HEAVY) == []


def test_evaluation_path_imports_no_verifier_fuzzer_or_renderer() -> None:
    code = "import crs_model\ncrs_model.evaluate({'temperature_c': 39.0})"
    assert modules_loaded(code, ("z3", "hypothesis", "pydot")) == []
