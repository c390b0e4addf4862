"""Steer drawn inputs toward a decision path and repair them into consistency.

Consistency constraints are met *by construction*: instead of rejecting a drawn
patient that violates ``vasopressor_count > 0 implies hypotension`` (an
``assume`` storm), the violated formula is walked and inputs are set so that it
holds (here: ``hypotension`` becomes true). The same walker drives a patient
toward a chosen outcome by making each guard on a path true, so rare outcomes
(``consider_cytosorb`` needs about ten inputs to line up) are reached in a few
draws. Choices come from ``pick(n)``, a callback the strategy backs with
Hypothesis draws, so steering shrinks like any other data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crs_model.expr import (
    COMPARE_OPS,
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
    names,
)
from crs_model.index import SiteKind, constant_value
from crs_model.model import Edge, HitPolicy, Spec
from crs_model.pyeval import ARITH_OPS, Fn, compile_expr
from crs_model.testing._boundaries import harvest
from crs_model.types import Base, SymbolKind

Pick = Callable[[int], int]
_Held = tuple[tuple[Expr, bool, frozenset[str]], ...]  # goals with their values and the inputs they read
Pred = Callable[[Any], bool]

MAX_DEPTH = 16
MAX_PATH_EDGES = 65  # longer paths are not steered toward
_MISSING = object()
_PASSES = 3  # passes over the conditions of an if/else branch; draws to meet a steering goal
_MEMO_MAX = 20_000  # predicates (and the answers memoized per predicate) kept before the memo starts afresh


def _safe(pred: Pred) -> Pred:
    def run(x: Any) -> bool:
        try:
            return bool(pred(x))
        except (TypeError, ZeroDivisionError, OverflowError):
            return False

    return run


class InputModel:
    """Per-spec data for generation: candidate values, compiled definitions and paths.

    The steering methods edit an ``inputs`` dict in place and keep its evaluation
    environment in step with their own edits; a caller must not edit that dict itself
    between calls (``_strategies`` builds a fresh dict for every patient and step).
    """

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.symbols = spec.symbols
        bounds = harvest(spec)
        near = harvest(spec, near_only=True)
        self.near: dict[str, tuple[Any, ...]] = {n: v for n, v in near.items() if v}
        self.candidates: dict[str, tuple[Any, ...]] = {}
        for name, v in spec.variables.items():
            if v.type.base == Base.BOOL:
                self.candidates[name] = (False, True)
            elif v.type.base == Base.ENUM:
                self.candidates[name] = tuple(v.type.values)
            else:
                self.candidates[name] = bounds[name]
        idx = spec.index
        self.definitions: dict[str, Expr] = {n: idx.definitions[n].ast for n in spec.definitions}
        self._lazy: dict[str, Fn] = {}  # definitions computed on first use, as the engine does
        for n, d in spec.definitions.items():
            self._lazy[n] = compile_expr(d.formula.ast, self.symbols, self._lazy)
        self._compiled: dict[int, Fn] = {}
        self._consts: dict[int, float | None] = {}  # constant_value of a node, by id (the spec's ASTs live on)
        # the inputs each definition and constraint names directly, by the id of its tree
        self._names: dict[int, tuple[str, ...]] = {
            id(s.ast): s.direct_inputs for s in idx.of_kind(SiteKind.DEFINITION, SiteKind.CONSTRAINT)
        }
        self._fast: dict[tuple[int, bool], tuple[str, Pred, tuple[Any, ...]] | None] = {}
        self._branches: dict[int, list[tuple[list[tuple[Expr, bool]], Expr, Any]]] = {}
        # one predicate object per distinct test (see _pred), so the candidates an input may take
        # and the viable branches of an if/else chain are worked out once per test, not per call
        self._preds: dict[tuple[Any, ...], Pred] = {}
        self._oks: dict[tuple[str, Pred], tuple[Any, ...]] = {}
        self._viable: dict[tuple[int, Pred], list[tuple[list[tuple[Expr, bool]], Expr]]] = {}
        # the environment (inputs + definitions computed so far) of the inputs dict last evaluated;
        # every edit this class makes goes through _set/_forget, which update it in place and drop
        # only the definitions that depend on the edited input
        self._env_of: object = None
        self._env: dict[str, Any] = {}
        self._dependents = idx.dependents
        self._protected: frozenset[str] = frozenset()  # inputs a repair must not change
        self.constraints: tuple[tuple[Expr, Fn], ...] = tuple(
            (c.formula.ast, compile_expr(c.formula.ast, self.symbols)) for c in spec.constraints
        )
        self._reads: dict[int, frozenset[str]] = {}
        self._touched: set[str] = set()  # inputs edited since a repair step began
        self._creads = tuple(frozenset(self.var_names(ast)) for ast, _ in self.constraints)
        self.paths: dict[str, list[tuple[Edge, ...]]] = _steering_paths(spec)
        # every steering path with its outcome, outcomes in name order: what an untargeted patient draws from
        self.every_path: tuple[tuple[str, tuple[Edge, ...]], ...] = tuple(
            (o, p) for o in sorted(self.paths) for p in self.paths[o]
        )
        self._path_goals: dict[int, tuple[tuple[Edge, ...], tuple[tuple[Expr, bool], ...], tuple[int, ...]]] = {}
        # inputs the constraints name only in the condition of an implication (``x >= 0 implies
        # <event>``): data that means something only after an event, the first a repair forgets
        required = {n for c in spec.constraints for n in _required_names(c.formula.ast)}
        self.conditional: frozenset[str] = frozenset(
            n for c in spec.constraints for n in names(c.formula.ast) if n in self.candidates and n not in required
        )

    # ------------------------------------------------------------ evaluation
    def full_env(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The inputs, with definitions computed lazily on first use (kept while the inputs are
        edited only through :meth:`_set` / :meth:`_forget`)."""
        if self._env_of is not inputs:
            self._env_of, self._env = inputs, dict(inputs)
        return self._env

    def _set(self, inputs: dict[str, Any], name: str, value: Any) -> None:
        inputs[name] = value
        self._touched.add(name)
        if self._env_of is inputs:
            env = self._env
            env[name] = value
            for d in self._dependents.get(name, ()):
                env.pop(d, None)

    def _forget(self, inputs: dict[str, Any], name: str) -> None:
        inputs.pop(name, None)
        self._touched.add(name)
        if self._env_of is inputs:
            env = self._env
            env.pop(name, None)
            for d in self._dependents.get(name, ()):
                env.pop(d, None)

    def value(self, node: Expr, inputs: Mapping[str, Any]) -> Any:
        fn = self._compiled.get(id(node))
        if fn is None:
            fn = self._compiled[id(node)] = compile_expr(node, self.symbols, self._lazy)
        if self._env_of is inputs:
            return fn(self._env)
        return fn(self.full_env(inputs))

    def const(self, node: Expr) -> float | None:
        """``constant_value`` of ``node``, memoized."""
        key = id(node)
        try:
            return self._consts[key]
        except KeyError:
            c = self._consts[key] = constant_value(node, self.symbols)
            return c

    def _pred(self, key: tuple[Any, ...]) -> Pred:
        """The test a steered value must pass, described by ``key`` (see ``_build_pred``); the
        same key gives the same function object, which keys the memos below."""
        pred = self._preds.get(key)
        if pred is None:
            if len(self._preds) >= _MEMO_MAX:  # runtime values appear in keys: keep the memo bounded
                self._preds.clear()
                self._oks.clear()
                self._viable.clear()
            pred = self._preds[key] = _safe(_build_pred(key))
        return pred

    def _passing(self, name: str, pred: Pred) -> tuple[Any, ...]:
        """The candidate values of input ``name`` that pass ``pred`` (memoized)."""
        key = (name, pred)
        ok = self._oks.get(key)
        if ok is None:
            ok = self._oks[key] = tuple(c for c in self.candidates[name] if pred(c))
        return ok

    def consistent(self, inputs: Mapping[str, Any]) -> bool:
        return all(fn(inputs) is not False for _, fn in self.constraints)

    # ------------------------------------------------------------ steering
    def make_bool(self, node: Expr, want: bool, inputs: dict[str, Any], pick: Pick, depth: int = 0) -> None:
        """Set inputs so that boolean ``node`` evaluates to ``want`` (best effort)."""
        if depth > MAX_DEPTH or self.value(node, inputs) is want:
            return
        d = depth + 1
        if isinstance(node, Name):
            if node.id in self.definitions:
                self.make_bool(self.definitions[node.id], want, inputs, pick, d)
            elif node.id in self.candidates and node.id not in self._protected:
                self._set(inputs, node.id, want)
        elif isinstance(node, Not):
            self.make_bool(node.operand, not want, inputs, pick, d)
        elif isinstance(node, Logic):
            self._make_logic(node, want, inputs, pick, d)
        elif isinstance(node, Compare):
            self._make_compare(node, want, inputs, pick, d)
        elif isinstance(node, Member):
            members = frozenset(v.value for v in node.values)
            self.make_value(node.operand, self._pred(("member", members, node.negated, want)), inputs, pick, d)
        elif isinstance(node, IfThenElse):
            self.make_value(node, self._pred(("is", want)), inputs, pick, d)

    def _make_logic(self, node: Logic, want: bool, inputs: dict[str, Any], pick: Pick, d: int) -> None:
        left, right = node.left, node.right
        if node.op == "implies":  # a implies b == (not a) or b
            if want:
                first, second = (right, True), (left, False)
                if pick(2):
                    first, second = second, first
                self.make_bool(first[0], first[1], inputs, pick, d)
                if self.value(node, inputs) is not True:
                    self.make_bool(second[0], second[1], inputs, pick, d)
            else:
                self.make_bool(left, True, inputs, pick, d)
                self.make_bool(right, False, inputs, pick, d)
            return
        every = (node.op == "and") == want  # all operands need the wanted value
        if every:
            self.make_bool(left, want, inputs, pick, d)
            self.make_bool(right, want, inputs, pick, d)
        else:
            one, other = (left, right) if pick(2) == 0 else (right, left)
            self.make_bool(one, want, inputs, pick, d)
            if self.value(node, inputs) is not want:
                self.make_bool(other, want, inputs, pick, d)

    def _make_compare(self, node: Compare, want: bool, inputs: dict[str, Any], pick: Pick, d: int) -> None:
        fast = self._input_vs_constant(node, want)
        if fast is not None:  # the common case, ``input <op> constant``: what make_value does, precomputed
            name, pred, ok = fast
            cur = inputs.get(name)
            if d <= MAX_DEPTH and not (cur is not None and pred(cur)) and ok and name not in self._protected:
                self._set(inputs, name, ok[pick(len(ok))])
            return
        op = node.op
        rc = self.const(node.right)
        lc = self.const(node.left)
        if isinstance(node.right, Str):
            self.make_value(node.left, self._pred(("cmp", op, _typed(node.right.value), want)), inputs, pick, d)
        elif rc is not None:
            self.make_value(node.left, self._pred(("cmp", op, _typed(rc), want)), inputs, pick, d)
        elif lc is not None:
            self.make_value(node.right, self._pred(("rcmp", op, _typed(lc), want)), inputs, pick, d)
        else:
            rv = self.value(node.right, inputs)
            if rv is not None:
                self.make_value(node.left, self._pred(("cmp", op, _typed(rv), want)), inputs, pick, d)

    def _input_vs_constant(self, node: Compare, want: bool) -> tuple[str, Pred, tuple[Any, ...]] | None:
        """For ``input <op> constant``: the input, the test of a value, and the candidates that pass."""
        key = (id(node), want)
        if key in self._fast:
            return self._fast[key]
        out: tuple[str, Pred, tuple[Any, ...]] | None = None
        left = node.left
        if isinstance(left, Name) and left.id in self.candidates and left.id not in self.definitions:
            c: Any = node.right.value if isinstance(node.right, Str) else self.const(node.right)
            if c is not None:
                pred = self._pred(("cmp", node.op, _typed(c), want))
                out = (left.id, pred, self._passing(left.id, pred))
        self._fast[key] = out
        return out

    def make_value(self, node: Expr, pred: Pred, inputs: dict[str, Any], pick: Pick, depth: int = 0) -> None:
        """Set inputs so that ``node``'s value satisfies ``pred`` (best effort)."""
        if depth > MAX_DEPTH:
            return
        cur = self.value(node, inputs)
        if cur is not None and pred(cur):
            return
        d = depth + 1
        if isinstance(node, Name):
            sym = self.symbols.get(node.id)
            if node.id in self.definitions:
                self.make_value(self.definitions[node.id], pred, inputs, pick, d)
            elif sym is not None and sym.kind is SymbolKind.VARIABLE and node.id not in self._protected:
                ok = self._passing(node.id, pred)
                if ok:
                    self._set(inputs, node.id, ok[pick(len(ok))])
        elif isinstance(node, IfThenElse):
            vkey = (id(node), pred)
            viable = self._viable.get(vkey)
            if viable is None:
                viable = self._viable[vkey] = [
                    (path, value) for path, value, c in self._ite_branches(node) if not _const_fails(c, pred)
                ]
            start = pick(len(viable)) if viable else 0
            for k in range(len(viable)):  # the drawn branch first, then the others until one works
                path, value = viable[(start + k) % len(viable)]
                for _ in range(_PASSES):  # meeting a later condition may undo an earlier one
                    for cond, want in path:
                        self.make_bool(cond, want, inputs, pick, d)
                    if all(self.value(cond, inputs) is want for cond, want in path):
                        break
                self.make_value(value, pred, inputs, pick, d)
                if _holds(pred, self.value(node, inputs)):
                    return
        elif isinstance(node, Call) and node.func in ("min", "max"):
            func = node.func
            args = list(node.args)
            start = pick(len(args))
            for k in range(len(args)):  # the drawn argument decides first, then the others
                i = (start + k) % len(args)
                self.make_value(args[i], pred, inputs, pick, d)
                chosen = self.value(args[i], inputs)
                for j, a in enumerate(args):
                    if j != i and chosen is not None:  # the others must keep min/max(chosen, x) satisfying pred
                        keeps = self._pred(("keeps", pred, func, _typed(chosen)))
                        self.make_value(a, keeps, inputs, pick, d)
                    elif j != i:
                        self.make_value(a, pred, inputs, pick, d)
                if _holds(pred, self.value(node, inputs)):
                    return
        elif isinstance(node, Arith) and node.op in "+-*":
            lc = self.const(node.left)
            rc = self.const(node.right)
            if rc is not None:
                self.make_value(node.left, self._pred(("arith", pred, node.op, rc)), inputs, pick, d)
            elif lc is not None:
                self.make_value(node.right, self._pred(("rarith", pred, node.op, lc)), inputs, pick, d)
        elif isinstance(node, Neg):
            self.make_value(node.operand, self._pred(("neg", pred)), inputs, pick, d)
        elif isinstance(node, (Logic, Compare, Not, Member)):
            for want in (True, False):
                if pred(want):
                    self.make_bool(node, want, inputs, pick, d)
                    return

    def var_names(self, node: Expr) -> tuple[str, ...]:
        """The inputs a definition's or constraint's tree ``node`` names directly (from the index)."""
        return self._names[id(node)]

    def _ite_branches(self, node: IfThenElse) -> list[tuple[list[tuple[Expr, bool]], Expr, Any]]:
        """The branches of an if/elif/else chain: (conditions to meet, value, the value if constant)."""
        hit = self._branches.get(id(node))
        if hit is not None:
            return hit
        branches: list[tuple[list[tuple[Expr, bool]], Expr, Any]] = []
        conds: list[tuple[Expr, bool]] = []
        cur: Expr = node
        while isinstance(cur, IfThenElse):
            branches.append(([*conds, (cur.cond, True)], cur.then, _constant(cur.then, self)))
            conds = [*conds, (cur.cond, False)]
            cur = cur.orelse
        branches.append((conds, cur, _constant(cur, self)))
        self._branches[id(node)] = branches
        return branches

    def path_goals(self, path: tuple[Edge, ...], edges: int | None = None) -> tuple[tuple[Expr, bool], ...]:
        """What taking ``path`` (its first ``edges`` edges, if given) asks of the guards, as
        ``(guard, wanted value)`` pairs: at each node the guards of the edges the engine tries
        before the taken one (every other edge of a unique node) false, then the taken edge's
        guard true. Memoized per path object."""
        hit = self._path_goals.get(id(path))
        if hit is None or hit[0] is not path:
            goals: list[tuple[Expr, bool]] = []
            ends: list[int] = []  # goals up to and including each edge
            for e in path:
                node = self.spec.nodes[e.source]
                tried = node.edges[: e.index] if node.hit_policy is HitPolicy.FIRST else node.edges
                goals.extend((o.guard.ast, False) for o in tried if o.index != e.index)
                goals.append((e.guard.ast, True))
                ends.append(len(goals))
            hit = self._path_goals[id(path)] = (path, tuple(goals), tuple(ends))
        if edges is None or edges >= len(path):
            return hit[1]
        return hit[1][: hit[2][edges - 1]] if edges > 0 else ()

    def steer(
        self, path: tuple[Edge, ...], inputs: dict[str, Any], pick: Pick, edges: int | None = None
    ) -> frozenset[str]:
        """Make the guards on ``path`` (its first ``edges`` edges, if given) take it
        (:meth:`path_goals`), in two passes: the second meets each goal still unmet without
        undoing the others where a few draws allow.

        Returns the inputs steering changed, which a following :meth:`repair` keeps."""
        before = dict(inputs)
        goals = self.path_goals(path, edges)
        for ast, want in goals:
            self.make_bool(ast, want, inputs, pick)
        for i, (ast, want) in enumerate(goals):  # a later fix may have undone an earlier one
            if self.value(ast, inputs) is not want:
                self._meet(ast, want, goals[:i] + goals[i + 1 :], inputs, pick)
        return frozenset(k for k in inputs if before.get(k, _MISSING) != inputs[k])

    def _meet(
        self, ast: Expr, want: bool, others: tuple[tuple[Expr, bool], ...], inputs: dict[str, Any], pick: Pick
    ) -> None:
        """Give ``ast`` the value ``want`` without undoing the ``others`` goals that are met (a
        few draws), else regardless of them."""
        met = [g for g in others if self.value(g[0], inputs) is g[1]]
        for _ in range(_PASSES):
            start = dict(inputs)
            self.make_bool(ast, want, inputs, pick)
            if self.value(ast, inputs) is want and all(self.value(g, inputs) is w for g, w in met):
                return
            self._restore(inputs, start)
        self.make_bool(ast, want, inputs, pick)

    def make_known(self, names: tuple[str, ...], inputs: dict[str, Any], pick: Pick) -> None:
        """Give every absent input that the named definitions depend on a candidate value."""
        for n in names:
            ast = self.definitions.get(n)
            for var in self.var_names(ast) if ast is not None else []:
                if var not in inputs:
                    cands = self.candidates[var]
                    self._set(inputs, var, cands[pick(len(cands))])

    def repair(
        self,
        inputs: dict[str, Any],
        pick: Pick,
        keep: frozenset[str] = frozenset(),
        goals: tuple[tuple[Expr, bool], ...] = (),
    ) -> None:
        """Make every declared constraint non-false, changing values before forgetting any.

        Each violated constraint in turn is mended by the first step that works: a change of
        inputs outside ``keep`` (then one that may change inputs in ``keep`` too) that breaks
        no constraint that holds; forgetting (making unknown) one of its *conditional* inputs
        (see ``conditional``) that breaks none; a change that breaks none mended before (the
        others are mended in turn); forgetting any one input it names that breaks none mended
        before; as a last resort forgetting every input it names outside ``keep``. A step
        works only if it also keeps true each of the ``goals`` (boolean trees, such as the
        guards of a steered path, with the value each should have) that had it; a step that does not work is undone."""
        held = tuple((g, want, self.reads(g)) for g, want in goals if self.value(g, inputs) is want)
        protects = (keep, frozenset()) if keep else (keep,)
        cons = self.constraints
        mended: list[int] = []  # constraints mended so far: a later step must not break them again
        for _ in range(2 * len(cons) + 2):
            holding = [i for i, (_, fn) in enumerate(cons) if fn(inputs) is not False]
            if len(holding) == len(cons):
                return
            bad = next(i for i in range(len(cons)) if i not in holding)
            if (
                any(self._change(bad, inputs, pick, p, held, holding) for p in protects)
                or self._forget_one(bad, inputs, keep, held, holding, self.conditional)
                or any(self._change(bad, inputs, pick, p, held, mended) for p in protects)
                or self._forget_one(bad, inputs, keep, held, mended, None)
            ):
                mended.append(bad)
            else:
                for n in self.var_names(cons[bad][0]):
                    if n not in keep:
                        self._forget(inputs, n)
        for ast, fn in cons:
            if fn(inputs) is False:
                for n in self.var_names(ast):
                    self._forget(inputs, n)
                    if fn(inputs) is not False:
                        break

    def reads(self, node: Expr) -> frozenset[str]:
        """The inputs boolean tree ``node`` reads, through the definitions it names (memoized)."""
        key = id(node)
        hit = self._reads.get(key)
        if hit is None:
            out: set[str] = set()
            for n in names(node):
                if n in self.definitions:
                    out |= self.reads(self.definitions[n])
                elif n in self.candidates:
                    out.add(n)
            hit = self._reads[key] = frozenset(out)
        return hit

    def _mended(self, inputs: dict[str, Any], bad: int, held: _Held, ok: Sequence[int]) -> bool:
        """Constraint ``bad`` is non-false, and the edits since ``_touched`` was reset left the
        constraints ``ok`` non-false and the ``held`` goals at their values (only those that read
        an edited input are evaluated again)."""
        cons, touched = self.constraints, self._touched
        return (
            cons[bad][1](inputs) is not False
            and all(cons[i][1](inputs) is not False for i in ok if not touched.isdisjoint(self._creads[i]))
            and all(self.value(g, inputs) is want for g, want, r in held if not touched.isdisjoint(r))
        )

    def _change(
        self, bad: int, inputs: dict[str, Any], pick: Pick, protect: frozenset[str], held: _Held, ok: Sequence[int]
    ) -> bool:
        """Make constraint ``bad`` non-false by changing inputs outside ``protect`` so that
        ``held`` keep their values and ``ok`` stay non-false; undone if that fails."""
        before = dict(inputs)
        self._protected = protect
        self._touched = set()
        try:
            self.make_bool(self.constraints[bad][0], True, inputs, pick)
        finally:
            self._protected = frozenset()
        if self._mended(inputs, bad, held, ok):
            return True
        self._restore(inputs, before)
        return False

    def _forget_one(
        self,
        bad: int,
        inputs: dict[str, Any],
        keep: frozenset[str],
        held: _Held,
        ok: Sequence[int],
        among: frozenset[str] | None,
    ) -> bool:
        """Forget the first input of constraint ``bad`` (``among`` those, if given; outside
        ``keep`` first, then conditional ones first) whose loss makes it non-false while ``held``
        keep their values and ``ok`` stay non-false."""
        names = [n for n in self.var_names(self.constraints[bad][0]) if n in inputs and (among is None or n in among)]
        for n in sorted(names, key=lambda n: (n in keep, n not in self.conditional)):
            value = inputs[n]
            self._touched = {n}
            self._forget(inputs, n)
            if self._mended(inputs, bad, held, ok):
                return True
            self._set(inputs, n, value)
        return False

    def _restore(self, inputs: dict[str, Any], before: dict[str, Any]) -> None:
        """Undo the edits made since ``before`` (a copy of ``inputs``), keeping the environment in step."""
        for k in [k for k in inputs if k not in before]:
            self._forget(inputs, k)
        for k, v in before.items():
            if inputs.get(k, _MISSING) is not v:
                self._set(inputs, k, v)


def _required_names(node: Expr) -> set[str]:
    """The names a constraint requires: outside the conditions of its top-level implications,
    or in a consequence but not in its own condition."""
    if isinstance(node, Logic) and node.op == "implies":
        return names(node.right) - names(node.left)
    if isinstance(node, Logic) and node.op == "and":
        return _required_names(node.left) | _required_names(node.right)
    return names(node)


def _typed(value: Any) -> tuple[type, Any]:
    """A runtime value inside a predicate key: with its type, as 1, 1.0 and True are equal keys."""
    return (type(value), value)


def _build_pred(key: tuple[Any, ...]) -> Pred:
    """The function a predicate key describes (an input's value ``x`` -> passes?).

    ``("cmp", op, (type, c), want)``: ``(x op c) == want``; ``("rcmp", ...)``: ``(c op x) == want``;
    ``("member", values, negated, want)``; ``("is", want)``; ``("keeps", pred, "min"|"max",
    (type, chosen))``: ``pred(min(chosen, x))``; ``("arith", pred, op, c)``: ``pred(x op c)``;
    ``("rarith", ...)``: ``pred(c op x)``; ``("neg", pred)``: ``pred(-x)``. Comparison constants
    and runtime values are keyed with their type (:func:`_typed`).
    """
    kind = key[0]
    if kind in ("cmp", "rcmp"):
        _, op_name, (_t, c), want = key
        op = COMPARE_OPS[op_name]
        if kind == "cmp":
            return lambda x: op(x, c) == want
        return lambda x: op(c, x) == want
    if kind == "member":
        _, members, negated, want = key
        return lambda x: ((x in members) != negated) == want
    if kind == "is":
        want = key[1]
        return lambda x: x is want
    if kind == "keeps":
        _, inner, func, (_t, chosen) = key
        fn: Callable[[Any, Any], Any] = min if func == "min" else max
        return lambda x: inner(fn(chosen, x))
    if kind in ("arith", "rarith"):
        _, inner, op_name, c = key
        aop = ARITH_OPS[op_name]
        if kind == "arith":
            return lambda x: inner(aop(x, c))
        return lambda x: inner(aop(c, x))
    if kind == "neg":
        inner = key[1]
        return lambda x: inner(-x)
    raise ValueError(f"unknown predicate kind {kind!r}")  # pragma: no cover


def _holds(pred: Pred, value: Any) -> bool:
    return value is not None and pred(value)


_NOT_CONSTANT = object()


def _constant(value: Expr, model: InputModel) -> Any:
    """The value of a constant branch (a literal or a parameter), else ``_NOT_CONSTANT``."""
    if isinstance(value, (BoolLit, Str)):
        return value.value
    c = model.const(value) if isinstance(value, (Num, Name, Neg, Arith)) else None
    return _NOT_CONSTANT if c is None else c


def _const_fails(constant: Any, pred: Pred) -> bool:
    return constant is not _NOT_CONSTANT and not pred(constant)


def _steering_paths(spec: Spec) -> dict[str, list[tuple[Edge, ...]]]:
    """Per outcome, the entry-to-outcome paths steering picks from: every path of at most
    ``MAX_PATH_EDGES`` edges. Beyond the index's path listing (``MAX_PATHS``) only the first
    path to each outcome in depth-first edge order: listing them all would be exponential."""
    idx = spec.index
    if idx.outcome_paths is not None:
        return {o: [p for p in ps if len(p) <= MAX_PATH_EDGES] for o, ps in idx.outcome_paths.items()}
    reach = idx.reachable_outcomes
    out: dict[str, list[tuple[Edge, ...]]] = {o: [] for o in spec.outcomes}
    for o in spec.outcomes:
        path: list[Edge] = []
        at = spec.entry
        while at in spec.nodes and len(path) < MAX_PATH_EDGES:
            e = next((e for e in spec.nodes[at].edges if e.target == o or o in reach.get(e.target, ())), None)
            if e is None:
                break
            path.append(e)
            at = e.target
        if at == o:
            out[o].append(tuple(path))
    return out
