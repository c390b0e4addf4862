"""The verifier: one encoding, the checks run in order on it, every finding cross-checked.

Every satisfiable finding carries a witness patient (:mod:`crs_model.verify.witness`)
that is re-run through :class:`crs_model.Engine`: if the engine does not reproduce
the finding, an ``internal`` error finding is added, because then the verifier or
the engine is wrong. A query the solver cannot decide is an ``undecided`` error
finding: never a pass.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import z3

from crs_model.engine import Engine
from crs_model.errors import Location, PatientError
from crs_model.model import Severity, Spec
from crs_model.verify.checks import RUNNERS
from crs_model.verify.encoding import Encoding, Inputs, Undecided
from crs_model.verify.limits import DEFAULT_BMC_DEPTH, DEFAULT_RLIMIT
from crs_model.verify.report import (
    INTERNAL,
    UNDECIDED,
    Check,
    CheckResult,
    Finding,
    Report,
    TemporalSummary,
    Verdict,
    finding_order,
)
from crs_model.verify.search import CONE_STEP, Search
from crs_model.verify.witness import Expect, minimal_model
from crs_model.verify.wording import Wording, parts_text


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


class Verifier:
    """Runs the checks for one spec on one shared, incremental solver.

    ``cone_step``: nodes per step of :meth:`Search.cover_in_cones` (graphs up to this
    size are searched whole); ``rlimit``: solver resource units per query;
    ``bmc_depth``: the steps of a care course the temporal check unrolls.
    State the checks share: ``dead_edges`` (contradiction), ``unreachable``
    (unreachable), ``invariant_status`` (invariant), ``temporal_status`` (temporal).
    """

    def __init__(
        self,
        spec: Spec,
        *,
        cone_step: int = CONE_STEP,
        rlimit: int = DEFAULT_RLIMIT,
        bmc_depth: int = DEFAULT_BMC_DEPTH,
    ) -> None:
        t0 = time.perf_counter()
        self.spec = spec
        self.rlimit = rlimit
        self.bmc_depth = bmc_depth
        with _gc_paused():  # the encoding allocates millions of term wrappers
            self.enc = Encoding(spec, rlimit=rlimit)
            self.enc.completion()
            self.engine = Engine(spec, exact=False)  # the procedure the encoding models
        self.words = Wording(spec)
        self.search = Search(spec, self.enc, self.engine, cone_step=cone_step)
        self.findings: list[Finding] = []
        self.invariant_status: dict[str, str] = {}
        self.temporal_status: dict[str, str] = {}
        self.dead_edges: set[str] = set()
        self.unreachable: set[str] = set()
        self._undecided: list[str] = []  # elements the running check could not decide
        self.encode_s = time.perf_counter() - t0

    # ------------------------------------------------------------ running
    def run(self, checks: Sequence[str] | None = None) -> Report:
        """Run ``checks`` (default: all, in :data:`CHECKS` order) and collect the report."""
        with _gc_paused():
            return self._run_checks(checks)

    def run_check(self, check: Check) -> None:
        """Run one check (its module's ``run``); :class:`Undecided` stops it."""
        RUNNERS[check](self)

    def _run_checks(self, checks: Sequence[str] | None) -> Report:
        wanted = list(Check) if checks is None else [c for c in Check if c in set(checks)]
        results: list[CheckResult] = []
        undecided_background = False
        try:
            consistent = self._background_consistent()
        except Undecided as exc:  # then no solver check can decide anything
            consistent = undecided_background = True
            self.undecided("background", self.spec.graph_loc, "the input domains and consistency constraints", exc)
        if not consistent:
            wanted = [c for c in wanted if c in (Check.CONTRADICTION, Check.UNCITED)]
        for check in Check:
            name = check.value
            if check is Check.TEMPORAL and self.spec.care is None:
                continue  # no care section: the check does not apply (and the report keeps its other bytes)
            if check not in wanted:
                results.append(CheckResult(name, "skipped", 0.0, 0, None))
                continue
            if undecided_background and check is not Check.UNCITED:
                if check is Check.INVARIANT:
                    self.invariant_status = {i.id: Verdict.UNKNOWN.value for i in self.spec.invariants}
                if check is Check.TEMPORAL:
                    self.temporal_status = {t.id: Verdict.UNKNOWN.value for t in self.spec.temporal_invariants}
                results.append(CheckResult(name, "failed", 0.0, 0, Verdict.UNKNOWN, ("background",)))
                continue
            before = len(self.findings)
            self._undecided = []
            t0 = time.perf_counter()
            try:
                self.run_check(check)
            except Undecided as exc:  # the check stopped: what it added stands, the rest is undecided
                self.undecided(f"check:{name}", self.spec.graph_loc, f"the rest of the {name} check", exc)
            dt = time.perf_counter() - t0
            new = self.findings[before:]
            # refuted: the check found a problem (an error or a warning; info findings are notes)
            refuted = any(f.severity is not Severity.INFO and f.check != UNDECIDED for f in new)
            verdict: Verdict | None = (
                Verdict.REFUTED if refuted else Verdict.UNKNOWN if self._undecided else Verdict.PROVEN
            )
            failed = bool(self._undecided) or any(f.severity is Severity.ERROR for f in new)
            status = "failed" if failed else "passed"
            if check is Check.TEMPORAL and not self.spec.temporal_invariants and verdict is Verdict.PROVEN:
                status, verdict = "not-applicable", None  # sane transitions prove no temporal invariant
            results.append(CheckResult(name, status, dt, len(new), verdict, tuple(self._undecided)))
        # a summary only when the check ran (a skipped one claims nothing, not even "not applicable")
        temporal_ran = any(c.name == Check.TEMPORAL.value and c.status != "skipped" for c in results)
        internal = [f for f in self.findings if f.check == INTERNAL]
        if internal:
            results.append(CheckResult(INTERNAL, "failed", 0.0, len(internal), Verdict.REFUTED))
        md = self.spec.metadata
        return Report(
            spec_path=self.spec.path,
            spec_id=md.id,
            spec_version=md.version,
            spec_sha256=self.spec.sha256,
            solver_version=z3.get_version_string(),
            findings=tuple(sorted(self.findings, key=finding_order)),
            checks=tuple(results),
            invariant_status=dict(self.invariant_status),
            encode_s=self.encode_s,
            rlimit=self.rlimit,
            temporal=TemporalSummary(self.bmc_depth, dict(self.temporal_status)) if temporal_ran else None,
        )

    def _background_consistent(self) -> bool:
        if self.status():
            return True
        parts = self.enc.core_parts()
        loc = parts[0].loc if parts else self.spec.graph_loc
        self.add(
            "contradiction",
            Severity.ERROR,
            loc,
            "no patient satisfies the input domains and consistency constraints together: " + parts_text(parts),
            parts[0].element if parts else "constraint:*",
        )
        return False

    # ------------------------------------------------------------ findings
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
        """Add a finding; with a witness and ``expect``, also an ``internal`` one if the engine disagrees."""
        self.findings.append(
            Finding(location=loc, message=message, severity=severity, code=check, element=element, witness=witness)
        )
        if witness is not None and expect is not None:
            why = expect(self.engine, witness)
            if why is not None:
                self.findings.append(
                    Finding(
                        location=loc,
                        message=f"the engine does not reproduce this {check} finding on its witness: {why}",
                        severity=Severity.ERROR,
                        code=INTERNAL,
                        element=element,
                        witness=witness,
                    )
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
                location=loc,
                message=f"undecided: {what}; the solver answered unknown ({reason}), so it is neither proven nor "
                f"refuted; {' or '.join(hints)}",
                severity=Severity.ERROR,
                code=UNDECIDED,
                element=element,
            )
        )

    # ------------------------------------------------------------ queries and witnesses
    def status(self, *goal: z3.BoolRef, local: bool = False, on: z3.Solver | None = None) -> bool:
        """True if some valid patient satisfies ``goal`` (``local``: on the solver without the graph)."""
        return self.search.status(*goal, local=local, on=on)

    def model(
        self, goal: Sequence[z3.BoolRef], copies: Sequence[Inputs] = (), *, local: bool = False
    ) -> z3.ModelRef | None:
        """A model of ``goal`` with as few known inputs as the solver finds, or None."""
        return minimal_model(self.search, goal, copies, local=local)

    def env(self, witness: Mapping[str, Any]) -> dict[str, Any] | None:
        """The engine's environment for ``witness`` (None if the engine rejects it)."""
        try:
            return self.engine.environment(witness)
        except PatientError:
            return None


def run_checks(
    spec: Spec, checks: Sequence[str] | None = None, *, rlimit: int = DEFAULT_RLIMIT, bmc_depth: int = DEFAULT_BMC_DEPTH
) -> Report:
    """Build the encoding and run ``checks`` (default: all) on ``spec``, ``rlimit`` per query,
    care courses of up to ``bmc_depth`` steps."""
    return Verifier(spec, rlimit=rlimit, bmc_depth=bmc_depth).run(checks)


__all__ = ["Undecided", "Verifier", "run_checks"]
