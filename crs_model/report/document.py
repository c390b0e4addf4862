"""The governance pack as a small document model: blocks of inline pieces, written as HTML or Markdown."""

from __future__ import annotations

from dataclasses import dataclass

from crs_model.vocabulary import ClassStyle, Tone


@dataclass(frozen=True, slots=True)
class T:
    """Plain text."""

    text: str


@dataclass(frozen=True, slots=True)
class B:
    """Bold text."""

    text: str


@dataclass(frozen=True, slots=True)
class Code:
    """Inline code (ids, paths, commands)."""

    text: str


@dataclass(frozen=True, slots=True)
class Badge:
    """A short status word, coloured by its tone or outcome class."""

    text: str
    kind: Tone | ClassStyle


@dataclass(frozen=True, slots=True)
class Cite:
    """A source reference with its evidence level; ``title`` is the full citation."""

    eid: str
    level: str
    title: str


@dataclass(frozen=True, slots=True)
class Link:
    """A link to an anchor within the pack."""

    anchor: str
    text: str


Inline = T | B | Code | Badge | Cite | Link
Cell = list[Inline]


@dataclass(frozen=True, slots=True)
class H:
    """A heading with its anchor (level 2 headings make the navigation)."""

    level: int
    text: str
    anchor: str


@dataclass(frozen=True, slots=True)
class P:
    """A paragraph."""

    parts: Cell


@dataclass(frozen=True, slots=True)
class UL:
    """A bulleted list."""

    items: list[Cell]


@dataclass(frozen=True, slots=True)
class Table:
    """A table of cells; ``cls`` is its CSS class (``kv``: a key-value table)."""

    head: list[str]
    rows: list[list[Cell]]
    cls: str = ""


@dataclass(frozen=True, slots=True)
class Pre:
    """Preformatted text (witness JSON)."""

    text: str
    summary: str = ""  # when set, HTML shows it collapsed under this summary


@dataclass(frozen=True, slots=True)
class Figure:
    """The diagram with its caption."""

    svg: str | None  # inline SVG markup (HTML only)
    caption: str
    fallback: str  # what Markdown and an SVG-less HTML show instead


@dataclass(frozen=True, slots=True)
class Callout:
    """A highlighted note in a tone."""

    kind: Tone
    parts: Cell
    cls: str = ""  # an extra CSS class (``banner``: the verification-failed banner)


@dataclass(frozen=True, slots=True)
class Outline:
    """A nested list: each item with its depth (0 = top level), in reading order (criteria trees)."""

    items: list[tuple[int, Cell]]


Block = H | P | UL | Table | Pre | Figure | Callout | Outline
