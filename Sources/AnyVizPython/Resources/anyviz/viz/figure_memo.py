"""Figures this kernel's sandbox drew for LLM answers, so a cache hit can show its chart again
without running the same code on the same data in the sandbox again.

An entry is keyed by the request's cache key, the code and an exact hash of the data (every
row, not the sampled fingerprint), so a changed frame or a different answer is a miss. It only
holds results the sandbox produced in this process (never anything read from the disk or Redis
cache, which stays code that is re-run), only for charts of `df` alone and frames small enough
to hash exactly, and at most `LIMIT` of them.
"""
from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict

import pandas as pd

#: Most figures kept (least recently shown dropped first).
LIMIT = 16
#: Largest frame hashed exactly (about 10 ms at this size); larger frames are always re-run.
MAX_ROWS = 200_000


class FigureMemo:
    def __init__(self, limit: int = LIMIT, max_rows: int = MAX_ROWS):
        self.limit, self.max_rows = limit, max_rows
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def slot(self, key: str | None, code: str, frames: dict,
             key_covers_data: bool = False) -> tuple | None:
        """Where the result of `code` on `frames` is kept, or None when it must not be.
        `key_covers_data`: the key already holds a hash of every row (a small frame's
        fingerprint), so the data is not hashed a second time."""
        df = frames.get("df")
        if not key or set(frames) != {"df"} or df is None or len(df) > self.max_rows:
            return None
        code_digest = hashlib.sha256(code.encode()).hexdigest()
        if key_covers_data:
            return key, code_digest, ""
        try:
            data = pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes()
        except (TypeError, ValueError):  # unhashable cells (lists, dicts): always re-run
            return None
        digest = hashlib.sha256(data)
        digest.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
        return key, code_digest, digest.hexdigest()

    def get(self, slot):
        """A copy of the kept result (the output path may change the figure it is given)."""
        with self._lock:
            result = self._entries.get(slot)
            if result is None:
                return None
            self._entries.move_to_end(slot)
        return copy.deepcopy(result)

    def put(self, slot, result) -> None:
        if getattr(result, "status", None) != "ok":
            return
        with self._lock:
            self._entries[slot] = copy.deepcopy(result)
            self._entries.move_to_end(slot)
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


memo = FigureMemo()
