"""``crs-model cohort`` (decide every row of a cohort table) and ``crs-model cohort-gen`` (a synthetic one).

Exit codes: 0 ok, 2 bad input or usage (a missing file, a column that is not an input, an
engine not yet available). Invalid rows are not a failure: each gets its ``error``.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from crs_model.commands.common import add_spec_argument, load_or_report
from crs_model.errors import CrsModelError, InputFileError, OutputFileError
from crs_model.model import Spec

if TYPE_CHECKING:
    from crs_model.cohort.impact_report import OldRun
    from crs_model.cohort.runner import Summary

ENGINES = ("duckdb", "python", "spark")  # duckdb (embedded) is the default
_MISSING_EXTRA = "the cohort commands need the 'cohort' extra: pip install 'crs_model[cohort]'"


def register(sub: Any) -> None:
    """Add the ``cohort`` and ``cohort-gen`` subcommands to the CLI's subparsers."""
    p = sub.add_parser(
        "cohort",
        help="decide every row of a cohort table (Parquet, CSV or JSONL) into a result table",
        description="Read INPUT (a Parquet, CSV or JSONL file, a folder or a glob of them; one row per patient "
        "snapshot, one column per input, NULL = absent), decide each row and write RESULT (.parquet or .jsonl) "
        "with one row per input row: row, recommendation, outcome, each reported output, flags, missing, error. "
        "A column that is not an input is an error (exit 2). Prints counts by recommendation and rows/s.",
    )
    p.add_argument("input", metavar="INPUT", help="cohort file, folder or glob")
    p.add_argument("--out", required=True, metavar="RESULT", help="result table (.parquet or .jsonl)")
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="duckdb",
        help="duckdb: the spec's SQL on embedded DuckDB, open rows decided by the exact engine (default); "
        "python: the engine row by row",
    )
    p.add_argument(
        "--semantics",
        choices=("exact", "three-valued"),
        default="exact",
        help="exact: the default engine's decisions over the valid completions of absent inputs (default); "
        "three-valued: Kleene logic, as Engine(spec, exact=False) and the verifier decide (faster, more "
        "insufficient_data)",
    )
    p.add_argument("--batch-rows", type=int, default=8192, metavar="N", help="rows per batch (python engine)")
    p.add_argument(
        "--master",
        default="local[2]",
        metavar="URL",
        help="--engine spark: the Spark master (local[N], spark://HOST:PORT, yarn, k8s://URL; default local[2])",
    )
    p.add_argument(
        "--memory-limit", default="2GB", metavar="SIZE", help="DuckDB's memory limit; beyond it, it spills to disk"
    )
    p.add_argument("--report", metavar="FILE.html", help="also write the impact report (self-contained HTML)")
    p.add_argument(
        "--compare", metavar="OLD_SPEC", help="with --report: decide the rows with OLD_SPEC too, show changes"
    )
    p.add_argument(
        "--alert",
        action="append",
        metavar="REC",
        help="with --report: a recommendation code that counts as an alert (repeatable; default: every "
        "code whose class is not no_condition)",
    )
    add_spec_argument(p)
    p.set_defaults(handler=cmd_cohort)

    g = sub.add_parser(
        "cohort-gen",
        help="write a seeded synthetic cohort derived from the spec",
        description="Write N synthetic patient snapshots (one column per input of the spec) derived from the spec's "
        "domains, thresholds, paths and constraints, with a share of absent values and a small share of invalid "
        "rows. The same --seed gives the same rows. Formats: .parquet, .csv, .jsonl.",
    )
    g.add_argument("n", type=int, metavar="N", help="number of rows")
    g.add_argument("--out", required=True, metavar="FILE", help="output table (.parquet, .csv or .jsonl)")
    g.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    g.add_argument("--absent-share", type=float, default=None, metavar="P", help="share of absent values (0..1)")
    g.add_argument("--invalid-share", type=float, default=None, metavar="P", help="share of invalid rows (0..1)")
    g.add_argument("--pool", type=int, default=None, metavar="N", help="distinct steered patients (default 4096)")
    add_spec_argument(g)
    g.set_defaults(handler=cmd_cohort_gen)


def _extra_available(err: TextIO) -> bool:
    try:
        import duckdb  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        err.write(f"crs-model: error: {_MISSING_EXTRA}\n")
        return False
    return True


def _cohort_spec(args: argparse.Namespace, err: TextIO) -> Spec | None:
    """The spec to decide with, once the cohort extra is known to be installed (else None, reported)."""
    if not _extra_available(err):
        return None
    return load_or_report(args.spec, err)


def cmd_cohort(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Decide every row of INPUT into RESULT and print the summary."""
    if args.batch_rows < 1:
        err.write(f"crs-model: error: --batch-rows={args.batch_rows} is not a positive row count\n")
        return 2
    from crs_model.cohort.runner import RESULT_SUFFIXES

    if Path(args.out).suffix.lower() not in RESULT_SUFFIXES:
        err.write(f"crs-model: error: --out {args.out}: the result must be {' or '.join(RESULT_SUFFIXES)}\n")
        return 2
    if not _report_args_ok(args, err):
        return 2
    spec = _cohort_spec(args, err)
    if spec is None:
        return 2
    old_spec = load_or_report(args.compare, err) if args.compare else None
    if (args.compare and old_spec is None) or not _alerts_ok(args.alert, spec, err):
        return 2
    from crs_model.cohort.columns import clashes
    from crs_model.cohort.readers import resolve

    clash = clashes(spec)
    if clash:
        err.write(f"crs-model: error: output {', '.join(clash)} has the name of a fixed result column\n")
        return 2
    exact = args.semantics == "exact"
    with contextlib.ExitStack() as stack:
        try:
            _, files = resolve(args.input)
            if any(f.resolve() == Path(args.out).resolve() for f in files):
                err.write(f"crs-model: error: --out {args.out} is also an input file\n")
                return 2
            decide = _engine_run(args, exact, stack)
            summary = decide(spec, args.input, Path(args.out), frozenset())
        except CrsModelError as exc:  # LostRows, SqlDisagrees: a defect of the run; the result must not be used
            err.write(f"crs-model: error: {_error_line(exc, (InputFileError, OutputFileError))}\n")
            return 2
        out.write(summary.to_text())
        if args.report:
            from crs_model.cohort.impact import AuditError
            from crs_model.cohort.impact_report import write_impact_report
            from crs_model.cohort.runner import LostRows

            try:
                write_impact_report(
                    spec,
                    args.input,
                    Path(args.out),
                    Path(args.report),
                    old_spec=old_spec,
                    alerts=args.alert,
                    batch_rows=args.batch_rows,
                    old_run=_old_run(args, spec, exact, decide),
                )
            except CrsModelError as exc:
                err.write(
                    f"crs-model: error: {_error_line(exc, (InputFileError, OutputFileError, AuditError, LostRows))}\n"
                )
                return 2
            out.write(f"{args.report}: impact report\n")
    return 0


class _EngineError(CrsModelError):
    """The chosen engine could not start or run (Java or Spark missing, a bad DuckDB setting, a statement
    Spark rejected): its cause, the engine's own error, says why."""


def _error_line(exc: CrsModelError, plain: tuple[type[CrsModelError], ...]) -> str:
    """What ``crs-model: error:`` says of ``exc``: an engine's own message, a ``plain`` error's message,
    else the error's class and message (a defect of the run, such as lost rows)."""
    if isinstance(exc, _EngineError):
        return str(exc.__cause__)
    return str(exc) if isinstance(exc, plain) else f"{type(exc).__name__}: {exc}"


_Decide = Callable[[Spec, str, Path, frozenset[str]], "Summary"]


def _engine_run(args: argparse.Namespace, exact: bool, stack: contextlib.ExitStack) -> _Decide:
    """How ``--engine`` decides a source into a result: (spec, source, out, input columns to ignore) ->
    its summary. A Spark session is opened once, on ``stack``, and serves every run of the command."""
    from crs_model.cohort.readers import read_batches
    from crs_model.cohort.runner import run_cohort

    if args.engine == "python":

        def python(spec: Spec, source: str, out: Path, ignore: frozenset[str]) -> Summary:
            del ignore  # the python engine decides an older spec by _old_run's python_old_run
            return run_cohort(spec, read_batches(spec, source, args.batch_rows), out, exact=exact)

        return python
    from crs_model.cohort.pipeline import run_sql_cohort

    if args.engine == "spark":
        from crs_model.cohort.spark import SparkBackend, SparkCohort, SparkError

        try:
            spark = stack.enter_context(SparkBackend(args.master))
        except SparkError as exc:
            raise _EngineError() from exc

        def on_spark(spec: Spec, source: str, out: Path, ignore: frozenset[str]) -> Summary:
            try:
                return run_sql_cohort(spec, SparkCohort(spark), source, out, exact=exact, ignore=ignore)
            except SparkError as exc:
                raise _EngineError() from exc

        return on_spark
    from crs_model.cohort.duck import BackendError, DuckDBBackend

    def on_duckdb(spec: Spec, source: str, out: Path, ignore: frozenset[str]) -> Summary:
        try:
            backend = DuckDBBackend(memory_limit=args.memory_limit)
        except BackendError as exc:
            raise _EngineError() from exc
        with backend:  # a fresh database per run: its tables go with it
            return run_sql_cohort(spec, backend, source, out, exact=exact, ignore=ignore)

    return on_duckdb


def _old_run(args: argparse.Namespace, spec: Spec, exact: bool, decide: _Decide) -> OldRun:
    """How ``--compare``'s older spec decides the input: by the main run's engine and semantics. When the
    older spec's types do not fit the file's columns (a SQL engine refuses the file), by the python engine,
    whose validator then reports each row's value."""
    from crs_model.cohort.impact_report import python_old_run

    python = python_old_run(spec, exact=exact, batch_rows=args.batch_rows)
    if args.engine == "python":
        return python

    def run(old: Spec, source: str, out: Path, drop: frozenset[str]) -> object:
        try:
            return decide(old, source, out, drop)
        except InputFileError:
            return python(old, source, out, drop)

    return run


def _report_args_ok(args: argparse.Namespace, err: TextIO) -> bool:
    """``--report`` names a writable .html file; ``--compare`` and ``--alert`` come with it."""
    import importlib.util
    import os

    if args.report is None:
        for flag, value in (("--compare", args.compare), ("--alert", args.alert)):
            if value:
                err.write(f"crs-model: error: {flag} needs --report FILE.html\n")
                return False
        return True
    if importlib.util.find_spec("matplotlib") is None:
        err.write(f"crs-model: error: --report draws its plots with matplotlib; {_MISSING_EXTRA}\n")
        return False
    path = Path(args.report)
    if path.suffix.lower() != ".html":
        err.write(f"crs-model: error: --report {args.report}: the report must be an .html file\n")
        return False
    folder = path.parent
    if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        why = "is a folder" if path.is_dir() else f"folder {folder} does not exist or is not writable"
        err.write(f"crs-model: error: --report {args.report}: {why}\n")
        return False
    return True


def _alerts_ok(codes: list[str] | None, spec: Spec, err: TextIO) -> bool:
    from crs_model.hints import did_you_mean
    from crs_model.model import INSUFFICIENT_DATA

    known = [*spec.recommendations, INSUFFICIENT_DATA]
    for code in codes or ():
        if code not in known:
            err.write(
                f"crs-model: error: --alert {code!r} is not a recommendation code of the spec"
                f"{did_you_mean(code, known)}\n"
            )
            return False
    return True


def cmd_cohort_gen(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Write the synthetic cohort and say how many rows it holds."""
    from crs_model.cohort import generate as gen

    absent = gen.DEFAULT_ABSENT_SHARE if args.absent_share is None else args.absent_share
    invalid = gen.DEFAULT_INVALID_SHARE if args.invalid_share is None else args.invalid_share
    for flag, value in (("--absent-share", absent), ("--invalid-share", invalid)):
        if not 0.0 <= value <= 1.0:
            err.write(f"crs-model: error: {flag}={value} is outside 0..1\n")
            return 2
    if args.n < 0:
        err.write(f"crs-model: error: N={args.n} is negative (expected a row count)\n")
        return 2
    pool = gen.DEFAULT_POOL if args.pool is None else args.pool
    if pool < 1:
        err.write(f"crs-model: error: --pool={pool} is not a positive count\n")
        return 2
    spec = _cohort_spec(args, err)
    if spec is None:
        return 2
    from crs_model.cohort.columns import input_columns
    from crs_model.cohort.writers import TableWriter

    try:
        with TableWriter(args.out, input_columns(spec)) as writer:
            for batch in gen.generate(
                spec, args.n, seed=args.seed, absent_share=absent, invalid_share=invalid, pool_size=pool
            ):
                writer.write(batch)
    except OutputFileError as exc:
        err.write(f"crs-model: error: {exc}\n")
        return 2
    out.write(f"{args.out}: {writer.rows} rows (seed {args.seed})\n")
    return 0
