"""Large frames reach the chart worker through shared memory instead of a pipe.

Pickling a 10M-row frame, pushing it through a pipe and unpickling it cost ~0.6 s of a first
render; one sequential write of its numpy columns to a tmpfs file (/dev/shm) costs ~60 ms, and
the worker maps the file copy-on-write (MAP_PRIVATE), so its frame is zero-copy and a chart
child writing to `df` changes only its own pages. The kernel side writes (pack_frame), the
worker side reads (frame_from_shm); other columns travel pickled alongside.
"""
from __future__ import annotations

import os

from .. import settings


#: Frames at least this big (bytes of plain numpy columns) go through shared memory.
SHM_MIN_BYTES = 1 << 20


def shm_dir() -> str | None:
    d = settings.shm_dir()
    return d if os.path.isdir(d) and os.access(d, os.W_OK) else None


def _plain_numpy(s) -> bool:
    """A column whose values are one contiguous numpy buffer (numbers, bools, naive dates)."""
    import numpy as np

    return isinstance(s.dtype, np.dtype) and s.dtype.kind in "biufmM"


def remove_stale_frames() -> None:
    """Delete frame files left on /dev/shm by a kernel that died between writing and unlinking
    one (the name carries the writer's pid), so a crash cannot pin hundreds of MB of RAM."""
    directory = shm_dir()
    if directory is None:
        return
    import glob

    for path in glob.glob(os.path.join(directory, "anyviz-frame-*-*")):
        try:
            pid = int(os.path.basename(path).split("-")[2])
            os.kill(pid, 0)
        except ProcessLookupError:
            try:
                os.unlink(path)
            except OSError:
                pass
        except (ValueError, IndexError, PermissionError, OSError):
            continue


def pack_frame(df):
    """Write a frame's numpy columns (and numpy index) into one file on tmpfs for the worker.

    Returns (path, pickled layout) or None to fall back to pickling the whole frame (small
    frames, duplicate column names, no /dev/shm or too little room in it). Why: pickling a
    10M-row frame, pushing it through a pipe and unpickling it cost ~0.6 s of a first render;
    one sequential write to tmpfs costs ~60 ms, and the worker maps the file copy-on-write
    (MAP_PRIVATE), so its frame is zero-copy and a chart child writing to `df` changes only
    its own pages. Other columns (text, categories, tz-aware dates) travel pickled alongside.
    """
    import pickle

    import numpy as np
    import pandas as pd

    directory = shm_dir()
    if directory is None or not df.columns.is_unique:
        return None
    plain = [i for i in range(df.shape[1]) if _plain_numpy(df.iloc[:, i])]
    index_plain = not isinstance(df.index, (pd.RangeIndex, pd.MultiIndex)) and \
        isinstance(df.index.dtype, np.dtype) and df.index.dtype.kind in "biufmM"
    arrays = [(i, np.ascontiguousarray(df.iloc[:, i].to_numpy())) for i in plain]
    if index_plain:
        arrays.append(("index", np.ascontiguousarray(df.index.to_numpy())))
    total = sum(a.nbytes for _, a in arrays)
    if total < SHM_MIN_BYTES:
        return None
    try:
        st = os.statvfs(directory)
        if st.f_bavail * st.f_frsize < total * 1.2 + (64 << 20):  # e.g. Docker's 64 MB /dev/shm
            return None
    except OSError:
        return None
    layout, offset = [], 0
    path = os.path.join(directory, f"anyviz-frame-{os.getpid()}-{os.urandom(6).hex()}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return None
    try:
        for pos, a in arrays:
            layout.append((pos, a.dtype.str, offset, len(a)))
            view = memoryview(a.view(np.uint8) if a.dtype.kind in "mM" else a).cast("B")
            while view:
                view = view[os.write(fd, view[: 1 << 26]):]
            offset += a.nbytes
    except OSError:  # ENOSPC and friends: the pipe still works
        os.close(fd)
        os.unlink(path)
        return None
    os.close(fd)
    rest = {i: df.iloc[:, i].array for i in range(df.shape[1]) if i not in set(plain)}
    meta = {"columns": df.columns, "layout": layout, "rest": rest, "attrs": dict(df.attrs),
            "index": None if index_plain else df.index, "index_name": df.index.name,
            "rows": len(df)}
    return path, pickle.dumps(meta, protocol=5)


def frame_from_shm(path: str, meta: dict):
    """Rebuild a frame written by pack_frame: numpy columns are views of a private
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
