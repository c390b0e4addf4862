"""Run the decision query on Apache Spark: local mode on this machine, or any cluster via ``master``.

A small backend the cohort runner drives: register the input files as a temp view with a
deterministic ``row`` column, run the spec's query (``crs_model.sql.query_text(spec, "spark", ...)``)
and collect its result as Arrow or write it as one Parquet file. pyspark (the ``spark`` extra) and a
Java runtime are needed; both load only when a :class:`SparkBackend` starts.

Session settings (docs/spark.md, "Settings"):

- ANSI mode ON (Spark 4's default; set explicitly so a cluster's defaults cannot turn it off): a cast that
  cannot hold its value or an integer overflow is an error, as in DuckDB; with ANSI off Spark
  would silently turn a bad value into NULL = "absent", which changes a decision. The query never
  divides by zero (``NULLIF``), so ANSI's division error cannot fire.
- Session time zone UTC, few shuffle partitions in local mode, no UI, log level ERROR.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from crs_model.errors import CrsModelError, InputFileError, OutputFileError

if TYPE_CHECKING:  # pyspark is typed; it is imported at run time only when a session starts
    from pyspark.sql import DataFrame, SparkSession

ROW = "row"
# ``local``, ``local[N]``, ``local[*]``, ``local[N,F]``, ``local-cluster[...]``, ``spark://``, ``yarn``, ``k8s://``
_MASTER = re.compile(r"local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|spark://\S+|yarn|k8s://\S+")
# the SQL type names of ``crs_model.sql.query._TYPES`` -> Spark's (Spark's VARCHAR needs a length)
_TYPES = {"BOOLEAN": "BOOLEAN", "BIGINT": "BIGINT", "DOUBLE": "DOUBLE", "VARCHAR": "STRING"}


class SparkError(CrsModelError):
    """Spark could not start or run a statement: a bad ``--master`` URL, no Java runtime, pyspark
    not installed, or a query Spark rejected.

    The message names the cause; install the ``spark`` extra and Java 17+ (``make`` does both on
    Debian), or pass a master URL such as ``local[2]``, ``spark://host:7077`` or ``yarn``.
    """


def _error(exc: BaseException) -> str:
    """The first line of a Spark/Py4J error, without the Java stack."""
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("An error occurred while calling", "at ", ":")):
            return line
    return text.splitlines()[0] if text else type(exc).__name__


class SparkBackend:
    """A SparkSession on ``master`` (default ``local[2]``) for the cohort query; a context manager.

    ``startup_seconds`` is how long the session took to start (the JVM and Spark's context).
    """

    def __init__(self, master: str = "local[2]", app_name: str = "crs-model-cohort") -> None:
        if not _MASTER.fullmatch(master):
            raise SparkError(
                f"master={master!r} is not a Spark master URL "
                "(expected local, local[N], local[*], spark://HOST:PORT, yarn or k8s://URL)"
            )
        self.master = master
        self.app_name = app_name
        self.startup_seconds = 0.0
        self._spark: SparkSession | None = None

    @property
    def local(self) -> bool:
        """Whether the session runs on this machine only (local mode)."""
        return self.master.startswith("local")

    def __enter__(self) -> SparkBackend:
        """Start the session (seconds: a JVM starts)."""
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise SparkError("pyspark is not installed (pip install 'crs_model[spark]')") from None
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise SparkError(
                "no Java runtime: 'java' is not on PATH and JAVA_HOME is unset (Debian: openjdk-17-jre-headless)"
            )
        if self.local:
            # local mode listens on loopback only (and Spark's launcher does not warn about the host name)
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = (
            SparkSession.builder.master(self.master)
            .appName(self.app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.log.level", "ERROR")
            .config("spark.sql.ansi.enabled", "true")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        )
        if self.local:
            builder = builder.config("spark.sql.shuffle.partitions", "4").config("spark.driver.host", "127.0.0.1")
        start = time.perf_counter()
        try:
            self._spark = builder.getOrCreate()
        except Exception as exc:  # Py4J, Java gateway and Spark errors alike: one clear message, no stack
            raise SparkError(f"Spark did not start on master={self.master!r}: {_error(exc)}") from None
        running = self._spark.sparkContext.master
        if running != self.master:  # getOrCreate hands back a live session whatever master was asked for
            self._spark = None
            raise SparkError(f"a Spark session on master={running!r} already runs in this process, not {self.master!r}")
        self._spark.sparkContext.setLogLevel("ERROR")
        self.startup_seconds = time.perf_counter() - start
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the session."""
        if self._spark is not None:
            self._spark.stop()
            self._spark = None

    @property
    def session(self) -> SparkSession:
        """The running SparkSession."""
        if self._spark is None:
            raise SparkError("the Spark session is not running (use SparkBackend as a context manager)")
        return self._spark

    def register_input(self, name: str, files: Sequence[Path], fmt: str, columns: dict[str, str]) -> int:
        """A temp view ``name`` over Parquet or CSV ``files``: a ``row`` column (0-based, in the order of
        ``files``, then row order within each file) and one column per entry of ``columns`` (input name ->
        BOOLEAN/BIGINT/DOUBLE/VARCHAR), cast to its type; an input a file lacks is NULL (absent). Returns
        the number of rows the files hold.

        Row numbers are exact, never Spark's partition-dependent ids: one scan per file, each row's index
        in its file plus the row count of the files before it. Parquet: the index is Spark's
        ``_metadata.row_index`` and the counts come from the footers. CSV: a file is read unsplit
        (``multiLine``), so it is one partition in file order, where ``monotonically_increasing_id``
        minus the partition's base is the index; its count is a Spark job.
        """
        from pyspark.sql import functions as F

        bad = {n: t for n, t in columns.items() if t not in _TYPES}
        if bad:
            raise ValueError(f"column types {bad} are not of {sorted(_TYPES)}")
        if fmt not in ("parquet", "csv"):
            raise ValueError(f"fmt={fmt!r} is not 'parquet' or 'csv'")
        if not files:
            raise InputFileError(name, "no input file")
        spark = self.session
        view: DataFrame | None = None
        offset = 0
        for path in files:
            try:
                if fmt == "parquet":
                    df = spark.read.parquet(path.resolve().as_uri())
                    index = F.col("_metadata.row_index")
                    rows = _parquet_rows(path)
                else:
                    # RFC 4180 quoting, as DuckDB reads it: Spark's default escape is a backslash
                    opts = {"header": "true", "multiLine": "true", "escape": '"'}
                    df = spark.read.options(**opts).csv(path.resolve().as_uri())
                    # a partition's ids start at its number << 33
                    index = F.monotonically_increasing_id() - F.shiftleft(F.spark_partition_id().cast("BIGINT"), 33)
                    rows = df.count()
                present = set(df.columns)
                df = df.select(
                    (F.lit(offset) + index).alias(ROW),
                    *(
                        (F.col(f"`{n}`") if n in present else F.lit(None)).cast(_TYPES[t]).alias(n)
                        for n, t in columns.items()
                    ),
                )
            except CrsModelError:
                raise
            except Exception as exc:
                raise InputFileError(str(path), _error(exc)) from None
            view = df if view is None else view.union(df)
            offset += rows
        assert view is not None  # files is not empty
        view.createOrReplaceTempView(name)
        return offset

    def sql(self, text: str) -> None:
        """Run one statement (``CREATE OR REPLACE TEMP VIEW ...``)."""
        self._run(text).collect()

    def to_arrow(self, text: str) -> Any:
        """A query's whole result as a ``pyarrow.Table`` (collected on the driver)."""
        df = self._run(text)
        try:
            return df.toArrow()
        except Exception as exc:
            raise SparkError(f"Spark could not run the query: {_error(exc)}") from None

    def register_arrow(self, name: str, table: Any) -> None:
        """A small ``pyarrow.Table`` from Python as the temp view ``name``."""
        self.session.createDataFrame(table).createOrReplaceTempView(name)

    def write_parquet(self, text: str, path: Path) -> None:
        """The query's result as ONE Parquet file at ``path``, ordered by ``row``, names and types kept.

        Spark writes a folder of part files: one partition, sorted within it, is written to a temporary
        folder beside ``path`` and its single part file moved into place (no data passes the driver).
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise OutputFileError(str(path), "its folder does not exist")
        df = self._run(text)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))  # beside it: the move is a rename
        try:
            try:
                df.repartition(1).sortWithinPartitions(ROW).write.mode("overwrite").parquet(tmp.as_uri())
            except Exception as exc:
                raise SparkError(f"Spark could not write {path}: {_error(exc)}") from None
            parts = sorted(tmp.glob("part-*.parquet"))
            if len(parts) != 1:
                raise OutputFileError(str(path), f"Spark wrote {len(parts)} part files, expected 1")
            try:
                os.replace(parts[0], path)
            except OSError as exc:
                raise OutputFileError(str(path), exc.strerror or str(exc)) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _run(self, text: str) -> DataFrame:
        try:
            return self.session.sql(text)
        except CrsModelError:
            raise
        except Exception as exc:
            raise SparkError(f"Spark rejected the statement: {_error(exc)}") from None


def _parquet_rows(path: Path) -> int:
    """A Parquet file's row count, from its footer (no Spark job)."""
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(str(path)).metadata.num_rows)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputFileError(str(path), str(exc).splitlines()[0]) from None


class SparkCohort:
    """The cohort pipeline's Spark backend (:class:`~crs_model.cohort.backend.SqlBackend`) on a running
    :class:`SparkBackend`: the same statements as on DuckDB, transpiled to Spark SQL by sqlglot.

    Reads Parquet (the data-lake format, read by Spark itself), JSONL (parsed in Python) and CSV (parsed by
    DuckDB on the driver, the reader ``--engine duckdb`` and the python engine use, so that every engine
    reads each cell alike; see :meth:`register_input`).
    """

    dialect = "spark"

    def __init__(self, spark: SparkBackend) -> None:
        self.spark = spark
        self._frames: dict[str, Any] = {}  # the views append_arrow built, to extend
        # the whole decision is one wide projection: its generated Java exceeds the JVM's 64 KB method
        # limit, and Spark's fallback to interpreted code logs the compiler's stack trace; ask for it directly
        spark.session.conf.set("spark.sql.codegen.wholeStage", "false")
        # the routing query is a chain of projections whose columns read earlier ones many times
        # (reachability and liveness over the decision graph): collapsing them inlines every shared
        # column at each use, which grows without bound
        spark.session.conf.set(
            "spark.sql.optimizer.excludedRules", "org.apache.spark.sql.catalyst.optimizer.CollapseProject"
        )

    def _sql(self, e: Any) -> str:
        return str(e.sql(dialect=self.dialect))

    def register_input(self, files: list[Path], fmt: str, columns: dict[str, str], present: list[list[str]]) -> int:
        """:data:`~crs_model.cohort.backend.RAW` (as read: a real input stored as integers stays integral, as
        the Python reader gives it) and :data:`~crs_model.cohort.backend.SRC` (typed) over Parquet ``files``
        (``present`` is not needed: Spark reads each file's own schema)."""
        from crs_model.cohort.backend import CHECK, RAW, SRC

        if fmt == "csv":
            return self._csv(files, columns, present)
        if fmt != "parquet":
            raise InputFileError(str(files[0]), f"--engine spark reads Parquet, CSV or JSONL, not {fmt}")
        import pyarrow.parquet as pq

        integral: set[str] = set()
        for f in files:
            schema = pq.read_schema(str(f))
            integral |= {n for n in schema.names if str(schema.field(n).type).startswith(("int", "uint"))}
        raw = {n: "BIGINT" if t == "DOUBLE" and n in integral else t for n, t in columns.items()}
        rows = self.spark.register_input(RAW, files, fmt, raw)
        typed = ", ".join(f"CAST(`{n}` AS {_TYPES[t]}) AS `{n}`" for n, t in columns.items())
        self.spark.sql(f"CREATE OR REPLACE TEMP VIEW {SRC} AS SELECT {ROW}, {typed}, FALSE AS {CHECK} FROM {RAW}")  # noqa: S608 - spec names
        return rows

    def _csv(self, files: list[Path], columns: dict[str, str], present: list[list[str]]) -> int:
        """RAW and SRC of CSV ``files`` as DuckDB's CSV reader gives them (text cells; typed cells and the
        CHECK of a cell SQL and Python could read differently), appended to Spark in Arrow batches.

        Spark's own CSV reader differs from DuckDB's in what a cell is (its default escape is a
        backslash, so it reads the RFC 4180 cell ``"a""b"`` as ``"a""b"``, DuckDB as ``a"b``), and a
        cell read differently would change a decision without any error. So the file is parsed once,
        on the driver, by the reader the other engines use; the decisions still run on Spark. For
        data at cluster scale, Parquet is read by Spark in parallel.
        """
        import pyarrow as pa
        from sqlglot import exp

        from crs_model.cohort.backend import RAW, SRC
        from crs_model.cohort.duck import DuckDBBackend

        with DuckDBBackend() as duck:
            rows = duck.register_input(files, "csv", columns, present)
            for name in (RAW, SRC):
                view = exp.select("*").from_(name).order_by(ROW)
                sent = False
                for batch in duck.arrow_batches(view, 65536):
                    self.append_arrow(name, pa.Table.from_batches([batch]))
                    sent = True
                if not sent:  # an empty file: the view still has its columns
                    self.append_arrow(name, duck.to_arrow(view.limit(0)))
        return rows

    def materialize(self, name: str, query: Any) -> None:
        """Cache ``query``'s rows as ``name`` (Spark keeps them in executor memory and disk)."""
        # a session may run several cohorts: drop the previous run's table first. Dropping a temp view
        # uncaches it; UNCACHE TABLE would analyze its definition again, against this run's input, and
        # fail where an older spec's input lacks a column the previous run's query read
        self.spark.session.catalog.dropTempView(name)
        self.spark.sql(f"CACHE TABLE {name} AS {self._sql(query)}")

    def to_arrow(self, query: Any) -> Any:
        """The result as a pyarrow Table."""
        return self.spark.to_arrow(self._sql(query))

    def register_arrow(self, name: str, table: Any) -> None:
        """A small pyarrow Table as the temp view ``name``."""
        self._frames.pop(name, None)
        self.spark.register_arrow(name, table)

    def append_arrow(self, name: str, table: Any) -> None:
        """Append a pyarrow Table's rows to the temp view ``name`` (a union of the batches so far)."""
        df = self.spark.session.createDataFrame(table)
        prev = self._frames.get(name)
        df = df if prev is None else prev.unionByName(df)
        self._frames[name] = df
        df.createOrReplaceTempView(name)

    def write(self, query: Any, path: Path, fmt: str) -> None:
        """One ordered Parquet file at ``path``."""
        self.spark.write_parquet(self._sql(query), Path(path).resolve())

    def arrow_batches(self, query: Any, rows: int) -> Any:
        """The result (collected) in batches of ``rows``."""
        return iter(self.to_arrow(query).to_batches(max_chunksize=rows))
