"""Lazy tables: data that stays in DuckDB or Spark and is reached through one Ibis expression.

A `LazyFrame` is what `%load` binds instead of a pandas DataFrame when the data is bigger than
the kernel should hold (or an engine was asked for). It keeps the Ibis table expression and the
backend it runs on; the rows stay where they are. `%viz` and `%profile` compile their requests
to expressions on `frame.table` and bring back only the small result.
"""
from __future__ import annotations

import os
import socket
import threading
import urllib.parse

from ..errors import DataError
from . import run, sources

#: Rows the preview and the planner's sample read (`LIMIT n`: no full scan).
SAMPLE_ROWS = 20_000

_duckdb = None
_spark = None
_lock = threading.Lock()


def _memory_limit_mb() -> int | None:
    """DuckDB's own memory budget: ANYVIZ_ENGINE_MEMORY_MB, else 40 % of the address-space
    cap the kernel runs under (DuckDB's default of 80 % of RAM ignores rlimits and would
    fail allocations instead of spilling to disk)."""
    value = os.environ.get("ANYVIZ_ENGINE_MEMORY_MB")
    if value and value.isdigit():
        return int(value)
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft not in (resource.RLIM_INFINITY, -1):
            return max(256, int(soft * 0.4) // 2**20)
    except (ImportError, OSError, ValueError):
        pass
    return None


def duckdb_backend():
    """The session's in-memory DuckDB (one per kernel: tables from files are views on it)."""
    global _duckdb
    with _lock:
        if _duckdb is None:
            import ibis

            config = {}
            limit = _memory_limit_mb()
            if limit:
                config["memory_limit"] = f"{limit}MB"
            _duckdb = _quiet(ibis.duckdb.connect(**config))
        return _duckdb


def _quiet(backend):
    """DuckDB draws its own progress bar (a Jupyter widget when it finds IPython: hundreds of
    comm messages no front end asked for). It keeps measuring progress but prints nothing;
    the cell's progress line reads `query_progress()` instead."""
    backend.con.execute("SET enable_progress_bar = true")
    backend.con.execute("SET enable_progress_bar_print = false")
    backend.con.execute("SET progress_bar_time = 1000")
    return backend


def duckdb_file_backend(path: str):
    import ibis

    if not os.path.exists(path):
        raise DataError(f"No DuckDB database at {path}. Check the path (a .duckdb file), e.g. "
                        f"%load duckdb://data/warehouse.duckdb/sales.")
    try:
        return _quiet(ibis.duckdb.connect(path, read_only=True))
    except Exception as exc:  # noqa: BLE001 - any open failure is a user-facing message
        raise DataError(f"Could not open the DuckDB database {path}: {short_error(exc)}. Is it a "
                        f"DuckDB file, and not open for writing in another process?") from None


def _check_reachable(host: str, port: int, url: str, timeout: float = 5.0) -> None:
    """A dead cluster URL fails here in seconds instead of Spark waiting for it forever."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        raise DataError(f"The Spark cluster at {url} does not answer ({exc.strerror or exc}). "
                        f"Check the host and port, and that the cluster is running; nothing "
                        f"was loaded.") from None


def spark_backend(master: str | None = None, remote: str | None = None):
    """The session's Spark (one SparkSession per kernel, as Spark allows one context).

    `remote` is a Spark Connect URL (sc://host:port); `master` a cluster URL (spark://...) or
    local mode (ANYVIZ_SPARK_MASTER, default local[2]) for files.
    """
    global _spark
    for url in (remote, master):
        if url and "://" in url:
            parts = urllib.parse.urlparse(url)
            _check_reachable(parts.hostname or "localhost",
                             parts.port or (15002 if url.startswith("sc:") else 7077), url)
    with _lock:
        wanted = remote or master or os.environ.get("ANYVIZ_SPARK_MASTER", "local[2]")
        if _spark is not None:
            if _spark[0] != wanted and (remote or master):
                raise DataError(f"This session already uses Spark at {_spark[0]}; one Spark "
                                f"cluster per kernel. Restart the kernel to use {wanted}.")
            return _spark[1]
        import signal

        import ibis
        from pyspark.sql import SparkSession

        # PySpark replaces the SIGINT handler with one of its own; the kernel's interrupt
        # path (KeyboardInterrupt, then run.py cancels the job group) stays in charge.
        previous = signal.getsignal(signal.SIGINT)
        try:
            builder = SparkSession.builder.appName("anyviz")
            if remote:
                builder = builder.remote(remote)
            else:
                # Aggregates are small: a few shuffle partitions, not Spark's 200 (each one
                # is a task; in local mode that overhead dominates the query).
                partitions = os.environ.get("ANYVIZ_SPARK_PARTITIONS",
                                            "4" if wanted.startswith("local") else "64")
                builder = (builder.master(wanted)
                           .config("spark.ui.showConsoleProgress", "false")
                           .config("spark.ui.enabled", "false")
                           .config("spark.sql.shuffle.partitions", partitions)
                           .config("spark.sql.session.timeZone", "UTC"))
            session = builder.getOrCreate()
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"Could not start Spark ({wanted}): {short_error(exc)}. Spark needs Java "
                            f"17 (openjdk-17-jre-headless) and pyspark.") from None
        finally:
            if threading.current_thread() is threading.main_thread() and previous is not None:
                signal.signal(signal.SIGINT, previous)
        if not remote:
            session.sparkContext.setLogLevel("ERROR")
        _spark = (wanted, ibis.pyspark.connect(session))
        return _spark[1]


def short_error(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LazyFrame:
    """A table that lives in an engine (DuckDB or Spark), reached through an Ibis expression.

    `table` is the Ibis table: `frame.table.filter(...).group_by(...).agg(...)` works in cells
    and runs in the engine; `frame.head()` and `frame.to_pandas(limit=...)` bring rows back.
    """

    def __init__(self, table, *, engine: str, source: str, backend=None,
                 rows: int | None = None, size_bytes: int | None = None,
                 files: list[str] | None = None):
        self.table = table
        self.engine = engine
        self.source = source
        self.backend = backend
        self._rows = rows
        self.size_bytes = size_bytes
        #: The local files the table reads (data files, or the .duckdb database): their sizes
        #: and modification times tell when the data changed (`identity`).
        self.files = list(files or [])
        self._sample = None

    # ------------------------------------------------------------------ shape and schema
    @property
    def columns(self) -> list[str]:
        return list(self.table.columns)

    @property
    def schema(self) -> dict[str, str]:
        return {name: str(dtype) for name, dtype in self.table.schema().items()}

    def count(self) -> int:
        """The row count (cached): Parquet answers from metadata, CSV and Spark scan."""
        if self._rows is None:
            self._rows = int(run.execute(self, self.table.count()))
        return self._rows

    @property
    def rows_known(self) -> int | None:
        return self._rows

    @property
    def shape(self) -> tuple[int, int]:
        return (self.count(), len(self.columns))

    def __len__(self) -> int:
        return self.count()

    def identity(self) -> dict:
        """What a cached answer about this table is keyed on: engine, source, schema and, for
        local files, each file's size and modification time (the files listed at load and
        those the source path names now, so a rewritten, added or removed part changes it).
        A cluster table (spark://, sc://) has no files to look at: its URL and schema stand
        for it."""
        paths = set(self.files)
        if self.files and not str(self.source).lower().startswith(sources.URL_SCHEMES):
            paths.update(sources.data_files(self.source))
        stats = []
        for path in sorted(paths):
            try:
                st = os.stat(path)
                stats.append([path, st.st_size, st.st_mtime_ns])
            except OSError:
                stats.append([path, None, None])
        return {"engine": self.engine, "source": str(self.source), "schema": self.schema,
                "files": stats}

    # ------------------------------------------------------------------ rows
    def head(self, n: int = 5):
        return run.execute(self, self.table.limit(n))

    def sample(self):
        """The first SAMPLE_ROWS rows as pandas (cached): what the planner reads to pick a chart."""
        if self._sample is None:
            self._sample = run.execute(self, self.table.limit(SAMPLE_ROWS))
        return self._sample

    def to_pandas(self, limit: int | None = None):
        expr = self.table if limit is None else self.table.limit(limit)
        return run.execute(self, expr)

    def __repr__(self) -> str:
        rows = f"{self._rows:,} rows" if self._rows is not None else "rows not counted"
        return (f"<LazyFrame in {self.engine}: {rows} x {len(self.columns)} columns from "
                f"{self.source}>")
