"""lean_gc: the collector settings around a property run are restored, also when the run fails."""

from __future__ import annotations

import gc
from dataclasses import replace

from hypothesis import settings

from crs_model.testing._properties import Context, lean_gc, run_property, suite
from tests.fuzz.conftest import planted
from tests.fuzz.test_fuzz_catches import NO_ANTICOAGULATION_CONTRA


def test_a_property_run_restores_the_collector_settings_even_when_it_fails() -> None:
    spec = planted(*NO_ANTICOAGULATION_CONTRA)
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    inside: list[int] = []
    prop = next(p for p in suite(spec) if p.name == "invariants")

    def spy(ctx: Context, example: object) -> bool:
        if not inside:  # once: get_freeze_count() walks the whole frozen heap (~10 ms, more in a full run)
            inside.append(gc.get_freeze_count())
        return prop.check(ctx, example)

    r = run_property(replace(prop, check=spy), Context.for_spec(spec, with_oracle=False), settings(), 300)
    assert not r.ok  # the planted fault fails the run (an exception passes through lean_gc)
    assert inside
    assert inside[0] > frozen_before  # the objects older than the run were frozen while it ran
    assert gc.get_freeze_count() == frozen_before
    assert gc.get_threshold() == before
    assert gc.isenabled()


def test_nested_lean_gc_unfreezes_only_at_the_outermost_exit() -> None:
    base = gc.get_freeze_count()
    with lean_gc():
        outer = gc.get_freeze_count()
        with lean_gc():
            pass
        assert gc.get_freeze_count() >= outer > base
    assert gc.get_freeze_count() == base


def test_lean_gc_leaves_a_process_that_froze_objects_itself_alone() -> None:
    gc.freeze()
    try:
        mine = gc.get_freeze_count()
        with lean_gc():
            pass
        assert gc.get_freeze_count() == mine  # not unfrozen by the run
    finally:
        gc.unfreeze()
