"""The guard: chart code from an LLM or the planner is untrusted; this decides whether and where
it runs.

Design, and why:

1. Static check (`check_code`): `ast` parse, then reject what chart code never needs — imports
   other than pandas/numpy/plotly, dunder attributes (`__class__`, `__globals__` ... the classic
   sandbox escapes), frame/code introspection attributes, the dangerous builtins (exec, eval,
   open, getattr, ...), attribute chains through os/sys/subprocess/builtins/importlib/ctypes/
   socket, file readers/writers (`to_csv`, `read_csv`, `write_html`, `np.load` ...), class
   definitions, global/nonlocal, async, generators and `with` blocks (other than
   pd.option_context / np.errstate). This is advice, not the boundary: it gives the LLM and
   the user a precise reason early. Rejections name the construct and the line, so the LLM
   repair loop and the user know what to change.

2. Runtime isolation, the actual boundary, because static checks are bypassed in practice
   (PandasAI CVE-2023-39661 went through allowed libraries; here
   `pd.compat._optional.import_optional_dependency('os')` passes the static check): the code
   runs in a separate worker process, never in the kernel. `guard_worker.py` is a warm zygote
   (pandas, numpy and plotly imported and exercised once) that `fork()`s a fresh child per
   chart; `sandbox.py` sets the child up before any chart code runs:
   - kernel layers: the child is pid 1 of its own pid namespace (when it ends, the kernel
     kills every process it started, new sessions included), has its own session and process
     group, an empty network namespace, Landlock read-only access to the Python roots,
     a seccomp filter (no execve, no fork/vfork/clone without CLONE_THREAD, no AF_UNIX
     sockets, no ptrace/io_uring/namespaces/mounts), runs as `nobody` without capabilities
     when the kernel runs as root, and has RLIMIT_AS/CPU/FSIZE=0/CORE=0/NPROC;
   - Python layers (clear messages, defence in depth): an audit hook (file writes and reads
     outside the Python roots, sockets, processes, ctypes, signals, gc heap walks ...),
     `sys.modules` stubs and a `sys.meta_path` finder for `subprocess`, `_posixsubprocess`,
     `ctypes`, `socket`, `multiprocessing`, `signal`, `gc` ... (so `importlib.import_module`,
     `__import__`, `import_optional_dependency` and `sys.modules[...]` all end in the same
     refusal), process/socket functions replaced on `os`, `posix`, `subprocess` ..., no
     threads, restricted builtins, and an empty environment.
   Audit hooks and seccomp filters cannot be removed, which is exactly why they live in a
   throwaway child and never in the kernel (the kernel must keep writing files and sockets).
   `ANYVIZ_SANDBOX=require` (default) runs untrusted (LLM) code only when Landlock, the
   network namespace and seccomp are all active; otherwise the chart is refused with a note
   naming what is missing and the pipeline falls back to the planner. `ANYVIZ_SANDBOX=off`
   runs it with whatever layers the machine has. Planner code runs either way.
   The zygote enforces the wall-clock limit (ANYVIZ_GUARD_TIMEOUT_S, default 10 s) and, after
   every chart, kills the chart's process group and sweeps its own children (it is a child
   subreaper, so processes that escaped into a new session come back to it). It exits and
   takes every chart process along when the kernel goes away (stdin closed, SIGTERM); a
   zygote that does not answer is killed with its process group and restarted at once. A
   chart process killed by a signal (the OOM killer) is reported as killed, not timed out.
   The child sees the frames through copy-on-write, so `df` there is a copy by construction
   and the session's frames are never changed. Only JSON comes back (never pickle), so even a
   compromised child can only draw a wrong chart.

Frames are sent to the zygote once and cached there under a key of (object id, shape, dtypes,
sampled content hash); a changed frame gets a new key. Numeric/bool/date columns are written to
one file on /dev/shm that the zygote maps copy-on-write (~60 ms for 160 MB instead of ~0.6 s to
pickle, pipe and unpickle); the rest, and small frames, are pickled (protocol 5).
The zygote keeps the 4 most recent frames.
"""
from __future__ import annotations

import ast
import atexit
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from .. import settings
from . import shared_frames, wire
from ..errors import AnyVizError

# ------------------------------------------------------------------ static check
ALLOWED_IMPORT_ROOTS = {"pandas", "numpy", "plotly"}
FORBIDDEN_NAMES = {
    "exec", "eval", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals",
    "locals", "vars", "input", "breakpoint", "help", "memoryview", "exit", "quit", "__builtins__",
    "__loader__", "__spec__", "__build_class__", "copyright", "credits", "license",
}
FORBIDDEN_MODULE_ATTRS = {
    "os", "sys", "subprocess", "builtins", "importlib", "ctypes", "socket", "shutil", "pickle",
    "marshal", "multiprocessing", "threading", "_thread", "signal", "posix", "nt", "pty",
    "pathlib", "tempfile", "urllib", "requests", "http", "mmap", "inspect",
    "runpy", "codeop", "webbrowser", "sqlite3", "zipfile", "tarfile", "glob", "fcntl",
}
INTROSPECTION_ATTRS = {
    "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "f_globals", "f_locals",
    "f_builtins", "f_back", "f_code", "tb_frame", "tb_next", "co_code", "func_globals", "mro",
}
IO_ATTRS = {
    "to_csv", "to_excel", "to_parquet", "to_pickle", "to_feather", "to_hdf", "to_sql", "to_stata",
    "to_orc", "to_clipboard", "to_latex", "to_markdown", "to_xml", "to_gbq", "to_json", "to_html",
    "write_html", "write_image", "write_json", "to_image", "show", "savefig", "save", "savez",
    "savez_compressed", "savetxt", "tofile", "load", "loadtxt", "genfromtxt", "fromfile",
    "fromregex", "memmap", "read_json", "read_html", "read_image", "DataSource",
}
_IO_PREFIXES = ("read_",)
_DUNDER_STRING = re.compile(r"__\w+__")


def _line(node) -> str:
    return f"line {getattr(node, 'lineno', '?')}"


def _with_allowed(item: ast.withitem) -> bool:
    call = item.context_expr
    if not isinstance(call, ast.Call):
        return False
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
    return name in ("option_context", "errstate", "catch_warnings")


def check_code(code: str) -> list[str]:
    """Return the list of problems (empty if the code passes the static check)."""
    try:
        tree = ast.parse(code, "<chart>", "exec")
    except SyntaxError as exc:
        return [f"syntax error at line {exc.lineno}: {exc.msg}"]
    return [f"{text} ({_line(node)})" for node in ast.walk(tree) for text in _problems(node)]


def _problems(node) -> list[str]:
    """What is wrong with one syntax node, by its kind (most kinds are fine)."""
    if isinstance(node, ast.Import):
        return [f"`import {alias.name}` is not allowed: chart code may import only pandas, "
                f"numpy and plotly"
                for alias in node.names if alias.name.split(".")[0] not in ALLOWED_IMPORT_ROOTS]
    if isinstance(node, ast.ImportFrom):
        return _import_from_problems(node)
    if isinstance(node, ast.Attribute):
        return _attribute_problems(node.attr)
    if isinstance(node, ast.Name):
        return _name_problems(node.id)
    return _statement_problems(node)


def _import_from_problems(node: ast.ImportFrom) -> list[str]:
    mod = node.module or ""
    problems = []
    if node.level or mod.split(".")[0] not in ALLOWED_IMPORT_ROOTS:
        problems.append(f"`from {'.' * node.level}{mod} import ...` is not allowed: chart code "
                        f"may import only pandas, numpy and plotly")
    for alias in node.names:
        if alias.name == "*":
            problems.append(f"`from {mod} import *` is not allowed; import names explicitly")
        elif alias.name in FORBIDDEN_MODULE_ATTRS or alias.name in FORBIDDEN_NAMES:
            problems.append(f"importing `{alias.name}` from {mod} is not allowed")
    return problems


def _attribute_problems(a: str) -> list[str]:
    if a.startswith("__") and a.endswith("__"):
        return [f"dunder attribute `.{a}` is not allowed"]
    if a in INTROSPECTION_ATTRS:
        return [f"introspection attribute `.{a}` is not allowed"]
    if a in FORBIDDEN_MODULE_ATTRS:
        return [f"attribute chain into `{a}` (`.{a}`) is not allowed: chart code may not reach "
                f"system modules"]
    if a in IO_ATTRS or a.startswith(_IO_PREFIXES):
        return [f"`.{a}(...)` reads or writes files; chart code works on `df` only and must "
                f"assign the figure to `fig` instead of saving or showing it"]
    return []


def _name_problems(name: str) -> list[str]:
    if name in FORBIDDEN_NAMES:
        return [f"`{name}` is not allowed in chart code"]
    if name.startswith("__") and name.endswith("__"):
        return [f"dunder name `{name}` is not allowed"]
    if name in FORBIDDEN_MODULE_ATTRS:
        return [f"`{name}` is not available to chart code"]
    return []


def _statement_problems(node) -> list[str]:
    """Constructs chart code has no use for (classes, scope tricks, async, generators, most
    `with` blocks) and strings that spell dunder names for `.format` or getattr."""
    if isinstance(node, ast.ClassDef):
        return [f"class definitions (`class {node.name}`) are not allowed in chart code"]
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return [f"`{type(node).__name__.lower()}` statements are not allowed"]
    if isinstance(node, (ast.AsyncFunctionDef, ast.AsyncFor, ast.AsyncWith, ast.Await)):
        return ["async code is not allowed in chart code"]
    if isinstance(node, (ast.Yield, ast.YieldFrom)):
        return ["generators (`yield`) are not allowed in chart code"]
    if isinstance(node, ast.With) and not all(_with_allowed(item) for item in node.items):
        return ["`with` blocks are not allowed (except pd.option_context / np.errstate)"]
    if isinstance(node, ast.Constant) and isinstance(node.value, str) \
            and _DUNDER_STRING.search(node.value):
        return ["strings containing dunder names (e.g. in `.format`) are not allowed"]
    return []


def used_names(code: str) -> set[str]:
    """Names the code reads (used to send only the session frames it mentions)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


# ------------------------------------------------------------------ runtime
@dataclass
class RunResult:
    status: str  # ok | rejected | blocked | unsandboxed | error | timeout | memory | killed
    message: str = ""
    figure: dict | None = None  # JSON-parsed plotly figure (typed arrays, reduced)
    summary: dict = field(default_factory=dict)
    stdout: str = ""
    elapsed_s: float = 0.0
    layers: list = field(default_factory=list)  # isolation layers active in the worker


def _python_executable() -> str:
    """The interpreter for the worker: inside the kernel `sys.executable` is the kernel binary."""
    env = settings.worker_python()
    if env:
        return env
    exe = sys.executable or ""
    if os.path.basename(exe).startswith("python") and os.path.exists(exe):
        return exe
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    for base in (sys.prefix, sys.exec_prefix, sys.base_prefix):
        for name in (f"python{ver}", "python3", "python"):
            cand = os.path.join(base, "bin", name)
            if os.path.exists(cand):
                return cand
    raise AnyVizError("cannot find a Python interpreter for the chart guard; set ANYVIZ_PYTHON "
                      "to the venv's bin/python")


_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONHOME", "PYTHONPATH",
             "VIRTUAL_ENV", "LD_LIBRARY_PATH", "ANYVIZ_MAX_POINTS", "ANYVIZ_REDUCE_ROWS",
             "ANYVIZ_SANDBOX_SIMULATE_MISSING")
_SECRET_HINTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")


def _worker_env() -> dict:
    """An allow-list of what Python needs: API keys and tokens never reach the worker (chart
    code can read its own environment). A kept name that looks like a secret is dropped too."""
    env = {k: os.environ[k] for k in _ENV_KEEP
           if k in os.environ and not any(h in k.upper() for h in _SECRET_HINTS)}
    env.update(PYTHONDONTWRITEBYTECODE="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONNOUSERSITE="1")
    return env


def frame_key(df) -> str:
    """Identity of a frame in the worker's cache: the object (so a rebound name reloads) and its
    sampled content fingerprint (so an in-place edit reloads)."""
    import hashlib

    from anyviz.data.fingerprint import fingerprint

    return hashlib.sha256(f"{id(df)}|{fingerprint(df)}".encode()).hexdigest()[:32]


class Guard:
    """Owns the zygote process. Thread-safe; one render at a time."""

    def __init__(self):
        self._lock = threading.RLock()
        self._proc: subprocess.Popen | None = None
        self._ready = False
        self._frames: list[str] = []  # keys the zygote holds (its LRU order)
        self._atexit = False
        self._env: dict | None = None  # fixed at the first start: restarts get the same

    # -- process management
    def start(self) -> None:
        """Start the zygote without waiting (imports happen while the kernel does other work)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return
            shared_frames.remove_stale_frames()
            if self._env is None:
                self._env = _worker_env()
            here = os.path.dirname(os.path.abspath(__file__))
            resources = os.path.dirname(os.path.dirname(here))
            self._proc = subprocess.Popen(
                [_python_executable(), "-B", os.path.join(here, "guard_worker.py"), resources],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                close_fds=True, start_new_session=True, env=self._env, cwd="/")
            self._ready = False
            self._frames = []
            if not self._atexit:  # kernel shutdown takes the worker and its charts along
                atexit.register(self._at_exit)
                self._atexit = True

    def stop(self) -> None:
        """End the zygote and every chart process. Closing its stdin lets the zygote kill
        what it started (its orphans come back to it as the subreaper) before it exits; a
        zygote that does not answer within 2 s is killed with its process group."""
        with self._lock:
            proc, self._proc = self._proc, None
            self._ready = False
            self._frames = []
            if proc is None:
                return
            try:
                proc.stdin.close()
            except Exception:  # noqa: BLE001
                pass
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the zygote and any child it forked
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.kill()
            except Exception:  # noqa: BLE001
                pass
            proc.wait()
            try:
                proc.stdout.close()
            except Exception:  # noqa: BLE001
                pass

    def _at_exit(self) -> None:
        """At interpreter exit: stop normally, or (a chart still holds the lock) close the
        worker's stdin, which makes it kill its charts and exit, without waiting."""
        if self._lock.acquire(timeout=1):
            try:
                self.stop()
            finally:
                self._lock.release()
            return
        proc = self._proc
        if proc is not None:
            try:
                proc.stdin.close()
            except Exception:  # noqa: BLE001
                pass

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _send(self, header: dict, payload: bytes = b"") -> None:
        wire.send(self._proc.stdin.fileno(), header, payload)

    def _recv(self, deadline: float):
        """Read one message; (None, "deadline") if the deadline passes, (None, "died") if the
        zygote died or closed its end."""
        fd = self._proc.stdout.fileno()
        buf = bytearray()
        total = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, "deadline"
            ready, _, _ = select.select([fd], [], [], min(left, 0.25))
            if not ready:
                if self._proc.poll() is not None:
                    return None, "died"
                continue
            chunk = os.read(fd, 1 << 22)
            if not chunk:
                return None, "died"
            buf += chunk
            total = total or wire.message_size(buf)
            if total is not None and len(buf) >= total:
                return wire.parse(buf)

    def _ensure_ready(self, startup_timeout: float = 120.0) -> None:
        if self._proc is None or self._proc.poll() is not None:
            self.start()
        if self._ready:
            return
        header, _ = self._recv(time.monotonic() + startup_timeout)
        if header is None or header.get("op") != "ready":
            msg = (header or {}).get("message", "it did not start")
            self.stop()
            raise AnyVizError(f"The chart guard's worker process failed to start ({msg}). "
                              f"Check that pandas, numpy and plotly import in "
                              f"{_python_executable()}.")
        self._ready = True

    def _load(self, key: str, df) -> None:
        import pickle

        shm = shared_frames.pack_frame(df)
        try:
            if shm is None:
                self._send({"op": "load", "key": key}, pickle.dumps(df, protocol=5))
            else:
                self._send({"op": "load", "key": key, "shm": shm[0]}, shm[1])
            header, _ = self._recv(time.monotonic() + 120)
        finally:
            if shm is not None:  # the worker has it mapped (or failed): the name can go
                try:
                    os.unlink(shm[0])
                except OSError:
                    pass
        if header is None or header.get("status") != "ok":
            self.restart()
            raise AnyVizError("The chart guard's worker could not receive the data "
                              f"({(header or {}).get('message', 'no answer')}).")
        if key in self._frames:
            self._frames.remove(key)
        self._frames.append(key)
        del self._frames[:-4]

    def _worker_lost(self, reason: str, timeout: float) -> RunResult:
        """The zygote gave no answer: tell a kill (OOM killer, SIGKILL) from a time-out by the
        process's exit status, then start a fresh zygote so the next chart works."""
        proc = self._proc
        code = None
        if reason == "died":
            try:
                code = proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
        self.restart()
        if code is not None and code < 0:
            hint = "; likely memory limit" if -code == signal.SIGKILL else ""
            return RunResult("killed", f"The chart process was killed (signal {-code}{hint}); "
                             f"the sandbox has been restarted.")
        if reason == "died":
            return RunResult("error", "The chart worker process ended unexpectedly; it has "
                             "been restarted, try again.")
        return RunResult("timeout", f"The chart code did not finish within {timeout:g} s and "
                         f"was stopped.", elapsed_s=timeout)

    def probe(self) -> list:
        """The sandbox layers a chart process gets on this machine (runs no chart code)."""
        with self._lock:
            self._ensure_ready()
            self._send({"op": "probe"})
            header, _ = self._recv(time.monotonic() + 30)
            if header is None:
                self.restart()
                return []
            return list(header.get("layers") or [])

    # -- the one entry point
    def run(self, code: str, frames: dict, *, timeout: float | None = None,
            memory: int | None = None, frame_rows: int | None = None, max_points=None,
            reduce_rows=None, static: bool = True, untrusted: bool = True) -> RunResult:
        """Check `code`, run it on copies of `frames` ({name: DataFrame}; `df` is the main one)
        in the sandbox, and return the reduced figure. Never raises for bad code.

        `untrusted` code (from an LLM, the default) runs only in a complete sandbox unless
        ANYVIZ_SANDBOX=off; planner code passes False."""
        if static:
            problems = check_code(code)
            if problems:
                return RunResult("rejected", "The chart code was rejected by the guard: "
                                 + "; ".join(problems))
        try:
            require = list(_sandbox_required()) if untrusted and \
                settings.sandbox_mode() == "require" else []
        except AnyVizError as exc:
            return RunResult("unsandboxed", str(exc))
        timeout = settings.guard_timeout_s() if timeout is None else float(timeout)
        memory = settings.guard_memory_mb() if memory is None else int(memory)
        # resolved here so a changed environment applies at once
        max_points, reduce_rows = settings.point_limits(max_points, reduce_rows)
        if frame_rows is None:
            frame_rows = len(frames["df"]) if frames.get("df") is not None else 0
        req = {"op": "run", "code": code, "timeout_s": timeout, "require": require,
               "memory_mb": memory, "frame_rows": int(frame_rows),
               "max_points": max_points, "reduce_rows": reduce_rows}
        header, answer = self._exchange(req, frames, timeout)
        if header is None:
            return answer  # the worker was lost and has been restarted (see _worker_lost)
        return _result(header, answer, timeout, memory)

    def _exchange(self, req: dict, frames: dict, timeout: float):
        """Send the frames the worker lacks and the request; its (header, payload), or (None,
        RunResult) when the worker is lost. A worker that evicted a frame meanwhile says which
        ("missing") and gets it again once."""
        with self._lock:
            try:
                self._ensure_ready()
                keys = {}
                for name, df in frames.items():
                    key = frame_key(df)
                    keys[name] = key
                    if key not in self._frames:
                        self._load(key, df)
                req = dict(req, frames=keys)
                for _attempt in range(2):
                    self._send(req)
                    header, payload = self._recv(time.monotonic() + timeout + 10)
                    if header is None:
                        return None, self._worker_lost(payload, timeout)
                    if header.get("status") != "missing":
                        return header, payload
                    self._frames = [k for k in self._frames if k not in header["keys"]]
                    for name, key in keys.items():
                        if key in header["keys"]:
                            self._load(key, frames[name])
                return header, payload
            except BaseException:
                # Interrupted (KeyboardInterrupt) or broken pipe: never leave a half-read
                # protocol behind; a fresh zygote starts warming immediately.
                self.restart()
                raise


def _sandbox_required() -> tuple:
    from . import sandbox

    return sandbox.REQUIRED_LAYERS


_guard: Guard | None = None


def get_guard() -> Guard:
    global _guard
    if _guard is None:
        _guard = Guard()
    return _guard


def _result(header: dict, payload: bytes, timeout: float, memory: int) -> RunResult:
    """The worker's answer as a RunResult, with messages that name the limit that stopped it."""
    status = header.get("status", "error")
    elapsed = float(header.get("elapsed_s", 0.0))
    if status == "ok":
        import orjson

        return RunResult("ok", "", orjson.loads(payload), header.get("summary") or {},
                         header.get("stdout", ""), elapsed, header.get("layers") or [])
    message = header.get("message", "the chart code failed")
    if status == "timeout":
        message = f"The chart code ran longer than {timeout:g} s and was stopped."
    elif status == "memory":
        message = (f"The chart code used more than {memory} MB and was stopped "
                   f"(ANYVIZ_GUARD_MEMORY_MB).")
    return RunResult(status, message, None, {}, header.get("stdout", ""), elapsed,
                     header.get("layers") or [])


def run(code: str, frames: dict, **kwargs) -> RunResult:
    """Module-level convenience: run through the shared guard."""
    return get_guard().run(code, frames, **kwargs)
