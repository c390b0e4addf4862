"""The spec's expression language: one AST shared by every backend.

Grammar (lowest precedence first)::

    expr     := 'if' expr 'then' expr 'else' expr | implies
    implies  := or ('implies' implies)?            # right-associative
    or       := and ('or' and)*
    and      := not ('and' not)*
    not      := 'not' not | cmp
    cmp      := sum (CMPOP sum | ['not'] 'in' '{' literal (',' literal)* '}')?
    sum      := prod (('+' | '-') prod)*
    prod     := unary (('*' | '/') unary)*
    unary    := '-' unary | atom
    atom     := NUMBER | STRING | 'true' | 'false' | NAME | NAME '(' args ')'
              | '(' expr ')'

``CMPOP`` is one of ``< <= > >= == !=`` (``≤ ≥ ≠`` are accepted too). Comparisons
do not chain. The parser is hand-written: spec text is data and is never given
to ``eval``/``exec``. Input length, nesting while parsing, and the built tree's
depth and size are bounded, so no backend's recursion can overflow.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from crs_model.exact import Exact, NumberError, parse_decimal

MAX_EXPR_CHARS = 4000
MAX_DEPTH = 32  # nesting while parsing (parentheses, 'not', unary '-', 'if')
# The built tree: a flat chain (a + b + ... or a or b or ...) nests without parentheses.
# Every backend walks it; 64 levels and 256 nodes are ~9x the shipped spec's largest.
MAX_TREE_DEPTH = 64
MAX_TERMS = 256


class ExprSyntaxError(Exception):
    """A parse error at ``offset`` characters into the expression text."""

    def __init__(self, offset: int, message: str) -> None:
        self.offset = offset
        self.message = message
        super().__init__(message)


# ---------------------------------------------------------------- AST nodes
@dataclass(frozen=True, slots=True)
class Num:
    """A number literal. ``value`` is exact: the parser accepts only literals that a
    float holds exactly in its shortest ``repr`` (see :mod:`crs_model.exact`)."""

    value: float
    is_int: bool
    pos: int

    @property
    def exact(self) -> Exact:
        """The literal's exact value (an int, or a Fraction of its decimal text)."""
        return int(self.value) if self.is_int else Fraction(repr(self.value))


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    pos: int


@dataclass(frozen=True, slots=True)
class BoolLit:
    value: bool
    pos: int


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    pos: int


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Arith:
    op: str  # + - * /
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # < <= > >= == !=
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Logic:
    op: str  # and | or | implies
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class IfThenElse:
    cond: Expr
    then: Expr
    orelse: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Member:
    operand: Expr
    values: tuple[Num | Str, ...]
    negated: bool
    pos: int


@dataclass(frozen=True, slots=True)
class Call:
    func: str  # min | max | has_action | has_flag
    args: tuple[Expr, ...]
    pos: int


Expr = Num | Str | BoolLit | Name | Neg | Not | Arith | Compare | Logic | IfThenElse | Member | Call

FUNCTIONS = ("min", "max", "has_action", "has_flag")
KEYWORDS = frozenset({"and", "or", "not", "implies", "if", "then", "else", "in", "true", "false"})
_CMP_ALIASES = {"≤": "<=", "≥": ">=", "≠": "!=", "=<": "<=", "=>": ">="}


def children(node: Expr) -> tuple[Expr, ...]:
    """Direct sub-expressions, in source order."""
    if isinstance(node, (Neg, Not)):
        return (node.operand,)
    if isinstance(node, (Arith, Compare, Logic)):
        return (node.left, node.right)
    if isinstance(node, IfThenElse):
        return (node.cond, node.then, node.orelse)
    if isinstance(node, Member):
        return (node.operand, *node.values)
    if isinstance(node, Call):
        return node.args
    return ()


def names(node: Expr) -> set[str]:
    """Every name referenced anywhere in ``node``."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Name):
            out.add(n.id)
        stack.extend(children(n))
    return out


def measure(node: Expr, inlined: Mapping[str, int] | None = None) -> tuple[int, int]:
    """``(depth, terms)`` of the built tree, iteratively: the longest root-to-leaf path in
    nodes and the node count. With ``inlined`` (definition name -> its inlined depth), a
    name of a definition counts as that definition's tree put in its place."""
    inlined = inlined or {}
    depth = terms = 0
    stack = [(node, 1)]
    while stack:
        n, d = stack.pop()
        terms += 1
        if isinstance(n, Name) and n.id in inlined:
            d += inlined[n.id] - 1
        depth = max(depth, d)
        stack.extend((c, d + 1) for c in children(n))
    return depth, terms


def conjuncts(node: Expr) -> list[Expr]:
    """Top-level ``and`` operands (``a and b and c`` -> [a, b, c])."""
    if isinstance(node, Logic) and node.op == "and":
        return conjuncts(node.left) + conjuncts(node.right)
    return [node]


# ---------------------------------------------------------------- tokenizer
@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # num, str, name, op, end
    text: str
    pos: int


_OPS2 = ("<=", ">=", "==", "!=", "=<", "=>")
_OPS1 = "<>+-*/(),{}≤≥≠"
_UNICODE_OPS = "≤≥≠"
_DIGITS = "0123456789"


def _tokenize(src: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
            continue
        if c in _DIGITS or (c == "." and i + 1 < n and src[i + 1] in _DIGITS):
            # take the whole word so the error shows it all ('3৪', '3__8_', '0x1F')
            j = i
            while j < n and (src[j].isalnum() or src[j] in "._" or (src[j] in "+-" and src[j - 1] in "eE")):
                j += 1
            toks.append(_Tok("num", src[i:j], i))
            i = j
            continue
        if not c.isascii() and c not in _UNICODE_OPS:
            kind = "digit" if c.isdigit() else "letter" if c.isalpha() else "character"
            raise ExprSyntaxError(
                i,
                f"non-ASCII {kind} {c!r} (U+{ord(c):04X} {unicodedata.name(c, 'unnamed')}); "
                "names and numbers are ASCII (a-z, 0-9, _)",
            )
        if c.isalpha() or c == "_":
            j = i
            while j < n and (src[j].isalnum() or src[j] == "_"):
                j += 1
            word = src[i:j]
            bad = next((k for k, ch in enumerate(word) if not ch.isascii()), None)
            if bad is not None:
                ch = word[bad]
                raise ExprSyntaxError(
                    i + bad,
                    f"name {word!r} has the non-ASCII character {ch!r} (U+{ord(ch):04X} "
                    f"{unicodedata.name(ch, 'unnamed')}); names are ASCII (a-z, 0-9, _)",
                )
            toks.append(_Tok("name", word, i))
            i = j
            continue
        if c in "'\"":
            j = src.find(c, i + 1)
            if j < 0:
                raise ExprSyntaxError(i, "unterminated string literal")
            toks.append(_Tok("str", src[i + 1 : j], i))
            i = j + 1
            continue
        two = src[i : i + 2]
        if two in _OPS2:
            toks.append(_Tok("op", _CMP_ALIASES.get(two, two), i))
            i += 2
            continue
        if c in _OPS1:
            toks.append(_Tok("op", _CMP_ALIASES.get(c, c), i))
            i += 1
            continue
        if c == "=":
            raise ExprSyntaxError(i, "'=' is not an operator here (did you mean '=='?)")
        raise ExprSyntaxError(i, f"unexpected character {c!r}")
    toks.append(_Tok("end", "", n))
    return toks


# ---------------------------------------------------------------- parser
class _Parser:
    def __init__(self, src: str) -> None:
        self.toks = _tokenize(src)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def _is(self, text: str) -> bool:
        t = self.tok
        return t.kind in ("op", "name") and t.text == text

    def _eat(self, text: str) -> _Tok:
        if not self._is(text):
            raise ExprSyntaxError(self.tok.pos, f"expected '{text}', found {self._describe()}")
        t = self.tok
        self.i += 1
        return t

    def _describe(self) -> str:
        t = self.tok
        return "end of expression" if t.kind == "end" else f"'{t.text}'"

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprSyntaxError(self.tok.pos, f"expression nested deeper than {MAX_DEPTH} levels")

    def parse(self) -> Expr:
        e = self.expr()
        if self.tok.kind != "end":
            raise ExprSyntaxError(self.tok.pos, f"unexpected {self._describe()} after expression")
        return e

    def expr(self) -> Expr:
        self._enter()
        try:
            if self._is("if"):
                pos = self._eat("if").pos
                cond = self.expr()
                self._eat("then")
                then = self.expr()
                self._eat("else")
                orelse = self.expr()
                return IfThenElse(cond, then, orelse, pos)
            return self.implies()
        finally:
            self.depth -= 1

    def implies(self) -> Expr:
        left = self.or_()
        if self._is("implies"):
            pos = self._eat("implies").pos
            self._enter()
            try:
                right = self.implies()
            finally:
                self.depth -= 1
            return Logic("implies", left, right, pos)
        return left

    def or_(self) -> Expr:
        left = self.and_()
        while self._is("or"):
            pos = self._eat("or").pos
            left = Logic("or", left, self.and_(), pos)
        return left

    def and_(self) -> Expr:
        left = self.not_()
        while self._is("and"):
            pos = self._eat("and").pos
            left = Logic("and", left, self.not_(), pos)
        return left

    def not_(self) -> Expr:
        if self._is("not"):
            pos = self._eat("not").pos
            self._enter()
            try:
                return Not(self.not_(), pos)
            finally:
                self.depth -= 1
        return self.cmp()

    def cmp(self) -> Expr:
        left = self.sum()
        t = self.tok
        if t.kind == "op" and t.text in ("<", "<=", ">", ">=", "==", "!="):
            self.i += 1
            right = self.sum()
            nt = self.tok
            if nt.kind == "op" and nt.text in ("<", "<=", ">", ">=", "==", "!="):
                raise ExprSyntaxError(nt.pos, "comparisons do not chain; join them with 'and'")
            return Compare(t.text, left, right, t.pos)
        negated = False
        if self._is("not") and self.toks[self.i + 1].text == "in":
            self.i += 1
            negated = True
        if self._is("in"):
            pos = self._eat("in").pos
            self._eat("{")
            values: list[Num | Str] = [self._literal()]
            while self._is(","):
                self._eat(",")
                values.append(self._literal())
            self._eat("}")
            return Member(left, tuple(values), negated, pos)
        return left

    def _literal(self) -> Num | Str:
        t = self.tok
        if t.kind == "str":
            self.i += 1
            return Str(t.text, t.pos)
        neg = False
        if self._is("-"):
            self.i += 1
            neg = True
        t = self.tok
        if t.kind == "num":
            self.i += 1
            n = self._number(t)
            return Num(-n.value, n.is_int, n.pos) if neg else n
        raise ExprSyntaxError(t.pos, f"expected a literal value in the set, found {self._describe()}")

    def sum(self) -> Expr:
        left = self.prod()
        while self.tok.kind == "op" and self.tok.text in "+-":
            t = self.tok
            self.i += 1
            left = Arith(t.text, left, self.prod(), t.pos)
        return left

    def prod(self) -> Expr:
        left = self.unary()
        while self.tok.kind == "op" and self.tok.text in "*/":
            t = self.tok
            self.i += 1
            left = Arith(t.text, left, self.unary(), t.pos)
        return left

    def unary(self) -> Expr:
        if self._is("-"):
            pos = self._eat("-").pos
            self._enter()
            try:
                return Neg(self.unary(), pos)
            finally:
                self.depth -= 1
        return self.atom()

    @staticmethod
    def _number(t: _Tok) -> Num:
        try:
            q = parse_decimal(t.text)
        except NumberError as exc:
            raise ExprSyntaxError(t.pos, str(exc)) from None
        return Num(float(q), isinstance(q, int), t.pos)

    def atom(self) -> Expr:
        t = self.tok
        if t.kind == "num":
            self.i += 1
            return self._number(t)
        if t.kind == "str":
            self.i += 1
            return Str(t.text, t.pos)
        if t.kind == "name":
            if t.text in ("true", "false"):
                self.i += 1
                return BoolLit(t.text == "true", t.pos)
            if t.text in KEYWORDS:
                raise ExprSyntaxError(t.pos, f"unexpected keyword '{t.text}'")
            self.i += 1
            if self._is("("):
                if t.text not in FUNCTIONS:
                    raise ExprSyntaxError(t.pos, f"unknown function '{t.text}' (allowed: {', '.join(FUNCTIONS)})")
                self._eat("(")
                args: list[Expr] = []
                if not self._is(")"):
                    args.append(self.expr())
                    while self._is(","):
                        self._eat(",")
                        args.append(self.expr())
                self._eat(")")
                return Call(t.text, tuple(args), t.pos)
            return Name(t.text, t.pos)
        if self._is("("):
            self._eat("(")
            e = self.expr()
            self._eat(")")
            return e
        raise ExprSyntaxError(t.pos, f"expected a value, found {self._describe()}")


def parse(src: str) -> Expr:
    """Parse expression text into an AST; raise :class:`ExprSyntaxError`."""
    if len(src) > MAX_EXPR_CHARS:
        raise ExprSyntaxError(0, f"expression longer than {MAX_EXPR_CHARS} characters")
    if not src.strip():
        raise ExprSyntaxError(0, "empty expression")
    tree = _Parser(src).parse()
    depth, terms = measure(tree)
    if terms > MAX_TERMS:
        raise ExprSyntaxError(0, f"expression has {terms} terms (at most {MAX_TERMS}); split it into definitions")
    if depth > MAX_TREE_DEPTH:
        raise ExprSyntaxError(
            0, f"expression is {depth} levels deep once parsed (at most {MAX_TREE_DEPTH}); split it into definitions"
        )
    return tree
