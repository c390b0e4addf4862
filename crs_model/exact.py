"""What a number means, in a spec and in a patient: its exact decimal value.

One rule serves the parser, the YAML loader, the engine and the verifier, so they
agree on every number by construction:

* A number in a spec is written in plain ASCII decimal (``38``, ``0.5``, ``1.5e3``):
  no digit separators, no leading zeros, no other scripts' digits. It has at most
  :data:`MAX_SIGNIFICANT` significant digits and, unless zero, a magnitude between
  ``1e-15`` and ``1e15`` (:data:`MAX_EXPONENT`). Such a number is held exactly by
  a float whose shortest ``repr`` is the number again, and integers that size are
  exact floats, so comparing it natively with a float or an int is exact.
* A float (a patient value, a spec constant) means the decimal its shortest
  ``repr`` spells: the text a JSON number was parsed from (:func:`exact`).
* Arithmetic is exact (:func:`arith`): ints stay ints, decimals are computed as
  scaled integers, anything else as a :class:`~fractions.Fraction`; a result that a
  float holds exactly is stored as that float, so displayed values stay plain numbers.

Hot path: no heavy imports.
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction
from functools import lru_cache

MAX_SIGNIFICANT = 15
MAX_EXPONENT = 15  # a non-zero spec number lies within 10**-15 .. 10**15 in magnitude

Exact = int | Fraction

_DECIMAL = re.compile(r"([-+]?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]+))?", re.ASCII)
_SHOWN = 40  # characters of an overlong literal echoed in a message


class NumberError(ValueError):
    """A number written in a form the spec language does not accept; ``str()`` says why."""


def _shown(text: str) -> str:
    """``text`` quoted for a message, shortened when it is very long."""
    if len(text) <= _SHOWN:
        return repr(text)
    return repr(text[:_SHOWN] + "...") + f" ({len(text)} characters)"


def _malformed(text: str) -> str:
    for c in text:
        if not c.isascii():
            kind = "digit" if c.isdigit() else "character"
            name = unicodedata.name(c, "unnamed")
            return f"has the non-ASCII {kind} {c!r} (U+{ord(c):04X} {name}); write numbers with ASCII digits 0-9"
    if "_" in text:
        return "has '_'; write the digits without separators (e.g. 1000, not 1_000)"
    if re.match(r"[-+]?0[0-9]", text):
        return "has a leading zero (YAML reads such a number as octal); write it without the leading zero"
    if text.lower().lstrip("+-.") in ("inf", "nan", "infinity"):
        return "is not a finite number"
    return "is not a plain decimal number (digits, an optional fraction and exponent, e.g. 38, 0.5, 1.5e3)"


def parse_decimal(text: str) -> Exact:
    """The exact value of a number literal, or :class:`NumberError` saying what is wrong.

    An int when written without a fraction or an exponent, else a Fraction.
    """
    m = _DECIMAL.fullmatch(text)
    if m is None:
        raise NumberError(f"number {_shown(text)} {_malformed(text)}")
    sign, whole, frac, exp = m.groups()
    frac = frac or ""
    if exp is not None and len(exp.lstrip("+-")) > 6:
        raise NumberError(f"number {_shown(text)} has an exponent out of range")
    digits = (whole + frac).lstrip("0")
    significant = digits.rstrip("0")
    if not significant:
        return 0 if exp is None and not frac else Fraction(0)
    # the power of ten of the leading digit, known before building a huge integer
    lead = len(digits) - len(frac) - 1 + (int(exp) if exp is not None else 0)
    if lead > MAX_EXPONENT or (lead == MAX_EXPONENT and significant != "1"):
        raise NumberError(f"number {_shown(text)} is too large: at most 1e{MAX_EXPONENT} in magnitude")
    if lead < -MAX_EXPONENT:
        raise NumberError(
            f"number {_shown(text)} is too small: a non-zero number is at least 1e-{MAX_EXPONENT} in magnitude"
        )
    if len(significant) > MAX_SIGNIFICANT:
        raise NumberError(
            f"number {_shown(text)} has {len(significant)} significant digits; at most {MAX_SIGNIFICANT} "
            "(what a float holds exactly)"
        )
    if exp is None and not frac:
        return int(text)
    return Fraction(sign + whole + ("." + frac if frac else "") + ("e" + exp if exp is not None else ""))


_NATIVE_INT = 2**53  # ints up to this are exact floats: native int-float comparison is exact
_SHORT = 10**MAX_SIGNIFICANT
_P10: tuple[int, ...] = tuple(int(10**k) for k in range(400))  # a float's repr has at most 324 decimals


@lru_cache(maxsize=4096)
def _float_parts(x: float) -> tuple[int, int]:
    text = repr(x)  # the shortest decimal that reads back as x: what x means
    mantissa, _, e = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    scale = len(frac) - (int(e) if e else 0)
    m = int(whole + frac)
    return (m, scale) if scale >= 0 else (m * 10**-scale, 0)


def decimal_parts(x: float | Exact) -> tuple[int, int] | None:
    """``(m, s)`` with ``x == m / 10**s`` exactly (``s >= 0``), or None if ``x`` is no finite decimal."""
    if isinstance(x, float):
        return _float_parts(x)
    if isinstance(x, int):
        return x, 0
    return (x.numerator, 0) if x.denominator == 1 else None


@lru_cache(maxsize=4096)
def _from_float(x: float) -> Fraction:
    m, s = _float_parts(x)
    return Fraction(m, 10**s)


def exact(x: float | Exact) -> Exact:
    """The exact value a number means: a float is the decimal its shortest ``repr`` spells."""
    return _from_float(x) if isinstance(x, float) else x


def _decimal(m: int, s: int) -> float | Fraction:
    """``m / 10**s`` as a float when that float means it exactly, else as a Fraction."""
    if -_SHORT < m < _SHORT and s < 300:
        # at most 15 significant digits: the nearest float (int / int rounds correctly) prints as it
        return m / _P10[s]
    return settle(Fraction(m, 10**s))


def settle(q: Fraction) -> float | Fraction:
    """``q`` as the float that means it exactly (see :func:`exact`), else ``q`` itself."""
    if -1e300 < q < 1e300:
        f = float(q)
        if _from_float(f) == q:
            return f
    return q


def arith(op: str, a: float | Exact, b: float | Exact) -> float | Exact:
    """``a op b`` (``op`` one of ``+ - * /``) computed exactly; a float result means it exactly.

    Decimals (every float, every int) go through scaled integers, which is exact and
    cheaper than fractions; a quotient or a non-decimal operand goes through Fraction.
    """
    # decimal_parts, inlined: this is the engine's arithmetic hot path
    pa = _float_parts(a) if type(a) is float else (a, 0) if type(a) is int else decimal_parts(a)
    pb = _float_parts(b) if type(b) is float else (b, 0) if type(b) is int else decimal_parts(b)
    if pa is not None and pb is not None and op != "/":
        (ma, sa), (mb, sb) = pa, pb
        if op == "*":
            return _decimal(ma * mb, sa + sb)
        s = max(sa, sb)
        ma, mb = ma * _P10[s - sa], mb * _P10[s - sb]
        return _decimal(ma + mb if op == "+" else ma - mb, s)
    x, y = Fraction(exact(a)), exact(b)
    if op == "/":
        return settle(x / y)
    return settle(x + y if op == "+" else x - y if op == "-" else x * y)


def needs_exact(a: object, b: object) -> bool:
    """True when comparing ``a`` and ``b`` natively could differ from comparing what they mean:
    a float against a Fraction (Python compares the float's binary value) or against an int
    too large to be an exact float. Ints and Fractions compare exactly with each other."""
    ta, tb = type(a), type(b)
    if ta is tb:
        return False
    if ta is float:
        return tb is Fraction or (isinstance(b, int) and not -_NATIVE_INT <= b <= _NATIVE_INT)
    if tb is float:
        return ta is Fraction or (isinstance(a, int) and not -_NATIVE_INT <= a <= _NATIVE_INT)
    return False


def round_half_up(x: float | Exact, places: int) -> float:
    """``x`` rounded to ``places`` decimals, halves away from zero, as the float that prints so
    (when the rounded value has at most 15 significant digits)."""
    parts = decimal_parts(x)
    if parts is None:  # a non-decimal Fraction such as 1/3
        q = Fraction(exact(x)) * 10**places
        n = abs(q)
        whole = int(n) + (1 if n - int(n) >= Fraction(1, 2) else 0)
        return (whole if q >= 0 else -whole) / _P10[places]
    m, s = parts
    if s <= places:
        return float(x)
    unit = _P10[s - places]
    whole, rest = divmod(abs(m), unit)
    if 2 * rest >= unit:
        whole += 1
    return (whole if m >= 0 else -whole) / _P10[places]


__all__ = [
    "MAX_EXPONENT",
    "MAX_SIGNIFICANT",
    "Exact",
    "NumberError",
    "arith",
    "decimal_parts",
    "exact",
    "needs_exact",
    "parse_decimal",
    "round_half_up",
    "settle",
]
