"""Did-you-mean hints for unknown names, bounded whatever the input holds.

A hint is for a typo: a name longer than :data:`MAX_HINT_CHARS` gets none, and each
hint compares the name with at most :data:`MAX_COMPARED` candidates (those closest
in length, in the order given), so a hint costs time linear in the candidates; with
up to that many candidates it is exactly difflib's best match. Inside
:func:`hint_budget` (the spec loader uses it) only the first hints are computed: a
file with thousands of unknown names is reported in full, the first of them with a
hint, instead of costing the product of names and candidates.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
from collections.abc import Iterable, Iterator
from functools import lru_cache

MAX_HINT_CHARS = 64
MAX_COMPARED = 200
SPEC_HINTS = 100  # hints per spec load

_budget: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("crs_model_hint_budget", default=None)


@lru_cache(maxsize=65536)
def _squash(text: str) -> str:
    return text.lower().replace("_", "").replace("-", "")


@contextlib.contextmanager
def hint_budget(hints: int = SPEC_HINTS) -> Iterator[None]:
    """Compute at most ``hints`` hints inside this block (per thread or task); later ones are empty."""
    token = _budget.set([hints])
    try:
        yield
    finally:
        _budget.reset(token)


def hint_available() -> bool:
    """Whether the next hint will be computed (lets a caller skip gathering candidates)."""
    budget = _budget.get()
    return budget is None or budget[0] > 0


def _nearest(name: str, candidates: list[str]) -> list[str]:
    """Up to MAX_COMPARED candidates closest in length to ``name`` (ties: shorter, then given order)."""
    if len(candidates) <= MAX_COMPARED:
        return candidates
    by_length: dict[int, list[str]] = {}
    for c in candidates:
        by_length.setdefault(len(c), []).append(c)
    out: list[str] = []
    size = len(name)
    for length in sorted(by_length, key=lambda s: (abs(s - size), s)):
        out.extend(by_length[length])
        if len(out) >= MAX_COMPARED:
            break
    return out[:MAX_COMPARED]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the candidate closest to ``name``, or ``""``."""
    if not name or len(name) > MAX_HINT_CHARS:
        return ""
    budget = _budget.get()
    if budget is not None:
        if budget[0] <= 0:
            return ""
        budget[0] -= 1
    names = list(candidates)
    close = difflib.get_close_matches(name, _nearest(name, names), n=1, cutoff=0.6)
    if not close:
        # substring hints catch abbreviations like 'il6' or 'il_6' -> 'il6_pg_ml'
        key = _squash(name)
        subs = [c for c in names if key and key in _squash(c)][:MAX_COMPARED]
        close = sorted(subs, key=lambda c: (-difflib.SequenceMatcher(None, name, c).ratio(), c))[:1]
    return f" (did you mean '{close[0]}'?)" if close else ""
