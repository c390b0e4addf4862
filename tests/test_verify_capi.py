"""The hot C-API helpers build exactly the terms z3py builds (structurally equal, ``.eq()``)."""

from __future__ import annotations

import pytest
import z3

from crs_model.verify.capi import bool_value, check_fast, mk_and, mk_not, mk_or, raw_and, raw_not, raw_or
from crs_model.verify.solver import make_solver


@pytest.fixture
def ctx() -> z3.Context:
    return z3.Context()


def _atoms(ctx: z3.Context) -> list[z3.BoolRef]:
    x, y = z3.Int("x", ctx), z3.Real("y", ctx)
    return [z3.Bool("p", ctx), z3.Bool("q", ctx), x > 2, y <= x, z3.Or(z3.Bool("r", ctx), x == 0)]


def test_raw_helpers_equal_z3py(ctx: z3.Context) -> None:
    xs = _atoms(ctx)
    for n in range(1, len(xs) + 1):
        assert raw_and(*xs[:n]).eq(z3.And(*xs[:n]))
        assert raw_or(*xs[:n]).eq(z3.Or(*xs[:n]))
    for x in xs:
        assert raw_not(x).eq(z3.Not(x))
    assert not raw_and(xs[0], xs[1]).eq(z3.And(xs[1], xs[0]))  # .eq() is structural: order matters


def test_folding_helpers_equal_z3py_without_literals_and_fold_with_them(ctx: z3.Context) -> None:
    xs = _atoms(ctx)
    t, f = z3.BoolVal(True, ctx), z3.BoolVal(False, ctx)
    assert mk_and(*xs).eq(z3.And(*xs))
    assert mk_or(*xs).eq(z3.Or(*xs))
    assert mk_not(xs[2]).eq(z3.Not(xs[2]))
    assert mk_and(xs[0], t, xs[1]).eq(z3.And(xs[0], xs[1]))
    assert mk_or(xs[0], f, xs[1]).eq(z3.Or(xs[0], xs[1]))
    assert mk_and(xs[0], f).eq(f)
    assert mk_or(t, xs[0]).eq(t)
    assert mk_and(t, xs[3]).eq(xs[3])  # a single survivor is returned as is
    assert mk_and(ctx=ctx).eq(t)
    assert mk_or(ctx=ctx).eq(f)
    assert mk_not(t).eq(f)
    assert mk_not(f).eq(t)
    assert [bool_value(b) for b in (t, f, xs[0])] == [1, -1, 0]


def test_check_fast_answers_as_solver_check(ctx: z3.Context) -> None:
    p, q = z3.Bool("p", ctx), z3.Bool("q", ctx)
    s = make_solver(ctx)
    s.add(z3.Implies(p, q))
    assert check_fast(s, [p, q]) == s.check(p, q) == z3.sat
    assert check_fast(s, [p, z3.Not(q)]) == s.check(p, z3.Not(q)) == z3.unsat
