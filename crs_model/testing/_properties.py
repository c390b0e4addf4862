"""The property suite: each property is a strategy plus a check, run by Hypothesis.

One implementation serves the pytest plugin, ``crs-model fuzz`` and
``crs-model mutate``: :func:`run_property` builds a Hypothesis test from a
:class:`Property`, runs it under the given settings and returns a
:class:`PropertyResult` (examples run, time, and the shrunk failing input).
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crs_model.engine import Decision, Engine, invariant_env
from crs_model.errors import PatientError, SpecDefectError, SpecError
from crs_model.exact import exact, round_half_up
from crs_model.expr import Compare, Name, Str, conjuncts
from crs_model.loader import load_spec_bytes
from crs_model.model import INSUFFICIENT_DATA, MetamorphicRelation, Spec
from crs_model.pyeval import Fn, compile_expr
from crs_model.testing._backend import with_backend
from crs_model.testing._invalid import invalid_patients, malformed_spec_texts
from crs_model.testing._strategies import patients, patients_toward


class Oracle:
    """What a differential oracle offers: ``decide(patient) -> (recommendation, outcome, path)``."""

    def decide(self, patient: Mapping[str, Any]) -> tuple[str, str | None, tuple[str, ...]]:  # pragma: no cover
        raise NotImplementedError


@dataclass
class Context:
    """What the checks run against: a spec, its engine and (optionally) the Z3 oracle."""

    spec: Spec
    engine: Engine
    core: Engine  # the three-valued procedure (exact=False): what the Z3 oracle models
    oracle: Any = None  # crs_model.verify.oracle.Z3Oracle when the verifier is installed
    oracle_error: str = ""
    exact_oracle: Any = None  # crs_model.verify.oracle.ExactOracle, built with the Z3 oracle

    @classmethod
    def for_spec(cls, spec: Spec, *, with_oracle: bool = True) -> Context:
        ctx = cls(spec, Engine(spec), Engine(spec, exact=False))
        if with_oracle:
            try:
                from crs_model.verify.oracle import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
                    ExactOracle,
                    Z3Oracle,
                )
            except ImportError as exc:
                ctx.oracle_error = f"verifier not available ({exc})"
            else:
                ctx.oracle = Z3Oracle(spec)
                ctx.exact_oracle = ExactOracle(spec)
        return ctx


@dataclass(frozen=True)
class Property:
    """A named property: ``check(ctx, example)`` raises AssertionError on a counterexample
    and returns False when the example does not apply (a relation's precondition)."""

    name: str
    description: str
    strategy: Callable[[Context], st.SearchStrategy[Any]]
    check: Callable[[Context, Any], bool]
    share: float = 1.0  # fraction of the example budget (spec loading is slow)
    needs_oracle: bool = False


@dataclass
class PropertyResult:
    name: str
    examples: int = 0
    applicable: int = 0
    seconds: float = 0.0
    failure: str | None = None
    example: Any = None
    skipped: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failure is None


# ------------------------------------------------------------------ helpers
def require(condition: object, message: str) -> None:
    """Fail the property with ``message`` (an AssertionError Hypothesis shrinks on)."""
    if not condition:
        raise AssertionError(message)


def decide(ctx: Context, patient: Mapping[str, Any]) -> Decision:
    """Evaluate; a spec defect (gap/overlap) on a valid patient is a failed property."""
    try:
        return ctx.engine.evaluate(patient)
    except SpecDefectError as exc:
        raise AssertionError(f"no decision for a valid patient: {exc}") from None


# ------------------------------------------------------------------ checks
def check_invariants(ctx: Context, patient: Mapping[str, Any]) -> bool:
    d = decide(ctx, patient)
    bad = ctx.engine.invariant_violations(d)
    require(not bad, f"invariant(s) {', '.join(bad)} violated: recommendation {d.recommendation} via {list(d.path)}")
    return True


def check_invariants_where_decided(ctx: Context, patient: Mapping[str, Any]) -> bool:
    """Like :func:`check_invariants`, but a patient the spec cannot decide (gap/overlap) does not apply:
    used to tell a mutant that breaks an invariant from one that only breaks totality."""
    try:
        d = ctx.engine.evaluate(patient)
    except SpecDefectError:
        return False
    bad = ctx.engine.invariant_violations(d)
    require(not bad, f"invariant(s) {', '.join(bad)} violated: recommendation {d.recommendation} via {list(d.path)}")
    return True


def check_totality(ctx: Context, patient: Mapping[str, Any]) -> bool:
    d1 = decide(ctx, patient)
    require(isinstance(d1, Decision), f"expected one Decision, got {type(d1).__name__}")
    require(
        d1.recommendation in ctx.spec.invariant_symbols["recommendation"].type.values,
        f"unknown recommendation {d1.recommendation!r}",
    )
    require(d1.path and d1.path[0] == ctx.spec.entry, f"path {d1.path} does not start at the entry")
    if d1.outcome is not None:
        require(d1.path[-1] == d1.outcome, f"path {d1.path} does not end at outcome {d1.outcome}")
        require(d1.recommendation == ctx.spec.outcomes[d1.outcome].recommendation, "outcome/code mismatch")
        require(not d1.missing, "a decided outcome lists missing inputs")
    else:
        require(d1.recommendation == INSUFFICIENT_DATA, "no outcome but a recommendation")
        require(d1.missing, "insufficient_data without the missing inputs")
    # the same patient again, keys in reverse order: a second evaluation must give the identical
    # decision (determinism) and must not depend on key order - one check covers both
    # (what a caller sees, ``to_dict(trace=True)`` and ``values``, is a function of the compared
    # fields and of the evaluation environment: the inputs and the definitions computed on the path)
    d2 = decide(ctx, dict(reversed(list(patient.items()))))
    require(
        d2 == d1 and d2._env == d1._env,  # noqa: SLF001 - determinism covers the hidden environment too
        "the same patient (keys in reverse order) gave a different decision: not deterministic or key order matters",
    )
    # the JSON a caller receives (``to_json``, built from cached fragments) parses back to ``to_dict``
    require(json.loads(d1.to_json()) == d1.to_dict(), "decision JSON (to_json) does not round-trip to to_dict()")
    return True


def check_invalid(ctx: Context, case: tuple[Any, frozenset[str]]) -> bool:
    patient, fields = case
    try:
        d = ctx.engine.evaluate(patient)
    except PatientError as exc:
        require(exc.field in fields, f"PatientError names {exc.field!r}, expected one of {sorted(fields)}: {exc}")
        return True
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__} instead of PatientError: {exc}") from None
    raise AssertionError(f"invalid input accepted (expected PatientError on {sorted(fields)}): {d.recommendation}")


def check_loader(ctx: Context, raw: bytes) -> bool:
    try:
        load_spec_bytes(raw, "fuzzed.yaml")
    except SpecError as exc:
        unlocated = [str(p) for p in exc.problems if p.location is None]
        require(exc.problems, "SpecError without problems")
        require(not unlocated, f"SpecError problem(s) without a location: {unlocated}")
    except Exception as exc:
        raise AssertionError(f"loader crashed with {type(exc).__name__}: {exc}") from None
    return True


def _side(fn: Callable[[], Any]) -> tuple[Any, ...]:
    """One side of the differential: the decision triple, or the defect / error it raised."""
    try:
        rec, outcome, path = fn()
    except SpecDefectError as exc:
        return ("defect", exc.kind, exc.node)
    except PatientError as exc:
        return ("invalid", exc.field)
    return (rec, outcome, tuple(path))


def check_differential(ctx: Context, patient: Mapping[str, Any]) -> bool:
    def engine() -> tuple[str, str | None, tuple[str, ...]]:
        d = ctx.core.evaluate(patient)
        return d.recommendation, d.outcome, tuple(d.path)

    engine_side = _side(engine)
    z3_side = _side(lambda: ctx.oracle.decide(patient))
    require(engine_side == z3_side, f"engine {engine_side} != Z3 model {z3_side}")
    return True


def _exact_side(ctx: Context, fn: Callable[[], tuple[str, str | None, tuple[Any, ...]]]) -> tuple[Any, ...]:
    """One side of the exact differential: (recommendation, outcome, reported required outputs as
    exact numbers), or the error it raised (an invalid patient by kind only: the two name the field
    from different evidence)."""
    try:
        rec, outcome, values = fn()
    except SpecDefectError as exc:
        return ("defect", exc.kind, exc.node)
    except PatientError:
        return ("invalid",)
    if outcome is None:
        return (rec, None, ())
    shown: list[Any] = []
    for name, v in zip(ctx.spec.outcomes[outcome].outputs, values, strict=True):
        ro = ctx.spec.outputs.get(name)
        if ro is None:  # not reported: the outcome stands for it
            continue
        if isinstance(v, (int, float, Fraction)) and not isinstance(v, bool):
            v = exact(round_half_up(v, ro.precision) if ro.precision is not None else v)
        shown.append((name, v))
    return (rec, outcome, tuple(shown))


def _partial_patients(ctx: Context) -> st.SearchStrategy[dict[str, Any]]:
    """Generated patients with up to three more inputs dropped: steering keeps the inputs a path
    reads, so without this an input the path needs would rarely be absent (dropping keeps a patient
    valid: a constraint can only become unknown)."""
    names = list(ctx.spec.variables)

    def drop(case: tuple[dict[str, Any], frozenset[str]]) -> dict[str, Any]:
        patient, gone = case
        return {k: v for k, v in patient.items() if k not in gone}

    gone = st.frozensets(st.sampled_from(names), max_size=3)
    return st.tuples(patients(ctx.spec, absent_probability=0.1), gone).map(drop)


def check_exact_matches_oracle(ctx: Context, patient: Mapping[str, Any]) -> bool:
    """The exact engine and the exact Z3 oracle give the same decision (the oracle rounds as reported)."""

    def engine() -> tuple[str, str | None, tuple[Any, ...]]:
        d = ctx.engine.evaluate(patient)
        listed = ctx.spec.outcomes[d.outcome].outputs if d.outcome is not None else ()
        return d.recommendation, d.outcome, tuple(d.outputs.get(n) for n in listed)

    engine_side = _exact_side(ctx, engine)
    z3_side = _exact_side(ctx, lambda: ctx.exact_oracle.decide(patient))
    require(engine_side == z3_side, f"exact engine {engine_side} != exact Z3 oracle {z3_side}")
    return True


def _unknown(env: Mapping[str, Any]) -> None:
    return None


def _relation_sources(rel: MetamorphicRelation) -> Callable[[Context], st.SearchStrategy[Any]]:
    """Patients steered to the outcomes a relation's ``when`` asks for (``recommendation == '...'``)
    mixed with unsteered ones, so a precondition does not discard most examples."""
    wanted: set[str] = set()
    if rel.when is not None:
        for c in conjuncts(rel.when.ast):
            if (
                isinstance(c, Compare)
                and c.op == "=="
                and isinstance(c.left, Name)
                and c.left.id == "recommendation"
                and isinstance(c.right, Str)
            ):
                wanted.add(c.right.value)

    def build(ctx: Context) -> st.SearchStrategy[Any]:
        targets = sorted(o.id for o in ctx.spec.outcomes.values() if o.recommendation in wanted)
        if not targets:
            return patients(ctx.spec)
        return patients_toward(ctx.spec, targets)

    return build


def _relation_check(rel: MetamorphicRelation, spec: Spec) -> Callable[[Context, Any], bool]:
    inv_sym = spec.invariant_symbols
    when: Fn | None = compile_expr(rel.when.ast, inv_sym) if rel.when else None
    expect = compile_expr(rel.expect.ast, inv_sym)
    changes = [(name, compile_expr(f.ast, spec.symbols) if f is not None else _unknown) for name, f in rel.change]

    def check(ctx: Context, patient: Mapping[str, Any]) -> bool:
        d = decide(ctx, patient)
        if when is not None and when(invariant_env(d)) is not True:
            return False
        follow = {k: v for k, v in patient.items() if v is not None}
        for name, fn in changes:
            v = fn(d.values)
            if v is None:
                follow.pop(name, None)
            else:
                follow[name] = v
        try:
            d2 = ctx.engine.evaluate(follow)
        except PatientError:
            return False  # the changed patient is not a valid patient: the relation does not apply
        except SpecDefectError as exc:
            raise AssertionError(f"no decision for the follow-up patient {follow}: {exc}") from None
        require(
            expect(invariant_env(d2)) is True,
            f"relation {rel.id}: {rel.expect.text!r} is false after { {n: follow.get(n) for n, _ in changes} }: "
            f"{d.recommendation} became {d2.recommendation} (follow-up {json.dumps(follow, sort_keys=True)})",
        )
        return True

    return check


# ------------------------------------------------------------------ the suite
def suite(spec: Spec) -> list[Property]:
    """Every property for ``spec``, in reporting order."""
    props = [
        Property(
            "invariants",
            "every declared invariant holds on engine decisions",
            lambda c: patients(c.spec),
            check_invariants,
        ),
        Property(
            "totality",
            "exactly one decision; deterministic; key order irrelevant; JSON round-trips",
            lambda c: patients(c.spec, absent_probability=0.3),
            check_totality,
        ),
        Property(
            "invalid_inputs",
            "invalid input always raises PatientError naming the field",
            lambda c: invalid_patients(c.spec),
            check_invalid,
        ),
        Property(
            "spec_loader",
            "malformed spec text gives located SpecErrors, never a crash",
            lambda c: malformed_spec_texts(c.spec),
            check_loader,
            share=0.03,
        ),
    ]
    for rel in spec.metamorphic_relations:
        props.append(
            Property(
                f"relation:{rel.id}",
                rel.description,
                _relation_sources(rel),
                _relation_check(rel, spec),
            )
        )
    props.append(
        Property(
            "differential",
            "engine outcome and path equal the Z3 model's for the same patient",
            lambda c: patients(c.spec),
            check_differential,
            share=0.5,
            needs_oracle=True,
        )
    )
    props.append(
        Property(
            "exact_matches_oracle",
            "on partial patients the exact engine's decision and required outputs equal the exact Z3 oracle's",
            _partial_patients,
            check_exact_matches_oracle,
            share=0.2,  # two solver queries and the exact search per example: ~10x the differential's cost
            needs_oracle=True,
        )
    )
    return props


@contextmanager
def lean_gc() -> Iterator[None]:
    """Garbage collection during a property run looks only at the run's own objects.

    Every example allocates thousands of short-lived objects (the drawn choices,
    the patient, the decision, Hypothesis's own records), so the collector runs
    several times per example, and each older-generation pass would also walk
    everything that existed before the run (the spec, the engine, the Z3 model,
    imported modules). ``gc.freeze()`` moves those to the permanent generation
    for the duration of the run. The run's own cyclic garbage is still collected
    as it goes, and once more (only the run's objects) when it ends, inside the
    timed run; then the older objects are unfrozen. Measured with
    ``benchmarks/bench_fuzz.py``: about 5 % more examples per second than the
    previous approach (a raised young-generation threshold followed by a full
    collection of the whole heap).
    """
    # only when nothing is frozen yet: a nested run finds the outer run's freeze, and a process
    # that froze objects itself (e.g. before forking) keeps them frozen
    act = gc.get_freeze_count() == 0
    if act:
        gc.freeze()
    try:
        yield
    finally:
        if act:
            gc.collect()  # the run's cyclic garbage, while the older heap is still frozen (not walked)
            gc.unfreeze()


def run_property(
    prop: Property, ctx: Context, base: settings, max_examples: int | None = None, *, fast_backend: bool = True
) -> PropertyResult:
    """Run one property under ``base`` settings (``max_examples`` overrides the budget).

    With ``fast_backend`` (the default) examples are generated by the fixed-width
    backend (``_backend``) unless ``base`` names another backend than the standard one.
    """
    result = PropertyResult(prop.name)
    if prop.needs_oracle and ctx.oracle is None:
        result.skipped = ctx.oracle_error or "no oracle"
        return result
    budget = max_examples if max_examples is not None else base.max_examples
    n = max(1, int(budget * prop.share))
    last: list[Any] = [None]

    def body(example: Any) -> None:
        result.examples += 1
        last[0] = example
        if prop.check(ctx, example):
            result.applicable += 1

    test = settings(with_backend(base, fast_backend), max_examples=n)(given(prop.strategy(ctx))(body))
    t0 = time.perf_counter()
    try:
        with lean_gc():
            test()
    except Exception as exc:
        result.failure = f"{type(exc).__name__}: {exc}"
        result.example = last[0]
    result.seconds = time.perf_counter() - t0
    return result


def run_coverage(
    ctx: Context, base: settings, max_examples: int | None = None, *, fast_backend: bool = True
) -> PropertyResult:
    """Every edge and outcome is reached by some generated patient.

    A heuristic, not a proof: generation is steered toward every outcome's paths,
    so an edge never taken in the whole run is most likely dead (an unreachable
    edge, a contradictory guard) - ``crs-model verify`` decides it for sure.
    """
    result = PropertyResult("coverage")
    spec = ctx.spec
    edges = {(e.source, e.target) for n in spec.nodes.values() for e in n.edges}
    seen: set[tuple[str, str]] = set()
    outcomes: set[str] = set()
    budget = max_examples if max_examples is not None else base.max_examples

    def body(patient: Any) -> None:
        result.examples += 1
        try:
            d = ctx.engine.evaluate(patient)
        except SpecDefectError:
            return
        seen.update(zip(d.path, d.path[1:], strict=False))
        if d.outcome is not None:
            outcomes.add(d.outcome)

    test = settings(with_backend(base, fast_backend), max_examples=budget)(given(patients(spec))(body))
    t0 = time.perf_counter()
    with lean_gc():
        test()
    result.seconds = time.perf_counter() - t0
    result.applicable = result.examples
    missing = sorted(f"edge:{a}->{b}" for a, b in edges - seen) + sorted(
        f"outcome:{o}" for o in set(spec.outcomes) - outcomes
    )
    if missing:
        result.failure = (
            f"never reached in {result.examples} steered examples (dead or unreachable? run crs-model verify): "
            + ", ".join(missing)
        )
    return result
