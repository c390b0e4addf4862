"""Frozen, typed value objects for a loaded decision spec. No behaviour beyond lookups."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from crs_model.diagnostics import Location
from crs_model.diagnostics import Severity as Severity  # re-exported: model values carry a severity
from crs_model.expr import Expr
from crs_model.source import Source, YScalar
from crs_model.types import Symbol, Type

if TYPE_CHECKING:  # index reads model; model builds the index only on first use (see Spec.index)
    from crs_model.index import SpecIndex


class Status(enum.Enum):
    """The spec's lifecycle status (``metadata.status``)."""

    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"


class EvidenceKind(enum.Enum):
    """What kind of source an evidence entry is."""

    SEED_REFERENCE = "seed_reference"
    GUIDELINE = "guideline"
    LABEL = "label"
    IFU = "ifu"
    STUDY = "study"
    REVIEW = "review"


class EvidenceLevel(enum.Enum):
    """The level of evidence the spec assigns to a source."""

    GRADE_HIGH = "grade_high"
    GRADE_MODERATE = "grade_moderate"
    GRADE_LOW = "grade_low"
    GRADE_VERY_LOW = "grade_very_low"
    EXPERT_OPINION = "expert_opinion"


class Confidence(enum.Enum):
    """How confident the spec's authors are in a source or a flag."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    UNVERIFIED = "unverified"


class HitPolicy(enum.Enum):
    """How a decision node picks an edge: ``unique`` (one guard may hold) or ``first`` (in order)."""

    UNIQUE = "unique"  # exactly one outgoing guard may hold
    FIRST = "first"  # ordered; the first true guard wins


# The one recommendation code every spec has: the engine gives it when it cannot decide.
INSUFFICIENT_DATA = "insufficient_data"


class OutcomeClass(enum.StrEnum):
    """The toolkit's closed set of outcome classes: presentation words, not clinical ones.

    A spec gives each of its recommendation codes one class; the class drives colours,
    badges and report grouping. ``insufficient`` belongs to the built-in code
    :data:`INSUFFICIENT_DATA` only.
    """

    NO_CONDITION = "no_condition"
    STANDARD_THERAPY = "standard_therapy"
    DEVICE = "device"
    REVIEW = "review"  # specialist review or an override is needed
    CONTRAINDICATED = "contraindicated"
    INSUFFICIENT = "insufficient"


class ReportMode(enum.StrEnum):
    """When a declared output is reported on a decision."""

    ALWAYS = "always"  # on every decision (insufficient_data too); null when unknown
    LISTED = "listed"  # only on outcomes that list it; such an outcome needs it known


@dataclass(frozen=True, slots=True)
class RecommendationCode:
    """A recommendation code the spec declares (``recommendations.<code>``) and its class."""

    code: str
    cls: OutcomeClass
    label: str
    description: str
    loc: Location | None


@dataclass(frozen=True, slots=True)
class ReportedOutput:
    """A definition the decision reports (``outputs.<name>``): when, in which unit, how rounded."""

    name: str
    report: ReportMode
    unit: str
    precision: int | None  # decimal places of a real output; None for the other types
    label: str
    loc: Location | None


@dataclass(frozen=True, slots=True)
class Formula:
    """An expression as written (``text``), parsed (``ast``) and located."""

    text: str
    ast: Expr
    type: Type
    loc: Location
    scalar: YScalar


MAX_APPROVING_ROLES = 20


@dataclass(frozen=True, slots=True)
class SignoffPolicy:
    """What ``status: active`` needs (``metadata.signoff_policy``): approvals by this many distinct roles.

    Without a policy, one valid ``approved`` sign-off of the exact bytes suffices.
    """

    approved_by_roles: int = 1


@dataclass(frozen=True, slots=True)
class Metadata:
    """The spec's identity and provenance (``metadata``): id, version, status, authors, reviewers, sign-off policy."""

    id: str
    title: str
    version: str
    status: Status
    date: str
    authors: tuple[str, ...]
    reviewers: tuple[str, ...]
    jurisdiction: str
    description: str
    signoff_policy: SignoffPolicy | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """One cited source, referenced by id from the elements it supports."""

    id: str
    citation: str
    kind: EvidenceKind
    level: EvidenceLevel
    confidence: Confidence
    note: str
    loc: Location


class ErrorKind(enum.StrEnum):
    """How a measurement error is given: in the input's unit, or as a fraction of the value."""

    ABSOLUTE = "absolute"
    RELATIVE = "relative"


@dataclass(frozen=True, slots=True)
class MeasurementError:
    """How far a measured value may lie from the true one (``variables.<v>.measurement_error``).

    ``absolute``: ``amount`` in the input's unit; ``relative``: a fraction of the value
    (0.2 is ±20 %). Cited like any clinical number.
    """

    kind: ErrorKind
    amount: float
    cites: tuple[str, ...]
    note: str
    loc: Location

    def half_width(self, value: float) -> float:
        """How far the true value may be from ``value`` in either direction."""
        return self.amount if self.kind is ErrorKind.ABSOLUTE else abs(value) * self.amount

    def text(self, unit: str) -> str:
        """``±20 %`` or ``±0.1 °C``."""
        if self.kind is ErrorKind.RELATIVE:
            return f"±{self.amount * 100:g} %"
        return f"±{self.amount:g} {unit}".rstrip()


@dataclass(frozen=True, slots=True)
class Variable:
    """A patient input: its type, unit, optional numeric domain and label, and measurement error."""

    name: str
    type: Type
    unit: str
    minimum: float | None
    maximum: float | None
    label: str
    description: str
    loc: Location
    measurement_error: MeasurementError | None = None


@dataclass(frozen=True, slots=True)
class Constraint:
    """A condition every valid patient satisfies; input that breaks it is rejected with ``message``."""

    id: str
    formula: Formula
    message: str
    cites: tuple[str, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class Parameter:
    """A named constant (a threshold or dose) with its rationale and citations."""

    name: str
    value: float | bool
    type: Type
    unit: str
    label: str
    rationale: str
    cites: tuple[str, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class Definition:
    """A named expression over inputs, parameters and earlier definitions."""

    name: str
    formula: Formula
    unit: str
    label: str
    description: str
    cites: tuple[str, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class Edge:
    """A guarded transition from one decision node to a node or outcome, in declared order."""

    source: str
    target: str
    index: int
    guard: Formula
    label: str
    cites: tuple[str, ...]
    loc: Location

    @property
    def id(self) -> str:
        """``source->target``, the edge's element id."""
        return f"{self.source}->{self.target}"


@dataclass(frozen=True, slots=True)
class DecisionNode:
    """A question in the decision graph: its outgoing edges and their hit policy."""

    id: str
    question: str
    hit_policy: HitPolicy
    edges: tuple[Edge, ...]
    cites: tuple[str, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class Action:
    """A step an outcome tells the clinician to take."""

    id: str
    text: str
    cites: tuple[str, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class Flag:
    """A note an outcome shows, always or when its condition holds."""

    id: str
    text: str
    when: Formula | None
    confidence: Confidence | None
    cites: tuple[str, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class Outcome:
    """A leaf of the graph: the recommendation, the outputs it reports, its actions and flags."""

    id: str
    recommendation: str  # a code declared under ``recommendations``
    title: str
    outputs: tuple[str, ...]  # declared outputs that must be known to give this outcome
    actions: tuple[Action, ...]
    flags: tuple[Flag, ...]
    cites: tuple[str, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class Invariant:
    """A safety property every decision must satisfy, checked by ``crs-model verify``."""

    id: str
    description: str
    severity: Severity
    formula: Formula
    cites: tuple[str, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class MetamorphicRelation:
    """A property of pairs of patients: when ``when`` holds for a patient's decision,
    the follow-up patient (its inputs with ``change`` applied) must satisfy ``expect``.

    ``when`` and ``expect`` read like invariants (inputs, definitions and
    ``recommendation``); each ``change`` value is an expression over the source
    patient's inputs giving the follow-up value of that input (None: unknown).
    """

    id: str
    description: str
    rationale: str
    when: Formula | None
    change: tuple[tuple[str, Formula | None], ...]
    expect: Formula
    cites: tuple[str, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class CareFollow:
    """What following one recommendation does to the inputs (``care.follow.<code>``).

    ``sets`` are evaluated together on the state the recommendation was given in
    (inputs, parameters and definitions); ``None`` makes the input unknown.
    """

    recommendation: str
    sets: tuple[tuple[str, Formula | None], ...]
    description: str
    cites: tuple[str, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class Care:
    """How a course of care moves from one consultation to the next (``care``).

    One step: the engine decides on a valid state; the care team follows the
    recommendation (:attr:`follow`, none for a code without an entry); between
    ``step_min_h`` and ``step_max_h`` hours pass and every known :attr:`clock` input
    grows by them (capped at its maximum); every :attr:`spontaneous` input may take
    any value of its domain or become unknown; every other input is held. The next
    state must satisfy the constraints. Every course starts in a state where
    :attr:`start` is true. See docs/care.md.
    """

    start: Formula
    step_min_h: float
    step_max_h: float
    clock: tuple[str, ...]
    spontaneous: tuple[str, ...]
    follow: Mapping[str, CareFollow]
    description: str
    cites: tuple[str, ...]
    loc: Location

    def __post_init__(self) -> None:
        """Make :attr:`follow` a read-only copy."""
        object.__setattr__(self, "follow", MappingProxyType(dict(self.follow)))

    @property
    def changing(self) -> frozenset[str]:
        """Names the care section lets change (set by a transition, clock or spontaneous)."""
        names = set(self.clock) | set(self.spontaneous)
        for f in self.follow.values():
            names |= {n for n, _ in f.sets}
        return frozenset(names)


@dataclass(frozen=True, slots=True)
class TemporalInvariant:
    """A property of every step of every care course (``temporal_invariants``).

    Its formula reads like an invariant on the current step and may count earlier
    steps with ``count_before(cond)`` and ``count_within(hours, cond)``; proven by
    bounded model checking up to a stated depth and fuzzed by the care machine.
    """

    id: str
    description: str
    severity: Severity
    formula: Formula
    cites: tuple[str, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class GovernanceQuestion:
    """An open question for the governance committee: the sources' positions and the conservative choice."""

    id: str
    title: str
    question: str
    positions: tuple[tuple[str, str], ...]  # (evidence id, what that source says)
    conservative_choice: str
    affects: tuple[str, ...]  # element references like "parameter:il6_markedly_elevated_pg_ml"
    status: str
    loc: Location


_SPEC_MAPPINGS = (
    "evidence",
    "variables",
    "parameters",
    "definitions",
    "nodes",
    "outcomes",
    "symbols",
    "invariant_symbols",
    "recommendations",
    "outputs",
    "class_labels",
)


@dataclass(frozen=True, slots=True)
class Spec:
    """A loaded, type-checked decision spec. Build with :func:`crs_model.load_spec`."""

    path: str
    sha256: str
    source: Source
    metadata: Metadata
    evidence: Mapping[str, Evidence]
    variables: Mapping[str, Variable]
    constraints: tuple[Constraint, ...]
    parameters: Mapping[str, Parameter]
    definitions: Mapping[str, Definition]  # in dependency order
    entry: str
    nodes: Mapping[str, DecisionNode]
    outcomes: Mapping[str, Outcome]
    invariants: tuple[Invariant, ...]
    governance: tuple[GovernanceQuestion, ...]
    symbols: Mapping[str, Symbol]  # variables, parameters and definitions
    invariant_symbols: Mapping[str, Symbol]  # plus ``recommendation``
    graph_loc: Location
    recommendations: Mapping[str, RecommendationCode]  # declared codes, in declared order
    outputs: Mapping[str, ReportedOutput]  # the decision's reported outputs, in JSON order
    class_labels: Mapping[OutcomeClass, str]  # the spec's names for classes (``outcome_classes``)
    metamorphic_relations: tuple[MetamorphicRelation, ...] = ()
    care: Care | None = None
    temporal_invariants: tuple[TemporalInvariant, ...] = ()
    # not an init field: dataclasses.replace (how mutants are built) gives the copy a fresh index
    _index: SpecIndex | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def index(self) -> SpecIndex:
        """The spec's :class:`~crs_model.index.SpecIndex`, built on first access and kept.

        Every backend reads its facts about the spec here, so each is computed once
        per spec. Safe from several threads: the index is a pure function of the
        spec, so two threads building it at once get equal values (one is kept).
        """
        idx = self._index
        if idx is None:
            from crs_model.index import build_index  # index imports model: resolved at call time

            idx = build_index(self)
            object.__setattr__(self, "_index", idx)  # memo on a frozen value, as Decision.cites
        return idx

    def __post_init__(self) -> None:
        """Make every mapping a read-only copy."""
        # frozen means frozen: every mapping is a read-only view of a private copy, so neither a
        # caller (``spec.parameters.pop(...)``) nor whoever built the dicts can change a loaded spec
        for name in _SPEC_MAPPINGS:
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def locate(self, formula: Formula, offset: int) -> Location:
        """Location in the spec file of character ``offset`` of ``formula``."""
        return self.source.locate(formula.scalar, offset)

    def element_ids(self) -> set[str]:
        """Every referencable element as ``kind:id`` (used by traceability maps)."""
        ids: set[str] = {f"evidence:{k}" for k in self.evidence}
        ids |= {f"variable:{k}" for k in self.variables}
        ids |= {f"constraint:{c.id}" for c in self.constraints}
        ids |= {f"parameter:{k}" for k in self.parameters}
        ids |= {f"definition:{k}" for k in self.definitions}
        ids |= {f"node:{k}" for k in self.nodes}
        ids |= {f"edge:{e.id}" for n in self.nodes.values() for e in n.edges}
        ids |= {f"outcome:{k}" for k in self.outcomes}
        for o in self.outcomes.values():
            ids |= {f"action:{a.id}" for a in o.actions}
            ids |= {f"flag:{f.id}" for f in o.flags}
        ids |= {f"invariant:{i.id}" for i in self.invariants}
        ids |= {f"governance:{g.id}" for g in self.governance}
        ids |= {f"relation:{m.id}" for m in self.metamorphic_relations}
        ids |= {f"invariant:{t.id}" for t in self.temporal_invariants}
        if self.care is not None:
            ids.add("care:course")
            ids |= {f"transition:{k}" for k in self.care.follow}
        return ids
