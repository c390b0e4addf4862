"""The uncited check: an edge, outcome, parameter or invariant without evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crs_model.errors import Location
from crs_model.model import Severity

if TYPE_CHECKING:
    from crs_model.verify.verifier import Verifier


def run(v: Verifier) -> None:
    """Report elements that cite no evidence (warning)."""
    spec = v.spec
    items: list[tuple[str, Location, tuple[str, ...]]] = []
    for node in spec.nodes.values():
        items += [(f"edge:{e.id}", e.loc, e.cites) for e in node.edges]
    items += [(f"outcome:{o.id}", o.loc, o.cites) for o in spec.outcomes.values()]
    items += [(f"parameter:{p.name}", p.loc, p.cites) for p in spec.parameters.values()]
    items += [(f"invariant:{i.id}", i.loc, i.cites) for i in spec.invariants]
    for element, loc, cites in items:
        if not cites:
            v.add("uncited", Severity.WARNING, loc, f"{element} cites no evidence", element)
