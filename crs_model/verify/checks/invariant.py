"""The invariant check: every declared safety invariant, proven or refuted with a counterexample (or unknown)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import z3

from crs_model.engine import invariant_env
from crs_model.errors import PatientError, SpecDefectError
from crs_model.verify.encoding import Undecided
from crs_model.verify.report import Verdict
from crs_model.verify.witness import expect_invariant

if TYPE_CHECKING:
    from crs_model.verify.verifier import Verifier


def run(v: Verifier) -> None:
    """Prove or refute each invariant (``v.invariant_status``); a counterexample for each refuted one."""
    enc = v.enc
    tr = enc.invariant_translator()
    for inv in v.spec.invariants:
        term = tr.tri(inv.formula.ast)
        try:
            if not v.status(enc.decided, z3.Not(term.t)):
                v.invariant_status[inv.id] = Verdict.PROVEN.value
                continue
            # a definitely-false counterexample reads better than one where the invariant is merely unknown
            m = v.model([enc.decided, term.f]) or v.model([enc.decided, z3.Not(term.t)])
        except Undecided as exc:  # this invariant only; the others are still decided
            v.invariant_status[inv.id] = Verdict.UNKNOWN.value
            v.undecided(f"invariant:{inv.id}", inv.formula.loc, f"invariant {inv.id}", exc)
            continue
        assert m is not None
        v.invariant_status[inv.id] = Verdict.REFUTED.value
        w = enc.witness(m)
        detail = ""
        try:
            d = v.engine.evaluate(w)
            env = invariant_env(d)
            detail = f"; the decision is {d.recommendation} via {' -> '.join(d.path)}; " + v.words.explain(
                inv.formula, env, invariant=True
            )
        except (PatientError, SpecDefectError):
            pass
        v.add(
            "invariant",
            inv.severity,
            inv.formula.loc,
            f"invariant {inv.id} is refuted: {inv.description.strip().rstrip('.')}{detail}",
            f"invariant:{inv.id}",
            w,
            expect_invariant(inv.id),
        )
