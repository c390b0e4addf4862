"""Witness patients: minimised models, and what the engine must do with them.

A witness has as few known inputs as the solver allows (whole numbers preferred
for real-valued inputs); each finding's ``Expect`` then re-runs it through
:class:`crs_model.Engine`, and a disagreement becomes an ``internal`` finding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import z3

from crs_model.engine import Decision, Engine
from crs_model.errors import PatientError, SpecDefectError
from crs_model.model import Formula, Spec
from crs_model.pyeval import compile_expr
from crs_model.types import Base
from crs_model.verify.encoding import Inputs, Undecided
from crs_model.verify.search import Search
from crs_model.verify.wording import show, tv

Expect = Callable[[Engine, dict[str, Any]], str | None]  # None = reproduced, else why not


def minimal_model(
    search: Search, goal: Sequence[z3.BoolRef], copies: Sequence[Inputs] = (), *, local: bool = False
) -> z3.ModelRef | None:
    """A model of ``goal`` with as few known inputs as the solver finds, or None when unsatisfiable."""
    enc = search.enc
    solver = enc.local if local else enc.solver
    if not search.status(*goal, local=local):
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
        z3.IsInt(inp.number(n)) for inp in copies for n, v in search.spec.variables.items() if v.type.base == Base.REAL
    ]
    if reals and enc.check(*goal, *lits.values(), *reals, local=local) == z3.sat:
        return solver.model()
    r = enc.check(*goal, *lits.values(), local=local)
    if r != z3.sat and enc.check(*goal, local=local) != z3.sat:  # it was sat a moment ago: the budget ran out
        raise Undecided(solver.reason_unknown())
    return solver.model()


def added(w: Mapping[str, Any], c: Mapping[str, Any]) -> str:
    """The inputs a completion ``c`` adds to the witness ``w``, as ``name=value`` text."""
    extra = [f"{k}={show(v)}" for k, v in c.items() if k not in w]
    return ", ".join(extra) or "the same values"


def expect_defect(node: str, kind: str) -> Expect:
    """The engine raises ``SpecDefectError(kind)`` at ``node`` on the witness."""

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


def expect_invariant(inv_id: str) -> Expect:
    """The engine's decision on the witness violates invariant ``inv_id``."""

    def expect(engine: Engine, w: dict[str, Any]) -> str | None:
        try:
            d = engine.evaluate(w)
        except (SpecDefectError, PatientError) as exc:
            return f"the engine gives no decision: {exc}"
        if inv_id in engine.invariant_violations(d):
            return None
        return f"the engine's decision ({d.recommendation}) satisfies {inv_id}"

    return expect


def expect_changed(formula: Formula, spec: Spec, completion: dict[str, Any]) -> Expect:
    """``formula`` is known on the witness and has another value on ``completion``."""
    fn = compile_expr(formula.ast, spec.symbols)

    def expect(engine: Engine, w: dict[str, Any]) -> str | None:
        try:
            a, b = fn(engine.environment(w)), fn(engine.environment(completion))
        except PatientError as exc:
            return f"the engine rejects a patient: {exc}"
        if a is not None and a != b:
            return None
        return f"the engine evaluates it to {tv(a)} and {tv(b)}"

    return expect


def decide(engine: Engine, w: Mapping[str, Any]) -> Decision | str:
    """The engine's decision for ``w``, or why there is none."""
    try:
        return engine.evaluate(w)
    except (SpecDefectError, PatientError) as exc:
        return str(exc)


def expect_completion(outcome: str, flag: str | None, completion: dict[str, Any]) -> Expect:
    """The witness reaches ``outcome`` without ``flag``; ``completion`` reaches it with the flag."""

    def expect(engine: Engine, w: dict[str, Any]) -> str | None:
        d = decide(engine, w)
        if isinstance(d, str) or d.outcome != outcome or d.recommendation == "insufficient_data":
            return f"the witness does not reach '{outcome}': {d if isinstance(d, str) else d.recommendation}"
        dq = decide(engine, completion)
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


__all__ = [
    "Expect",
    "added",
    "decide",
    "expect_changed",
    "expect_completion",
    "expect_defect",
    "expect_invariant",
    "minimal_model",
]
