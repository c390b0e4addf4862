"""The expression language: parsing, type checking, three-valued evaluation, clinical text."""

from __future__ import annotations

import operator
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crs_model.exact import arith, exact, needs_exact
from crs_model.expr import MAX_DEPTH, ExprSyntaxError, Logic, Name, Num, parse
from crs_model.pyeval import compile_expr, exact_compare
from crs_model.text import Renderer
from crs_model.types import BOOL, INT, REAL, Base, Scope, Symbol, SymbolKind, Type, TypeCheckError, check

SYMS = {
    "a": Symbol("a", SymbolKind.VARIABLE, BOOL, label="a"),
    "b": Symbol("b", SymbolKind.VARIABLE, BOOL, label="b"),
    "x": Symbol("x", SymbolKind.VARIABLE, REAL, unit="pg/mL", label="IL-6"),
    "n": Symbol("n", SymbolKind.VARIABLE, INT, label="n"),
    "e": Symbol("e", SymbolKind.VARIABLE, Type(Base.ENUM, ("car_t", "sepsis")), label="etiology"),
    "thr": Symbol("thr", SymbolKind.PARAMETER, REAL, unit="pg/mL", label="thr", value=500.0),
}


def ev(text: str, **env: Any) -> Any:
    ast = parse(text)
    check(ast, Scope(SYMS))
    return compile_expr(ast, SYMS)(env)


def test_precedence_and_associativity() -> None:
    ast = parse("a or b and not a implies b implies a")
    assert isinstance(ast, Logic)
    assert ast.op == "implies"
    assert isinstance(ast.right, Logic)
    assert ast.right.op == "implies"
    assert ev("1 + 2 * 3 == 7")
    assert ev("-2 * -3 == 6")
    assert ev("(1 + 2) * 3 == 9")


@pytest.mark.parametrize(
    ("text", "env", "want"),
    [
        ("a and b", {"a": False}, False),
        ("a and b", {"a": True}, None),
        ("a or b", {"b": True}, True),
        ("a or b", {"a": False}, None),
        ("not a", {}, None),
        ("a implies b", {"a": False}, True),
        ("a implies b", {"b": True}, True),
        ("a implies b", {"a": True}, None),
        ("x >= thr", {}, None),
        ("x >= thr", {"x": 500.0}, True),
        ("x >= thr", {"x": 499.9}, False),
        ("min(x, 3) == 3", {}, None),
        ("(if a then 1 else 1) == 1", {}, True),  # unknown condition, equal branches
        ("(if a then 1 else 2) == 1", {}, None),
        ("e in {'car_t'}", {"e": "sepsis"}, False),
        ("e not in {'car_t'}", {"e": "sepsis"}, True),
        ("e in {'car_t'}", {}, None),
        ("x / n > 1", {"x": 5.0, "n": 0}, None),
    ],
)
def test_kleene_semantics(text: str, env: dict[str, Any], want: bool | None) -> None:
    assert ev(text, **env) is want


@pytest.mark.parametrize(
    ("text", "offset", "fragment"),
    [
        ("__import__('os')", 0, "unknown function '__import__'"),
        ("a = b", 2, "did you mean '=='"),
        ("1 < x < 3", 6, "do not chain"),
        ("a and", 5, "expected a value"),
        ("'unterminated", 0, "unterminated"),
        ("x @ 2", 2, "unexpected character"),
        ("a.b", 1, "unexpected character '.'"),
    ],
)
def test_syntax_errors_are_located(text: str, offset: int, fragment: str) -> None:
    with pytest.raises(ExprSyntaxError) as exc:
        parse(text)
    assert exc.value.offset == offset
    assert fragment in exc.value.message


@pytest.mark.parametrize(
    ("text", "offset", "fragment"),
    [
        ("x >= 3\u09ea", 5, "non-ASCII digit '\u09ea' (U+09EA BENGALI DIGIT FOUR)"),
        ("x >= \uff13\uff18", 5, "non-ASCII digit"),
        ("x >= \u0663\u0668", 5, "ARABIC-INDIC DIGIT THREE"),
        ("x >= 3__8_", 5, "has '_'"),
        ("x >= 1_000", 5, "has '_'"),
        ("x >= 007", 5, "leading zero"),
        ("x >= 0x1F", 5, "not a plain decimal"),
        ("x >= 3.", 5, "not a plain decimal"),
        ("x >= 1e400", 5, "too large"),
        ("x >= 1e-400", 5, "too small"),
        ("x >= 1e99999999999", 5, "exponent out of range"),
        ("x >= 2e15", 5, "too large"),
        ("x >= " + "9" * 309, 5, "too large"),
        ("x >= 0.1234567890123456", 5, "16 significant digits"),
        ("\u0430 and b", 0, "non-ASCII letter '\u0430' (U+0430 CYRILLIC SMALL LETTER A)"),
        ("a\u0430 and b", 1, "name 'a\u0430' has the non-ASCII character"),
        ("x\uff1e1", 1, "non-ASCII character"),
    ],
)
def test_number_literals_are_ascii_decimal(text: str, offset: int, fragment: str) -> None:
    with pytest.raises(ExprSyntaxError) as exc:
        parse(text)
    assert exc.value.offset == offset
    assert fragment in exc.value.message


@pytest.mark.parametrize(
    ("text", "value", "is_int"),
    [
        ("38", 38, True),
        ("0", 0, True),
        ("38.5", Fraction(77, 2), False),
        ("0.1", Fraction(1, 10), False),
        ("1.5e3", 1500, False),
        ("2.5E-3", Fraction(1, 400), False),
        ("1e15", 10**15, False),
        ("999999999999999", 999999999999999, True),
        ("0.000000000000001", Fraction(1, 10**15), False),
        ("0.100000000000000000000", Fraction(1, 10), False),  # trailing zeros are not significant
    ],
)
def test_number_literals_are_exact(text: str, value: Fraction, is_int: bool) -> None:
    node = parse(text)
    assert isinstance(node, Num)
    assert node.exact == value
    assert type(node.exact) is (int if is_int else Fraction)
    assert node.is_int is is_int
    assert Fraction(repr(node.value)) == value  # the float's shortest repr is the literal


def test_unicode_comparison_operators_still_work() -> None:
    assert ev("x \u2265 38", x=38.0) is True
    assert ev("x \u2260 38", x=38.0) is False


def test_depth_and_length_are_bounded() -> None:
    with pytest.raises(ExprSyntaxError, match="nested deeper"):
        parse("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(ExprSyntaxError, match="nested deeper"):
        parse("not " * (MAX_DEPTH + 1) + "a")
    parse("(" * (MAX_DEPTH - 2) + "1" + ")" * (MAX_DEPTH - 2))  # within bounds
    with pytest.raises(ExprSyntaxError, match="longer than"):
        parse("a or " * 1000 + "a")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("x and a", "expected a bool value here, found real"),
        ("il6 > 3", "unknown name 'il6'"),
        ("e == 'cart'", "'cart' is not one of car_t, sepsis (did you mean 'car_t'?)"),
        ("a < 3", "'<' needs numbers"),
        ("(if a then 1 else b) == 1", "'then' branch is int but 'else' branch is bool"),
        ("x / 0 > 1", "division by zero"),
        ("has_action('x')", "only allowed in invariants"),
        ("min(x) > 1", "at least 2 arguments"),
    ],
)
def test_type_errors(text: str, fragment: str) -> None:
    with pytest.raises(TypeCheckError) as exc:
        check(parse(text), Scope(SYMS))
    assert fragment in exc.value.message


def test_unknown_name_suggests_close_match() -> None:
    with pytest.raises(TypeCheckError, match=r"did you mean 'thr'"):
        check(parse("x > thrr"), Scope(SYMS))


def test_types_of_arithmetic() -> None:
    assert check(parse("n + 1"), Scope(SYMS)) == INT
    assert check(parse("n / 2"), Scope(SYMS)) == REAL
    assert check(parse("max(n, x)"), Scope(SYMS)) == REAL


def test_clinical_text() -> None:
    r = Renderer(SYMS)
    assert r.render(parse("x >= thr")) == "IL-6 ≥ 500 pg/mL"
    assert r.render(parse("x > 10000")) == "IL-6 > 10,000 pg/mL"
    assert r.render(parse("not (a or b)")) == "not (a or b)"
    assert r.render(parse("(a or b) and a")) == "(a or b) and a"
    named = Renderer(SYMS, param_names=True)
    assert named.render(parse("x >= thr")) == "IL-6 ≥ thr (500 pg/mL)"


def test_names_collected() -> None:
    from crs_model.expr import names

    assert names(parse("if a then x else min(thr, n)")) == {"a", "x", "thr", "n"}
    assert isinstance(parse("a"), Name)


# ------------------------------------------------------------------ exact arithmetic
_finite = st.floats(allow_nan=False, allow_infinity=False)
_numbers = st.one_of(_finite, st.integers(-(2**70), 2**70), st.fractions(max_denominator=10**6))


@settings(max_examples=400, deadline=None)
@given(a=_numbers, b=_numbers, op=st.sampled_from("+-*/"))
def test_arith_is_exact_on_what_numbers_mean(a: Any, b: Any, op: str) -> None:
    if op == "/" and b == 0:
        return
    want = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}[op](
        Fraction(exact(a)), exact(b)
    )
    got = arith(op, a, b)
    assert exact(got) == want
    if isinstance(got, float):  # a float result spells its exact value
        assert Fraction(repr(got)) == want


@settings(max_examples=400, deadline=None)
@given(a=_numbers, b=_numbers)
def test_native_comparison_only_where_it_is_exact(a: Any, b: Any) -> None:
    for op in (operator.lt, operator.le, operator.eq):
        assert exact_compare(op, a, b) is op(exact(a), exact(b))
        if not needs_exact(a, b):
            assert op(a, b) is op(exact(a), exact(b))


def test_native_comparison_of_a_float_and_a_fraction_would_be_wrong() -> None:
    """Why needs_exact exists: Python compares a float's binary value with a Fraction."""
    assert Fraction(3, 10) != 0.3
    assert needs_exact(Fraction(3, 10), 0.3)
    assert exact_compare(operator.eq, Fraction(3, 10), 0.3)
    assert float(2**60) != 2**60 + 1
    assert needs_exact(2**60 + 1, 1.152921504606847e18)


def test_arith_results_are_plain_floats_when_decimal() -> None:
    assert arith("*", 8, 44.85) == 358.8
    assert type(arith("*", 8, 44.85)) is float
    assert repr(arith("+", 0.1, 0.2)) == "0.3"
    assert arith("/", 1, 3) == Fraction(1, 3)
    assert repr(arith("/", 1, 4)) == "0.25"
