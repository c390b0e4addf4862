"""Finding the regions where two versions differ: model, generalise with unsat cores, witness, block.

For each region kind (:data:`crs_model.diff.result.KINDS`) the solver is asked for a
patient of that kind (``find``); the atoms its model makes true are shrunk to the
weakest conjunction that still *forces* the kind (``atoms and not kind`` unsatisfiable:
an unsat core, then one deletion pass over it, so no atom can be dropped); a witness is
drawn from the region with as few known inputs as possible; then the region is blocked
and the search repeats, up to a cap. Goals and blocks sit behind one literal per kind,
so one incremental solver serves every query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import z3

from crs_model.diff.atoms import Atom, Atoms
from crs_model.diff.pair import Pair
from crs_model.diff.result import DECISION, REJECTED_BY_NEW, REJECTED_BY_OLD
from crs_model.types import Base
from crs_model.verify.capi import check_fast, mk_and, mk_not
from crs_model.verify.encoding import Undecided


@dataclass(frozen=True, slots=True)
class Found:
    """One region as the solver gave it: its atoms, a witness patient and whether only notes differ."""

    kind: str
    atoms: tuple[Atom, ...]
    witness: dict[str, Any]
    flags_only: bool


class RegionSearch:
    """The incremental search over one :class:`Pair`."""

    def __init__(self, pair: Pair, given: Sequence[Atom] = ()) -> None:
        self.pair = pair
        self.atoms = Atoms(pair)
        self.solver = pair.new_solver()
        for a in given:  # the comparison is restricted to these patients (``--given``)
            self.solver.add(self.atoms.term(a))
        self.ctx = pair.ctx
        old, new = pair.old, pair.new
        both = mk_and(old.valid, new.valid)
        # a patient the old version could be given carries none of the new inputs (but those --given)
        fixed = {a.input for a in given}
        old_patient = mk_and(old.valid, pair.absent(tuple(n for n in pair.new_only if n not in fixed)))
        new_patient = mk_and(new.valid, pair.absent(tuple(n for n in pair.old_only if n not in fixed)))
        # kind -> (find: a patient of the kind, refute: a patient in the same atoms not of the kind)
        goals = {
            DECISION: (mk_and(both, pair.differ), mk_and(both, mk_not(pair.differ))),
            REJECTED_BY_NEW: (mk_and(old_patient, mk_not(new.valid)), mk_and(old_patient, new.valid)),
            REJECTED_BY_OLD: (mk_and(new_patient, mk_not(old.valid)), mk_and(new_patient, old.valid)),
        }
        self.find: dict[str, z3.BoolRef] = {}
        self.refute: dict[str, z3.BoolRef] = {}
        for kind, (find, refute) in goals.items():
            self.find[kind] = self._behind(f"@find:{kind}", find)
            self.refute[kind] = self._behind(f"@refute:{kind}", refute)
        self.main = self._behind("@main", pair.main_differ)
        self.both = self._behind("@both", both)  # without the blocks that ``find`` carries
        self.queries = 0

    def _behind(self, name: str, goal: z3.BoolRef) -> z3.BoolRef:
        lit = z3.Bool(name, self.pair.ctx)
        self.solver.add(z3.Implies(lit, goal))
        return lit

    def _check(self, what: str, lits: Sequence[z3.BoolRef]) -> bool:
        """Satisfiable? ``unknown`` raises :class:`Undecided` naming ``what``."""
        self.queries += 1
        r = check_fast(self.solver, list(lits))
        if r == z3.unknown:
            raise Undecided(f"{what}: {self.solver.reason_unknown()}")
        return r == z3.sat

    # ------------------------------------------------------------ the loop
    def regions(self, kind: str, cap: int, on_found: Callable[[Found], None]) -> bool:
        """Report up to ``cap`` regions of ``kind`` to ``on_found``; True when the cap stopped the search
        (more regions of the kind remain)."""
        find = self.find[kind]
        count = 0
        while self._check(f"a patient of kind {kind}", [find]):
            if count == cap:
                return True
            # every input known if it can be: the plain difference first, those under absence after it
            model, _ = self._preferring(f"a patient of kind {kind}", [find], self.pair.inputs.known.values())
            atoms = self.generalise(kind, model)
            witness = self.witness(kind, atoms)
            flags_only = kind == DECISION and not self._check(
                "whether more than actions and flags differ", [self.both, self.main, *self._terms(atoms)]
            )
            on_found(Found(kind, atoms, witness, flags_only))
            count += 1
            self.solver.add(z3.Implies(find, mk_not(mk_and(*self._terms(atoms), ctx=self.ctx))))
        return False

    def _terms(self, atoms: Sequence[Atom]) -> list[z3.BoolRef]:
        return [self.atoms.term(a) for a in atoms]

    def generalise(self, kind: str, model: z3.ModelRef) -> tuple[Atom, ...]:
        """The weakest conjunction of ``model``'s true atoms that forces ``kind`` (no atom can be dropped)."""
        refute = self.refute[kind]
        atoms = self.atoms.of_model(model)
        if self._check("generalising a region", [refute, *self._terms(atoms)]):
            # the thresholds do not pin the difference down (arithmetic between inputs): the point does
            atoms = self.atoms.of_model(model, points=True)
            if self._check("generalising a region at its point", [refute, *self._terms(atoms)]):
                raise Undecided("a model's own values do not force the difference it showed")
        core_ids = {c.get_id() for c in self.solver.unsat_core()}
        kept = [a for a in atoms if self.atoms.term(a).get_id() in core_ids]
        i = 0
        while i < len(kept):  # deletion: drop an atom while the rest still force the kind
            trial = kept[:i] + kept[i + 1 :]
            if self._check("minimising a region", [refute, *self._terms(trial)]):
                i += 1
                continue
            core_ids = {c.get_id() for c in self.solver.unsat_core()}
            kept = [a for a in trial if self.atoms.term(a).get_id() in core_ids]
        for i in range(len(kept)):  # each bound as far out as the others let it go
            kept[i] = self._widen(refute, kept, i)
        return tuple(sorted(kept, key=self._order))

    def _widen(self, refute: z3.BoolRef, kept: list[Atom], i: int) -> Atom:
        """The weakest bound at ``kept[i]``'s side that, with the others, still forces (binary search:
        a weaker bound forcing implies every stronger one does)."""
        chain = self.atoms.weaker(kept[i])
        lo, hi = -1, len(chain) - 1  # chain[lo] forces (-1: the atom itself); find the last that does
        others = self._terms(kept[:i] + kept[i + 1 :])
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._check("widening a region", [refute, *others, self.atoms.term(chain[mid])]):
                hi = mid - 1
            else:
                lo = mid
        return kept[i] if lo < 0 else chain[lo]

    def _order(self, a: Atom) -> tuple[int, str, str]:
        return (list(self.pair.inputs.variables).index(a.input), a.op, str(a.value))

    def _preferring(
        self, what: str, goal: Sequence[z3.BoolRef], wishes: Iterable[z3.BoolRef]
    ) -> tuple[z3.ModelRef, list[z3.BoolRef]]:
        """A model of ``goal`` (known satisfiable) granting as many of ``wishes`` as the unsat cores
        allow, and the wishes it grants."""
        prefs = {w.get_id(): w for w in wishes}
        while not self._check(what, [*goal, *prefs.values()]):
            core = {c.get_id() for c in self.solver.unsat_core()}
            dropped = [k for k in prefs if k in core]
            if not dropped:
                raise Undecided(f"{what}: a satisfiable goal became unsatisfiable")
            for k in dropped:
                del prefs[k]
        return self.solver.model(), list(prefs.values())

    def witness(self, kind: str, atoms: Sequence[Atom]) -> dict[str, Any]:
        """A patient of the region: every input the region does not name absent if possible,
        real inputs whole (then tenths) if possible."""
        inp = self.pair.inputs
        named = {a.input for a in atoms}
        base = [self.find[kind], *self._terms(atoms)]
        model, absent = self._preferring(
            "drawing a witness", base, [mk_not(inp.known[n]) for n in inp.variables if n not in named]
        )
        reals = [inp.number(n) for n, v in inp.variables.items() if v.type.base == Base.REAL]
        for scale in (1, 10):
            if self._check("rounding a witness", [*base, *absent, *(z3.IsInt(x * scale) for x in reals)]):
                model = self.solver.model()
                break
        return self.atoms.patient(model)


__all__ = ["Found", "RegionSearch"]
