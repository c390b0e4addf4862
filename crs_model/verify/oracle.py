"""Z3 oracles for differential testing: decide a patient with the solver, not the engine.

One solver holds the spec's encoding (:class:`Encoding`); each call fixes the
patient's inputs through assumption literals (``known`` flags and values).
Type checks mirror :class:`crs_model.patient.PatientValidator`; domains and
consistency constraints are decided by the solver (an unsat core names them).

* :class:`Z3Oracle` models the three-valued procedure (``Engine(spec, exact=False)``):
  it reads the decision off the model - which node's "taken" literal holds, where the
  patient stops with ``insufficient_data``, or which defect (gap, overlap) it hits.
* :class:`ExactOracle` models the exact decision (``Engine(spec)``) straight from its
  definition, by search over the completions in the solver, independently of
  :mod:`crs_model.completion` (which it checks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import z3

from crs_model.errors import PatientError, SpecDefectError
from crs_model.model import Spec
from crs_model.types import Base
from crs_model.verify.encoding import Encoding, Undecided
from crs_model.verify.z3expr import Tri, Val, numeral

INSUFFICIENT = "insufficient_data"


class _PatientOracle:
    """What both oracles share: the encoding, and a patient as assumption literals."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.enc = Encoding(spec, minimize_cores=False, relevancy=None)  # the default is faster here
        self._absent: dict[str, z3.BoolRef] = {n: z3.Not(k) for n, k in self.enc.inputs.known.items()}
        self._bools: dict[tuple[str, bool], z3.BoolRef] = {}
        self._enums: dict[tuple[str, str], z3.BoolRef] = {}
        for name, var in spec.variables.items():
            v = self.enc.inputs.values[name]
            if var.type.base == Base.BOOL:
                assert isinstance(v, z3.BoolRef)
                self._bools[(name, True)] = v
                self._bools[(name, False)] = z3.Not(v)
            elif var.type.base == Base.ENUM:
                for i, code in enumerate(var.type.values):
                    self._enums[(name, code)] = v == i

    def _assumptions(self, patient: Mapping[str, Any]) -> tuple[list[z3.BoolRef], list[z3.BoolRef]]:
        """(literals fixing the known inputs, literals saying the others are absent); raises
        :class:`PatientError` on a value of the wrong type or an unknown input."""
        if not isinstance(patient, Mapping):
            raise PatientError("<input>", f"a patient must be a JSON object, got {type(patient).__name__}", None)
        variables = self.spec.variables
        lits: list[z3.BoolRef] = []
        absent: list[z3.BoolRef] = []
        for key in patient:
            if key not in variables:
                raise PatientError(str(key), f"unknown input '{key}'", patient[key])
        for name, var in variables.items():
            x = patient.get(name)
            if x is None:
                absent.append(self._absent[name])
                continue
            known = self.enc.inputs.known[name]
            base = var.type.base
            if base == Base.BOOL:
                if x is not True and x is not False:
                    raise PatientError(name, f"{name}={x!r} is not a boolean", x)
                lits += [known, self._bools[(name, x)]]
            elif base == Base.ENUM:
                lit = self._enums.get((name, x)) if type(x) is str else None
                if lit is None:
                    raise PatientError(name, f"{name}={x!r} is not one of {', '.join(var.type.values)}", x)
                lits += [known, lit]
            else:
                ok = type(x) is int if base == Base.INT else type(x) in (int, float) and math.isfinite(x)
                if not ok:
                    raise PatientError(name, f"{name}={x!r} is not a valid {base}", x)
                lits += [known, self.enc.inputs.values[name] == numeral(x, base == Base.INT, self.enc.ctx)]
        return lits, absent

    def _check(self, *lits: z3.BoolRef) -> z3.CheckSatResult:
        """Check the background plus ``lits``; ``unknown`` raises :class:`Undecided`."""
        r = self.enc.check(*lits)
        if r == z3.unknown:
            raise Undecided(self.enc.solver.reason_unknown())
        return r

    def _valid(self, patient: Mapping[str, Any]) -> tuple[list[z3.BoolRef], list[z3.BoolRef]]:
        """:meth:`_assumptions` of a valid ``patient`` (the solver's model is then one of it);
        :class:`PatientError` if it is invalid (a constraint false under three-valued evaluation)."""
        known, absent = self._assumptions(patient)
        if self._check(*known, *absent) == z3.unsat:
            parts = self.enc.core_parts()
            what = "; ".join(p.text for p in parts) or "the input domains and constraints"
            field = parts[0].element.split(":", 1)[1] if parts else "<input>"
            raise PatientError(field, f"violates {what}", None)
        return known, absent


class Z3Oracle(_PatientOracle):
    """``decide(patient) -> (recommendation, outcome id | None, path of node ids)``.

    Raises :class:`PatientError` for invalid input and :class:`SpecDefectError`
    (kind ``gap`` or ``overlap``) where the engine would, so the two can be
    compared call for call.
    """

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        tr = self.enc.tr
        self._outputs = {oid: [self.enc.known_of(tr.name(n)) for n in o.outputs] for oid, o in spec.outcomes.items()}
        self._walk = {
            nid: [
                (e.target, enc_take) for e, enc_take in zip(node.edges, self.enc.nodes[nid].take.values(), strict=True)
            ]
            for nid, node in spec.nodes.items()
        }

    def decide(self, patient: Mapping[str, Any]) -> tuple[str, str | None, tuple[str, ...]]:
        """The solver's decision for ``patient``: (recommendation, outcome, path)."""
        enc = self.enc
        self._valid(patient)
        m = enc.solver.model()
        path: list[str] = []
        nid = self.spec.entry
        while nid in self._walk:
            path.append(nid)
            ns = enc.nodes[nid]
            if z3.is_true(m.eval(ns.here.overlap)):
                raise SpecDefectError(nid, "overlap", "two guards hold (solver)")
            if z3.is_true(m.eval(ns.here.stop)):
                return INSUFFICIENT, None, tuple(path)
            nxt = next((target for target, take in self._walk[nid] if z3.is_true(m.eval(take))), None)
            if nxt is None:
                raise SpecDefectError(nid, "gap", "no guard holds (solver)")
            nid = nxt
        path.append(nid)
        if all(z3.is_true(m.eval(k)) for k in self._outputs[nid]):
            return self.spec.outcomes[nid].recommendation, nid, tuple(path)
        return INSUFFICIENT, None, tuple(path)


ExactValue = int | Fraction | bool | str  # an output value as the solver's model gives it


class ExactOracle(_PatientOracle):
    """``decide(patient) -> (recommendation, outcome id | None, required output values)``: the
    exact decision under absent inputs, searched for in the solver.

    A *completion* Q of the patient keeps every known value and gives any absent input
    a domain value or leaves it absent; Q is valid when no constraint is false under
    three-valued evaluation (the encoding's background). The answer is the outcome R
    (with its required outputs, exact) iff some valid completion's three-valued decision
    is definitive and none is definitive with another outcome or other output values:
    one query finds a definitive completion, a second asks for a different one.
    Otherwise ``insufficient_data``. An invalid patient raises :class:`PatientError`,
    as does a valid one no completion of which decides (the engine finds no valid
    completion then); the solver answering ``unknown`` raises :class:`Undecided`.
    """

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        enc, tr = self.enc, self.enc.tr
        self._required = {oid: [(n, tr.name(n)) for n in o.outputs] for oid, o in spec.outcomes.items()}
        self._definitive = {oid: enc.outcomes[oid].definitive for oid in spec.outcomes}
        self._any = z3.Or(*self._definitive.values())

    def decide(self, patient: Mapping[str, Any]) -> tuple[str, str | None, tuple[ExactValue, ...]]:
        """The exact decision for ``patient``: (recommendation, outcome, required output values)."""
        enc = self.enc
        known, _ = self._valid(patient)  # absent inputs are free from here on: the completions
        if self._check(*known, self._any) == z3.unsat:
            raise PatientError("<input>", "no valid completion of the absent inputs reaches a decision", None)
        m = enc.solver.model()
        oid = next(o for o, d in self._definitive.items() if z3.is_true(m.eval(d, model_completion=True)))
        values = tuple(self._value(n, t, m) for n, t in self._required[oid])
        differs = [
            t.v != self._numeral(n, t.v, x) if isinstance(t, Val) else (t.f if x else t.t)
            for (n, t), x in zip(self._required[oid], values, strict=True)
        ]
        other = [d for o, d in self._definitive.items() if o != oid]
        if differs:
            other.append(z3.And(self._definitive[oid], z3.Or(*differs)))
        if other and self._check(*known, z3.Or(*other)) == z3.sat:
            return INSUFFICIENT, None, ()
        return self.spec.outcomes[oid].recommendation, oid, values

    def _value(self, name: str, term: Tri | Val, m: z3.ModelRef) -> ExactValue:
        if isinstance(term, Tri):
            return z3.is_true(m.eval(term.t, model_completion=True))
        raw = m.eval(term.v, model_completion=True)
        typ = self.spec.symbols[name].type
        if typ.base == Base.ENUM:
            assert isinstance(raw, z3.IntNumRef)
            return typ.values[raw.as_long()]
        if isinstance(raw, z3.IntNumRef):
            return raw.as_long()
        assert isinstance(raw, z3.RatNumRef), f"a rational model value for {name}"
        frac = raw.as_fraction()
        return int(frac) if frac.denominator == 1 else frac

    def _numeral(self, name: str, v: z3.ArithRef, x: ExactValue) -> z3.ArithRef:
        if isinstance(x, str):  # an enum output: its code
            return z3.IntVal(self.spec.symbols[name].type.values.index(x), self.enc.ctx)
        assert not isinstance(x, bool)
        return numeral(x, v.is_int(), self.enc.ctx)


__all__ = ["ExactOracle", "ExactValue", "Z3Oracle"]
