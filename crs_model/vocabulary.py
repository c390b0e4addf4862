"""The presentation vocabulary: how every output names and styles the same things.

Diagrams, the governance pack and the CLI's text show outcome classes, finding
severities, status words, evidence levels and patient values; they take the words
and colours from here, so one patient, one finding or one outcome reads the same
wherever it appears, and the pack's CSS is generated from these tables rather than
copied by hand. Pure data and string functions: no pydot, no z3.

Value wording, one way everywhere:

- a condition (guard, invariant) is ``true``, ``false`` or ``unknown`` (:func:`truth_text`);
- a patient value is ``yes``/``no`` for a boolean, a number without a spurious
  ``.0``, the text of an enum, and ``unknown`` when absent (:func:`value_text`);
- an explanation names the condition, its value and every input it read
  (:func:`explain`: ``'IL-6 ≥ 500 pg/mL' was false: IL-6 (il6_pg_ml) was 320``);
- what absent inputs leave open reads the same in the text and the diagrams:
  an output's possible values (:func:`undecided_text`: ``2 or 3 (not decided by the inputs
  given)``), a possible flag (:func:`possible_flag_text`: ``possible: <flag> — if known:
  on_ecmo``) and the inputs to record (:func:`deciding_text`: ``to decide, record one of: a;
  or b and c``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from crs_model.errors import Location
from crs_model.expr import Expr, names
from crs_model.model import INSUFFICIENT_DATA, EvidenceLevel, OutcomeClass, ReportedOutput, Spec
from crs_model.types import Symbol, SymbolKind

UNKNOWN = "unknown"

# ---------------------------------------------------------------------------- outcome classes


@dataclass(frozen=True, slots=True)
class ClassStyle:
    """How one outcome class is shown: its title (the spec's label or the default) and colours."""

    cls: OutcomeClass
    title: str  # the class in words (diagram legend, outcome headers, pack badges)
    fill: str  # background of an outcome box or badge
    border: str  # border of an outcome box or badge, and the colour of its class line
    ink: str  # text colour of a badge on fill (darker than the border, for contrast)

    @property
    def css_class(self) -> str:
        """``class-device``: the pack's CSS class for a badge of this class."""
        return "class-" + self.cls.value


# Default title, fill, border and badge ink of each class (colour-blind-safe tints).
# A spec renames a class with ``outcome_classes.<class>.label``; the colours are the toolkit's.
_STYLE: Mapping[OutcomeClass, tuple[str, str, str, str]] = {
    OutcomeClass.NO_CONDITION: ("no condition", "#EEEEEE", "#777777", "#333"),
    OutcomeClass.STANDARD_THERAPY: ("standard therapy", "#D6E6F5", "#0072B2", "#003d63"),
    OutcomeClass.DEVICE: ("device", "#D5EFD9", "#009E73", "#00573f"),
    OutcomeClass.REVIEW: ("specialist review", "#E8DDF0", "#7B4F9E", "#4a2d63"),
    OutcomeClass.CONTRAINDICATED: ("contraindicated", "#F8D3D3", "#C0392B", "#7d1f16"),
    OutcomeClass.INSUFFICIENT: ("insufficient data", "#FFF1C9", "#B8860B", "#6b4e06"),
}


def class_style(cls: OutcomeClass, spec: Spec | None = None) -> ClassStyle:
    """The style of ``cls``, titled as ``spec`` names it (the toolkit's default title without a spec)."""
    title, fill, border, ink = _STYLE[cls]
    if spec is not None:
        title = spec.class_labels.get(cls, title)
    return ClassStyle(cls, title, fill, border, ink)


def outcome_class(spec: Spec, code: str) -> ClassStyle:
    """The class of a recommendation code, as ``spec`` declares it (``insufficient_data``: built in).

    Raises ``KeyError`` for a code the spec does not declare.
    """
    cls = OutcomeClass.INSUFFICIENT if code == INSUFFICIENT_DATA else spec.recommendations[code].cls
    return class_style(cls, spec)


def spec_classes(spec: Spec) -> tuple[ClassStyle, ...]:
    """The classes ``spec``'s codes use, plus ``insufficient``, in the toolkit's order (legends)."""
    used = {rc.cls for rc in spec.recommendations.values()} | {OutcomeClass.INSUFFICIENT}
    return tuple(class_style(c, spec) for c in OutcomeClass if c in used)


ALL_CLASSES: tuple[ClassStyle, ...] = tuple(class_style(c) for c in OutcomeClass)
"""Every class with its default title: the pack's CSS has a rule for each."""


# ---------------------------------------------------------------------------- tones and statuses


class Tone(enum.Enum):
    """The four status tones of badges and callouts: CSS class, colour, badge tint, Markdown icon."""

    OK = ("ok", "#1e7d4f", "#e9f6ef", "✅")
    WARN = ("warn", "#9a6300", "#fdf5e4", "⚠️")
    BAD = ("bad", "#b3261e", "#fbeceb", "❌")
    INFO = ("info", "#1f5f99", "#eaf2fa", "ℹ️")

    @property
    def css_class(self) -> str:
        """``ok``, ``warn``, ``bad`` or ``info``: the pack's CSS class (and CSS variable) of the tone."""
        return self.value[0]

    @property
    def colour(self) -> str:
        """Text and border colour."""
        return self.value[1]

    @property
    def tint(self) -> str:
        """Badge background."""
        return self.value[2]

    @property
    def icon(self) -> str:
        """The callout's icon in Markdown (which has no colours)."""
        return self.value[3]


# A status word has one tone wherever it is shown (spec status, check result,
# invariant proof, source confidence, governance question).
_STATUS_TONE = {
    "active": Tone.OK,
    "draft": Tone.WARN,
    "retired": Tone.BAD,
    "passed": Tone.OK,
    "failed": Tone.BAD,
    "proven": Tone.OK,
    "refuted": Tone.BAD,
    "unverified": Tone.WARN,
    "open": Tone.WARN,
}


def status_tone(word: str, default: Tone) -> Tone:
    """The tone of a status word; ``default`` for a word this vocabulary does not know."""
    return _STATUS_TONE.get(word, default)


# ---------------------------------------------------------------------------- findings and severities


@dataclass(frozen=True, slots=True)
class SeverityStyle:
    """How one finding severity is ordered and shown: pack tone and diagram colour."""

    order: int
    tone: Tone
    colour: str


SEVERITIES: Mapping[str, SeverityStyle] = {
    "error": SeverityStyle(0, Tone.BAD, "#C0392B"),
    "warning": SeverityStyle(1, Tone.WARN, "#D35400"),
    "info": SeverityStyle(2, Tone.INFO, "#2471A3"),
}
SEVERITY_ORDER = {s: style.order for s, style in SEVERITIES.items()}
SEVERITY_COLOUR = {s: style.colour for s, style in SEVERITIES.items()}


class FindingLike(Protocol):
    """What the overlay reads from a verifier finding (``crs_model.verify.Finding``)."""

    @property
    def check(self) -> str:
        """The check kind that produced the finding."""

    @property
    def severity(self) -> Any:
        """A Severity enum (``.value`` error|warning|info) or its text."""

    @property
    def location(self) -> Location | None:
        """Where in the spec, when located."""

    @property
    def message(self) -> str:
        """The finding in words."""

    @property
    def witness(self) -> Mapping[str, Any] | None:
        """A patient that exhibits the finding, if any."""

    @property
    def element(self) -> str:
        """The ``kind:id`` of the spec element the finding is about."""


def severity_text(finding: FindingLike) -> str:
    """``error``, ``warning`` or ``info`` (a finding's severity may be the enum or its text)."""
    sev = finding.severity
    return str(getattr(sev, "value", sev))


def sort_findings(findings: Iterable[FindingLike]) -> list[FindingLike]:
    """Stable, deterministic order: severity, check, element, location, message."""

    def key(f: FindingLike) -> tuple[int, str, str, str, str]:
        return (SEVERITY_ORDER.get(severity_text(f), 9), f.check, f.element, str(f.location or ""), f.message)

    return sorted(findings, key=key)


def level_text(level: EvidenceLevel) -> str:
    """``grade_very_low`` -> ``GRADE very low``; ``expert_opinion`` -> ``expert opinion``."""
    v = level.value
    return "GRADE " + v[6:].replace("_", " ") if v.startswith("grade_") else v.replace("_", " ")


# ---------------------------------------------------------------------------- values


def truth_text(value: bool | None) -> str:
    """A condition's three-valued result: ``true``, ``false`` or ``unknown``."""
    return UNKNOWN if value is None else "true" if value else "false"


def value_text(value: Any) -> str:
    """A patient value: ``unknown`` when absent, ``yes``/``no``, ``320`` (not ``320.0``), ``38.5``, ``car_t``."""
    if value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.0f}"
    return str(value)


def output_text(value: Any, unit: str, precision: int | None = None) -> str:
    """A reported output with its unit: a real one to its ``precision`` (``580.0 mg``), else as
    :func:`value_text` (``4``, ``yes``, ``unknown``)."""
    real = precision is not None and isinstance(value, (int, float)) and not isinstance(value, bool)
    shown = f"{value:.{precision}f}" if real else value_text(value)
    return f"{shown} {unit}" if unit and value is not None else shown


@dataclass(frozen=True, slots=True)
class ValueRead:
    """One input or definition that a condition reads, with its value for a patient."""

    name: str
    label: str
    unit: str
    value: Any

    def text(self) -> str:
        """``IL-6 = 320 pg/mL`` (the unit only with a known value)."""
        unit = f" {self.unit}" if self.unit and self.value is not None else ""
        return f"{self.label} = {value_text(self.value)}{unit}"


def values_read(ast: Expr, values: Mapping[str, Any], symbols: Mapping[str, Symbol]) -> list[ValueRead]:
    """The non-parameter names ``ast`` reads, sorted by name, with their values (``None`` = unknown)."""
    out = []
    for n in sorted(set(names(ast))):
        sym = symbols.get(n)
        if sym is None or sym.kind is SymbolKind.PARAMETER:
            continue
        out.append(ValueRead(n, sym.label or n, sym.unit, values.get(n)))
    return out


def explain(condition: str, value: Any, reads: Iterable[ValueRead]) -> str:
    """icontract-style: ``'IL-6 ≥ 500 pg/mL' was false: IL-6 (il6_pg_ml) was 320``.

    ``condition`` is the condition in clinical words (``crs_model.text.Renderer``),
    ``value`` its result for the patient (a truth value, or a number for a formula)
    and ``reads`` what it read (:func:`values_read`).
    Every counterexample and witness wording uses it (the verifier's through
    ``crs_model.verify.wording``).
    """
    subs = [f"{r.label} ({r.name}) was {value_text(r.value)}" for r in reads]
    result = truth_text(value) if value is None or isinstance(value, bool) else value_text(value)
    return f"'{condition}' was {result}" + (": " + ", ".join(subs) if subs else "")


# ---------------------------------------------------------------------------- what absent inputs leave open

NOT_DECIDED = "not decided by the inputs given"
MAX_LISTED_VALUES = 6  # more possible values of an output are shown as their count and range


def alternatives(items: Sequence[str], last: str = "or") -> str:
    """``a``, ``a or b``, ``a, b or c`` (``last`` joins the final two)."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def undecided_text(values: Sequence[Any] | None, unit: str, precision: int | None = None) -> str:
    """A reported output absent inputs leave open (``Decision.undecided_outputs``), with its unit:
    ``2 or 3 (not decided by the inputs given)``; ``None`` (a continuous range) reads ``unknown (…)``."""
    if not values:
        return f"{UNKNOWN} ({NOT_DECIDED})"
    shown = [output_text(v, "", precision) for v in values]
    if len(shown) > MAX_LISTED_VALUES:
        text = f"one of {len(shown)} values from {shown[0]} to {shown[-1]}"
    else:
        text = alternatives(shown)
    return f"{text}{' ' + unit if unit else ''} ({NOT_DECIDED})"


def undecided_output_text(ro: ReportedOutput, values: Sequence[Any] | None) -> str:
    """``ASTCT grade: 2 or 3 (not decided by the inputs given)``: a reported output under its spec label."""
    return f"{ro.label}: {undecided_text(values, ro.unit, ro.precision)}"


def possible_flag_text(text: str, if_known: Sequence[str]) -> str:
    """A flag absent inputs leave open (``Decision.possible_flags``):
    ``possible: <flag text> — if known: on_ecmo``."""
    return f"possible: {text} — if known: {', '.join(if_known)}"


def deciding_text(sets: Sequence[Sequence[str]]) -> str:
    """The absent inputs that would decide (``Decision.missing_any_of``, each set read together):
    ``to decide, record: vasopressin``; ``to decide, record one of: a; or b and c`` ('' for none)."""
    parts = [alternatives(list(s), "and") for s in sets if s]
    if not parts:
        return ""
    if len(parts) == 1:
        return f"to decide, record: {parts[0]}"
    return "to decide, record one of: " + "; or ".join(parts)


def sets_to_record(missing: Sequence[str], missing_any_of: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """The sets :func:`deciding_text` names for a decision: ``missing_any_of``, or ``missing`` alone
    when an engine without the exact method (``Engine(spec, exact=False)``) gave only that."""
    if missing_any_of:
        return [tuple(s) for s in missing_any_of]
    return [tuple(missing)] if missing else []
