"""Solver and runtime housekeeping in the verifier: a renewed local solver, the paused collector."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from crs_model import load_spec
from crs_model.model import Spec
from crs_model.verify.report import Check, Finding
from crs_model.verify.verifier import Verifier
from tests.test_verify_cones import random_spec

FAULTY = Path(__file__).resolve().parent.parent / "specs" / "examples" / "faulty"


def _key(f: Finding) -> tuple[str, str, int, str]:
    return (f.check, f.element, f.line, f.message)


class _NoRenewal(Verifier):
    """The redundant check on the solver the earlier checks used (what it did before)."""

    def run_check(self, check: Check) -> None:
        if check is Check.REDUNDANT:
            self.enc.renew_local = lambda: None  # type: ignore[method-assign]
        super().run_check(check)


@pytest.mark.parametrize("seed", range(1, 5))  # each has redundant conjuncts
def test_renewed_local_solver_gives_the_same_redundant_findings(seed: int) -> None:
    spec: Spec = random_spec(seed)
    for step in (6, 10**9):  # in cones and on the whole graph
        renewed = Verifier(spec, cone_step=step).run()
        kept = _NoRenewal(spec, cone_step=step).run()
        assert [_key(f) for f in renewed.findings] == [_key(f) for f in kept.findings]
        assert any(f.check == "redundant" for f in renewed.findings)


def test_renew_local_keeps_the_background_and_drops_the_rest() -> None:
    v = Verifier(random_spec(1))
    old = v.enc.local
    v.enc.local.add(v.enc.false)  # something asserted only in the old solver
    assert not v.status(local=True)
    v.enc.renew_local()
    assert v.enc.local is not old
    assert v.status(local=True)  # the background alone is satisfiable again
    assert len(v.enc.local.assertions()) == len(v.enc.facts)


class _Spy(Verifier):
    seen: list[bool]

    def run_check(self, check: Check) -> None:
        if check is Check.UNCITED:
            self.seen.append(gc.isenabled())
            raise RuntimeError("stop")
        super().run_check(check)


@pytest.mark.parametrize("enabled", [True, False])
def test_collector_is_paused_while_checking_and_restored_after(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        v = _Spy(random_spec(2))
        v.seen = []
        with pytest.raises(RuntimeError, match="stop"):  # restored even when a check fails
            v.run()
        assert v.seen == [False]
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()


@pytest.mark.parametrize(
    "name", ["02_contradiction_dead_guard", "03_contradiction_definition", "12_redundant_conjunct"]
)
def test_large_graph_contradiction_memo_reports_what_tracked_queries_report(name: str) -> None:
    """``cone_step=1`` takes the large-graph path (one plain query per distinct guard)."""
    spec = load_spec(FAULTY / f"{name}.yaml")
    large = Verifier(spec, cone_step=1).run(["contradiction"])
    small = Verifier(spec).run(["contradiction"])
    assert [_key(f) for f in large.findings] == [_key(f) for f in small.findings]
    assert large.findings or name == "12_redundant_conjunct"
