"""The named verification checks over one :class:`Encoding`, each finding cross-checked.

Every satisfiable finding carries a witness patient, minimised (as few known
inputs as the solver allows; whole numbers preferred) and then re-run through
:class:`crs_model.Engine`: if the engine does not reproduce the finding, an
``internal`` error finding is added, because then the verifier or the engine is
wrong.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import itertools
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import z3

from crs_model.engine import Decision, Engine
from crs_model.errors import Location, PatientError, SpecDefectError
from crs_model.expr import Compare, Expr, Name, Num, children, conjuncts, names
from crs_model.model import Edge, Formula, HitPolicy, Severity, Spec, Variable
from crs_model.pyeval import ACTIONS_KEY, FLAGS_KEY, compile_expr
from crs_model.text import Renderer
from crs_model.types import SymbolKind
from crs_model.verify import DEFAULT_RLIMIT
from crs_model.verify.encoding import Cone, Encoding, Inputs, Part, Undecided
from crs_model.verify.report import (
    CHECKS,
    INTERNAL,
    UNDECIDED,
    CheckResult,
    Finding,
    Report,
    Verdict,
    finding_order,
)
from crs_model.verify.z3expr import Tri, Val, _and, raw_and, raw_not, raw_or

SIM_SEED = 0
SIM_MAX = 50_000  # random patients at most
SIM_PATIENCE = 300  # stop sampling after this many patients without a new fact
PATHS_PER_NODE = 8  # known paths into a node tried by path-local queries
BAND_SPANS = (3, 6)  # edges before the goal's node left free when every known path conflicts
BAND_MAX = 400  # nodes at most in such a band
CONE_STEP = 400  # nodes added to a cone solver per step (graphs up to this size use the main solver)
LOCAL_CHUNK = 64  # node-local conditions per disjunctive query
MAX_EXPLAINED = 50  # unreachable elements explained with an unsat core, per spec
Expect = Callable[[Engine, dict[str, Any]], str | None]  # None = reproduced, else why not


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the duration (restored after).

    The verifier allocates millions of short-lived z3 term wrappers, which
    reference counting frees (they form no cycles); each full collection
    meanwhile scans every live object, at 10,000 nodes seven of them took 1.5 s.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _input_deps(spec: Spec, ast: Expr) -> set[str]:
    """Input variables ``ast`` depends on, through definitions."""
    out: set[str] = set()
    stack = list(names(ast))
    seen: set[str] = set()
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if n in spec.variables:
            out.add(n)
        elif n in spec.definitions:
            stack.extend(names(spec.definitions[n].formula.ast))
    return out


def _boundary_points(spec: Spec) -> dict[str, list[float]]:
    """Per numeric input: the thresholds its guards compare it with, their neighbours and midpoints.

    Uniform sampling rarely lands between two close thresholds; these points do.
    """
    consts: dict[str, set[float]] = {}
    forms = [e.guard.ast for n in spec.nodes.values() for e in n.edges]
    forms += [d.formula.ast for d in spec.definitions.values()]
    stack = list(forms)
    while stack:
        node = stack.pop()
        stack.extend(children(node))
        if not isinstance(node, Compare):
            continue
        for var, other in ((node.left, node.right), (node.right, node.left)):
            if not isinstance(var, Name) or var.id not in spec.variables:
                continue
            if isinstance(other, Num):
                consts.setdefault(var.id, set()).add(other.value)
            elif isinstance(other, Name) and other.id in spec.parameters:
                val = spec.parameters[other.id].value
                if not isinstance(val, bool):
                    consts.setdefault(var.id, set()).add(float(val))
    out: dict[str, list[float]] = {}
    for name, cs in consts.items():
        v = spec.variables[name]
        step = 1.0 if v.type.base == "int" else 0.1
        pts = sorted(cs)
        cand = set(pts) | {c - step for c in pts} | {c + step for c in pts}
        cand |= {(a + b) / 2 for a, b in itertools.pairwise(pts)}
        lo = v.minimum if v.minimum is not None else -math.inf
        hi = v.maximum if v.maximum is not None else math.inf
        keep = [c for c in cand if lo <= c <= hi]
        if v.type.base == "int":
            keep = [float(round(c)) for c in keep]
        out[name] = sorted(set(keep))
    return out


def _sample(v: Variable, rng: random.Random, points: list[float] | None = None) -> Any:
    """A random in-domain value for one input (all inputs known), often at a guard threshold."""
    base = v.type.base
    if base == "bool":
        return rng.random() < 0.5
    if base == "enum":
        return rng.choice(v.type.values)
    if points and rng.random() < 0.6:
        x = rng.choice(points)
        return int(x) if base == "int" else x
    lo = v.minimum if v.minimum is not None else -1000.0
    hi = v.maximum if v.maximum is not None else 1000.0
    if base == "int":
        return rng.randint(math.ceil(lo), math.floor(hi))
    return round(rng.uniform(lo, hi), 1) if rng.random() < 0.8 else float(rng.randint(math.ceil(lo), int(hi)))


def _start(node: Expr) -> int:
    """Offset of the first character of ``node`` (an operator node's ``pos`` is its operator)."""
    return min([node.pos, *(_start(c) for c in children(node))])


def _show(x: Any) -> str:
    if x is None:
        return "absent"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:g}"
    return str(x)


def _tv(x: Any) -> str:
    return "unknown" if x is None else ("true" if x is True else "false" if x is False else _show(x))


class Verifier:
    """Runs the checks for one spec on one shared, incremental solver.

    ``cone_step``: nodes per step of :meth:`cover_in_cones` (graphs up to this size
    are searched whole).
    """

    def __init__(self, spec: Spec, *, cone_step: int = CONE_STEP, rlimit: int = DEFAULT_RLIMIT) -> None:
        t0 = time.perf_counter()
        self.spec = spec
        self.cone_step = cone_step
        self.rlimit = rlimit
        with _gc_paused():  # the encoding allocates millions of term wrappers
            self.enc = Encoding(spec, rlimit=rlimit)
            self.enc.completion()
            self.engine = Engine(spec)
        self.renderer = Renderer(spec.symbols)
        self.inv_renderer = Renderer(spec.invariant_symbols)
        self.findings: list[Finding] = []
        self.invariant_status: dict[str, str] = {}
        self._undecided: list[str] = []  # elements the running check could not decide
        self.dead_edges: set[str] = set()
        self._reasons_left = MAX_EXPLAINED
        self._covers = 0
        self._sim: tuple[set[str], set[tuple[str, int]]] | None = None
        self.unreachable: set[str] = set()
        # paths of engine-confirmed patients (node ids, entry first) and, per node, up to
        # PATHS_PER_NODE distinct ones into it: (path index, position of the node)
        self._paths: list[list[str]] = []
        self._into: dict[str, list[tuple[int, int]]] = {}
        self._fill_rng = random.Random(SIM_SEED + 1)  # noqa: S311 - reproducible, not cryptography
        self._points: dict[str, list[float]] | None = None
        self._parent_map: dict[str, list[tuple[str, int]]] | None = None
        self._order: list[str] = []
        self._rank: dict[str, int] = {}
        self._edge_map = {e.id: e for n in spec.nodes.values() for e in n.edges}
        self.encode_s = time.perf_counter() - t0

    # ------------------------------------------------------------ plumbing
    def run(self, checks: Sequence[str] | None = None) -> Report:
        """Run ``checks`` (default: all, in :data:`CHECKS` order) and collect the report."""
        with _gc_paused():
            return self._run_checks(checks)

    def _run_checks(self, checks: Sequence[str] | None) -> Report:
        wanted = list(CHECKS) if checks is None else [c for c in CHECKS if c in set(checks)]
        results: list[CheckResult] = []
        undecided_background = False
        try:
            consistent = self._background_consistent()
        except Undecided as exc:  # then no solver check can decide anything
            consistent = undecided_background = True
            self.undecided("background", self.spec.graph_loc, "the input domains and consistency constraints", exc)
        if not consistent:
            wanted = [c for c in wanted if c in ("contradiction", "uncited")]
        for name in CHECKS:
            if name not in wanted:
                results.append(CheckResult(name, "skipped", 0.0, 0, None))
                continue
            if undecided_background and name != "uncited":
                if name == "invariant":
                    self.invariant_status = {i.id: Verdict.UNKNOWN.value for i in self.spec.invariants}
                results.append(CheckResult(name, "failed", 0.0, 0, Verdict.UNKNOWN, ("background",)))
                continue
            before = len(self.findings)
            self._undecided = []
            t0 = time.perf_counter()
            try:
                getattr(self, "check_" + name.replace("-", "_"))()
            except Undecided as exc:  # the check stopped: what it added stands, the rest is undecided
                self.undecided(f"check:{name}", self.spec.graph_loc, f"the rest of the {name} check", exc)
            dt = time.perf_counter() - t0
            new = self.findings[before:]
            refuted = any(f.severity is Severity.ERROR and f.check != UNDECIDED for f in new)
            verdict = Verdict.REFUTED if refuted else Verdict.UNKNOWN if self._undecided else Verdict.PROVEN
            failed = refuted or bool(self._undecided)
            results.append(
                CheckResult(name, "failed" if failed else "passed", dt, len(new), verdict, tuple(self._undecided))
            )
        internal = [f for f in self.findings if f.check == INTERNAL]
        if internal:
            results.append(CheckResult(INTERNAL, "failed", 0.0, len(internal), Verdict.REFUTED))
        md = self.spec.metadata
        findings = sorted(self.findings, key=finding_order)
        return Report(
            spec_path=self.spec.path,
            spec_id=md.id,
            spec_version=md.version,
            spec_sha256=self.spec.sha256,
            solver_version=z3.get_version_string(),
            findings=tuple(findings),
            checks=tuple(results),
            invariant_status=dict(self.invariant_status),
            encode_s=self.encode_s,
            rlimit=self.rlimit,
        )

    def undecided(self, element: str, loc: Location, what: str, exc: Undecided) -> None:
        """Record that the solver answered ``unknown`` for ``element``: an error finding, never a pass."""
        reason = str(exc) or "no reason given"
        hints = [f"raise --rlimit (this run: {self.rlimit:,})", "simplify the formula"]
        if "resource" not in reason and "canceled" not in reason:  # an incomplete theory, not the budget
            hints = [
                "simplify the formula (the solver is incomplete for it, e.g. non-linear arithmetic over inputs)",
                hints[0],
            ]
        self._undecided.append(element)
        self.findings.append(
            Finding(
                UNDECIDED,
                Severity.ERROR,
                loc,
                f"undecided: {what}; the solver answered unknown ({reason}), so it is neither proven nor "
                f"refuted; {' or '.join(hints)}",
                None,
                element,
            )
        )

    def add(
        self,
        check: str,
        severity: Severity,
        loc: Location,
        message: str,
        element: str,
        witness: dict[str, Any] | None = None,
        expect: Expect | None = None,
    ) -> None:
        self.findings.append(Finding(check, severity, loc, message, witness, element))
        if witness is not None and expect is not None:
            why = expect(self.engine, witness)
            if why is not None:
                self.findings.append(
                    Finding(
                        INTERNAL,
                        Severity.ERROR,
                        loc,
                        f"the engine does not reproduce this {check} finding on its witness: {why}",
                        witness,
                        element,
                    )
                )

    def status(self, *goal: z3.BoolRef, local: bool = False, on: z3.Solver | None = None) -> bool:
        """True if some valid patient satisfies ``goal`` (``local``: on the solver without the graph)."""
        r = self.enc.check(*goal, local=local, on=on)
        if r == z3.unknown:
            raise Undecided(self.enc.pick(local=local, on=on).reason_unknown())
        return bool(r == z3.sat)

    def cover(
        self,
        goals: Mapping[Any, tuple[str, z3.BoolRef]],
        then: Callable[[z3.ModelRef, set[Any]], set[Any]] | None = None,
        *,
        solver: z3.Solver | None = None,
    ) -> set[Any]:
        """Keys whose goal some valid patient satisfies, settled with few solver calls.

        ``goals`` maps a key to (a node every patient satisfying the goal passes,
        goal). Each round asks for a patient satisfying *any* unsettled goal
        (selector literals, so a round adds no term); every unsettled goal at a
        node on that patient's path that the patient satisfies is settled at once,
        and one unsat answer settles all the rest. This costs about as many solver
        calls as paths needed to cover the goals, not one per goal. ``then(model,
        pending)`` may settle more of the pending keys after each model. ``solver``:
        a :class:`Cone`'s solver holding every goal's node (default: the whole graph).
        """
        enc = self.enc
        s = solver or enc.solver
        if not goals:
            return set()
        self._covers += 1
        anylit = z3.Bool(f"@cover{self._covers}", enc.ctx)
        sels = {k: z3.Bool(f"@cover{self._covers}:{i}", enc.ctx) for i, k in enumerate(goals)}
        s.add(z3.Implies(anylit, raw_or(*(raw_and(sels[k], g) for k, (_, g) in goals.items()))))
        by_gate: dict[str, list[Any]] = {}
        for k, (gate, _) in goals.items():
            by_gate.setdefault(gate, []).append(k)
        pending = set(goals)
        settled: list[z3.BoolRef] = []
        found: set[Any] = set()
        while pending:
            r = enc.check(anylit, *settled, on=s)
            if r == z3.unknown:
                raise Undecided(s.reason_unknown())
            if r == z3.unsat:
                break
            m = s.model()
            path = self._path(m)
            hit = [
                k
                for gate in path
                for k in by_gate.get(gate, ())
                if k in pending and z3.is_true(m.eval(goals[k][1], model_completion=True))
            ]
            if not hit:  # pragma: no cover - the path walk and the encoding agree
                hit = [k for k in pending if z3.is_true(m.eval(z3.And(sels[k], goals[k][1]), model_completion=True))]
            assert hit, "a model of the disjunction satisfies one of its goals"
            if then is not None:  # cheap follow-up on the new path (path-local queries)
                rest = pending - set(hit)
                hit += sorted(then(m, rest) & rest, key=list(goals).index)
            for k in hit:
                found.add(k)
                pending.discard(k)
                settled.append(raw_not(sels[k]))
        return found

    def cone(self) -> Cone | None:
        """A :class:`Cone` over the decision nodes for :meth:`cover_in_cones`; None for a graph small enough."""
        order = self._topo()
        return Cone(self.enc, order) if len(order) > self.cone_step else None

    def cover_in_cones(
        self,
        goals: Mapping[Any, tuple[str, z3.BoolRef]],
        then: Callable[[z3.ModelRef, set[Any]], set[Any]] | None = None,
        cone: Cone | None = None,
    ) -> set[Any]:
        """:meth:`cover` on a large graph, in steps down a topological order, each on a small solver.

        Step i asks the goals at the first ``i * cone_step`` nodes of the order on a
        :class:`Cone` holding just those nodes (the ancestors of every goal asked), so
        early steps search a fraction of the graph; the cone grows step by step on one
        incremental solver. Answers are those of the whole graph, an unsat one
        included. ``then(model, open)`` sees every goal still open, in any step.
        Without a ``cone`` (see :meth:`cone`) this is :meth:`cover` on the whole graph.
        """
        if cone is None:
            return self.cover(goals, then)
        rank = self._rank
        found: set[Any] = set()
        by_step: dict[int, list[Any]] = {}
        for k, (gate, _) in goals.items():
            by_step.setdefault(rank[gate] // self.cone_step, []).append(k)

        batch: dict[Any, tuple[str, z3.BoolRef]] = {}

        def follow(m: z3.ModelRef, pending: set[Any]) -> set[Any]:
            assert then is not None
            more = then(m, {k for k in goals if k in pending or (k not in found and k not in batch)})
            found.update(more)
            return more & pending

        for step in sorted(by_step):
            batch = {k: goals[k] for k in by_step[step] if k not in found}
            if not batch:
                continue
            cone.grow((step + 1) * self.cone_step)
            found |= self.cover(batch, follow if then is not None else None, solver=cone.solver)
        return found

    def local_candidates(self, conds: Mapping[Any, z3.BoolRef]) -> list[Any]:
        """Keys whose condition can hold at all, path aside (on the solver without the graph).

        A gap or overlap needs its node-local condition first; usually one unsat
        query rules them all out, before any reachability is asked.
        """
        distinct = list({c.get_id(): c for c in conds.values()}.values())  # many nodes share their guards
        live: set[int] = set()
        for i in range(0, len(distinct), LOCAL_CHUNK):  # small disjunctions are far cheaper than one big one
            chunk = distinct[i : i + LOCAL_CHUNK]
            if self.status(z3.Or(*chunk), local=True):
                live |= {c.get_id() for c in chunk if self.status(c, local=True)}
        return [k for k, c in conds.items() if c.get_id() in live]

    def simulate(self) -> tuple[set[str], set[tuple[str, int]]]:
        """Random valid patients through the engine: edges they take, guard conjuncts they need.

        Cheap evidence that settles most "can some patient ..." goals before the
        solver is asked (as random simulation does before SAT in hardware
        equivalence checking). Only positive facts are taken from it: every
        "no patient can" answer still comes from the solver. Seeded: same
        samples on every run.
        """
        if self._sim is not None:
            return self._sim
        spec = self.spec
        rng = random.Random(SIM_SEED)  # noqa: S311 - reproducible sampling, not cryptography
        points = self._boundary()
        n_edges = sum(len(n.edges) for n in spec.nodes.values())
        multi = {
            e.id: [compile_expr(c, spec.symbols) for c in conjuncts(e.guard.ast)]
            for n in spec.nodes.values()
            for e in n.edges
            if len(conjuncts(e.guard.ast)) > 1
        }
        guards_at = {n.id: ids for n in spec.nodes.values() if (ids := [e.id for e in n.edges if e.id in multi])}
        variables = [(name, v, points.get(name)) for name, v in spec.variables.items()]
        steps: set[tuple[str, str]] = set()  # (source, target) of every edge taken
        needed: set[tuple[str, int]] = set()
        stale = 0
        for _ in range(min(SIM_MAX, 4 * n_edges)):
            patient = {name: _sample(v, rng, pts) for name, v, pts in variables}
            try:
                env = self.engine.environment(patient)
                d = self.engine.decide(env)
            except (PatientError, SpecDefectError):
                continue
            before = len(steps) + len(needed)
            path = d.path
            steps.update(itertools.pairwise(path))  # pairs, not edge-id strings: paths are 100 deep
            for nid in path:
                if nid in guards_at:
                    for eid in guards_at[nid]:
                        for i, fn in enumerate(multi[eid]):
                            if fn(env) is not True:
                                needed.add((eid, i))
            self._record(path)
            stale = stale + 1 if len(steps) + len(needed) == before else 0
            if stale >= SIM_PATIENCE:
                break
        self._sim = ({f"{a}->{b}" for a, b in steps}, needed)
        return self._sim

    def _boundary(self) -> dict[str, list[float]]:
        if self._points is None:
            self._points = _boundary_points(self.spec)
        return self._points

    def _record(self, path: Sequence[str]) -> None:
        """Remember ``path`` (of a patient the engine ran) as a way into each node on it."""
        into, paths, nodes = self._into, self._paths, self.spec.nodes
        pid = -1
        for i, nid in enumerate(path):
            known = into.setdefault(nid, [])
            if len(known) >= PATHS_PER_NODE or nid not in nodes:
                continue
            prefix = path[:i]
            if any(j == i and paths[q][:j] == prefix for q, j in known):
                continue
            if pid < 0:
                pid = len(paths)
                paths.append(list(path))
            known.append((pid, i))

    def _topo(self) -> list[str]:
        """Decision nodes in a stable topological order (entry first)."""
        if self._order:
            return self._order
        spec = self.spec
        indeg = dict.fromkeys(spec.nodes, 0)
        for node in spec.nodes.values():
            for e in node.edges:
                if e.target in indeg:
                    indeg[e.target] += 1
        ready = collections.deque(n for n in spec.nodes if indeg[n] == 0)
        out: list[str] = []
        while ready:
            nid = ready.popleft()
            out.append(nid)
            for e in spec.nodes[nid].edges:
                if e.target in indeg:
                    indeg[e.target] -= 1
                    if indeg[e.target] == 0:
                        ready.append(e.target)
        self._order = out
        self._rank = {n: i for i, n in enumerate(out)}
        return out

    def _run(self, patient: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]] | None:
        """The engine's path and environment for ``patient`` (None if it rejects it or hits a defect)."""
        try:
            env = self.engine.environment(patient)
            d = self.engine.decide(env)
        except (PatientError, SpecDefectError):
            return None
        self.engine.complete(env)
        self._record(d.path)
        return list(d.path), env

    def settle_locally(
        self,
        goals: Mapping[Any, tuple[str, z3.BoolRef]],
        hit: Callable[[Any, list[str], int, dict[str, Any]], bool],
        along: list[str] | None = None,
    ) -> set[Any]:
        """Keys of ``goals`` settled positively by *path-local* queries, before any graph query.

        ``goals`` maps a key to (node, condition at that node, reachability aside).
        For a goal at node s and a path P into s that an engine-confirmed patient
        followed, the solver without the graph is asked for a patient taking every
        edge of P whose condition holds at s: a small query, whatever the graph's
        size. A model's patient (its absent inputs filled with random in-domain
        values, so that it usually goes on to an outcome) is run through the engine,
        and ``hit(key, path, position, env)`` says which goals at the nodes of the
        engine's path it settles. Only positive answers come from here: a goal left
        over goes to :meth:`cover` on the whole graph, which alone may say "no patient".
        With ``along``, only the prefixes of that one path are tried (after a cover round).
        """
        enc = self.enc
        by_node: dict[str, list[Any]] = {}
        for k, (nid, _) in goals.items():
            by_node.setdefault(nid, []).append(k)
        found: set[Any] = set()

        def settle(run: tuple[list[str], dict[str, Any]] | None) -> None:
            if run is None:
                return
            path, env = run
            for i, nid in enumerate(path):
                for k in by_node.get(nid, ()):
                    if k not in found and hit(k, path, i, env):
                        found.add(k)

        edges = self._edge_map
        order = self._topo()
        rank = self._rank

        def prefix(path: list[str], upto: int) -> list[z3.BoolRef]:
            return [enc.nodes[a].take[edges[f"{a}->{b}"].index] for a, b in itertools.pairwise(path[: upto + 1])]

        def confirm(k: Any, m: z3.ModelRef) -> None:
            w = enc.witness(m)
            settle(self._run(self._filled(w)))
            if k not in found:
                settle(self._run(w))

        if along is not None:  # only the prefixes of one new path, no bands
            for i, nid in enumerate(along):
                for k in by_node.get(nid, ()):
                    if k not in found and enc.check(*prefix(along, i), goals[k][1], local=True) == z3.sat:
                        confirm(k, enc.local.model())
            return found
        for nid in order:
            for k in by_node.get(nid, ()):
                known = self._into.get(nid, [])
                for pid, pos in known:
                    if k in found:
                        break
                    if enc.check(*prefix(self._paths[pid], pos), goals[k][1], local=True) == z3.sat:
                        confirm(k, enc.local.model())
                if k in found or not known:
                    continue
                # every known path conflicts with the goal: let the last few edges vary
                pid, pos = known[0]
                path = self._paths[pid]
                for span in BAND_SPANS:
                    if k in found or pos - span < 0:
                        break
                    u = path[pos - span]
                    band = self._band(u, nid, rank)
                    if band is None:
                        break
                    m = self._band_check(band, u, nid, prefix(path, pos - span), goals[k][1])
                    if m is not None:
                        confirm(k, m)
        return found

    def _filled(self, w: Mapping[str, Any]) -> dict[str, Any]:
        """``w`` with its absent inputs set to random in-domain values (known values stay)."""
        points = self._boundary()
        filled = dict(w)
        for name, v in self.spec.variables.items():
            if name not in filled:
                filled[name] = _sample(v, self._fill_rng, points.get(name))
        return filled

    def _band(self, u: str, s: str, rank: Mapping[str, int]) -> list[str] | None:
        """Nodes on some path from ``u`` to ``s`` (topological order), or None if too many."""
        spec = self.spec
        down = {u}
        frontier = [u]
        limit = rank[s]
        while frontier:
            nxt: list[str] = []
            for a in frontier:
                for e in spec.nodes[a].edges:
                    b = e.target
                    if b in spec.nodes and b not in down and rank[b] <= limit:
                        down.add(b)
                        nxt.append(b)
            frontier = nxt
            if len(down) > BAND_MAX:
                return None
        if s not in down:
            return None
        parents = self._parents()
        band = {s}
        stack = [s]
        while stack:
            b = stack.pop()
            for a, _ in parents.get(b, ()):
                if a in down and a not in band:
                    band.add(a)
                    stack.append(a)
        return sorted(band, key=rank.__getitem__)

    def _parents(self) -> dict[str, list[tuple[str, int]]]:
        if self._parent_map is None:
            pm: dict[str, list[tuple[str, int]]] = {}
            for node in self.spec.nodes.values():
                for e in node.edges:
                    pm.setdefault(e.target, []).append((node.id, e.index))
            self._parent_map = pm
        return self._parent_map

    def _band_check(
        self, band: list[str], u: str, s: str, prefix: list[z3.BoolRef], goal: z3.BoolRef
    ) -> z3.ModelRef | None:
        """A model of: follow ``prefix`` to ``u``, then any path inside ``band`` to ``s``, with ``goal``.

        The band's reachability (one-way, as in the graph encoding) is asserted in a
        scope of the solver without the graph, so the query stays small.
        """
        enc = self.enc
        inside = set(band)
        lit = {b: z3.Bool(f"@band:{b}", enc.ctx) for b in band}
        enc.local.push()
        try:
            for b in band:
                if b == u:
                    continue
                ways = [_and(lit[a], enc.nodes[a].take[i]) for a, i in self._parents().get(b, ()) if a in inside]
                enc.local.add(z3.Implies(lit[b], z3.Or(*ways) if ways else enc.false))
            r = enc.check(*prefix, lit[s], goal, local=True)
            return enc.local.model() if r == z3.sat else None
        finally:
            enc.local.pop()

    def _path(self, m: z3.ModelRef) -> list[str]:
        """The decision nodes (and outcome) the model's patient passes, entry first."""
        enc, spec = self.enc, self.spec
        path: list[str] = []
        nid = spec.entry
        while nid in spec.nodes:
            path.append(nid)
            ns = enc.nodes[nid]
            nxt = next(
                (
                    e.target
                    for e in spec.nodes[nid].edges
                    if z3.is_true(m.eval(ns.take[e.index], model_completion=True))
                ),
                None,
            )
            if nxt is None:
                return path
            nid = nxt
        path.append(nid)
        return path

    def model(
        self, goal: Sequence[z3.BoolRef], copies: Sequence[Inputs] = (), *, local: bool = False
    ) -> z3.ModelRef | None:
        """A model of ``goal`` with as few known inputs as the solver finds, or None."""
        enc = self.enc
        solver = enc.local if local else enc.solver
        if not self.status(*goal, local=local):
            return None
        copies = copies or [enc.inputs]
        lits = {z3.Not(k).get_id(): z3.Not(k) for inp in copies for k in inp.known.values()}
        for _ in range(len(lits) + 1):
            r = enc.check(*goal, *lits.values(), local=local)
            if r == z3.sat:
                break
            core = {c.get_id() for c in solver.unsat_core()}
            dropped = [k for k in lits if k in core]
            if not dropped:
                lits = {}
                continue
            for k in dropped:
                del lits[k]
        else:  # pragma: no cover - each round drops at least one literal
            lits = {}
        reals = [
            z3.IsInt(inp.values[n]) for inp in copies for n, v in self.spec.variables.items() if v.type.base == "real"
        ]
        if reals and enc.check(*goal, *lits.values(), *reals, local=local) == z3.sat:
            return solver.model()
        r = enc.check(*goal, *lits.values(), local=local)
        if r != z3.sat and enc.check(*goal, local=local) != z3.sat:  # it was sat a moment ago: the budget ran out
            raise Undecided(solver.reason_unknown())
        return solver.model()

    def _background_consistent(self) -> bool:
        if self.status():
            return True
        parts = self.enc.core_parts()
        loc = parts[0].loc if parts else self.spec.graph_loc
        self.add(
            "contradiction",
            Severity.ERROR,
            loc,
            "no patient satisfies the input domains and consistency constraints together: " + self._parts_text(parts),
            parts[0].element if parts else "constraint:*",
        )
        return False

    # ------------------------------------------------------------ wording
    @staticmethod
    def _parts_text(parts: Iterable[Part]) -> str:
        return "; ".join(f"{p.text} ({p.loc.file}:{p.loc.line})" for p in parts) or "(no core)"

    def _locate_part(self, formula: Formula, element: str) -> Callable[[Expr], Part]:
        def locate(node: Expr) -> Part:
            return Part(self.renderer.render(node), self.spec.locate(formula, _start(node)), element)

        return locate

    def explain(self, formula: Formula, env: Mapping[str, Any], *, invariant: bool = False) -> str:
        """``IL-6 ≥ 500 pg/mL was false: IL-6 was 320`` (icontract style)."""
        symbols = self.spec.invariant_symbols if invariant else self.spec.symbols
        renderer = self.inv_renderer if invariant else self.renderer
        value = compile_expr(formula.ast, symbols)(env)
        subs: list[str] = []
        for n in sorted(names(formula.ast)):
            sym = symbols.get(n)
            if sym is None or sym.kind is SymbolKind.PARAMETER:
                continue
            subs.append(f"{sym.label or n} ({n}) was {_show(env.get(n))}")
        head = f"'{renderer.render(formula.ast)}' was {_tv(value)}"
        return head + (": " + ", ".join(subs) if subs else "")

    # ------------------------------------------------------------ checks
    def check_contradiction(self) -> None:
        spec, enc = self.spec, self.enc
        taken, _ = self.simulate()  # an edge some patient takes has a satisfiable guard
        # on a large graph many edges share a guard: one plain query per distinct guard,
        # tracked conjuncts only for an unsatisfiable one (small specs keep one tracked
        # query per edge, so their solver histories, and witnesses, stay as they were)
        holds: set[Expr] | None = set() if len(spec.nodes) > self.cone_step else None
        for node in spec.nodes.values():
            for e in node.edges:
                if e.id in taken:
                    continue
                if holds is not None and e.guard.ast in holds:
                    continue
                try:
                    if holds is not None and self.status(enc.tr.tri(e.guard.ast).t, local=True):
                        holds.add(e.guard.ast)
                        continue
                    ok, parts = enc.check_conjuncts(
                        f"edge:{e.id}", e.guard.ast, self._locate_part(e.guard, f"edge:{e.id}")
                    )
                except Undecided as exc:
                    self.undecided(f"edge:{e.id}", e.guard.loc, f"whether the guard of edge {e.id} can hold", exc)
                    continue
                if ok:
                    continue
                self.dead_edges.add(e.id)
                self.add(
                    "contradiction",
                    Severity.ERROR,
                    e.guard.loc,
                    f"the guard of edge {e.id} ('{self.renderer.render(e.guard.ast)}') can never hold within the "
                    f"input domains; conflicting parts: {self._parts_text(parts)}",
                    f"edge:{e.id}",
                )
        for name, d in spec.definitions.items():
            term = enc.tr.name(name)
            try:
                if isinstance(term, Tri):
                    ok, parts = enc.check_conjuncts(
                        f"definition:{name}", d.formula.ast, self._locate_part(d.formula, name)
                    )
                else:
                    ok = self.status(term.k, local=True)
                    parts = [] if ok else enc.core_parts(local=True)
            except Undecided as exc:
                self.undecided(f"definition:{name}", d.formula.loc, f"whether definition {name} can hold", exc)
                continue
            if ok:
                continue
            what = "hold" if d.formula.type.base == "bool" else "be computed (it is never known)"
            self.add(
                "contradiction",
                Severity.ERROR,
                d.formula.loc,
                f"definition {name} ('{self.renderer.render(d.formula.ast)}') can never {what} within the input "
                f"domains; conflicting parts: {self._parts_text(parts)}",
                f"definition:{name}",
            )
        for c in spec.constraints:
            try:
                ok, parts = enc.check_conjuncts(f"constraint:{c.id}", c.formula.ast, self._locate_part(c.formula, c.id))
            except Undecided as exc:
                self.undecided(f"constraint:{c.id}", c.formula.loc, f"whether constraint {c.id} can hold", exc)
                continue
            if ok:
                continue
            self.add(
                "contradiction",
                Severity.ERROR,
                c.formula.loc,
                f"constraint {c.id} ('{self.renderer.render(c.formula.ast)}') can never hold within the input "
                f"domains, so every patient who reports its inputs is rejected; conflicting parts: "
                f"{self._parts_text(parts)}",
                f"constraint:{c.id}",
            )

    def check_unreachable(self) -> None:
        spec, enc = self.spec, self.enc
        order = [*spec.nodes, *spec.outcomes]
        # one covering pass over the edges: a node is reachable iff some edge into it is taken
        edge_goals = {
            e.id: (node.id, enc.edge_of(e))
            for node in spec.nodes.values()
            for e in node.edges
            if e.id not in self.dead_edges
        }
        sim_taken, _ = self.simulate()
        taken = sim_taken & set(edge_goals)
        local = {
            e.id: (node.id, enc.nodes[node.id].take[e.index])
            for node in spec.nodes.values()
            for e in node.edges
            if e.id in edge_goals and e.id not in taken
        }
        taken |= self.settle_locally(local, _takes_edge)

        def then(m: z3.ModelRef, pending: set[Any]) -> set[Any]:
            run = self._run(self._filled(enc.witness(m)))
            if run is None:
                return set()
            return self.settle_locally({k: g for k, g in local.items() if k in pending}, _takes_edge, along=run[0])

        cone = self.cone()
        taken |= self.cover_in_cones({k: v for k, v in edge_goals.items() if k not in taken}, then, cone)
        reachable = {spec.entry} | {e.target for n in spec.nodes.values() for e in n.edges if e.id in taken}
        self.unreachable = {k for k in order if k not in reachable}
        self._reasons_left = MAX_EXPLAINED
        for node in spec.nodes.values():
            if node.id in self.unreachable:
                continue
            for e in node.edges:
                if e.id not in edge_goals or e.id in taken:
                    continue
                self.add(
                    "unreachable",
                    Severity.ERROR,
                    e.guard.loc,
                    f"edge {e.id} is never taken: {self._edge_reason(e, cone)}",
                    f"edge:{e.id}",
                )
        into: dict[str, list[Edge]] = {}  # edges into each element, in spec order
        for node in spec.nodes.values():
            for e in node.edges:
                into.setdefault(e.target, []).append(e)
        for k in order:
            if k not in self.unreachable:
                continue
            el = spec.nodes[k] if k in spec.nodes else spec.outcomes[k]
            kind = "node" if k in spec.nodes else "outcome"
            reasons: list[str] = []
            for e in into.get(k, ()):
                if e.source in self.unreachable:
                    reasons.append(f"via {e.id}: '{e.source}' is itself unreachable")
                elif e.id in self.dead_edges:
                    reasons.append(f"via {e.id}: its guard can never hold (see the contradiction finding)")
                else:
                    reasons.append(f"via {e.id}: {self._edge_reason(e, cone)}")
            self.add(
                "unreachable",
                Severity.ERROR,
                el.loc,
                f"{kind} '{k}' can never be reached by a valid patient; " + "; ".join(reasons),
                f"{kind}:{k}",
            )

    def _edge_reason(self, e: Edge, cone: Cone | None) -> str:
        if self._reasons_left <= 0:  # each reason costs solver calls; huge graphs get the short form
            return "its guard never holds on any path into this node"
        self._reasons_left -= 1
        try:
            return self._explain_dead_edge(e, cone)
        except Undecided as exc:  # the finding is proven (an unsat cover); only its explanation is not
            return f"its guard never holds on any path into this node (the reason is undecided: {exc})"

    def _explain_dead_edge(self, e: Edge, cone: Cone | None) -> str:
        enc = self.enc
        reach = enc.reach_lit(e.source)
        node = self.spec.nodes[e.source]
        locate = self._locate_part(e.guard, f"edge:{e.id}")
        # the cone the unreachable check just searched holds the node's ancestors and what
        # the search learned about them; the whole graph would start cold
        on = cone.solver if cone is not None and self._rank[e.source] < cone.size else None
        ok, parts = enc.check_conjuncts(f"edge:{e.id}", e.guard.ast, locate, reach, local=False, on=on)
        if not ok:
            return "its guard never holds when the patient is at this node; conflicting parts: " + self._parts_text(
                parts
            )
        if node.hit_policy is HitPolicy.FIRST:
            ns = enc.nodes[node.id]
            masks = [
                f"'{self.renderer.render(s.guard.ast)}' (to {s.target})"
                for s in node.edges[: e.index]
                if not self.status(reach, ns.guards[e.index].t, ns.guards[s.index].unknown, on=on)
                and not self.status(reach, ns.guards[e.index].t, ns.guards[s.index].f, on=on)
            ]
            if not masks:
                masks = [f"'{self.renderer.render(s.guard.ast)}'" for s in node.edges[: e.index]]
            return (
                "masked by earlier edges of this 'first' node: whenever its guard holds, an earlier guard holds "
                "(or is unknown) first: " + ", ".join(masks)
            )
        return "whenever its guard holds another guard of this 'unique' node holds or is unknown (see overlap)"

    def check_overlap(self) -> None:
        spec, enc = self.spec, self.enc
        goals: dict[Any, tuple[str, z3.BoolRef]] = {}
        for node in spec.nodes.values():
            if node.hit_policy is not HitPolicy.UNIQUE or node.id in self.unreachable:
                continue
            ns = enc.nodes[node.id]
            for i, a in enumerate(node.edges):
                for b in node.edges[i + 1 :]:
                    goals[(node.id, a.index, b.index)] = (
                        node.id,
                        _and(ns.reach, ns.guards[a.index].t, ns.guards[b.index].t),
                    )
        local = {k: raw_and(*(enc.nodes[k[0]].guards[i].t for i in k[1:])) for k in goals}
        goals = {k: goals[k] for k in self.local_candidates(local)}
        for key in sorted(self.cover(goals)):
            nid, ia, ib = key
            node = spec.nodes[nid]
            a, b = node.edges[ia], node.edges[ib]
            m = self.model([goals[key][1]])
            assert m is not None
            w = enc.witness(m)
            env = self._env(w)
            detail = f"; {self.explain(a.guard, env)}; {self.explain(b.guard, env)}" if env is not None else ""
            self.add(
                "overlap",
                Severity.ERROR,
                b.guard.loc,
                f"at '{node.id}' ({node.question.strip()}) the guards of {a.id} and {b.id} both hold for "
                f"this patient{detail}",
                f"node:{node.id}",
                w,
                _expect_defect(node.id, "overlap"),
            )

    def check_gap(self) -> None:
        spec, enc = self.spec, self.enc
        local = {nid: enc.nodes[nid].here.gap for nid in spec.nodes if nid not in self.unreachable}
        goals = {nid: (nid, enc.nodes[nid].gap) for nid in self.local_candidates(local)}
        found = self.cover(goals)
        for node in spec.nodes.values():
            if node.id not in found:
                continue
            m = self.model([enc.nodes[node.id].gap])
            assert m is not None
            w = enc.witness(m)
            env = self._env(w)
            detail = "; ".join(self.explain(e.guard, env) for e in node.edges) if env is not None else ""
            self.add(
                "gap",
                Severity.ERROR,
                node.loc,
                f"at '{node.id}' ({node.question.strip()}) no guard holds for this patient: {detail}",
                f"node:{node.id}",
                w,
                _expect_defect(node.id, "gap"),
            )

    def check_invariant(self) -> None:
        enc = self.enc
        tr = enc.invariant_translator()
        for inv in self.spec.invariants:
            term = tr.tri(inv.formula.ast)
            try:
                if not self.status(enc.decided, z3.Not(term.t)):
                    self.invariant_status[inv.id] = Verdict.PROVEN.value
                    continue
                # a definitely-false counterexample reads better than one where the invariant is merely unknown
                m = self.model([enc.decided, term.f]) or self.model([enc.decided, z3.Not(term.t)])
            except Undecided as exc:  # this invariant only; the others are still decided
                self.invariant_status[inv.id] = Verdict.UNKNOWN.value
                self.undecided(f"invariant:{inv.id}", inv.formula.loc, f"invariant {inv.id}", exc)
                continue
            assert m is not None
            self.invariant_status[inv.id] = Verdict.REFUTED.value
            w = enc.witness(m)
            detail = ""
            try:
                d = self.engine.evaluate(w)
                env = dict(d.values)
                env["recommendation"] = d.recommendation
                env[ACTIONS_KEY] = frozenset(a.id for a in d.actions)
                env[FLAGS_KEY] = frozenset(f.id for f in d.flags)
                detail = f"; the decision is {d.recommendation} via {' -> '.join(d.path)}; " + self.explain(
                    inv.formula, env, invariant=True
                )
            except (PatientError, SpecDefectError):
                pass
            self.add(
                "invariant",
                inv.severity,
                inv.formula.loc,
                f"invariant {inv.id} is refuted: {inv.description.strip().rstrip('.')}{detail}",
                f"invariant:{inv.id}",
                w,
                _expect_invariant(inv.id),
            )

    def check_missing_data(self) -> None:
        """Completing a patient's absent inputs never changes a known guard, output or flag.

        Compositional proof: every guard on a path, every outcome output, and
        every flag condition keeps its known value in every valid completion
        (checked formula by formula on two copies of the inputs), so by induction
        along the path a definitive outcome is the same for every completion.
        Then, per outcome and flag: a flag left out only because its input is
        absent, although a completion would show it, is reported (info).
        """
        spec, enc = self.spec, self.enc
        q, q_tr, link = enc.completion()
        p = enc.inputs
        formulas: list[tuple[str, Formula, Location, str]] = []
        for node in spec.nodes.values():
            formulas += [(f"edge:{e.id}", e.guard, e.guard.loc, f"the guard of {e.id}") for e in node.edges]
        for o in spec.outcomes.values():
            for name in o.outputs:
                d = spec.definitions[name]
                formulas.append((f"outcome:{o.id}", d.formula, o.loc, f"output {name} of '{o.id}'"))
            formulas += [
                (f"flag:{fl.id}", fl.when, spec.locate(fl.when, 0), f"flag {fl.id}") for fl in o.flags if fl.when
            ]
        memo: dict[Expr, z3.BoolRef] = {}  # the same formula at many places is asked about once
        groups: dict[frozenset[str], dict[int, z3.BoolRef]] = {}
        changes: list[z3.BoolRef] = []
        for _, formula, _, _ in formulas:
            changed = memo.get(formula.ast)
            if changed is None:
                tp, tq = enc.tr.term(formula.ast), q_tr.term(formula.ast)
                if isinstance(tp, Tri) and isinstance(tq, Tri):
                    changed = raw_or(raw_and(tp.t, raw_not(tq.t)), raw_and(tp.f, raw_not(tq.f)))
                else:
                    assert isinstance(tp, Val)
                    assert isinstance(tq, Val)
                    changed = z3.And(tp.k, z3.Or(z3.Not(tq.k), tp.v != tq.v))
                memo[formula.ast] = changed
                deps = frozenset(_input_deps(spec, formula.ast))
                groups.setdefault(deps, {})[changed.get_id()] = changed
            changes.append(changed)
        # one query per set of inputs (in disjunctions of at most LOCAL_CHUNK formulas)
        # proves a whole group in the usual case: many small queries are much cheaper
        # than one disjunction over the whole spec; formula by formula only in a
        # chunk where it fails
        open_ids: set[int] = set()
        for deps in sorted(groups, key=sorted):
            group = list(groups[deps].values())
            for i in range(0, len(group), LOCAL_CHUNK):
                chunk = group[i : i + LOCAL_CHUNK]
                if self.status(link, z3.Or(*chunk), local=True):
                    open_ids |= {c.get_id() for c in chunk}
        for (element, formula, loc, what), changed in zip(formulas, changes, strict=True):
            if changed.get_id() not in open_ids:
                continue
            m = self.model([link, changed], [p, q], local=True)
            if m is None:
                continue
            w, c = enc.witness(m, p), enc.witness(m, q)
            self.add(
                "missing-data",
                Severity.ERROR,
                loc,
                f"{what} ('{self.renderer.render(formula.ast)}') is known for this patient but changes when the "
                f"absent inputs are completed with {self._added(w, c)}: a decision could rest on missing data",
                element,
                w,
                _expect_changed(formula, spec, c),
            )
        for o in spec.outcomes.values():
            if o.id in self.unreachable:
                continue
            po = enc.outcomes[o.id]
            for fl in o.flags:
                if fl.when is None:
                    continue
                # the completion may add only inputs the flag's condition depends on
                needs = _input_deps(spec, fl.when.ast)
                same = [q.known[v] == p.known[v] for v in spec.variables if v not in needs]
                goal = [link, po.definitive, z3.Not(po.flags[fl.id]), q_tr.tri(fl.when.ast).t, *same]
                m = self.model(goal, [p])
                if m is None:
                    continue
                w, c = enc.witness(m, p), enc.witness(m, q)
                self.add(  # the decision stands; only its explanatory text depends on the absent input
                    "missing-data",
                    Severity.INFO,
                    spec.locate(fl.when, 0),
                    f"outcome '{o.id}' is given without its flag '{fl.id}' ('{self.renderer.render(fl.when.ast)}') "
                    f"because an input it needs is absent; completing the witness with {self._added(w, c)} "
                    f"shows the flag: {fl.text.strip()}",
                    f"flag:{fl.id}",
                    w,
                    _expect_completion(o.id, fl.id, c),
                )

    @staticmethod
    def _added(w: Mapping[str, Any], c: Mapping[str, Any]) -> str:
        extra = [f"{k}={_show(v)}" for k, v in c.items() if k not in w]
        return ", ".join(extra) or "the same values"

    def check_redundant(self) -> None:
        spec, enc = self.spec, self.enc
        # its path-local queries are many small satisfiable ones: cheap on a solver that
        # has not internalised the earlier checks' formulas (the answers are the same)
        enc.renew_local()
        goals: dict[Any, tuple[str, z3.BoolRef]] = {}
        where: dict[Any, tuple[Edge, Expr]] = {}
        for node in spec.nodes.values():
            if node.id in self.unreachable:
                continue
            reach = enc.nodes[node.id].reach
            for e in node.edges:
                parts = conjuncts(e.guard.ast)
                if len(parts) < 2 or e.id in self.dead_edges:
                    continue
                for i, c in enumerate(parts):
                    goals[(e.id, i)] = (node.id, _and(reach, raw_not(enc.tr.tri(c).t)))
                    where[(e.id, i)] = (e, c)
        _, needed = self.simulate()
        needed = needed & set(goals)
        local = {k: (where[k][0].source, raw_not(enc.tr.tri(where[k][1]).t)) for k in goals if k not in needed}
        fns = {k: compile_expr(where[k][1], spec.symbols) for k in local}
        needed |= self.settle_locally(local, lambda k, path, i, env: fns[k](env) is not True)
        needed |= self.cover_in_cones({k: v for k, v in goals.items() if k not in needed}, cone=self.cone())
        for key in goals:
            if key in needed:
                continue
            e, c = where[key]
            self.add(
                "redundant",
                Severity.INFO,
                spec.locate(e.guard, _start(c)),
                f"in the guard of {e.id}, '{self.renderer.render(c)}' always holds when a patient reaches "
                f"'{e.source}'; it can be dropped",
                f"edge:{e.id}",
            )

    def check_uncited(self) -> None:
        spec = self.spec
        items: list[tuple[str, Location, tuple[str, ...]]] = []
        for node in spec.nodes.values():
            items += [(f"edge:{e.id}", e.loc, e.cites) for e in node.edges]
        items += [(f"outcome:{o.id}", o.loc, o.cites) for o in spec.outcomes.values()]
        items += [(f"parameter:{p.name}", p.loc, p.cites) for p in spec.parameters.values()]
        items += [(f"invariant:{i.id}", i.loc, i.cites) for i in spec.invariants]
        for element, loc, cites in items:
            if not cites:
                self.add("uncited", Severity.WARNING, loc, f"{element} cites no evidence", element)

    # ------------------------------------------------------------ engine
    def _env(self, witness: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            return self.engine.environment(witness)
        except PatientError:
            return None


def _takes_edge(key: Any, path: list[str], i: int, env: dict[str, Any]) -> bool:
    """``settle_locally`` hit test: the path takes edge ``key`` at its ``i``-th node."""
    return i + 1 < len(path) and bool(key == f"{path[i]}->{path[i + 1]}")


def _expect_defect(node: str, kind: str) -> Expect:
    def expect(engine: Engine, w: dict[str, Any]) -> str | None:
        try:
            d = engine.evaluate(w)
        except SpecDefectError as exc:
            if exc.node == node and exc.kind == kind:
                return None
            return f"the engine reports {exc.kind} at '{exc.node}'"
        except PatientError as exc:
            return f"the engine rejects the patient: {exc}"
        return f"the engine decides {d.recommendation} via {' -> '.join(d.path)}"

    return expect


def _expect_invariant(inv_id: str) -> Expect:
    def expect(engine: Engine, w: dict[str, Any]) -> str | None:
        try:
            d = engine.evaluate(w)
        except (SpecDefectError, PatientError) as exc:
            return f"the engine gives no decision: {exc}"
        if inv_id in engine.invariant_violations(d):
            return None
        return f"the engine's decision ({d.recommendation}) satisfies {inv_id}"

    return expect


def _expect_changed(formula: Formula, spec: Spec, completion: dict[str, Any]) -> Expect:
    fn = compile_expr(formula.ast, spec.symbols)

    def expect(engine: Engine, w: dict[str, Any]) -> str | None:
        try:
            a, b = fn(engine.environment(w)), fn(engine.environment(completion))
        except PatientError as exc:
            return f"the engine rejects a patient: {exc}"
        if a is not None and a != b:
            return None
        return f"the engine evaluates it to {_tv(a)} and {_tv(b)}"

    return expect


def _decide(engine: Engine, w: Mapping[str, Any]) -> Decision | str:
    try:
        return engine.evaluate(w)
    except (SpecDefectError, PatientError) as exc:
        return str(exc)


def _expect_completion(outcome: str, flag: str | None, completion: dict[str, Any]) -> Expect:
    def expect(engine: Engine, w: dict[str, Any]) -> str | None:
        d = _decide(engine, w)
        if isinstance(d, str) or d.outcome != outcome or d.recommendation == "insufficient_data":
            return f"the witness does not reach '{outcome}': {d if isinstance(d, str) else d.recommendation}"
        dq = _decide(engine, completion)
        if flag is None:
            if isinstance(dq, str) or dq.outcome != outcome or dq.recommendation == "insufficient_data":
                return None
            return f"the completion {completion} also reaches '{outcome}'"
        if flag in {f.id for f in d.flags}:
            return f"the witness already shows flag '{flag}'"
        if not isinstance(dq, str) and dq.outcome == outcome and flag in {f.id for f in dq.flags}:
            return None
        return f"the completion {completion} does not show flag '{flag}' at '{outcome}'"

    return expect


def run_checks(spec: Spec, checks: Sequence[str] | None = None, *, rlimit: int = DEFAULT_RLIMIT) -> Report:
    """Build the encoding and run ``checks`` (default: all) on ``spec``, ``rlimit`` per query."""
    return Verifier(spec, rlimit=rlimit).run(checks)


__all__ = ["Undecided", "Verifier", "run_checks"]
