"""Exact decisions under absent inputs: what every *valid completion* of a partial patient gives.

Three-valued evaluation (:mod:`crs_model.pyeval`) is sound but loses what is known
about an unknown value (grade 2 or 3 is certainly >= 2) and ignores the consistency
constraints (a vasopressor running means hypotension). When it leaves a decision
open, the engine asks this module, which decides over the completions themselves.

The method: the absent inputs are filled in one at a time, each with one
representative value per *cell* of its domain, and three-valued evaluation decides
what it can after each step (a depth-first search, pruned where a constraint turns
false, never branching on an input the open formulas do not read).

* A bool or enum input takes each of its values.
* A numeric input is cut at every constant it is compared with (literals, parameters
  and expressions with finitely many constant values, such as ``if h < 24 then 12
  else 24``), at its domain bounds, and, for inputs compared with one another
  (``a < b``), at the constants of the whole comparison group and the values its
  members already have. Every comparison the input takes part in is constant on a
  cell, so one value per cell stands for all of them: by induction over the inputs
  filled in, the completions searched reach exactly the outcomes, output values and
  flags that some valid completion reaches (an input compared with a partner that
  is still absent is settled when the partner is filled in, cut at this input's value).
* A numeric input read in any other way (arithmetic, ``min``/``max``, a value of an
  ``if``) is *opaque*: the search never fills it in, and what depends on it stays
  unknown - sound, possibly incomplete. :attr:`Scope.opaque` names each one and where
  it is read, so the loader's notes and the verifier's ``missing-data-complete``
  check can say so (on the shipped spec only the weight, read by the dose, is).

A *completion* keeps every recorded value and may record absent ones; it is valid
while no consistency constraint is false (three-valued, as the patient validator
reads them). Some inputs are meaningful only in some contexts (hours since the last
tocilizumab dose need a dose): where no value of such an input is valid it stays
absent, and an input that some context allows no value of is also tried absent. The
decision is definitive when every valid completion that decides gives the same
outcome and required output values and no valid completion is left undecidable
(nothing it needs can be recorded, or only an opaque input could settle it).

Searches are bounded (:data:`SEARCH_BUDGET`, :data:`MISSING_BUDGET` completions);
beyond a bound the answer stays the sound three-valued one. Searches for an output's
or a flag's possible values are cached by the cells of the inputs they can read.

The module imports nothing heavy and is used only when three-valued evaluation
leaves a decision, an output or a flag open: a complete patient never reaches it.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations, product
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from crs_model.exact import Exact, exact
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
    children,
    fold,
    names,
)
from crs_model.index import SiteKind
from crs_model.types import Base, SymbolKind

if TYPE_CHECKING:
    from crs_model.model import Spec
    from crs_model.pyeval import UnknownExplainer

_NATIVE = 2**53  # ints beyond it are not exact floats
_SIDE = {">=": "up", "<": "up", ">": "down", "<=": "down", "==": "point", "!=": "point"}
_MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}  # c op x  is  x mirror(op) c
MAX_VALUES = 64  # a constant-valued expression with more possible values is not tracked
SEARCH_BUDGET = 4_000  # completions tried per question; beyond it the answer stays three-valued
MISSING_BUDGET = 1_000  # completions tried looking for the smallest sets of inputs that decide


class OverBudget(Exception):
    """A search needed more steps than its budget: the caller keeps the three-valued answer."""


# ------------------------------------------------------------------ the static analysis
@dataclass(frozen=True, slots=True)
class Scope:
    """What the exact method can fill in, per input; built once per spec (:func:`build_scope`).

    ``grid``: per numeric input that is not opaque, the sorted exact points its domain is
    cut at (its comparison group's constants and every member's domain bounds).
    ``group``: per numeric input compared with another input, the other members of its
    comparison group, in declaration order. ``opaque``: per numeric input outside the
    method, the spec elements that read it outside a comparison with a constant.
    ``cuts``: per numeric input, the constants it is itself compared with and the side each point
    joins (``x >= 38`` puts 38 with the values above it).
    """

    grid: Mapping[str, tuple[Exact, ...]]
    group: Mapping[str, tuple[str, ...]]
    opaque: Mapping[str, tuple[str, ...]]
    # per numeric input, the constants it is itself compared with, ascending, each with the side its
    # point joins: "up" (only >= and <), "down" (only > and <=) or "point" (==, in, or both kinds)
    cuts: Mapping[str, tuple[tuple[Exact, str], ...]]


def _numbers(values: Iterable[object]) -> frozenset[Exact] | None:
    out: set[Exact] = set()
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, Fraction)):
            return None
        out.add(exact(v))
    return frozenset(out)


class _Finite:
    """The finitely many constant values an expression can take, or None (it reads a numeric input)."""

    def __init__(self, spec: Spec) -> None:
        self._spec = spec
        self._defs: dict[str, frozenset[object] | None] = {}

    def of(self, node: Expr) -> frozenset[object] | None:
        return fold(node, self._step)

    def _definition(self, name: str) -> frozenset[object] | None:
        if name not in self._defs:
            self._defs[name] = None  # a cycle (rejected at load) reads as not constant
            self._defs[name] = self.of(self._spec.definitions[name].formula.ast)
        return self._defs[name]

    def _step(self, n: Expr, kids: tuple[frozenset[object] | None, ...]) -> frozenset[object] | None:
        match n:
            case Num():
                return frozenset({n.exact})
            case Str() | BoolLit():
                return frozenset({n.value})
            case Name():
                sym = self._spec.symbols.get(n.id)
                if sym is None:
                    return None
                if sym.kind is SymbolKind.PARAMETER:
                    v = sym.value
                    if v is None:
                        return None
                    return frozenset({v if isinstance(v, (bool, str)) else exact(v)})
                if sym.kind is SymbolKind.DEFINITION:
                    return self._definition(n.id)
                if sym.type.base is Base.BOOL:
                    return frozenset({False, True})
                if sym.type.base is Base.ENUM:
                    return frozenset(sym.type.values)
                return None
            case Compare() | Logic() | Not() | Member():
                return frozenset({False, True})
            case IfThenElse():
                _, a, b = kids
                return None if a is None or b is None else _capped(a | b)
            case Neg():
                (a,) = kids
                return None if a is None else frozenset(-x for x in a)  # type: ignore[operator]
            case Arith():
                a, b = kids
                if a is None or b is None or len(a) * len(b) > MAX_VALUES:
                    return None
                out: set[object] = set()
                for xo, yo in product(a, b):
                    if not (isinstance(xo, (int, Fraction)) and isinstance(yo, (int, Fraction))):
                        return None
                    x, y = xo, yo
                    if n.op == "/":
                        if y == 0:
                            return None  # a division by zero is unknown, not a value
                        out.add(Fraction(x) / y)
                    else:
                        out.add(x + y if n.op == "+" else x - y if n.op == "-" else x * y)
                return _capped(frozenset(out))
            case Call():
                if n.func in ("has_action", "has_flag"):
                    return frozenset({False, True})
                if any(k is None for k in kids) or math.prod(len(k) for k in kids if k) > MAX_VALUES:
                    return None
                pick = min if n.func == "min" else max
                return _capped(frozenset(pick(c) for c in product(*kids)))  # type: ignore[arg-type,type-var]
            case _:
                return None


def _capped(s: frozenset[object]) -> frozenset[object] | None:
    return s if len(s) <= MAX_VALUES else None


def build_scope(spec: Spec) -> Scope:
    """Which inputs the exact method fills in, and where each numeric one is cut."""
    idx = spec.index
    numeric = {n for n, v in spec.variables.items() if v.type.numeric}
    finite = _Finite(spec)
    # the formulas a decision reads: guards, flag conditions, constraints, outputs and the
    # definitions they name (a definition only an invariant or the care section reads is not one)
    roots = [s for s in idx.sites if s.kind in (SiteKind.GUARD, SiteKind.FLAG, SiteKind.CONSTRAINT, SiteKind.OUTPUT)]
    wanted: dict[str, None] = {}
    stack = [n for s in roots for n in s.names if n in idx.definitions]
    while stack:
        d = stack.pop()
        if d not in wanted:
            wanted[d] = None
            stack.extend(n for n in idx.definitions[d].names if n in idx.definitions)
    sites = [*roots, *(idx.definitions[d] for d in sorted(wanted))]
    cuts: dict[str, set[Exact]] = {n: set() for n in numeric}
    sides: dict[str, dict[Exact, set[str]]] = {}  # per input and cut: which side the cut point joins
    partners: dict[str, set[str]] = {n: set() for n in numeric}
    opaque: dict[str, dict[str, None]] = {}
    for site in sites:
        handled: set[int] = set()
        stack_e: list[Expr] = [site.ast]
        reads: list[Name] = []
        while stack_e:
            node = stack_e.pop()
            stack_e.extend(children(node))
            if isinstance(node, Name) and node.id in numeric:
                reads.append(node)
            elif isinstance(node, Compare):
                for x, other in ((node.left, node.right), (node.right, node.left)):
                    if not (isinstance(x, Name) and x.id in numeric):
                        continue
                    if isinstance(other, Name) and other.id in numeric:
                        partners[x.id].add(other.id)
                        handled.add(id(x))
                        continue
                    values = finite.of(other)
                    nums = _numbers(values) if values is not None else None
                    if nums is not None:
                        cuts[x.id] |= nums
                        side = _SIDE[node.op if x is node.left else _MIRROR[node.op]]
                        for c in nums:
                            sides.setdefault(x.id, {}).setdefault(c, set()).add(side)
                        handled.add(id(x))
            elif isinstance(node, Member) and isinstance(node.operand, Name) and node.operand.id in numeric:
                nums = _numbers(v.exact for v in node.values if isinstance(v, Num))
                if nums is not None and all(isinstance(v, Num) for v in node.values):
                    cuts[node.operand.id] |= nums
                    for c in nums:
                        sides.setdefault(node.operand.id, {}).setdefault(c, set()).add("point")
                    handled.add(id(node.operand))
        for name in reads:
            if id(name) not in handled:
                opaque.setdefault(name.id, {})[site.element] = None
    # comparison groups: inputs compared with one another share their cuts
    order = {v: i for i, v in enumerate(spec.variables)}
    group_of: dict[str, frozenset[str]] = {}
    for start in sorted(numeric, key=order.__getitem__):
        if start in group_of:
            continue
        members: set[str] = set()
        todo = [start]
        while todo:
            member = todo.pop()
            if member not in members:
                members.add(member)
                todo.extend(partners[member])
                todo.extend(p for p in numeric if member in partners[p])
        frozen = frozenset(members)
        for m in members:
            group_of[m] = frozen
    grid: dict[str, tuple[Exact, ...]] = {}
    group: dict[str, tuple[str, ...]] = {}
    for inp in sorted(numeric, key=order.__getitem__):
        members_x = group_of[inp]
        if any(m in opaque for m in members_x):  # a comparison with an opaque input is not settled either
            if inp not in opaque:
                opaque[inp] = {f"compared with {m}": None for m in sorted(members_x - {inp}, key=order.__getitem__)}
            continue
        points: set[Exact] = set()
        for m in members_x:
            points |= cuts[m]
            var = spec.variables[m]
            points |= {exact(b) for b in (var.minimum, var.maximum) if b is not None}
        grid[inp] = tuple(sorted(points))
        if len(members_x) > 1:
            group[inp] = tuple(sorted(members_x - {inp}, key=order.__getitem__))
    return Scope(
        MappingProxyType(grid),
        MappingProxyType(group),
        MappingProxyType({k: tuple(v) for k, v in sorted(opaque.items(), key=lambda kv: order[kv[0]])}),
        MappingProxyType(
            {
                k: tuple((c, next(iter(sides[k][c])) if len(sides[k][c]) == 1 else "point") for c in sorted(v))
                for k, v in cuts.items()
            }
        ),
    )


# ------------------------------------------------------------------ representatives
def _as_patient_value(p: Exact, is_int: bool) -> int | float | None:
    """The JSON value meaning exactly ``p`` for an input of this type, or None if none does."""
    if is_int:
        return int(p) if (isinstance(p, int) or p.denominator == 1) else None
    f = float(p)
    return f if exact(f) == p else None


def _inside(a: Exact | None, b: Exact | None, is_int: bool) -> int | float | None:
    """One patient value strictly between ``a`` and ``b`` (None: unbounded), or None if there is none."""
    if is_int:
        n = 0 if a is None and b is None else (math.floor(a) + 1 if a is not None else math.ceil(b) - 1)  # type: ignore[arg-type]
        return n if (a is None or n > a) and (b is None or n < b) else None
    if a is None and b is None:
        return 0.0
    if a is None:
        c = float(b) - 1.0  # type: ignore[arg-type]
    elif b is None:
        c = float(a) + 1.0
    else:
        c = float((Fraction(a) + Fraction(b)) / 2)
        if not (a < exact(c) < b):
            c = math.nextafter(float(a), math.inf)
            if exact(c) <= a:
                c = math.nextafter(c, math.inf)
    return c if (a is None or exact(c) > a) and (b is None or exact(c) < b) else None


def _one_per_cell(values: tuple[int | float, ...], cuts: tuple[tuple[Exact, str], ...]) -> tuple[int | float, ...]:
    """The first of ``values`` (ascending) in each class of the line the comparisons with ``cuts`` tell
    apart: ``x >= c`` only puts ``c`` with the values above it, ``x > c`` only with those below."""
    out: list[int | float] = []
    seen: set[tuple[int, ...]] = set()
    for v in values:
        x = exact(v)
        key = tuple(
            int(x >= c) if side == "up" else int(x > c) if side == "down" else (x > c) - (x < c) for c, side in cuts
        )
        if key not in seen:
            seen.add(key)
            out.append(v)
    return tuple(out)


def cell_values(points: Iterable[Exact], lo: Exact | None, hi: Exact | None, is_int: bool) -> tuple[int | float, ...]:
    """One patient value per cell of the domain ``[lo, hi]`` (None: unbounded) cut at ``points``, ascending:
    each point itself, and one value strictly between each two neighbours (where a value fits)."""
    pts = sorted(
        {
            p
            for p in (*points, *(b for b in (lo, hi) if b is not None))
            if (lo is None or p >= lo) and (hi is None or p <= hi)
        }
    )
    out: list[int | float] = []
    if lo is None:
        v = _inside(None, pts[0] if pts else None, is_int)
        if v is not None:
            out.append(v)
    for i, p in enumerate(pts):
        pv = _as_patient_value(p, is_int)
        if pv is not None:
            out.append(pv)
        nxt = pts[i + 1] if i + 1 < len(pts) else None
        if nxt is None and hi is not None:
            continue
        v = _inside(p, nxt, is_int)
        if v is not None:
            out.append(v)
    return tuple(out)


# ------------------------------------------------------------------ the search
class Unknown(NamedTuple):
    """What a probe returns when its value is still open: the absent inputs that keep it so, and
    where a completion of this one may resume (passed back to the probe; e.g. the node it stopped at)."""

    blamed: frozenset[str]
    resume: Any = None


Probe = Callable[[dict[str, Any], Any], Any]  # (env, resume or None) -> a value, or an Unknown


@dataclass(slots=True)
class Found:
    """What a search found: each distinct value with the first completion giving it.

    ``values`` maps a value to the inputs filled in to reach it; ``branched`` are the
    inputs the search filled in; ``opaque`` the opaque inputs that left a completion open
    (the value depends on them); ``steps`` the completions tried.
    """

    values: dict[Any, tuple[tuple[str, Any], ...]]
    branched: dict[str, None]
    opaque: dict[str, None]
    steps: int
    leaves: list[tuple[dict[str, Any], Any]] | None = None  # every decided completion (what was filled in, value)
    # the environment of the first completion giving each value (what the probe left in it, e.g. its path)
    envs: dict[Any, dict[str, Any]] = field(default_factory=dict, repr=False)
    # the completions not tried yet when the search stopped at its limit (see Completer.finish)
    pending: list[tuple[dict[str, Any], Any, tuple[tuple[str, Any], ...]]] = field(default_factory=list, repr=False)

    @property
    def open(self) -> bool:
        """Some completion stayed undecided (an opaque input it needs is absent)."""
        return bool(self.opaque)


class Completer:
    """Searches the valid completions of a partial patient for one spec. Thread-safe: its only
    mutable state is caches of pure results (a race computes one twice, never wrongly)."""

    def __init__(
        self,
        spec: Spec,
        constraints: tuple[tuple[Callable[[Mapping[str, Any]], Any], Expr, str], ...],
        explainer: UnknownExplainer,
    ) -> None:
        self.spec = spec
        self.scope = build_scope(spec)
        self._constraints = constraints
        self._explainer = explainer  # it must compute definitions as it needs them (env is never completed)
        self._order = {v: i for i, v in enumerate(spec.variables)}
        self._static: dict[str, tuple[Any, ...]] = {}
        for name, var in spec.variables.items():
            base = var.type.base
            if base is Base.BOOL:
                self._static[name] = (False, True)
            elif base is Base.ENUM:
                self._static[name] = var.type.values
            elif name in self.scope.grid:
                lo = exact(var.minimum) if var.minimum is not None else None
                hi = exact(var.maximum) if var.maximum is not None else None
                values = cell_values(self.scope.grid[name], lo, hi, base is Base.INT)
                if name not in self.scope.group:
                    # one value per class the spec's comparisons tell apart (a domain bound nothing is
                    # compared with joins its neighbours; 38 joins the values above it in x >= 38)
                    values = _one_per_cell(values, self.scope.cuts[name])
                self._static[name] = values
        self._bounds: dict[str, tuple[Exact | None, Exact | None, bool]] = {
            n: (
                exact(v.minimum) if v.minimum is not None else None,
                exact(v.maximum) if v.maximum is not None else None,
                v.type.base is Base.INT,
            )
            for n, v in spec.variables.items()
            if v.type.numeric
        }
        self._constraint_names = [names(ast) for _, ast, _ in constraints]
        self._touching: dict[str, tuple[Callable[[Mapping[str, Any]], Any], ...]] = {
            n: tuple(fn for (fn, _, _), read in zip(constraints, self._constraint_names, strict=True) if n in read)
            for n in spec.variables
        }
        # inputs linked by a constraint or a comparison: what a search on one of them may read
        link: dict[str, set[str]] = {n: {n} for n in spec.variables}
        for read in self._constraint_names:
            ins = [n for n in read if n in link]
            for a in ins:
                link[a].update(ins)
        for a, partners in self.scope.group.items():
            link[a].update(partners)
        self._link = link
        # by id(), each formula kept alive with its entry: the inputs it reads, and its closure
        self._reads: dict[int, tuple[Expr, tuple[str, ...]]] = {}
        self._closures: dict[int, tuple[Expr, tuple[str, ...]]] = {}
        self._dynamic: dict[tuple[str, tuple[Any, ...]], tuple[Any, ...]] = {}  # cells cut at partners' values
        # each grid as floats, where every point is one
        self._float_grid = {
            n: tuple(float(p) for p in g) for n, g in self.scope.grid.items() if all(exact(float(p)) == p for p in g)
        }
        self._memo: dict[tuple[int, int | None, tuple[Any, ...]], Found] = {}
        self._na = frozenset(n for n in spec.variables if n in self._static and self._not_always_allowed(n))

    # -- candidates
    def candidates(self, name: str, env: Mapping[str, Any]) -> tuple[Any, ...]:
        """The values ``name`` is filled in with, given the inputs known in ``env``; ``None``
        (left absent) last, for an input some contexts allow no value of."""
        values = self._values(name, env)
        return (*values, None) if name in self._na else values

    def _values(self, name: str, env: Mapping[str, Any]) -> tuple[Any, ...]:
        known = tuple(env[m] for m in self.scope.group.get(name, ()) if env.get(m) is not None)
        if not known:
            return self._static[name]
        key = (name, known)
        hit = self._dynamic.get(key)
        if hit is None:
            lo, hi, is_int = self._bounds[name]
            hit = cell_values((*self.scope.grid[name], *(exact(k) for k in known)), lo, hi, is_int)
            if len(self._dynamic) < 4096:
                self._dynamic[key] = hit
        return hit

    def _not_always_allowed(self, name: str) -> bool:
        """Whether every value of ``name`` leaves some constraint not true when nothing else is known
        (``hours_since_last >= 0 implies doses >= 1``): then some contexts allow ``name`` no value."""
        values = self._static.get(name) or self._opaque_values(name, {})
        return any(
            all(fn({name: v}) is not True for v in values)
            for (fn, _, _), read in zip(self._constraints, self._constraint_names, strict=True)
            if name in read
        )

    def _pick(self, blamed: Iterable[str], env: Mapping[str, Any]) -> str | None:
        best: str | None = None
        best_key: tuple[int, int] = (0, 0)
        for name in blamed:
            if name in env or name not in self._static:
                continue
            key = (len(self._static[name]), self._order[name])
            if best is None or key < best_key:
                best, best_key = name, key
        return best

    # -- validity
    def _breaks(self, env: Mapping[str, Any], name: str) -> bool:
        """Whether a constraint reading ``name`` is false in ``env`` (the others kept their value)."""
        return any(fn(env) is False for fn in self._touching[name])

    # -- the search
    def search(
        self,
        base: Mapping[str, Any],
        probe: Probe,
        *,
        limit: int | None = 2,
        budget: int = SEARCH_BUDGET,
        leaves: bool = False,
    ) -> Found:
        """Fill in ``base``'s absent inputs until ``probe`` is known on each valid completion.

        ``base`` holds inputs only (no definitions: each completion computes its own).
        A completion is valid while no constraint is false; an input that only some
        contexts allow (``hours since the last dose`` needs a dose) may also stay absent.
        A completion the probe cannot decide although nothing it blames can be filled in
        counts as open (as one that needs an opaque input). Stops once ``limit`` distinct
        values (an open completion counting as one) are found; None explores everything.
        Raises :class:`OverBudget` after ``budget`` steps. With ``leaves``, every decided
        completion is kept in :attr:`Found.leaves`.
        """
        found = Found({}, {}, {}, 0, [] if leaves else None)
        # each entry: the completion's environment (inputs, and the definitions its parent found
        # known: a known value stays known in every completion), where to resume, what was filled in
        found.pending = [(dict(base), None, ())]
        return self._run(found, probe, limit, budget)

    def finish(self, found: Found, probe: Probe, *, budget: int = SEARCH_BUDGET) -> Found:
        """Search every completion ``found`` (stopped at its limit) did not reach yet, with ``probe``,
        the one it ran with; the completions it tried count against ``budget`` too."""
        return self._run(found, probe, None, budget)

    def _run(self, found: Found, probe: Probe, limit: int | None, budget: int) -> Found:
        left = budget - found.steps
        order = self._order
        stack = found.pending
        while stack:
            env, resume, asg = stack.pop()
            left -= 1
            if left < 0:
                found.steps = budget
                raise OverBudget
            value = probe(env, resume)
            if not isinstance(value, Unknown):
                if found.leaves is not None:
                    found.leaves.append((dict(asg), value))
                if value not in found.values:
                    found.values[value] = asg
                    found.envs[value] = env
                    if limit is not None and len(found.values) + (1 if found.opaque else 0) >= limit:
                        break
                continue
            name = self._pick(value.blamed, env)
            if name is not None:
                found.branched.setdefault(name)
                stale = [k for k, x in env.items() if x is None and k not in order]  # unknown definitions
                children: list[dict[str, Any]] = []
                for v in self.candidates(name, env):
                    child = env.copy()
                    for k in stale:
                        del child[k]
                    child[name] = v
                    # ``base`` is valid: only the input just filled in can make a constraint false
                    if v is None or not self._breaks(child, name):
                        children.append(child)
                if not children:  # no value fits here: in every completion it stays absent
                    child = env.copy()
                    child[name] = None
                    children.append(child)
                for child in reversed(children):
                    stack.append((child, value.resume, (*asg, (name, child[name]))))
                continue
            # nothing to fill in: open, unless an input left absent here could still be filled
            if any(n in self._na and env.get(n, 0) is None and self._fillable(n, env) for n in value.blamed):
                continue
            kept = [n for n in value.blamed if n in self.scope.opaque] or sorted(value.blamed)
            found.opaque.update(dict.fromkeys(sorted(kept, key=order.__getitem__)))
            if limit is not None and len(found.values) + 1 >= limit:
                break
        found.steps = budget - left
        return found

    def _fillable(self, name: str, env: Mapping[str, Any]) -> bool:
        """Whether some value of ``name`` keeps every constraint from being false in ``env``."""
        for v in self._values(name, env):
            trial = dict(env)
            trial[name] = v
            if not self._breaks(trial, name):
                return True
        return False

    def possible(
        self, base: Mapping[str, Any], fn: Callable[[dict[str, Any]], Any], ast: Expr, *, limit: int | None = None
    ) -> Found:
        """The values the expression ``fn`` (with formula ``ast``) takes over the valid completions
        of ``base`` (all of them, or until ``limit`` distinct ones are found)."""

        key = (id(ast), limit, tuple(self._cell(n, base) for n in self._closure(ast)))
        hit = self._memo.get(key)
        if hit is not None:
            return hit

        def probe(env: dict[str, Any], _: Any) -> Any:
            v = fn(env)
            return Unknown(self.blame((ast,), env)) if v is None else v

        found = self.search(base, probe, limit=limit)
        if len(self._memo) < 4096:
            self._memo[key] = found
        return found

    def blame(self, asts: Sequence[Expr], env: dict[str, Any]) -> frozenset[str]:
        """The absent inputs that keep the formulas ``asts`` unknown in ``env``: when only one input they
        read is absent, that one (the explainer is needed only to choose among several)."""
        absent = {n for ast in asts for n in self.reads(ast) if env.get(n) is None}
        if len(absent) > 1:
            absent = self._explainer.missing_any(asts, env)
        return frozenset(absent)

    def reads(self, ast: Expr) -> tuple[str, ...]:
        """The inputs ``ast`` reads, directly or through definitions."""
        hit = self._reads.get(id(ast))
        if hit is None:
            defs = self.spec.index.definitions
            found: set[str] = set()
            for n in names(ast):
                if n in defs:
                    found.update(defs[n].inputs)
                elif n in self._order:
                    found.add(n)
            hit = self._reads[id(ast)] = (ast, tuple(sorted(found, key=self._order.__getitem__)))
        return hit[1]

    def _closure(self, ast: Expr) -> tuple[str, ...]:
        """The inputs a search of ``ast`` can read: those it reads (through definitions) and, transitively,
        those a constraint or a comparison links them with (sorted)."""
        hit = self._closures.get(id(ast))
        if hit is not None:
            return hit[1]
        todo = list(self.reads(ast))
        seen: set[str] = set()
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(self._link[n] - seen)
        out = tuple(sorted(seen, key=self._order.__getitem__))
        self._closures[id(ast)] = (ast, out)
        return out

    def _cell(self, name: str, env: Mapping[str, Any]) -> Any:
        """A key for the cell of ``name``'s value in ``env``: values with one key are told apart by
        no formula the method covers (the value itself for an opaque input)."""
        v = env.get(name)
        grid = self.scope.grid.get(name)
        if v is None or grid is None:
            return v
        fast = self._float_grid.get(name)
        if fast is not None and -_NATIVE <= v <= _NATIVE:
            # floats order as the decimals they spell, so native comparison with exact-float points is exact
            i = bisect_left(fast, v)
            cell = 2 * i + 1 if i < len(fast) and fast[i] == v else 2 * i
        else:
            x = exact(v)
            i = bisect_left(grid, x)
            cell = 2 * i + 1 if i < len(grid) and grid[i] == x else 2 * i
        partners = self.scope.group.get(name)
        if not partners:
            return cell
        # compared with other inputs too: where it lies against each known partner (patient values are
        # floats and ints, which compare natively as the decimals they spell)
        return (cell, *(None if (p := env.get(partner)) is None else (v > p) - (v < p) for partner in partners))

    # -- the smallest sets of inputs that decide
    def deciding_sets(self, base: Mapping[str, Any], probe: Probe, full: Found) -> list[tuple[str, ...]]:
        """The smallest sets of absent inputs whose values, whatever they are, make ``probe``
        single-valued on the valid completions (each set in declaration order), from ``full``,
        a search of every completion (``limit=None``, with ``leaves``).

        Every set of the smallest size is listed while the work fits :data:`MISSING_BUDGET`;
        beyond it, one set none of whose inputs can be left out (found by removal). Only inputs
        the full search filled in (or opaque ones it needed) can be in one: the others never
        change a completion's value.
        """
        names = sorted({*full.branched, *full.opaque}, key=self._order.__getitem__)
        if len(names) <= 1:  # the answer is open, so no smaller set decides; the full search filled in only this one
            return [tuple(names)] if names else []
        # an input compared with another absent one is cut at the partner's value, which differs
        # from branch to branch; otherwise every input took the same values everywhere
        canonical = all(base.get(m) is not None for n in names for m in self.scope.group.get(n, ()))
        if not full.open and full.leaves is not None and canonical:
            # read the answer off the leaves
            leaves = full.leaves

            def decides(combo: tuple[str, ...], work: list[int]) -> bool:
                return self._separates(base, leaves, combo, work)

        else:

            def decides(combo: tuple[str, ...], work: list[int]) -> bool:
                return self._decides(base, probe, combo, work)

        return self._smallest(names, decides)

    def _separates(
        self, base: Mapping[str, Any], leaves: list[tuple[dict[str, Any], Any]], names: tuple[str, ...], work: list[int]
    ) -> bool:
        """Whether knowing ``names`` tells apart every two decided completions of different value:
        they give ``names`` different values, or no valid completion agrees with both on them."""
        by_value: dict[Any, list[dict[str, Any]]] = {}
        for asg, value in leaves:
            by_value.setdefault(value, []).append(asg)
        groups = list(by_value.values())
        for i, ga in enumerate(groups):
            for gb in groups[i + 1 :]:
                work[0] -= len(ga) * len(gb) // 16
                if work[0] < 0:
                    raise OverBudget
                for a in ga:
                    for b in gb:
                        if any(n in a and n in b and a[n] != b[n] for n in names):
                            continue
                        sigma = {n: a[n] if n in a else b[n] for n in names if n in a or n in b}
                        if self._valid({**base, **a, **sigma}) and self._valid({**base, **b, **sigma}):
                            return False
        return True

    def _valid(self, env: dict[str, Any]) -> bool:
        return all(fn(env) is not False for fn, _, _ in self._constraints)

    def _smallest(
        self, names: list[str], decides: Callable[[tuple[str, ...], list[int]], bool]
    ) -> list[tuple[str, ...]]:
        work = [MISSING_BUDGET]
        for size in range(1, len(names) + 1):
            hits: list[tuple[str, ...]] = []
            try:
                for combo in combinations(names, size):
                    work[0] -= 1
                    if decides(combo, work):
                        hits.append(combo)
            except OverBudget:
                break
            if hits:
                return hits
        # by removal: start from everything relevant, drop what is not needed
        work = [MISSING_BUDGET]
        keep = list(names)
        for name in list(names):
            trial = [n for n in keep if n != name]
            try:
                if trial and decides(tuple(trial), work):
                    keep = trial
            except OverBudget:
                break
        return [tuple(keep)]

    def _decides(self, base: Mapping[str, Any], probe: Probe, names: tuple[str, ...], work: list[int]) -> bool:
        """Whether every valid assignment of ``names`` leaves ``probe`` single-valued."""
        stack: list[tuple[dict[str, Any], str | None]] = [(dict(base), None)]
        while stack:
            env, last = stack.pop()
            todo = [n for n in names if n not in env]
            if last is not None and self._breaks(env, last):
                continue
            if todo:
                name = todo[0]
                cands = self.candidates(name, env) if name in self._static else self._opaque_values(name, env)
                for v in reversed(cands):
                    child = dict(env)
                    child[name] = v
                    stack.append((child, name))
                continue
            found = self.search(env, probe, limit=2, budget=max(work[0], 1))
            work[0] -= found.steps
            if work[0] < 0:
                raise OverBudget
            if len(found.values) > 1 or found.open:
                return False
        return True

    def _opaque_values(self, name: str, env: Mapping[str, Any]) -> tuple[Any, ...]:
        """Sample values of an opaque input (its domain cut at the constants it is compared with)."""
        lo, hi, is_int = self._bounds[name]
        pts = [p for p in self.spec.index.thresholds.get(name, ()) if isinstance(p, (int, float))]
        return cell_values((exact(p) for p in pts), lo, hi, is_int)


__all__ = [
    "MAX_VALUES",
    "MISSING_BUDGET",
    "SEARCH_BUDGET",
    "Completer",
    "Found",
    "OverBudget",
    "Scope",
    "Unknown",
    "build_scope",
    "cell_values",
]
