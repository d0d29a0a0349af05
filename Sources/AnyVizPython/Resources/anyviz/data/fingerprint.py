"""One sampled fingerprint of a frame's content, for the LLM answer cache and the chart worker's
frame cache.

Hashing every row of a 10-million-row frame costs seconds; the schema, the shape and a hash of
a few thousand rows (the first and last 64 and an even spread between) cost milliseconds and
change whenever the data a chart would show changes in practice.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

#: Rows hashed from the middle of a large frame (plus the first and last EDGE_ROWS).
SAMPLE_ROWS = 4096
EDGE_ROWS = 64


def sample_positions(n: int, k: int = SAMPLE_ROWS) -> np.ndarray:
    """Sorted row positions: all rows up to `k`, else the edges and `k` evenly spread rows."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.concatenate([np.arange(EDGE_ROWS), np.arange(n - EDGE_ROWS, n),
                                     np.linspace(0, n - 1, k).astype(np.int64)]))


def fingerprint(df: pd.DataFrame) -> str:
    """Hex digest of column names and dtypes, shape and the sampled rows; stable across runs
    and processes (no object ids), so it can key a persistent cache."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    h.update(repr(df.shape).encode())
    pos = sample_positions(len(df))
    if len(pos):
        try:
            h.update(pd.util.hash_pandas_object(df.iloc[pos], index=True).to_numpy().tobytes())
        except Exception:  # unhashable cells (lists, dicts): their text stands in
            h.update(repr(df.iloc[pos].astype(str).to_numpy().tolist()).encode())
    return h.hexdigest()
