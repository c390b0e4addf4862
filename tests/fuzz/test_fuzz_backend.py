"""The fixed-width generation backend the property suite runs on (``crs_model.testing._backend``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture.providers import AVAILABLE_PROVIDERS

from crs_model.model import Spec
from crs_model.testing import _backend
from crs_model.testing._backend import BACKEND, with_backend
from crs_model.testing._profiles import profile
from crs_model.testing._properties import Context, run_property, suite
from tests.fuzz.conftest import planted

NO_ANTICOAGULATION_CONTRA = (
    "      or heparin_induced_thrombocytopenia\n      or anticoagulation_contraindicated",
    "      or heparin_induced_thrombocytopenia",
)


def _draws(base: settings, n: int = 2000) -> list[bytes]:
    out: list[bytes] = []

    @settings(base, max_examples=n)
    @given(st.binary(min_size=152, max_size=152))
    def collect(b: bytes) -> None:
        out.append(b)

    collect()
    return out


def test_the_backend_is_registered_and_chosen_for_the_standard_backend_only() -> None:
    assert _backend.AVAILABLE
    assert BACKEND in AVAILABLE_PROVIDERS
    assert with_backend(profile("ci")).backend == BACKEND
    urandom = settings(profile("ci"), backend="hypothesis-urandom")
    assert with_backend(urandom).backend == "hypothesis-urandom"  # a backend chosen by the caller stays


def test_without_the_backend_the_standard_one_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_backend, "AVAILABLE", False)
    assert with_backend(profile("ci")).backend == "hypothesis"


def test_fixed_width_draws_are_uniform_and_derandomized() -> None:
    base = with_backend(profile("ci"))
    first, again = _draws(base), _draws(base)
    assert first == again  # the ci profile is derandomized: the same examples on every run
    assert len(set(first)) == len(first)
    assert {len(b) for b in first} == {152}
    data = b"".join(first)
    counts = [data.count(bytes([v])) for v in range(256)]
    expected = len(data) / 256  # about 1,190 per byte value
    assert min(counts) > 0.8 * expected
    assert max(counts) < 1.2 * expected
    assert _draws(profile("ci"), 200) != first[:200]  # not silently the standard backend's draws


def test_property_runs_draw_from_the_backend(spec: Spec, monkeypatch: pytest.MonkeyPatch) -> None:
    provider: Any = AVAILABLE_PROVIDERS[BACKEND]
    calls: list[int] = []
    original = provider.draw_bytes

    def spy(self: Any, min_size: int = 0, max_size: int = 8 * 1024) -> bytes:
        calls.append(max_size)
        return original(self, min_size, max_size)  # type: ignore[no-any-return]

    monkeypatch.setattr(provider, "draw_bytes", spy)
    prop = next(p for p in suite(spec) if p.name == "invariants")
    ctx = Context.for_spec(spec, with_oracle=False)
    r = run_property(prop, ctx, profile("ci"), 100)
    assert r.ok
    assert r.examples == 100
    assert len(calls) >= 99  # every example but Hypothesis's first, the simplest one (all zero bytes)
    calls.clear()
    assert run_property(prop, ctx, profile("ci"), 100, fast_backend=False).ok
    assert not calls  # the standard backend, when asked for


def test_a_failure_found_on_the_backend_is_replayed_and_shrunk_on_the_standard_one() -> None:
    spec = planted(*NO_ANTICOAGULATION_CONTRA)
    prop = next(p for p in suite(spec) if p.name == "invariants")
    ctx = Context.for_spec(spec, with_oracle=False)
    fast = run_property(prop, ctx, profile("ci"), 500)
    standard = run_property(prop, ctx, profile("ci"), 500, fast_backend=False)
    for r in (fast, standard):
        assert not r.ok
        assert r.failure is not None
        assert "cytosorb_never_contraindicated" in r.failure
        assert isinstance(r.example, dict)
    # the shrinker is the same: the backend's counterexample is as small as the standard one's
    named = [{k for k, v in r.example.items() if v is not None} for r in (fast, standard)]
    assert len(named[0]) <= len(named[1]) + 2, named
