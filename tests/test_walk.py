"""One way to walk the AST: walk/post_order/fold/replace, constant folding, exhaustive
translators (checked by mypy) and every backend on trees far deeper than Python's stack."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crs_model import expr
from crs_model.expr import (
    MAX_TREE_DEPTH,
    Arith,
    Compare,
    Expr,
    Logic,
    Name,
    Neg,
    Not,
    Num,
    conjuncts,
    fold,
    fold_constants,
    parse,
    post_order,
    replace,
    walk,
)
from crs_model.index import constant_value
from crs_model.model import Spec
from crs_model.pyeval import Fn, UnknownExplainer, compile_expr
from crs_model.testing import patients
from crs_model.testing._mutate import _expr_mutations
from crs_model.text import Renderer
from crs_model.types import BOOL, INT, REAL, Scope, Symbol, SymbolKind, check
from crs_model.verify.z3expr import Translator, Tri

ROOT = Path(__file__).resolve().parent.parent

SYMS = {
    "a": Symbol("a", SymbolKind.VARIABLE, BOOL, label="a"),
    "x": Symbol("x", SymbolKind.VARIABLE, REAL, unit="pg/mL", label="IL-6"),
    "n": Symbol("n", SymbolKind.VARIABLE, INT, label="n"),
    "thr": Symbol("thr", SymbolKind.PARAMETER, REAL, unit="pg/mL", value=0.1),
    "k": Symbol("k", SymbolKind.PARAMETER, INT, value=3),
    "on": Symbol("on", SymbolKind.PARAMETER, BOOL, value=True),
}


# ---------------------------------------------------------------- the walkers
def test_walk_is_pre_order_in_source_order() -> None:
    tree = parse("x + n * 2 > thr and not a")
    kinds = [type(n).__name__ for n in walk(tree)]
    assert kinds == ["Logic", "Compare", "Arith", "Name", "Arith", "Name", "Num", "Name", "Not", "Name"]


def test_post_order_visits_each_shared_node_once_children_first() -> None:
    leaf = Name("x", 0)
    shared = Arith("+", leaf, leaf, 1)
    tree = Compare(">", shared, shared, 2)
    order = post_order(tree)
    assert [id(n) for n in order] == [id(leaf), id(shared), id(tree)]
    assert len(list(walk(tree))) == 7  # walk visits every occurrence


def test_fold_memoizes_by_identity_and_calls_children_first() -> None:
    leaf = Name("x", 0)
    shared = Neg(leaf, 1)
    tree = Arith("*", shared, shared, 2)
    calls: list[str] = []

    def fn(n: Expr, kids: tuple[int, ...]) -> int:
        calls.append(type(n).__name__)
        return 1 + sum(kids)

    assert fold(tree, fn) == 1 + 2 * 2  # the shared sub-tree's result is reused
    assert calls == ["Name", "Neg", "Arith"]
    memo: dict[int, tuple[Expr, int]] = {}
    fold(tree, fn, memo)
    calls.clear()
    assert fold(Not(tree, 3), fn, memo) == 6  # a memo carries over between calls
    assert calls == ["Not"]


def test_replace_rebuilds_only_the_changed_path() -> None:
    tree = parse("x > 1 and n < 2")
    assert isinstance(tree, Logic)
    right = tree.right
    out = replace(tree, lambda n: Num(5.0, True, n.pos) if isinstance(n, Num) and n.value == 1 else None)
    assert isinstance(out, Logic)
    assert out.right is right  # unchanged sub-tree shared
    assert out != tree
    assert Renderer(SYMS).render(out) == "IL-6 > 5 pg/mL and n < 2"
    assert replace(tree, lambda n: None) is tree


def test_conjuncts_of_a_long_chain_without_recursion() -> None:
    tree: Expr = Name("a", 0)
    for i in range(20_000):
        tree = Logic("and", tree, Name("a", i), i)
    with _low_recursion_limit():
        assert len(conjuncts(tree)) == 20_001


def test_mutants_still_replace_the_site_they_name() -> None:
    tree = parse("x >= 500 and n < 3")
    out = {(op, site): Renderer(SYMS).render(m) for op, site, m in _expr_mutations(tree)}
    assert out[("flip", "'>=' -> '>' at 2")] == "IL-6 > 500 pg/mL and n < 3"
    assert out[("shift", "3 -> 4 at 17")] == "IL-6 ≥ 500 pg/mL and n < 4"
    assert out[("drop", "drop left conjunct at 9")] == "n < 3"


# ---------------------------------------------------------------- constant folding
def test_fold_constants_folds_parameters_and_literals_exactly() -> None:
    def folded(text: str) -> str:
        return Renderer(SYMS).render(fold_constants(parse(text), SYMS))

    assert folded("x > thr + 0.2") == "IL-6 > 0.3 pg/mL"  # exact: 0.1 + 0.2 is 0.3, not 0.30000000000000004
    assert folded("n < k * 2 - 1") == "n < 5"
    assert folded("if on then x else n") == "IL-6"
    assert folded("x > 1 / 3") == "IL-6 > 1 / 3"  # no literal spells 1/3: left alone
    assert folded("x / (k - 3) > 1") == "IL-6 / (3 - 3) > 1"  # unknown at run time: left alone
    assert folded("min(k, 2) == 2 and on") == "yes"
    tree = parse("x > n")
    assert fold_constants(tree, SYMS) == tree


def test_a_parameter_compared_with_a_constant_is_known() -> None:
    # it was read from the environment (where parameters never are), so it was unknown
    # in the engine while the verifier took the parameter's value
    assert compile_expr(parse("thr < 0.2"), SYMS)({}) is True
    assert compile_expr(parse("k >= 4"), SYMS)({}) is False


_TEXTS = [
    "x > thr + 0.2",
    "x * k - thr >= n / 7",
    "if x > 1 then thr * 3 else k - 0.7",
    "min(x, thr * 10, k) <= max(n, 0.1 + 0.2)",
    "(k * 0.1 == 0.3) or a",
    "not (on and thr < 0.2) or x < 1 / 3",
    "-thr + -(k * 2) < x - 6.1",
    "n in {3, 4} or (k + 1 in {4})",
    "x / (k - 3) > 1 or (on implies n > k)",
]


@given(
    st.sampled_from(_TEXTS),
    st.one_of(st.none(), st.floats(-10, 10, allow_nan=False), st.sampled_from([0.1, 0.3, 1 / 3, 6.1])),
    st.one_of(st.none(), st.integers(-5, 8)),
    st.one_of(st.none(), st.booleans()),
)
@settings(max_examples=300, deadline=None)
def test_fold_constants_never_changes_meaning(text: str, x: float | None, n: int | None, a: bool | None) -> None:
    tree = parse(text)
    check(tree, Scope(SYMS))
    folded = fold_constants(tree, SYMS)
    check(folded, Scope(SYMS))
    env = {"x": x, "n": n, "a": a}
    want, got = compile_expr(tree, SYMS)(env), compile_expr(folded, SYMS)(env)
    assert got == want
    assert (got is None) == (want is None)


def _compiled(spec: Spec, fold_first: bool) -> dict[str, Fn]:
    defs: dict[str, Fn] = {}
    for name, d in spec.definitions.items():
        ast = fold_constants(d.formula.ast, spec.symbols) if fold_first else d.formula.ast
        defs[name] = compile_expr(ast, spec.symbols, defs)
    return defs


def test_fold_constants_is_exact_on_the_shipped_spec(spec: Spec) -> None:
    guards = [e.guard.ast for node in spec.nodes.values() for e in node.edges]
    plain, plain_defs = [compile_expr(g, spec.symbols) for g in guards], _compiled(spec, False)
    folded_asts = [fold_constants(g, spec.symbols) for g in guards]
    folded, folded_defs = [compile_expr(g, spec.symbols) for g in folded_asts], _compiled(spec, True)
    assert any(f != g for f, g in zip(folded_asts, guards, strict=True))  # something was folded

    @given(patients(spec))
    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    def same(p: dict[str, Any]) -> None:
        env_a: dict[str, Any] = dict(p)
        env_b: dict[str, Any] = dict(p)
        for name in spec.definitions:
            env_a[name] = plain_defs[name](env_a)
            env_b[name] = folded_defs[name](env_b)
        assert env_a == env_b
        assert [f(env_a) for f in plain] == [f(env_b) for f in folded]

    same()


# ---------------------------------------------------------------- exhaustiveness, checked by mypy
_CLASSES = ("Num", "Str", "BoolLit", "Name", "Neg", "Not", "Arith", "Compare", "Logic", "IfThenElse", "Member", "Call")


def _translator(classes: tuple[str, ...]) -> str:
    cases = "".join(f"        case {c}():\n            return {c!r}\n" for c in classes)
    return (
        "from typing import assert_never\n\n"
        f"from crs_model.expr import Expr, {', '.join(_CLASSES)}\n\n\n"
        "def kind(node: Expr) -> str:\n"
        "    match node:\n"
        f"{cases}"
        "        case _:\n"
        "            assert_never(node)\n"
    )


def test_mypy_reports_a_translator_that_forgot_a_node_class(tmp_path: Path) -> None:
    src = tmp_path / "src"  # a cache of its own: a stale one could replay an old verdict
    src.mkdir()
    (src / "complete.py").write_text(_translator(_CLASSES))
    for dropped in ("Member", "Call", "Neg"):
        (src / f"missing_{dropped}.py").write_text(_translator(tuple(c for c in _CLASSES if c != dropped)))
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), str(tmp_path / "src")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert run.returncode == 1, run.stdout + run.stderr
    assert not [e for e in errors if "complete.py" in e]
    for dropped in ("Member", "Call", "Neg"):
        mine = [e for e in errors if f"missing_{dropped}.py" in e]
        assert len(mine) == 1, errors
        assert "assert_never" in mine[0]
        assert f'"{dropped}"' in mine[0]


# ---------------------------------------------------------------- deep trees
@contextmanager
def _low_recursion_limit(headroom: int = 120) -> Iterator[None]:
    """A recursion limit just above the current stack: any recursion over a deep tree fails."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + headroom)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _z3_translator(ctx: z3.Context) -> Translator:
    inputs: dict[str, tuple[z3.ExprRef, z3.BoolRef]] = {
        "x": (z3.Real("x", ctx), z3.Bool("x_known", ctx)),
        "n": (z3.Int("n", ctx), z3.Bool("n_known", ctx)),
        "a": (z3.Bool("a", ctx), z3.Bool("a_known", ctx)),
    }
    return Translator(SYMS, inputs, {}, ctx=ctx)


DEEP = 50_000


def _deep() -> Expr:
    num: Expr = Name("x", 0)
    for i in range(DEEP):
        num = Neg(num, i)
    cond: Expr = Compare(">", num, Name("thr", 0), 0)
    for i in range(DEEP):
        cond = Not(cond, i) if i % 2 else Logic("or", cond, Compare("<", Name("n", 0), Num(3.0, True, 0), 0), i)
    return cond


def test_every_backend_translates_a_tree_far_deeper_than_the_stack() -> None:
    tree = _deep()
    ctx = z3.Context()
    with _low_recursion_limit():
        assert len(post_order(tree)) == DEEP + 3 + DEEP // 2 * 5  # Neg chain; Logic+Compare+Name+Num or a Not
        assert check(tree, Scope(SYMS)) == BOOL
        text = Renderer(SYMS).render(tree)
        assert text.count("-") == DEEP + 1  # and the one in IL-6
        compile_expr(tree, SYMS)  # compiling is iterative; running nests (see below)
        term = _z3_translator(ctx).term(tree)
        assert isinstance(term, Tri)
        assert fold_constants(tree, SYMS) is not tree  # thr folded to its literal everywhere
        assert replace(tree, lambda n: None) is tree
        assert constant_value(tree, SYMS) is None
        assert sum(1 for _ in walk(tree)) == len(post_order(tree))
        mutants = _expr_mutations(tree)
        op, _, first = next(mutants)
        assert op == "flip"
        assert isinstance(first, (Logic, Not))


def test_loader_maximum_depth_runs_in_every_backend_including_closures() -> None:
    # the compiled closures (the hot path) call each other once per level: that is the
    # one recursion left, and the loader's depth bound (MAX_TREE_DEPTH) is what keeps it small
    text = "x" + " + x" * (MAX_TREE_DEPTH - 2) + " > thr"
    tree = parse(text)
    assert expr.measure(tree)[0] == MAX_TREE_DEPTH
    with pytest.raises(expr.ExprSyntaxError):
        parse("x" + " + x" * (MAX_TREE_DEPTH - 1) + " > thr")
    ctx = z3.Context()
    with _low_recursion_limit(headroom=MAX_TREE_DEPTH + 60):
        assert check(tree, Scope(SYMS)) == BOOL
        fn = compile_expr(tree, SYMS)
        assert fn({"x": 1}) is True
        assert fn({"x": None}) is None
        assert UnknownExplainer(SYMS, {}).missing(tree, {}) == {"x"}
        assert isinstance(_z3_translator(ctx).term(tree), Tri)
        assert Renderer(SYMS).render(tree).startswith("IL-6 + IL-6")
        assert fold_constants(tree, SYMS) is not tree
