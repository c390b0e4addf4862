"""The compiled decision engine: spec -> closures once, then fast evaluation.

Evaluation never walks the networkx graph and never imports z3, hypothesis or
pydot. At a decision node the engine either follows exactly one edge whose guard
is *true*, or stops with ``insufficient_data`` listing the absent inputs that
would decide the unknown guards; it never follows an edge on a guess.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from crs_model.errors import SpecDefectError
from crs_model.exact import round_half_up
from crs_model.expr import Expr, Name
from crs_model.model import INSUFFICIENT_DATA, HitPolicy, Outcome, ReportMode, Spec
from crs_model.patient import PatientValidator
from crs_model.pyeval import ACTIONS_KEY, FLAGS_KEY, Fn, UnknownExplainer, compile_expr

if TYPE_CHECKING:
    from crs_model.borderline import Borderline, BorderlineFinder
    from crs_model.completion import Completer, Found
    from crs_model.verify.counterfactual import Counterfactual

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
OutputValue = int | float | bool | str | None
"""The value of a reported output on a decision (``None``: not reported, or unknown)."""

# every declared output as None (declared order), then the ones reported here:
# (name, value, decimal places of a real output)
_Report = tuple[dict[str, "OutputValue"], tuple[tuple[str, Fn, int | None], ...]]


def _value_json(v: OutputValue) -> str:
    """JSON of an output value, as ``_dumps`` writes it, without the encoder for the common types."""
    t = type(v)
    if t is int:
        return str(v)
    if t is float and math.isfinite(v):  # type: ignore[arg-type]  # t is float
        return repr(v)  # what json writes for a finite float
    return _dumps(v)


@dataclass(frozen=True, slots=True)
class Note:
    """An action or a flag shown with a decision."""

    id: str
    text: str
    citations: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The note as it appears in the JSON decision."""
        return {"id": self.id, "text": self.text, "citations": list(self.citations)}


@dataclass(frozen=True, slots=True)
class PossibleFlag:
    """A flag whose condition absent inputs leave open: some valid completion shows it, some does not."""

    note: Note
    if_known: tuple[str, ...]  # the absent inputs that would settle it, in declaration order

    def to_dict(self) -> dict[str, Any]:
        """The flag as ``flags`` shows it, plus ``if_known``."""
        return {**self.note.to_dict(), "if_known": list(self.if_known)}


_NO_UNDECIDED: Mapping[str, Mapping[str, Any]] = MappingProxyType({})
_PATH = "__path__"  # where the decision probe leaves a completion's route in its environment


class Step(NamedTuple):
    """One decision node on the path: each evaluated guard's value, and the edge taken."""

    node: str
    guards: tuple[tuple[str, bool | None], ...]  # (target, value) in edge order
    taken: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    """What the encoded guideline recommends for one patient."""

    recommendation: str
    outcome: str | None
    outputs: Mapping[str, OutputValue]  # every declared output, in declared order
    actions: tuple[Note, ...]
    flags: tuple[Note, ...]
    # the absent inputs that would decide (``missing``); None until first read where the engine
    # computes them on demand (exact decisions: a search); a function of the inputs, so not compared
    _missing: tuple[str, ...] | None = field(compare=False)
    path: tuple[str, ...]
    spec_id: str
    spec_version: str
    spec_sha256: str
    _env: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _engine: Engine | None = field(default=None, compare=False, repr=False)
    _cites: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    undecided_outputs: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: _NO_UNDECIDED
    )  # reported outputs absent data leaves open
    possible_flags: tuple[PossibleFlag, ...] = ()
    _missing_any_of: tuple[tuple[str, ...], ...] | None = field(default=(), compare=False, repr=False)
    _search: Found | None = field(default=None, compare=False, repr=False)  # an open search, to finish
    _borderline: tuple[Borderline, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def borderline(self) -> tuple[Borderline, ...]:
        """Where the recommendation would change within a measured input's declared error (one
        entry per input and other recommendation; :mod:`crs_model.borderline`). Computed on first read."""
        b = self._borderline
        if b is None:
            b = self._engine.borderline(self) if self._engine is not None else ()
            object.__setattr__(self, "_borderline", b)  # memo on a frozen value: same result every time
        return b

    @property
    def missing(self) -> tuple[str, ...]:
        """The absent inputs to record: the first of :attr:`missing_any_of` (empty when decided)."""
        m = self._missing
        if m is None:
            m = self._deciding()[0]
        return m

    @property
    def missing_any_of(self) -> tuple[tuple[str, ...], ...]:
        """The smallest sets of absent inputs whose values, whatever they are, decide (each one alone
        suffices; README "Missing data"); empty when the decision is definitive."""
        sets = self._missing_any_of
        if sets is None:
            sets = self._deciding()[1]
        return sets

    def _deciding(self) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
        engine = self._engine
        assert engine is not None  # only an engine leaves them to compute
        missing, sets = engine.deciding(self)
        object.__setattr__(self, "_missing", missing)  # memo on a frozen value: same result every time
        object.__setattr__(self, "_missing_any_of", sets)
        return missing, sets

    def __getattr__(self, name: str) -> OutputValue:
        """A declared output by name (``decision.<output>``), as in :attr:`outputs`."""
        # only reached when normal lookup fails; outputs is read without recursing here
        try:
            outputs = object.__getattribute__(self, "outputs")
        except AttributeError:
            raise AttributeError(name) from None
        if name in outputs:
            return outputs[name]  # type: ignore[no-any-return]
        raise AttributeError(f"'Decision' object has no attribute or output {name!r}")

    @property
    def cites(self) -> tuple[str, ...]:
        """Evidence ids behind the path, outcome, actions and shown flags, in first-seen order.

        Computed on first access (it follows from the path and the flags), so
        callers that never read it do not pay for it.
        """
        c = self._cites
        if c is None:
            engine = self._engine
            c = engine.path_cites(self.path, self.flags if self.outcome is not None else None) if engine else ()
            object.__setattr__(self, "_cites", c)  # memo on a frozen value: same result every time
        return c

    @property
    def values(self) -> Mapping[str, Any]:
        """The validated inputs plus every definition's value (``None`` = unknown)."""
        if self._engine is not None:
            self._engine.complete(self._env)
        return self._env

    def to_json(self) -> str:
        """Compact JSON of :meth:`to_dict` (same text as ``json.dumps(d, separators=(",", ":"),
        ensure_ascii=False)``), built from cached fragments: the fast path for batches."""
        if self._engine is None:
            return _dumps(self.to_dict())
        return self._engine.decision_json(self)

    @property
    def trace(self) -> tuple[Step, ...]:
        """Each decision node on the path with every evaluated guard's value.

        Recomputed on demand from the path and the inputs (evaluation is
        deterministic), so the hot path does not pay for it.
        """
        return self._engine.trace(self) if self._engine is not None else ()

    def counterfactuals(self) -> tuple[Counterfactual, ...]:
        """For each other recommendation code a valid change reaches, one change of the fewest inputs
        that reaches it (spec order), each re-checked by the exact engine.

        Found with Z3 (:mod:`crs_model.verify.counterfactual`), imported on this first call only;
        raises ``crs_model.verify.encoding.Undecided`` if the solver cannot decide a query.
        """
        if self._engine is None:
            return ()
        from crs_model.verify.counterfactual import counterfactuals  # here: z3 loads on the first call only

        return counterfactuals(self, self._engine)

    def to_dict(self, *, trace: bool = False) -> dict[str, Any]:
        """The JSON decision (see README, "Output contract")."""
        d: dict[str, Any] = {
            "recommendation": self.recommendation,
            "outcome": self.outcome,
            **self.outputs,
            "undecided_outputs": {k: dict(v) for k, v in self.undecided_outputs.items()},
            "actions": [a.to_dict() for a in self.actions],
            "flags": [f.to_dict() for f in self.flags],
            "possible_flags": [f.to_dict() for f in self.possible_flags],
            "borderline": [b.to_dict() for b in self.borderline],
            "missing": list(self.missing),
            "missing_any_of": [list(m) for m in self.missing_any_of],
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
    ast: Expr
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
    recommendation: str
    needs: tuple[tuple[Fn, Expr], ...]  # the listed outputs that must be known (value, formula)
    report: _Report
    flags: tuple[tuple[Note, Fn | None], ...]
    actions: tuple[Note, ...]
    cites: tuple[str, ...]
    flag_asts: Mapping[str, Expr]  # each conditional flag's condition, by flag id


class Engine:
    """A spec compiled for evaluation. Thread-safe: it holds no mutable state but caches.

    ``exact=True`` (the default): where three-valued evaluation leaves a decision, an
    output or a flag open, it is decided over the valid completions of the absent inputs
    (:mod:`crs_model.completion`): definitive whenever every valid completion agrees.
    ``exact=False`` keeps the three-valued answer (the procedure the verifier encodes).
    """

    def __init__(self, spec: Spec, *, exact: bool = True) -> None:
        self.spec = spec
        self.exact = exact
        self._completer: Completer | None = None
        # built on first use; a spec without measurement errors never builds it
        self._measured = any(v.measurement_error is not None for v in spec.variables.values())
        self._borderline: BorderlineFinder | None = None
        self._inv_explain: UnknownExplainer | None = None
        self._take = threading.Lock()
        self.validator = PatientValidator(spec)
        self._constraint_fns = tuple(fn for fn, _ in self.validator.compiled_constraints)
        sym = spec.symbols
        idx = spec.index
        # definitions are computed lazily, on first use, and kept in the environment
        defs: dict[str, Fn] = {}
        for name in idx.definition_order:  # dependencies first
            defs[name] = compile_expr(idx.definitions[name].ast, sym, defs)
        self._defs: tuple[tuple[str, Fn], ...] = tuple(defs.items())
        outs = {n: compile_expr(Name(n, 0), sym, defs) for n in spec.outputs}

        nulls: dict[str, OutputValue] = dict.fromkeys(spec.outputs)

        def report(listed: tuple[str, ...]) -> _Report:
            shown = [n for n, ro in spec.outputs.items() if ro.report is ReportMode.ALWAYS or n in listed]
            return nulls, tuple((n, outs[n], spec.outputs[n].precision) for n in shown)

        self._insufficient_report = report(())
        self._output_keys = {n: _dumps(n) + ":" for n in spec.outputs}  # JSON of each key, once
        self._explain = UnknownExplainer(sym, {n: site.ast for n, site in idx.definitions.items()})
        # the same, computing definitions as it needs them (the search's completions are never completed)
        self._lazy_explain = UnknownExplainer(sym, {n: site.ast for n, site in idx.definitions.items()}, defs)
        self._order = {v: i for i, v in enumerate(spec.variables)}
        self._nodes: dict[str, _CNode] = {}
        for nid, node in spec.nodes.items():
            edges = tuple(
                _CEdge(e.target, compile_expr(e.guard.ast, sym, defs), e.guard.ast, e.cites) for e in node.edges
            )
            self._nodes[nid] = _CNode(nid, node.hit_policy is HitPolicy.FIRST, edges, node.cites)
        self._outcomes: dict[str, _COutcome] = {}
        for oid, o in spec.outcomes.items():
            needs = tuple((outs[n], spec.definitions[n].formula.ast) for n in o.outputs)
            flags = tuple(
                (Note(f.id, f.text, f.cites), compile_expr(f.when.ast, sym, defs) if f.when else None) for f in o.flags
            )
            actions = tuple(Note(a.id, a.text, a.cites) for a in o.actions)
            flag_asts = {f.id: f.when.ast for f in o.flags if f.when is not None}
            self._outcomes[oid] = _COutcome(
                o, o.recommendation, needs, report(o.outputs), flags, actions, o.cites, flag_asts
            )
        self._invariants = tuple(
            (inv, compile_expr(inv.formula.ast, spec.invariant_symbols)) for inv in spec.invariants
        )
        # JSON of the notes this engine owns, by identity: each entry keeps its object, so an id is
        # never recycled while cached, and a foreign object with a reused id is not mistaken for it
        self._json_cache: dict[int, tuple[object, str]] = {}
        self._tail_cache: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}
        self._cite_cache: dict[tuple[tuple[str, ...], tuple[str, ...] | None], tuple[str, ...]] = {}
        md = spec.metadata
        self._spec_ref = (md.id, md.version, spec.sha256)
        self._spec_json = _dumps({"id": md.id, "version": md.version, "sha256": spec.sha256})

    def _missing(self, deps: set[str], env: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(sorted((d for d in deps if env.get(d) is None), key=self._order.__getitem__))

    # ------------------------------------------------------------------ API
    def environment(self, patient: Mapping[str, Any]) -> dict[str, Any]:
        """Validated inputs plus every definition's value (``None`` = unknown)."""
        return self.complete(self.validator.validate(patient))

    def complete(self, env: dict[str, Any]) -> dict[str, Any]:
        """Add every definition not yet computed to ``env`` (in place) and return it."""
        for name, fn in self._defs:
            if name not in env:
                env[name] = fn(env)
        return env

    def evaluate(self, patient: Mapping[str, Any]) -> Decision:
        """Validate ``patient`` and decide; raises :class:`PatientError` on bad input."""
        return self.decide(self.validator.validate(patient))

    def decide(self, env: dict[str, Any]) -> Decision:
        """Decide from validated inputs (:meth:`PatientValidator.validate`), computing
        definitions as the path needs them; ``env`` is extended in place."""
        nid, path, unknown = self._route(env)
        if unknown is not None:
            if self.exact:
                return self._refine(env, path, unknown)
            return self._insufficient(env, path, self._stop_blame(env, unknown, None))
        return self._outcome(self._outcomes[nid], env, path)

    def _route(
        self, env: dict[str, Any], start: str | None = None, prefix: tuple[str, ...] = ()
    ) -> tuple[str, list[str], list[_CEdge] | None]:
        """Three-valued walk from the entry (or from node ``start`` reached by ``prefix``): (the
        outcome reached, path, None), or (the node where guards are unknown, path, those edges)."""
        path: list[str] = list(prefix)
        nid = self.spec.entry if start is None else start
        nodes = self._nodes
        node = nodes.get(nid)
        while node is not None:
            path.append(nid)
            taken: _CEdge | None = None
            unknown: list[_CEdge] | None = None
            if node.first:
                for e in node.edges:
                    v = e.guard(env)
                    if v is True:
                        taken = e
                        break
                    if v is None:
                        unknown = [e]
                        break
            else:
                for e in node.edges:
                    v = e.guard(env)
                    if v is True:
                        if taken is not None:
                            raise SpecDefectError(
                                nid, "overlap", f"guards to '{taken.target}' and '{e.target}' both hold"
                            )
                        taken = e
                    elif v is None:
                        if unknown is None:
                            unknown = [e]
                        else:
                            unknown.append(e)
            if unknown is not None:
                return nid, path, unknown
            if taken is None:
                raise SpecDefectError(nid, "gap", "no outgoing guard holds for this patient")
            nid = taken.target
            node = nodes.get(nid)
        return nid, path, None

    def trace(self, decision: Decision) -> tuple[Step, ...]:
        """Guard values at each decision node of ``decision.path`` (see :attr:`Decision.trace`)."""
        # the engine made this Decision; guards compute the definitions they need on first use
        env = decision._env  # noqa: SLF001
        steps: list[Step] = []
        for i, nid in enumerate(decision.path):
            node = self._nodes.get(nid)
            if node is None:
                break
            seen: list[tuple[str, bool | None]] = []
            for e in node.edges:
                v = e.guard(env)
                seen.append((e.target, v))
                if node.first and v is not False:
                    break
            nxt = decision.path[i + 1] if i + 1 < len(decision.path) else None
            taken = nxt if any(t == nxt and v is True for t, v in seen) else None
            steps.append(Step(nid, tuple(seen), taken))
        return tuple(steps)

    def decision_json(self, d: Decision) -> str:
        """Compact JSON text of ``d.to_dict()`` from memoized fragments."""
        actions = self._fragment(d.actions, lambda: [a.to_dict() for a in d.actions])
        flags = ",".join([self._fragment(f, f.to_dict) for f in d.flags])
        key = (d.path, d.cites)
        tail = self._tail_cache.get(key)
        if tail is None:
            tail = f',"path":{_dumps(list(d.path))},"cites":{_dumps(list(d.cites))},"spec":{self._spec_json}}}'
            if len(self._tail_cache) < 4096:
                self._tail_cache[key] = tail
        keys = self._output_keys
        outputs = "".join([f"{keys[k]}{_value_json(v)}," for k, v in d.outputs.items()])
        outcome = "null" if d.outcome is None else f'"{d.outcome}"'
        missing = _dumps(list(d.missing)) if d.missing else "[]"
        if d.undecided_outputs or d.possible_flags or d.missing:
            extra = (
                _dumps({k: dict(v) for k, v in d.undecided_outputs.items()}),
                _dumps([f.to_dict() for f in d.possible_flags]),
                _dumps([list(m) for m in d.missing_any_of]),
            )
        else:
            extra = ("{}", "[]", "[]")
        borderline = _dumps([b.to_dict() for b in d.borderline]) if self._measured and d.borderline else "[]"
        return (
            f'{{"recommendation":"{d.recommendation}","outcome":{outcome},{outputs}"undecided_outputs":{extra[0]},'
            f'"actions":{actions},"flags":[{flags}],"possible_flags":{extra[1]},"borderline":{borderline},'
            f'"missing":{missing},"missing_any_of":{extra[2]}{tail}'
        )

    def _fragment(self, obj: object, build: Callable[[], Any]) -> str:
        hit = self._json_cache.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        text = _dumps(build())
        if len(self._json_cache) < 4096:
            self._json_cache[id(obj)] = (obj, text)
        return text

    def path_cites(self, path: tuple[str, ...], flags: tuple[Note, ...] | None) -> tuple[str, ...]:
        """Evidence along the path, in first-seen order (memoized: paths repeat)."""
        key = (path, tuple(f.id for f in flags) if flags is not None else None)
        hit = self._cite_cache.get(key)
        if hit is not None:
            return hit
        acc: dict[str, None] = {}
        for i, nid in enumerate(path):
            node = self._nodes.get(nid)
            if node is None:
                continue
            acc.update(dict.fromkeys(node.cites))
            if i + 1 < len(path):
                for e in node.edges:
                    if e.target == path[i + 1]:
                        acc.update(dict.fromkeys(e.cites))
        if flags is not None:
            co = self._outcomes[path[-1]]
            acc.update(dict.fromkeys(co.cites))
            for a in co.actions:
                acc.update(dict.fromkeys(a.citations))
            for f in flags:
                acc.update(dict.fromkeys(f.citations))
        out = tuple(acc)
        if len(self._cite_cache) < 4096:
            self._cite_cache[key] = out
        return out

    @staticmethod
    def _report(report: _Report, env: dict[str, Any]) -> Mapping[str, OutputValue]:
        return Engine._report_open(report, env)[0]

    @staticmethod
    def _report_open(report: _Report, env: dict[str, Any]) -> tuple[Mapping[str, OutputValue], bool]:
        """The reported outputs, and whether one of them is unknown."""
        nulls, shown = report
        out = nulls.copy()
        unknown = False
        for name, fn, places in shown:
            v = fn(env)
            if v is None:
                unknown = True
            # only the reported value is rounded; guards and invariants saw the exact one
            out[name] = round_half_up(v, places) if places is not None and v is not None else v
        return MappingProxyType(out), unknown

    def _outcome(self, co: _COutcome, env: dict[str, Any], path: list[str]) -> Decision:
        if co.needs and any(fn(env) is None for fn, _ in co.needs):
            if self.exact:
                return self._refine(env, path, None, co)
            missing = self._stop_blame(env, None, co)
            path.append(co.outcome.id)
            return self._insufficient(env, path, missing)
        flags, open_flags = self._split_flags(co, env)
        path.append(co.outcome.id)
        tpath = tuple(path)
        report, unknown_output = self._report_open(co.report, env)
        if self.exact and (open_flags or unknown_output):
            return self._settled(co, env, tpath, report, flags, open_flags)
        return Decision(
            co.recommendation,
            co.outcome.id,
            report,
            co.actions,
            tuple(flags),
            (),
            tpath,
            *self._spec_ref,
            env,
            self,
        )

    @staticmethod
    def _split_flags(co: _COutcome, env: dict[str, Any]) -> tuple[list[Note], list[tuple[Note, Fn]]]:
        """The outcome's flags whose condition holds in ``env``, and those (with their condition) it leaves unknown."""
        flags: list[Note] = []
        open_flags: list[tuple[Note, Fn]] = []
        for note, when in co.flags:
            v = True if when is None else when(env)
            if v is True:
                flags.append(note)
            elif v is None:
                assert when is not None
                open_flags.append((note, when))
        return flags, open_flags

    def _stop_blame(self, env: dict[str, Any], unknown: list[_CEdge] | None, at: _COutcome | None) -> tuple[str, ...]:
        """Three-valued ``missing`` where evaluation stopped: the absent inputs that keep the guards
        ``unknown`` open, or the required outputs of outcome ``at`` (``env`` is completed in place)."""
        self.complete(env)
        deps: set[str] = set()
        if unknown is not None:
            deps = self._explain.missing_any([e.ast for e in unknown], env)
        if at is not None:
            for fn, ast in at.needs:
                if fn(env) is None:
                    deps |= self._explain.missing(ast, env)
        return self._missing(deps, env)

    def borderline(self, decision: Decision) -> tuple[Borderline, ...]:
        """:attr:`Decision.borderline` of a decision this engine made."""
        if not self._measured:
            return ()
        finder = self._borderline
        if finder is None:
            from crs_model.borderline import BorderlineFinder

            finder = self._borderline = BorderlineFinder(self.spec)
        return finder.find(decision, decision._env, self)  # noqa: SLF001 - this engine made it

    def decide_valid(self, inputs: dict[str, Any]) -> Decision | None:
        """Decide checked inputs (each of its type and domain) unless a consistency constraint is false
        (None): a validated patient with one value changed, without validating every field again."""
        if any(fn(inputs) is False for fn in self._constraint_fns):
            return None
        return self.decide(inputs)

    def route_nodes(self, env: Mapping[str, Any]) -> tuple[tuple[str, ...], str | None] | None:
        """The decision nodes of the three-valued route of validated inputs ``env`` and the outcome it
        reaches (None where it stops); None when it stops and this engine then decides over completions."""
        nid, path, unknown = self._route(dict(env))
        if unknown is None:
            return tuple(path), nid
        return None if self.exact else (tuple(path), None)

    # ------------------------------------------------------------ exact decisions under absence
    @property
    def completer(self) -> Completer:
        """The search over valid completions (:mod:`crs_model.completion`), built on first use."""
        c = self._completer
        if c is None:
            from crs_model.completion import Completer

            constraints = tuple((fn, k.formula.ast, k.id) for fn, k in self.validator.compiled_constraints)
            c = Completer(self.spec, constraints, self._lazy_explain)
            self._completer = c
        return c

    def _inputs(self, env: Mapping[str, Any]) -> dict[str, Any]:
        order = self._order
        return {k: v for k, v in env.items() if k in order}  # definitions follow the inputs in env

    def _decision_probe(self, env: dict[str, Any], resume: tuple[str, tuple[str, ...]] | None) -> Any:
        """What decides a completion: (outcome, required output values), or the inputs that leave it
        open and the node to resume from (guards before it stay decided in every completion)."""
        from crs_model.completion import Unknown

        nid, path, unknown = self._route(env) if resume is None else self._route(env, resume[0], resume[1])
        if unknown is not None:
            return Unknown(self.completer.blame([e.ast for e in unknown], env), (nid, tuple(path[:-1])))
        co = self._outcomes[nid]
        values = tuple(fn(env) for fn, _ in co.needs)
        if None in values:
            open_ = [ast for (_, ast), v in zip(co.needs, values, strict=True) if v is None]
            return Unknown(self.completer.blame(open_, env), resume)
        env[_PATH] = path  # for the answer's path (not an input name: never read as one)
        return (nid, values)

    def _refine(
        self, env: dict[str, Any], path: list[str], unknown: list[_CEdge] | None, at: _COutcome | None = None
    ) -> Decision:
        """Decide over the valid completions where three-valued evaluation stopped: at the guards
        ``unknown`` of the last node of ``path``, or at outcome ``at`` whose required outputs are unknown."""
        from crs_model.completion import OverBudget

        comp = self.completer
        base = self._inputs(env)
        found: Found | None
        try:
            # stops at the first disagreement (a definitive answer searches every completion); the
            # leaves are kept so that the deciding sets can finish this search instead of starting over
            found = comp.search(base, self._decision_probe, leaves=True)
        except OverBudget:
            found = None
        if found is not None and len(found.values) == 1 and not found.open:
            value = next(iter(found.values))
            leaf_path = list(found.envs[value][_PATH])  # the route the probe took on that completion
            co = self._outcomes[value[0]]
            leaf_path.append(co.outcome.id)
            flags, open_flags = self._split_flags(co, env)
            return self._settled(co, env, tuple(leaf_path), self._report(co.report, env), flags, open_flags)
        # insufficient; the smallest sets of absent inputs that decide are computed when first read
        if at is not None:
            path.append(at.outcome.id)
        report = self._insufficient_report
        outputs, undecided = self._undecided(report, env, self._report(report, env))
        return Decision(
            INSUFFICIENT_DATA,
            None,
            outputs,
            (),
            (),
            None,
            tuple(path),
            *self._spec_ref,
            env,
            self,
            undecided_outputs=undecided,
            _missing_any_of=None,
            _search=found,
        )

    def deciding(self, decision: Decision) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
        """``(missing, missing_any_of)`` of an exact ``insufficient_data`` decision: the smallest sets
        of absent inputs that decide (:meth:`Completer.deciding_sets`) over one search of every
        completion. Beyond the search budget: the inputs that keep the stopping node open (three-valued
        blame, what to record next) and no deciding set."""
        from crs_model.completion import MISSING_BUDGET, OverBudget

        base = self._inputs(decision._env)  # noqa: SLF001 - the engine made this decision
        sets: tuple[tuple[str, ...], ...] = ()
        with self._take:  # two threads reading one decision: only one finishes its search
            started = decision._search  # noqa: SLF001 - the search that found the answer open
            object.__setattr__(decision, "_search", None)  # read once: its completions are not kept
        try:
            if started is not None and started.leaves is not None:
                full = self.completer.finish(started, self._decision_probe, budget=MISSING_BUDGET)
            else:
                full = self.completer.search(base, self._decision_probe, limit=None, leaves=True, budget=MISSING_BUDGET)
            sets = tuple(self.completer.deciding_sets(base, self._decision_probe, full))
        except OverBudget:
            pass
        if sets:
            return sets[0], sets
        env = dict(decision._env)  # noqa: SLF001 - a copy: reading a decision leaves it as it was
        nid, _, unknown = self._route(env)
        at = self._outcomes[nid] if unknown is None else None
        return self._stop_blame(env, unknown, at), ()  # not known to decide: no deciding set is claimed

    def _undecided(
        self, report: _Report, env: dict[str, Any], outputs: Mapping[str, OutputValue]
    ) -> tuple[Mapping[str, OutputValue], Mapping[str, Mapping[str, Any]]]:
        """Reported outputs three-valued evaluation left unknown, decided over the completions:
        a single value is reported; several are ``null`` with their values in ``undecided_outputs``."""
        from crs_model.completion import OverBudget

        _, shown = report
        if all(outputs.get(name) is not None for name, _, _ in shown):
            return outputs, _NO_UNDECIDED
        out = dict(outputs)
        undecided: dict[str, Mapping[str, Any]] = {}
        base = self._inputs(env)
        for name, fn, places in shown:
            if out.get(name) is not None:
                continue
            ast = self.spec.definitions[name].formula.ast
            try:
                found = self.completer.possible(base, fn, ast)
            except OverBudget:
                undecided[name] = MappingProxyType({"values": None})
                continue
            vals = sorted({round_half_up(v, places) if places is not None else v for v in found.values})
            if len(vals) == 1 and not found.open:
                out[name] = vals[0]
            elif vals or found.open:
                undecided[name] = MappingProxyType({"values": None if found.open else vals})
        return MappingProxyType(out), MappingProxyType(undecided)

    def _settled(
        self,
        co: _COutcome,
        env: dict[str, Any],
        path: tuple[str, ...],
        report: Mapping[str, OutputValue],
        flags: list[Note],
        open_flags: list[tuple[Note, Fn]],
    ) -> Decision:
        """A definitive decision whose flags or reported outputs absent inputs leave open."""
        from crs_model.completion import OverBudget

        outputs, undecided = self._undecided(co.report, env, report)
        base = self._inputs(env)
        possible: list[PossibleFlag] = []
        shown = {id(n) for n in flags}
        asts = co.flag_asts
        for note, when in open_flags:
            try:
                found = self.completer.possible(base, when, asts[note.id], limit=2)
            except OverBudget:
                found = None
            if found is not None and set(found.values) == {True} and not found.open:
                shown.add(id(note))
            elif found is None or True in found.values or found.open:
                names = {*found.branched, *found.opaque} if found is not None else set()
                if_known = tuple(sorted(names, key=self._order.__getitem__)) or self._missing(
                    self._explain.missing(asts[note.id], self.complete(env)), env
                )
                possible.append(PossibleFlag(note, if_known))
        ordered = tuple(n for n, _ in co.flags if id(n) in shown)
        return Decision(
            co.recommendation,
            co.outcome.id,
            outputs,
            co.actions,
            ordered,
            (),
            path,
            *self._spec_ref,
            env,
            self,
            undecided_outputs=undecided,
            possible_flags=tuple(possible),
        )

    def _insufficient(self, env: dict[str, Any], path: list[str], missing: tuple[str, ...]) -> Decision:
        tpath = tuple(path)
        return Decision(
            INSUFFICIENT_DATA,
            None,
            self._report(self._insufficient_report, env),
            (),
            (),
            missing,
            tpath,
            *self._spec_ref,
            env,
            self,
        )

    def invariant_violations(self, decision: Decision) -> list[str]:
        """Ids of invariants that are not *true* for this decision (unknown counts as violated).

        With ``exact``, an invariant absent inputs leave unknown is decided over the valid
        completions (each showing the flags it would show): it holds if it holds on every one.
        """
        env = invariant_env(decision)
        bad: list[str] = []
        for inv, fn in self._invariants:
            v = fn(env)
            if v is True or (v is None and self.exact and self._holds_everywhere(decision, inv.formula.ast, fn)):
                continue
            bad.append(inv.id)
        return bad

    def _holds_everywhere(self, decision: Decision, ast: Expr, fn: Fn) -> bool:
        from crs_model.completion import OverBudget, Unknown

        co = self._outcomes.get(decision.outcome) if decision.outcome is not None else None
        actions = frozenset(a.id for a in decision.actions)
        explain = self._invariant_explainer

        def probe(env: dict[str, Any], _: Any) -> Any:
            self.complete(env)
            shown: set[str] = set()
            if co is not None:
                for note, when in co.flags:
                    w = True if when is None else when(env)
                    if w is None:
                        return Unknown(frozenset(self._explain.missing(co.flag_asts[note.id], env)))
                    if w:
                        shown.add(note.id)
            e = dict(env)
            e["recommendation"] = decision.recommendation
            e[ACTIONS_KEY] = actions
            e[FLAGS_KEY] = frozenset(shown)
            v = fn(e)
            return Unknown(frozenset(explain.missing(ast, e))) if v is None else v

        try:
            found = self.completer.search(self._inputs(decision._env), probe)  # noqa: SLF001 - stops at a False
        except OverBudget:
            return False
        return set(found.values) == {True} and not found.open

    @property
    def _invariant_explainer(self) -> UnknownExplainer:
        ex = self._inv_explain
        if ex is None:
            idx = self.spec.index
            ex = UnknownExplainer(self.spec.invariant_symbols, {n: site.ast for n, site in idx.definitions.items()})
            self._inv_explain = ex
        return ex


def invariant_env(decision: Decision) -> dict[str, Any]:
    """What an invariant reads about a decision: the inputs and definitions, ``recommendation``,
    and the shown actions and flags (for ``has_action``/``has_flag``); a fresh dict."""
    env = dict(decision.values)
    env["recommendation"] = decision.recommendation
    env[ACTIONS_KEY] = frozenset(a.id for a in decision.actions)
    env[FLAGS_KEY] = frozenset(f.id for f in decision.flags)
    return env
