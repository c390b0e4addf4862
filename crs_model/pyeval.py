"""Compile expression ASTs to Python closures with three-valued (Kleene) semantics.

``None`` means *unknown* (an input is absent). Rules:

* ``not``, arithmetic, comparisons, membership, ``min``/``max``: unknown if any
  operand is unknown.
* ``a and b``: false if either is false, else unknown if either is unknown.
* ``a or b``: true if either is true, else unknown if either is unknown.
* ``a implies b`` is ``(not a) or b``.
* ``if c then x else y``: when ``c`` is unknown the result is known only if both
  branches are known and equal.

Numbers are exact (:mod:`crs_model.exact`): a float means the decimal its
shortest ``repr`` spells, arithmetic on anything but two ints is exact
(:func:`~crs_model.exact.arith`), and values of different numeric types are
compared on what they mean, so the engine computes what the verifier proves
(exact rationals), not IEEE rounding. Native comparison stays where it is exact:
two values of one type, an int against a float (unless the int is beyond 2**53),
and a value against a spec constant (at most 1e15 with 15 digits).

This module is on the evaluation hot path: it imports nothing heavy.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from fractions import Fraction
from typing import Any, assert_never

from crs_model.exact import arith, exact, needs_exact
from crs_model.expr import (
    COMPARE_OPS,
    TEMPORAL_FUNCTIONS,
    Arith,
    BoolLit,
    Call,
    Compare,
    Expr,
    IfThenElse,
    Logic,
    Member,
    Name,
    Neg,
    Not,
    Num,
    Str,
    children,
    fold,
)
from crs_model.types import Symbol, SymbolKind

Env = Mapping[str, Any]
Fn = Callable[[Env], Any]

ARITH_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}


def exact_compare(op: Callable[[Any, Any], bool], a: Any, b: Any) -> bool:
    """``op(a, b)`` on what ``a`` and ``b`` mean: native unless that could differ (:func:`needs_exact`)."""
    return op(exact(a), exact(b)) if needs_exact(a, b) else op(a, b)


ACTIONS_KEY = "__actions__"
FLAGS_KEY = "__flags__"


def _const(node: Expr, symbols: Mapping[str, Symbol]) -> tuple[bool, Any]:
    if isinstance(node, Num):
        return True, int(node.value) if node.is_int else node.value
    if isinstance(node, Str):
        return True, node.value
    if isinstance(node, BoolLit):
        return True, node.value
    if isinstance(node, Name):
        sym = symbols.get(node.id)
        if sym is not None and sym.kind is SymbolKind.PARAMETER:
            return True, sym.value
    return False, None


_NOT_YET = object()


def compile_expr(node: Expr, symbols: Mapping[str, Symbol], defs: Mapping[str, Fn] | None = None) -> Fn:
    """Return ``f(env) -> value | None`` for a type-checked expression.

    With ``defs`` (compiled definitions), a definition is computed on first use
    and stored in ``env`` (which must then be a dict); without, it is read from
    ``env``. Closures are built bottom-up (:func:`~crs_model.expr.fold`), so
    compiling never recurses; running them nests one call per tree level, which
    the loader's depth bound keeps far below Python's recursion limit.
    """
    return fold(node, lambda n, kids: _compile(n, kids, symbols, defs))


def _compile(node: Expr, kids: tuple[Fn, ...], symbols: Mapping[str, Symbol], defs: Mapping[str, Fn] | None) -> Fn:
    """The closure of ``node`` from its children's closures (``kids``, in source order)."""
    is_const, value = _const(node, symbols)
    if is_const:
        return lambda env: value
    match node:
        case Num() | Str() | BoolLit():  # pragma: no cover - constants, handled above
            raise AssertionError("a literal is a constant")
        case Name():
            key = node.id
            dfn = defs.get(key) if defs is not None else None
            if dfn is not None:
                lazy = dfn

                def definition(env: Env) -> Any:
                    v = env.get(key, _NOT_YET)
                    if v is _NOT_YET:
                        v = env[key] = lazy(env)  # type: ignore[index]
                    return v

                return definition
            return lambda env: env.get(key)
        case Not():
            f = kids[0]

            def not_(env: Env) -> Any:
                a = f(env)
                return None if a is None else not a

            return not_
        case Neg():
            g = kids[0]
            return lambda env: None if (a := g(env)) is None else -a
        case Compare():
            return _compile_compare(node, kids, symbols, defs)
        case Arith():
            return _compile_arith(node, kids)
        case Logic():
            return _compile_logic(node, kids)
        case IfThenElse():
            return _compile_ite(kids)
        case Member():
            return _compile_member(node, kids[0])
        case Call():
            return _compile_call(node, kids)
        case _:
            assert_never(node)


def _compile_arith(node: Arith, kids: tuple[Fn, ...]) -> Fn:
    lf, rf = kids
    if node.op == "/":

        def div(env: Env) -> Any:
            a, b = lf(env), rf(env)
            if a is None or b is None or b == 0:
                return None
            return arith("/", a, b)

        return div
    op = ARITH_OPS[node.op]
    sym = node.op

    def arith_(env: Env) -> Any:
        a = lf(env)
        if a is None:
            return None
        b = rf(env)
        if b is None:
            return None
        return op(a, b) if type(a) is int and type(b) is int else arith(sym, a, b)

    return arith_


def _compile_ite(kids: tuple[Fn, ...]) -> Fn:
    cf, tf, ef = kids

    def ite(env: Env) -> Any:
        c = cf(env)
        if c is True:
            return tf(env)
        if c is False:
            return ef(env)
        a, b = tf(env), ef(env)
        if a is None or b is None:
            return None
        return a if (a == b if type(a) is type(b) else exact_compare(operator.eq, a, b)) else None

    return ite


def _compile_member(node: Member, f: Fn) -> Fn:
    members = frozenset(v.value for v in node.values)
    exact_members = frozenset(v.exact if isinstance(v, Num) else v.value for v in node.values)
    negated = node.negated

    def member(env: Env) -> Any:
        a = f(env)
        if a is None:
            return None
        # a float's hash is its binary value's: only a computed Fraction needs the exact set
        return (a in (exact_members if type(a) is Fraction else members)) != negated

    return member


def _compile_compare(
    node: Compare, kids: tuple[Fn, ...], symbols: Mapping[str, Symbol], defs: Mapping[str, Fn] | None
) -> Fn:
    op = COMPARE_OPS[node.op]
    rc, rv = _const(node.right, symbols)
    left_sym = symbols.get(node.left.id) if isinstance(node.left, Name) else None
    left_param = left_sym is not None and left_sym.kind is SymbolKind.PARAMETER  # a constant, not in env
    if isinstance(node.left, Name) and rc and not left_param and (defs is None or node.left.id not in defs):
        key = node.left.id
        sym = left_sym
        if sym is not None and sym.kind is SymbolKind.DEFINITION:  # read from env: may be a Fraction
            exact_rv = exact(rv)

            def cmp_def_const(env: Env) -> Any:
                a = env.get(key)
                if a is None:
                    return None
                return op(a, rv) if type(a) is not Fraction else op(a, exact_rv)

            return cmp_def_const

        def cmp_name_const(env: Env) -> Any:
            # an input (int or float) against a spec constant (<= 1e15, 15 digits): native is exact
            a = env.get(key)
            return None if a is None else op(a, rv)

        return cmp_name_const
    lf, rf = kids

    def cmp(env: Env) -> Any:
        a = lf(env)
        if a is None:
            return None
        b = rf(env)
        if b is None:
            return None
        return op(a, b) if type(a) is type(b) else exact_compare(op, a, b)

    return cmp


def _compile_logic(node: Logic, kids: tuple[Fn, ...]) -> Fn:
    lf, rf = kids
    if node.op == "and":

        def and_(env: Env) -> Any:
            a = lf(env)
            if a is False:
                return False
            b = rf(env)
            if b is False:
                return False
            return None if a is None or b is None else True

        return and_
    if node.op == "or":

        def or_(env: Env) -> Any:
            a = lf(env)
            if a is True:
                return True
            b = rf(env)
            if b is True:
                return True
            return None if a is None or b is None else False

        return or_

    def implies(env: Env) -> Any:
        a = lf(env)
        if a is False:
            return True
        b = rf(env)
        if b is True:
            return True
        return None if a is None or b is None else False

    return implies


def _compile_call(node: Call, kids: tuple[Fn, ...]) -> Fn:
    if node.func in TEMPORAL_FUNCTIONS:  # counts over a course: crs_model.course splits them out first
        raise ValueError(f"{node.func}() counts over a care course; split it out with course.split_temporal")
    if node.func in ("has_action", "has_flag"):
        key = ACTIONS_KEY if node.func == "has_action" else FLAGS_KEY
        arg = node.args[0]
        assert isinstance(arg, Str)
        ident = arg.value
        return lambda env: ident in env.get(key, ())
    fs = list(kids)
    pick = min if node.func == "min" else max
    if len(fs) == 2:
        f1, f2 = fs

        def minmax2(env: Env) -> Any:
            a = f1(env)
            if a is None:
                return None
            b = f2(env)
            if b is None:
                return None
            return pick(a, b, key=exact) if needs_exact(a, b) else pick(a, b)

        return minmax2

    def minmax(env: Env) -> Any:
        vals = [f(env) for f in fs]
        return None if any(v is None for v in vals) else pick(vals, key=exact)

    return minmax


_NONE: frozenset[str] = frozenset()


class UnknownExplainer:
    """Which absent inputs keep an expression unknown, given the known ones.

    Used only when the engine stops with ``insufficient_data`` (not on the hot
    path): ``if fever then A else B`` with fever known only blames A's inputs;
    ``a and b`` with ``b`` false is not unknown at all.
    """

    def __init__(
        self, symbols: Mapping[str, Symbol], definitions: Mapping[str, Expr], compiled: Mapping[str, Fn] | None = None
    ) -> None:
        # with ``compiled`` (the engine's definitions), a definition is computed into env on first
        # use, so env need not be completed first (it must then be a dict)
        self._symbols = symbols
        self._definitions = definitions
        self._compiled = compiled
        # keyed by id(): hashing a frozen AST node hashes its whole subtree; the
        # node is kept in the value so its id stays unique while cached
        self._fns: dict[int, tuple[Expr, Fn]] = {}
        self._flat: dict[int, tuple[Expr, tuple[Expr, ...]]] = {}

    def _value(self, node: Expr, env: Env) -> Any:
        hit = self._fns.get(id(node))
        if hit is None:
            hit = self._fns[id(node)] = (node, compile_expr(node, self._symbols, self._compiled))
        return hit[1](env)

    def missing(self, node: Expr, env: Env) -> set[str]:
        """The absent inputs that keep ``node`` unknown in ``env`` (empty when it is known)."""
        return set(self._missing(node, env, {}))

    def missing_any(self, nodes: Iterable[Expr], env: Env) -> set[str]:
        """The union of :meth:`missing` over ``nodes`` (sub-expressions they share are explained once)."""
        memo: dict[int, AbstractSet[str]] = {}
        out: set[str] = set()
        for node in nodes:
            out |= self._missing(node, env, memo)
        return out

    def _operands(self, node: Expr) -> tuple[Expr, ...]:
        """The children to explain; a chain ``a or b or c`` (or of ``and``) is flattened into its operands.

        Exact, not a shortcut: when a whole ``or`` chain is unknown no operand is true,
        so any part of the chain that is known is all false and blames nothing - the same
        inputs are blamed as when every nested ``or`` is visited, without re-evaluating
        each nested sub-chain (quadratic in the chain's length).
        """
        hit = self._flat.get(id(node))
        if hit is not None:
            return hit[1]
        if isinstance(node, Logic) and node.op in ("and", "or"):
            out: list[Expr] = []
            stack: list[Expr] = [node]
            while stack:
                n = stack.pop()
                if isinstance(n, Logic) and n.op == node.op:
                    stack.append(n.right)
                    stack.append(n.left)
                else:
                    out.append(n)
            ops = tuple(out)
        else:
            ops = tuple(children(node))
        self._flat[id(node)] = (node, ops)
        return ops

    def _missing(self, root: Expr, env: Env, memo: dict[int, AbstractSet[str]]) -> AbstractSet[str]:
        # Top-down, not a fold: a known node, or the branch an 'if' does not take, is not
        # looked into. An explicit stack; a node's answer is the union of its parts' answers.
        # memo: a definition named by several guards (or twice in one) is explained once per call
        pending: dict[int, tuple[Expr, ...]] = {}
        stack: list[tuple[Expr, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            key = id(node)
            if expanded:
                parts = pending.pop(key)
                if len(parts) == 1:
                    memo[key] = memo[id(parts[0])]
                else:
                    acc: set[str] = set()
                    for part in parts:
                        acc |= memo[id(part)]
                    memo[key] = acc
                continue
            if key in memo:
                continue
            step = self._explain(node, env)
            if isinstance(step, tuple):
                pending[key] = step
                stack.append((node, True))
                stack.extend((part, False) for part in reversed(step))
            else:
                memo[key] = step
        return memo[id(root)]

    def _explain(self, node: Expr, env: Env) -> AbstractSet[str] | tuple[Expr, ...]:
        """The inputs ``node`` blames, or the parts whose blamed inputs it blames."""
        match node:
            case Name() if node.id not in self._definitions:  # an input or a parameter
                sym = self._symbols.get(node.id)
                known = (sym is not None and sym.kind is SymbolKind.PARAMETER) or env.get(node.id) is not None
                return _NONE if known else {node.id}
            case Num() | Str() | BoolLit():
                return _NONE
            case _ if self._value(node, env) is not None:
                return _NONE
            case Name():  # a definition
                return (self._definitions[node.id],)
            case IfThenElse() if (cond := self._value(node.cond, env)) is not None:
                return (node.then if cond is True else node.orelse,)
            case Neg() | Not() | Arith() | Compare() | Logic() | Member() | Call() | IfThenElse():
                return self._operands(node)
            case _:
                assert_never(node)
