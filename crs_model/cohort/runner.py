"""Decide every row of a cohort with the python engine and write one result row per input row.

Nothing is dropped: a row the validator rejects gets its message in ``error`` and no
recommendation, outcome, outputs, flags or missing; after writing, the result's row count is
read back and compared with the rows read (:class:`LostRows` if they differ).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crs_model.cohort.columns import ERROR, FLAGS, MISSING, OUTCOME, RECOMMENDATION, ROW, result_columns
from crs_model.cohort.readers import BadRow, Row
from crs_model.cohort.writers import TableWriter, count_rows
from crs_model.engine import Engine
from crs_model.errors import CrsModelError, PatientError, SpecDefectError
from crs_model.model import Spec

RESULT_SUFFIXES = (".parquet", ".jsonl")


class LostRows(CrsModelError):
    """The result does not hold one row per input row: a defect of the run, never a valid result.

    Report it with the two counts; the result file must not be used.
    """


@dataclass(slots=True)
class Summary:
    """What a cohort run decided: counts by recommendation, invalid rows and throughput."""

    rows: int = 0
    invalid: int = 0
    seconds: float = 0.0
    routed: int = 0  # valid rows whose three-valued SQL answer was open (the SQL engines)
    keys: int = 0  # distinct routing keys among them: the exact engine's decisions
    by_recommendation: Counter[str] = field(default_factory=Counter)

    @property
    def rows_per_second(self) -> float:
        """Rows decided and written per second of wall time."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_text(self) -> str:
        """A concise human summary (counts by recommendation, most frequent first; ties by name)."""
        lines = [f"{self.rows} rows: {self.rows - self.invalid} decided, {self.invalid} invalid"]
        width = max((len(k) for k in self.by_recommendation), default=0)
        for rec, n in sorted(self.by_recommendation.items(), key=lambda kv: (-kv[1], kv[0])):
            share = 100.0 * n / self.rows if self.rows else 0.0
            lines.append(f"  {rec:<{width}}  {n:>9}  {share:5.1f} %")
        if self.routed:
            lines.append(f"  {self.routed} rows decided by the exact engine, as {self.keys} distinct cases")
        lines.append(f"{self.rows_per_second:,.0f} rows/s ({self.seconds:.2f} s)")
        return "\n".join(lines) + "\n"


DEFECT_PREFIX = "spec defect: "


def defect_message(exc: SpecDefectError) -> str:
    """The ``error`` of a row the spec routes into a defect (``crs-model verify`` reports it)."""
    return f"{DEFECT_PREFIX}{exc} (no recommendation; run crs-model verify)"


def result_row(engine: Engine, patient: Row) -> dict[str, Any]:
    """One result row (without ``row``): the decision of ``patient``, or its ``error``."""
    error: str | None
    if isinstance(patient, BadRow):
        error = patient.message
    else:
        try:
            d = engine.evaluate(patient)
            # missing is computed on first read, over the completions: one of them may reach a defect too
            return {
                RECOMMENDATION: d.recommendation,
                OUTCOME: d.outcome,
                **d.outputs,
                FLAGS: [f.id for f in d.flags],
                MISSING: list(d.missing),
                ERROR: None,
            }
        except PatientError as exc:
            error = exc.message
        except SpecDefectError as exc:
            error = defect_message(exc)
    empty: dict[str, Any] = {RECOMMENDATION: None, OUTCOME: None, FLAGS: None, MISSING: None, ERROR: error}
    empty.update(dict.fromkeys(engine.spec.outputs))
    return empty


def decide_batch(engine: Engine, rows: list[Row], first: int) -> dict[str, list[Any]]:
    """The result columns of ``rows`` (numbered from ``first``)."""
    names = [c.name for c in result_columns(engine.spec)]
    cols: dict[str, list[Any]] = {n: [] for n in names}
    cols[ROW] = list(range(first, first + len(rows)))
    fields = [(n, cols[n]) for n in names if n != ROW]
    for patient in rows:
        r = result_row(engine, patient)
        for n, c in fields:
            c.append(r[n])
    return cols


def run_cohort(spec: Spec, batches: Iterable[list[Row]], out: str | Path, *, exact: bool = True) -> Summary:
    """Decide every row of ``batches`` into the table ``out`` (.parquet or .jsonl); the summary of the run."""
    engine = Engine(spec, exact=exact)
    summary = Summary()
    start = time.perf_counter()
    path = Path(out)
    with TableWriter(path, result_columns(spec), allow=RESULT_SUFFIXES) as writer:
        for rows in batches:
            cols = decide_batch(engine, rows, summary.rows)
            writer.write(cols)
            summary.rows += len(rows)
            summary.by_recommendation.update(r for r in cols[RECOMMENDATION] if r is not None)
            summary.invalid += sum(e is not None for e in cols[ERROR])
    written = count_rows(path)
    summary.seconds = time.perf_counter() - start
    if written != summary.rows:
        raise LostRows(f"{path}: {written} result rows for {summary.rows} input rows")
    return summary
