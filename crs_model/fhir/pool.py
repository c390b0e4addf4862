"""Pool FHIR input into one list of resources, whatever bundle or prefetch key each came in.

Accepted: a Bundle (any type: collection, searchset...), a bare resource, a list of either, and
``None`` (a CDS Hooks prefetch key with no data). Bundles nest. A resource met twice (the same
``type/id`` in two prefetch results) counts once; twice with different content is an error, as
the mapper cannot know which version holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crs_model.errors import FhirError

MAX_DEPTH = 8
MAX_RESOURCES = 100_000


@dataclass(frozen=True, slots=True)
class Resource:
    """One resource and the id messages name it by (``Observation/t1``, or its place in the input)."""

    rid: str
    type: str
    body: Mapping[str, Any]


def _rid(body: Mapping[str, Any], rtype: str, where: str) -> str:
    rid = body.get("id")
    if isinstance(rid, str) and rid:
        return f"{rtype}/{rid}"
    return f"{rtype} at {where}"


class _Pool:
    def __init__(self) -> None:
        self.out: list[Resource] = []
        self.seen: dict[str, Mapping[str, Any]] = {}

    def add(self, item: Any, where: str, depth: int) -> None:
        if item is None:
            return
        if depth > MAX_DEPTH:
            raise FhirError(where, f"bundles nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, Sequence) and not isinstance(item, str | bytes):
            for i, sub in enumerate(item):
                self.add(sub, f"{where}[{i}]", depth + 1)
            return
        if not isinstance(item, Mapping):
            raise FhirError(where, f"expected a FHIR resource (a JSON object), got {type(item).__name__}")
        rtype = item.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            raise FhirError(where, "not a FHIR resource: no 'resourceType'")
        rid = _rid(item, rtype, where)
        if rtype == "Bundle":
            entries = item.get("entry", [])
            if not isinstance(entries, list):
                raise FhirError(rid, "Bundle.entry must be a list")
            base = rid if isinstance(item.get("id"), str) and item["id"] else where
            for i, entry in enumerate(entries):
                at = f"{base}.entry[{i}]"
                if not isinstance(entry, Mapping):
                    raise FhirError(at, "a Bundle entry must be a JSON object")
                if "resource" in entry:  # an entry of a searchset may be a bare link; it holds no data
                    self.add(entry["resource"], f"{at}.resource", depth + 1)
            return
        if rid in self.seen:
            if self.seen[rid] != item:
                raise FhirError(rid, "appears twice with different content; send one version of it")
            return
        self.seen[rid] = item
        if len(self.out) >= MAX_RESOURCES:
            raise FhirError(rid, f"more than {MAX_RESOURCES} resources")
        self.out.append(Resource(rid, rtype, item))


def pool(items: Iterable[Mapping[str, Any] | None]) -> list[Resource]:
    """Every resource in ``items`` once, in input order; :class:`FhirError` names what is not FHIR."""
    p = _Pool()
    for i, item in enumerate(items):
        p.add(item, f"input[{i}]", 0)
    return p.out


__all__ = ["Resource", "pool"]
