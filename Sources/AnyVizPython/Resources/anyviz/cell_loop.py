"""One asyncio event loop for every cell, running while a cell runs, as under ipykernel.

Notebooks written for ipykernel rely on a running loop: `asyncio.create_task(...)` at the top of
a cell, libraries that ask `asyncio.get_running_loop()`, a task started in one cell that a later
cell awaits. IPython alone runs only cells with a top-level `await` in a loop, and other code
sees none. Here every cell runs inside the loop IPython's autoawait uses (`get_asyncio_loop`):

* a cell without `await` runs with that loop as the running loop, so tasks it creates land on
  it (and `asyncio.run()` fails as it does under ipykernel);
* a cell with a top-level `await` goes through IPython's own runner, which runs the same loop;
* tasks and timers a cell leaves behind run while the kernel is idle (`idle`, called by the
  kernel between requests) and whenever a later cell runs the loop.

An interrupt that lands in the loop itself (a cell waiting in `await`) ends the cell's task
there, so it cannot resume inside a later cell.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from asyncio import events

from IPython.core import async_helpers
from IPython.core.async_helpers import _asyncio_runner, get_asyncio_loop


def loop() -> asyncio.AbstractEventLoop:
    """The cells' loop, also asyncio's current loop for the kernel's main thread."""
    current = get_asyncio_loop()
    try:
        registered = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        registered = None
    if registered is not current:
        asyncio.set_event_loop(current)
    return current


def run_cell(shell, code: str, *, store_history: bool, silent: bool):
    """`shell.run_cell(...)` with the cells' loop running; returns its ExecutionResult."""
    cells_loop = loop()
    if cells_loop.is_running() or _needs_runner(shell, code):
        # A nested run (a magic running a cell) or a top-level await: IPython's runner
        # drives the same loop.
        result = shell.run_cell(code, store_history=store_history, silent=silent)
        if isinstance(getattr(result, "error_in_exec", None), KeyboardInterrupt):
            _end_interrupted_cells(cells_loop)
        return result
    with _running(cells_loop):
        return shell.run_cell(code, store_history=store_history, silent=silent)


@contextlib.contextmanager
def _running(cells_loop: asyncio.AbstractEventLoop):
    """The loop is the running loop while plain code runs, as if that code were one step of a
    task: what `run_forever` sets (asyncio's running-loop slot and the loop's thread), without
    turning the loop, whose poll would hand the GIL to the kernel's other threads on every
    cell. Tasks the code creates run when the loop turns next: while the kernel is idle, or in
    the next cell that awaits."""
    events._set_running_loop(cells_loop)
    cells_loop._thread_id = threading.get_ident()
    try:
        yield
    finally:
        cells_loop._thread_id = None
        events._set_running_loop(None)


def _needs_runner(shell, code: str) -> bool:
    """True when IPython would run the cell as a coroutine (a top-level `await`, `async for`,
    `async with`), or the user chose another runner (`%autoawait trio`, `%autoawait False`)."""
    if shell.loop_runner is not _asyncio_runner:
        return True
    if "await" not in code and "async" not in code:
        return False
    try:
        transformed = shell.transform_cell(code)
    except Exception:  # noqa: BLE001 - run_cell reports it
        return False
    return shell.should_run_async(code, transformed_cell=transformed,
                                  preprocessing_exc_tuple=None)


def _end_interrupted_cells(cells_loop: asyncio.AbstractEventLoop) -> None:
    """IPython's runner leaves an interrupted cell's coroutine pending on the loop: end it."""
    for task in asyncio.all_tasks(cells_loop):
        if getattr(task.get_coro(), "__name__", "") == "run_cell_async":
            _settle(cells_loop, task)


def _settle(cells_loop: asyncio.AbstractEventLoop, task: asyncio.Task) -> None:
    """Cancel an interrupted cell's task and let it unwind now."""
    task.cancel()
    try:
        cells_loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
    except BaseException:  # noqa: B902 - a second interrupt: leave the task cancelled
        pass


def has_work() -> bool:
    """Whether the cells' loop has tasks or timers waiting (never creates the loop)."""
    cells_loop = async_helpers._asyncio_event_loop
    if cells_loop is None or cells_loop.is_closed() or cells_loop.is_running():
        return False
    return bool(asyncio.all_tasks(cells_loop) or getattr(cells_loop, "_scheduled", None)
                or getattr(cells_loop, "_ready", None))


def idle(wake_fd: int) -> bool:
    """Runs the loop's pending tasks and timers until `wake_fd` (the kernel's request queue)
    is readable. False at once when the loop has nothing to run."""
    if not has_work():
        return False
    cells_loop = async_helpers._asyncio_event_loop

    def wake() -> None:
        try:
            os.read(wake_fd, 4096)
        except OSError:
            pass
        cells_loop.stop()

    cells_loop.add_reader(wake_fd, wake)
    try:
        cells_loop.run_forever()
    except BaseException:  # noqa: B902 - a stray signal while idle ends only this turn
        pass
    finally:
        cells_loop.remove_reader(wake_fd)
    return True

