"""Strategies for inputs that must be rejected: bad patients and malformed spec text."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from crs_model.index import SiteKind
from crs_model.model import Spec
from crs_model.testing._strategies import _Source, input_model, patient_decoder
from crs_model.types import Base

_JUNK: tuple[Any, ...] = ("", "yes", "12", [], {}, [1], {"value": 1}, object.__name__, -0.0)


def _names(spec: Spec, idx: int) -> list[str]:
    """The inputs constraint ``idx`` names directly, in source order."""
    return list(spec.index.of_kind(SiteKind.CONSTRAINT)[idx].direct_inputs)


def invalid_patients(spec: Spec) -> st.SearchStrategy[tuple[Any, frozenset[str]]]:
    """``(patient, fields)``: an input the validator must reject, and the field names
    an acceptable :class:`PatientError` may name (wrong type, out of domain, NaN or
    infinity, unknown key or enum value, or a violated consistency constraint)."""
    variables = spec.variables
    names = sorted(variables)
    model = input_model(spec)

    def corrupt(base: dict[str, Any], kind: int, which: int, text: str, junk: int) -> tuple[Any, frozenset[str]]:
        p = dict(base)
        name = names[which % len(names)]
        v = variables[name]
        lo = v.minimum if v.minimum is not None else None
        hi = v.maximum if v.maximum is not None else None
        if kind == 0:  # unknown key
            key = text if text and text not in variables else f"{text}_unknown"
            p[key] = 1
            return p, frozenset({key})
        if kind == 1:  # wrong JSON type
            bad: Any
            if v.type.base == Base.BOOL:
                bad = (1, 0.0, "true", None if False else "false")[junk % 4]
            elif v.type.base == Base.ENUM:
                bad = (text + "_x") if junk % 2 else 3
            else:
                bad = (True, False, "38.5", [38.5], {"v": 1})[junk % 5]
            p[name] = bad
            return p, frozenset({name})
        if kind == 2 and v.type.numeric:  # non-finite or out of domain
            choices: list[float] = [math.nan, math.inf, -math.inf]
            if lo is not None:
                choices.append(lo - (1 if v.type.base == Base.INT else 0.001))
                choices.append(lo - 1000)
            if hi is not None:
                choices.append(hi + (1 if v.type.base == Base.INT else 0.001))
                choices.append(hi * 10 + 1)
            bad_num: float = choices[junk % len(choices)]
            if v.type.base == Base.INT and math.isfinite(bad_num):
                p[name] = int(bad_num)
            else:
                p[name] = bad_num
            return p, frozenset({name})
        if kind == 2 and v.type.base == Base.INT:  # pragma: no cover - ints are numeric
            pass
        if kind == 3 and spec.constraints:  # violate a declared constraint
            idx = which % len(spec.constraints)
            inputs = {k: x for k, x in p.items() if x is not None}
            src = _Source(bytes([junk % 256, (junk * 7) % 256] * 8))
            model.make_bool(spec.constraints[idx].formula.ast, False, inputs, src.pick)
            if model.constraints[idx][1](inputs) is False:
                # the validator reports the first violated constraint, which may be another one
                broken = [i for i, (_, fn) in enumerate(model.constraints) if fn(inputs) is False]
                ok = {f for i in broken for f in (*_names(spec, i), spec.constraints[i].id)}
                return inputs, frozenset(ok)
        if kind == 4:  # not an object at all
            return [[p], None, "patient", 3][junk % 4], frozenset({"<input>"})
        # an integer input given a fraction (or a fallback for the kinds above that did not apply)
        ints = [n for n in names if variables[n].type.base == Base.INT]
        if ints:
            n = ints[which % len(ints)]
            p[n] = 1.5
            return p, frozenset({n})
        p["__not_an_input__"] = 1
        return p, frozenset({"__not_an_input__"})

    n, patient = patient_decoder(spec)

    def decode(buf: bytes) -> tuple[Any, frozenset[str]]:
        # one draw: the patient's bytes, then the corruption (kind, which input, junk) and a key text
        base = patient(buf[:n])
        tail = _Source(buf[n:])
        kind, which, junk = tail.byte() % 6, tail.bits(2) % 10_001, tail.byte()
        return corrupt(base, kind, which, _text(tail), junk)

    return st.binary(min_size=n + _TAIL, max_size=n + _TAIL).map(decode)


_TEXT_MAX = 12
_TAIL = 4 + 1 + 2 * _TEXT_MAX  # kind, which (2), junk; text length and two bytes per character


def _text(src: _Source) -> str:
    """Up to 12 characters: ASCII (control characters included) or a code point up to U+2FFF."""
    chars = []
    for _ in range(src.byte() % (_TEXT_MAX + 1)):
        hi, lo = src.byte(), src.byte()
        chars.append(chr(hi) if hi < 128 else chr(0x80 + ((hi << 8) | lo) % 0x2F80))
    return "".join(chars)


def malformed_spec_texts(spec: Spec) -> st.SearchStrategy[bytes]:
    """The spec's own text damaged at random: lines deleted, duplicated, swapped or
    re-indented, characters replaced, the file truncated or junk inserted."""
    lines = spec.source.text.splitlines(keepends=True)
    n = len(lines)
    junk = st.sampled_from(
        [": ", "- ", "{", "]", "&a ", "*a", "!!python/object ", "'", '"', "\t", "%TAG", "---\n", "~", "1e999", "\x00"]
    )
    edit = st.tuples(st.integers(0, 6), st.integers(0, max(n - 1, 0)), st.integers(0, max(n - 1, 0)), junk)

    def apply(edits: list[tuple[int, int, int, str]]) -> bytes:
        cur = list(lines)
        for kind, a, b, j in edits:
            if not cur:
                break
            a %= len(cur)
            b %= len(cur)
            if kind == 0:
                del cur[a]
            elif kind == 1:
                cur.insert(b, cur[a])
            elif kind == 2:
                cur[a], cur[b] = cur[b], cur[a]
            elif kind == 3:
                cur[a] = "  " + cur[a] if b % 2 else cur[a].lstrip()
            elif kind == 4:
                pos = b % (len(cur[a]) or 1)
                cur[a] = cur[a][:pos] + j + cur[a][pos + 1 :]
            elif kind == 5:
                cur = cur[: max(a, 1)]
            else:
                cur.insert(a, j + "\n")
        return "".join(cur).encode("utf-8", "surrogatepass")

    return st.lists(edit, min_size=1, max_size=4).map(apply)
