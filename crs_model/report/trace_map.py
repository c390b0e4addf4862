"""The seed traceability map beside a spec (``*.trace.yaml``): which seed statement each element encodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from crs_model.fileio import beside


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One seed statement: where it is in the seed and the spec elements that encode it (or why none does)."""

    id: str
    match: str
    section: str
    encoded_by: tuple[str, ...]
    not_encoded: str


@dataclass(frozen=True, slots=True)
class TraceMap:
    """The entries read from a ``*.trace.yaml`` file, and what could not be read."""

    path: str
    entries: tuple[TraceEntry, ...]
    problems: tuple[str, ...] = ()


def trace_path(spec_path: str | Path) -> Path:
    """``specs/cytosorb_crs.yaml`` -> ``specs/cytosorb_crs.trace.yaml``."""
    return beside(spec_path, ".trace.yaml")


def load_trace_map(spec_path: str | Path) -> TraceMap | None:
    """The seed traceability map beside the spec, or None when there is none.

    Accepts a list of entries or a mapping with an ``entries`` (or ``statements``)
    list; each entry ``{id, match, section, encoded_by: [kind:id ...]}`` or with
    ``not_encoded: reason``. Malformed entries are kept as problems, not raised:
    the report shows what it could read and what it could not.
    """
    import yaml

    from crs_model.errors import InputFileError
    from crs_model.fileio import read_regular
    from crs_model.source import MAX_SPEC_BYTES

    path = trace_path(spec_path)
    if not path.exists():
        return None
    problems: list[str] = []
    try:  # a regular file of bounded size only (never a FIFO or a device), as for the spec itself
        data = yaml.safe_load(read_regular(path, MAX_SPEC_BYTES).decode("utf-8"))
    except InputFileError as exc:
        return TraceMap(str(path), (), (str(exc),))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        return TraceMap(str(path), (), (f"cannot read {path}: {exc}",))
    if isinstance(data, Mapping):
        data = data.get("entries", data.get("statements", data.get("trace")))
    if not isinstance(data, list):
        return TraceMap(str(path), (), (f"{path}: expected a list of entries",))
    entries: list[TraceEntry] = []
    for n, item in enumerate(data, 1):
        if not isinstance(item, Mapping):
            problems.append(f"entry {n} is not a mapping")
            continue
        enc = item.get("encoded_by") or ()
        if isinstance(enc, str):
            enc = (enc,)
        if not isinstance(enc, (list, tuple)):
            problems.append(f"entry {n}: encoded_by is not a list")
            enc = ()
        entries.append(
            TraceEntry(
                id=str(item.get("id", f"#{n}")),
                match=" ".join(str(item.get("match", item.get("statement", ""))).split()),
                section=" ".join(str(item.get("section", "")).split()),
                encoded_by=tuple(str(e) for e in enc),
                not_encoded=" ".join(str(item.get("not_encoded") or "").split()),
            )
        )
    return TraceMap(str(path), tuple(entries), tuple(problems))
