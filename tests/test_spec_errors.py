"""Golden spec errors: each file in tests/data/bad_specs/ is tests/data/good_min.yaml
with one defect; its ``.expected`` file holds the exact ``file:line:col: error:``
lines (reviewed by hand). Set ``CRS_UPDATE_GOLDEN=1`` to rewrite them after a
deliberate wording change, then review the diff.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from crs_model.cli import main
from crs_model.errors import SpecError
from crs_model.loader import load_spec_bytes, load_spec_file
from tests.vignette_support import ROOT

DATA = ROOT / "tests" / "data"
BAD = sorted((DATA / "bad_specs").glob("*.yaml"))
UPDATE = os.environ.get("CRS_UPDATE_GOLDEN") == "1"

# The token each case's first problem must point at (line:col checked independently
# of the golden text, so a wrong column cannot be blessed by regenerating goldens).
POINTS_AT = {
    "bad_enum_literal": "'cart'",
    "bad_hit_policy": "uniqe",
    "bad_version": "'1.0'",
    "cyrillic_name": "іgh",
    "digit_separator": "3__8_",
    "float_overflow": "1e400",
    "fullwidth_digit": "３８",
    "int_overflow": "1000000",
    "too_many_digits": "0.123",
    "unicode_digit": "3৪",
    "yaml_float_overflow": "1.0e+400",
    "yaml_huge_int": "1000000",
    "yaml_inf": ".inf",
    "yaml_octal": "0500",
    "dangling_edge": "lowe",
    "deep_nesting": "(",
    "deep_yaml": "[",
    "definition_cycle": "il6_elevated:",
    "duplicate_key": "title:",
    "graph_cycle": "recheck",
    "import_os": "__import__",
    "long_expression": "il6_pg_ml",
    "syntax_error": "= il6_high",
    "type_error": "il6_high and",
    "unknown_evidence": "scr]",
    "unknown_key": "cite:",
    "unknown_variable": "il_6",
    "unreachable_node": "orphan:",
    "yaml_alias": "*sources",
}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _problems(path: Path) -> SpecError:
    with pytest.raises(SpecError) as exc:
        load_spec_bytes(path.read_bytes(), _rel(path))
    return exc.value


def test_base_spec_is_valid() -> None:
    spec = load_spec_file(DATA / "good_min.yaml")
    assert spec.entry == "start"


def test_every_case_is_listed() -> None:
    assert sorted(p.stem for p in BAD) == sorted(POINTS_AT)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_golden_message(path: Path) -> None:
    got = "\n".join(str(p) for p in _problems(path).problems) + "\n"
    golden = path.with_suffix(".expected")
    if UPDATE:
        golden.write_text(got, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_location_points_at_the_offending_token(path: Path) -> None:
    first = _problems(path).problems[0]
    assert first.location is not None
    assert first.location.file == _rel(path)
    line = path.read_text(encoding="utf-8").splitlines()[first.location.line - 1]
    assert line[first.location.column - 1 :].startswith(POINTS_AT[path.stem]), line


@pytest.mark.parametrize("name", ["import_os", "unknown_variable", "graph_cycle", "unicode_digit", "yaml_huge_int"])
def test_check_spec_cli(name: str) -> None:
    path = DATA / "bad_specs" / f"{name}.yaml"
    out, err = io.StringIO(), io.StringIO()
    cwd = Path.cwd()
    os.chdir(ROOT)  # messages name the file as given on the command line
    try:
        rc = main(["check-spec", _rel(path)], out, err)
    finally:
        os.chdir(cwd)
    assert rc == 2
    assert out.getvalue() == ""
    golden = path.with_suffix(".expected").read_text(encoding="utf-8")
    assert err.getvalue() == golden + "crs-model: spec not loaded (1 problem)\n"


def test_import_is_never_executed() -> None:
    """The __import__ spec is refused at parse time: nothing is imported or run."""
    err = _problems(DATA / "bad_specs" / "import_os.yaml")
    assert "unknown function '__import__'" in str(err)
