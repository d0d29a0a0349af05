"""The guard's worker process: a warm "zygote" that forks one sandboxed child per chart.

Run as `python -B guard_worker.py RESOURCES_DIR` by `anyviz.viz.guard` (never imported by the
kernel). Why this shape (the full justification is in guard.py's docstring):

* The zygote imports pandas/numpy/plotly once and warms Plotly Express (templates, validators),
  so a render costs a `fork()` (copy-on-write, a few ms) instead of a 1-2 s interpreter start.
* Frames are sent once (numeric columns through a /dev/shm file mapped copy-on-write, the rest
  pickled over the pipe) and cached in the zygote keyed by the kernel's fingerprint; the forked child sees them for free through copy-on-write, and whatever
  the chart code does to `df` dies with the child. The session's frames live in the kernel and
  are never reachable from here.
* The zygote itself never runs untrusted code and never installs the sandbox (audit hooks and
  seccomp filters cannot be removed, and it must stay able to fork). Each child installs
  `sandbox.install` (namespaces, Landlock, seccomp, rlimits, import blocks, audit hook) and
  then runs the code; after one chart it exits, and the zygote kills its process group and
  sweeps any orphan (it is a child subreaper), so nothing the chart started outlives it.
* Only JSON goes back to the kernel (never pickle): a malicious child can at worst produce a
  wrong chart, not code that runs in the kernel.

Wire format on the pipes, both directions: 16-byte header (two big-endian u64: JSON header
length, payload length), the JSON header, the payload bytes.
"""
from __future__ import annotations

import json
import os
import select
import signal
import struct
import sys
import time

_HDR = struct.Struct(">QQ")


# ---------------------------------------------------------------- framing
def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 22))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view[: 1 << 22])
        view = view[written:]


def send(fd: int, header: dict, payload: bytes = b"") -> None:
    head = json.dumps(header).encode()
    _write_all(fd, _HDR.pack(len(head), len(payload)) + head)
    if payload:
        _write_all(fd, payload)


def recv(fd: int):
    raw = _read_exact(fd, _HDR.size)
    if raw is None:
        return None, None
    hlen, plen = _HDR.unpack(raw)
    head = _read_exact(fd, hlen)
    payload = _read_exact(fd, plen) if plen else b""
    if head is None or payload is None:
        return None, None
    return json.loads(head), payload


# ---------------------------------------------------------------- sandbox (child only)
# The layers themselves live in sandbox.py (imported only here, in the worker process).
def _sandbox():
    from anyviz.viz import sandbox

    return sandbox


_FORBIDDEN_BUILTINS = {
    "exec", "eval", "compile", "open", "getattr", "setattr", "delattr", "globals", "locals",
    "vars", "input", "breakpoint", "help", "memoryview", "exit", "quit", "__loader__", "__spec__",
    "__build_class__",
}
_ALLOWED_IMPORT_ROOTS = {"pandas", "numpy", "plotly"}


def _safe_builtins() -> dict:
    import builtins

    real_import = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level or name.split(".")[0] not in _ALLOWED_IMPORT_ROOTS:
            raise ImportError(f"AnyViz guard: chart code may only import pandas, numpy and "
                              f"plotly, not {name!r}")
        return real_import(name, globals, locals, fromlist, level)

    safe = {k: v for k, v in vars(builtins).items() if k not in _FORBIDDEN_BUILTINS}
    safe["__import__"] = guarded_import
    return safe


def _refused_by_os(exc: BaseException) -> bool:
    """An error that is the sandbox saying no (Landlock EACCES, RLIMIT_FSIZE, no network)."""
    import errno

    codes = {errno.EACCES, errno.EPERM, errno.EFBIG, errno.ENETUNREACH, errno.EROFS}
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in codes:
            return True
        text = str(exc)
        if any(t in text for t in ("Permission denied", "File too large",
                                   "Network is unreachable", "Operation not permitted")):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _error_message(exc: BaseException) -> str:
    import traceback

    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == "<chart>":
            line = lineno
    where = f" (line {line})" if line else ""
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}{where}"


# px.line / px.area arguments that only style or group rows: with nothing else given, keeping a
# subset of whole rows draws the same lines (per group, in row order).
_ROW_SAFE_KW = {
    "color", "line_dash", "line_group", "symbol", "facet_row", "facet_col", "facet_col_wrap",
    "facet_row_spacing", "facet_col_spacing", "hover_name", "hover_data", "custom_data", "text",
    "title", "subtitle", "labels", "template", "width", "height", "markers", "line_shape",
    "render_mode", "category_orders", "color_discrete_map", "color_discrete_sequence",
    "line_dash_map", "line_dash_sequence", "symbol_map", "symbol_sequence", "log_x", "log_y",
    "range_x", "range_y", "pattern_shape", "pattern_shape_map", "pattern_shape_sequence",
}
_GROUP_KW = ("color", "line_dash", "line_group", "symbol", "facet_row", "facet_col",
             "pattern_shape")


def _rows_to_draw(df, x, y, kw: dict, reduce_rows: int, parts: int):
    """The rows of a huge px.line/px.area call worth drawing, or None to leave the call alone.

    px copies and validates every row (~0.3 s per 10M) before the figure's own reduction
    throws all but a few thousand points away. For the plain, common call (column names,
    numeric y without gaps, only styling/grouping options) the same M4 rule is applied to
    whole rows first, per line and in row order, so px draws every slice's extremes only.
    Anything unusual (arrays instead of names, missing values, options that aggregate or
    animate) returns None and px sees all rows as before.
    """
    import numpy as np
    import pandas as pd

    if not isinstance(df, pd.DataFrame) or len(df) <= max(reduce_rows, 4 * parts) or \
            not set(kw) <= _ROW_SAFE_KW or not df.columns.is_unique:
        return None
    ys = [y] if isinstance(y, str) else list(y) if isinstance(y, (list, tuple)) else None
    if not ys or not all(isinstance(c, str) and c in df.columns for c in ys):
        return None
    if x is not None and not (isinstance(x, str) and x in df.columns and df[x].notna().all()):
        return None
    keys = [kw[k] for k in _GROUP_KW if kw.get(k) is not None]
    if not all(isinstance(k, str) and k in df.columns for k in keys):
        return None
    values = []
    for c in ys:
        if df[c].dtype.kind not in "iuf":
            return None
        v = df[c].to_numpy(dtype=np.float64)
        if np.isnan(v).any():  # NaN draws a gap: keep the exact picture, no pre-reduction
            return None
        values.append(v)
    groups = list(df.groupby(keys, sort=False, observed=True, dropna=False).indices.values()) \
        if keys else [np.arange(len(df))]
    from anyviz.viz.reduce import slice_extremes

    rows = [idx[slice_extremes(v[idx], parts)] for idx in groups for v in values]
    return np.unique(np.concatenate(rows))


def _reduce_rows_before_px(px, reduce_rows: int, parts: int) -> None:
    """Make px.line / px.area in this throwaway child draw only the rows that survive the
    figure's reduction anyway (see _rows_to_draw). The child exits after one chart."""
    for name in ("line", "area"):
        original = getattr(px, name)

        def wrapped(data_frame=None, x=None, y=None, *args, _original=original, **kw):
            if not args:
                try:
                    rows = _rows_to_draw(data_frame, x, y, kw, reduce_rows, parts)
                except Exception:  # noqa: BLE001 - never make a chart fail over an optimisation
                    rows = None
                if rows is not None:
                    data_frame = data_frame.iloc[rows]
            return _original(data_frame, x, y, *args, **kw)

        wrapped.__doc__ = original.__doc__
        wrapped.__name__ = name
        setattr(px, name, wrapped)


class _Unsandboxed(Exception):
    """A layer the request requires is missing: the code is not run."""


def run_child(req: dict, frames: dict, resources_dir: str, result_fd: int,
              pidns: bool = False) -> None:
    """Body of the forked child: sandbox, run the code, reduce, serialize, write, exit."""
    import io

    sb = _sandbox()
    violations: list = []
    captured = io.StringIO()
    header: dict
    payload = b""
    layers: list = []
    try:
        sys.stdout = captured
        sys.stderr = captured
        layers = sb.install(resources_dir, int(req["memory_mb"]), float(req["timeout_s"]),
                            violations, pidns)
        missing = sb.missing_layers(req.get("require") or (), layers)
        if missing:
            raise _Unsandboxed(sb.refusal_message(missing))
        import numpy as np
        import pandas as pd
        import plotly.express as px
        import plotly.graph_objects as go

        from anyviz.viz import reduce as _reduce

        from anyviz import settings

        max_points, reduce_rows = settings.point_limits(req.get("max_points"), req.get("reduce_rows"))
        if reduce_rows > 0 and int(req.get("frame_rows") or 0) > reduce_rows:
            _reduce_rows_before_px(px, reduce_rows, max_points)
        ns = {"__builtins__": _safe_builtins(), "__name__": "__chart__", "pd": pd, "np": np,
              "px": px, "go": go}
        for name, key in req["frames"].items():
            ns[name] = frames[key]
        ns["df"] = frames[req["frames"]["df"]] if "df" in req["frames"] else None
        code = compile(req["code"], "<chart>", "exec")
        exec(code, ns)
        fig = ns.get("fig")
        if fig is None:
            raise NameError("the code must assign the chart to a variable named `fig`")
        if isinstance(fig, dict):
            fig = go.Figure(fig)
        if not isinstance(fig, go.Figure):
            raise TypeError(f"`fig` must be a Plotly figure, got {type(fig).__name__}")
        fig_dict, summary = _reduce.reduce_plotly_figure(
            fig, frame_rows=int(req.get("frame_rows") or 0),
            max_points=req.get("max_points"), reduce_rows=req.get("reduce_rows"))
        payload = _reduce.figure_json(fig_dict)
        header = {"status": "ok", "summary": summary}
    except _Unsandboxed as exc:
        header = {"status": "unsandboxed", "message": str(exc)}
    except sb.GuardViolation as exc:
        header = {"status": "blocked", "message": _error_message(exc)}
    except MemoryError:
        header = {"status": "memory",
                  "message": f"MemoryError: the chart code needed more than the "
                             f"{req.get('memory_mb')} MB the guard allows"}
    except SystemExit:
        header = {"status": "error", "message": "SystemExit: chart code may not exit"}
    except BaseException as exc:  # noqa: BLE001 - everything becomes a message for the user
        if _refused_by_os(exc):
            header = {"status": "blocked",
                      "message": "AnyViz guard: chart code may not read or write files, use "
                                 "the network or start processes; the sandbox refused it ("
                                 + _error_message(exc)
                                 + ")"}
        else:
            header = {"status": "error", "message": _error_message(exc)}
    if violations and header.get("status") == "ok":
        # The code swallowed a blocked operation: the chart is still suspect, say so.
        header = {"status": "blocked", "message": violations[0]}
    elif violations and header.get("status") == "error":
        header["message"] = violations[0] + f" (then: {header['message']})"
        header["status"] = "blocked"
    header["stdout"] = captured.getvalue()[-4000:]
    header["layers"] = layers
    try:
        send(result_fd, header, payload)
    except BaseException:
        pass
    os._exit(0)


# ---------------------------------------------------------------- zygote
def _warm() -> None:
    """Import and exercise what charts use so a forked child never needs a fresh import."""
    import numpy as np
    import pandas as pd
    import plotly.express as px
    import plotly.graph_objects as go  # noqa: F401
    import plotly.io  # noqa: F401
    import urllib.request  # noqa: F401 - so a URL read fails on the network hook, clearly

    from anyviz.viz import reduce as _reduce

    d = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0) % 7, "c": list("xyz") * 10,
                      "t": pd.date_range("2024-01-01", periods=30)})
    for fig in (px.line(d, x="t", y="a", color="c"), px.scatter(d, x="a", y="b", size="b"),
                px.histogram(d, x="a"), px.bar(d, x="c", y="a"), px.box(d, x="c", y="a"),
                px.area(d, x="t", y="a"), px.pie(d, names="c", values="a"),
                px.density_heatmap(d, x="a", y="b"), px.violin(d, y="a"),
                px.scatter_matrix(d, dimensions=["a", "b"]), px.imshow(np.eye(3))):
            fig.update_layout(title="warm")
            fig_dict, _ = _reduce.reduce_plotly_figure(fig, frame_rows=30)
            _reduce.figure_json(fig_dict)
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


def _complete(buf: bytearray) -> bool:
    if len(buf) < _HDR.size:
        return False
    hlen, plen = _HDR.unpack_from(buf)
    return len(buf) >= _HDR.size + hlen + plen


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
        while not _complete(buf):
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
                    while not _complete(buf):
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
    sb = _sandbox()
    r, w = os.pipe()
    started = time.monotonic()
    pid, pidns = sb.fork_in_new_pid_namespace()
    if pid == 0:  # child
        try:
            os.close(r)
            os.close(_IN_FD)
            os.close(_OUT_FD)
            run_child(req, frames, resources_dir, w, pidns)
        finally:
            os._exit(1)
    os.close(w)
    try:
        buf, timed_out = _collect(r, pid, started + float(req["timeout_s"]))
    finally:
        os.close(r)
    _kill_chart(pid)  # after every chart: whatever it left behind goes too
    _, status = os.waitpid(pid, 0)
    sb.kill_orphans()
    elapsed = time.monotonic() - started
    if timed_out:
        return {"status": "timeout", "elapsed_s": elapsed,
                "message": f"the chart code ran longer than {req['timeout_s']:g} s and was "
                           f"stopped"}, b""
    header = payload = None
    if _complete(buf):
        hlen, plen = _HDR.unpack_from(buf)
        if len(buf) == _HDR.size + hlen + plen:
            header = json.loads(bytes(buf[_HDR.size:_HDR.size + hlen]))
            payload = bytes(buf[_HDR.size + hlen:])
    if header is None:
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        return {"status": "killed" if killed else "error", "elapsed_s": elapsed,
                "message": _death_message(status)}, b""
    header["elapsed_s"] = elapsed
    return header, payload


def _probe(resources_dir: str) -> dict:
    """Which sandbox layers a chart child gets on this machine (no code is run)."""
    sb = _sandbox()
    r, w = os.pipe()
    pid, pidns = sb.fork_in_new_pid_namespace()
    if pid == 0:
        try:
            for fd in (r, _IN_FD, _OUT_FD):
                os.close(fd)
            layers = sb.install(resources_dir, 512, 5.0, [], pidns)
            send(w, {"status": "ok", "layers": layers})
        finally:
            os._exit(0)
    os.close(w)
    try:
        buf, _ = _collect(r, pid, time.monotonic() + 10)
    finally:
        os.close(r)
    _kill_chart(pid)
    os.waitpid(pid, 0)
    sb.kill_orphans()
    if len(buf) < _HDR.size:
        return {"status": "error", "message": "the probe process gave no answer"}
    hlen, _ = _HDR.unpack_from(buf)
    return json.loads(bytes(buf[_HDR.size:_HDR.size + hlen]))


def _frame_from_shm(path: str, meta: dict):
    """Rebuild a frame written by guard._pack_frame: numpy columns are views of a private
    (copy-on-write) mapping of the file, so nothing is copied and writes stay process-local."""
    import mmap

    import numpy as np
    import pandas as pd

    fd = os.open(path, os.O_RDONLY)
    try:
        mm = mmap.mmap(fd, 0, access=mmap.ACCESS_COPY)
    finally:
        os.close(fd)
    arrays = {pos: np.frombuffer(mm, dtype=np.dtype(dt), count=n, offset=off)
              for pos, dt, off, n in meta["layout"]}
    index = meta["index"]
    if "index" in arrays:
        index = pd.Index(arrays.pop("index"), name=meta["index_name"], copy=False)
    data = {i: arrays[i] if i in arrays else meta["rest"][i] for i in range(len(meta["columns"]))}
    df = pd.DataFrame(data, index=index if index is not None else pd.RangeIndex(meta["rows"]),
                      copy=False)
    df.columns = meta["columns"]
    df.attrs.update(meta["attrs"])
    return df


_IN_FD = 0
_OUT_FD = 1
_MAX_FRAMES = 4


def main() -> None:
    global _IN_FD, _OUT_FD
    resources_dir = sys.argv[1]
    sys.path.insert(0, resources_dir)
    sb = _sandbox()
    sb.prepare()
    # Killed politely (kernel shutdown): take every chart process along.
    signal.signal(signal.SIGTERM, lambda *_: (sb.kill_orphans(), os._exit(0)))
    # Keep the protocol pipes on private descriptors; fds 0/1 become /dev/null so a stray print
    # or write(1, ...) in a library cannot corrupt the protocol.
    _IN_FD, _OUT_FD = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    import pickle
    from collections import OrderedDict

    try:
        _warm()
        send(_OUT_FD, {"op": "ready", "pid": os.getpid()})
    except BaseException as exc:  # noqa: BLE001
        send(_OUT_FD, {"op": "failed", "message": f"{exc.__class__.__name__}: {exc}"})
        return
    frames: OrderedDict = OrderedDict()
    while True:
        req, payload = recv(_IN_FD)
        if req is None:  # the kernel is gone
            sb.kill_orphans()
            return
        op = req.get("op")
        try:
            if op == "load":
                frames[req["key"]] = (_frame_from_shm(req["shm"], pickle.loads(payload))
                                      if req.get("shm") else pickle.loads(payload))
                frames.move_to_end(req["key"])
                while len(frames) > _MAX_FRAMES:
                    frames.popitem(last=False)
                send(_OUT_FD, {"status": "ok"})
            elif op == "run":
                for key in req["frames"].values():
                    if key in frames:
                        frames.move_to_end(key)
                header, out = _run(req, frames, resources_dir)
                send(_OUT_FD, header, out)
            elif op == "probe":
                send(_OUT_FD, _probe(resources_dir))
            elif op == "ping":
                send(_OUT_FD, {"status": "ok", "frames": list(frames)})
            else:
                send(_OUT_FD, {"status": "error", "message": f"unknown op {op!r}"})
        except _KernelGone:
            sb.kill_orphans()
            return
        except BaseException as exc:  # noqa: BLE001 - keep the zygote alive
            send(_OUT_FD, {"status": "error", "message": f"{exc.__class__.__name__}: {exc}"})


if __name__ == "__main__":
    main()
