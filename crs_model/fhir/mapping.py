"""The FHIR mapping file: which resources, codes, units, windows and aggregations feed each input.

The mapping is data beside the spec (``SPEC.fhir.yaml``), loaded with the spec's located YAML
loader and checked against the spec: every input it names must be a spec variable whose type the
rule can produce, every unit must be UCUM and convertible to the input's unit. Problems are
``file:line:col`` :class:`~crs_model.errors.SpecError` s, all of them at once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from crs_model.errors import Location, Problem, SpecError
from crs_model.fileio import read_regular
from crs_model.hints import did_you_mean
from crs_model.model import Spec
from crs_model.source import MAX_SPEC_BYTES, YMap, YNode, YScalar, YSeq, load_yaml
from crs_model.types import Base

MAPPING_FORMAT = 1
RESOURCES = ("Observation", "MedicationAdministration", "Procedure", "Patient")


class Aggregate(enum.Enum):
    """How the matching resources of one rule become one value."""

    LATEST = "latest"  # the value of the most recent resource
    HIGHEST = "highest"  # the largest value (after unit conversion)
    COUNT = "count"  # how many resources (each administration is one)
    COUNT_DISTINCT = "count_distinct"  # how many distinct codes (each drug once)
    ANY = "any"  # true when one resource matches
    HOURS_SINCE_LATEST = "hours_since_latest"
    HOURS_SINCE_EARLIEST = "hours_since_earliest"
    AGE = "age"  # completed years from Patient.birthDate at the reference time


class ValueKind(enum.Enum):
    """What a rule reads from each resource."""

    NONE = "none"  # the resource's existence (counts, any, hours since)
    QUANTITY = "quantity"  # valueQuantity with a UCUM code
    CODED = "coded"  # valueCodeableConcept, one coding mapped to a value
    BIRTH_DATE = "birth_date"


_RESULT_BASES: dict[Aggregate, tuple[Base, ...]] = {
    Aggregate.LATEST: (Base.REAL, Base.INT, Base.BOOL, Base.ENUM),
    Aggregate.HIGHEST: (Base.REAL, Base.INT),
    Aggregate.COUNT: (Base.INT,),
    Aggregate.COUNT_DISTINCT: (Base.INT,),
    Aggregate.ANY: (Base.BOOL,),
    Aggregate.HOURS_SINCE_LATEST: (Base.REAL,),
    Aggregate.HOURS_SINCE_EARLIEST: (Base.REAL,),
    Aggregate.AGE: (Base.REAL, Base.INT),
}


@dataclass(frozen=True, slots=True)
class Units:
    """The UCUM unit an input is expressed in and the units accepted for it (each convertible)."""

    unit: str
    accept: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """One input from one kind of resource."""

    input: str
    resource: str
    system: str | None
    codes: tuple[str, ...]
    unverified: frozenset[str]
    value: ValueKind
    value_system: str | None  # CODED: the system of the mapped codings
    value_map: tuple[tuple[str, bool | int | str], ...]  # CODED: code -> input value
    statuses: frozenset[str]
    window_hours: float | None
    aggregate: Aggregate
    if_none: bool | int | None  # the value when none matches but the input holds this resource type
    loc: Location


@dataclass(frozen=True, slots=True)
class Assessments:
    """Observations that carry any input directly: ``code`` = the input name in ``system``."""

    system: str
    statuses: frozenset[str]
    window_hours: float


@dataclass(frozen=True, slots=True)
class FhirMapping:
    """A loaded, checked mapping file for one spec."""

    path: str
    spec_id: str
    rules: tuple[Rule, ...]
    units: dict[str, Units]
    assessments: Assessments


class _Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, loc: Location, message: str) -> None:
        self.items.append(Problem(loc, message))


def _keys(node: YMap, allowed: tuple[str, ...], required: tuple[str, ...], what: str, p: _Problems) -> bool:
    ok = True
    for key, (knode, _) in node.items.items():
        if key not in allowed:
            p.add(
                knode.loc, f"unknown key '{key}' in {what}{did_you_mean(key, allowed)} (expected {', '.join(allowed)})"
            )
            ok = False
    for key in required:
        if key not in node.items:
            p.add(node.loc, f"{what} has no '{key}'")
            ok = False
    return ok


def _str(node: YNode, what: str, p: _Problems) -> str | None:
    if isinstance(node, YScalar) and isinstance(node.value, str) and node.value:
        return node.value
    shown = node.value if isinstance(node, YScalar) else type(node).__name__
    p.add(node.loc, f'{what} must be a non-empty string, got {shown!r} (quote codes such as "8310-5")')
    return None


def _strs(node: YNode, what: str, p: _Problems) -> list[str]:
    if not isinstance(node, YSeq) or not node.items:
        p.add(node.loc, f"{what} must be a non-empty list of strings")
        return []
    out = [s for item in node.items if (s := _str(item, f"each of {what}", p)) is not None]
    seen: set[str] = set()
    for item, s in zip(node.items, out, strict=False):
        if s in seen:
            p.add(item.loc, f"'{s}' appears twice in {what}")
        seen.add(s)
    return out


def _hours(node: YNode, what: str, p: _Problems) -> float | None:
    if isinstance(node, YScalar) and type(node.value) in (int, float) and node.value > 0:  # type: ignore[operator]
        return float(node.value)  # type: ignore[arg-type]
    shown = node.value if isinstance(node, YScalar) else type(node).__name__
    p.add(node.loc, f"{what}={shown!r} must be a positive number of hours")
    return None


def _enum(node: YNode, cls: type[enum.Enum], what: str, p: _Problems) -> enum.Enum | None:
    s = _str(node, what, p)
    names = [m.value for m in cls]
    if s is None:
        return None
    if s not in names:
        p.add(node.loc, f"{what}='{s}' is not one of {', '.join(names)}{did_you_mean(s, names)}")
        return None
    return cls(s)


class _Loader:
    def __init__(self, spec: Spec, name: str) -> None:
        self.spec = spec
        self.name = name
        self.p = _Problems()

    def input_name(self, node: YNode, what: str) -> str | None:
        s = _str(node, what, self.p)
        if s is not None and s not in self.spec.variables:
            hint = did_you_mean(s, self.spec.variables)
            self.p.add(node.loc, f"{what}: '{s}' is not an input of spec {self.spec.metadata.id}{hint}")
            return None
        return s

    def units(self, node: YNode) -> dict[str, Units]:
        from crs_model.fhir.units import UnitError, affine

        out: dict[str, Units] = {}
        if not isinstance(node, YMap):
            self.p.add(node.loc, "units must map input names to {unit, accept}")
            return out
        for key, (knode, value) in node.items.items():
            name = self.input_name(knode, "units")
            if not isinstance(value, YMap) or not _keys(value, ("unit", "accept"), ("unit", "accept"), key, self.p):
                continue
            unit = _str(value.items["unit"][1], f"{key}.unit", self.p)
            accept = _strs(value.items["accept"][1], f"{key}.accept", self.p)
            if unit is None or name is None:
                continue
            if self.spec.variables[name].type.base not in (Base.REAL, Base.INT):
                self.p.add(knode.loc, f"{name} is not numeric: it has no unit")
                continue
            accept_node = value.items["accept"][1]
            assert isinstance(accept_node, YSeq)
            for code, item in zip(accept, accept_node.items, strict=False):
                try:
                    affine(code, unit)
                except UnitError as exc:
                    self.p.add(item.loc, f"{key}.accept: {exc}")
            out[name] = Units(unit, tuple(accept))
        return out

    def coded(
        self, node: YMap, what: str, base: Base | None, values: tuple[str, ...]
    ) -> tuple[str | None, tuple[tuple[str, bool | int | str], ...]]:
        if not _keys(node, ("system", "codes"), ("system", "codes"), what, self.p):
            return None, ()
        system = _str(node.items["system"][1], f"{what}.system", self.p)
        codes = node.items["codes"][1]
        if not isinstance(codes, YMap) or not codes.items:
            self.p.add(codes.loc, f"{what}.codes must map each code to the input's value")
            return system, ()
        pairs: list[tuple[str, bool | int | str]] = []
        for code, (_, vnode) in codes.items.items():
            v = vnode.value if isinstance(vnode, YScalar) else None
            fits = (
                (base == Base.BOOL and isinstance(v, bool))
                or (base == Base.ENUM and isinstance(v, str) and v in values)
                or (base == Base.INT and type(v) is int)
            )
            if not fits:
                self.p.add(vnode.loc, f"{what}.codes['{code}']={v!r} is not a value of the input")
            else:
                assert isinstance(v, bool | int | str)
                pairs.append((code, v))
        return system, tuple(pairs)

    def rule(self, node: YNode, units: dict[str, Units]) -> Rule | None:
        p = self.p
        allowed = (
            "input", "resource", "system", "codes", "unverified", "value", "statuses", "window_hours",
            "aggregate", "if_none", "note",
        )  # fmt: skip
        if not isinstance(node, YMap):
            p.add(node.loc, "each rule must be a mapping")
            return None
        if not _keys(node, allowed, ("input", "resource", "aggregate"), "rule", p):
            return None
        it = node.items
        name = self.input_name(it["input"][1], "input")
        resource = _str(it["resource"][1], "resource", p)
        if resource is not None and resource not in RESOURCES:
            p.add(it["resource"][1].loc, f"resource='{resource}' is not one of {', '.join(RESOURCES)}")
            return None
        agg = _enum(it["aggregate"][1], Aggregate, "aggregate", p)
        if name is None or resource is None or not isinstance(agg, Aggregate):
            return None
        var = self.spec.variables[name]
        if var.type.base not in _RESULT_BASES[agg]:
            p.add(it["aggregate"][1].loc, f"aggregate '{agg.value}' cannot give {name} (a {var.type.base.value})")
        is_patient = resource == "Patient"
        if is_patient != (agg == Aggregate.AGE):
            p.add(node.loc, "a Patient rule is aggregate 'age', and aggregate 'age' reads a Patient")
        system = _str(it["system"][1], "system", p) if "system" in it else None
        codes = tuple(_strs(it["codes"][1], "codes", p)) if "codes" in it else ()
        if not is_patient and (system is None or not codes):
            p.add(node.loc, f"rule for {name} needs 'system' and 'codes'")
        unverified = frozenset(_strs(it["unverified"][1], "unverified", p)) if "unverified" in it else frozenset()
        for code in sorted(unverified - set(codes)):
            p.add(it["unverified"][1].loc, f"unverified code '{code}' is not among the rule's codes")
        statuses = frozenset(_strs(it["statuses"][1], "statuses", p)) if "statuses" in it else frozenset()
        if not is_patient and not statuses:
            p.add(node.loc, f"rule for {name} needs 'statuses' (the statuses that count)")
        window = _hours(it["window_hours"][1], "window_hours", p) if "window_hours" in it else None
        if not is_patient and window is None:
            p.add(node.loc, f"rule for {name} needs 'window_hours' (how far back before the reference time)")
        kind, vsys = ValueKind.NONE, None
        vmap: tuple[tuple[str, bool | int | str], ...] = ()
        if is_patient:
            kind = ValueKind.BIRTH_DATE
        elif "value" in it:
            vnode = it["value"][1]
            if isinstance(vnode, YScalar) and vnode.value == "quantity":
                kind = ValueKind.QUANTITY
                if name not in units:
                    p.add(vnode.loc, f"value 'quantity' for {name}, but 'units' declares none for it")
            elif isinstance(vnode, YMap):
                kind = ValueKind.CODED
                vsys, vmap = self.coded(vnode, "value", var.type.base, var.type.values)
            else:
                p.add(vnode.loc, "value must be 'quantity' or {system, codes: {code: value}}")
        if kind == ValueKind.NONE and agg in (Aggregate.LATEST, Aggregate.HIGHEST):
            p.add(node.loc, f"aggregate '{agg.value}' needs a 'value' to read")
        if kind != ValueKind.NONE and agg in (Aggregate.COUNT, Aggregate.COUNT_DISTINCT, Aggregate.ANY):
            p.add(node.loc, f"aggregate '{agg.value}' reads no value; drop 'value'")
        if_none: bool | int | None = None
        if "if_none" in it:
            v = it["if_none"][1]
            raw = v.value if isinstance(v, YScalar) else None
            ok = (var.type.base == Base.BOOL and isinstance(raw, bool)) or (
                var.type.base == Base.INT and type(raw) is int
            )
            if not ok or agg not in (Aggregate.COUNT, Aggregate.COUNT_DISTINCT, Aggregate.ANY):
                p.add(v.loc, f"if_none={raw!r}: only a count (an integer) or 'any' (a boolean) has a value for none")
            else:
                assert isinstance(raw, bool | int)
                if_none = raw
        return Rule(
            name, resource, system, codes, unverified, kind, vsys, vmap, statuses, window, agg, if_none, node.loc
        )

    def assessments(self, node: YNode) -> Assessments | None:
        p = self.p
        if not isinstance(node, YMap) or not _keys(
            node, ("system", "statuses", "window_hours"), ("system", "statuses", "window_hours"), "assessments", p
        ):
            return None
        system = _str(node.items["system"][1], "assessments.system", p)
        statuses = _strs(node.items["statuses"][1], "assessments.statuses", p)
        window = _hours(node.items["window_hours"][1], "assessments.window_hours", p)
        if system is None or window is None:
            return None
        return Assessments(system, frozenset(statuses), window)

    def load(self, root: YNode) -> FhirMapping:
        p = self.p
        top = ("mapping_format", "spec", "units", "rules", "assessments", "note")
        if not isinstance(root, YMap):
            raise SpecError(Problem(root.loc, "a mapping file is a YAML mapping"))
        if not _keys(root, top, ("mapping_format", "spec", "rules", "assessments"), "the mapping file", p):
            raise SpecError(p.items)
        it = root.items
        fmt = it["mapping_format"][1]
        if not (isinstance(fmt, YScalar) and fmt.value == MAPPING_FORMAT):
            p.add(fmt.loc, f"mapping_format must be {MAPPING_FORMAT}")
        spec_node = it["spec"][1]
        spec_id = _str(spec_node, "spec", p)
        if spec_id is not None and spec_id != self.spec.metadata.id:
            p.add(spec_node.loc, f"spec='{spec_id}': this mapping is checked against spec {self.spec.metadata.id}")
        units = self.units(it["units"][1]) if "units" in it else {}
        rules_node = it["rules"][1]
        rules: list[Rule] = []
        if not isinstance(rules_node, YSeq):
            p.add(rules_node.loc, "rules must be a list")
        else:
            first: dict[str, Location] = {}
            for item in rules_node.items:
                r = self.rule(item, units)
                if r is None:
                    continue
                if r.input in first:
                    p.add(r.loc, f"a second rule for {r.input} (the first is at line {first[r.input].line})")
                first.setdefault(r.input, r.loc)
                rules.append(r)
        assessments = self.assessments(it["assessments"][1])
        if p.items or assessments is None or spec_id is None:
            raise SpecError(p.items or [Problem(root.loc, "mapping file not loaded")])
        return FhirMapping(self.name, spec_id, tuple(rules), units, assessments)


def mapping_path_for(spec: Spec) -> Path:
    """``SPEC.fhir.yaml`` beside the spec file (``cytosorb_crs.yaml`` -> ``cytosorb_crs.fhir.yaml``)."""
    path = Path(spec.path)
    return path.with_name(path.stem + ".fhir.yaml")


def load_mapping(path: str | Path, spec: Spec) -> FhirMapping:
    """Load and check a mapping file against ``spec``; :class:`SpecError` lists every located problem."""
    name = str(path)
    source = load_yaml(read_regular(path, MAX_SPEC_BYTES), name)
    return _Loader(spec, name).load(source.root)


__all__ = [
    "Aggregate",
    "Assessments",
    "FhirMapping",
    "Rule",
    "Units",
    "ValueKind",
    "load_mapping",
    "mapping_path_for",
]
