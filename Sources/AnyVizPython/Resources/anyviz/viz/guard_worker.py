"""The guard's worker process: a warm "zygote" that forks one sandboxed child per chart.

Run as `python -B guard_worker.py RESOURCES_DIR` by `anyviz.viz.guard` (never imported by the
kernel). Why this shape (the full justification is in guard.py's docstring):

* The zygote imports pandas/numpy/plotly once and warms Plotly Express (templates, validators),
  so a render costs a `fork()` (copy-on-write, a few ms) instead of a 1-2 s interpreter start.
* Frames are sent once (numeric columns through a /dev/shm file mapped copy-on-write, the rest
  pickled over the pipe) and cached in the zygote keyed by the kernel's fingerprint; the forked child sees them for free through copy-on-write, and whatever
  the chart code does to `df` dies with the child. The session's frames live in the kernel and
  are never reachable from here.
* The zygote itself never runs untrusted code and never installs the audit hook (audit hooks
  cannot be removed, and it must stay able to fork). Each child installs the hook, resource
  limits (address space, CPU seconds, file size 0) and then runs the code; after one chart it
  exits, so nothing it did (monkeypatching, leaked threads, memory) outlives the render.
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
class GuardViolation(PermissionError):
    """Raised by the audit hook; a PermissionError so library code treats it like EPERM."""


_BLOCKED_EVENTS = {
    "subprocess.Popen": "start processes",
    "os.system": "start processes",
    "os.exec": "start processes",
    "os.posix_spawn": "start processes",
    "os.spawn": "start processes",
    "os.fork": "start processes",
    "os.forkpty": "start processes",
    "pty.spawn": "start processes",
    "os.startfile": "start processes",
    "webbrowser.open": "start processes",
    "os.kill": "send signals",
    "os.killpg": "send signals",
    "signal.pthread_kill": "send signals",
    "os.remove": "change files",
    "os.unlink": "change files",
    "os.rename": "change files",
    "os.replace": "change files",
    "os.rmdir": "change files",
    "os.mkdir": "change files",
    "os.chmod": "change files",
    "os.chown": "change files",
    "os.chflags": "change files",
    "os.link": "change files",
    "os.symlink": "change files",
    "os.truncate": "change files",
    "os.utime": "change files",
    "os.mkfifo": "change files",
    "os.mknod": "change files",
    "os.setxattr": "change files",
    "os.removexattr": "change files",
    "os.chdir": "change directory",
    "os.putenv": "change the environment",
    "os.unsetenv": "change the environment",
    "_thread.start_new_thread": "start threads",
    "mmap.__new__": "map files",
    "resource.setrlimit": "change resource limits",
    "resource.prlimit": "change resource limits",
    "sqlite3.connect": "open databases",
    "urllib.Request": "use the network",
    "http.client.connect": "use the network",
    "ftplib.connect": "use the network",
    "smtplib.connect": "use the network",
    "imaplib.open": "use the network",
    "poplib.connect": "use the network",
    "telnetlib.Telnet.open": "use the network",
}
_BLOCKED_PREFIXES = {
    "socket.": "open sockets",
    "ctypes.": "load native libraries",
    "shutil.": "change files",
    "winreg.": "use the registry",
    "_winapi.": "start processes",
}


def _allowed_read_roots(resources_dir: str) -> tuple[str, ...]:
    import site
    import sysconfig

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.realpath(resources_dir), "/usr/share/zoneinfo", "/usr/lib/python3",
             "/usr/share/python3", "/etc/localtime", "/usr/share/zoneinfo-icu"}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            roots.add(sysconfig.get_paths()[key])
        except Exception:
            pass
    try:
        roots.update(site.getsitepackages())
    except Exception:
        pass
    for p in sys.path:
        if p and os.path.isdir(p) and p not in ("", ".", "/"):
            roots.add(p)
    out = set()
    for r in roots:
        if r and r != "/":
            out.add(os.path.realpath(r))
    return tuple(sorted(out))


_LIBC = None  # libc loaded in the zygote (the child may not dlopen anything)


def _load_libc() -> None:
    global _LIBC
    try:
        import ctypes

        _LIBC = ctypes.CDLL(None, use_errno=True)
    except Exception:
        _LIBC = None


def _unshare_network() -> bool:
    """New (empty) network namespace: no interface but a down loopback, so native code
    (pyarrow S3, libcurl, ...) cannot reach the network either. Unprivileged via a user
    namespace; plain CLONE_NEWNET when that is not allowed but we are root."""
    if _LIBC is None:
        return False
    clone_newuser, clone_newnet = 0x10000000, 0x40000000
    for flags in (clone_newuser | clone_newnet, clone_newnet):
        if _LIBC.unshare(flags) == 0:
            return True
    return False


def _landlock(read_roots: tuple) -> bool:
    """Landlock (Linux >= 5.13): read-only access beneath the Python roots, nothing else, for
    this process and whatever it runs, enforced by the kernel, so native readers/writers
    (pyarrow's C++ I/O, fopen in numpy) are confined as well as Python's open()."""
    if _LIBC is None or not sys.platform.startswith("linux"):
        return False
    import ctypes

    sys_create, sys_add, sys_restrict = 444, 445, 446
    abi = _LIBC.syscall(sys_create, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return False
    handled = (1 << 13) - 1
    if abi >= 2:
        handled |= 1 << 13  # REFER
    if abi >= 3:
        handled |= 1 << 14  # TRUNCATE
    if abi >= 5:
        handled |= 1 << 15  # IOCTL_DEV
    fields = [("handled_access_fs", ctypes.c_uint64)]
    values = [handled]
    if abi >= 4:
        fields.append(("handled_access_net", ctypes.c_uint64))
        values.append(0b11)  # BIND_TCP | CONNECT_TCP
    if abi >= 6:
        fields.append(("scoped", ctypes.c_uint64))
        values.append(0b11)  # abstract unix sockets | signals outside the sandbox

    class Attr(ctypes.Structure):
        _fields_ = fields

    class Beneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    attr = Attr(*values)
    rfd = _LIBC.syscall(sys_create, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
                        ctypes.c_uint32(0))
    if rfd < 0:
        return False
    read_file, read_dir, execute = 1 << 2, 1 << 3, 1 << 0
    try:
        for root in read_roots + ("/dev/null", "/dev/urandom"):
            try:
                fd = os.open(root, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                is_dir = os.path.isdir(root)
                rule = Beneath((read_file | read_dir | execute) if is_dir else read_file, fd)
                _LIBC.syscall(sys_add, ctypes.c_int(rfd), ctypes.c_int(1), ctypes.byref(rule),
                              ctypes.c_uint32(0))
            finally:
                os.close(fd)
        if _LIBC.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            return False
        return _LIBC.syscall(sys_restrict, ctypes.c_int(rfd), ctypes.c_uint32(0)) == 0
    finally:
        os.close(rfd)


def _disable_threads(violations: list) -> None:
    """Python 3.11 has no audit event for thread starts: replace the primitives. (The child
    exits after one chart anyway, so no thread could outlive the render.)"""
    import _thread
    import threading

    def no_threads(*_a, **_k):
        msg = "AnyViz guard: chart code may not start threads"
        violations.append(msg)
        raise GuardViolation(msg)

    for mod, name in ((_thread, "start_new_thread"), (_thread, "start_new"),
                      (threading, "_start_new_thread")):
        if hasattr(mod, name):
            setattr(mod, name, no_threads)


def install_sandbox(resources_dir: str, memory_mb: int, cpu_s: float, violations: list) -> list:
    """Kernel isolation (network namespace, Landlock), resource limits, thread stubs and an
    audit hook that turns every I/O/process/native escape into a clear error. Returns the
    layers that are active (the ones the OS supports)."""
    import resource

    layers = ["audit-hook", "rlimits"]
    roots = _allowed_read_roots(resources_dir)
    try:
        if _unshare_network():
            layers.append("netns")
    except Exception:
        pass
    try:
        if _landlock(roots):
            layers.append("landlock")
    except Exception:
        pass
    _disable_threads(violations)

    # Address space: what the child already maps (libraries, the cached frames, copy-on-write)
    # plus the configured allowance, so the cap measures what the chart code allocates.
    try:
        with open("/proc/self/statm") as f:
            vm_bytes = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except Exception:
        vm_bytes = 0
    cap = vm_bytes + memory_mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ValueError, OSError):
        pass
    cpu = max(1, int(cpu_s) + 2)  # backstop: the parent's wall clock normally fires first
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    except (ValueError, OSError):
        pass
    try:  # any write to a regular file fails with EFBIG even if the hook were bypassed
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    except (ValueError, OSError):
        pass
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass

    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    realpath = os.path.realpath
    fsdecode = os.fsdecode

    def deny(what: str, detail) -> None:
        msg = f"AnyViz guard: chart code may not {what} ({detail})"
        violations.append(msg)
        raise GuardViolation(msg)

    def hook(event: str, args) -> None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            if isinstance(path, int):
                deny("open file descriptors", f"fd {path}")
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & write_flags)
            if writing:
                deny("write files", f"{fsdecode(path)!r}")
            try:
                real = realpath(fsdecode(path))
            except Exception:
                deny("read files", repr(path))
            if not any(real == r or real.startswith(r + os.sep) for r in roots):
                deny("read files", f"{fsdecode(path)!r}")
            return
        if event in ("os.listdir", "os.scandir", "glob.glob"):
            # Lazy imports inside pandas/pyarrow list their own package folders: allowed
            # there, nowhere else.
            target = args[0] if args else "."
            try:
                real = realpath(fsdecode(target if target is not None else "."))
            except Exception:
                deny("list directories", repr(target))
            if not any(real == r or real.startswith(r + os.sep) for r in roots):
                deny("list directories", f"{fsdecode(target)!r}")
            return
        what = _BLOCKED_EVENTS.get(event)
        if what is None:
            for prefix, w in _BLOCKED_PREFIXES.items():
                if event.startswith(prefix):
                    what = w
                    break
        if what is not None:
            deny(what, event)

    sys.addaudithook(hook)
    return layers


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


def _extreme_rows(y, parts: int):
    """Positions of the first, last, lowest and highest value of `parts` equal slices (M4)."""
    import numpy as np

    n = len(y)
    if n <= 4 * parts:
        return np.arange(n)
    size = -(-n // parts)
    m = np.concatenate([y, np.repeat(y[-1:], size * parts - n)]).reshape(parts, size)
    start = np.arange(parts) * size
    pos = np.concatenate([start, start + size - 1, start + m.argmin(axis=1), start + m.argmax(axis=1)])
    return np.minimum(pos, n - 1)


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
    rows = [idx[_extreme_rows(v[idx], parts)] for idx in groups for v in values]
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


def run_child(req: dict, frames: dict, resources_dir: str, result_fd: int) -> None:
    """Body of the forked child: sandbox, run the code, reduce, serialize, write, exit."""
    import io

    violations: list = []
    captured = io.StringIO()
    header: dict
    payload = b""
    try:
        sys.stdout = captured
        sys.stderr = captured
        layers = install_sandbox(resources_dir, int(req["memory_mb"]),
                                 float(req["timeout_s"]), violations)
        import numpy as np
        import pandas as pd
        import plotly.express as px
        import plotly.graph_objects as go

        from anyviz.viz import reduce as _reduce

        max_points, reduce_rows = _reduce.settings(req.get("max_points"), req.get("reduce_rows"))
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
        header = {"status": "ok", "summary": summary, "layers": layers}
    except GuardViolation as exc:
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
                      "message": "AnyViz guard: chart code may not read or write files or use "
                                 "the network; the sandbox refused it (" + _error_message(exc)
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


def _run(req: dict, frames: dict, resources_dir: str) -> tuple[dict, bytes]:
    missing = [k for k in req["frames"].values() if k not in frames]
    if missing:
        return {"status": "missing", "keys": missing}, b""
    r, w = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(r)
            os.close(_IN_FD)
            os.close(_OUT_FD)
            run_child(req, frames, resources_dir, w)
        finally:
            os._exit(1)
    os.close(w)
    deadline = started + float(req["timeout_s"])
    header = payload = None
    buf = bytearray()
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([r], [], [], left)
        if not ready:
            continue
        chunk = os.read(r, 1 << 22)
        if not chunk:
            break
        buf += chunk
    os.close(r)
    if timed_out:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    elapsed = time.monotonic() - started
    if timed_out:
        return {"status": "timeout", "elapsed_s": elapsed,
                "message": f"the chart code ran longer than {req['timeout_s']:g} s and was "
                           f"stopped"}, b""
    if len(buf) >= _HDR.size:
        hlen, plen = _HDR.unpack_from(buf)
        if len(buf) == _HDR.size + hlen + plen:
            header = json.loads(bytes(buf[_HDR.size:_HDR.size + hlen]))
            payload = bytes(buf[_HDR.size + hlen:])
    if header is None:
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        why = {signal.SIGXCPU: "it used too much CPU time", signal.SIGKILL: "it was killed",
               signal.SIGSEGV: "it crashed (segmentation fault)"}.get(sig, f"status {status}")
        return {"status": "error", "elapsed_s": elapsed,
                "message": f"the chart process ended without a result: {why}"}, b""
    header["elapsed_s"] = elapsed
    return header, payload


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
    _load_libc()
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
        if req is None:
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
            elif op == "ping":
                send(_OUT_FD, {"status": "ok", "frames": list(frames)})
            else:
                send(_OUT_FD, {"status": "error", "message": f"unknown op {op!r}"})
        except BaseException as exc:  # noqa: BLE001 - keep the zygote alive
            send(_OUT_FD, {"status": "error", "message": f"{exc.__class__.__name__}: {exc}"})


if __name__ == "__main__":
    main()
