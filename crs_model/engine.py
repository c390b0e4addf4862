"""The compiled decision engine: spec -> closures once, then fast evaluation.

Evaluation never walks the networkx graph and never imports z3, hypothesis or
pydot. At a decision node the engine either follows exactly one edge whose guard
is *true*, or stops with ``insufficient_data`` listing the absent inputs that
would decide the unknown guards; it never follows an edge on a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crs_model.errors import SpecDefectError
from crs_model.expr import names
from crs_model.model import HitPolicy, Outcome, Recommendation, Spec
from crs_model.patient import PatientValidator
from crs_model.pyeval import ACTIONS_KEY, FLAGS_KEY, Fn, compile_expr

REPORTED = ("astct_grade", "tocilizumab_dose_mg")
INSUFFICIENT = Recommendation.INSUFFICIENT_DATA.value


@dataclass(frozen=True, slots=True)
class Note:
    """An action or a flag shown with a decision."""

    id: str
    text: str
    citations: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "citations": list(self.citations)}


@dataclass(frozen=True, slots=True)
class Step:
    """One decision node on the path: each evaluated guard's value, and the edge taken."""

    node: str
    guards: tuple[tuple[str, bool | None], ...]  # (target, value) in edge order
    taken: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    """What the encoded guideline recommends for one patient."""

    recommendation: str
    outcome: str | None
    astct_grade: int | None
    tocilizumab_dose_mg: float | None
    actions: tuple[Note, ...]
    flags: tuple[Note, ...]
    missing: tuple[str, ...]
    path: tuple[str, ...]
    cites: tuple[str, ...]
    spec_id: str
    spec_version: str
    spec_sha256: str
    trace: tuple[Step, ...] = field(default=(), compare=False)
    values: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self, *, trace: bool = False) -> dict[str, Any]:
        """The JSON decision (see README, "Output contract")."""
        d: dict[str, Any] = {
            "recommendation": self.recommendation,
            "outcome": self.outcome,
            "astct_grade": self.astct_grade,
            "tocilizumab_dose_mg": self.tocilizumab_dose_mg,
            "actions": [a.to_dict() for a in self.actions],
            "flags": [f.to_dict() for f in self.flags],
            "missing": list(self.missing),
            "path": list(self.path),
            "cites": list(self.cites),
            "spec": {"id": self.spec_id, "version": self.spec_version, "sha256": self.spec_sha256},
        }
        if trace:
            d["trace"] = [
                {"node": s.node, "guards": [{"to": t, "value": v} for t, v in s.guards], "taken": s.taken}
                for s in self.trace
            ]
        return d


@dataclass(frozen=True, slots=True)
class _CEdge:
    target: str
    guard: Fn
    deps: frozenset[str]
    cites: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _CNode:
    id: str
    first: bool
    edges: tuple[_CEdge, ...]
    cites: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _COutcome:
    outcome: Outcome
    outputs: tuple[tuple[str, Fn, frozenset[str]], ...]
    flags: tuple[tuple[Note, Fn | None], ...]
    actions: tuple[Note, ...]
    cites: tuple[str, ...]


class Engine:
    """A spec compiled for evaluation. Thread-safe: it holds no mutable state."""

    def __init__(self, spec: Spec, *, require_signoff: bool = False) -> None:
        if require_signoff:  # refuse unreviewed or altered bytes (SignoffError)
            from crs_model.signoff import require_signoff as _require

            _require(spec)
        self.spec = spec
        self.validator = PatientValidator(spec)
        sym = spec.symbols
        self._defs: tuple[tuple[str, Fn], ...] = tuple(
            (name, compile_expr(d.formula.ast, sym)) for name, d in spec.definitions.items()
        )
        # inputs each definition depends on, transitively (definitions are in order)
        self._inputs: dict[str, frozenset[str]] = {v: frozenset({v}) for v in spec.variables}
        for name, d in spec.definitions.items():
            acc: set[str] = set()
            for n in names(d.formula.ast):
                acc |= self._inputs.get(n, frozenset())
            self._inputs[name] = frozenset(acc)
        self._order = {v: i for i, v in enumerate(spec.variables)}
        self._nodes: dict[str, _CNode] = {}
        for nid, node in spec.nodes.items():
            edges = tuple(
                _CEdge(e.target, compile_expr(e.guard.ast, sym), self._deps(e.guard.ast), e.cites) for e in node.edges
            )
            self._nodes[nid] = _CNode(nid, node.hit_policy is HitPolicy.FIRST, edges, node.cites)
        self._outcomes: dict[str, _COutcome] = {}
        for oid, o in spec.outcomes.items():
            outputs = tuple((n, self._def_fn(n), self._inputs.get(n, frozenset())) for n in o.outputs)
            flags = tuple(
                (Note(f.id, f.text, f.cites), compile_expr(f.when.ast, sym) if f.when else None) for f in o.flags
            )
            actions = tuple(Note(a.id, a.text, a.cites) for a in o.actions)
            self._outcomes[oid] = _COutcome(o, outputs, flags, actions, o.cites)
        self._invariants = tuple(
            (inv, compile_expr(inv.formula.ast, spec.invariant_symbols)) for inv in spec.invariants
        )
        self._reported = tuple(r for r in REPORTED if r in spec.definitions)
        md = spec.metadata
        self._spec_ref = (md.id, md.version, spec.sha256)

    def _deps(self, ast: Any) -> frozenset[str]:
        acc: set[str] = set()
        for n in names(ast):
            acc |= self._inputs.get(n, frozenset())
        return frozenset(acc)

    def _def_fn(self, name: str) -> Fn:
        return lambda env: env.get(name)

    def _missing(self, deps: set[str], env: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(sorted((d for d in deps if env.get(d) is None), key=self._order.__getitem__))

    # ------------------------------------------------------------------ API
    def environment(self, patient: Mapping[str, Any]) -> dict[str, Any]:
        """Validated inputs plus every definition's value (``None`` = unknown)."""
        env = self.validator.validate(patient)
        for name, fn in self._defs:
            env[name] = fn(env)
        return env

    def evaluate(self, patient: Mapping[str, Any]) -> Decision:
        """Validate ``patient`` and decide; raises :class:`PatientError` on bad input."""
        return self.decide(self.environment(patient))

    def decide(self, env: Mapping[str, Any]) -> Decision:
        """Decide from an already validated environment (see :meth:`environment`)."""
        path: list[str] = []
        steps: list[Step] = []
        cites: dict[str, None] = {}
        nid = self.spec.entry
        nodes = self._nodes
        while nid in nodes:
            node = nodes[nid]
            path.append(nid)
            cites.update(dict.fromkeys(node.cites))
            taken: _CEdge | None = None
            unknown: list[_CEdge] = []
            seen: list[tuple[str, bool | None]] = []
            if node.first:
                for e in node.edges:
                    v = e.guard(env)
                    seen.append((e.target, v))
                    if v is True:
                        taken = e
                        break
                    if v is None:
                        unknown.append(e)
                        break
            else:
                for e in node.edges:
                    v = e.guard(env)
                    seen.append((e.target, v))
                    if v is True:
                        if taken is not None:
                            raise SpecDefectError(
                                nid, "overlap", f"guards to '{taken.target}' and '{e.target}' both hold"
                            )
                        taken = e
                    elif v is None:
                        unknown.append(e)
                if unknown:
                    taken = None
            if unknown:
                steps.append(Step(nid, tuple(seen), None))
                deps: set[str] = set()
                for e in unknown:
                    deps |= e.deps
                return self._insufficient(env, path, steps, cites, self._missing(deps, env))
            if taken is None:
                raise SpecDefectError(nid, "gap", "no outgoing guard holds for this patient")
            steps.append(Step(nid, tuple(seen), taken.target))
            cites.update(dict.fromkeys(taken.cites))
            nid = taken.target
        return self._outcome(self._outcomes[nid], env, path, steps, cites)

    def _outcome(
        self, co: _COutcome, env: Mapping[str, Any], path: list[str], steps: list[Step], cites: dict[str, None]
    ) -> Decision:
        outputs: dict[str, Any] = {}
        unknown: set[str] = set()
        for name, fn, deps in co.outputs:
            v = fn(env)
            if v is None:
                unknown |= deps
            outputs[name] = v
        if unknown:
            path.append(co.outcome.id)
            return self._insufficient(env, path, steps, cites, self._missing(unknown, env))
        cites.update(dict.fromkeys(co.cites))
        for a in co.actions:
            cites.update(dict.fromkeys(a.citations))
        flags: list[Note] = []
        for note, when in co.flags:
            if when is None or when(env) is True:
                flags.append(note)
                cites.update(dict.fromkeys(note.citations))
        path.append(co.outcome.id)
        grade = env.get("astct_grade")
        dose = outputs.get("tocilizumab_dose_mg")
        if dose is not None:
            dose = float(dose)
        return Decision(
            co.outcome.recommendation.value,
            co.outcome.id,
            grade,
            dose,
            co.actions,
            tuple(flags),
            (),
            tuple(path),
            tuple(cites),
            *self._spec_ref,
            tuple(steps),
            env,
        )

    def _insufficient(
        self,
        env: Mapping[str, Any],
        path: list[str],
        steps: list[Step],
        cites: dict[str, None],
        missing: tuple[str, ...],
    ) -> Decision:
        return Decision(
            INSUFFICIENT,
            None,
            env.get("astct_grade"),
            None,
            (),
            (),
            missing,
            tuple(path),
            tuple(cites),
            *self._spec_ref,
            tuple(steps),
            env,
        )

    def invariant_violations(self, decision: Decision) -> list[str]:
        """Ids of invariants that are not *true* for this decision (unknown counts as violated)."""
        env = dict(decision.values)
        env["recommendation"] = decision.recommendation
        env[ACTIONS_KEY] = frozenset(a.id for a in decision.actions)
        env[FLAGS_KEY] = frozenset(f.id for f in decision.flags)
        return [inv.id for inv, fn in self._invariants if fn(env) is not True]
