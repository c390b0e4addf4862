"""The pack's "Criteria" section: the criteria tree drawn (inline SVG) and, per guard, as a nested list."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from crs_model.criteria import BRANCH_WORDS, Crit, Criteria, Gate, Ref, criteria, parameters_read
from crs_model.fileio import spec_stem
from crs_model.model import Spec
from crs_model.report.document import B, Block, Cell, Code, Figure, H, Link, Outline, P, T
from crs_model.text import Renderer

CAPTION = (
    "Criteria tree: each guard that reads a definition (left, grouped by decision) drawn down to its criteria; "
    "shaded boxes are definitions, drawn once; thresholds show the parameter's name and value; [n] numbers refer "
    "to the sources in the diagram's legend."
)


def criteria_section(spec: Spec, svg: str | None, note: str, cites: Callable[[Iterable[str]], Cell]) -> list[Block]:
    """The section's blocks: ``svg`` the drawing (None: ``note`` or where to find it); ``cites`` makes badges."""
    crit = criteria(spec)
    if not crit.guards:
        return []
    words = Renderer(spec.symbols, param_names=True)
    out: list[Block] = [
        H(2, "Criteria", "criteria"),
        Figure(svg, CAPTION, note or f"See diagrams/{spec_stem(spec.path)}.criteria.svg (crs-model render)."),
        P(
            [
                T(
                    f"{len(crit.guards)} guards read a definition; the {len(crit.definitions)} definitions behind "
                    "them are expanded below down to their thresholds, each once."
                )
            ]
        ),
        H(3, "Guards", "criteria-guards"),
    ]
    for gc in crit.guards:
        e = gc.edge
        target = f"node-{e.target}" if e.target in spec.nodes else f"outcome-{e.target}"
        head: Cell = [B(f"{e.source}, edge {e.index + 1}" + (f": {e.label}" if e.label else "")), T(" → ")]
        head += [Link(target, e.target), T(". Sources: "), *cites(e.cites)]
        out += [P(head), _outline(gc.root, spec, words, cites)]
    out.append(H(3, "Definitions behind the guards", "criteria-definitions"))
    out += _definitions(crit, spec, words, cites)
    return out


def _definitions(crit: Criteria, spec: Spec, words: Renderer, cites: Callable[[Iterable[str]], Cell]) -> list[Block]:
    out: list[Block] = []
    for name, dc in crit.definitions.items():
        d = dc.definition
        out.append(H(4, d.label or name, f"criteria-{name}"))
        out.append(P([Code(name), T(" · sources: "), *cites(d.cites)]))
        out.append(_outline(dc.root, spec, words, cites))
    return out


def _outline(root: Crit, spec: Spec, words: Renderer, cites: Callable[[Iterable[str]], Cell]) -> Outline:
    """``root`` as nested items: gates as "all of:", criteria with their thresholds' sources, definitions linked."""
    items: list[tuple[int, Cell]] = []
    stack: list[tuple[int, Crit, str]] = [(0, root, "")]
    while stack:
        depth, c, place = stack.pop()
        lead: Cell = [T(f"{place}: ")] if place else []
        if isinstance(c, Gate):
            items.append((depth, [*lead, B(c.kind.value + ":")]))
            places = BRANCH_WORDS.get(c.kind, ())
            kids = [(depth + 1, k, places[i] if i < len(places) else "") for i, k in enumerate(c.children)]
            stack.extend(reversed(kids))
        elif isinstance(c, Ref):
            sym = spec.symbols[c.name]
            items.append((depth, [*lead, Link(f"criteria-{c.name}", sym.label or c.name), T(" (definition)")]))
        else:
            params = parameters_read(c.expr, spec.symbols)
            ids = list(dict.fromkeys(x for p in params for x in spec.parameters[p].cites))
            items.append((depth, [*lead, T(words.render(c.expr) + (" " if ids else "")), *cites(ids)]))
    return Outline(items)
