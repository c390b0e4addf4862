"""The verifier's checks, one module each, behind the :class:`~crs_model.verify.report.Check` enum.

Each module's ``run(verifier)`` adds its findings to the :class:`Verifier`;
:data:`RUNNERS` maps every check kind to it, in :data:`CHECKS` order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from crs_model.verify.checks import (
    contradiction,
    gap,
    invariant,
    missing_data,
    missing_data_complete,
    overlap,
    redundant,
    temporal,
    uncited,
    unreachable,
)
from crs_model.verify.report import CHECKS, Check

if TYPE_CHECKING:
    from crs_model.verify.verifier import Verifier

RUNNERS: Mapping[Check, Callable[[Verifier], None]] = {
    Check.CONTRADICTION: contradiction.run,
    Check.UNREACHABLE: unreachable.run,
    Check.OVERLAP: overlap.run,
    Check.GAP: gap.run,
    Check.INVARIANT: invariant.run,
    Check.TEMPORAL: temporal.run,
    Check.MISSING_DATA: missing_data.run,
    Check.MISSING_DATA_COMPLETE: missing_data_complete.run,
    Check.REDUNDANT: redundant.run,
    Check.UNCITED: uncited.run,
}
assert tuple(RUNNERS) == tuple(Check), "one runner per check kind, in order"

__all__ = ["CHECKS", "RUNNERS", "Check"]
