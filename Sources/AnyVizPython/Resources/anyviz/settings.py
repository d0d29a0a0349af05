"""The ANYVIZ_* environment settings of charts and data, read in one place.

Each is read when it is used, not at import, so `os.environ["ANYVIZ_MAX_POINTS"] = "2000"` in a
cell applies to the next chart. A value that cannot be read is an error that names the setting
and says what it takes; it is never silently replaced by the default.

(The LLM's settings live with the LLM client; engine settings with the engines.)

| Setting | Default | Meaning |
|---|---|---|
| ANYVIZ_MAX_POINTS | 4000 | points per trace before a chart is reduced (at least 16) |
| ANYVIZ_REDUCE_ROWS | 50000 | frames with more rows are always checked for reduction |
| ANYVIZ_GUARD_TIMEOUT_S | 10 | seconds chart code may run |
| ANYVIZ_GUARD_MEMORY_MB | 4096 | memory limit of the chart process |
| ANYVIZ_SANDBOX | require | `require`: LLM code runs only fully sandboxed; `off` |
| ANYVIZ_PYTHON | (found) | interpreter for the chart worker |
| ANYVIZ_SHM_DIR | /dev/shm | where large frames are shared with the chart worker |
| ANYVIZ_STATIC | 0 | 1: attach a PNG to every chart |
| ANYVIZ_LOW_MEMORY_FRACTION | 0.2 | stream a CSV larger than this part of free memory |
| ANYVIZ_MAX_DOWNLOAD_MB | 1024 | largest file %load downloads |
"""
from __future__ import annotations

import os

from .errors import AnyVizError

SANDBOX_MODES = ("require", "off")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _raw(name: str) -> str:
    return os.environ.get(name, "").strip()


def _number(name: str, default, kind=float):
    """The setting as a number (`kind` int or float); unset or empty gives `default`."""
    raw = _raw(name)
    if not raw:
        return default
    try:
        return kind(float(raw)) if kind is int else kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise AnyVizError(f"{name}={raw!r} is not {what}: set it to e.g. {default} "
                          f"(or unset it for the default, {default}).") from None


def max_points(value=None) -> int:
    """Points per trace above which a chart is reduced (`value` overrides the environment)."""
    chosen = _number("ANYVIZ_MAX_POINTS", 4000, int) if value is None else int(value)
    return max(16, chosen)


def reduce_rows(value=None) -> int:
    """Frame rows above which every chart is checked for reduction."""
    chosen = _number("ANYVIZ_REDUCE_ROWS", 50_000, int) if value is None else int(value)
    return max(0, chosen)


def point_limits(max_points_=None, reduce_rows_=None) -> tuple[int, int]:
    """(max_points, reduce_rows), each from its argument when given, else the environment."""
    return max_points(max_points_), reduce_rows(reduce_rows_)


def guard_timeout_s() -> float:
    return _number("ANYVIZ_GUARD_TIMEOUT_S", 10.0)


def guard_memory_mb() -> int:
    return _number("ANYVIZ_GUARD_MEMORY_MB", 4096, int)


def sandbox_mode() -> str:
    """ANYVIZ_SANDBOX: `require` (default) runs LLM code only when Landlock, a network
    namespace and seccomp are all active in the chart process; `off` runs it with whatever
    layers this machine has. Planner code (built here, not by an LLM) runs either way."""
    mode = _raw("ANYVIZ_SANDBOX").lower() or "require"
    if mode not in SANDBOX_MODES:
        raise AnyVizError(f"ANYVIZ_SANDBOX={mode!r} is not a setting: use `require` (the "
                          f"default) or `off`.")
    return mode


def worker_python() -> str | None:
    """ANYVIZ_PYTHON: the interpreter for the chart worker, if set."""
    return _raw("ANYVIZ_PYTHON") or None


def shm_dir() -> str:
    return os.environ.get("ANYVIZ_SHM_DIR", "/dev/shm")


STATIC_ENV = "ANYVIZ_STATIC"


def static_png() -> bool | None:
    """ANYVIZ_STATIC: True (attach a PNG to every chart), False (off), None (not understood)."""
    raw = _raw(STATIC_ENV).lower()
    if raw in _TRUE:
        return True
    return False if raw in _FALSE else None


def low_memory_fraction() -> float:
    """Part of the free memory above which a CSV is streamed (0 turns streaming off)."""
    return _number("ANYVIZ_LOW_MEMORY_FRACTION", 0.2)


def max_download_mb() -> float:
    return max(1.0, _number("ANYVIZ_MAX_DOWNLOAD_MB", 1024.0))


def simulated_missing_layers() -> set:
    """ANYVIZ_SANDBOX_SIMULATE_MISSING (tests): sandbox layers to act as if this machine lacked."""
    raw = os.environ.get("ANYVIZ_SANDBOX_SIMULATE_MISSING", "")
    return {part.strip().lower() for part in raw.split(",") if part.strip()}
