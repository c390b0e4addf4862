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
from crs_model.expr import MAX_TERMS, MAX_TREE_DEPTH, measure, names
from crs_model.loader import MAX_DEFINITION_CHAIN, MAX_INLINED_DEPTH, load_spec_bytes, load_spec_file
from crs_model.model import Spec
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
    # spec_format 2: declared codes, classes and outputs
    "spec_format_1": "1",
    "undeclared_code": "consider_cytosrb",
    "builtin_code": "insufficient_data:",
    "insufficient_class": "insufficient}",
    "bad_class": "devise",
    "unknown_output": "il6_elevatd:",
    "output_precision": "1}",
    "undeclared_output": "il6_elevated]",
    "definition_precision": "precision:",
    "output_decision_key": "path:",
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
    assert err.getvalue() == golden + "crs-model: error: spec not loaded (1 problem)\n"


def test_import_is_never_executed() -> None:
    """The __import__ spec is refused at parse time: nothing is imported or run."""
    err = _problems(DATA / "bad_specs" / "import_os.yaml")
    assert "unknown function '__import__'" in str(err)


# ------------------------------------------------------------------ size bounds
def _bounded_spec(defs: list[tuple[str, str]]) -> str:
    """good_min.yaml with an int input ``n`` and ``defs``; the last one (bool) joins both guards."""
    text = (DATA / "good_min.yaml").read_text(encoding="utf-8")
    text = text.replace("  etiology:\n", "  n:\n    type: int\n    min: 0\n    max: 100\n  etiology:\n", 1)
    body = "".join(f"  {name}:\n    expr: {expr}\n    cites: [src]\n" for name, expr in defs)
    text = text.replace("definitions:\n", "definitions:\n" + body, 1)
    last = defs[-1][0]
    text = text.replace("when: il6_elevated\n", f"when: il6_elevated and {last}\n", 1)
    return text.replace("when: not il6_elevated\n", f"when: not (il6_elevated and {last})\n", 1)


def _chain(n: int, step: str) -> list[tuple[str, str]]:
    defs = [("d1", "n" + step)]
    defs += [(f"d{i}", f"d{i - 1}{step}") for i in range(2, n + 1)]
    return [*defs, ("deep", f"d{n} >= 0")]


# name -> (definitions just under the bound, just over it, the measured value at the bound, message)
BOUNDS: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]], str]] = {
    "tree_depth": (
        [("deep", " + ".join(["n"] * (MAX_TREE_DEPTH - 1)) + " >= 0")],
        [("deep", " + ".join(["n"] * MAX_TREE_DEPTH) + " >= 0")],
        f"expression is {MAX_TREE_DEPTH + 1} levels deep once parsed (at most {MAX_TREE_DEPTH})",
    ),
    "flat_or": (
        [("deep", " or ".join(["n > 1"] * (MAX_TREE_DEPTH - 1)))],
        [("deep", " or ".join(["n > 1"] * MAX_TREE_DEPTH))],
        f"levels deep once parsed (at most {MAX_TREE_DEPTH})",
    ),
    "terms": (
        [("deep", "min(" + ", ".join(["n"] * (MAX_TERMS - 3)) + ") >= 0")],
        [("deep", "min(" + ", ".join(["n"] * (MAX_TERMS - 2)) + ") >= 0")],
        f"expression has {MAX_TERMS + 1} terms (at most {MAX_TERMS})",
    ),
    "definition_chain": (
        _chain(MAX_DEFINITION_CHAIN - 1, " + 1"),
        _chain(MAX_DEFINITION_CHAIN, " + 1"),
        f"definition 'deep' ends a chain of {MAX_DEFINITION_CHAIN + 1} definitions",
    ),
    "inlined_depth": (
        _chain(31, " + 1 + 1 + 1 + 1"),
        [("d1", "n + 1 + 1 + 1 + 1 + 1"), *_chain(31, " + 1 + 1 + 1 + 1")[1:]],
        f"is {MAX_INLINED_DEPTH + 1} levels deep with its definitions inlined (at most {MAX_INLINED_DEPTH})",
    ),
}


def _largest(spec: Spec) -> dict[str, int]:
    """The spec's largest tree depth, term count, definition chain and inlined depth."""
    inlined: dict[str, int] = {}
    chain: dict[str, int] = {}
    for name, d in spec.definitions.items():
        inlined[name] = measure(d.formula.ast, inlined)[0]
        chain[name] = 1 + max((chain[x] for x in names(d.formula.ast) if x in chain), default=0)
    forms = [d.formula for d in spec.definitions.values()]
    forms += [e.guard for n in spec.nodes.values() for e in n.edges] + [i.formula for i in spec.invariants]
    return {
        "tree_depth": max(measure(f.ast)[0] for f in forms),
        "terms": max(measure(f.ast)[1] for f in forms),
        "definition_chain": max(chain.values()),
        "inlined_depth": max(measure(f.ast, inlined)[0] for f in forms),
    }


def test_bounds_are_generous_for_the_shipped_spec() -> None:
    big = _largest(load_spec_file(ROOT / "specs" / "cytosorb_crs.yaml"))
    assert big["tree_depth"] * 4 <= MAX_TREE_DEPTH
    assert big["terms"] * 4 <= MAX_TERMS
    assert big["definition_chain"] * 4 <= MAX_DEFINITION_CHAIN
    assert big["inlined_depth"] * 4 <= MAX_INLINED_DEPTH


@pytest.mark.parametrize("bound", sorted(BOUNDS))
def test_spec_at_a_bound_runs_every_command(tmp_path: Path, bound: str) -> None:
    under, _, _ = BOUNDS[bound]
    spec_path = tmp_path / "at_bound.yaml"
    spec_path.write_text(_bounded_spec(under), encoding="utf-8")
    big = _largest(load_spec_file(spec_path))
    want = {"flat_or": "tree_depth"}.get(bound, bound)
    limit = {
        "tree_depth": MAX_TREE_DEPTH,
        "terms": MAX_TERMS,
        "definition_chain": MAX_DEFINITION_CHAIN,
        "inlined_depth": MAX_INLINED_DEPTH,
    }[want]
    assert big[want] == limit  # exactly at the bound, not somewhere below it
    patient = tmp_path / "p.json"
    patient.write_text('{"il6_pg_ml": 600, "n": 5}', encoding="utf-8")
    spec = str(spec_path)
    runs = {
        "check-spec": ["check-spec", spec],
        "evaluate": ["evaluate", "--spec", spec, str(patient), "--format", "json"],
        "verify": ["verify", spec, "--format", "json"],
        "render": ["render", spec, "--out", str(tmp_path / "diagrams")],
        "report": ["report", spec, "--out", str(tmp_path / "pack.html")],
        "schema": ["schema", spec],
        "fuzz": ["fuzz", spec, "--examples", "20"],
    }
    for command, argv in runs.items():
        out, err = io.StringIO(), io.StringIO()
        rc = main(argv, out, err)
        assert "Traceback" not in err.getvalue(), (command, err.getvalue())
        assert rc in ((0, 1) if command == "verify" else (0,)), (command, rc, err.getvalue()[-2000:])
        if command == "evaluate":
            assert '"recommendation":"consider_cytosorb"' in out.getvalue().replace(" ", "")


@pytest.mark.parametrize("bound", sorted(BOUNDS))
def test_spec_over_a_bound_is_a_located_error(tmp_path: Path, bound: str) -> None:
    _, over, message = BOUNDS[bound]
    spec_path = tmp_path / "over_bound.yaml"
    spec_path.write_text(_bounded_spec(over), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["check-spec", str(spec_path)], out, err) == 2
    assert out.getvalue() == ""
    assert "Traceback" not in err.getvalue()
    first = err.getvalue().splitlines()[0]
    assert first.startswith(f"{spec_path}:")
    assert ": error: " in first
    assert message in err.getvalue()
    line, col = (int(x) for x in first.split(":")[1:3])
    text = spec_path.read_text(encoding="utf-8").splitlines()[line - 1]
    assert text[col - 1 :].startswith(("n", "d", "min(")), text  # the expression (or definition) itself


def test_long_sum_and_flat_chains_no_longer_bypass_the_depth_limit() -> None:
    from crs_model.expr import ExprSyntaxError, parse

    for text in ["n" + " + n" * 399 + " > 1", " or ".join(["a"] * 300), " and ".join(["a"] * 300)]:
        with pytest.raises(ExprSyntaxError, match=r"terms|levels deep"):
            parse(text)


def test_600_chained_definitions_are_one_located_error(tmp_path: Path) -> None:
    """The issue's case: ~600 chained definitions crashed evaluate for every patient."""
    spec_path = tmp_path / "chain600.yaml"
    spec_path.write_text(_bounded_spec(_chain(600, " + 1")), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["check-spec", str(spec_path)], out, err) == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 3, lines  # chain, inlined depth (each reported once), summary
    assert "definition 'd33' ends a chain of 33 definitions" in lines[0]
    assert f"'d{MAX_INLINED_DEPTH}' is {MAX_INLINED_DEPTH + 1} levels deep" in lines[1]
