"""Write the impact report of a finished cohort run (and, with an older spec, its run on the same rows).

The older spec decides the same input as the current one did (``old_run``: the command passes
the engine and semantics of the main run; by default the python engine, exact). Either way each
row keeps only the inputs the older spec declares: an input it does not know is dropped, one it
declares but the input lacks stays absent, and rows are numbered alike. Its result goes to a
temporary file that is removed afterwards.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from crs_model.cohort.impact import build_audit, impact
from crs_model.cohort.impact_html import impact_html
from crs_model.cohort.readers import BadRow, Row, read_batches
from crs_model.cohort.runner import run_cohort
from crs_model.fileio import write_atomic
from crs_model.model import Spec

OLD_AUDIT = "crs_audit_old"

# (older spec, input source, result path, the input columns it does not declare) -> the result is written
OldRun = Callable[[Spec, str, Path, frozenset[str]], object]


def _projected(batches: Iterable[list[Row]], new: Spec, old: Spec) -> Iterator[list[Row]]:
    """Each row without the inputs ``new`` declares and ``old`` does not (unknown keys stay: they are errors)."""
    drop = frozenset(new.variables) - frozenset(old.variables)
    for rows in batches:
        yield [r if isinstance(r, BadRow) else {k: v for k, v in r.items() if k not in drop} for r in rows]


def python_old_run(spec: Spec, *, exact: bool = True, batch_rows: int = 8192) -> OldRun:
    """An :data:`OldRun` on the python engine: the rows read with ``spec``'s (the newer spec's) reader."""

    def run(old: Spec, source: str, out: Path, drop: frozenset[str]) -> object:
        del drop  # _projected drops the same inputs, by the two specs
        return run_cohort(old, _projected(read_batches(spec, source, batch_rows), spec, old), out, exact=exact)

    return run


def write_impact_report(
    spec: Spec,
    input_source: str,
    result: Path,
    report: Path,
    *,
    old_spec: Spec | None = None,
    alerts: Sequence[str] | None = None,
    batch_rows: int = 8192,
    old_run: OldRun | None = None,
) -> None:
    """Audit ``result`` against ``input_source`` and write the HTML report to ``report``; with ``old_spec``,
    decide the input with it too (by ``old_run``, default :func:`python_old_run`) and show the changes."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        build_audit(con, spec, input_source, result)
        with tempfile.TemporaryDirectory(prefix="crs-impact-") as tmp:
            compare = None
            if old_spec is not None:
                old_result = Path(tmp) / "old.parquet"
                decide = old_run or python_old_run(spec, batch_rows=batch_rows)
                decide(old_spec, input_source, old_result, frozenset(spec.variables) - frozenset(old_spec.variables))
                build_audit(con, old_spec, input_source, old_result, name=OLD_AUDIT)
                compare = OLD_AUDIT
            numbers = impact(con, spec, compare=compare, alerts=alerts)
    finally:
        con.close()
    page = impact_html(numbers, spec, input_source=input_source, result=str(result), old_spec=old_spec)
    write_atomic(report, page.encode("utf-8"))
