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

import dataclasses
import operator
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, TypeVar, assert_never, cast

from crs_model.exact import Exact, NumberError, arith, exact, parse_decimal

if TYPE_CHECKING:
    from crs_model.types import Symbol

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
    """A quoted enum value (``'car_t'``)."""

    value: str
    pos: int


@dataclass(frozen=True, slots=True)
class BoolLit:
    """``true`` or ``false``."""

    value: bool
    pos: int


@dataclass(frozen=True, slots=True)
class Name:
    """A variable, parameter or definition, by its spec name."""

    id: str
    pos: int


@dataclass(frozen=True, slots=True)
class Neg:
    """Unary minus."""

    operand: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Not:
    """Logical ``not`` (Kleene: ``not unknown`` is unknown)."""

    operand: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Arith:
    """``left op right`` for ``+ - * /`` (exact arithmetic)."""

    op: str  # + - * /
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Compare:
    """``left op right`` for ``< <= > >= == !=`` (comparisons do not chain)."""

    op: str  # < <= > >= == !=
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Logic:
    """``left op right`` for ``and``, ``or`` and ``implies``."""

    op: str  # and | or | implies
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class IfThenElse:
    """``if cond then a else b`` (unknown unless decided, or both branches equal)."""

    cond: Expr
    then: Expr
    orelse: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Member:
    """``operand in {values}``, or ``not in`` when ``negated``."""

    operand: Expr
    values: tuple[Num | Str, ...]
    negated: bool
    pos: int


@dataclass(frozen=True, slots=True)
class Call:
    """A built-in function call: ``min``, ``max``, ``has_action``, ``has_flag``, and in
    temporal invariants ``count_before``, ``count_within`` (see :mod:`crs_model.care`)."""

    func: str  # min | max | has_action | has_flag | count_before | count_within
    args: tuple[Expr, ...]
    pos: int


Expr = Num | Str | BoolLit | Name | Neg | Not | Arith | Compare | Logic | IfThenElse | Member | Call

# Counting over the earlier steps of a care course: allowed in temporal invariants only
# (the type checker enforces it) and rewritten away before any backend sees them.
TEMPORAL_FUNCTIONS = ("count_before", "count_within")
FUNCTIONS = ("min", "max", "has_action", "has_flag", *TEMPORAL_FUNCTIONS)
KEYWORDS = frozenset({"and", "or", "not", "implies", "if", "then", "else", "in", "true", "false"})
_CMP_ALIASES = {"≤": "<=", "≥": ">=", "≠": "!=", "=<": "<=", "=>": ">="}


def children(node: Expr) -> tuple[Expr, ...]:
    """Direct sub-expressions, in source order."""
    match node:
        case Num() | Str() | BoolLit() | Name():
            return ()
        case Neg() | Not():
            return (node.operand,)
        case Arith() | Compare() | Logic():
            return (node.left, node.right)
        case IfThenElse():
            return (node.cond, node.then, node.orelse)
        case Member():
            return (node.operand, *node.values)
        case Call():
            return node.args
        case _:
            assert_never(node)


# ---------------------------------------------------------------- walking
# Every backend walks the AST through these, never by recursion: a tree built directly
# (not parsed) may be far deeper than Python's stack.
R = TypeVar("R")


def walk(node: Expr) -> Iterator[Expr]:
    """Every node of ``node``, pre-order (parents first, children in source order); a shared
    sub-tree is visited at each place it occurs."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


def post_order(node: Expr) -> list[Expr]:
    """Every distinct node (by identity) of ``node`` once, children before parents, in source order."""
    out: list[Expr] = []
    seen: set[int] = set()
    stack: list[tuple[Expr, bool]] = [(node, False)]
    while stack:
        n, expanded = stack.pop()
        if expanded:
            out.append(n)
            continue
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.append((n, True))
        stack.extend((c, False) for c in reversed(children(n)) if id(c) not in seen)
    return out


def fold(
    node: Expr,
    fn: Callable[[Expr, tuple[R, ...]], R],
    memo: dict[int, tuple[Expr, R]] | None = None,
) -> R:
    """Evaluate ``node`` bottom-up: ``fn(n, results of n's children)``, each distinct node once.

    ``fn`` is called on children (left to right, each sub-tree whole) before their parent,
    so a translator with side effects (a solver's term table) sees the order a recursive
    walk would. ``memo`` maps ``id(n)`` to ``(n, result)`` (the node is kept so its id stays
    unique); pass one to share results across calls.
    """
    done: dict[int, tuple[Expr, R]] = {} if memo is None else memo
    stack: list[tuple[Expr, bool]] = [(node, False)]
    while stack:
        n, expanded = stack.pop()
        key = id(n)
        if key in done:
            continue
        kids = children(n)
        if expanded:
            done[key] = (n, fn(n, tuple(done[id(c)][1] for c in kids)))
        else:
            stack.append((n, True))
            stack.extend((c, False) for c in reversed(kids) if id(c) not in done)
    return done[id(node)][1]


def _rebuild(node: Expr, kids: tuple[Expr, ...]) -> Expr:
    """``node`` with its children replaced by ``kids`` (same order as :func:`children`)."""
    match node:
        case Num() | Str() | BoolLit() | Name():
            return node
        case Neg() | Not():
            return dataclasses.replace(node, operand=kids[0])
        case Arith() | Compare() | Logic():
            return dataclasses.replace(node, left=kids[0], right=kids[1])
        case IfThenElse():
            return IfThenElse(kids[0], kids[1], kids[2], node.pos)
        case Member():
            values = kids[1:]
            if not all(isinstance(v, (Num, Str)) for v in values):
                raise TypeError("a set's members must stay literals")
            return Member(kids[0], cast(tuple[Num | Str, ...], values), node.negated, node.pos)
        case Call():
            return Call(node.func, kids, node.pos)
        case _:
            assert_never(node)


def replace(node: Expr, mapping_fn: Callable[[Expr], Expr | None]) -> Expr:
    """``node`` with every sub-tree for which ``mapping_fn`` returns a node replaced by it
    (outermost first: a replaced sub-tree is not looked into). Unchanged sub-trees are shared."""
    done: dict[int, tuple[Expr, Expr]] = {}
    stack: list[tuple[Expr, bool]] = [(node, False)]
    while stack:
        n, expanded = stack.pop()
        key = id(n)
        if expanded:
            kids = children(n)
            new = tuple(done[id(c)][1] for c in kids)
            done[key] = (n, n if all(a is b for a, b in zip(new, kids, strict=True)) else _rebuild(n, new))
            continue
        if key in done:
            continue
        sub = mapping_fn(n)
        if sub is not None:
            done[key] = (n, sub)
            continue
        stack.append((n, True))
        stack.extend((c, False) for c in reversed(children(n)) if id(c) not in done)
    return done[id(node)][1]


def names(node: Expr) -> set[str]:
    """Every name referenced anywhere in ``node``."""
    return {n.id for n in post_order(node) if isinstance(n, Name)}


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
    out: list[Expr] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Logic) and n.op == "and":
            stack.append(n.right)
            stack.append(n.left)
        else:
            out.append(n)
    return out


# ---------------------------------------------------------------- constant folding
_NO = object()  # "not a constant"


def _literal(value: object, pos: int) -> Expr | None:
    """The literal node that means ``value`` exactly, or None when no literal can."""
    if isinstance(value, bool):
        return BoolLit(value, pos)
    if isinstance(value, str):
        return Str(value, pos)
    if isinstance(value, int):
        return Num(float(value), True, pos) if -(2**53) <= value <= 2**53 else None
    if isinstance(value, float):
        return Num(value, False, pos)  # an engine float means its repr exactly
    return None  # a Fraction no float spells (1/3)


def _folded(node: Expr, kids: tuple[tuple[Expr, object], ...], params: Mapping[str, object]) -> tuple[Expr, object]:
    """One step of :func:`fold_constants`: ``(node with folded children, its value or _NO)``."""
    vals: list[Any] = [v for _, v in kids]
    const = all(v is not _NO for v in vals)
    value: object = _NO
    match node:
        case Num():
            return node, int(node.value) if node.is_int else node.value
        case Str() | BoolLit():
            return node, node.value
        case Name():
            value = params.get(node.id, _NO)
        case IfThenElse() if vals[0] is True or vals[0] is False:
            return kids[1] if vals[0] else kids[2]
        case Neg() if const:
            value = -vals[0]
        case Not() if const:
            value = not vals[0]
        case Arith() if const:
            a, b = vals
            if node.op == "/" and b == 0:
                value = _NO  # unknown at run time: left for the engine to say so
            elif type(a) is int and type(b) is int and node.op != "/":
                value = a + b if node.op == "+" else a - b if node.op == "-" else a * b
            else:
                value = arith(node.op, a, b)
        case Compare() if const:
            value = COMPARE_OPS[node.op](_meaning(vals[0]), _meaning(vals[1]))
        case Logic() if const:
            p, q = vals
            value = (p and q) if node.op == "and" else (p or q) if node.op == "or" else ((not p) or q)
        case Member() if const:
            members = {v.exact if isinstance(v, Num) else v.value for v in node.values}
            value = (_meaning(vals[0]) in members) != node.negated
        case Call() if const and node.func in ("min", "max"):
            pick = min if node.func == "min" else max
            value = pick(vals, key=exact)
        case Neg() | Not() | Arith() | Compare() | Logic() | Member() | Call() | IfThenElse():
            pass
        case _:
            assert_never(node)
    if value is not _NO and (lit := _literal(value, node.pos)) is not None:
        return lit, value
    if isinstance(node, Arith) and node.op == "/" and vals[1] is not _NO and vals[1] == 0:
        # a literal 0 divisor is a type error: keep the divisor as written
        return _rebuild(node, (kids[0][0], node.right)), _NO
    return _rebuild(node, tuple(k for k, _ in kids)), _NO


def _meaning(v: Any) -> Any:
    """What a constant means: a number its exact value (so 0.1 + 0.2 == 0.3, as in the engine)."""
    return exact(v) if isinstance(v, (int, float, Fraction)) and not isinstance(v, bool) else v


COMPARE_OPS: dict[str, Callable[[Any, Any], bool]] = {  # the engine's, steering's and folding's
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def fold_constants(node: Expr, symbols: Mapping[str, Symbol]) -> Expr:
    """``node`` with parameters and every sub-expression of literals and parameters replaced by
    the literal of its value, computed with the engine's exact arithmetic (:mod:`crs_model.exact`).

    Meaning is unchanged: a value no literal spells exactly (``1/3``) and a division by zero
    (unknown at run time) are left as they are, and so is every sub-expression that reads an input.
    """
    # only a parameter's symbol has a value (types.Symbol); no import of types, which imports this module
    params = {n: s.value for n, s in symbols.items() if s.value is not None}
    folded: tuple[Expr, object] = fold(node, lambda n, kids: _folded(n, kids, params))
    return folded[0]


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
