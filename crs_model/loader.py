"""Build a :class:`~crs_model.model.Spec` from a YAML file: structure, names, types, graph.

Every problem is collected with its ``file:line:col`` before raising one
:class:`~crs_model.errors.SpecError`, so an author sees them all at once.
"""

from __future__ import annotations

import enum
import hashlib
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from crs_model.errors import Location, Problem, SpecError
from crs_model.expr import Expr, ExprSyntaxError, measure, names, parse
from crs_model.hints import hint_budget
from crs_model.model import (
    INSUFFICIENT_DATA,
    MAX_APPROVING_ROLES,
    Action,
    Care,
    CareFollow,
    Confidence,
    Constraint,
    DecisionNode,
    Definition,
    Edge,
    ErrorKind,
    Evidence,
    EvidenceKind,
    EvidenceLevel,
    Flag,
    Formula,
    GovernanceQuestion,
    HitPolicy,
    Invariant,
    MeasurementError,
    Metadata,
    MetamorphicRelation,
    Outcome,
    OutcomeClass,
    Parameter,
    RecommendationCode,
    ReportedOutput,
    ReportMode,
    Severity,
    SignoffPolicy,
    Spec,
    Status,
    TemporalInvariant,
    Variable,
)
from crs_model.source import Source, YMap, YNode, YScalar, YSeq, load_yaml
from crs_model.structure import structural_problems
from crs_model.types import BOOL, INT, REAL, Base, Scope, Symbol, SymbolKind, Type, TypeCheckError, check, suggest

E = TypeVar("E", bound=enum.Enum)
P = TypeVar("P", Invariant, TemporalInvariant)

_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Definitions inline into every guard that names them (the verifier and the missing-data
# explainer walk through them): bound the chain and the depth once inlined (the shipped
# spec: chain 3, inlined depth 16) so evaluation and every backend stay far from
# Python's recursion limit.
MAX_DEFINITION_CHAIN = 32
MAX_INLINED_DEPTH = 128
MAX_PRECISION = 6  # decimal places a real output may be reported with
SPEC_FORMAT = 2
RESERVED = frozenset({"recommendation", "min", "max", "has_action", "has_flag"})
# the JSON decision's own keys: a reported output sits beside them at top level
DECISION_KEYS = frozenset(
    {"recommendation", "outcome", "actions", "flags", "missing", "path", "cites", "spec", "trace"}
)
# the classes a spec may give its codes (``insufficient`` is the built-in code's alone)
DECLARABLE_CLASSES = tuple(c.value for c in OutcomeClass if c is not OutcomeClass.INSUFFICIENT)
TOP_KEYS = (
    "spec_format",
    "recommendations",
    "outcome_classes",
    "outputs",
    "metadata",
    "evidence",
    "variables",
    "constraints",
    "parameters",
    "definitions",
    "graph",
    "invariants",
    "metamorphic_relations",
    "care",
    "temporal_invariants",
    "governance_questions",
)


class _Reader:
    """Typed access to located YAML with problem collection."""

    def __init__(self, source: Source) -> None:
        self.src = source
        self.problems: list[Problem] = []

    def err(self, loc: Location | None, msg: str) -> None:
        self.problems.append(Problem(loc, msg))

    def as_map(self, node: YNode | None, what: str) -> YMap | None:
        if isinstance(node, YMap):
            return node
        if node is not None:
            self.err(node.loc, f"{what} must be a mapping")
        return None

    def as_seq(self, node: YNode | None, what: str) -> YSeq | None:
        if isinstance(node, YSeq):
            return node
        if node is not None:
            self.err(node.loc, f"{what} must be a list")
        return None

    def keys(self, m: YMap, allowed: Iterable[str], what: str) -> None:
        allowed = list(allowed)
        for key, (kn, _) in m.items.items():
            if key not in allowed:
                self.err(kn.loc, f"unknown key '{key}' in {what}{suggest(key, allowed)}")

    def get(self, m: YMap, key: str, what: str, required: bool = True) -> YNode | None:
        item = m.items.get(key)
        if item is None:
            if required:
                self.err(m.loc, f"{what} is missing required key '{key}'")
            return None
        return item[1]

    def text(self, m: YMap, key: str, what: str, required: bool = True, default: str = "") -> str:
        node = self.get(m, key, what, required)
        if node is None:
            return default
        if not isinstance(node, YScalar) or isinstance(node.value, bool) or node.value is None:
            self.err(node.loc, f"{what}.{key} must be text")
            return default
        return str(node.value).strip()

    def scalar(self, m: YMap, key: str, what: str) -> YScalar | None:
        node = self.get(m, key, what)
        if node is None:
            return None
        if not isinstance(node, YScalar) or not isinstance(node.value, str):
            self.err(node.loc, f"{what}.{key} must be an expression written as text")
            return None
        return node

    def number(self, m: YMap, key: str, what: str, required: bool = True) -> float | None:
        node = self.get(m, key, what, required)
        if node is None:
            return None
        v = node.value if isinstance(node, YScalar) else None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            self.err(node.loc, f"{what}.{key} must be a finite number, got {v!r}")
            return None
        return float(v)

    def texts(self, m: YMap, key: str, what: str, required: bool = False) -> tuple[str, ...]:
        node = self.get(m, key, what, required)
        if node is None:
            return ()
        seq = self.as_seq(node, f"{what}.{key}")
        if seq is None:
            return ()
        out: list[str] = []
        for item in seq.items:
            if not isinstance(item, YScalar) or not isinstance(item.value, str):
                self.err(item.loc, f"{what}.{key} must be a list of text")
            else:
                out.append(item.value.strip())
        return tuple(out)

    def choice(self, m: YMap, key: str, what: str, enum_cls: type[E], required: bool = True) -> E | None:
        node = self.get(m, key, what, required)
        if node is None:
            return None
        allowed = [e.value for e in enum_cls]
        v = node.value if isinstance(node, YScalar) else None
        for e in enum_cls:
            if e.value == v:
                return e
        self.err(node.loc, f"{what}.{key}={v!r} is not one of {', '.join(allowed)}{suggest(str(v), allowed)}")
        return None

    def ident(self, key_node: YScalar, what: str) -> str:
        name = str(key_node.value)
        if not _IDENT.match(name):
            self.err(key_node.loc, f"{what} id '{name}' must be lower_snake_case (a-z, 0-9, _), at most 64 chars")
        return name

    def cites(self, m: YMap, what: str) -> tuple[str, ...]:
        return self.texts(m, "cites", what)


class _Builder:
    def __init__(self, source: Source, path: str) -> None:
        self.r = _Reader(source)
        self.src = source
        self.path = path
        self.cite_refs: list[tuple[str, Location, str]] = []
        self.inlined: dict[str, int] = {}  # definition -> depth of its tree with definitions inlined
        self.too_deep: set[str] = set()  # definitions over MAX_INLINED_DEPTH, reported once
        self.codes_declared = True  # the spec has a ``recommendations`` section
        self.code_names: list[str] = []  # every declared code, even one with a bad class

    # ------------------------------------------------------------ helpers
    def _cites(self, m: YMap, what: str) -> tuple[str, ...]:
        cs = self.r.cites(m, what)
        node = m.items.get("cites")
        seq = node[1] if node else None
        if isinstance(seq, YSeq):  # locate each id, so an unknown one is pointed at
            for item in seq.items:
                if isinstance(item, YScalar) and isinstance(item.value, str):
                    self.cite_refs.append((item.value.strip(), item.loc, what))
        return cs

    def _formula(
        self, scalar: YScalar, scope: Scope, want: Type | None, what: str, ast: Expr | None = None
    ) -> Formula | None:
        """Parse (unless ``ast`` is given, already parsed), type-check and locate an expression."""
        text = str(scalar.value)
        if ast is None:
            try:
                ast = parse(text)
            except ExprSyntaxError as exc:
                self.r.err(self.src.locate(scalar, exc.offset), f"{what}: syntax error: {exc.message}")
                return None
        try:
            ty = check(ast, scope)
        except TypeCheckError as exc:
            self.r.err(self.src.locate(scalar, exc.offset), f"{what}: {exc.message}")
            return None
        if want is not None and ty != want and not (want.numeric and ty.numeric):
            self.r.err(self.src.locate(scalar, 0), f"{what} must be {want}, but this expression is {ty}")
            return None
        depth, _ = measure(ast, self.inlined)
        # reported once (not again for formulas built on a too-deep definition); the formula
        # is kept so that its uses are not reported as unknown names
        if depth > MAX_INLINED_DEPTH and not names(ast) & self.too_deep:
            self.r.err(
                self.src.locate(scalar, 0),
                f"{what} is {depth} levels deep with its definitions inlined (at most {MAX_INLINED_DEPTH}); "
                "shorten the chain of definitions it uses",
            )
        return Formula(text, ast, ty, self.src.locate(scalar, 0), scalar)

    def _entries(self, node: YNode | None, what: str) -> list[tuple[YScalar, YMap]]:
        """A mapping of id -> mapping, as (key node, value map) pairs."""
        m = self.r.as_map(node, what)
        out: list[tuple[YScalar, YMap]] = []
        if m is None:
            return out
        for kn, vn in m.items.values():
            vm = self.r.as_map(vn, f"{what}.{kn.value}")
            if vm is not None:
                self.r.ident(kn, what)
                out.append((kn, vm))
        return out

    def _list_entries(self, node: YNode | None, what: str) -> list[tuple[str, YMap]]:
        """A list of mappings each with an ``id``."""
        seq = self.r.as_seq(node, what)
        out: list[tuple[str, YMap]] = []
        seen: dict[str, Location] = {}
        if seq is None:
            return out
        for item in seq.items:
            m = self.r.as_map(item, f"{what} entry")
            if m is None:
                continue
            idn = self.r.get(m, "id", f"{what} entry")
            if not isinstance(idn, YScalar) or not isinstance(idn.value, str):
                if idn is not None:
                    self.r.err(idn.loc, f"{what} id must be text")
                continue
            ident = self.r.ident(idn, what)
            if ident in seen:
                self.r.err(idn.loc, f"duplicate {what} id '{ident}' (first at line {seen[ident].line})")
            seen[ident] = idn.loc
            out.append((ident, m))
        return out

    # ------------------------------------------------------------ sections
    def build(self) -> Spec:
        r = self.r
        root = r.as_map(self.src.root, "the spec")
        if root is None:
            raise SpecError(r.problems)
        r.keys(root, TOP_KEYS, "the spec")
        fmt = r.number(root, "spec_format", "the spec")
        if fmt is not None and fmt != SPEC_FORMAT:
            node = r.get(root, "spec_format", "the spec")
            # another format's sections mean something else: report only this, not their consequences
            raise SpecError(Problem(node.loc if node else root.loc, _format_message(fmt)))
        metadata = self.metadata(r.get(root, "metadata", "the spec"))
        evidence = self.evidence(r.get(root, "evidence", "the spec"))
        variables = self.variables(r.get(root, "variables", "the spec"))
        parameters = self.parameters(r.get(root, "parameters", "the spec", required=False))
        symbols: dict[str, Symbol] = {}
        self._declare(symbols, variables, parameters)
        constraints = self.constraints(r.get(root, "constraints", "the spec", required=False), symbols)
        definitions = self.definitions(r.get(root, "definitions", "the spec", required=False), symbols)
        codes_node = r.get(root, "recommendations", "the spec")
        self.codes_declared = codes_node is not None  # else each outcome's code is not reported again
        recommendations = self.recommendations(codes_node)
        class_labels = self.outcome_classes(r.get(root, "outcome_classes", "the spec", required=False))
        outputs = self.outputs(r.get(root, "outputs", "the spec", required=False), definitions, symbols)
        graph_node = r.get(root, "graph", "the spec")
        entry, nodes, outcomes = self.graph(graph_node, symbols, outputs)
        if graph_node is not None:
            given = {o.recommendation for o in outcomes.values()}
            for rc in recommendations.values():
                if rc.code not in given:
                    r.err(rc.loc, f"recommendation '{rc.code}' is declared but no outcome gives it")
        actions = frozenset(a.id for o in outcomes.values() for a in o.actions)
        flags = frozenset(f.id for o in outcomes.values() for f in o.flags)
        inv_symbols = dict(symbols)
        inv_symbols["recommendation"] = Symbol(
            "recommendation",
            SymbolKind.OUTCOME,
            Type(Base.ENUM, (*self.code_names, INSUFFICIENT_DATA)),
            label="recommendation",
        )
        invariants = self.invariants(r.get(root, "invariants", "the spec"), Scope(inv_symbols, actions, flags))
        relations = self.relations(
            r.get(root, "metamorphic_relations", "the spec", required=False),
            Scope(inv_symbols, actions, flags),
            Scope(symbols),
            variables,
        )
        codes = {o.recommendation for o in outcomes.values()}
        care = self.care(r.get(root, "care", "the spec", required=False), symbols, variables, codes)
        temporal = self.temporal_invariants(
            r.get(root, "temporal_invariants", "the spec", required=False),
            Scope(inv_symbols, actions, flags, temporal=True),
            "care" in root.items,
            {i.id for i in invariants},
        )
        governance = self.governance(r.get(root, "governance_questions", "the spec", required=False))
        for cite, loc, what in self.cite_refs:
            if cite not in evidence:
                r.err(loc, f"{what} cites unknown evidence '{cite}'{suggest(cite, sorted(evidence))}")
        if r.problems:
            raise SpecError(r.problems)
        assert metadata is not None
        spec = Spec(
            path=self.path,
            sha256=hashlib.sha256(self.src.raw).hexdigest(),
            source=self.src,
            metadata=metadata,
            evidence=evidence,
            variables=variables,
            constraints=constraints,
            parameters=parameters,
            definitions=definitions,
            entry=entry,
            nodes=nodes,
            outcomes=outcomes,
            invariants=invariants,
            governance=governance,
            symbols=symbols,
            invariant_symbols=inv_symbols,
            graph_loc=graph_node.loc if graph_node is not None else root.loc,
            recommendations=recommendations,
            outputs=outputs,
            class_labels=class_labels,
            metamorphic_relations=relations,
            care=care,
            temporal_invariants=temporal,
        )
        self._check_refs(spec)
        problems = structural_problems(spec) + r.problems
        if problems:
            raise SpecError(problems)
        return spec

    def metadata(self, node: YNode | None) -> Metadata | None:
        r = self.r
        m = r.as_map(node, "metadata")
        if m is None:
            return None
        what = "metadata"
        r.keys(
            m,
            (
                "id",
                "title",
                "version",
                "status",
                "date",
                "authors",
                "reviewers",
                "jurisdiction",
                "description",
                "signoff_policy",
            ),
            what,
        )
        version = r.text(m, "version", what)
        if version and not _SEMVER.match(version):
            vnode = r.get(m, "version", what)
            r.err(vnode.loc if vnode else m.loc, f"metadata.version={version!r} is not a semantic version like 1.2.0")
        date = r.text(m, "date", what)
        if date and not _DATE.match(date):
            dnode = r.get(m, "date", what)
            r.err(dnode.loc if dnode else m.loc, f"metadata.date={date!r} is not an ISO date like 2026-11-23")
        status = r.choice(m, "status", what, Status)
        return Metadata(
            id=r.text(m, "id", what),
            title=r.text(m, "title", what),
            version=version,
            status=status or Status.DRAFT,
            date=date,
            authors=r.texts(m, "authors", what, required=True),
            reviewers=r.texts(m, "reviewers", what),
            jurisdiction=r.text(m, "jurisdiction", what),
            description=r.text(m, "description", what, required=False),
            signoff_policy=self.signoff_policy(r.get(m, "signoff_policy", what, required=False)),
        )

    def signoff_policy(self, node: YNode | None) -> SignoffPolicy | None:
        r = self.r
        m = r.as_map(node, "metadata.signoff_policy")
        if m is None:
            return None
        what = "metadata.signoff_policy"
        r.keys(m, ("approved_by_roles",), what)
        vnode = r.get(m, "approved_by_roles", what)
        if vnode is None:
            return None
        v = vnode.value if isinstance(vnode, YScalar) else None
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_APPROVING_ROLES:
            r.err(
                vnode.loc,
                f"{what}.approved_by_roles={v!r} is not a whole number of distinct approving roles "
                f"in 1..{MAX_APPROVING_ROLES}",
            )
            return None
        return SignoffPolicy(approved_by_roles=v)

    def evidence(self, node: YNode | None) -> dict[str, Evidence]:
        r = self.r
        out: dict[str, Evidence] = {}
        for ident, m in self._list_entries(node, "evidence"):
            what = f"evidence '{ident}'"
            r.keys(m, ("id", "citation", "kind", "level", "confidence", "note"), what)
            kind = r.choice(m, "kind", what, EvidenceKind)
            level = r.choice(m, "level", what, EvidenceLevel)
            conf = r.choice(m, "confidence", what, Confidence)
            if kind and level and conf:
                out[ident] = Evidence(
                    ident, r.text(m, "citation", what), kind, level, conf, r.text(m, "note", what, False), m.loc
                )
        return out

    def variables(self, node: YNode | None) -> dict[str, Variable]:
        r = self.r
        out: dict[str, Variable] = {}
        for kn, m in self._entries(node, "variables"):
            name = str(kn.value)
            what = f"variable '{name}'"
            r.keys(m, ("type", "unit", "min", "max", "values", "label", "description", "measurement_error"), what)
            tname = r.text(m, "type", what)
            lo = hi = None
            if tname in ("int", "real"):
                lo = r.number(m, "min", what)
                hi = r.number(m, "max", what)
                if lo is not None and hi is not None and lo > hi:
                    r.err(m.loc, f"{what}: min {lo:g} is above max {hi:g}")
                if tname == "int":
                    for bound in (lo, hi):
                        if bound is not None and not float(bound).is_integer():
                            r.err(m.loc, f"{what}: int bounds must be whole numbers")
                ty = INT if tname == "int" else REAL
            elif tname == "bool":
                ty = BOOL
            elif tname == "enum":
                values = r.texts(m, "values", what, required=True)
                if len(values) < 2 or len(set(values)) != len(values):
                    r.err(m.loc, f"{what}: an enum needs at least two distinct values")
                ty = Type(Base.ENUM, values)
            else:
                tnode = r.get(m, "type", what, required=False)
                r.err(tnode.loc if tnode else m.loc, f"{what}: type={tname!r} is not one of bool, int, real, enum")
                continue
            if tname not in ("int", "real") and ("min" in m.items or "max" in m.items):
                r.err(m.loc, f"{what}: min/max only apply to int and real")
            out[name] = Variable(
                name,
                ty,
                r.text(m, "unit", what, False),
                lo,
                hi,
                r.text(m, "label", what, False) or name,
                r.text(m, "description", what, False),
                kn.loc,
                self._measurement_error(m, what, tname, lo, hi),
            )
        return out

    def _measurement_error(
        self, m: YMap, what: str, tname: str, lo: float | None, hi: float | None
    ) -> MeasurementError | None:
        """``measurement_error: {absolute: X | relative: F, cites: [...], note: ...}`` of a numeric input."""
        r = self.r
        node = m.items.get("measurement_error")
        if node is None:
            return None
        em = r.as_map(node[1], f"{what}.measurement_error")
        if em is None:
            return None
        ewhat = f"{what}: measurement_error"
        if tname not in ("int", "real"):
            r.err(em.loc, f"{what}: only an int or real input can have a measurement_error, this one is {tname}")
            return None
        r.keys(em, ("absolute", "relative", "cites", "note"), ewhat)
        given = [k for k in ("absolute", "relative") if k in em.items]
        if len(given) != 1:
            r.err(em.loc, f"{ewhat} needs exactly one of 'absolute' (in the input's unit) or 'relative' (a fraction)")
            return None
        kind = ErrorKind(given[0])
        amount = r.number(em, given[0], ewhat)
        if amount is None:
            return None
        anode = em.items[given[0]][1]
        width = hi - lo if lo is not None and hi is not None else None
        if amount <= 0:
            r.err(anode.loc, f"{ewhat}.{given[0]}={amount:g} must be above 0")
            return None
        if kind is ErrorKind.RELATIVE and amount >= 1:
            r.err(anode.loc, f"{ewhat}.relative={amount:g} must be below 1 (a fraction of the value: 0.2 is ±20 %)")
            return None
        if kind is ErrorKind.ABSOLUTE and width is not None and amount >= width:
            r.err(anode.loc, f"{ewhat}.absolute={amount:g} must be below the domain's width {width:g}")
            return None
        cites = self._cites(em, ewhat)
        if not cites:
            r.err(em.loc, f"{ewhat} needs 'cites': the evidence ids of the source of this error")
            return None
        return MeasurementError(kind, amount, cites, r.text(em, "note", ewhat, False), em.loc)

    def parameters(self, node: YNode | None) -> dict[str, Parameter]:
        r = self.r
        out: dict[str, Parameter] = {}
        for kn, m in self._entries(node, "parameters"):
            name = str(kn.value)
            what = f"parameter '{name}'"
            r.keys(m, ("value", "unit", "label", "rationale", "cites"), what)
            vnode = r.get(m, "value", what)
            if vnode is None:
                continue
            v = vnode.value if isinstance(vnode, YScalar) else None
            value: float | bool
            if isinstance(v, bool):
                ty, value = BOOL, v
            elif isinstance(v, int):
                ty, value = INT, float(v)
            elif isinstance(v, float) and math.isfinite(v):
                ty, value = REAL, v
            else:
                r.err(vnode.loc, f"{what}: value must be a finite number or true/false, got {v!r}")
                continue
            out[name] = Parameter(
                name,
                value,
                ty,
                r.text(m, "unit", what, False),
                r.text(m, "label", what, False) or name,
                r.text(m, "rationale", what),
                self._cites(m, what),
                kn.loc,
            )
        return out

    def _declare(
        self, symbols: dict[str, Symbol], variables: dict[str, Variable], parameters: dict[str, Parameter]
    ) -> None:
        for v in variables.values():
            if v.name in RESERVED:
                self.r.err(v.loc, f"'{v.name}' is a reserved name")
            symbols[v.name] = Symbol(v.name, SymbolKind.VARIABLE, v.type, v.unit, v.label)
        for p in parameters.values():
            if p.name in symbols or p.name in RESERVED:
                self.r.err(p.loc, f"parameter '{p.name}' reuses a name already declared")
                continue
            value: float | bool = int(p.value) if p.type == INT else p.value
            symbols[p.name] = Symbol(p.name, SymbolKind.PARAMETER, p.type, p.unit, p.label, value)

    def constraints(self, node: YNode | None, symbols: dict[str, Symbol]) -> tuple[Constraint, ...]:
        r = self.r
        out: list[Constraint] = []
        scope = Scope(dict(symbols))  # inputs and parameters only
        for ident, m in self._list_entries(node, "constraints"):
            what = f"constraint '{ident}'"
            r.keys(m, ("id", "expr", "message", "cites"), what)
            sc = r.scalar(m, "expr", what)
            f = self._formula(sc, scope, BOOL, what) if sc else None
            cites = self._cites(m, what)
            if f is not None:
                out.append(Constraint(ident, f, r.text(m, "message", what), cites, m.loc))
        return tuple(out)

    def definitions(self, node: YNode | None, symbols: dict[str, Symbol]) -> dict[str, Definition]:
        r = self.r
        # name -> (key node, mapping, dependencies, expr scalar, parsed AST or None)
        raw: dict[str, tuple[YScalar, YMap, set[str], YScalar, Expr | None]] = {}
        self._unchecked: set[str] = set()  # already reported: syntax error or on a cycle
        for kn, m in self._entries(node, "definitions"):
            name = str(kn.value)
            what = f"definition '{name}'"
            if "precision" in m.items:  # one place: how an output is reported is said under outputs
                r.err(
                    m.items["precision"][0].loc,
                    f"{what}: 'precision' belongs to the reported output now: move it to 'outputs.{name}.precision'",
                )
            r.keys(m, ("expr", "type", "unit", "label", "description", "precision", "cites"), what)
            if name in symbols or name in RESERVED:
                r.err(kn.loc, f"definition '{name}' reuses a name already declared")
                continue
            sc = r.scalar(m, "expr", what)
            if sc is None:
                continue
            ast: Expr | None = None
            try:
                ast = parse(str(sc.value))
                deps = names(ast)
            except ExprSyntaxError as exc:
                r.err(self.src.locate(sc, exc.offset), f"{what}: syntax error: {exc.message}")
                self._unchecked.add(name)
                deps = set()
            raw[name] = (kn, m, deps, sc, ast)
        order = self._topo(raw)
        out: dict[str, Definition] = {}
        chain: dict[str, int] = {}  # definition -> length of the longest dependency chain it ends
        long_chain: set[str] = set()
        for name in order:
            kn, m, deps, sc, ast = raw[name]
            what = f"definition '{name}'"
            declared = r.text(m, "type", what, required=False)
            want = {"bool": BOOL, "int": INT, "real": REAL}.get(declared) if declared else None
            if declared and want is None:
                r.err(m.loc, f"{what}: type={declared!r} is not one of bool, int, real")
            unit = r.text(m, "unit", what, False)
            label = r.text(m, "label", what, False) or name
            # a definition already reported (syntax error, or on a cycle whose members
            # would only report each other as unknown) is not checked again
            f = None if name in self._unchecked else self._formula(sc, Scope(dict(symbols)), want, what, ast)
            cites = self._cites(m, what)
            if f is None:
                if want is not None:  # declared, so later uses are checked, not reported as unknown names
                    symbols[name] = Symbol(name, SymbolKind.DEFINITION, want, unit, label)
                continue
            ty = want if want is not None else f.type
            if want == INT and f.type == REAL:
                r.err(f.loc, f"{what} is declared int but the expression is real")
            symbols[name] = Symbol(name, SymbolKind.DEFINITION, ty, unit, label)
            chain[name] = 1 + max((chain[d] for d in deps if d in chain), default=0)
            if chain[name] > MAX_DEFINITION_CHAIN:
                if not deps & long_chain:  # reported once, not again for what is built on it
                    r.err(
                        kn.loc,
                        f"{what} ends a chain of {chain[name]} definitions each using the next "
                        f"(at most {MAX_DEFINITION_CHAIN}); use fewer steps",
                    )
                long_chain.add(name)
            self.inlined[name] = depth = measure(f.ast, self.inlined)[0]
            if depth > MAX_INLINED_DEPTH:
                self.too_deep.add(name)
            out[name] = Definition(name, f, unit, label, r.text(m, "description", what, False), cites, kn.loc)
        return out

    def recommendations(self, node: YNode | None) -> dict[str, RecommendationCode]:
        """The codes an outcome may give (``recommendations``), each with its class."""
        r = self.r
        out: dict[str, RecommendationCode] = {}
        for kn, m in self._entries(node, "recommendations"):
            code = str(kn.value)
            what = f"recommendation '{code}'"
            r.keys(m, ("class", "label", "description"), what)
            if code == INSUFFICIENT_DATA:
                r.err(kn.loc, f"{what} is built in (the engine gives it when it cannot decide); do not declare it")
                continue
            self.code_names.append(code)  # declared, even with a bad class: its uses are not reported again
            cnode = r.get(m, "class", what)
            if cnode is None:
                continue
            v = cnode.value if isinstance(cnode, YScalar) else None
            if v == OutcomeClass.INSUFFICIENT.value:
                r.err(cnode.loc, f"{what}: class 'insufficient' belongs to the built-in code {INSUFFICIENT_DATA} only")
                continue
            if v not in DECLARABLE_CLASSES:
                r.err(
                    cnode.loc,
                    f"{what}.class={v!r} is not one of {', '.join(DECLARABLE_CLASSES)}"
                    f"{suggest(str(v), list(DECLARABLE_CLASSES))}",
                )
                continue
            label = r.text(m, "label", what, False) or code
            out[code] = RecommendationCode(code, OutcomeClass(v), label, r.text(m, "description", what, False), kn.loc)
        return out

    def outcome_classes(self, node: YNode | None) -> dict[OutcomeClass, str]:
        """How the spec names each class in legends and badges (``outcome_classes.<class>.label``)."""
        r = self.r
        out: dict[OutcomeClass, str] = {}
        allowed = [c.value for c in OutcomeClass]
        for kn, m in self._entries(node, "outcome_classes"):
            name = str(kn.value)
            if name not in allowed:
                r.err(kn.loc, f"outcome_classes: '{name}' is not one of {', '.join(allowed)}{suggest(name, allowed)}")
                continue
            what = f"outcome class '{name}'"
            r.keys(m, ("label",), what)
            label = r.text(m, "label", what)
            if label:
                out[OutcomeClass(name)] = label
        return out

    def outputs(
        self, node: YNode | None, definitions: dict[str, Definition], symbols: dict[str, Symbol]
    ) -> dict[str, ReportedOutput]:
        """The decision's reported outputs (``outputs``): definitions, with unit and precision."""
        r = self.r
        out: dict[str, ReportedOutput] = {}
        for kn, m in self._entries(node, "outputs"):
            name = str(kn.value)
            what = f"output '{name}'"
            r.keys(m, ("report", "unit", "precision", "label"), what)
            d = definitions.get(name)
            if d is None:
                sym = symbols.get(name)
                if sym is None or sym.kind is not SymbolKind.DEFINITION:  # else its definition was reported
                    r.err(kn.loc, f"{what} is not a definition{suggest(name, sorted(definitions))}")
                continue
            if name in DECISION_KEYS:
                r.err(kn.loc, f"{what} has the name of a key of the decision itself; rename the definition")
                continue
            mode = r.choice(m, "report", what, ReportMode, required=False) or ReportMode.LISTED
            unit = r.text(m, "unit", what, False)
            if unit and d.unit and unit != d.unit:
                unode = r.get(m, "unit", what)
                r.err(
                    unode.loc if unode else m.loc,
                    f"{what}: unit {unit!r} differs from its definition's unit {d.unit!r}; give one of them",
                )
            precision = self._precision(m, what, symbols[name].type)
            out[name] = ReportedOutput(
                name, mode, unit or d.unit, precision, r.text(m, "label", what, False) or d.label, kn.loc
            )
        return out

    def _precision(self, m: YMap, what: str, ty: Type) -> int | None:
        """Decimal places a real output is reported with: required, a whole number 0..MAX_PRECISION."""
        node = self.r.get(m, "precision", what, required=False)
        if node is None:
            if ty == REAL:
                self.r.err(m.loc, f"{what} is real and needs 'precision' (decimal places it is reported with)")
            return None
        v = node.value if isinstance(node, YScalar) else None
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_PRECISION:
            shown = repr(v) if isinstance(node, YScalar) else "a collection"
            self.r.err(
                node.loc, f"{what}: precision={shown} must be a whole number of decimal places 0..{MAX_PRECISION}"
            )
            return None
        if ty != REAL:
            self.r.err(node.loc, f"{what}: precision applies to real outputs only (this one is {ty})")
            return None
        return v

    def _topo(self, raw: dict[str, tuple[YScalar, YMap, set[str], YScalar, Expr | None]]) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(n: str, chain: list[str]) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                cyc = [*chain[chain.index(n) :], n]
                self._unchecked.update(cyc)
                self.r.err(raw[n][0].loc, f"definitions form a cycle: {' -> '.join(cyc)}")
                return
            state[n] = 1
            for d in sorted(raw[n][2]):
                if d in raw:
                    visit(d, [*chain, n])
            state[n] = 2
            order.append(n)

        for n in raw:
            visit(n, [])
        return order

    def graph(
        self,
        node: YNode | None,
        symbols: dict[str, Symbol],
        declared_outputs: dict[str, ReportedOutput],
    ) -> tuple[str, dict[str, DecisionNode], dict[str, Outcome]]:
        r = self.r
        m = r.as_map(node, "graph")
        if m is None:
            return "", {}, {}
        r.keys(m, ("entry", "nodes", "outcomes"), "graph")
        entry = r.text(m, "entry", "graph")
        scope = Scope(dict(symbols))
        nodes: dict[str, DecisionNode] = {}
        for kn, nm in self._entries(r.get(m, "nodes", "graph"), "graph.nodes"):
            nid = str(kn.value)
            what = f"node '{nid}'"
            r.keys(nm, ("question", "hit_policy", "edges", "cites"), what)
            policy = r.choice(nm, "hit_policy", what, HitPolicy)
            edges: list[Edge] = []
            seq = r.as_seq(r.get(nm, "edges", what), f"{what}.edges")
            targets: set[str] = set()
            for idx, item in enumerate(seq.items if seq else []):
                em = r.as_map(item, f"{what} edge")
                if em is None:
                    continue
                ewhat = f"{what} edge {idx + 1}"
                r.keys(em, ("to", "when", "label", "cites"), ewhat)
                target = r.text(em, "to", ewhat)
                if target in targets:
                    r.err(em.loc, f"{ewhat}: a second edge to '{target}'; join the guards with 'or'")
                targets.add(target)
                sc = r.scalar(em, "when", ewhat)
                f = self._formula(sc, scope, BOOL, f"{ewhat} guard") if sc else None
                cites = self._cites(em, ewhat)
                if f is not None:
                    tnode = em.items.get("to")
                    eloc = tnode[1].loc if tnode else em.loc
                    edges.append(Edge(nid, target, idx, f, r.text(em, "label", ewhat, False), cites, eloc))
            if seq is not None and not seq.items:
                r.err(nm.loc, f"{what} has no edges; every leaf must be an outcome")
            nodes[nid] = DecisionNode(
                nid,
                r.text(nm, "question", what),
                policy or HitPolicy.UNIQUE,
                tuple(edges),
                self._cites(nm, what),
                kn.loc,
            )
        outcomes: dict[str, Outcome] = {}
        for kn, om in self._entries(r.get(m, "outcomes", "graph"), "graph.outcomes"):
            oid = str(kn.value)
            what = f"outcome '{oid}'"
            if oid in nodes:
                r.err(kn.loc, f"{what} has the same id as a decision node")
            r.keys(om, ("recommendation", "title", "outputs", "actions", "flags", "cites"), what)
            rec = self._code(om, what)
            outputs = r.texts(om, "outputs", what)
            onode = om.items.get("outputs")
            items = onode[1].items if onode and isinstance(onode[1], YSeq) else ()
            for item in items:  # r.texts reported the items that are not text
                o = item.value.strip() if isinstance(item, YScalar) and isinstance(item.value, str) else None
                if o is not None and o not in declared_outputs:
                    r.err(
                        item.loc,
                        f"{what}: output '{o}' is not declared under 'outputs'{suggest(o, sorted(declared_outputs))}",
                    )
            actions: list[Action] = []
            for aid, am in self._list_entries(r.get(om, "actions", what, required=False), "action"):
                awhat = f"action '{aid}'"
                r.keys(am, ("id", "text", "cites"), awhat)
                actions.append(Action(aid, r.text(am, "text", awhat), self._cites(am, awhat), am.loc))
            flags: list[Flag] = []
            for fid, fm in self._list_entries(r.get(om, "flags", what, required=False), "flag"):
                fwhat = f"flag '{fid}'"
                r.keys(fm, ("id", "text", "when", "confidence", "cites"), fwhat)
                when = None
                if "when" in fm.items:
                    sc = r.scalar(fm, "when", fwhat)
                    when = self._formula(sc, scope, BOOL, f"{fwhat} condition") if sc else None
                conf = r.choice(fm, "confidence", fwhat, Confidence, required=False)
                flags.append(Flag(fid, r.text(fm, "text", fwhat), when, conf, self._cites(fm, fwhat), fm.loc))
            if rec is not None:
                outcomes[oid] = Outcome(
                    oid,
                    rec,
                    r.text(om, "title", what),
                    outputs,
                    tuple(actions),
                    tuple(flags),
                    self._cites(om, what),
                    kn.loc,
                )
        return entry, nodes, outcomes

    def _code(self, om: YMap, what: str) -> str | None:
        """The outcome's recommendation: a declared code, never the built-in one."""
        node = self.r.get(om, "recommendation", what)
        if node is None:
            return None
        v = node.value if isinstance(node, YScalar) else None
        if v == INSUFFICIENT_DATA:
            self.r.err(om.loc, f"{what}: insufficient_data is produced by the engine, not declared as an outcome")
            return None
        if not isinstance(v, str):
            self.r.err(node.loc, f"{what}.recommendation must be a code declared under 'recommendations'")
            return None
        if v not in self.code_names and self.codes_declared:
            self.r.err(
                node.loc,
                f"{what}.recommendation={v!r} is not a code declared under 'recommendations'"
                f"{suggest(v, self.code_names)}",
            )
        return v  # kept even when undeclared, so its actions and flags are known to invariants

    def invariants(self, node: YNode | None, scope: Scope) -> tuple[Invariant, ...]:
        return tuple(self._properties(node, scope, "invariants", "invariant", Invariant))

    def _properties(self, node: YNode | None, scope: Scope, section: str, word: str, make: type[P]) -> list[P]:
        """The entries of an invariant list (id, description, severity, expr, cites) as ``make`` values."""
        r = self.r
        out: list[P] = []
        for ident, m in self._list_entries(node, section):
            what = f"{word} '{ident}'"
            r.keys(m, ("id", "description", "severity", "expr", "cites"), what)
            sev = r.choice(m, "severity", what, Severity)
            sc = r.scalar(m, "expr", what)
            f = self._formula(sc, scope, BOOL, what) if sc else None
            cites = self._cites(m, what)
            if f is not None and sev is not None:
                out.append(make(ident, r.text(m, "description", what), sev, f, cites, m.loc))
        return out

    def relations(
        self, node: YNode | None, scope: Scope, input_scope: Scope, variables: dict[str, Variable]
    ) -> tuple[MetamorphicRelation, ...]:
        r = self.r
        out: list[MetamorphicRelation] = []
        for ident, m in self._list_entries(node, "metamorphic_relations"):
            what = f"metamorphic relation '{ident}'"
            r.keys(m, ("id", "description", "rationale", "when", "change", "expect", "cites"), what)
            when = None
            if "when" in m.items:
                sc = r.scalar(m, "when", what)
                when = self._formula(sc, scope, BOOL, f"{what}.when") if sc else None
            sc = r.scalar(m, "expect", what)
            expect = self._formula(sc, scope, BOOL, f"{what}.expect") if sc else None
            cm = r.as_map(r.get(m, "change", what), f"{what}.change")
            change = self._input_values(cm, input_scope, variables, f"{what}.change")
            if cm is not None and not cm.items:
                r.err(cm.loc, f"{what}.change must set at least one input")
            cites = self._cites(m, what)
            if not cites:
                r.err(m.loc, f"{what} must cite evidence for why the relation is clinically sound")
            if expect is not None and (when is not None or "when" not in m.items) and cm is not None:
                out.append(
                    MetamorphicRelation(
                        ident,
                        r.text(m, "description", what),
                        r.text(m, "rationale", what),
                        when,
                        tuple(change),
                        expect,
                        cites,
                        m.loc,
                    )
                )
        return tuple(out)

    def _input_values(
        self, cm: YMap | None, scope: Scope, variables: dict[str, Variable], what: str
    ) -> list[tuple[str, Formula | None]]:
        """``input: value`` pairs (an expression, a literal, or null for unknown), checked against each input."""
        r = self.r
        out: list[tuple[str, Formula | None]] = []
        for key, (kn, vn) in cm.items.items() if cm else ():
            var = variables.get(key)
            if var is None:
                r.err(kn.loc, f"{what} sets unknown input '{key}'{suggest(key, sorted(variables))}")
                continue
            if not isinstance(vn, YScalar):
                r.err(vn.loc, f"{what}.{key} must be an expression, a literal value or null")
                continue
            if vn.value is None:  # null: the input becomes unknown
                out.append((key, None))
                continue
            text = vn.value if isinstance(vn.value, str) else str(vn.value).lower()
            if var.type.base == Base.ENUM and isinstance(vn.value, str) and vn.value in var.type.values:
                text = f"'{vn.value}'"  # a bare enum value reads naturally in YAML
            scalar = YScalar(text, vn.loc, vn.style, vn.start, vn.end)
            want = None if var.type.base == Base.ENUM else var.type  # enum values are checked on the result
            f = self._formula(scalar, scope, want, f"{what}.{key}")
            if f is None:
                continue
            if var.type.base == Base.ENUM and f.type != var.type and f.type.base != Base.STR:
                r.err(
                    vn.loc, f"{what}.{key} must be one of {', '.join(var.type.values)}, but this expression is {f.type}"
                )
                continue
            out.append((key, f))
        return out

    def care(
        self, node: YNode | None, symbols: dict[str, Symbol], variables: dict[str, Variable], codes: set[str]
    ) -> Care | None:
        """The ``care`` section: how a course moves between consultations (see :class:`Care`)."""
        r = self.r
        m = r.as_map(node, "care")
        if m is None:
            return None
        what = "care"
        r.keys(m, ("description", "start", "step_hours", "clock", "spontaneous", "follow", "cites"), what)
        scope = Scope(dict(symbols))
        sc = r.scalar(m, "start", what)
        start = self._formula(sc, scope, BOOL, "care.start") if sc else None
        lo = hi = None
        sm = r.as_map(r.get(m, "step_hours", what), "care.step_hours")
        if sm is not None:
            r.keys(sm, ("min", "max"), "care.step_hours")
            lo = r.number(sm, "min", "care.step_hours")
            hi = r.number(sm, "max", "care.step_hours")
            if lo is not None and hi is not None and not (0 <= lo <= hi and hi > 0):
                r.err(sm.loc, f"care.step_hours: need 0 <= min <= max and max > 0, got min {lo!r}, max {hi!r}")
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("clock", "spontaneous"):
            names = r.texts(m, key, what)
            node_k = m.items.get(key)
            loc = node_k[1].loc if node_k else m.loc
            for n in names:
                var = variables.get(n)
                if var is None:
                    r.err(loc, f"care.{key} names unknown input '{n}'{suggest(n, sorted(variables))}")
                elif key == "clock" and not var.type.numeric:
                    r.err(loc, f"care.clock input '{n}' must be a number of hours, but it is {var.type}")
            if len(set(names)) != len(names):
                r.err(loc, f"care.{key} names an input twice")
            lists[key] = names
        for n in sorted(set(lists["clock"]) & set(lists["spontaneous"])):
            r.err(
                m.loc, f"care: input '{n}' is both clock and spontaneous; a spontaneous input already takes any value"
            )
        follow: dict[str, CareFollow] = {}
        for kn, fm in self._entries(r.get(m, "follow", what, required=False), "care.follow"):
            code = str(kn.value)
            fwhat = f"care.follow.{code}"
            if code not in codes:
                r.err(kn.loc, f"{fwhat}: no outcome gives recommendation '{code}'{suggest(code, sorted(codes))}")
            r.keys(fm, ("set", "description", "cites"), fwhat)
            setm = r.as_map(r.get(fm, "set", fwhat), f"{fwhat}.set")
            sets = self._input_values(setm, scope, variables, f"{fwhat}.set")
            if setm is not None and not setm.items:
                r.err(setm.loc, f"{fwhat}.set must set at least one input")
            follow[code] = CareFollow(
                code, tuple(sets), r.text(fm, "description", fwhat, False), self._cites(fm, fwhat), kn.loc
            )
        cites = self._cites(m, what)
        if start is None or lo is None or hi is None:
            return None
        return Care(
            start,
            lo,
            hi,
            lists["clock"],
            lists["spontaneous"],
            follow,
            r.text(m, "description", what, False),
            cites,
            m.loc,
        )

    def temporal_invariants(
        self, node: YNode | None, scope: Scope, has_care: bool, seen: set[str]
    ) -> tuple[TemporalInvariant, ...]:
        out = self._properties(node, scope, "temporal_invariants", "temporal invariant", TemporalInvariant)
        if out and not has_care:
            assert node is not None
            self.r.err(node.loc, "temporal invariants need a care section (how a course moves)")
        for t in out:
            if t.id in seen:
                self.r.err(t.loc, f"temporal invariant '{t.id}' has the same id as an invariant")
        return tuple(out)

    def governance(self, node: YNode | None) -> tuple[GovernanceQuestion, ...]:
        r = self.r
        out: list[GovernanceQuestion] = []
        for ident, m in self._list_entries(node, "governance_questions"):
            what = f"governance question '{ident}'"
            r.keys(m, ("id", "title", "question", "positions", "conservative_choice", "affects", "status"), what)
            positions: list[tuple[str, str]] = []
            seq = r.as_seq(r.get(m, "positions", what), f"{what}.positions")
            for item in seq.items if seq else []:
                pm = r.as_map(item, f"{what} position")
                if pm is None:
                    continue
                r.keys(pm, ("source", "says"), f"{what} position")
                src = r.text(pm, "source", f"{what} position")
                self.cite_refs.append((src, pm.loc, what))
                positions.append((src, r.text(pm, "says", f"{what} position")))
            status = r.text(m, "status", what)
            if status not in ("open", "decided"):
                r.err(m.loc, f"{what}: status={status!r} is not one of open, decided")
            out.append(
                GovernanceQuestion(
                    ident,
                    r.text(m, "title", what),
                    r.text(m, "question", what),
                    tuple(positions),
                    r.text(m, "conservative_choice", what),
                    r.texts(m, "affects", what),
                    status,
                    m.loc,
                )
            )
        return tuple(out)

    def _check_refs(self, spec: Spec) -> None:
        ids = spec.element_ids()
        for g in spec.governance:
            for ref in g.affects:
                if ref not in ids:
                    self.r.err(
                        g.loc,
                        f"governance question '{g.id}' affects unknown element '{ref}'{suggest(ref, sorted(ids))}",
                    )


def _format_message(fmt: float) -> str:
    if fmt == 1:
        return (
            "spec_format=1 is no longer read (expected 2): set 'spec_format: 2', declare every code an "
            "outcome gives under 'recommendations:' with its class (e.g. 'my_code: {class: standard_therapy}'), "
            "and declare the reported outputs under 'outputs:' (each real one with the 'precision' "
            "that moves there from its definition)"
        )
    return f"spec_format={fmt:g} is not supported (expected {SPEC_FORMAT})"


def load_spec_bytes(raw: bytes, path: str) -> Spec:
    """Load a spec from bytes; ``path`` is used in messages and stored on the spec."""
    with hint_budget():  # every problem is reported; only the first ones get a did-you-mean
        return _Builder(load_yaml(raw, path), path).build()


def load_spec_file(path: str | Path) -> Spec:
    """Load a spec file; every problem becomes a located :class:`SpecError`."""
    from crs_model.errors import InputFileError
    from crs_model.fileio import read_regular
    from crs_model.source import MAX_SPEC_BYTES

    p = Path(path)
    try:
        raw = read_regular(p, MAX_SPEC_BYTES)  # only a regular file, never more than the limit
    except InputFileError as exc:
        raise SpecError(Problem(None, f"cannot read spec '{p}': {exc.reason}")) from None
    return load_spec_bytes(raw, str(path))


__all__ = ["load_spec_bytes", "load_spec_file"]
