"""A Z3 oracle for differential testing: decide a patient with the solver, not the engine.

One solver holds the spec's encoding (:class:`Encoding`); each call fixes the
patient's inputs through assumption literals (``known`` flags and values) and
reads the decision off the model: which node's "taken" literal holds, where the
patient stops with ``insufficient_data``, or which defect (gap, overlap) it hits.
Type checks mirror :class:`crs_model.patient.PatientValidator`; domains and
consistency constraints are decided by the solver (an unsat core names them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import z3

from crs_model.errors import PatientError, SpecDefectError
from crs_model.model import Spec
from crs_model.types import Base
from crs_model.verify.encoding import Encoding
from crs_model.verify.z3expr import numeral

INSUFFICIENT = "insufficient_data"


class Z3Oracle:
    """``decide(patient) -> (recommendation, outcome id | None, path of node ids)``.

    Raises :class:`PatientError` for invalid input and :class:`SpecDefectError`
    (kind ``gap`` or ``overlap``) where the engine would, so the two can be
    compared call for call.
    """

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
        tr = self.enc.tr
        self._outputs = {oid: [self.enc.known_of(tr.name(n)) for n in o.outputs] for oid, o in spec.outcomes.items()}
        self._walk = {
            nid: [
                (e.target, enc_take) for e, enc_take in zip(node.edges, self.enc.nodes[nid].take.values(), strict=True)
            ]
            for nid, node in spec.nodes.items()
        }

    def _assumptions(self, patient: Mapping[str, Any]) -> list[z3.BoolRef]:
        if not isinstance(patient, Mapping):
            raise PatientError("<input>", f"a patient must be a JSON object, got {type(patient).__name__}", None)
        variables = self.spec.variables
        lits: list[z3.BoolRef] = []
        for key in patient:
            if key not in variables:
                raise PatientError(str(key), f"unknown input '{key}'", patient[key])
        for name, var in variables.items():
            x = patient.get(name)
            if x is None:
                lits.append(self._absent[name])
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
        return lits

    def decide(self, patient: Mapping[str, Any]) -> tuple[str, str | None, tuple[str, ...]]:
        """The solver's decision for ``patient``: (recommendation, outcome, path)."""
        enc = self.enc
        r = enc.check(*self._assumptions(patient))
        if r == z3.unsat:
            parts = enc.core_parts()
            what = "; ".join(p.text for p in parts) or "the input domains and constraints"
            field = parts[0].element.split(":", 1)[1] if parts else "<input>"
            raise PatientError(field, f"violates {what}", None)
        if r != z3.sat:  # pragma: no cover - a fixed patient is a tiny query
            raise RuntimeError(f"solver returned {r}: {enc.solver.reason_unknown()}")
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


__all__ = ["Z3Oracle"]
