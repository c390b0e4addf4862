"""Threshold robustness: where does the recommendation flip within the inputs' measurement error?

Two patients in one Z3 context, each with its own copy of the graph
(:meth:`Encoding.graph_copy`; the encoding models the three-valued engine): the *measured*
patient ``p`` and ``p'``, whose moved inputs are known in both and each within its declared
error of ``p``'s value (absolute, or a fraction of ``p``'s value), every other input equal
(known or absent alike). A *flip* is ``p`` decided with one recommendation and ``p'`` with
another (``insufficient_data`` included: stopping is a decision of the three-valued engine).

Asked once per measured input (only it moves) and once for all of them together. Each model
is a region: the recommendation pair and the cut points (constants a moved input is compared
with) that lie between the two values; that combination is then blocked and the query asked
again, until unsat or the cap. Every witness pair is re-run through ``Engine(spec,
exact=False)``; a solver ``unknown`` raises :class:`~crs_model.verify.encoding.Undecided`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import z3

from crs_model.completion import build_scope
from crs_model.engine import Engine
from crs_model.errors import PatientError, SpecDefectError
from crs_model.exact import Exact, exact
from crs_model.model import INSUFFICIENT_DATA, ErrorKind, Spec
from crs_model.types import Base
from crs_model.verify.capi import mk_and, mk_or
from crs_model.verify.encoding import Encoding, GraphCopy, NodeEnc, OutcomeEnc, Undecided
from crs_model.verify.limits import DEFAULT_RLIMIT, DEFAULT_ROBUSTNESS_CAP

DEFAULT_CAP = DEFAULT_ROBUSTNESS_CAP
ALL = "*"  # the scope name of "every measured input moves"
_SYMBOL = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=", "!=": "≠"}


@dataclass(frozen=True, slots=True)
class Crossing:
    """A cut point of a moved input between the measured and the moved value, and where the spec uses it."""

    input: str
    threshold: int | float
    uses: tuple[str, ...]  # ``IL-6 ≥ 500 pg/mL (definition:inflammatory_markers_markedly_elevated)``
    exact: Exact  # the cut point, exactly
    side: str  # which side the point joins (as :attr:`crs_model.completion.Scope.cuts`)


@dataclass(frozen=True, slots=True)
class Region:
    """One flip within error: which inputs moved, the recommendations, the thresholds between, witnesses."""

    scope: str  # the input that moved, or ``*`` for all measured inputs together
    old: str  # the measured patient's recommendation
    new: str  # the moved patient's
    crossings: tuple[Crossing, ...]
    description: str
    witness: Mapping[str, Any]  # the measured patient
    moved: Mapping[str, Any]  # the same patient with the moved inputs' values within error
    confirmed: bool  # both witnesses re-run through the three-valued engine give old and new

    def to_dict(self) -> dict[str, Any]:
        """The region as ``crs-model robustness --format json`` prints it."""
        return {
            "scope": self.scope,
            "old": self.old,
            "new": self.new,
            "description": self.description,
            "crossings": [{"input": c.input, "threshold": c.threshold, "uses": list(c.uses)} for c in self.crossings],
            "witness": dict(self.witness),
            "moved": dict(self.moved),
            "confirmed": self.confirmed,
        }


@dataclass(frozen=True, slots=True)
class Scope:
    """The answer to one question: its regions, and whether the cap stopped the search."""

    name: str
    regions: tuple[Region, ...]
    cap_hit: bool


@dataclass(frozen=True, slots=True)
class Robustness:
    """Every question's answer for one spec."""

    spec: Spec
    measured: tuple[str, ...]
    scopes: tuple[Scope, ...]
    cap: int

    @property
    def regions(self) -> tuple[Region, ...]:
        """Every region found, question by question."""
        return tuple(r for s in self.scopes for r in s.regions)

    @property
    def cap_hit(self) -> bool:
        """Some question had more regions than the cap."""
        return any(s.cap_hit for s in self.scopes)

    @property
    def confirmed(self) -> bool:
        """Every witness pair was reproduced by the engine."""
        return all(r.confirmed for r in self.regions)


def _real(v: z3.ExprRef, is_int: bool) -> z3.ArithRef:
    assert isinstance(v, z3.ArithRef)
    return z3.ToReal(v) if is_int else v


class _Decided:
    """Per recommendation code, "this copy is decided with it" (reach literals are backed by real paths)."""

    def __init__(self, spec: Spec, nodes: Mapping[str, NodeEnc], outcomes: Mapping[str, OutcomeEnc], ctx: z3.Context):
        by_code: dict[str, list[z3.BoolRef]] = {}
        for oid, o in spec.outcomes.items():
            by_code.setdefault(o.recommendation, []).append(outcomes[oid].definitive)
        stops = [n.stop for n in nodes.values()] + [o.insufficient for o in outcomes.values()]
        by_code[INSUFFICIENT_DATA] = stops
        self.codes = tuple(by_code)
        self.lit = {c: mk_or(*fs, ctx=ctx) for c, fs in by_code.items()}


class _Question:
    """The two patients of one encoding and the facts a question about them needs."""

    def __init__(self, spec: Spec, rlimit: int) -> None:
        self.spec = spec
        self.enc = Encoding(spec, rlimit=rlimit)
        self.copy: GraphCopy = self.enc.graph_copy("__moved")
        ctx = self.enc.ctx
        self.mine = _Decided(spec, self.enc.nodes, self.enc.outcomes, ctx)
        self.theirs = _Decided(spec, self.copy.nodes, self.copy.outcomes, ctx)
        self.scope = build_scope(spec)
        self.engine = Engine(spec, exact=False)

    def ties(self, moved: Sequence[str]) -> list[z3.BoolRef]:
        """p' equals p except the moved inputs, which are known in both and within error of p's value."""
        p, q = self.enc.inputs, self.copy.inputs
        out: list[z3.BoolRef] = []
        for name, var in self.spec.variables.items():
            if name not in moved:
                out.append(p.known[name] == q.known[name])
                out.append(p.values[name] == q.values[name])
                continue
            err = var.measurement_error
            assert err is not None
            is_int = var.type.base == Base.INT
            pv, qv = _real(p.values[name], is_int), _real(q.values[name], is_int)
            amount = z3.RealVal(str(Fraction(exact(err.amount))), self.enc.ctx)  # 0.2 is 1/5, not its binary float
            half = amount if err.kind is ErrorKind.ABSOLUTE else amount * z3.If(pv >= 0, pv, -pv)
            out += [p.known[name], q.known[name], qv - pv <= half, pv - qv <= half]
        return out

    def block(self, old: str, new: str, cuts: Sequence[tuple[str, Exact, str]]) -> z3.BoolRef:
        """This pair of recommendations across all of these cut points (and maybe more)."""
        return mk_and(self.mine.lit[old], self.theirs.lit[new], *(self.crossed(n, c, s) for n, c, s in cuts))

    def crossed(self, name: str, c: Exact, side: str) -> z3.BoolRef:
        """p's and p''s values of ``name`` lie on different sides of cut ``c`` (as the spec's comparisons tell)."""
        var = self.spec.variables[name]
        is_int = var.type.base == Base.INT
        k = z3.RealVal(str(Fraction(c)), self.enc.ctx)
        pv = _real(self.enc.inputs.values[name], is_int)
        qv = _real(self.copy.inputs.values[name], is_int)
        if side == "up":
            return z3.Xor(pv >= k, qv >= k)
        if side == "down":
            return z3.Xor(pv > k, qv > k)
        return z3.Or(z3.Xor(pv > k, qv > k), z3.Xor(pv < k, qv < k))


def robustness(
    spec: Spec, *, cap: int = DEFAULT_CAP, rlimit: int = DEFAULT_RLIMIT, inputs: Sequence[str] | None = None
) -> Robustness:
    """The flips within error of ``spec``'s measured inputs (each alone, then all together)."""
    measured = tuple(n for n, v in spec.variables.items() if v.measurement_error is not None)
    if inputs is not None:
        measured = tuple(n for n in measured if n in inputs)
    if not measured:
        return Robustness(spec, (), (), cap)
    q = _Question(spec, rlimit)
    scopes = [_ask(q, (n,), n, cap, ()) for n in measured]
    if len(measured) > 1:
        # together: only what no input alone explains (a flip across a cut one input's region has)
        alone = [r for s in scopes for r in s.regions]
        scopes.append(_ask(q, measured, ALL, cap, alone))
    return Robustness(spec, measured, tuple(scopes), cap)


def _ask(q: _Question, moved: Sequence[str], name: str, cap: int, known: Sequence[Region]) -> Scope:
    enc = q.enc
    solver = enc.solver
    flips = [mk_and(q.mine.lit[a], q.theirs.lit[b]) for a in q.mine.codes for b in q.theirs.codes if a != b]
    regions: list[Region] = []
    cap_hit = False
    solver.push()
    try:
        solver.add(*q.ties(moved))
        solver.add(mk_or(*flips, ctx=enc.ctx))
        for k in known:
            solver.add(z3.Not(q.block(k.old, k.new, [(c.input, c.exact, c.side) for c in k.crossings])))
        while True:
            r = enc.check()
            if r == z3.unknown:
                raise Undecided(solver.reason_unknown())
            if r == z3.unsat:
                break
            if len(regions) >= cap:
                cap_hit = True
                break
            model = solver.model()
            old = _code(q.mine, model)
            new = _code(q.theirs, model)
            cuts = [
                (n, c, side)
                for n in moved
                for c, side in q.scope.cuts.get(n, ())
                if z3.is_true(model.eval(q.crossed(n, c, side), model_completion=True))
            ]
            witness = enc.witness(model)
            moved_patient = enc.witness(model, q.copy.inputs)
            regions.append(_region(q, name, old, new, cuts, witness, moved_patient))
            # block this pair of recommendations across these cut points (all of them: a superset too)
            solver.add(z3.Not(q.block(old, new, cuts)))
    finally:
        solver.pop()
    # flips between two definitive recommendations first (the ones a clinician would act on)
    regions.sort(key=lambda g: INSUFFICIENT_DATA in (g.old, g.new))
    return Scope(name, tuple(regions), cap_hit)


def _code(d: _Decided, model: z3.ModelRef) -> str:
    for c in d.codes:
        if z3.is_true(model.eval(d.lit[c], model_completion=True)):
            return c
    raise AssertionError("a flip model decides both patients")


def _number(c: Exact) -> int | float:
    return int(c) if isinstance(c, int) or c.denominator == 1 else float(c)


def _uses(spec: Spec, name: str, value: float) -> tuple[str, ...]:
    """Where the spec compares ``name`` with ``value``: ``IL-6 ≥ 500 pg/mL (definition:x)``."""
    var = spec.variables[name]
    unit = f" {var.unit}" if var.unit else ""
    out: dict[str, None] = {}
    for cmp in spec.index.comparisons:
        if cmp.input == name and cmp.value == value:
            op = cmp.op if cmp.input_left else {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(cmp.op, cmp.op)
            out[f"{var.label} {_SYMBOL.get(op, op)} {value:g}{unit} ({cmp.element})"] = None
    return tuple(out)


def _region(
    q: _Question,
    scope: str,
    old: str,
    new: str,
    cuts: Sequence[tuple[str, Exact, str]],
    witness: dict[str, Any],
    moved: dict[str, Any],
) -> Region:
    spec = q.spec
    crossings = tuple(Crossing(n, _number(c), _uses(spec, n, float(c)), c, side) for n, c, side in cuts)
    parts: list[str] = []
    for name in spec.variables:
        if name not in witness or witness.get(name) == moved.get(name):
            continue
        across = [c for c in crossings if c.input == name]
        if not across and name not in q.scope.opaque:  # moved, but its comparisons all stay as they were
            continue
        var = spec.variables[name]
        err = var.measurement_error
        assert err is not None
        unit = f" {var.unit}" if var.unit else ""
        where = " across " + ", ".join(f"{c.threshold:g}{unit}" for c in across) if across else " (read by arithmetic)"
        was, could = _shown(witness[name]), _shown(moved[name])
        parts.append(f"{var.label} {was}{unit} could be {could}{unit} within {err.text(var.unit)}{where}")
    description = "; ".join(parts) + f": {old} becomes {new}" if parts else f"{old} becomes {new}"
    parted = _rerun(q.engine, witness, moved, old, new)
    if parted is not None and parted in spec.nodes:  # where the two routes part, in the spec's words
        description += f" (at {parted}: {' '.join(spec.nodes[parted].question.split())})"
    return Region(scope, old, new, crossings, description, witness, moved, parted is not None)


def _shown(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


def _rerun(engine: Engine, witness: Mapping[str, Any], moved: Mapping[str, Any], old: str, new: str) -> str | None:
    """Re-run both witnesses through the three-valued engine: the node where their paths part when they
    give the recommendations the solver found, else None (not reproduced)."""
    try:
        a, b = engine.evaluate(witness), engine.evaluate(moved)
    except (PatientError, SpecDefectError):
        return None
    if a.recommendation != old or b.recommendation != new:
        return None
    shared = [x for x, y in zip(a.path, b.path, strict=False) if x == y]
    return shared[-1] if shared else ""


__all__ = ["ALL", "DEFAULT_CAP", "Crossing", "Region", "Robustness", "Scope", "robustness"]


# ------------------------------------------------------------------ writers
def to_json(r: Robustness) -> dict[str, Any]:
    """``{"spec", "measured", "robust", "cap", "cap_hit", "regions": [...]}`` (stable key order)."""
    md = r.spec.metadata
    measured = []
    for name in r.measured:
        var = r.spec.variables[name]
        err = var.measurement_error
        assert err is not None
        measured.append({"input": name, err.kind.value: err.amount, "unit": var.unit, "cites": list(err.cites)})
    return {
        "spec": {"id": md.id, "version": md.version, "sha256": r.spec.sha256},
        "measured": measured,
        "robust": not r.regions,
        "cap": r.cap,
        "cap_hit": r.cap_hit,
        "confirmed": r.confirmed,
        "scopes": [{"scope": s.name, "regions": len(s.regions), "cap_hit": s.cap_hit} for s in r.scopes],
        "regions": [g.to_dict() for g in r.regions],
    }


def to_text(r: Robustness) -> str:
    """The human report: per measured input its error and regions, then all inputs together."""
    import json

    spec = r.spec
    md = spec.metadata
    lines = [f"robustness of {md.id} {md.version} (sha256 {spec.sha256[:12]}) within the declared measurement errors"]
    if not r.measured:
        lines.append("  no input declares a measurement error: nothing to check")
    for s in r.scopes:
        if s.name == ALL:
            head = "all measured inputs together (flips no input alone explains)"
        else:
            var = spec.variables[s.name]
            err = var.measurement_error
            assert err is not None
            head = f"{s.name} ({var.label} {err.text(var.unit)} [{', '.join(err.cites)}])"
        lines.append(f"  {head}: {len(s.regions) or 'no'} region{'s' if len(s.regions) != 1 else ''}")
        for g in s.regions:
            lines.append(f"    - {g.description}")
            for c in g.crossings:
                if c.uses:
                    lines.append(f"        threshold: {'; '.join(c.uses)}")
            lines.append(f"        measured: {json.dumps(dict(g.witness), ensure_ascii=False)}")
            lines.append(f"        moved:    {json.dumps(dict(g.moved), ensure_ascii=False)}")
            if not g.confirmed:
                lines.append(
                    "        ERROR: the engine does not reproduce this pair (a toolkit defect: please report it)"
                )
        if s.cap_hit:
            lines.append(f"    cap hit: more than {r.cap} regions; raise --cap to list them all")
    n = len(r.regions)
    if r.measured:
        verdict = (
            "robust: no recommendation flips within the declared errors (proven)"
            if not n
            else f"{n} region{'s' if n != 1 else ''} where the recommendation flips within the declared errors"
            + (" (cap hit: not all listed)" if r.cap_hit else "")
        )
        lines.append(f"result: {verdict}")
    return "\n".join(lines) + "\n"


def to_sarif(r: Robustness, *, tool_version: str) -> dict[str, Any]:
    """A SARIF 2.1.0 log: a warning per region, located at the moved input's ``measurement_error``
    (for all inputs together: at the first input with a cut point crossed)."""
    from crs_model.verify.report import sarif_log

    spec = r.spec
    results: list[dict[str, Any]] = []
    for g in r.regions:
        name = g.scope if g.scope != ALL else next((c.input for c in g.crossings), r.measured[0])
        err = spec.variables[name].measurement_error
        assert err is not None
        results.append(
            {
                "ruleId": "robustness",
                "ruleIndex": 0,
                "level": "warning",
                "message": {"text": g.description},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": err.loc.file},
                            "region": {"startLine": err.loc.line, "startColumn": err.loc.column},
                        },
                        "logicalLocations": [{"fullyQualifiedName": f"variable:{name}"}],
                    }
                ],
                "properties": {"witness": dict(g.witness), "moved": dict(g.moved), "old": g.old, "new": g.new},
            }
        )
    rule = {
        "id": "robustness",
        "name": "robustness",
        "shortDescription": {"text": "the recommendation flips within a measured input's declared error"},
    }
    artifacts = [{"location": {"uri": str(spec.path)}, "hashes": {"sha-256": spec.sha256}}]
    return sarif_log("crs-model robustness", tool_version, [rule], artifacts, results, information_uri=None)
