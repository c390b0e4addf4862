"""The cohort's input and result schemas, derived from the spec (no column name is typed in Python)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from crs_model.model import Spec
from crs_model.types import Base


class Kind(Enum):
    """A column's storage kind (one Parquet/Arrow type each)."""

    BOOL = "bool"
    INT = "int"
    REAL = "real"
    TEXT = "text"
    TEXT_LIST = "text_list"


_OF_BASE = {Base.BOOL: Kind.BOOL, Base.INT: Kind.INT, Base.REAL: Kind.REAL, Base.ENUM: Kind.TEXT}

ROW = "row"
RECOMMENDATION = "recommendation"
OUTCOME = "outcome"
FLAGS = "flags"
MISSING = "missing"
ERROR = "error"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a cohort table."""

    name: str
    kind: Kind


def input_columns(spec: Spec) -> tuple[Column, ...]:
    """One column per input of ``spec``, in declaration order (NULL = absent)."""
    return tuple(Column(n, _OF_BASE[v.type.base]) for n, v in spec.variables.items())


def result_columns(spec: Spec) -> tuple[Column, ...]:
    """The result table: row number, decision, each reported output under its own name, flags, missing, error."""
    outputs = tuple(Column(n, _OF_BASE[spec.symbols[n].type.base]) for n in spec.outputs)
    return (
        Column(ROW, Kind.INT),
        Column(RECOMMENDATION, Kind.TEXT),
        Column(OUTCOME, Kind.TEXT),
        *outputs,
        Column(FLAGS, Kind.TEXT_LIST),
        Column(MISSING, Kind.TEXT_LIST),
        Column(ERROR, Kind.TEXT),
    )


def clashes(spec: Spec) -> list[str]:
    """Reported outputs whose name is one of the fixed result columns (the result could not hold both)."""
    fixed = {ROW, RECOMMENDATION, OUTCOME, FLAGS, MISSING, ERROR}
    return [n for n in spec.outputs if n in fixed]
