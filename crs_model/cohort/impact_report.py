"""Write the impact report of a finished cohort run (and, with an older spec, its run on the same rows).

The older spec decides the same input with the python engine: the rows are read once more
with the current spec's reader (so rows are numbered alike) and each row keeps only the inputs
the older spec declares (an input it does not know is dropped, one it declares but the input
lacks stays absent). Its result goes to a temporary table that is removed afterwards.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from crs_model.cohort.impact import build_audit, impact
from crs_model.cohort.impact_html import impact_html
from crs_model.cohort.readers import BadRow, Row, read_batches
from crs_model.cohort.runner import run_cohort
from crs_model.fileio import write_atomic
from crs_model.model import Spec

OLD_AUDIT = "crs_audit_old"


def _projected(batches: Iterable[list[Row]], new: Spec, old: Spec) -> Iterator[list[Row]]:
    """Each row without the inputs ``new`` declares and ``old`` does not (unknown keys stay: they are errors)."""
    drop = frozenset(new.variables) - frozenset(old.variables)
    for rows in batches:
        yield [r if isinstance(r, BadRow) else {k: v for k, v in r.items() if k not in drop} for r in rows]


def write_impact_report(
    spec: Spec,
    input_source: str,
    result: Path,
    report: Path,
    *,
    old_spec: Spec | None = None,
    alerts: Sequence[str] | None = None,
    batch_rows: int = 8192,
) -> None:
    """Audit ``result`` against ``input_source`` and write the HTML report to ``report``."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        build_audit(con, spec, input_source, result)
        with tempfile.TemporaryDirectory(prefix="crs-impact-") as tmp:
            compare = None
            if old_spec is not None:
                old_result = Path(tmp) / "old.parquet"
                batches = _projected(read_batches(spec, input_source, batch_rows), spec, old_spec)
                run_cohort(old_spec, batches, old_result)
                build_audit(con, old_spec, input_source, old_result, name=OLD_AUDIT)
                compare = OLD_AUDIT
            numbers = impact(con, spec, compare=compare, alerts=alerts)
    finally:
        con.close()
    page = impact_html(numbers, spec, input_source=input_source, result=str(result), old_spec=old_spec)
    write_atomic(report, page.encode("utf-8"))
