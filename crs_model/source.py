"""Load YAML as a tree of located nodes, data only.

PyYAML's safe composer keeps a start mark (line, column, index) on every node,
which is what compiler-style ``file:line:col`` errors need. Aliases, duplicate
keys, non-string keys and oversized files are refused: a spec is a reviewed
document, not a program.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from crs_model.errors import Location, Problem, SpecError
from crs_model.exact import NumberError, parse_decimal

MAX_SPEC_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
MAX_YAML_DEPTH = 64

# libyaml's CSafeLoader is faster when present; both are safe (data-only) loaders.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Scalar = str | int | float | bool | None
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


@dataclass(frozen=True, slots=True)
class YScalar:
    """A YAML scalar with its location and its span in the source text."""

    value: Scalar
    loc: Location
    style: str | None
    start: int  # character index of the node in the source text
    end: int


@dataclass(frozen=True, slots=True)
class YMap:
    """A YAML mapping: keys in file order, each with its key node and value node."""

    loc: Location
    items: dict[str, tuple[YScalar, YNode]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class YSeq:
    """A YAML sequence with its location."""

    loc: Location
    items: list[YNode] = field(default_factory=list)


YNode = YScalar | YMap | YSeq


@dataclass(frozen=True, slots=True)
class Source:
    """A loaded spec file: its name as given, its text, and its root node."""

    name: str
    text: str
    raw: bytes
    root: YNode

    def locate(self, scalar: YScalar, offset: int) -> Location:
        """Location of character ``offset`` of a string scalar's value."""
        return expr_location(self.text, scalar, offset, self.name)


def _loc(name: str, mark: yaml.Mark) -> Location:
    return Location(name, mark.line + 1, mark.column + 1)


def load_yaml(raw: bytes, name: str) -> Source:
    """Parse ``raw`` into located nodes or raise :class:`SpecError`."""
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(Problem(Location(name, 1, 1), f"file is {len(raw)} bytes; the limit is {MAX_SPEC_BYTES}"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(Problem(Location(name, 1, 1), f"file is not UTF-8: {exc.reason} at byte {exc.start}")) from None
    text = text.removeprefix("\ufeff")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = _loc(name, mark) if mark is not None else Location(name, 1, 1)
        raise SpecError(Problem(loc, f"invalid YAML: {exc.problem or exc.context}")) from None
    except yaml.YAMLError as exc:
        raise SpecError(Problem(Location(name, 1, 1), f"invalid YAML: {exc}")) from None
    finally:
        loader.dispose()
    if node is None:
        raise SpecError(Problem(Location(name, 1, 1), "file is empty"))
    conv = _Converter(name)
    try:
        root = conv.convert(node, 0)
    except _AliasSeen as exc:
        raise SpecError(_alias_problem(text, name, exc.loc)) from None
    return Source(name, text, raw, root)


class _AliasSeen(Exception):
    def __init__(self, loc: Location) -> None:
        self.loc = loc


def _alias_problem(text: str, name: str, fallback: Location) -> Problem:
    # the composed tree has no trace of the alias itself (it is the anchored node
    # again); re-scan the events, on this error path only, to point at the '*name'
    for event in yaml.parse(text, Loader=_Loader):
        mark = event.start_mark
        if isinstance(event, yaml.AliasEvent) and mark is not None:
            where = Location(name, mark.line + 1, mark.column + 1)
            return Problem(where, f"YAML alias '*{event.anchor}' is not allowed in a spec")
    return Problem(fallback, "YAML aliases (*name) are not allowed in a spec")  # pragma: no cover


class _Converter:
    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: set[int] = set()
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, depth: int) -> YNode:
        loc = _loc(self.name, node.start_mark)
        if id(node) in self.seen:
            raise _AliasSeen(loc)
        self.seen.add(id(node))
        self.count += 1
        if self.count > MAX_NODES:
            raise SpecError(Problem(loc, f"document has more than {MAX_NODES} YAML nodes"))
        if depth > MAX_YAML_DEPTH:
            raise SpecError(Problem(loc, f"YAML nested deeper than {MAX_YAML_DEPTH} levels"))
        if isinstance(node, yaml.ScalarNode):
            if node.tag in _NUMBER_TAGS:
                return self.number(node, loc)
            try:
                value = self.constructor.construct_object(node)
            except yaml.YAMLError as exc:
                raise SpecError(Problem(loc, f"invalid scalar: {exc}")) from None
            if not isinstance(value, (str, int, float, bool, type(None))):
                # dates and timestamps stay as the text the author wrote
                value = str(node.value)
            return YScalar(value, loc, node.style, node.start_mark.index, node.end_mark.index)
        if isinstance(node, yaml.SequenceNode):
            return YSeq(loc, [self.convert(n, depth + 1) for n in node.value])
        if isinstance(node, yaml.MappingNode):
            out = YMap(loc)
            for knode, vnode in node.value:
                key = self.convert(knode, depth + 1)
                if not isinstance(key, YScalar) or not isinstance(key.value, str):
                    raise SpecError(Problem(key.loc, "mapping keys must be plain strings"))
                if key.value in out.items:
                    first = out.items[key.value][0].loc
                    raise SpecError(
                        Problem(key.loc, f"duplicate key '{key.value}' (first defined at line {first.line})")
                    )
                out.items[key.value] = (key, self.convert(vnode, depth + 1))
            return out
        raise SpecError(Problem(loc, "unsupported YAML node"))  # pragma: no cover

    def number(self, node: yaml.ScalarNode, loc: Location) -> YScalar:
        """A plain number YAML resolved as int or float, checked by the spec's one number rule.

        Built from its text, not by PyYAML (which reads ``0500`` as octal, ``1:30`` as
        base 60, ``1_000`` as 1000, and raises on ints over 4,300 digits), so a number
        means what it says or is a located error.
        """
        try:
            q = parse_decimal(node.value)
        except NumberError as exc:
            raise SpecError(Problem(loc, f"{exc}; quote it if it is text")) from None
        value: int | float = q if isinstance(q, int) else float(q)
        return YScalar(value, loc, node.style, node.start_mark.index, node.end_mark.index)


def expr_location(text: str, scalar: YScalar, offset: int, name: str) -> Location:
    """Map ``offset`` in a string scalar's value back to ``line:col`` in the file.

    Walks the raw text and the value side by side, treating every run of white
    space as equal (YAML folds line breaks and drops block indentation).
    """
    value = scalar.value if isinstance(scalar.value, str) else str(scalar.value)
    i = scalar.start
    if scalar.style in ("|", ">"):
        nl = text.find("\n", i)
        i = nl + 1 if nl >= 0 else i
    elif scalar.style in ("'", '"'):
        i += 1
    j = 0
    end = max(scalar.end, i)
    while j < offset and j < len(value) and i < end:
        if value[j].isspace():
            while j < len(value) and value[j].isspace() and j < offset:
                j += 1
            while i < end and text[i].isspace():
                i += 1
            continue
        while i < end and text[i].isspace():
            i += 1
        i += 1
        j += 1
    while i < end and text[i].isspace() and j < len(value) and not value[j].isspace():
        i += 1
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return Location(name, line, col)
