"""The guard's worker process: a warm "zygote" that forks one sandboxed child per chart.

Run as `python -B guard_worker.py RESOURCES_DIR` by `anyviz.viz.guard` (never imported by the
kernel). Why this shape (the full justification is in guard.py's docstring):

* The zygote imports pandas/numpy/plotly once and warms Plotly Express (templates, validators),
  so a render costs a `fork()` (copy-on-write, a few ms) instead of a 1-2 s interpreter start.
* Frames are sent once (numeric columns through a /dev/shm file mapped copy-on-write, see
  shared_frames; the rest pickled over the pipe) and cached in the zygote keyed by the
  kernel's frame key; the forked child sees them for free through copy-on-write, and whatever
  the chart code does to `df` dies with the child. The session's frames live in the kernel and
  are never reachable from here.
* The zygote itself never runs untrusted code and never installs the sandbox (audit hooks and
  seccomp filters cannot be removed, and it must stay able to fork). Each child (chart_child)
  installs `sandbox.install` and then runs the code; after one chart it exits, and the zygote
  kills its process group and sweeps any orphan (it is a child subreaper), so nothing the
  chart started outlives it.
* Only JSON goes back to the kernel (never pickle), in the format of `wire`.

This file is the zygote's loop: load frames, fork a child per chart, collect its answer within
the deadline, and report how it ended.
"""
from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import time
from collections import OrderedDict

if __name__ == "__main__":  # run as a script: the package is importable from RESOURCES_DIR
    sys.path.insert(0, sys.argv[1])

from anyviz.viz import chart_child, reduce, sandbox, shared_frames, wire  # noqa: E402


# ---------------------------------------------------------------- zygote
def _warm() -> None:
    """Import and exercise what charts use so a forked child never needs a fresh import."""
    import numpy as np
    import pandas as pd
    import plotly.express as px
    import plotly.graph_objects as go  # noqa: F401
    import plotly.io  # noqa: F401
    import urllib.request  # noqa: F401 - so a URL read fails on the network hook, clearly

    d = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0) % 7, "c": list("xyz") * 10,
                      "t": pd.date_range("2024-01-01", periods=30)})
    for fig in (px.line(d, x="t", y="a", color="c"), px.scatter(d, x="a", y="b", size="b"),
                px.histogram(d, x="a"), px.bar(d, x="c", y="a"), px.box(d, x="c", y="a"),
                px.area(d, x="t", y="a"), px.pie(d, names="c", values="a"),
                px.density_heatmap(d, x="a", y="b"), px.violin(d, y="a"),
                px.scatter_matrix(d, dimensions=["a", "b"]), px.imshow(np.eye(3))):
            fig.update_layout(title="warm")
            fig_dict, _ = reduce.reduce_plotly_figure(fig, frame_rows=30)
            reduce.figure_json(fig_dict)
    d.groupby("c").a.sum()
    d.describe()


class _KernelGone(Exception):
    """The kernel closed our stdin (it exited or was killed): clean up and leave."""


def _kill_chart(pid: int) -> None:
    """The chart child, its process group and (through the pid namespace, or the subreaper
    sweep after the wait) everything it started."""
    for kill, target in ((os.killpg, pid), (os.kill, pid)):
        try:
            kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _death_message(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGKILL:
            return f"the chart process was killed (signal {sig}; likely memory limit)"
        if sig == signal.SIGXCPU:
            return f"the chart process used too much CPU time (signal {sig})"
        if sig == signal.SIGSEGV:
            return f"the chart process crashed (signal {sig}, segmentation fault)"
        return f"the chart process was killed (signal {sig})"
    return f"the chart process ended without a result (exit status {os.WEXITSTATUS(status)})"


def _collect(r: int, pid: int, deadline: float) -> tuple[bytearray, bool]:
    """Read the child's result until it is complete, the child exits, or the deadline passes.

    Neither EOF nor the child's exit alone is enough: processes the chart started may hold
    the pipe open (so no EOF), and a result may still sit in the pipe after the exit. The
    child's pidfd says when it is gone; the kernel going away (stdin hang-up) ends everything.
    """
    buf = bytearray()
    poller = select.poll()
    poller.register(r, select.POLLIN)
    poller.register(_IN_FD, 0)  # only POLLHUP/POLLERR: the kernel is gone
    try:
        pidfd = os.pidfd_open(pid)
        poller.register(pidfd, select.POLLIN)
    except (AttributeError, OSError):
        pidfd = None
    try:
        while not wire.complete(buf):
            left = deadline - time.monotonic()
            if left <= 0:
                return buf, True
            events = poller.poll(max(1, int(left * 1000)))
            for fd, event in events:
                if fd == _IN_FD and event & (select.POLLHUP | select.POLLERR):
                    _kill_chart(pid)
                    raise _KernelGone()
            if any(fd == r for fd, _ in events):
                chunk = os.read(r, 1 << 22)
                if not chunk:
                    break
                buf += chunk
            elif any(fd == pidfd for fd, _ in events):
                os.set_blocking(r, False)  # the child is gone: take what it left, then stop
                try:
                    while not wire.complete(buf):
                        chunk = os.read(r, 1 << 22)
                        if not chunk:
                            break
                        buf += chunk
                except BlockingIOError:
                    pass
                break
    finally:
        if pidfd is not None:
            os.close(pidfd)
    return buf, False


def _run(req: dict, frames: dict, resources_dir: str) -> tuple[dict, bytes]:
    missing = [k for k in req["frames"].values() if k not in frames]
    if missing:
        return {"status": "missing", "keys": missing}, b""
    r, w = os.pipe()
    started = time.monotonic()
    pid, pidns = sandbox.fork_in_new_pid_namespace()
    if pid == 0:  # child
        try:
            os.close(r)
            os.close(_IN_FD)
            os.close(_OUT_FD)
            chart_child.run_child(req, frames, resources_dir, w, pidns)
        finally:
            os._exit(1)
    os.close(w)
    try:
        buf, timed_out = _collect(r, pid, started + float(req["timeout_s"]))
    finally:
        os.close(r)
    _kill_chart(pid)  # after every chart: whatever it left behind goes too
    _, status = os.waitpid(pid, 0)
    sandbox.kill_orphans()
    elapsed = time.monotonic() - started
    if timed_out:
        return {"status": "timeout", "elapsed_s": elapsed,
                "message": f"the chart code ran longer than {req['timeout_s']:g} s and was "
                           f"stopped"}, b""
    header, payload = wire.parse(buf) if wire.message_size(buf) == len(buf) else (None, None)
    if header is None:
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        return {"status": "killed" if killed else "error", "elapsed_s": elapsed,
                "message": _death_message(status)}, b""
    header["elapsed_s"] = elapsed
    return header, payload


def _probe(resources_dir: str) -> dict:
    """Which sandbox layers a chart child gets on this machine (no code is run)."""
    r, w = os.pipe()
    pid, pidns = sandbox.fork_in_new_pid_namespace()
    if pid == 0:
        try:
            for fd in (r, _IN_FD, _OUT_FD):
                os.close(fd)
            layers = sandbox.install(resources_dir, 512, 5.0, [], pidns)
            wire.send(w, {"status": "ok", "layers": layers})
        finally:
            os._exit(0)
    os.close(w)
    try:
        buf, _ = _collect(r, pid, time.monotonic() + 10)
    finally:
        os.close(r)
    _kill_chart(pid)
    os.waitpid(pid, 0)
    sandbox.kill_orphans()
    if wire.message_size(buf) is None:
        return {"status": "error", "message": "the probe process gave no answer"}
    return wire.parse_header(buf)


_IN_FD = 0
_OUT_FD = 1
_MAX_FRAMES = 4


def main() -> None:
    resources_dir = sys.argv[1]
    if not _start():
        return
    frames: OrderedDict = OrderedDict()
    while True:
        req, payload = wire.recv(_IN_FD)
        if req is None:  # the kernel is gone
            sandbox.kill_orphans()
            return
        try:
            wire.send(_OUT_FD, *_answer(req, payload, frames, resources_dir))
        except _KernelGone:
            sandbox.kill_orphans()
            return
        except BaseException as exc:  # noqa: BLE001 - keep the zygote alive
            wire.send(_OUT_FD, {"status": "error", "message": f"{exc.__class__.__name__}: {exc}"})


def _start() -> bool:
    """Prepare the sandbox, protect the protocol pipes, warm up and say ready (False: failed)."""
    global _IN_FD, _OUT_FD
    sandbox.prepare()
    # Killed politely (kernel shutdown): take every chart process along.
    signal.signal(signal.SIGTERM, lambda *_: (sandbox.kill_orphans(), os._exit(0)))
    # Keep the protocol pipes on private descriptors; fds 0/1 become /dev/null so a stray print
    # or write(1, ...) in a library cannot corrupt the protocol.
    _IN_FD, _OUT_FD = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    try:
        _warm()
        wire.send(_OUT_FD, {"op": "ready", "pid": os.getpid()})
    except BaseException as exc:  # noqa: BLE001
        wire.send(_OUT_FD, {"op": "failed", "message": f"{exc.__class__.__name__}: {exc}"})
        return False
    return True


def _answer(req: dict, payload: bytes, frames: OrderedDict, resources_dir: str) -> tuple[dict, bytes]:
    """The reply to one request of the kernel: load a frame, run a chart, probe, ping."""
    op = req.get("op")
    if op == "load":
        frames[req["key"]] = (shared_frames.frame_from_shm(req["shm"], pickle.loads(payload))
                              if req.get("shm") else pickle.loads(payload))
        frames.move_to_end(req["key"])
        while len(frames) > _MAX_FRAMES:
            frames.popitem(last=False)
        return {"status": "ok"}, b""
    if op == "run":
        for key in req["frames"].values():
            if key in frames:
                frames.move_to_end(key)
        return _run(req, frames, resources_dir)
    if op == "probe":
        return _probe(resources_dir), b""
    if op == "ping":
        return {"status": "ok", "frames": list(frames)}, b""
    return {"status": "error", "message": f"unknown op {op!r}"}, b""


if __name__ == "__main__":
    main()
