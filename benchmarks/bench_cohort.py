"""Cohort audit throughput: ``crs-model cohort`` per engine on the same generated Parquet files.

Each size is generated once by ``crs-model cohort-gen`` (seed 1, a pool of distinct patients)
and cached in a temp folder keyed by the spec's and the generator's bytes. Each measurement
is ``crs-model cohort FILE --out RESULT --engine E`` in a fresh child process: wall time, the
child's peak RSS (``os.wait4``: that child and the descendants it reaped, not the whole
benchmark's history as ``RUSAGE_CHILDREN`` would give) and rows/s; the result's row count is
checked against the input's. The python engine runs only up to ``--python-max-rows``: nothing
is extrapolated, a size not measured says so. An engine the CLI does not offer yet (exit 2)
is reported as such. ``sql only`` runs the spec's DuckDB query (``crs_model.sql.query_text``)
over ``read_parquet`` into Parquet with ``COPY``: no routing of rows the query cannot decide,
no validation, so it bounds what the duckdb engine can reach.

Ratios are taken in the same run: duckdb (and sql only) over python on the same file, and
each engine's rows/s at a size over its rows/s at the smallest size (about 1 = linear).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crs_model import bundled_spec_path  # noqa: E402

ENGINES = ("python", "duckdb", "spark")
THREE_VALUED = "-3v"  # an engine name + this suffix: --semantics three-valued (Engine(spec, exact=False))
SQL_ONLY = "sql only"
GENERATOR_SOURCES = ("crs_model/cohort/generate.py", "crs_model/cohort/violations.py")


@dataclass
class Run:
    """One measurement (or why there is none)."""

    engine: str
    rows: int
    status: str  # "ok", "not measured: ...", "not available: ...", "failed: ..."
    seconds: float | None = None
    rows_per_s: float | None = None
    peak_rss_mb: float | None = None


def _cli() -> list[str]:
    """The console script next to this interpreter (the installed one), else ``python -m``."""
    script = Path(sys.executable).with_name("crs-model")
    return [str(script)] if script.exists() else [sys.executable, "-m", "crs_model.cli"]


def _measure(argv: list[str], log: Path) -> tuple[int, float, float, str]:
    """Run ``argv`` in a fresh child: exit code, wall seconds, peak RSS in MB, its stderr."""
    with log.open("w+b") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    return proc.returncode, wall, usage.ru_maxrss / 1024, text  # Linux: ru_maxrss is in KiB


def _cache_key(spec: Path, pool: int) -> str:
    h = hashlib.sha256(spec.read_bytes())
    for src in GENERATOR_SOURCES:
        h.update((ROOT / src).read_bytes())
    return f"{h.hexdigest()[:12]}-pool{pool}"


def cohort_file(rows: int, cache: Path, spec: Path, pool: int) -> tuple[Path, float | None]:
    """The generated cohort of ``rows`` rows and its generation time (None when it was cached)."""
    path = cache / f"cohort-{_cache_key(spec, pool)}-{rows}.parquet"
    if path.exists():
        return path, None
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.parquet")
    argv = [
        *_cli(),
        "cohort-gen",
        str(rows),
        "--out",
        str(tmp),
        "--seed",
        "1",
        "--pool",
        str(pool),
        "--spec",
        str(spec),
    ]
    code, wall, _, err = _measure(argv, cache / "gen.log")
    if code != 0:
        raise SystemExit(f"cohort-gen {rows} failed (exit {code}): {err.strip()}")
    tmp.replace(path)
    return path, wall


def _result_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.read_metadata(path).num_rows)


def _spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed"
    if shutil.which("java") is None:
        return "java is not installed"
    return None


def run_engine(engine: str, rows: int, src: Path, work: Path, spec: Path) -> Run:
    """``crs-model cohort`` (or the sql-only query) on ``src`` in a fresh child, checked and timed."""
    out = work / f"result-{engine.replace(' ', '_')}-{rows}.parquet"
    out.unlink(missing_ok=True)
    if engine == SQL_ONLY:
        argv = [sys.executable, str(Path(__file__).resolve()), "--sql-only", str(src), str(out), "--spec", str(spec)]
    else:
        base = engine.removesuffix(THREE_VALUED)
        argv = [*_cli(), "cohort", str(src), "--out", str(out), "--engine", base, "--spec", str(spec)]
        if engine.endswith(THREE_VALUED):
            argv += ["--semantics", "three-valued"]
    code, wall, rss, err = _measure(argv, work / "run.log")
    last = err.strip().splitlines()[-1] if err.strip() else ""
    if code == 2 and "not yet available" in err:
        return Run(engine, rows, f"not available: {last}")
    if code != 0:
        return Run(engine, rows, f"failed (exit {code}): {last}")
    got = _result_rows(out)
    out.unlink()
    if got != rows:
        return Run(engine, rows, f"failed: {got} result rows for {rows} input rows")
    return Run(engine, rows, "ok", wall, rows / wall, rss)


def sql_only(src: str, out: str, spec_path: str) -> None:
    """Child mode: the spec's DuckDB query over ``src`` written to ``out`` (no routing, no validation)."""
    import duckdb

    from crs_model import load_spec
    from crs_model.sql import query_text

    query = query_text(load_spec(spec_path), "duckdb", table="patients")
    con = duckdb.connect()

    def literal(path: str) -> str:  # neither a view nor COPY takes a parameter: a quoted literal
        return "'" + path.replace("'", "''") + "'"

    con.execute(f"CREATE VIEW patients AS SELECT * FROM read_parquet({literal(src)})")  # noqa: S608 - a quoted path
    con.execute(f"COPY ({query}) TO {literal(out)} (FORMAT parquet)")


def _best(runs: list[Run]) -> Run:
    ok = [r for r in runs if r.status == "ok"]
    return min(ok, key=lambda r: r.seconds or 0.0) if ok else runs[0]


def bench(
    sizes: list[int],
    engines: list[str],
    *,
    repeat: int,
    limits: dict[str, int],
    cache: Path,
    spec: Path,
    pool: int,
) -> dict[str, Any]:
    """Every measurement of one run, its ratios and the machine's load, as one JSON-ready dict.

    ``limits`` holds the largest size an engine runs on (python, spark: slow on 2 cores)."""
    load_before = os.getloadavg()
    generated = []
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="crs-bench-cohort-") as tmp:
        work = Path(tmp)
        for rows in sizes:
            src, gen_s = cohort_file(rows, cache, spec, pool)
            generated.append({"rows": rows, "seconds": gen_s, "cached": gen_s is None, "file": str(src)})
            for engine in engines:
                cap = engine.removesuffix(THREE_VALUED)
                if rows > limits.get(cap, rows):
                    runs.append(Run(engine, rows, f"not measured: above --{cap}-max-rows {limits[cap]:,}"))
                    continue
                if cap == "spark" and (why := _spark_missing()):
                    runs.append(Run(engine, rows, f"not available: {why}"))
                    continue
                runs.append(_best([run_engine(engine, rows, src, work, spec) for _ in range(repeat)]))
    return {
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "repeat": repeat,
        "pool": pool,
        "generated": generated,
        "runs": [asdict(r) for r in runs],
        "ratios": _ratios(runs),
        "growth": _growth(runs),
    }


def _ratios(runs: list[Run]) -> list[dict[str, Any]]:
    """Rows/s of each engine over python's on the same file, where both were measured (a three-valued run
    over python's three-valued run: the same semantics)."""
    speed = {(r.engine, r.rows): r.rows_per_s for r in runs if r.rows_per_s}
    out = []
    for (engine, rows), s in sorted(speed.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        over = "python" + THREE_VALUED if engine.endswith(THREE_VALUED) else "python"
        base = speed.get((over, rows))
        if engine != over and base:
            out.append({"engine": engine, "over": over, "rows": rows, "ratio": round(s / base, 2)})
    return out


def _growth(runs: list[Run]) -> list[dict[str, Any]]:
    """Per engine and measured size: rows/s over rows/s at its smallest size, and the marginal rows/s
    from the next smaller size (extra rows over extra seconds: the child's start-up cancels out)."""
    out = []
    for engine in dict.fromkeys(r.engine for r in runs):
        mine = sorted((r.rows, r.seconds or 0.0) for r in runs if r.engine == engine and r.rows_per_s)
        for (rows0, t0), (rows, t) in itertools.pairwise(mine):
            marginal = (rows - rows0) / (t - t0) if t > t0 else None
            ratio = (rows / t) / (mine[0][0] / mine[0][1])
            out.append(
                {
                    "engine": engine,
                    "rows": rows,
                    "from_rows": mine[0][0],
                    "ratio": round(ratio, 2),
                    "marginal_rows_per_s": None if marginal is None else round(marginal),
                }
            )
    return out


def to_text(result: dict[str, Any]) -> str:
    """The human table: one line per measurement, then the ratios and the growth."""
    lines = [
        f"{result['cpus']} CPUs; load average before {result['load_before']}, after {result['load_after']}; "
        f"best of {result['repeat']}; cohort pool {result['pool']:,} distinct patients",
    ]
    for g in result["generated"]:
        how = "cached" if g["cached"] else f"generated in {g['seconds']:.1f} s"
        lines.append(f"cohort-gen {g['rows']:>12,} rows: {how}")
    lines.append(f"{'engine':<10} {'rows':>12} {'wall s':>9} {'rows/s':>12} {'peak RSS MB':>12}  status")
    for r in result["runs"]:
        if r["status"] == "ok":
            lines.append(
                f"{r['engine']:<10} {r['rows']:>12,} {r['seconds']:>9.2f} {r['rows_per_s']:>12,.0f} "
                f"{r['peak_rss_mb']:>12.0f}  ok"
            )
        else:
            lines.append(f"{r['engine']:<10} {r['rows']:>12,} {'-':>9} {'-':>12} {'-':>12}  {r['status']}")
    for q in result["ratios"]:
        lines.append(f"{q['engine']} / {q['over']} on {q['rows']:,} rows (same file): {q['ratio']:.1f}x rows/s")
    for q in result["growth"]:
        marginal = "-" if q["marginal_rows_per_s"] is None else f"{q['marginal_rows_per_s']:,}"
        lines.append(
            f"{q['engine']}: rows/s at {q['rows']:,} over {q['from_rows']:,} rows: {q['ratio']:.2f} (1 = linear); "
            f"marginal rows/s from the next smaller size: {marginal}"
        )
    return "\n".join(lines) + "\n"


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(x.replace("_", "")) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rows {text!r}: expected comma-separated row counts") from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"--rows {text!r}: expected positive row counts")
    return sizes


def _engines(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    known = (*ENGINES, *(e + THREE_VALUED for e in ENGINES), "sql")
    bad = [n for n in names if n not in known]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"--engines {text!r}: expected some of {', '.join(known)}")
    return [SQL_ONLY if n == "sql" else n for n in names]


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table (or ``--json``) and return 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=_sizes, default=[100_000, 1_000_000], help="sizes (default 100000,1000000)")
    ap.add_argument("--big", action="store_true", help="also 10,000,000 rows (duckdb, sql only)")
    ap.add_argument("--engines", type=_engines, default=[*ENGINES, SQL_ONLY], help="python,duckdb,spark,sql")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest is kept (default 1)")
    ap.add_argument("--python-max-rows", type=int, default=1_000_000, help="largest size the python engine runs")
    ap.add_argument("--spark-max-rows", type=int, default=1_000_000, help="largest size spark runs")
    ap.add_argument("--pool", type=int, default=65_536, help="distinct patients in the cohorts (default 65536)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "crs-bench-cohort")
    ap.add_argument("--spec", type=Path, default=bundled_spec_path())
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--sql-only", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)  # the child's mode
    args = ap.parse_args(argv)
    if args.sql_only:
        src, out = args.sql_only
        sql_only(src, out, str(args.spec))
        return 0
    if args.repeat < 1 or args.pool < 1:
        ap.error("--repeat and --pool must be positive")
    sizes = sorted({*args.rows, *([10_000_000] if args.big else [])})
    limits = {"python": args.python_max_rows, "spark": args.spark_max_rows}
    result = bench(
        sizes, args.engines, repeat=args.repeat, limits=limits, cache=args.cache, spec=args.spec, pool=args.pool
    )
    print(json.dumps(result, indent=2) if args.json else to_text(result), end="\n" if args.json else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
