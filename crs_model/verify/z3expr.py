"""The Z3 backend: expression AST -> Z3 terms with the engine's three-valued semantics.

This is the one module that knows how an expression becomes a Z3 term (the
verifier's counterpart of :mod:`crs_model.pyeval`). Every value is a pair:

* a boolean expression becomes ``Tri(t, f)``: ``t`` holds iff the engine would
  evaluate it to *true*, ``f`` iff to *false*; neither means *unknown*;
* a number or enum becomes ``Val(v, k)``: the value ``v`` (Int or Real; enums are
  Int codes in declaration order) and ``k``, which holds iff the value is known.

Inputs are a typed constant plus a ``known`` Bool each; parameters are numerals.
Translation is one bottom-up :func:`~crs_model.expr.fold` (no recursion), memoized by
identity and, through a structural key per node, by value: shared definitions and
repeated guards are built once and Z3's hash-consing shares the rest.

The solver factory is :mod:`crs_model.verify.solver`, the hot C-API constructors
:mod:`crs_model.verify.capi`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import assert_never

import z3

from crs_model.exact import exact
from crs_model.expr import (
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
    fold,
)
from crs_model.types import Base, Symbol, SymbolKind, Type
from crs_model.verify.capi import mk_and, mk_not, mk_or


@dataclass(frozen=True, slots=True)
class Tri:
    """A three-valued boolean: ``t`` = definitely true, ``f`` = definitely false."""

    t: z3.BoolRef
    f: z3.BoolRef

    @property
    def unknown(self) -> z3.BoolRef:
        """Neither definitely true nor definitely false."""
        return mk_and(mk_not(self.t), mk_not(self.f))


@dataclass(frozen=True, slots=True)
class Val:
    """A number or enum code ``v`` with its ``k`` (known) flag."""

    v: z3.ArithRef
    k: z3.BoolRef


Term = Tri | Val


@dataclass(frozen=True, slots=True)
class _Part:
    """What a parent needs of a translated child: its term (None for a bare string, which
    only means something beside an enum), its enum type when statically known, and its
    structural key (equal sub-trees, positions included, have equal keys)."""

    term: Term | None
    enum: Type | None
    key: int


def numeral(value: float | int | Fraction, is_int: bool, ctx: z3.Context) -> z3.ArithRef:
    """An exact numeral: a float means its decimal text (:func:`crs_model.exact.exact`), not the binary value."""
    if is_int:
        return z3.IntVal(int(value), ctx)
    frac = Fraction(exact(value))
    return z3.RealVal(f"{frac.numerator}/{frac.denominator}", ctx)


class Translator:
    """Translate type-checked ASTs over one symbol table into :class:`Term` pairs.

    ``inputs`` maps each input variable to its ``(value, known)`` constants;
    ``extra`` resolves names the symbol table cannot (``recommendation``), and
    ``calls`` resolves ``has_action``/``has_flag`` in invariants.
    """

    def __init__(
        self,
        symbols: Mapping[str, Symbol],
        inputs: Mapping[str, tuple[z3.ExprRef, z3.BoolRef]],
        definitions: Mapping[str, Expr],
        *,
        extra: Mapping[str, Term] | None = None,
        calls: Callable[[str, str], Tri] | None = None,
        ctx: z3.Context,
    ) -> None:
        self.ctx = ctx
        self.true = z3.BoolVal(True, ctx)
        self.false = z3.BoolVal(False, ctx)
        self.symbols = symbols
        self.inputs = inputs
        self.definitions = definitions
        self.extra = dict(extra or {})
        self.calls = calls
        # keyed by value, not identity: the same guard written at many places (large
        # graphs repeat their tests) is translated once; positions are part of the key
        # but a formula's positions are offsets in its own text, so repeats still match
        self._memo: dict[int, Term] = {}  # structural key -> term
        self._keys: dict[tuple[object, ...], int] = {}  # flat structural tuple -> key (no deep hashing)
        self._parts: dict[int, tuple[Expr, _Part]] = {}  # fold's identity memo
        self._names: dict[str, Term] = {}

    # ----------------------------------------------------------- helpers
    def share_names(self, other: Translator) -> None:
        """Reuse the terms ``other`` built for names (same inputs, a wider symbol table)."""
        self._names.update(other._names)

    def enum_code(self, t: Type, value: str) -> z3.ArithRef:
        """The Int code of an enum value (its index in the declaration)."""
        return z3.IntVal(t.values.index(value), self.ctx)

    def tri(self, node: Expr) -> Tri:
        """The term of a boolean expression."""
        r = self.term(node)
        assert isinstance(r, Tri), f"expected a boolean at offset {node.pos}"
        return r

    def val(self, node: Expr) -> Val:
        """The term of a numeric or enum expression."""
        r = self.term(node)
        assert isinstance(r, Val), f"expected a value at offset {node.pos}"
        return r

    def name(self, ident: str) -> Term:
        """The term of a named input, parameter or definition (memoized)."""
        hit = self._names.get(ident)
        if hit is not None:
            return hit
        if ident in self.extra:
            return self.extra[ident]
        sym = self.symbols[ident]
        out: Term
        if sym.kind is SymbolKind.PARAMETER:
            if sym.type.base == Base.BOOL:
                out = Tri(self.true, self.false) if sym.value else Tri(self.false, self.true)
            else:
                assert isinstance(sym.value, (int, float))
                out = Val(numeral(sym.value, sym.type.base == Base.INT, self.ctx), self.true)
        elif sym.kind is SymbolKind.DEFINITION:
            out = self.term(self.definitions[ident])
        else:
            v, k = self.inputs[ident]
            if sym.type.base == Base.BOOL:
                assert isinstance(v, z3.BoolRef)
                out = Tri(z3.And(k, v), z3.And(k, mk_not(v)))
            else:
                assert isinstance(v, z3.ArithRef)
                out = Val(v, k)
        self._names[ident] = out
        return out

    def static_type(self, node: Expr) -> Type | None:
        """Enum type of ``node`` when it is an enum-valued name or conditional."""
        return self._part(node).enum

    # ----------------------------------------------------------- dispatch
    def term(self, node: Expr) -> Term:
        """The term of ``node`` (memoized by identity and by value)."""
        out = self._part(node).term
        if out is None:
            raise TypeError("a bare string is only meaningful beside an enum")
        return out

    def _part(self, node: Expr) -> _Part:
        return fold(node, self._step, self._parts)

    def _step(self, node: Expr, kids: tuple[_Part, ...]) -> _Part:
        shape: tuple[object, ...]
        enum: Type | None = None
        match node:
            case Num():
                shape = (Num, node.value, node.is_int, node.pos)
            case Str() | BoolLit():
                shape = (type(node), node.value, node.pos)
            case Name():
                shape = (Name, node.id, node.pos)
                sym = self.symbols.get(node.id)
                enum = sym.type if sym is not None else None
            case Neg() | Not() | IfThenElse():
                shape = (type(node), node.pos)
                if isinstance(node, IfThenElse):
                    enum = kids[1].enum or kids[2].enum
            case Arith() | Compare() | Logic():
                shape = (type(node), node.op, node.pos)
            case Member():
                shape = (Member, node.negated, node.pos)
            case Call():
                shape = (Call, node.func, node.pos)
            case _:
                assert_never(node)
        shape = (*shape, *(k.key for k in kids))
        key = self._keys.setdefault(shape, len(self._keys))
        if isinstance(node, Str):
            return _Part(None, enum, key)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._build(node, kids)
        return _Part(hit, enum, key)

    def _build(self, node: Expr, kids: tuple[_Part, ...]) -> Term:
        match node:
            case BoolLit():
                return Tri(self.true, self.false) if node.value else Tri(self.false, self.true)
            case Num():
                return Val(numeral(node.exact, node.is_int, self.ctx), self.true)
            case Name():
                return self.name(node.id)
            case Not():
                a = _tri(kids[0], node)
                return Tri(a.f, a.t)
            case Neg():
                x = _val(kids[0], node)
                return Val(-x.v, x.k)
            case Logic():
                a, b = _tri(kids[0], node), _tri(kids[1], node)
                if node.op == "and":
                    return Tri(mk_and(a.t, b.t), mk_or(a.f, b.f))
                if node.op == "or":
                    return Tri(mk_or(a.t, b.t), mk_and(a.f, b.f))
                return Tri(mk_or(a.f, b.t), mk_and(a.t, b.f))  # implies
            case Arith():
                x, y = _val(kids[0], node), _val(kids[1], node)
                if node.op == "/":
                    xv, yv = z3.ToReal(x.v) if x.v.is_int() else x.v, z3.ToReal(y.v) if y.v.is_int() else y.v
                    return Val(xv / yv, mk_and(x.k, y.k, yv != 0))
                if node.op == "+":
                    v = x.v + y.v
                elif node.op == "-":
                    v = x.v - y.v
                else:
                    v = x.v * y.v
                return Val(v, mk_and(x.k, y.k))
            case Compare():
                return self._compare(node, kids)
            case Member():
                return self._member(node, kids)
            case IfThenElse():
                return self._ite(node, kids)
            case Call():
                return self._call(node, kids)
            case Str():  # pragma: no cover - _step gives a bare string no term
                raise TypeError("a bare string is only meaningful beside an enum")
            case _:
                assert_never(node)

    def _operand(self, part: _Part, other: _Part, node: Expr) -> Term:
        if part.term is None:  # a string literal: the enum code beside the other side's enum
            t = other.enum
            assert t is not None, "string literal compared with a non-enum"
            assert t.base == Base.ENUM, "string literal compared with a non-enum"
            assert isinstance(node, Str)
            return Val(self.enum_code(t, node.value), self.true)
        return part.term

    def _compare(self, node: Compare, kids: tuple[_Part, ...]) -> Tri:
        a = self._operand(kids[0], kids[1], node.left)
        b = self._operand(kids[1], kids[0], node.right)
        if isinstance(a, Tri) and isinstance(b, Tri):
            eq_t = mk_or(mk_and(a.t, b.t), mk_and(a.f, b.f))
            eq_f = mk_or(mk_and(a.t, b.f), mk_and(a.f, b.t))
            return Tri(eq_t, eq_f) if node.op == "==" else Tri(eq_f, eq_t)
        assert isinstance(a, Val)
        assert isinstance(b, Val)
        ops: dict[str, Callable[[z3.ArithRef, z3.ArithRef], z3.BoolRef]] = {
            "<": lambda p, q: p < q,
            "<=": lambda p, q: p <= q,
            ">": lambda p, q: p > q,
            ">=": lambda p, q: p >= q,
            "==": lambda p, q: p == q,
            "!=": lambda p, q: p != q,
        }
        c = ops[node.op](a.v, b.v)
        k = mk_and(a.k, b.k)
        return Tri(mk_and(k, c), mk_and(k, mk_not(c)))

    def _member(self, node: Member, kids: tuple[_Part, ...]) -> Tri:
        x = _val(kids[0], node)
        t = kids[0].enum
        lits: list[z3.BoolRef] = []
        for item in node.values:
            if isinstance(item, Str):
                assert t is not None
                lits.append(x.v == self.enum_code(t, item.value))
            else:
                lits.append(x.v == numeral(item.exact, item.is_int, self.ctx))
        inside = mk_or(*lits, ctx=self.ctx)
        if node.negated:
            inside = mk_not(inside)
        return Tri(mk_and(x.k, inside), mk_and(x.k, mk_not(inside)))

    def _ite(self, node: IfThenElse, kids: tuple[_Part, ...]) -> Term:
        c = _tri(kids[0], node)
        a = self._operand(kids[1], kids[2], node.then)
        b = self._operand(kids[2], kids[1], node.orelse)
        unk = c.unknown
        if isinstance(a, Tri) and isinstance(b, Tri):
            t = mk_or(mk_and(c.t, a.t), mk_and(c.f, b.t), mk_and(unk, a.t, b.t))
            f = mk_or(mk_and(c.t, a.f), mk_and(c.f, b.f), mk_and(unk, a.f, b.f))
            return Tri(t, f)
        assert isinstance(a, Val)
        assert isinstance(b, Val)
        av, bv = a.v, b.v
        if av.is_int() != bv.is_int():
            av = z3.ToReal(av) if av.is_int() else av
            bv = z3.ToReal(bv) if bv.is_int() else bv
        v = z3.If(c.f, bv, av)
        k = z3.If(c.t, a.k, z3.If(c.f, b.k, mk_and(a.k, b.k, av == bv)))
        return Val(v, k)

    def _call(self, node: Call, kids: tuple[_Part, ...]) -> Term:
        if node.func in ("min", "max"):
            vals = [_val(k, node) for k in kids]
            real = any(not x.v.is_int() for x in vals)
            acc = z3.ToReal(vals[0].v) if real and vals[0].v.is_int() else vals[0].v
            for x in vals[1:]:
                v = z3.ToReal(x.v) if real and x.v.is_int() else x.v
                acc = z3.If(v < acc, v, acc) if node.func == "min" else z3.If(v > acc, v, acc)
            return Val(acc, mk_and(*(x.k for x in vals)))
        assert self.calls is not None, f"{node.func}() is only meaningful in invariants"
        arg = node.args[0]
        assert isinstance(arg, Str)
        return self.calls(node.func, arg.value)


def _tri(part: _Part, at: Expr) -> Tri:
    assert isinstance(part.term, Tri), f"expected a boolean operand under offset {at.pos}"
    return part.term


def _val(part: _Part, at: Expr) -> Val:
    assert isinstance(part.term, Val), f"expected a value operand under offset {at.pos}"
    return part.term
