"""Verification results and their renderings: text, JSON, SARIF 2.1.0 and JUnit XML.

Pure data and formatting: no z3 here, so a report can be rendered or compared
without the solver.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from xml.etree import ElementTree as ET

from crs_model.diagnostics import Diagnostic, Location, Severity


class Check(StrEnum):
    """The verifier's check kinds, in the order they run (one module each in ``verify/checks/``)."""

    CONTRADICTION = "contradiction"
    UNREACHABLE = "unreachable"
    OVERLAP = "overlap"
    GAP = "gap"
    INVARIANT = "invariant"
    TEMPORAL = "temporal"
    MISSING_DATA = "missing-data"
    MISSING_DATA_COMPLETE = "missing-data-complete"
    REDUNDANT = "redundant"
    UNCITED = "uncited"


CHECKS: tuple[str, ...] = tuple(c.value for c in Check)  # the names, in order (the public contract)
INTERNAL = "internal"
UNDECIDED = "undecided"  # a query the solver answered ``unknown``: never a pass
SIGNOFF = "signoff"  # governance sign-off findings merged in by ``crs-model verify``


class Verdict(StrEnum):
    """What a check or an invariant established: only ``proven`` is a pass."""

    PROVEN = "proven"
    REFUTED = "refuted"
    UNKNOWN = "unknown"


_RULES = {
    "contradiction": "A guard, definition or constraint that can never hold within the input domains.",
    "unreachable": "A decision node, edge or outcome that no valid patient can reach.",
    "overlap": "Two guards of a 'unique' decision node hold together for some valid patient.",
    "gap": "A reachable patient for whom no guard of a decision node holds.",
    "invariant": "A declared safety invariant that some patient's decision violates.",
    "temporal": "A temporal invariant that some care course violates (bounded model checking), an impossible "
    "course start, or a care transition that leaves an invalid state.",
    "missing-data": "A definitive decision that a completion of the patient's absent inputs would change.",
    "missing-data-complete": "A partial patient whose valid completions all agree but whom the exact engine "
    "answers insufficient_data (a cut the exact method misses, or a decision resting only on an opaque input).",
    "redundant": "A guard conjunct already implied by every path to its node.",
    "uncited": "An edge, outcome, parameter or invariant without evidence.",
    INTERNAL: "The solver's finding did not reproduce through the engine (a verifier or engine bug).",
    UNDECIDED: "A query the solver could not decide (unknown): the element is neither proven nor refuted.",
    SIGNOFF: "The spec's exact bytes lack a governance sign-off, or the sign-off file is malformed.",
}
_ORDER = {c: i for i, c in enumerate((*CHECKS, INTERNAL, UNDECIDED, SIGNOFF))}


# A verifier result is the bottom layer's diagnostic: ``code`` (also ``.check``) is the check kind,
# and every finding is located in the spec (or in the sign-off file beside it).
Finding = Diagnostic


@dataclass(frozen=True, slots=True)
class CheckResult:
    """How one check kind went.

    ``status`` is 'passed', 'failed' or 'skipped'; ``verdict`` what it established
    (None when skipped); ``undecided`` the elements it could not decide.
    """

    name: str
    status: str
    duration_s: float
    findings: int
    verdict: Verdict | None = Verdict.PROVEN
    undecided: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The check result as JSON (``duration_s`` dropped without ``--timings``)."""
        return {
            "name": self.name,
            "status": self.status,
            "verdict": None if self.verdict is None else self.verdict.value,
            "duration_s": round(self.duration_s, 4),
            "findings": self.findings,
            "undecided": list(self.undecided),
        }


def finding_order(f: Finding) -> tuple[int, int, int, str, str]:
    """The stable order of findings in a report: by check kind, then place in the spec."""
    return (_ORDER.get(f.code, len(_ORDER)), f.line, f.column, f.element, f.message)


@dataclass(frozen=True, slots=True)
class TemporalSummary:
    """What the temporal check established: the depth ``k`` and a verdict per temporal invariant.

    ``proven`` means: for every care course of up to ``depth`` steps from a state where ``care.start`` holds.
    """

    depth: int
    status: dict[str, str] = field(default_factory=dict)  # id -> a Verdict value

    def to_json(self) -> dict[str, Any]:
        """``{"depth": k, "proven_for": ..., "invariants": {...}}``."""
        return {
            "depth": self.depth,
            "proven_for": f"every care course of up to {self.depth} steps from a state where care.start holds",
            "invariants": dict(sorted(self.status.items())),
        }

    def text(self) -> str:
        """One summary line for the text report."""
        if not self.status:
            return "temporal invariants: none declared (not applicable); care start and transitions checked"
        proven = sum(1 for v in self.status.values() if v == Verdict.PROVEN)
        unknown = sum(1 for v in self.status.values() if v == Verdict.UNKNOWN)
        extra = f" ({unknown} unknown)" if unknown else ""
        return (
            f"temporal invariants: {proven}/{len(self.status)} proven{extra} for every care course "
            f"of up to {self.depth} steps (bounded model checking, depth {self.depth})"
        )


@dataclass(frozen=True, slots=True)
class Report:
    """Everything ``verify`` found for one spec (findings in a stable order)."""

    spec_path: str
    spec_id: str
    spec_version: str
    spec_sha256: str
    solver_version: str
    findings: tuple[Finding, ...]
    checks: tuple[CheckResult, ...]
    invariant_status: dict[str, str] = field(default_factory=dict)  # id -> a Verdict value
    encode_s: float = 0.0
    rlimit: int = 0  # the solver resource limit per query the run used (0: not recorded)
    # the temporal check, when the spec has a care section (else empty: the check does not apply)
    temporal: TemporalSummary | None = None

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings of error severity (undecided and sign-off ones included)."""
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def ok(self) -> bool:
        """True when no finding has error severity."""
        return not self.errors

    @property
    def undecided(self) -> tuple[Finding, ...]:
        """The elements the solver could not decide (each also an error finding)."""
        return tuple(f for f in self.findings if f.check == UNDECIDED)

    def counts(self) -> dict[str, int]:
        """Findings per severity: ``{"error": n, "warning": n, "info": n}``."""
        out = {s.value: 0 for s in Severity}
        for f in self.findings:
            out[f.severity.value] += 1
        return out

    def with_findings(self, extra: Sequence[Finding]) -> Report:
        """This report with ``extra`` findings (e.g. sign-off ones) merged in, in the stable order."""
        if not extra:
            return self
        return replace(self, findings=tuple(sorted((*self.findings, *extra), key=finding_order)))

    # ------------------------------------------------------------------ JSON
    def to_json(self, *, timings: bool = True) -> dict[str, Any]:
        """``{"spec": {...}, "checks": [...], "findings": [...]}`` (see docs/verify.md)."""
        checks = [c.to_dict() for c in self.checks]
        if not timings:
            for c in checks:
                del c["duration_s"]
        return {
            "spec": {
                "path": self.spec_path,
                "id": self.spec_id,
                "version": self.spec_version,
                "sha256": self.spec_sha256,
            },
            "solver": {"name": "z3", "version": self.solver_version},
            "summary": {"ok": self.ok, **self.counts(), "undecided": len(self.undecided)},
            "checks": checks,
            "invariants": dict(sorted(self.invariant_status.items())),
            # only for a spec with a care section, so other reports keep their bytes
            **({"temporal": self.temporal.to_json()} if self.temporal is not None else {}),
            "findings": [f.to_dict() for f in self.findings],
        }

    # ------------------------------------------------------------------ text
    def to_text(self, *, timings: bool = False, info: bool = False) -> str:
        """One line per finding (info ones only with ``info``), each followed by its witness."""
        lines: list[str] = []
        for f in self.findings:
            if f.severity is Severity.INFO and not info:
                continue
            lines.append(str(f))
            if f.witness is not None:
                lines.append(f"    witness: {json.dumps(f.witness, ensure_ascii=False)}")
            if f.course is not None:
                lines.append("    course:")
                lines.extend(f"      {line}" for line in f.course["story"])
        if timings:
            lines.append(f"  encode: {self.encode_s * 1000:.0f} ms")
            for c in self.checks:
                lines.append(f"  {c.name:<14} {c.status:<7} {c.findings:>3} finding(s) {c.duration_s * 1000:8.1f} ms")
        if self.temporal is not None:
            lines.append(self.temporal.text())
        n = self.counts()
        proven = sum(1 for v in self.invariant_status.values() if v == Verdict.PROVEN)
        unknown = sum(1 for v in self.invariant_status.values() if v == Verdict.UNKNOWN)
        verdict = "ok" if self.ok else "FAILED"
        undecided = f", {len(self.undecided)} undecided" if self.undecided else ""
        inv_unknown = f" ({unknown} unknown)" if unknown else ""
        lines.append(
            f"{verdict}: {self.spec_path}: {n['error']} error(s){undecided}, {n['warning']} warning(s), "
            f"{n['info']} info; {proven}/{len(self.invariant_status)} invariants proven{inv_unknown}; "
            f"z3 {self.solver_version}"
        )
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- SARIF
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
Z3_URI = "https://github.com/Z3Prover/z3"


def sarif_log(
    tool: str,
    version: str,
    rules: list[dict[str, Any]],
    artifacts: list[dict[str, Any]],
    results: list[dict[str, Any]],
    *,
    information_uri: str | None = Z3_URI,
) -> dict[str, Any]:
    """One SARIF 2.1.0 log with one run of ``tool`` (every crs-model command writes this shape)."""
    driver: dict[str, Any] = {"name": tool, "version": version}
    if information_uri is not None:
        driver["informationUri"] = information_uri
    driver["rules"] = rules
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "artifacts": artifacts, "results": results}],
    }


def sarif_location(location: Location | None, element: str) -> dict[str, Any]:
    """A SARIF place: physical (file, line, column) when located, always logical (the element);
    ``crs-model diff`` locates its regions the same way."""
    where: dict[str, Any] = {}
    if location is not None:
        where["physicalLocation"] = {
            "artifactLocation": {"uri": location.file},
            "region": {"startLine": location.line, "startColumn": location.column},
        }
    where["logicalLocations"] = [{"fullyQualifiedName": element}]
    return where


def to_sarif(reports: list[Report], *, tool_version: str) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one run, results located in the spec files."""
    # a rule added later goes last, so that every older rule keeps its ruleIndex
    late = (Check.TEMPORAL.value,)
    rule_ids = [*(c for c in CHECKS if c not in late), INTERNAL, UNDECIDED, SIGNOFF, *late]
    rules = [
        {
            "id": r,
            "name": r.replace("-", "_"),
            "shortDescription": {"text": _RULES[r]},
        }
        for r in rule_ids
    ]
    results: list[dict[str, Any]] = []
    artifacts: list[dict[str, Any]] = []
    for rep in reports:
        artifacts.append({"location": {"uri": rep.spec_path}, "hashes": {"sha-256": rep.spec_sha256}})
        for f in rep.findings:
            res: dict[str, Any] = {
                "ruleId": f.check,
                "ruleIndex": rule_ids.index(f.check),
                "level": _SARIF_LEVEL[f.severity],
                "message": {"text": f.message},
                "locations": [sarif_location(f.location, f.element)],
            }
            if f.witness is not None:
                res["properties"] = {"witness": f.witness}
            if f.course is not None:
                res.setdefault("properties", {})["course"] = f.course
            results.append(res)
    return sarif_log("crs-model verify", tool_version, rules, artifacts, results)


# ---------------------------------------------------------------------- JUnit
def _junit_case(
    classname: str, name: str, time: str, errs: list[Finding], others: list[Finding], undecided: list[Finding]
) -> tuple[ET.Element, int, int]:
    """One test case: ``<error>`` when undecided, ``<failure>`` for error findings; (case, failures, errors)."""
    case = ET.Element("testcase", classname=classname, name=name, time=time)
    n_fail = n_err = 0
    if undecided:
        n_err = 1
        el = ET.SubElement(case, "error", message=f"{len(undecided)} undecided query(ies)", type=UNDECIDED)
        el.text = "\n".join(str(f) for f in undecided)
    if errs:
        n_fail = 1
        fail = ET.SubElement(case, "failure", message=f"{len(errs)} error finding(s)", type=name)
        fail.text = "\n".join(str(f) for f in errs)
    if others:
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(str(f) for f in others)
    return case, n_fail, n_err


def _verdict_case(rep: Report, kind: str, what: str, inv_id: str, status: str) -> tuple[ET.Element, int, int]:
    """One (temporal) invariant's test case: an ``<error>`` when unknown, a ``<failure>`` when refuted."""
    case = ET.Element("testcase", classname=f"verify.{rep.spec_id}.{kind}", name=inv_id, time="0")
    text = "\n".join(str(f) for f in rep.findings if f.element == f"invariant:{inv_id}")
    if status == Verdict.UNKNOWN:
        ET.SubElement(case, "error", message=f"{what} {inv_id} {status}", type=UNDECIDED).text = text
        return case, 0, 1
    if status != Verdict.PROVEN:
        ET.SubElement(case, "failure", message=f"{what} {inv_id} {status}", type=kind).text = text
        return case, 1, 0
    return case, 0, 0


def to_junit(reports: list[Report]) -> str:
    """JUnit XML: a test suite per spec, a test case per check kind and per invariant (and sign-off).

    A finding of error severity is a ``<failure>``; an undecided query an ``<error>``
    (the check could not run to a verdict).
    """
    suites = ET.Element("testsuites", name="crs-model verify")
    for rep in reports:
        cases: list[ET.Element] = []
        failures = errors = 0
        undecided = rep.undecided
        for c in rep.checks:
            cls = f"verify.{rep.spec_id}"
            if c.status == "skipped":
                case = ET.Element("testcase", classname=cls, name=c.name, time=f"{c.duration_s:.4f}")
                ET.SubElement(case, "skipped")
                cases.append(case)
                continue
            mine = [f for f in rep.findings if f.check == c.name]
            case, n_fail, n_err = _junit_case(
                cls,
                c.name,
                f"{c.duration_s:.4f}",
                [f for f in mine if f.severity is Severity.ERROR],
                [f for f in mine if f.severity is not Severity.ERROR],
                [f for f in undecided if f.element in c.undecided],
            )
            failures, errors = failures + n_fail, errors + n_err
            cases.append(case)
        temporal = rep.temporal.status if rep.temporal is not None else {}
        for kind, what, statuses in (
            ("invariant", "invariant", rep.invariant_status),
            ("temporal", "temporal invariant", temporal),
        ):
            for inv_id, status in sorted(statuses.items()):
                case, n_fail, n_err = _verdict_case(rep, kind, what, inv_id, status)
                failures, errors = failures + n_fail, errors + n_err
                cases.append(case)
        signoff = [f for f in rep.findings if f.check == SIGNOFF]
        if signoff:
            case, n_fail, _ = _junit_case(
                f"verify.{rep.spec_id}",
                SIGNOFF,
                "0",
                [f for f in signoff if f.severity is Severity.ERROR],
                [f for f in signoff if f.severity is not Severity.ERROR],
                [],
            )
            failures += n_fail
            cases.append(case)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=rep.spec_path,
            tests=str(len(cases)),
            failures=str(failures),
            errors=str(errors),
            skipped=str(sum(1 for c in rep.checks if c.status == "skipped")),
            time=f"{sum(c.duration_s for c in rep.checks):.4f}",
        )
        suite.extend(cases)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
