"""`%profile`: per-column and frame-level facts about a DataFrame, fast on millions of rows.

Speed comes from never sorting a big column and doing each pass once, vectorised:
- integers (and dates/whole-number floats on a regular step) are counted with np.bincount:
  exact distinct counts and top values in one pass;
- other numbers under APPROX_MIN values are sorted once (everything exact); from APPROX_MIN up,
  quantiles are still exact (a fine histogram locates the buckets holding the wanted ranks and
  only those few values are partitioned), the histogram comes from the same fine histogram,
  and the distinct count is *estimated* by linear counting (`distinct_approx: true`, shown
  as "distinct ≈N (estimated)"); top values are the ones repeating in a sample, counted exactly;
- text: one pyarrow dictionary encoding gives distinct, counts, top values and row codes.
Row duplicates use one combined 64-bit row hash, skipped when a column is unique on every row.
Correlations over more than CORR_SAMPLE rows use a fixed random sample (said in the output).
Columns are profiled on a small thread pool (numpy/pyarrow release the GIL), text first.

The same facts dict feeds the JSON, HTML (static, inline SVG, no JavaScript) and text outputs
(rendered in anyviz.data.profile_render).
"""
from __future__ import annotations

import math
import re
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..columns import kind as column_kind

TOP_N = 5
BINS = 20
CORR_SAMPLE = 100_000  # r to about ±0.003 (shown to 2 decimals), half the cost of 200k
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _f(x):
    """A JSON-safe float (None for NaN/inf) rounded for display stability."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _py(v):
    """A JSON-safe scalar for a top value."""
    if v is None:
        return None
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float):
        return _f(v)
    if isinstance(v, (str, int, bool)):
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _arrow(s: pd.Series):
    """The column as an Arrow array (zero-copy for Arrow-backed and numpy numeric data)."""
    try:
        return pa.array(s.array) if hasattr(s.array, "__arrow_array__") else \
            pa.array(s.to_numpy(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.array(s.astype(str).where(s.notna(), None), from_pandas=True)


def _top_from_counts(counts: np.ndarray) -> np.ndarray:
    """Indices of the TOP_N largest counts, largest first (argpartition: no full sort)."""
    k = min(TOP_N, len(counts))
    if k == 0:
        return np.array([], dtype=np.int64)
    idx = np.argpartition(-counts, k - 1)[:k] if len(counts) > k else np.arange(len(counts))
    return idx[np.argsort(-counts[idx], kind="stable")]


def _mix_inplace(x: np.ndarray) -> None:
    """_mix without temporaries beyond one shift (used on the per-row hash, once per column)."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads codes so row hashes combine without structure."""
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class _Col:
    """Per-column results shared by the stats and the duplicate-row hash."""

    def __init__(self):
        self.distinct = 0
        self.top: list = []
        self.top_counts = np.array([], dtype=np.int64)
        self.codes: np.ndarray | None = None  # uint64 per row, equal values -> equal codes
        self.sample: list = []                # some distinct values (text type checks)


def _sorted_summary(srt: np.ndarray, out: _Col) -> None:
    """Distinct count and top values from a sorted array (run lengths), no hashing."""
    if srt.size == 0:
        return
    starts = np.flatnonzero(np.concatenate(([True], srt[1:] != srt[:-1])))
    lengths = np.diff(np.append(starts, srt.size))
    out.distinct = int(starts.size)
    idx = _top_from_counts(lengths)
    out.top, out.top_counts = srt[starts[idx]].tolist(), lengths[idx]


def _string_hashes(arr: pa.Array, max_words: int = 8) -> np.ndarray | None:
    """A 64-bit hash of every string, read straight from the Arrow buffers 8 bytes at a time
    (one vectorised gather per 8 bytes of the longest string); None for longer strings, where
    dictionary encoding is cheaper. Nulls hash like the empty string: mask them separately."""
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    off_t = np.dtype(np.int64 if pa.types.is_large_string(arr.type) else np.int32)
    bufs, n = arr.buffers(), len(arr)
    offsets = np.frombuffer(bufs[1], dtype=off_t, count=n + 1, offset=arr.offset * off_t.itemsize)
    starts = offsets[:-1].astype(np.int64)
    lens = np.diff(offsets).astype(np.int64)
    maxlen = int(lens.max()) if n else 0
    if maxlen > 8 * max_words:
        return None
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    pad = np.zeros(data.size + 8, dtype=np.uint8)  # 8-byte loads at the last string stay in bounds
    pad[:data.size] = data
    words = np.ndarray(shape=(data.size + 1,), dtype="<u8", buffer=pad, strides=(1,))  # unaligned
    h = lens.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for j in range(0, maxlen, 8):
        w = words[starts + j]
        rem = lens - j
        if (rem < 8).any():  # keep only the string's own bytes of this word
            bits = (np.clip(rem, 0, 8) * 8).astype(np.uint64)
            w &= np.where(bits >= 64, np.uint64(0xFFFFFFFFFFFFFFFF),
                          (np.uint64(1) << np.minimum(bits, np.uint64(63))) - np.uint64(1))
        h ^= w
        _mix_inplace(h)
    return h


def _hashed_text_summary(arr: pa.Array, info: dict, out: _Col) -> bool:
    """High-cardinality text on APPROX_MIN+ rows without a hash table over all values: per-row
    string hashes give the distinct estimate (exact when every value looks unique, to confirm
    an ID), duplicate-row codes, and exact counts of the values that repeat in a sample."""
    if len(arr) < APPROX_MIN:
        return False
    sample = arr.take(pa.array(np.arange(0, len(arr), max(1, len(arr) // 20_000))))
    if len(pc.unique(sample.drop_null())) < 0.5 * max(1, len(sample) - sample.null_count):
        return False  # few distinct values: dictionary encoding is cheap and exact
    h = _string_hashes(arr)
    if h is None:
        return False
    valid = None
    if arr.null_count:
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
        h[~valid] = np.uint64(0x5BD1E995)  # one code for every null
    present = h if valid is None else h[valid]
    est = _approx_distinct(present)
    if est >= 0.99 * present.size:  # maybe an ID: confirm exactly (64-bit hashes)
        out.distinct = int(pd.Index(present).nunique())
    else:
        out.distinct = est
        info["distinct_approx"] = True
    vc = pc.value_counts(sample.drop_null())
    cnt = vc.field("counts").to_numpy()
    cand = vc.field("values").filter(pa.array(cnt > 1))
    if len(cand):
        cand = cand.take(pa.array(np.argsort(-cnt[cnt > 1], kind="stable")[: 2 * TOP_N]))
        exact = np.array([np.count_nonzero(present == c) for c in _string_hashes(cand.cast(arr.type))])
        idx = _top_from_counts(exact)
        out.top, out.top_counts = cand.take(pa.array(idx)).to_pylist(), exact[idx]
    out.codes = h
    out.sample = pc.unique(sample.drop_null()).slice(0, 500).to_pylist()
    return True


def _text_summary(s: pd.Series, out: _Col, info: dict) -> pa.Array:
    """One dictionary encoding gives distinct values, counts, top values and row codes
    (big high-cardinality columns: hashed instead, see _hashed_text_summary)."""
    arr = _arrow(s)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if _hashed_text_summary(arr, info, out):
        return arr
    enc = pc.dictionary_encode(arr)
    indices = enc.indices.to_numpy(zero_copy_only=False)
    if enc.indices.null_count:
        indices = np.where(np.isnan(indices), -1, indices).astype(np.int64) \
            if indices.dtype.kind == "f" else indices
    indices = np.asarray(indices, dtype=np.int64)
    counts = np.bincount(indices[indices >= 0], minlength=len(enc.dictionary))
    out.distinct = int((counts > 0).sum())
    idx = _top_from_counts(counts)
    out.top, out.top_counts = enc.dictionary.take(pa.array(idx)).to_pylist(), counts[idx]
    out.codes = indices.astype(np.uint64)
    out.sample = enc.dictionary.slice(0, 500).to_pylist()
    return arr


def _quantiles_sorted(srt: np.ndarray) -> list:
    """Linear-interpolated quantiles (numpy/pandas default) read off a sorted array."""
    pos = np.asarray(QUANTILES) * (srt.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, srt.size - 1)
    frac = pos - lo
    return (srt[lo] + (srt[hi] - srt[lo]) * frac).tolist()


APPROX_MIN = 200_000  # columns with at least this many values may get an estimated distinct count
FINE_BINS = 4000      # fine histogram used to locate quantiles without sorting


def _int_summary(vals: np.ndarray, out: _Col) -> bool:
    """Exact distinct count and top values of integers by counting (np.bincount), no sort.

    Works when the values span a range not much larger than their count, directly or on a
    regular step (dates at midnight, prices in whole cents): the step is the gcd of a small
    strided sample, verified on every value. Returns False when counting would need too much
    memory; the caller then sorts or estimates.
    """
    n = vals.size
    lo, hi = int(vals.min()), int(vals.max())
    span, limit = hi - lo, 2 * n + 1024
    step = 1
    if span > limit:
        if span >= 2 ** 62:
            return False
        shifted = vals - lo
        step = int(np.gcd.reduce(shifted[:: max(1, n // 4096)]))
        if step <= 1 or span // step > limit or np.any(shifted % step):
            return False
        codes = shifted // step
    else:
        codes = vals - lo
    counts = np.bincount(codes.astype(np.intp, copy=False), minlength=span // step + 1)
    out.distinct = int(np.count_nonzero(counts))
    idx = _top_from_counts(counts)
    idx = idx[counts[idx] > 0]
    out.top, out.top_counts = (lo + idx.astype(np.int64) * step).tolist(), counts[idx]
    return True


def _approx_distinct(bits: np.ndarray) -> int:
    """Distinct 64-bit keys estimated by linear counting on a bitmap of ≥ 2 slots per key
    (capped at 2^24): standard error ~0.06% at 1M keys, ~0.02% at 10M; one pass, no sort.
    The bitmap stays small (cache-resident) because random writes dominate the cost."""
    n = bits.size
    m_log = int(min(24, max(16, math.ceil(math.log2(2 * n)))))
    m = 1 << m_log
    # Fold the high half in first: floats with short mantissas (halves, quarters) have all-zero
    # low bits, and multiply-xorshift-multiply alone over-counted them by 7%; one multiply
    # alone collides on decimal-rounded floats (-16% at 2 decimals).
    h = bits >> np.uint64(32)
    h ^= bits
    h *= np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h >>= np.uint64(64 - m_log)
    bitmap = np.zeros(m, dtype=bool)
    bitmap[h.view(np.int64)] = True  # < 2**24 fits: index without a converted copy
    empty = m - int(np.count_nonzero(bitmap))
    est = n if empty == 0 else round(-m * math.log(empty / m))
    return int(min(n, max(1, est)))


def _sampled_top(v: np.ndarray, out: _Col) -> None:
    """Top values of a huge high-cardinality column: values that repeat in a strided sample of
    ~20k, then counted exactly on every row (each is one vectorised comparison)."""
    sample = v[:: max(1, v.size // 20_000)]
    vals, cnt = np.unique(sample, return_counts=True)
    cand = vals[cnt > 1]
    if cand.size == 0:
        return
    cand = cand[np.argsort(-cnt[cnt > 1], kind="stable")[: 2 * TOP_N]]
    exact = np.array([np.count_nonzero(v == c) for c in cand])
    idx = _top_from_counts(exact)
    out.top, out.top_counts = cand[idx].tolist(), exact[idx]


def _fine_buckets(v: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Bucket of each value on FINE_BINS equal-width buckets over [lo, hi], and their counts.
    The mapping is monotone, so every value of a lower bucket is smaller than any higher one."""
    b = ((v - lo) * (FINE_BINS / (hi - lo))).astype(np.intp)
    np.minimum(b, FINE_BINS - 1, out=b)
    return b, np.bincount(b, minlength=FINE_BINS)


def _order_stats(v: np.ndarray, ranks: np.ndarray, b=None, fine=None, depth: int = 0) -> np.ndarray:
    """The values of the given (sorted, unique) ranks of `v`, as if sorted, without sorting:
    keep only the buckets holding a wanted rank and recurse on those few values (skewed data
    whose ranks share one crowded bucket is simply split again), then partition a small rest."""
    if v.size <= 65_536 or depth >= 4:
        return np.partition(v, ranks)[ranks]
    if b is None:
        lo, hi = float(v.min()), float(v.max())
        if hi <= lo:
            return np.full(ranks.size, lo)
        b, fine = _fine_buckets(v, lo, hi)
    cum = np.cumsum(fine)
    k = np.searchsorted(cum, ranks, side="right")  # bucket of each rank
    buckets = np.unique(k)
    wanted = np.zeros(FINE_BINS, dtype=bool)
    wanted[buckets] = True
    sub = v[wanted[b]]
    start = np.cumsum(fine[buckets]) - fine[buckets]  # where each kept bucket begins in sub's order
    sub_ranks = ranks - (cum[k] - fine[k]) + start[np.searchsorted(buckets, k)]
    return _order_stats(sub, sub_ranks, depth=depth + 1)


def _quantiles_fine(v: np.ndarray, lo: float, hi: float) -> tuple[list, np.ndarray]:
    """Exact linear-interpolated quantiles (numpy/pandas default) and the BINS-bin histogram
    from one fine histogram, no full sort (see _order_stats)."""
    n = v.size
    b, fine = _fine_buckets(v, lo, hi)
    pos = np.asarray(QUANTILES) * (n - 1)
    lo_r = np.floor(pos).astype(np.int64)
    ranks = np.unique(np.concatenate((lo_r, np.minimum(lo_r + 1, n - 1))))
    at = dict(zip(ranks.tolist(), _order_stats(v, ranks, b, fine).tolist()))
    qs = [at[a] + (at[min(a + 1, n - 1)] - at[a]) * f for a, f in zip(lo_r.tolist(), pos - lo_r)]
    coarse = fine.reshape(BINS, FINE_BINS // BINS).sum(axis=1)
    return qs, coarse


def _numeric_stats(s: pd.Series, info: dict, out: _Col) -> None:
    """Min/max, moments, quantiles, histogram, distinct and top values of a numeric column.

    Integers of a modest range are counted exactly with np.bincount. Small columns are sorted
    once (exact everything). Columns of APPROX_MIN values or more are never sorted: quantiles
    come from a fine histogram plus a partition of a few buckets (still exact), and the
    distinct count of high-cardinality floats is estimated (`distinct_approx` in the facts).
    """
    raw = s.to_numpy(dtype="float64", na_value=np.nan)
    out.codes = raw.view(np.uint64)  # raw bits: equal values -> equal codes (mixed when combined)
    nan = np.isnan(raw)
    v = raw[~nan] if nan.any() else raw
    if v.size == 0:
        return
    ints = pd.api.types.is_integer_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
    ivals = (s.dropna() if v.size != raw.size else s).to_numpy(dtype="int64") if ints else None
    counted = _int_summary(ivals, out) if ints else False
    finite_mask = np.isfinite(v)
    finite = v if finite_mask.all() else v[finite_mask]
    if v.size < APPROX_MIN:
        srt = np.sort(ivals) if ints else np.sort(v)
        if not counted:
            _sorted_summary(srt, out)
        srt = srt.astype("float64") if ints else srt[np.isfinite(srt)]
        if srt.size == 0:
            return
        lo, hi = float(srt[0]), float(srt[-1])
        edges = np.linspace(lo, hi, BINS + 1) if hi > lo else np.linspace(lo - 0.5, lo + 0.5, BINS + 1)
        cuts = np.searchsorted(srt, edges[1:-1], side="left")  # sorted: bins by binary search
        counts = np.diff(np.concatenate(([0], cuts, [srt.size])))
        qs = _quantiles_sorted(srt)
    else:
        if not counted and not ints and finite.size == v.size and \
                np.abs(finite).max() < 2.0 ** 53 and np.array_equal(finite, np.floor(finite)):
            counted = _int_summary(finite.astype(np.int64), out)  # whole numbers stored as float
        if not counted:
            out.distinct = _approx_distinct((v + 0.0).view(np.uint64))  # +0.0: -0.0 == 0.0
            if ints and out.distinct >= 0.99 * v.size:  # maybe an ID: worth one exact sort
                _sorted_summary(np.sort(ivals), out)
            else:
                info["distinct_approx"] = True
                _sampled_top(v, out)
        if finite.size == 0:
            return
        lo, hi = float(finite.min()), float(finite.max())
        if hi > lo:
            edges = np.linspace(lo, hi, BINS + 1)
            qs, counts = _quantiles_fine(finite, lo, hi)
        else:
            edges = np.linspace(lo - 0.5, lo + 0.5, BINS + 1)
            qs, counts = [lo] * len(QUANTILES), np.zeros(BINS, dtype=np.int64)
            counts[BINS // 2] = finite.size
    n = finite.size
    mean = float(finite.mean())
    d = finite - mean
    m2 = float(np.einsum("i,i->", d, d))  # einsum, not np.dot: no BLAS threads to wake
    std = math.sqrt(m2 / (n - 1)) if n > 1 else None
    skew = None
    if n > 2 and m2 > 0:
        m3 = float(np.einsum("i,i,i->", d, d, d))
        g1 = (m3 / n) / (m2 / n) ** 1.5
        skew = g1 * math.sqrt(n * (n - 1)) / (n - 2)  # pandas' adjusted Fisher-Pearson
    info.update(min=_f(lo), max=_f(hi), mean=_f(mean), std=_f(std), skew=_f(skew),
                quantiles={f"{int(q * 100)}%": _f(x) for q, x in zip(QUANTILES, qs)},
                zeros=int(np.count_nonzero(finite == 0)), negatives=int(np.count_nonzero(finite < 0)),
                histogram={"counts": np.asarray(counts).tolist(), "edges": [_f(e) for e in edges]})


def _datetime_stats(s: pd.Series, info: dict, out: _Col) -> None:
    naive = s.dt.tz_convert(None) if getattr(s.dt, "tz", None) is not None else s
    raw = naive.to_numpy().view("int64")
    out.codes = raw.view(np.uint64)
    nat = raw == np.iinfo(np.int64).min
    ints = raw[~nat] if nat.any() else raw
    if ints.size == 0:
        return
    unit = np.datetime_data(naive.dtype)[0]
    lo, hi = int(ints.min()), int(ints.max())
    edges = np.linspace(lo, hi, BINS + 1) if hi > lo else np.linspace(lo - 1, lo + 1, BINS + 1)
    if ints.size < APPROX_MIN:
        srt = np.sort(ints)
        _sorted_summary(srt, out)
        cuts = np.searchsorted(srt, edges[1:-1], side="left")
        counts = np.diff(np.concatenate(([0], cuts, [srt.size])))
    else:  # counted exactly on a regular step (daily data), else estimated; never sorted
        if not _int_summary(ints, out):
            out.distinct = _approx_distinct(ints.view(np.uint64))
            info["distinct_approx"] = True
            _sampled_top(ints, out)
        counts = np.zeros(BINS, dtype=np.int64)
        if hi > lo:
            b = ((ints - lo).astype(np.float64) * (BINS / (hi - lo))).astype(np.intp)
            counts = np.bincount(np.minimum(b, BINS - 1), minlength=BINS)
        else:
            counts[BINS // 2] = ints.size
    to_ts = lambda x: pd.Timestamp(np.datetime64(int(x), unit)).isoformat()  # noqa: E731
    out.top = [to_ts(x) for x in out.top]
    span = pd.Timedelta(np.timedelta64(hi - lo, unit))
    info.update(min=to_ts(lo), max=to_ts(hi), range_days=_f(span / pd.Timedelta(days=1)),
                histogram={"counts": np.asarray(counts).tolist()})


def _text_stats(arr, info: dict) -> None:
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return
    lengths = pc.utf8_length(arr)
    mm = pc.min_max(lengths).as_py()
    info.update(length_min=mm["min"], length_max=mm["max"], length_mean=_f(pc.mean(lengths).as_py()))


_DATE_RE = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
                      r"([ T]\d{1,2}:\d{2}(:\d{2})?)?")


def _text_type_alerts(top_sample: list) -> str | None:
    """'numbers' / 'dates' when ≥95% of a sample of distinct text values parse as such."""
    sample = [v for v in top_sample if isinstance(v, str) and v.strip()]
    if len(sample) < 3:
        return None
    nums = pd.to_numeric(pd.Series(sample, dtype=object).str.replace(",", "", regex=False),
                         errors="coerce")
    if nums.notna().mean() >= 0.95:
        return "numbers"
    if sum(bool(_DATE_RE.match(v)) for v in sample) / len(sample) >= 0.95:
        return "dates"
    return None


_ID_WORDS = {"id", "ids", "key", "pk", "code", "uuid", "guid", "sku", "ref", "identifier"}


def _name_says_id(name: str) -> bool:
    """order_id, OrderID, userId, customer key, UUID, zip_code ... (a word of the name)."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return any(w.lower() in _ID_WORDS for w in words)


#: Below this many rows, text that never repeats is too weak a sign of an ID (16 bacteria
#: names, 63 first names); a name or a monotonic sequence still counts.
ID_TEXT_MIN_ROWS = 100


def _looks_like_id(col: str, s: pd.Series, kind: str, distinct: int, count: int, rows: int,
                   info: dict, stored: str | None = None) -> bool:
    """Unique on every row AND shaped like an identifier: an ID-like name, a monotonic integer
    sequence that is not a run of years (row numbers, auto-increment keys), or text with one
    value per row that is not dates or numbers stored as text. A unique measurement (a
    population, a price) is not an ID."""
    if not (distinct == count == rows and rows >= 10 and not info.get("distinct_approx")):
        return False
    if kind not in ("numeric", "text", "categorical"):
        return False
    if _name_says_id(col):
        info["id_reason"] = "its name says so"
    elif kind == "numeric" and pd.api.types.is_integer_dtype(s.dtype) and \
            not info.get("year_like") and \
            (s.is_monotonic_increasing or s.is_monotonic_decreasing):
        info["id_reason"] = "a monotonic integer sequence"
    elif kind == "text" and stored is None and rows >= ID_TEXT_MIN_ROWS:
        info["id_reason"] = "text with a different value on every row"
    else:
        return False
    return True


def _year_like(col: str, s: pd.Series, info: dict) -> bool:
    """Whole numbers between 1000 and 2999 in a column named like a year, or with few
    distinct values: shown as 2007, not 2,007."""
    lo, hi = info.get("min"), info.get("max")
    if lo is None or hi is None or not (1000 <= lo and hi <= 2999):
        return False
    whole = pd.api.types.is_integer_dtype(s.dtype) or all(
        float(x) == round(x) for x in (lo, hi) + tuple((info.get("quantiles") or {}).values())
        if x is not None)
    named = bool(re.search(r"year|yr|jahr|année|anno|año", col, re.I))
    return whole and (named or info.get("distinct", 10**9) <= 300)


def _column(name, s: pd.Series, rows: int, alerts: list, codes: list) -> dict:
    kind = column_kind(s)
    missing = int(s.isna().sum())
    count = rows - missing
    info = {"name": str(name), "kind": kind, "dtype": str(s.dtype), "count": count,
            "missing": missing, "missing_pct": _f(100.0 * missing / rows) if rows else 0.0}
    out = _Col()
    if kind == "numeric":
        _numeric_stats(s, info, out)
    elif kind == "datetime":
        _datetime_stats(s, info, out)
    elif kind == "boolean":
        b = s.to_numpy(dtype="float64", na_value=np.nan)
        out.codes = b.view(np.uint64)
        t, f = int(np.count_nonzero(b == 1)), int(np.count_nonzero(b == 0))
        pairs = sorted([(True, t), (False, f)], key=lambda p: -p[1])
        pairs = [p for p in pairs if p[1]]
        out.distinct, out.top = len(pairs), [p[0] for p in pairs]
        out.top_counts = np.array([p[1] for p in pairs])
    elif kind == "categorical":
        vc = s.value_counts(dropna=True)
        vc = vc[vc > 0]
        out.distinct, out.top, out.top_counts = int(len(vc)), list(vc.index[:TOP_N]), vc.to_numpy()[:TOP_N]
        out.codes = s.cat.codes.to_numpy().astype(np.int64).astype(np.uint64)
        out.sample = [str(x) for x in vc.index[:500]]
    else:
        arr = _text_summary(s, out, info)
        _text_stats(arr, info)
    codes.append(out.codes)
    distinct, top, top_counts = out.distinct, out.top, out.top_counts
    info["distinct"] = distinct
    info["distinct_pct"] = _f(100.0 * distinct / count) if count else 0.0
    info["top"] = [{"value": _py(v), "count": int(c)} for v, c in zip(top, top_counts)]

    col = str(name)
    if kind == "numeric" and pd.api.types.is_integer_dtype(s.dtype):
        info["integer"] = True
    if kind == "numeric" and _year_like(col, s, info):
        info["year_like"] = True
    stored = _text_type_alerts(out.sample) if kind == "text" and count else None

    def alert(kind_, message):
        alerts.append({"column": col, "kind": kind_, "message": message})

    if count and missing / rows > 0.5:
        alert("mostly_missing", f"{col} is {100 * missing / rows:.0f}% missing")
    if count == 0:
        alert("empty", f"{col} has no values")
    elif distinct == 1:
        alert("constant", f"{col} has a single value ({_py(top[0])!r})")
    elif _looks_like_id(col, s, kind, distinct, count, rows, info, stored):
        info["likely_id"] = True
        alert("likely_id", f"{col} is unique on every row and {info['id_reason']}: likely an ID")
    elif kind in ("text", "categorical") and distinct > 50 and distinct / count > 0.5:
        alert("high_cardinality", f"{col} has {distinct:,} distinct values "
                                  f"({100 * distinct / count:.0f}% of rows)")
    if kind == "numeric" and info.get("skew") is not None and abs(info["skew"]) > 2:
        alert("skewed", f"{col} is heavily skewed (skew {info['skew']:.1f})")
    if stored:
        alert(f"{stored}_as_text", f"{col} holds {stored} stored as text; convert it "
                                   f"(pd.to_{'numeric' if stored == 'numbers' else 'datetime'})")
    return info


def _duplicate_rows(codes: list, rows: int, unique_column: bool = False) -> int:
    """Duplicate rows from per-column value codes combined into one 64-bit hash per row.

    Codes are exact per column (dictionary indices, raw bits of numbers/dates); combining
    them can collide only with probability ~rows²/2⁶⁴, negligible for any frame that fits.
    A column with a distinct value on every row (an ID) proves there are none: no hashing.
    """
    if not codes or rows < 2 or unique_column:
        return 0
    h = np.full(rows, 0x9E3779B97F4A7C15, dtype=np.uint64)
    for c in codes:
        if c is None:
            return 0
        h *= np.uint64(0x100000001B3)
        h += c
        _mix_inplace(h)
    return int(pd.Index(h).duplicated().sum())


def _correlations(df: pd.DataFrame, cols: list) -> tuple[list, int | None]:
    """Pearson r of every numeric pair (pairwise-complete rows, like DataFrame.corr), from four
    matrix products on column-centred data; frames over CORR_SAMPLE rows use a fixed random
    sample of rows (said in the output)."""
    if len(cols) < 2:
        return [], None
    rows, sampled, take = len(df), None, None
    if rows > CORR_SAMPLE:  # Bernoulli sample: cheap, in row order, ~CORR_SAMPLE rows
        take = np.flatnonzero(np.random.default_rng(0).random(rows) < CORR_SAMPLE / rows)
        sampled = int(take.size)  # (row indices: gathering by index beats a boolean mask 5x)
    mat = np.empty((len(cols), rows if take is None else sampled))  # one row per column
    for i, c in enumerate(cols):
        s = df[c]
        if take is not None and isinstance(s.dtype, np.dtype):  # plain numpy: gather directly
            mat[i] = s.to_numpy()[take]
            continue
        s = s if take is None else s.take(take)  # sample first, then convert
        mat[i] = s.to_numpy(dtype="float64", na_value=np.nan)
    mat[~np.isfinite(mat)] = np.nan
    ok = ~np.isnan(mat)
    with np.errstate(invalid="ignore", divide="ignore"):
        if ok.all():
            corr = np.corrcoef(mat)
        else:
            k = len(cols)
            okf = ok.astype("float64")
            x = np.where(ok, mat, 0.0)
            x -= (x.sum(axis=1) / okf.sum(axis=1))[:, None] * okf  # centre: well-conditioned sums
            # per pair (i, j), over rows where j has a value (x is 0 where i is missing): Σx_i,
            # Σx_i² and how many rows both have. For a complete column j these are column i's
            # plain totals; only columns with gaps (usually few) need a product over the rows.
            xx = x * x
            sx = np.repeat(x.sum(axis=1)[:, None], k, axis=1)
            sxx = np.repeat(xx.sum(axis=1)[:, None], k, axis=1)
            n = np.repeat(okf.sum(axis=1)[:, None], k, axis=1)
            gaps = np.flatnonzero(~ok.all(axis=1))
            okg = okf[gaps]
            sx[:, gaps], sxx[:, gaps], n[:, gaps] = x @ okg.T, xx @ okg.T, okf @ okg.T
            sxy = x @ x.T
            cov = sxy - sx * sx.T / n
            var_i = sxx - sx * sx / n
            corr = cov / np.sqrt(var_i * var_i.T)
            corr[n < 2] = np.nan
    iu = np.triu_indices(len(cols), 1)
    vals = corr[iu]
    ok = np.isfinite(vals)
    order = np.argsort(-np.abs(np.where(ok, vals, 0)), kind="stable")[:5]
    out = [{"a": str(cols[iu[0][i]]), "b": str(cols[iu[1][i]]), "r": round(float(vals[i]), 4)}
           for i in order if ok[i]]
    return out, sampled


def profile_frame(df: pd.DataFrame, *, name: str = "df", columns: list | None = None) -> dict:
    """All facts about `df` (or the given columns) as a JSON-safe dict."""
    start = time.perf_counter()
    if columns:
        df = df[columns]
    rows = len(df)
    alerts: list = []
    # Columns are independent and numpy/pyarrow release the GIL: use the cores (2 here).
    from concurrent.futures import ThreadPoolExecutor
    import os

    def one(item):
        col_alerts, col_codes = [], []
        info = _column(item[0], item[1], rows, col_alerts, col_codes)
        return info, col_alerts, col_codes

    items = list(df.items())
    # Correlations need only the numeric columns, not their stats: constant ones give no finite
    # r and drop out, so they can run alongside the columns instead of after them.
    num_cols = [c for c, s in items if column_kind(s) == "numeric"] if df.columns.is_unique else []
    workers = min(4, os.cpu_count() or 1, max(1, len(items)))
    if workers > 1 and rows >= 50_000:
        # Text (hashing) is the slowest per column: start it first so the cores finish together.
        order = sorted(range(len(items)), key=lambda i: column_kind(items[i][1]) != "text")
        with ThreadPoolExecutor(workers, thread_name_prefix="anyviz-profile") as pool:
            corr_job = pool.submit(_correlations, df, num_cols)
            done = dict(zip(order, pool.map(one, [items[i] for i in order])))
            corr, sampled = corr_job.result()
        results = [done[i] for i in range(len(items))]
    else:
        results = [one(it) for it in items]
        corr, sampled = _correlations(df, num_cols)
    if not corr:
        sampled = None
    variables, codes = [], []
    for info, col_alerts, col_codes in results:  # in column order
        variables.append(info)
        alerts.extend(col_alerts)
        codes.extend(col_codes)
    dups = _duplicate_rows(codes, rows, any(v["distinct"] == rows and not v.get("distinct_approx")
                                             for v in variables))
    if dups:
        alerts.insert(0, {"column": None, "kind": "duplicates",
                          "message": f"{dups:,} duplicate rows ({100 * dups / rows:.1f}%)"})
    return {
        "name": name, "rows": rows, "columns": int(df.shape[1]),
        "memory_bytes": int(df.memory_usage(index=True, deep=True).sum()),
        "duplicate_rows": dups, "duplicate_pct": _f(100.0 * dups / rows) if rows else 0.0,
        "correlations": corr, "correlation_sample_rows": sampled,
        "alerts": alerts, "variables": variables,
        "seconds": round(time.perf_counter() - start, 3),
    }


# --------------------------------------------------------------------------- rendering
# In anyviz.data.profile_render; re-exported because callers know them from here.
from .profile_render import to_html, to_text  # noqa: E402,F401
