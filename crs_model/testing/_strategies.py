"""Hypothesis strategies derived from a spec (private; see ``crs_model.testing``).

Speed: a patient is decoded from one fixed-size byte string drawn by
Hypothesis (one draw instead of about a hundred), so engine-only properties run
thousands of examples per second. Shrinking still works: Hypothesis lowers the
bytes toward zero, and a zero byte decodes to "absent", to the first candidate
value or to "no steering" - a shrunk patient names only the inputs that matter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from crs_model.model import Edge, Spec, Variable
from crs_model.testing._steer import InputModel
from crs_model.types import Base

Patient = dict[str, Any]

# keyed by id(spec); the spec is kept alive in the value so an id is never reused while cached
_MODELS: dict[int, tuple[Spec, InputModel]] = {}
_CACHE_SIZE = 8
_CLOCK_UNITS = frozenset({"h"})  # inputs in hours since an event advance with the clock
_STEER_BYTES = 32
_PREFIX_FROM = 192  # a path-prefix byte at or above this steers only the first edges (one patient in four)


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
        """A choice in ``0 .. n-1`` from the next two bytes (``bits(2) % n``, inlined: the hot path)."""
        if n <= 1:
            return 0
        i = self.i
        self.i = i + 2
        buf = self.buf
        if i + 1 < len(buf):
            return ((buf[i] << 8) | buf[i + 1]) % n
        return ((buf[i] << 8) % n) if i < len(buf) else 0


_SLOT = 4  # bytes per input: absent?, selector, two value bytes

Decoder = Callable[[int, int], Any]  # (selector byte, 16 value bits) -> value


def _decoder(v: Variable, candidates: tuple[Any, ...], near: tuple[Any, ...]) -> Decoder:
    """A value from one slot's selector and value bits (see the module docstring)."""
    if v.type.base in (Base.BOOL, Base.ENUM) or candidates:
        pool_near = near or candidates
        n_near, n_cand = len(pool_near), len(candidates)
        if v.type.base in (Base.BOOL, Base.ENUM):

            def pooled(sel: int, bits: int) -> Any:
                # three in eight: right at / beside one of the input's own thresholds (29.9 / 30 / 30.1 kg)
                return pool_near[bits % n_near] if sel < 96 else candidates[bits % n_cand]

            return pooled
        fallback = _numeric(v)

        def mixed(sel: int, bits: int) -> Any:
            if sel < 96:
                return pool_near[bits % n_near]
            if sel < 128:
                return candidates[bits % n_cand]
            return fallback(sel, bits)

        return mixed
    return _numeric(v)


def _numeric(v: Variable) -> Decoder:
    lo = v.minimum if v.minimum is not None else -1e6
    hi = v.maximum if v.maximum is not None else 1e6
    if v.type.base == Base.INT:
        a, b = math.ceil(lo), math.floor(hi)
        width = b - a + 1
        return lambda sel, bits: a + bits % width
    span = hi - lo

    def real(sel: int, bits: int) -> float:
        # log-spread magnitude: lab values span five decades, most patients sit in the low ones
        x = lo + span * (bits / 65536.0) ** (1 + (sel % 8))
        return round(x, 1) if sel < 240 else x

    return real


def _decoders(model: InputModel, names: list[str]) -> list[tuple[str, Decoder]]:
    variables = model.spec.variables
    return [(n, _decoder(variables[n], model.candidates[n], model.near.get(n, ()))) for n in names]


def _decode_inputs(src: _Source, absent_per_256: int, decoders: list[tuple[str, Decoder]]) -> dict[str, Any]:
    """Decode inputs from fixed-width slots, so shrinking one input never reshuffles the others."""
    start = src.i
    end = start + len(decoders) * _SLOT
    buf = src.buf[start:end]
    if len(buf) < end - start:  # past the end every byte is 0
        buf += bytes(end - start - len(buf))
    out: dict[str, Any] = {}
    k = 0
    for name, dec in decoders:
        if buf[k] >= absent_per_256:
            out[name] = dec(buf[k + 1], (buf[k + 2] << 8) | buf[k + 3])
        k += _SLOT
    src.i = end
    return out


def _finish(src: _Source, model: InputModel, inputs: dict[str, Any], target: str | None) -> Patient:
    path: tuple[Edge, ...] | None = None
    edges: int | None = None
    if target is None:  # a drawn path of any outcome, so each edge is steered toward, not just each outcome
        every = model.every_path
        k = src.byte() % (len(every) + 1)  # 0: no steering
        if k:
            target, path = every[k - 1]
            b = src.byte()
            if b >= _PREFIX_FROM:  # sometimes steer only to a node on the path and draw what it decides on:
                edges = 1 + (b - _PREFIX_FROM) % len(path)  # the gaps and overlaps of that node's guards
    elif model.paths.get(target):
        paths = model.paths[target]
        path = paths[src.pick(len(paths))]
    if target is not None and path is not None:
        keep = model.steer(path, inputs, src.pick, edges)
        if edges is None or edges >= len(path):
            model.make_known(model.spec.outcomes[target].outputs, inputs, src.pick)
        model.repair(inputs, src.pick, keep, model.path_goals(path, edges))
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
    if target is not None and target not in spec.outcomes:
        raise ValueError(f"target={target!r} is not an outcome of spec {spec.metadata.id!r}")
    n, decode = patient_decoder(spec, absent_probability, target)
    return st.binary(min_size=n, max_size=n).map(decode)


def patient_decoder(
    spec: Spec, absent_probability: float = 0.1, target: str | None = None
) -> tuple[int, Callable[[bytes], Patient]]:
    """``(n, decode)``: a valid patient from the first ``n`` bytes of a buffer (see :func:`patients`)."""
    model = input_model(spec)
    decoders = _decoders(model, list(spec.variables))
    return _size(model), _patient_fn(model, _absent_per_256(absent_probability), decoders, target)


def _patient_fn(
    model: InputModel, per256: int, decoders: list[tuple[str, Decoder]], target: str | None
) -> Callable[[bytes], Patient]:
    def decode(buf: bytes) -> Patient:
        src = _Source(buf)
        return _finish(src, model, _decode_inputs(src, per256, decoders), target)

    return decode


def patients_toward(spec: Spec, targets: list[str], *, absent_probability: float = 0.1) -> st.SearchStrategy[Patient]:
    """Valid patients steered toward one of ``targets`` (outcome ids) or, one time in
    ``len(targets) + 1``, toward any outcome: :func:`patients` with the target drawn
    in the same single draw as the patient."""
    for t in targets:
        if t not in spec.outcomes:
            raise ValueError(f"target={t!r} is not an outcome of spec {spec.metadata.id!r}")
    model = input_model(spec)
    per256 = _absent_per_256(absent_probability)
    decoders = _decoders(model, list(spec.variables))
    fns = [_patient_fn(model, per256, decoders, t) for t in [*targets, None]]
    n = _size(model)

    def decode(buf: bytes) -> Patient:
        return fns[buf[0] % len(fns)](buf[1:])

    return st.binary(min_size=n + 1, max_size=n + 1).map(decode)


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
    decoders = _decoders(model, names)
    one = {name: [pair] for name, pair in zip(names, decoders, strict=True)}
    n = _size(model)
    steps_bytes = 4 + (2 + _SLOT) * 3 + _STEER_BYTES

    def decode(first: bytes, rest: list[bytes]) -> list[tuple[float, Patient]]:
        src = _Source(first)
        state = _finish(src, model, _decode_inputs(src, per256, decoders), None)
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
                nxt.update(_decode_inputs(s, per256, one[name]))
            state = _finish(s, model, nxt, None)
            course.append((hour, state))
        return course

    return st.tuples(
        st.binary(min_size=n, max_size=n),
        st.lists(st.binary(min_size=steps_bytes, max_size=steps_bytes), max_size=max_steps),
    ).map(lambda t: decode(*t))
