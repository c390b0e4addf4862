"""The few hot Z3 constructors, straight on the C API.

z3py's ``And``/``Or``/``Not`` and ``Solver.check`` re-check and coerce every
argument, which dominates encoding and oracle time on large graphs. The
``raw_*`` helpers build exactly the term z3py would (tested with ``.eq()``);
``mk_and``/``mk_or``/``mk_not`` also fold literal true/false.
"""

from __future__ import annotations

import z3


def ast_array(xs: list[z3.BoolRef]) -> z3.AstArray:
    """A C array of the terms' ASTs (for the n-ary C constructors)."""
    arr = (z3.Ast * len(xs))()
    for i, x in enumerate(xs):
        arr[i] = x.as_ast()
    return arr


def check_fast(solver: z3.Solver, lits: list[z3.BoolRef]) -> z3.CheckSatResult:
    """``solver.check(*lits)`` without z3py's per-literal re-casting (hot in the oracle)."""
    r = z3.Z3_solver_check_assumptions(solver.ctx.ref(), solver.solver, len(lits), ast_array(lits))
    return z3.CheckSatResult(r)


def bool_value(x: z3.BoolRef) -> int:
    """1 for the literal true, -1 for false, 0 otherwise (one C call; ``z3.is_true`` makes five)."""
    return int(z3.Z3_get_bool_value(x.ctx.ref(), x.as_ast()))


def mk_not(x: z3.BoolRef) -> z3.BoolRef:
    """Negation, folding a literal true/false."""
    b = bool_value(x)
    if b:
        return z3.BoolVal(b < 0, x.ctx)
    return z3.BoolRef(z3.Z3_mk_not(x.ctx.ref(), x.as_ast()), x.ctx)


def _junction(xs: tuple[z3.BoolRef, ...], ctx: z3.Context | None, is_and: bool) -> z3.BoolRef:
    """And/or of ``xs``, folding literal true/false (``ctx`` is needed only when ``xs`` may be empty)."""
    c = xs[0].ctx if xs else ctx
    assert c is not None, "an empty conjunction or disjunction needs its context"
    absorbing = -1 if is_and else 1  # false decides a conjunction, true a disjunction
    items: list[z3.BoolRef] = []
    for x in xs:
        b = bool_value(x)
        if b == absorbing:
            return z3.BoolVal(not is_and, c)
        if b == 0:
            items.append(x)
    if not items:
        return z3.BoolVal(is_and, c)
    if len(items) == 1:
        return items[0]
    mk = z3.Z3_mk_and if is_and else z3.Z3_mk_or
    return z3.BoolRef(mk(c.ref(), len(items), ast_array(items)), c)


def mk_and(*xs: z3.BoolRef, ctx: z3.Context | None = None) -> z3.BoolRef:
    """Conjunction, folding literal true/false (``ctx`` is needed only when ``xs`` may be empty)."""
    return _junction(xs, ctx, True)


def mk_or(*xs: z3.BoolRef, ctx: z3.Context | None = None) -> z3.BoolRef:
    """Disjunction, folding literal true/false (``ctx`` is needed only when ``xs`` may be empty)."""
    return _junction(xs, ctx, False)


def raw_and(*xs: z3.BoolRef) -> z3.BoolRef:
    """Exactly ``z3.And(*xs)`` (same term, no folding), without z3py's per-argument coercion."""
    c = xs[0].ctx
    return z3.BoolRef(z3.Z3_mk_and(c.ref(), len(xs), ast_array(list(xs))), c)


def raw_or(*xs: z3.BoolRef) -> z3.BoolRef:
    """Exactly ``z3.Or(*xs)`` (same term, no folding), without z3py's per-argument coercion."""
    c = xs[0].ctx
    return z3.BoolRef(z3.Z3_mk_or(c.ref(), len(xs), ast_array(list(xs))), c)


def raw_not(x: z3.BoolRef) -> z3.BoolRef:
    """Exactly ``z3.Not(x)`` (same term, no folding), without z3py's coercion."""
    return z3.BoolRef(z3.Z3_mk_not(x.ctx.ref(), x.as_ast()), x.ctx)


__all__ = ["ast_array", "bool_value", "check_fast", "mk_and", "mk_not", "mk_or", "raw_and", "raw_not", "raw_or"]
