"""Running an engine query so that an interrupt cancels it and long scans show progress.

The query runs in a worker thread while the kernel's Python thread waits on it. The kernel's
interrupt raises KeyboardInterrupt in the waiting thread (a blocked C call inside DuckDB or
py4j would not notice it); we then cancel the query in the engine (DuckDB's
`connection.interrupt()`, Spark's job group) and re-raise, so the cell stops within a second
and the engine is ready for the next query.

An interrupt can land before the engine has the query (Ibis still compiling it, Spark not yet
submitting the job), when a cancel finds nothing to stop. So the cancel is repeated until the
query's thread ends, and the next query on the same engine waits for that: it never queues
silently behind a job nobody can see.
"""
from __future__ import annotations

import itertools
import signal
import sys
import threading
import time

from .. import iopub, safety
from ..errors import DataError

#: Seconds a query runs before a progress line appears in the cell.
PROGRESS_AFTER_S = 2.0
#: How often an interrupted query is cancelled again until its thread ends.
RECANCEL_EVERY_S = 0.5
_groups = itertools.count(1)
#: The last query's worker for each engine connection (keyed by the backend's id).
_last_worker: dict[int, "_Worker"] = {}
#: Held around each cancel call, so a repeated cancel cannot land on the next query (which
#: starts only once the old worker is done and this lock is free).
_cancel_lock = threading.Lock()


class _Worker(threading.Thread):
    def __init__(self, frame, expr, group: str):
        super().__init__(name="anyviz-engine", daemon=True)
        self.frame, self.expr, self.group = frame, expr, group
        self.result = None
        self.error: BaseException | None = None
        # Set when the query is over. Thread.join() is not used to wait: a KeyboardInterrupt
        # inside join() can leave the Thread marked as stopped while it still runs (CPython
        # 3.11), and the next query would then find the connection busy.
        self.done = threading.Event()

    def run(self) -> None:
        try:
            # Process-wide SIGINTs go to the kernel's Python thread, never into engine code.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            if self.frame.engine == "spark":
                _spark_group(self.frame, self.group)
            self.result = self.expr.execute()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            self.error = exc
        finally:
            self.done.set()


def _spark_session(frame):
    return getattr(frame.backend, "_session", None)


def _spark_group(frame, group: str) -> None:
    session = _spark_session(frame)
    try:
        session.sparkContext.setJobGroup(group, "anyviz query", interruptOnCancel=True)
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext: interruptAll below
        pass


def cancel(frame, group: str | None = None) -> None:
    """Stop what `frame`'s engine is running for us (best effort, never raises)."""
    try:
        if frame.engine == "duckdb":
            frame.backend.con.interrupt()
            return
        session = _spark_session(frame)
        try:
            context = session.sparkContext
        except Exception:  # noqa: BLE001 - Spark Connect
            session.interruptAll()
            return
        if group:
            context.cancelJobGroup(group)
        else:
            context.cancelAllJobs()
    except Exception:  # noqa: BLE001
        pass


def _keep_cancelling(frame, worker: "_Worker") -> None:
    """Cancel `worker`'s query now and again every RECANCEL_EVERY_S until its thread ends."""
    def loop():
        while True:
            with _cancel_lock:
                if worker.done.is_set():
                    return
                cancel(frame, worker.group)
            if worker.done.wait(RECANCEL_EVERY_S):
                return

    threading.Thread(target=loop, name="anyviz-engine-cancel", daemon=True).start()


def _wait_for_previous(frame) -> None:
    """Block (interruptibly) until the engine's previous query, if interrupted and still
    stopping, has ended."""
    previous = _last_worker.get(id(frame.backend))
    if previous is not None and not previous.done.wait(PROGRESS_AFTER_S):
        print(f"{frame.engine}: waiting for the interrupted query to stop "
              "(interrupt again to stop waiting)", file=sys.stderr)
        while not previous.done.wait(0.25):
            pass
    with _cancel_lock:
        pass


def _progress(frame) -> float | None:
    """Percent done of the running scan, when the engine says (DuckDB's estimate, Spark's
    finished share of the active stages' tasks)."""
    try:
        if frame.engine == "duckdb":
            # Meant to be called from another thread while the query runs; -1 means "no
            # estimate yet" (the first second, or an operator that gives none).
            pct = float(frame.backend.con.query_progress())
            return pct if pct >= 0 else None
        tracker = _spark_session(frame).sparkContext.statusTracker()
        done = total = 0
        for stage_id in tracker.getActiveStageIds():
            info = tracker.getStageInfo(stage_id)
            if info:
                done += info.numCompletedTasks
                total += info.numTasks
        return 100.0 * done / total if total else None
    except Exception:  # noqa: BLE001 - progress is a nicety
        return None


class _ProgressLine:
    """One display in the cell, updated in place while a long query runs, cleared at the end."""

    def __init__(self, frame):
        self.frame = frame
        self.display_id = None

    def show(self, elapsed: float) -> None:
        pct = _progress(self.frame)
        done = f"{pct:.0f}% " if pct is not None else ""
        source = safety.cap(str(self.frame.source), 200)
        text = f"{self.frame.engine}: {done}scanning {source} ({elapsed:.0f} s)"
        bar = (f"<progress value='{pct:.0f}' max='100' style='width:120px'></progress> "
               if pct is not None else "")
        bundle = {"text/plain": text, "text/html": f"<div style='color:#666;font-size:12px'>"
                  f"{bar}{safety.html_text(text)}</div>"}
        try:
            if self.display_id is None:
                self.display_id = iopub.new_display_id()
                iopub.display_data(bundle, display_id=self.display_id)
            else:
                iopub.display_data(bundle, display_id=self.display_id, update=True)
        except Exception:  # noqa: BLE001 - no kernel (unit tests)
            pass

    def close(self) -> None:
        if self.display_id is not None:
            try:
                iopub.display_data({"text/plain": ""}, display_id=self.display_id, update=True)
            except Exception:  # noqa: BLE001
                pass


def execute(frame, expr, *, progress: bool = True):
    """Run `expr` (an Ibis expression over `frame`'s backend); pandas result or scalar."""
    _wait_for_previous(frame)
    worker = _Worker(frame, expr, f"anyviz-{next(_groups)}")
    _last_worker[id(frame.backend)] = worker
    line = _ProgressLine(frame) if progress else None
    started = time.monotonic()
    worker.start()
    try:
        while not worker.done.wait(0.25):
            elapsed = time.monotonic() - started
            if line is not None and elapsed >= PROGRESS_AFTER_S:
                if line.display_id is None or int(elapsed * 4) % 4 == 0:
                    line.show(elapsed)
    except KeyboardInterrupt:
        _keep_cancelling(frame, worker)
        # The engine stops within this (DuckDB in milliseconds, Spark once its tasks see the
        # cancel); otherwise the cell ends anyway and the cancel goes on in the background.
        worker.done.wait(1.5)
        raise
    finally:
        if line is not None:
            line.close()
    if worker.error is not None:
        raise engine_error(frame, worker.error) from None
    return worker.result


def engine_error(frame, exc: BaseException) -> BaseException:
    """A failed query as a message the user can act on (the engine's words, shortened)."""
    if isinstance(exc, (KeyboardInterrupt, DataError)):
        return exc
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > 400:
        text = text[:399] + "…"
    hint = ""
    low = text.lower()
    if "parquet" in low and ("magic" in low or "too small" in low or "corrupt" in low
                             or "invalid" in low):
        hint = " A Parquet file is damaged or not Parquet: re-export it or leave it out."
    elif "interrupt" in low:
        hint = " The query was interrupted."
    return DataError(f"{frame.engine} could not run the query on {frame.source}: {text}.{hint}")
