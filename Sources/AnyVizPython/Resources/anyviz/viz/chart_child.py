"""What runs in one forked chart process: install the sandbox, run the chart code with safe
builtins, reduce the figure and send it back as JSON, then exit.

The zygote (guard_worker) forks this for every chart; nothing it does outlives the process.
"""
from __future__ import annotations

import io
import os
import sys

from .. import settings
from . import px_rows, reduce, sandbox, wire

_FORBIDDEN_BUILTINS = {
    "exec", "eval", "compile", "open", "getattr", "setattr", "delattr", "globals", "locals",
    "vars", "input", "breakpoint", "help", "memoryview", "exit", "quit", "__loader__", "__spec__",
    "__build_class__",
}
_ALLOWED_IMPORT_ROOTS = {"pandas", "numpy", "plotly"}


def safe_builtins() -> dict:
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


class _Unsandboxed(Exception):
    """A layer the request requires is missing: the code is not run."""


def run_child(req: dict, frames: dict, resources_dir: str, result_fd: int,
              pidns: bool = False) -> None:
    """Body of the forked child: sandbox, run the code, reduce, serialize, write, exit."""
    violations: list = []
    layers: list = []
    captured = io.StringIO()
    sys.stdout = captured
    sys.stderr = captured
    try:
        layers = sandbox.install(resources_dir, int(req["memory_mb"]), float(req["timeout_s"]),
                                 violations, pidns)
        missing = sandbox.missing_layers(req.get("require") or (), layers)
        if missing:
            raise _Unsandboxed(sandbox.refusal_message(missing))
        header, payload = _draw(req, frames)
    except BaseException as exc:  # noqa: BLE001 - everything becomes a message for the user
        header, payload = _failure(exc, req), b""
    header = _with_violations(header, violations)
    header["stdout"] = captured.getvalue()[-4000:]
    header["layers"] = layers
    try:
        wire.send(result_fd, header, payload)
    except BaseException:
        pass
    os._exit(0)


def _draw(req: dict, frames: dict) -> tuple[dict, bytes]:
    """Run the chart code on the request's frames; the reduced figure as JSON bytes."""
    import numpy as np
    import pandas as pd
    import plotly.express as px
    import plotly.graph_objects as go

    max_points, reduce_rows = settings.point_limits(req.get("max_points"), req.get("reduce_rows"))
    if reduce_rows > 0 and int(req.get("frame_rows") or 0) > reduce_rows:
        px_rows.reduce_rows_before_px(px, reduce_rows, max_points)
    ns = {"__builtins__": safe_builtins(), "__name__": "__chart__", "pd": pd, "np": np,
          "px": px, "go": go}
    for name, key in req["frames"].items():
        ns[name] = frames[key]
    ns["df"] = frames[req["frames"]["df"]] if "df" in req["frames"] else None
    exec(compile(req["code"], "<chart>", "exec"), ns)
    fig = ns.get("fig")
    if fig is None:
        raise NameError("the code must assign the chart to a variable named `fig`")
    if isinstance(fig, dict):
        fig = go.Figure(fig)
    if not isinstance(fig, go.Figure):
        raise TypeError(f"`fig` must be a Plotly figure, got {type(fig).__name__}")
    fig_dict, summary = reduce.reduce_plotly_figure(
        fig, frame_rows=int(req.get("frame_rows") or 0),
        max_points=req.get("max_points"), reduce_rows=req.get("reduce_rows"))
    return {"status": "ok", "summary": summary}, reduce.figure_json(fig_dict)


def _failure(exc: BaseException, req: dict) -> dict:
    """The reply header for code that did not produce a chart."""
    if isinstance(exc, _Unsandboxed):
        return {"status": "unsandboxed", "message": str(exc)}
    if isinstance(exc, sandbox.GuardViolation):
        return {"status": "blocked", "message": _error_message(exc)}
    if isinstance(exc, MemoryError):
        return {"status": "memory",
                "message": f"MemoryError: the chart code needed more than the "
                           f"{req.get('memory_mb')} MB the guard allows"}
    if isinstance(exc, SystemExit):
        return {"status": "error", "message": "SystemExit: chart code may not exit"}
    if _refused_by_os(exc):
        return {"status": "blocked",
                "message": "AnyViz guard: chart code may not read or write files, use the "
                           "network or start processes; the sandbox refused it ("
                           + _error_message(exc) + ")"}
    return {"status": "error", "message": _error_message(exc)}


def _with_violations(header: dict, violations: list) -> dict:
    """A blocked operation the code swallowed still makes the chart suspect: say so."""
    if violations and header.get("status") == "ok":
        return {"status": "blocked", "message": violations[0]}
    if violations and header.get("status") == "error":
        header["message"] = violations[0] + f" (then: {header['message']})"
        header["status"] = "blocked"
    return header
