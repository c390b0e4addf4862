"""FHIR resources -> the flat patient the engine takes, with provenance and what was ignored.

Each resource is matched to the mapping's rules by its type and codes, then filtered by status
and time window (a resource left out is listed in ``ignored`` with the reason), its value read
and converted, and the survivors of each rule aggregated. Assessment observations
(``code`` = the input name) override what the rules derived. The result is validated against the
spec's domains; a bad value is a :class:`PatientError` naming the resource it came from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crs_model.errors import FhirError, PatientError
from crs_model.fhir.fhirtime import PartialTime, completed_years, parse_date, parse_instant
from crs_model.fhir.mapping import Aggregate, FhirMapping, Rule, Units, ValueKind
from crs_model.fhir.pool import Resource, pool
from crs_model.fhir.units import UnitError, convert, significant
from crs_model.hints import did_you_mean
from crs_model.model import Spec
from crs_model.types import Base

UCUM = "http://unitsofmeasure.org"
_ASSESSMENT = "assessment"
_ASSESSMENT_KEYS = {Base.BOOL: "valueBoolean", Base.INT: "valueInteger", Base.ENUM: "valueCodeableConcept"}


@dataclass(slots=True)
class Mapped:
    """The mapped patient, where each value came from, and the resources left out and why."""

    patient: dict[str, Any]
    provenance: dict[str, list[dict[str, Any]]]
    ignored: list[dict[str, str]]

    def to_dict(self) -> dict[str, Any]:
        """``{"patient": ..., "provenance": ..., "ignored": [...]}`` (JSON-ready)."""
        return {"patient": self.patient, "provenance": self.provenance, "ignored": self.ignored}


@dataclass(frozen=True, slots=True)
class _Hit:
    """One resource that counts for one rule."""

    rid: str
    time: datetime | None
    value: Any
    code: str
    note: dict[str, Any]


@dataclass(slots=True)
class _State:
    at: datetime
    ignored: dict[tuple[str, str], None] = field(default_factory=dict)  # ordered set

    def ignore(self, rid: str, reason: str) -> None:
        self.ignored[(rid, reason)] = None


def _codings(body: Mapping[str, Any], key: str, rid: str) -> list[tuple[str, str]]:
    concept = body.get(key)
    if concept is None:
        return []
    if not isinstance(concept, Mapping):
        raise FhirError(rid, f"{key} must be a CodeableConcept (a JSON object)")
    codings = concept.get("coding", [])
    if not isinstance(codings, list):
        raise FhirError(rid, f"{key}.coding must be a list")
    out = []
    for c in codings:
        if isinstance(c, Mapping) and isinstance(c.get("system"), str) and isinstance(c.get("code"), str):
            out.append((c["system"], c["code"]))
    return out


def _time(r: Resource, kind: str) -> tuple[str | None, str | None]:
    """The resource's start (or only) time text and its period end text."""
    b = r.body
    for key in (f"{kind}DateTime", f"{kind}Instant"):
        if key in b:
            v = b[key]
            if not isinstance(v, str):
                raise FhirError(r.rid, f"{key} must be a string, got {v!r}")
            return v, None
    period = b.get(f"{kind}Period")
    if period is None:
        return None, None
    if not isinstance(period, Mapping):
        raise FhirError(r.rid, f"{kind}Period must be a Period (a JSON object)")
    start, end = period.get("start"), period.get("end")
    if (start is not None and not isinstance(start, str)) or (end is not None and not isinstance(end, str)):
        raise FhirError(r.rid, f"{kind}Period.start/end must be dateTime strings")
    return start, end


def _instant(text: str, r: Resource, what: str) -> datetime:
    try:
        return parse_instant(text)
    except PartialTime:
        raise
    except ValueError as exc:
        raise FhirError(r.rid, f"{what}: {exc}") from None


class _Mapper:
    def __init__(self, spec: Spec, mapping: FhirMapping) -> None:
        self.spec = spec
        self.mapping = mapping
        self.by_code: dict[tuple[str, str, str], list[Rule]] = {}
        self.patient_rules: list[Rule] = []
        self.types = {rule.resource for rule in mapping.rules} | {"Observation"}  # Observation: assessments
        for rule in mapping.rules:
            if rule.resource == "Patient":
                self.patient_rules.append(rule)
            for code in rule.codes:
                assert rule.system is not None
                self.by_code.setdefault((rule.resource, rule.system, code), []).append(rule)
        from crs_model.patient import PatientValidator

        self.validator = PatientValidator(spec)

    # ---------------------------------------------------------------- one resource
    def value(self, rule: Rule | None, name: str, r: Resource, st: _State) -> tuple[Any, dict[str, Any]] | None:
        b = r.body
        base = self.spec.variables[name].type.base
        if rule is not None:
            key = "valueQuantity" if rule.value == ValueKind.QUANTITY else "valueCodeableConcept"
        else:  # an assessment: the value type follows the input's type
            key = _ASSESSMENT_KEYS.get(base, "valueQuantity")
        if key not in b:
            if "dataAbsentReason" in b:
                st.ignore(r.rid, f"no value for {name} (dataAbsentReason)")
                return None
            if key == "valueInteger" and "valueQuantity" in b and name in self.mapping.units:
                key = "valueQuantity"
            else:
                found = sorted(k for k in b if k.startswith("value")) or ["no value"]
                raise FhirError(r.rid, f"{name} expects {key}, found {', '.join(found)}")
        v = b[key]
        if key == "valueBoolean":
            if not isinstance(v, bool):
                raise FhirError(r.rid, f"valueBoolean must be true or false, got {v!r}")
            return v, {"value": v}
        if key == "valueInteger":
            if type(v) is not int:
                raise FhirError(r.rid, f"valueInteger must be an integer, got {v!r}")
            return v, {"value": v}
        if key == "valueCodeableConcept":
            return self.coded(rule, name, r, v)
        return self.quantity(name, r, v, st)

    def coded(self, rule: Rule | None, name: str, r: Resource, v: Any) -> tuple[Any, dict[str, Any]]:
        codings = _codings({"c": v}, "c", r.rid)
        if rule is not None:
            system, table = rule.value_system, dict(rule.value_map)
        else:
            system, table = self.mapping.assessments.system, {x: x for x in self.spec.variables[name].type.values}
        for s, c in codings:
            if s == system and c in table:
                return table[c], {"value": f"{s}|{c}"}
        shown = ", ".join(f"{s}|{c}" for s, c in codings) or "no coding"
        raise FhirError(
            r.rid, f"valueCodeableConcept for {name}: {shown}; expected a code of {system}: {', '.join(table)}"
        )

    def quantity(self, name: str, r: Resource, q: Any, st: _State) -> tuple[Any, dict[str, Any]] | None:
        units: Units | None = self.mapping.units.get(name)
        if units is None:
            raise FhirError(r.rid, f"valueQuantity for {name}, which the mapping gives no units")
        if not isinstance(q, Mapping):
            raise FhirError(r.rid, "valueQuantity must be a Quantity (a JSON object)")
        value = q.get("value")
        if type(value) not in (int, float) or not math.isfinite(value):  # type: ignore[arg-type]
            raise FhirError(r.rid, f"valueQuantity.value must be a finite number, got {value!r}")
        if q.get("comparator") is not None:
            st.ignore(r.rid, f"censored value for {name} (comparator '{q['comparator']}')")
            return None
        code, system = q.get("code"), q.get("system")
        if not isinstance(code, str) or not code:
            shown = f" (unit text {q['unit']!r} is display text)" if "unit" in q else ""
            raise FhirError(
                r.rid, f"valueQuantity for {name} has no UCUM code{shown}; accepted: {', '.join(units.accept)}"
            )
        if system is not None and system != UCUM:
            raise FhirError(r.rid, f"valueQuantity.system is {system!r}, not UCUM ({UCUM})")
        if code not in units.accept:
            # a hint only for a case slip (mg/dl): a suggestion across dimensions would be a guess
            same = [u for u in units.accept if u.lower() == code.lower()]
            hint = f" (did you mean '{same[0]}'?)" if same else ""
            raise FhirError(
                r.rid, f"unit '{code}' is not accepted for {name}{hint} (accepted: {', '.join(units.accept)})"
            )
        try:
            converted = convert(float(value), code, units.unit)  # type: ignore[arg-type]
        except UnitError as exc:  # pragma: no cover - every accepted unit was converted at load
            raise FhirError(r.rid, str(exc)) from None
        note: dict[str, Any] = {"value": value, "unit": code}
        if code != units.unit:
            note["converted"] = converted
            note["to"] = units.unit
        base = self.spec.variables[name].type.base
        if base == Base.INT:
            if converted != int(converted):
                raise FhirError(r.rid, f"{name} is a whole number; {value} {code} is {converted} {units.unit}")
            return int(converted), note
        return converted, note

    def windowed(self, rule_name: str, statuses: frozenset[str], window: float | None, r: Resource, st: _State,
                 kind: str) -> datetime | None:  # fmt: skip
        """The resource's time if it counts, else None (and the reason is recorded)."""
        status = r.body.get("status")
        if not isinstance(status, str):
            raise FhirError(r.rid, f"{r.type}.status is required, got {status!r}")
        if status not in statuses:
            st.ignore(
                r.rid, f"status '{status}' does not count for {rule_name} (counts: {', '.join(sorted(statuses))})"
            )
            return None
        start, end = _time(r, kind)
        if start is None:
            st.ignore(r.rid, f"no {kind} time: cannot place it in the window for {rule_name}")
            return None
        try:
            t = _instant(start, r, kind)
            t_end = _instant(end, r, f"{kind}Period.end") if end is not None else None
        except PartialTime as exc:
            st.ignore(r.rid, f"{kind} time {exc}: cannot place it in the window for {rule_name}")
            return None
        if t > st.at:
            st.ignore(r.rid, f"{kind} {start} is after the reference time")
            return None
        if window is not None and (st.at - t).total_seconds() > window * 3600:
            age = significant(round((st.at - t).total_seconds() / 3600, 1))
            st.ignore(r.rid, f"stale for {rule_name}: {age:g} h before the reference time (window {window:g} h)")
            return None
        if status == "in-progress" and t_end is not None and t_end < st.at:
            st.ignore(r.rid, f"'in-progress' but its period ended at {end}, before the reference time")
            return None
        return t

    def hit(self, rule: Rule, code: str, r: Resource, st: _State) -> _Hit | None:
        kind = {"Observation": "effective", "MedicationAdministration": "effective", "Procedure": "performed"}[r.type]
        t = self.windowed(rule.input, rule.statuses, rule.window_hours, r, st, kind)
        if t is None:
            return None
        value: Any = None
        note: dict[str, Any] = {}
        if rule.value != ValueKind.NONE:
            got = self.value(rule, rule.input, r, st)
            if got is None:
                return None
            value, note = got
        return _Hit(r.rid, t, value, code, note)

    def birth(self, rule: Rule, r: Resource, st: _State) -> _Hit | None:
        text = r.body.get("birthDate")
        if text is None:
            st.ignore(r.rid, "no birthDate")
            return None
        if not isinstance(text, str):
            raise FhirError(r.rid, f"birthDate must be a date string, got {text!r}")
        try:
            born = parse_date(text)
        except PartialTime as exc:
            st.ignore(r.rid, f"birthDate {exc}: age not computed")
            return None
        except ValueError as exc:
            raise FhirError(r.rid, f"birthDate: {exc}") from None
        years = completed_years(born, st.at.date())
        if years < 0:
            raise FhirError(r.rid, f"birthDate {text} is after the reference time")
        return _Hit(r.rid, None, years, "", {"birthDate": text})

    # ---------------------------------------------------------------- aggregation
    def aggregate(self, rule: Rule, hits: list[_Hit], types: set[str], st: _State) -> tuple[Any, list[dict[str, Any]]]:
        agg = rule.aggregate

        def prov(h: _Hit, **extra: Any) -> dict[str, Any]:
            d: dict[str, Any] = {"resource": h.rid}
            if h.code:
                d["code"] = f"{rule.system}|{h.code}"
                if h.code in rule.unverified:
                    d["unverified_code"] = True
            if h.time is not None:
                d["time"] = h.time.isoformat()
            d.update(h.note)
            d.update(extra)
            return d

        if not hits:
            if rule.if_none is not None and rule.resource in types:
                return rule.if_none, [{"rule": f"none of the {rule.resource} resources matches", "value": rule.if_none}]
            return None, []
        if agg in (Aggregate.LATEST, Aggregate.HIGHEST):
            key = (lambda h: (h.time, h.rid)) if agg == Aggregate.LATEST else (lambda h: (h.value, h.time, h.rid))
            best = max(hits, key=key)
            for h in hits:
                if h is not best:
                    word = "later" if agg == Aggregate.LATEST else "higher"
                    st.ignore(h.rid, f"superseded for {rule.input} by the {word} {best.rid}")
            return best.value, [prov(best, rule=f"{agg.value} of {len(hits)}")]
        if agg == Aggregate.AGE:
            if len({h.value for h in hits}) > 1:
                raise FhirError(hits[1].rid, f"a second Patient with another birthDate than {hits[0].rid}")
            return hits[0].value, [prov(hits[0])]
        ordered = sorted(hits, key=lambda h: (h.time, h.rid))
        if agg == Aggregate.COUNT:
            return len(hits), [prov(h) for h in ordered]
        if agg == Aggregate.COUNT_DISTINCT:
            return len({h.code for h in hits}), [prov(h) for h in ordered]
        if agg == Aggregate.ANY:
            return True, [prov(h) for h in ordered]
        pick = ordered[-1] if agg == Aggregate.HOURS_SINCE_LATEST else ordered[0]
        assert pick.time is not None
        hours = significant(round((st.at - pick.time).total_seconds() / 3600, 4))
        return hours, [prov(pick, rule=agg.value)]

    # ---------------------------------------------------------------- whole input
    def run(self, items: Iterable[Mapping[str, Any] | None], at: datetime) -> Mapped:
        st = _State(at)
        resources = pool(items)
        hits: dict[str, list[_Hit]] = {r.input: [] for r in self.mapping.rules}
        assessed: dict[str, list[_Hit]] = {}
        types = {r.type for r in resources}
        asys = self.mapping.assessments.system
        for r in resources:
            if r.type == "Patient":
                for rule in self.patient_rules:
                    h = self.birth(rule, r, st)
                    if h is not None:
                        hits[rule.input].append(h)
                continue
            key = "medicationCodeableConcept" if r.type == "MedicationAdministration" else "code"
            codings = _codings(r.body, key, r.rid)
            matched = False
            for system, code in codings:
                if r.type == "Observation" and system == asys:
                    matched = True
                    self.assessment(code, r, st, assessed)
                    continue
                for rule in self.by_code.get((r.type, system, code), ()):
                    matched = True
                    h = self.hit(rule, code, r, st)
                    if h is not None:
                        hits[rule.input].append(h)
            if not matched:
                if r.type not in self.types:
                    st.ignore(r.rid, f"no mapping rule reads {r.type} resources")
                else:
                    shown = ", ".join(f"{s}|{c}" for s, c in codings) if codings else f"no {key} coding"
                    st.ignore(r.rid, f"no mapping rule for {r.type} {shown}")
        patient: dict[str, Any] = {}
        provenance: dict[str, list[dict[str, Any]]] = {}
        for rule in self.mapping.rules:
            value, prov = self.aggregate(rule, hits[rule.input], types, st)
            if value is not None:
                patient[rule.input] = value
                provenance[rule.input] = prov
        for name, found in assessed.items():
            best = max(found, key=lambda h: (h.time, h.rid))
            for h in found:
                if h is not best:
                    st.ignore(h.rid, f"superseded for {name} by the later {best.rid}")
            entry: dict[str, Any] = {"resource": best.rid, "code": f"{asys}|{name}"}
            if best.time is not None:
                entry["time"] = best.time.isoformat()
            entry.update(best.note)
            if name in patient:
                entry["overrides"] = patient[name]
            patient[name] = best.value
            provenance[name] = [entry]
        order = {n: i for i, n in enumerate(self.spec.variables)}
        patient = {k: patient[k] for k in sorted(patient, key=order.__getitem__)}
        provenance = {k: provenance[k] for k in patient}
        self.check(patient, provenance)
        ignored = [{"resource": rid, "reason": reason} for rid, reason in st.ignored]
        return Mapped(patient, provenance, ignored)

    def assessment(self, name: str, r: Resource, st: _State, out: dict[str, list[_Hit]]) -> None:
        if name not in self.spec.variables:
            hint = did_you_mean(name, self.spec.variables)
            raise FhirError(r.rid, f"assessment code '{name}' is not an input of spec {self.spec.metadata.id}{hint}")
        a = self.mapping.assessments
        t = self.windowed(name, a.statuses, a.window_hours, r, st, "effective")
        if t is None:
            return
        got = self.value(None, name, r, st)
        if got is not None:
            out.setdefault(name, []).append(_Hit(r.rid, t, got[0], _ASSESSMENT, got[1]))

    def check(self, patient: dict[str, Any], provenance: dict[str, list[dict[str, Any]]]) -> None:
        try:
            self.validator.validate(patient)
        except PatientError as exc:
            rids = [str(p["resource"]) for p in provenance.get(exc.field, []) if "resource" in p]
            where = f" (from {', '.join(rids)})" if rids else ""
            raise PatientError(exc.field, f"{exc.message}{where}", exc.value, tuple(rids)) from None


__all__ = ["Mapped"]
