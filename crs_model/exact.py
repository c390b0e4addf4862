"""What a number means, in a spec and in a patient: its exact decimal value.

One rule serves the parser, the YAML loader, the engine and the verifier, so they
agree on every number by construction:

* A number in a spec is written in plain ASCII decimal (``38``, ``0.5``, ``1.5e3``):
  no digit separators, no leading zeros, no other scripts' digits. It has at most
  :data:`MAX_SIGNIFICANT` significant digits and, unless zero, a magnitude between
  :data:`MIN_MAGNITUDE` and :data:`MAX_MAGNITUDE`. Such a number is held exactly by
  a float whose shortest ``repr`` is the number again, and integers that size are
  exact floats, so comparing it natively with a float or an int is exact.
* A float (a patient value, a spec constant) means the decimal its shortest
  ``repr`` spells: the text a JSON number was parsed from (:func:`exact`).
* Arithmetic is exact: ints stay ints, anything else becomes a
  :class:`~fractions.Fraction`, and a result that is exactly such a decimal float
  is stored as that float (:func:`settle`), so displayed values stay plain numbers.

Hot path: no heavy imports.
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction
from functools import lru_cache

MAX_SIGNIFICANT = 15
MAX_MAGNITUDE = 10**15
MIN_MAGNITUDE = Fraction(1, 10**15)

Exact = int | Fraction

_DECIMAL = re.compile(r"([-+]?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]+))?", re.ASCII)
_SHOWN = 40  # characters of an overlong literal echoed in a message


class NumberError(ValueError):
    """A number written in a form the spec language does not accept; ``str()`` says why."""


def shown(text: str) -> str:
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
        raise NumberError(f"number {shown(text)} {_malformed(text)}")
    sign, whole, frac, exp = m.groups()
    frac = frac or ""
    if exp is not None and len(exp.lstrip("+-")) > 6:
        raise NumberError(f"number {shown(text)} has an exponent out of range")
    digits = (whole + frac).lstrip("0")
    significant = digits.rstrip("0")
    if not significant:
        return 0 if exp is None and not frac else Fraction(0)
    # the power of ten of the leading digit, known before building a huge integer
    lead = len(digits) - len(frac) - 1 + (int(exp) if exp is not None else 0)
    if lead > 15 or (lead == 15 and significant != "1"):
        raise NumberError(f"number {shown(text)} is too large: at most 1e15 in magnitude")
    if lead < -15:
        raise NumberError(f"number {shown(text)} is too small: a non-zero number is at least 1e-15 in magnitude")
    if len(significant) > MAX_SIGNIFICANT:
        raise NumberError(
            f"number {shown(text)} has {len(significant)} significant digits; at most {MAX_SIGNIFICANT} "
            "(what a float holds exactly)"
        )
    if exp is None and not frac:
        return int(text)
    return Fraction(sign + whole + ("." + frac if frac else "") + ("e" + exp if exp is not None else ""))


@lru_cache(maxsize=4096)
def _from_float(x: float) -> Fraction:
    return Fraction(repr(x))


def exact(x: float | Exact) -> Exact:
    """The exact value a number means: a float is the decimal its shortest ``repr`` spells."""
    return _from_float(x) if isinstance(x, float) else x


def settle(q: Fraction) -> float | Fraction:
    """``q`` as the float that means it exactly (see :func:`exact`), else ``q`` itself."""
    if -1e300 < q < 1e300:
        f = float(q)
        if _from_float(f) == q:
            return f
    return q


def round_half_up(x: float | Exact, places: int) -> float:
    """``x`` rounded to ``places`` decimals, halves away from zero, as the float that prints so."""
    q = exact(x)
    scale = 10**places
    n = abs(Fraction(q) * scale)
    whole = int(n)  # floor of a non-negative value
    if n - whole >= Fraction(1, 2):
        whole += 1
    return float(Fraction(whole if q >= 0 else -whole, scale))


__all__ = [
    "MAX_MAGNITUDE",
    "MAX_SIGNIFICANT",
    "MIN_MAGNITUDE",
    "Exact",
    "NumberError",
    "exact",
    "parse_decimal",
    "round_half_up",
    "settle",
    "shown",
]
