"""A Hypothesis generation backend for the property suite's one fixed-width draw.

Every property of the suite draws exactly one byte string of fixed length (a
patient is decoded from it, see ``_strategies``). Hypothesis's standard
backend draws such a string one byte at a time and records each example in
its tree of explored choices, so that it never repeats an input; for 152
random bytes that bookkeeping costs more than half of each example and almost
never finds a repeat.

``FixedWidthProvider`` is the standard provider with one change: a fixed-size
byte string comes from a single ``randbytes`` call on the same seeded random
generator (the same uniform distribution; ``derandomize`` still gives the
same examples on every run). Selecting any backend other than ``hypothesis``
also makes Hypothesis skip its explored-choices tree and the span-duplicating
mutator. Everything else stays Hypothesis's own: settings, health checks, the
example database, and on a failure the choices are replayed on the standard
backend and shrunk by the standard shrinker (a failure that does not replay is
reported as flaky).

Hypothesis marks ``settings(backend=...)`` as experimental. The backend is used
only when the installed Hypothesis has the replay-on-failure behaviour
(``FlakyBackendFailure``); otherwise the suite runs on the standard backend, the
same properties, only slower.
"""

from __future__ import annotations

from hypothesis import settings

BACKEND = "crs-model"


def _register() -> bool:
    try:
        from hypothesis.errors import FlakyBackendFailure  # noqa: F401 - replay of backend failures exists
        from hypothesis.internal.conjecture.providers import AVAILABLE_PROVIDERS, HypothesisProvider
    except ImportError:  # pragma: no cover - an older or reorganised Hypothesis: standard backend
        return False

    class FixedWidthProvider(HypothesisProvider):
        """The standard provider, drawing a fixed-size byte string in one call."""

        def draw_bytes(self, min_size: int = 0, max_size: int = 8 * 1024) -> bytes:
            if min_size == max_size and self._random is not None:
                return self._random.randbytes(max_size)
            return super().draw_bytes(min_size, max_size)

    AVAILABLE_PROVIDERS.setdefault(BACKEND, FixedWidthProvider)
    return True


AVAILABLE = _register()


def with_backend(base: settings, enabled: bool = True) -> settings:
    """``base`` on the fixed-width backend, unless not ``enabled``, the backend is not
    available, or ``base`` already names another backend than the standard one."""
    if not (enabled and AVAILABLE) or base.backend != "hypothesis":
        return base
    return settings(base, backend=BACKEND)
