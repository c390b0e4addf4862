"""Query planning: settle many "can *some* patient ..." goals with few solver calls.

In order of cost: simulation (:mod:`crs_model.verify.simulation`, positive facts
only); *path-local* queries on the solver without the graph, along paths that
engine-confirmed patients followed (and small *bands* of the graph before a node);
then *covering* on the whole graph (or, on large graphs, on a growing :class:`Cone`):
one disjunction over selector literals per round, each model settling every goal
on its patient's path, one unsat answer settling all the rest. "No patient can"
answers come only from a solver holding the graph.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

import z3

from crs_model.engine import Engine
from crs_model.errors import PatientError, SpecDefectError
from crs_model.model import Spec
from crs_model.verify.capi import mk_and, raw_and, raw_not, raw_or
from crs_model.verify.encoding import Cone, Encoding, Undecided
from crs_model.verify.simulation import SIM_SEED, boundary_points, sample, simulate

PATHS_PER_NODE = 8  # known paths into a node tried by path-local queries
BAND_SPANS = (3, 6)  # edges before the goal's node left free when every known path conflicts
BAND_MAX = 400  # nodes at most in such a band
CONE_STEP = 400  # nodes added to a cone solver per step (graphs up to this size use the main solver)
LOCAL_CHUNK = 64  # node-local conditions per disjunctive query

K = TypeVar("K", bound=Hashable)  # a goal's key: an edge id, (edge id, conjunct), (node, edge, edge) ...
Goals = Mapping[K, tuple[str, z3.BoolRef]]  # key -> (a node every patient with the goal passes, goal)
Then = Callable[[z3.ModelRef, set[K]], set[K]]


class Search:
    """The query planner over one encoding: paths seen, graph order, covering, path-local queries.

    ``cone_step``: nodes per step of :meth:`cover_in_cones` (graphs up to this size
    are searched whole).
    """

    def __init__(self, spec: Spec, enc: Encoding, engine: Engine, *, cone_step: int = CONE_STEP) -> None:
        self.spec = spec
        self.enc = enc
        self.engine = engine
        self.cone_step = cone_step
        self._covers = 0
        self._sim: tuple[set[str], set[tuple[str, int]]] | None = None
        # paths of engine-confirmed patients (node ids, entry first) and, per node, up to
        # PATHS_PER_NODE distinct ones into it: (path index, position of the node)
        self._paths: list[list[str]] = []
        self._into: dict[str, list[tuple[int, int]]] = {}
        self._fill_rng = random.Random(SIM_SEED + 1)  # noqa: S311 - reproducible, not cryptography
        self._points: dict[str, list[float]] | None = None

    # ------------------------------------------------------------ single queries
    def status(self, *goal: z3.BoolRef, local: bool = False, on: z3.Solver | None = None) -> bool:
        """True if some valid patient satisfies ``goal`` (``local``: on the solver without the graph).

        Raises :class:`Undecided` when the solver answers unknown.
        """
        r = self.enc.check(*goal, local=local, on=on)
        if r == z3.unknown:
            raise Undecided(self.enc.pick(local=local, on=on).reason_unknown())
        return bool(r == z3.sat)

    def local_candidates(self, conds: Mapping[K, z3.BoolRef]) -> list[K]:
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

    # ------------------------------------------------------------ covering
    def cover(self, goals: Goals[K], then: Then[K] | None = None, *, solver: z3.Solver | None = None) -> set[K]:
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
        by_gate: dict[str, list[K]] = {}
        for k, (gate, _) in goals.items():
            by_gate.setdefault(gate, []).append(k)
        pending = set(goals)
        settled: list[z3.BoolRef] = []
        found: set[K] = set()
        while pending:
            r = enc.check(anylit, *settled, on=s)
            if r == z3.unknown:
                raise Undecided(s.reason_unknown())
            if r == z3.unsat:
                break
            m = s.model()
            path = self.path(m)
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
        order = self.spec.index.node_order
        return Cone(self.enc, order) if len(order) > self.cone_step else None

    def cover_in_cones(self, goals: Goals[K], then: Then[K] | None = None, cone: Cone | None = None) -> set[K]:
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
        rank = self.spec.index.rank
        found: set[K] = set()
        by_step: dict[int, list[K]] = {}
        for k, (gate, _) in goals.items():
            by_step.setdefault(rank[gate] // self.cone_step, []).append(k)

        batch: dict[K, tuple[str, z3.BoolRef]] = {}

        def follow(m: z3.ModelRef, pending: set[K]) -> set[K]:
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

    def path(self, m: z3.ModelRef) -> list[str]:
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

    # ------------------------------------------------------------ simulation and paths seen
    def simulate(self) -> tuple[set[str], set[tuple[str, int]]]:
        """Edges random valid patients take, guard conjuncts they need (computed once; see simulation)."""
        if self._sim is None:
            self._sim = simulate(self.spec, self.engine, self.boundary(), self.record)
        return self._sim

    def boundary(self) -> dict[str, list[float]]:
        """The guard thresholds per numeric input (computed once)."""
        if self._points is None:
            self._points = boundary_points(self.spec)
        return self._points

    def record(self, path: Sequence[str]) -> None:
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

    def run_patient(self, patient: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]] | None:
        """The engine's path and environment for ``patient`` (None if it rejects it or hits a defect)."""
        try:
            env = self.engine.environment(patient)
            d = self.engine.decide(env)
        except (PatientError, SpecDefectError):
            return None
        self.engine.complete(env)
        self.record(d.path)
        return list(d.path), env

    def filled(self, w: Mapping[str, Any]) -> dict[str, Any]:
        """``w`` with its absent inputs set to random in-domain values (known values stay)."""
        points = self.boundary()
        filled = dict(w)
        for name, v in self.spec.variables.items():
            if name not in filled:
                filled[name] = sample(v, self._fill_rng, points.get(name))
        return filled

    # ------------------------------------------------------------ path-local queries
    def settle_locally(
        self,
        goals: Goals[K],
        hit: Callable[[K, list[str], int, dict[str, Any]], bool],
        along: list[str] | None = None,
    ) -> set[K]:
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
        by_node: dict[str, list[K]] = {}
        for k, (nid, _) in goals.items():
            by_node.setdefault(nid, []).append(k)
        found: set[K] = set()

        def settle(run: tuple[list[str], dict[str, Any]] | None) -> None:
            if run is None:
                return
            path, env = run
            for i, nid in enumerate(path):
                for k in by_node.get(nid, ()):
                    if k not in found and hit(k, path, i, env):
                        found.add(k)

        idx = self.spec.index
        edges, order, rank = idx.edges, idx.node_order, idx.rank

        def prefix(path: list[str], upto: int) -> list[z3.BoolRef]:
            return [enc.nodes[a].take[edges[f"{a}->{b}"].index] for a, b in itertools.pairwise(path[: upto + 1])]

        def confirm(k: K, m: z3.ModelRef) -> None:
            w = enc.witness(m)
            settle(self.run_patient(self.filled(w)))
            if k not in found:
                settle(self.run_patient(w))

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
        incoming = spec.index.incoming
        band = {s}
        stack = [s]
        while stack:
            b = stack.pop()
            for e in incoming[b]:
                if e.source in down and e.source not in band:
                    band.add(e.source)
                    stack.append(e.source)
        return sorted(band, key=rank.__getitem__)

    def _band_check(
        self, band: list[str], u: str, s: str, prefix: list[z3.BoolRef], goal: z3.BoolRef
    ) -> z3.ModelRef | None:
        """A model of: follow ``prefix`` to ``u``, then any path inside ``band`` to ``s``, with ``goal``.

        The band's reachability (one-way, as in the graph encoding) is asserted in a
        scope of the solver without the graph, so the query stays small.
        """
        enc = self.enc
        inside = set(band)
        incoming = self.spec.index.incoming
        lit = {b: z3.Bool(f"@band:{b}", enc.ctx) for b in band}
        enc.local.push()
        try:
            for b in band:
                if b == u:
                    continue
                ways = [
                    mk_and(lit[e.source], enc.nodes[e.source].take[e.index]) for e in incoming[b] if e.source in inside
                ]
                enc.local.add(z3.Implies(lit[b], z3.Or(*ways) if ways else enc.false))
            r = enc.check(*prefix, lit[s], goal, local=True)
            return enc.local.model() if r == z3.sat else None
        finally:
            enc.local.pop()


__all__ = ["CONE_STEP", "LOCAL_CHUNK", "Goals", "Search", "Then"]
