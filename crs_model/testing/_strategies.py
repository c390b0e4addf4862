"""Hypothesis strategies derived from a spec (private; see ``crs_model.testing``).

Speed: a patient is decoded from one fixed-size byte string drawn by
Hypothesis (one draw instead of about a hundred), so engine-only properties run
thousands of examples per second. Shrinking still works: Hypothesis lowers the
bytes toward zero, and a zero byte decodes to "absent", to the first candidate
value or to "no steering" - a shrunk patient names only the inputs that matter.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from crs_model.model import Spec, Variable
from crs_model.testing._steer import InputModel

Patient = dict[str, Any]

# keyed by id(spec); the spec is kept alive in the value so an id is never reused while cached
_MODELS: dict[int, tuple[Spec, InputModel]] = {}
_CACHE_SIZE = 8
_CLOCK_UNITS = frozenset({"h"})  # inputs in hours since an event advance with the clock
_STEER_BYTES = 32


def input_model(spec: Spec) -> InputModel:
    """The (cached) generation model of ``spec``."""
    hit = _MODELS.get(id(spec))
    if hit is None or hit[0] is not spec:
        if len(_MODELS) >= _CACHE_SIZE:
            _MODELS.pop(next(iter(_MODELS)))
        hit = _MODELS[id(spec)] = (spec, InputModel(spec))
    return hit[1]


class _Source:
    """Choices decoded from drawn bytes; past the end every choice is 0 (the simplest)."""

    __slots__ = ("buf", "i")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.i = 0

    def byte(self) -> int:
        i = self.i
        self.i = i + 1
        return self.buf[i] if i < len(self.buf) else 0

    def bits(self, nbytes: int) -> int:
        v = 0
        for _ in range(nbytes):
            v = (v << 8) | self.byte()
        return v

    def pick(self, n: int) -> int:
        return 0 if n <= 1 else self.bits(2) % n


def _value(src: _Source, v: Variable, candidates: tuple[Any, ...], near: tuple[Any, ...]) -> Any:
    sel = src.byte()
    if v.type.base in ("bool", "enum") or (sel < 128 and candidates):
        # three in eight: right at / beside one of the input's own thresholds (29.9 / 30 / 30.1 kg)
        pool = near if near and sel < 96 else candidates
        return pool[src.pick(len(pool))]
    lo = v.minimum if v.minimum is not None else -1e6
    hi = v.maximum if v.maximum is not None else 1e6
    if v.type.base == "int":
        a, b = math.ceil(lo), math.floor(hi)
        return a + src.bits(2) % (b - a + 1)
    # log-spread magnitude: lab values span five decades, most patients sit in the low ones
    u = src.bits(2) / float(1 << 16)
    span = hi - lo
    x = lo + span * u ** (1 + (sel % 8))
    return round(x, 1) if sel < 240 else x


_SLOT = 4  # bytes per input: absent?, selector, two value bytes


def _decode_inputs(src: _Source, model: InputModel, absent_per_256: int, names: list[str]) -> dict[str, Any]:
    """Decode ``names`` from fixed-width slots, so shrinking one input never reshuffles the others."""
    variables = model.spec.variables
    out: dict[str, Any] = {}
    start = src.i
    for k, name in enumerate(names):
        slot = _Source(src.buf[start + k * _SLOT : start + (k + 1) * _SLOT])
        if slot.byte() < absent_per_256:
            continue
        out[name] = _value(slot, variables[name], model.candidates[name], model.near.get(name, ()))
    src.i = start + len(names) * _SLOT
    return out


def _finish(src: _Source, model: InputModel, inputs: dict[str, Any], target: str | None) -> Patient:
    if target is None:
        outcomes = sorted(model.paths)
        k = src.byte() % (len(outcomes) + 1)  # 0: no steering
        target = outcomes[k - 1] if k else None
    if target is not None and model.paths.get(target):
        paths = model.paths[target]
        path = paths[src.pick(len(paths))]
        keep = model.steer(path, inputs, src.pick)
        model.make_known(model.spec.outcomes[target].outputs, inputs, src.pick)
        model.repair(inputs, src.pick, keep)
    else:
        model.repair(inputs, src.pick)
    ordered = {k: inputs[k] for k in model.spec.variables if k in inputs}
    if src.byte() >= 192:  # sometimes spell unknown as an explicit null
        for name in model.spec.variables:
            ordered.setdefault(name, None)
    return ordered


def _size(model: InputModel) -> int:
    return _SLOT * len(model.spec.variables) + _STEER_BYTES


def _absent_per_256(absent_probability: float) -> int:
    if not 0 <= absent_probability <= 1:
        raise ValueError(f"absent_probability={absent_probability!r} is outside 0..1")
    return round(absent_probability * 256)


def patients(spec: Spec, *, absent_probability: float = 0.1, target: str | None = None) -> st.SearchStrategy[Patient]:
    """Valid patients of ``spec``.

    Each input is absent with ``absent_probability``; numeric inputs are biased to
    the boundary values harvested from the spec (at, just below and just above
    every threshold); the patient is steered toward a drawn outcome's path (or
    ``target``, an outcome id; best effort) and made consistent with every
    declared constraint by construction - no examples are filtered away.
    """
    per256 = _absent_per_256(absent_probability)
    if target is not None and target not in spec.outcomes:
        raise ValueError(f"target={target!r} is not an outcome of spec {spec.metadata.id!r}")
    model = input_model(spec)
    names = list(spec.variables)
    n = _size(model)

    def decode(buf: bytes) -> Patient:
        src = _Source(buf)
        return _finish(src, model, _decode_inputs(src, model, per256, names), target)

    return st.binary(min_size=n, max_size=n).map(decode)


def trajectories(
    spec: Spec, *, max_steps: int = 8, absent_probability: float = 0.1
) -> st.SearchStrategy[list[tuple[float, Patient]]]:
    """Courses of one patient over time: ``[(hour, patient), ...]``, hours increasing.

    Each step lets 1-24 h pass (inputs measured in hours, such as the time since
    the last dose, advance with the clock), redraws up to three inputs, steers
    toward a drawn outcome and repairs consistency: every state is a valid patient.
    """
    per256 = _absent_per_256(absent_probability)
    model = input_model(spec)
    clock = [n for n, v in spec.variables.items() if v.unit in _CLOCK_UNITS and v.type.numeric]
    names = list(spec.variables)
    n = _size(model)
    steps_bytes = 4 + (2 + _SLOT) * 3 + _STEER_BYTES

    def decode(first: bytes, rest: list[bytes]) -> list[tuple[float, Patient]]:
        src = _Source(first)
        state = _finish(src, model, _decode_inputs(src, model, per256, names), None)
        hour = 0.0
        course = [(hour, state)]
        for chunk in rest:
            s = _Source(chunk)
            dt = (1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 24.0)[s.byte() % 7]
            hour += dt
            nxt = {k: v for k, v in state.items() if v is not None}
            for c in clock:
                if c in nxt:
                    var = spec.variables[c]
                    hi = var.maximum if var.maximum is not None else math.inf
                    nxt[c] = min(hi, nxt[c] + dt)
            for _ in range(s.byte() % 4):
                name = names[s.pick(len(names))]
                nxt.pop(name, None)
                nxt.update(_decode_inputs(s, model, per256, [name]))
            state = _finish(s, model, nxt, None)
            course.append((hour, state))
        return course

    return st.tuples(
        st.binary(min_size=n, max_size=n),
        st.lists(st.binary(min_size=steps_bytes, max_size=steps_bytes), max_size=max_steps),
    ).map(lambda t: decode(*t))
