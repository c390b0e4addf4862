"""FHIR ``date``, ``dateTime`` and ``instant`` values.

A ``dateTime`` given only to the year, month or day has no instant: such values are reported as
partial (the mapper lists the resource as ignored) rather than placed at some guessed hour.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

_DATETIME = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d+)?)?(?P<tz>Z|[+-]\d{2}:\d{2}))?)?)?"
)


class PartialTime(ValueError):
    """A FHIR date or dateTime with less precision than the use needs."""


def parse_instant(text: str) -> datetime:
    """An aware datetime for a FHIR ``dateTime``/``instant`` with a time of day.

    Raises :class:`PartialTime` for ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` and ``ValueError``
    for text that is not a FHIR dateTime.
    """
    m = _DATETIME.fullmatch(text)
    if m is None:
        raise ValueError(f"'{text}' is not a FHIR dateTime (YYYY-MM-DDThh:mm:ss+zz:zz)")
    if m["H"] is None:
        raise PartialTime(f"'{text}' gives no time of day")
    tz = m["tz"]
    if tz == "Z":
        zone = UTC
    else:
        sign = 1 if tz[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    frac = m["f"] or ""
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    try:
        return datetime(
            int(m["y"]), int(m["m"]), int(m["d"]), int(m["H"]), int(m["M"]), int(m["S"] or 0), micro, tzinfo=zone
        )
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a valid dateTime: {exc}") from None


def parse_date(text: str) -> date:
    """A FHIR ``date`` to the day; :class:`PartialTime` for ``YYYY`` or ``YYYY-MM``."""
    m = _DATETIME.fullmatch(text)
    if m is None or m["H"] is not None:
        raise ValueError(f"'{text}' is not a FHIR date (YYYY-MM-DD)")
    if m["d"] is None:
        raise PartialTime(f"'{text}' gives no day")
    try:
        return date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a valid date: {exc}") from None


def completed_years(born: date, on: date) -> int:
    """Age in completed years on ``on`` (a birthday on 29 February counts from 1 March)."""
    years = on.year - born.year
    return years - 1 if (on.month, on.day) < (born.month, born.day) else years


__all__ = ["PartialTime", "completed_years", "parse_date", "parse_instant"]
