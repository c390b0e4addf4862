"""Element-level changes between two spec versions: what was added, removed or changed, located.

Pure data: each element kind is read into ``id -> (fields, location)`` and the fields
compared. Formula texts are compared with their whitespace normalised, so a reformatted
YAML file shows no change; an edge moved within its node shows as ``position``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from crs_model.diagnostics import Location
from crs_model.diff.result import ElementChange
from crs_model.model import Formula, Spec

Fields = dict[str, str]
Table = dict[str, tuple[Fields, Location | None]]
_MAX_TEXT = 120


def _f(formula: Formula | None) -> str:
    return "" if formula is None else " ".join(formula.text.split())


def _t(text: str) -> str:
    return " ".join(text.split())


def _list(xs: tuple[str, ...]) -> str:
    return ", ".join(xs)


def _number(x: float | bool | None) -> str:
    if x is None or isinstance(x, bool):
        return str(x).lower() if isinstance(x, bool) else ""
    return f"{x:.0f}" if float(x).is_integer() else repr(x)


def _parameters(s: Spec) -> Table:
    return {
        n: (
            {
                "value": _number(p.value),
                "unit": p.unit,
                "label": p.label,
                "rationale": _t(p.rationale),
                "cites": _list(p.cites),
            },
            p.loc,
        )
        for n, p in s.parameters.items()
    }


def _variables(s: Spec) -> Table:
    return {
        n: (
            {
                "type": str(v.type),
                "minimum": _number(v.minimum),
                "maximum": _number(v.maximum),
                "unit": v.unit,
                "label": v.label,
            },
            v.loc,
        )
        for n, v in s.variables.items()
    }


def _constraints(s: Spec) -> Table:
    return {
        c.id: ({"expr": _f(c.formula), "message": _t(c.message), "cites": _list(c.cites)}, c.loc) for c in s.constraints
    }


def _definitions(s: Spec) -> Table:
    return {
        n: (
            {
                "expr": _f(d.formula),
                "type": str(d.formula.type),
                "unit": d.unit,
                "label": d.label,
                "cites": _list(d.cites),
            },
            d.loc,
        )
        for n, d in s.definitions.items()
    }


def _nodes(s: Spec) -> Table:
    return {
        n: ({"question": _t(d.question), "hit_policy": d.hit_policy.value, "cites": _list(d.cites)}, d.loc)
        for n, d in s.nodes.items()
    }


def _edges(s: Spec) -> Table:
    return {
        e.id: ({"when": _f(e.guard), "label": e.label, "position": str(e.index + 1), "cites": _list(e.cites)}, e.loc)
        for d in s.nodes.values()
        for e in d.edges
    }


def _outcomes(s: Spec) -> Table:
    return {
        o.id: (
            {
                "recommendation": o.recommendation,
                "title": o.title,
                "outputs": _list(o.outputs),
                "actions": _list(tuple(a.id for a in o.actions)),
                "flags": _list(tuple(f.id for f in o.flags)),
                "cites": _list(o.cites),
            },
            o.loc,
        )
        for o in s.outcomes.values()
    }


def _actions(s: Spec) -> Table:
    out: Table = {}
    for o in s.outcomes.values():
        for a in o.actions:
            out.setdefault(a.id, ({"text": _t(a.text), "cites": _list(a.cites)}, a.loc))
    return out


def _flags(s: Spec) -> Table:
    out: Table = {}
    for o in s.outcomes.values():
        for f in o.flags:
            out.setdefault(f.id, ({"text": _t(f.text), "when": _f(f.when), "cites": _list(f.cites)}, f.loc))
    return out


def _invariants(s: Spec) -> Table:
    out: Table = {
        i.id: ({"expr": _f(i.formula), "severity": i.severity.value, "description": _t(i.description)}, i.loc)
        for i in s.invariants
    }
    for t in s.temporal_invariants:
        out[t.id] = ({"expr": _f(t.formula), "severity": t.severity.value, "description": _t(t.description)}, t.loc)
    return out


def _governance(s: Spec) -> Table:
    return {
        g.id: (
            {
                "title": g.title,
                "question": _t(g.question),
                "status": g.status,
                "conservative_choice": _t(g.conservative_choice),
                "positions": _list(tuple(f"{e}: {_t(p)}" for e, p in g.positions)),
                "affects": _list(g.affects),
            },
            g.loc,
        )
        for g in s.governance
    }


def _recommendations(s: Spec) -> Table:
    return {c: ({"class": r.cls.value, "label": r.label}, r.loc) for c, r in s.recommendations.items()}


def _outputs(s: Spec) -> Table:
    return {
        n: ({"report": o.report.value, "unit": o.unit, "precision": str(o.precision)}, o.loc)
        for n, o in s.outputs.items()
    }


def _evidence(s: Spec) -> Table:
    return {e.id: ({"citation": _t(e.citation), "level": e.level.value}, e.loc) for e in s.evidence.values()}


def _metadata(s: Spec) -> Table:
    md = s.metadata
    return {"spec": ({"version": md.version, "status": md.status.value, "title": md.title}, None)}


# element kind -> its table, in the order a reader goes through a spec
KINDS: tuple[tuple[str, Callable[[Spec], Table]], ...] = (
    ("metadata", _metadata),
    ("evidence", _evidence),
    ("variable", _variables),
    ("constraint", _constraints),
    ("parameter", _parameters),
    ("definition", _definitions),
    ("output", _outputs),
    ("recommendation", _recommendations),
    ("node", _nodes),
    ("edge", _edges),
    ("outcome", _outcomes),
    ("action", _actions),
    ("flag", _flags),
    ("invariant", _invariants),
    ("governance", _governance),
)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _from_change(x: str, y: str) -> tuple[str, str]:
    """Long texts from a little before where they first differ (so that a change past the cut shows)."""
    if len(x) <= _MAX_TEXT and len(y) <= _MAX_TEXT:
        return x, y
    same = next((i for i, (p, q) in enumerate(zip(x, y, strict=False)) if p != q), min(len(x), len(y)))
    cut = max(0, same - 20)
    return (("…" if cut else "") + x[cut:], ("…" if cut else "") + y[cut:])


def _details(a: Fields, b: Fields) -> Iterator[str]:
    for key in dict.fromkeys([*a, *b]):
        x, y = _from_change(a.get(key, ""), b.get(key, ""))
        if x != y:
            yield f"{key}: {_short(x) or '(none)'} -> {_short(y) or '(none)'}"


def element_changes(old: Spec, new: Spec) -> tuple[ElementChange, ...]:
    """Every element added, removed or changed, kind by kind, in the new version's order (removed ones last)."""
    out: list[ElementChange] = []
    for kind, table in KINDS:
        a, b = table(old), table(new)
        for key, (fields, loc) in b.items():
            if key not in a:
                out.append(ElementChange(kind, key, "added", tuple(_added(fields)), None, loc))
                continue
            details = tuple(_details(a[key][0], fields))
            if details:
                out.append(ElementChange(kind, key, "changed", details, a[key][1], loc))
        out.extend(ElementChange(kind, key, "removed", (), loc, None) for key, (_, loc) in a.items() if key not in b)
    return tuple(out)


def _added(fields: Fields) -> Iterator[str]:
    for key in ("value", "expr", "when", "type", "recommendation"):
        if fields.get(key):
            yield f"{key}: {_short(fields[key])}"


__all__ = ["KINDS", "element_changes"]
