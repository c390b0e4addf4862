"""Apps that only evaluate must not pay for the verifier, fuzzing or rendering."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("z3", "hypothesis", "pydot", "networkx")


def test_import_is_light() -> None:
    code = f"import sys, crs_model; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""


def test_evaluation_path_imports_no_verifier_fuzzer_or_renderer() -> None:
    code = (
        "import sys, crs_model\n"
        "crs_model.evaluate({'temperature_c': 39.0})\n"
        "print(','.join(m for m in ('z3', 'hypothesis', 'pydot') if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""
