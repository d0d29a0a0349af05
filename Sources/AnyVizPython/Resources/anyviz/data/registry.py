"""Per-frame metadata for the session (source, size, shape, dtypes, memory, load time) and the
relationships detected between frames. `%frames`, `%who` and the `%viz` prompt read it.

The user's namespace is the truth: a frame the user deleted or rebound in a cell is dropped or
re-described here, and DataFrames created in cells are listed too (source "cell"). We keep only
a weak reference to each registered frame, so the registry never keeps data alive.
"""
from __future__ import annotations

import time
import weakref

from .. import session

_entries: dict[str, dict] = {}       # name -> info (without the object)
_refs: dict[str, weakref.ref] = {}   # name -> weak ref to the DataFrame that was registered
_relationships: list[dict] = []


def describe(df, *, source: str, size_bytes: int | None = None,
             load_seconds: float | None = None) -> dict:
    """The facts kept about one frame (cheap: no deep memory scan of object columns)."""
    return {
        "source": source,
        "size_bytes": size_bytes,
        "shape": [int(df.shape[0]), int(df.shape[1])],
        "dtypes": {str(c): str(t) for c, t in df.dtypes.items()},
        "memory_bytes": int(df.memory_usage(index=True, deep=False).sum()),
        "load_seconds": load_seconds,
        "loaded_at": time.time(),
    }


def register(name: str, df, *, source: str, size_bytes: int | None = None,
             load_seconds: float | None = None) -> dict:
    """Remember `df` (already bound to `name` in user_ns) and its facts."""
    info = describe(df, source=source, size_bytes=size_bytes, load_seconds=load_seconds)
    _entries[name] = info
    _refs[name] = weakref.ref(df)
    return info


def forget(name: str) -> None:
    _entries.pop(name, None)
    _refs.pop(name, None)
    _relationships[:] = [r for r in _relationships if name not in (r["left"], r["right"])]


def _sync() -> None:
    """Bring the registry in line with user_ns: drop deleted frames, re-describe rebound ones."""
    present = session.frames()
    for name in list(_entries):
        obj = present.get(name)
        ref = _refs.get(name)
        if obj is None:
            forget(name)
        elif ref is None or ref() is not obj:
            forget(name)
            register(name, obj, source="cell")


def frames() -> dict[str, dict]:
    """name -> info for every DataFrame in the user's namespace (registered or made in a cell)."""
    _sync()
    out = {}
    for name, obj in session.frames().items():
        info = _entries.get(name)
        if info is None:
            info = describe(obj, source="cell")
        else:  # shape/dtypes may have changed in place (df["x"] = ...)
            info = dict(info, shape=[int(obj.shape[0]), int(obj.shape[1])],
                        dtypes={str(c): str(t) for c, t in obj.dtypes.items()})
        out[name] = info
    return out


def frame_names() -> list[str]:
    return list(frames())


def relationships() -> list[dict]:
    """Detected join keys between frames still present (see relationships.detect)."""
    _sync()
    return [dict(r) for r in _relationships]


def set_relationships(found: list[dict]) -> None:
    _relationships[:] = [dict(r) for r in found]


def clear() -> None:
    """Forget everything (tests, and a kernel restart)."""
    _entries.clear()
    _refs.clear()
    _relationships.clear()
