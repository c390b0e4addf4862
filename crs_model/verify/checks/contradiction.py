"""The contradiction check: a guard, definition or constraint no patient within the domains can satisfy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crs_model.expr import Expr
from crs_model.model import Severity
from crs_model.types import Base
from crs_model.verify.encoding import Undecided
from crs_model.verify.wording import parts_text
from crs_model.verify.z3expr import Tri

if TYPE_CHECKING:
    from crs_model.verify.verifier import Verifier


def run(v: Verifier) -> None:
    """Report guards, definitions and constraints that can never hold (sets ``v.dead_edges``)."""
    spec, enc = v.spec, v.enc
    taken, _ = v.search.simulate()  # an edge some patient takes has a satisfiable guard
    # on a large graph many edges share a guard: one plain query per distinct guard,
    # tracked conjuncts only for an unsatisfiable one (small specs keep one tracked
    # query per edge, so their solver histories, and witnesses, stay as they were)
    holds: set[Expr] | None = set() if len(spec.nodes) > v.search.cone_step else None
    for node in spec.nodes.values():
        for e in node.edges:
            if e.id in taken:
                continue
            if holds is not None and e.guard.ast in holds:
                continue
            try:
                if holds is not None and v.status(enc.tr.tri(e.guard.ast).t, local=True):
                    holds.add(e.guard.ast)
                    continue
                ok, parts = enc.check_conjuncts(
                    f"edge:{e.id}", e.guard.ast, v.words.locate_part(e.guard, f"edge:{e.id}")
                )
            except Undecided as exc:
                v.undecided(f"edge:{e.id}", e.guard.loc, f"whether the guard of edge {e.id} can hold", exc)
                continue
            if ok:
                continue
            v.dead_edges.add(e.id)
            v.add(
                "contradiction",
                Severity.ERROR,
                e.guard.loc,
                f"the guard of edge {e.id} ('{v.words.render(e.guard.ast)}') can never hold within the "
                f"input domains; conflicting parts: {parts_text(parts)}",
                f"edge:{e.id}",
            )
    for name, d in spec.definitions.items():
        term = enc.tr.name(name)
        try:
            if isinstance(term, Tri):
                ok, parts = enc.check_conjuncts(
                    f"definition:{name}", d.formula.ast, v.words.locate_part(d.formula, name)
                )
            else:
                ok = v.status(term.k, local=True)
                parts = [] if ok else enc.core_parts(local=True)
        except Undecided as exc:
            v.undecided(f"definition:{name}", d.formula.loc, f"whether definition {name} can hold", exc)
            continue
        if ok:
            continue
        what = "hold" if d.formula.type.base == Base.BOOL else "be computed (it is never known)"
        v.add(
            "contradiction",
            Severity.ERROR,
            d.formula.loc,
            f"definition {name} ('{v.words.render(d.formula.ast)}') can never {what} within the input "
            f"domains; conflicting parts: {parts_text(parts)}",
            f"definition:{name}",
        )
    for c in spec.constraints:
        try:
            ok, parts = enc.check_conjuncts(f"constraint:{c.id}", c.formula.ast, v.words.locate_part(c.formula, c.id))
        except Undecided as exc:
            v.undecided(f"constraint:{c.id}", c.formula.loc, f"whether constraint {c.id} can hold", exc)
            continue
        if ok:
            continue
        v.add(
            "contradiction",
            Severity.ERROR,
            c.formula.loc,
            f"constraint {c.id} ('{v.words.render(c.formula.ast)}') can never hold within the input "
            f"domains, so every patient who reports its inputs is rejected; conflicting parts: "
            f"{parts_text(parts)}",
            f"constraint:{c.id}",
        )
