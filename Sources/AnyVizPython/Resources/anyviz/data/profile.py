"""`%profile`: per-column and frame-level facts about a DataFrame, fast on millions of rows.

Every fact is exact, and each column is read in as few vectorised passes as possible:
- integers of a modest range are counted with np.bincount (distinct values and their counts);
  min/max, moments, quantiles, histogram and top values then come from those counts alone;
- other numbers and dates are sorted once (numpy's vectorised sort: ~10 ms a million values,
  cheaper than any pass of hashing or partitioning), then read off the sorted values:
  quantiles at their ranks (numpy's own interpolation), the histogram and zero/negative counts
  by binary search, distinct and top values from run lengths;
- text: one pyarrow dictionary encoding gives distinct values, counts, lengths and row codes;
  big high-cardinality text is hashed (64 bits a string, from the Arrow buffers) and sorted.
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
_BLOCK = 1 << 15  # values per block in block-wise loops: a block's temporaries stay in cache


def _f(x):
    """A JSON-safe float (None for NaN/inf)."""
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
    """The column as an Arrow array (zero-copy for Arrow-backed and numpy numeric data);
    values Arrow cannot hold or count (mixed objects, pandas extension types such as periods)
    as their text."""
    try:
        arr = pa.array(s.array) if hasattr(s.array, "__arrow_array__") else \
            pa.array(s.to_numpy(), from_pandas=True)
        if not isinstance(arr.type, pa.ExtensionType):
            return arr
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    return pa.array(s.astype(str).where(s.notna(), None), from_pandas=True)


def _top_from_counts(counts: np.ndarray) -> np.ndarray:
    """Indices of the TOP_N largest counts, largest first; equal counts in index order (the
    smaller value of a sorted column, the first seen of a dictionary). No full sort."""
    k = min(TOP_N, len(counts))
    if k == 0:
        return np.array([], dtype=np.int64)
    if len(counts) > k:
        kth = _kth_largest(counts, k)
        above = np.flatnonzero(counts > kth)
        idx = np.concatenate((above, np.flatnonzero(counts == kth)[:k - above.size]))
    else:
        idx = np.arange(len(counts))
    return idx[np.argsort(-counts[idx], kind="stable")]


def _kth_largest(counts: np.ndarray, k: int) -> int:
    """The k-th largest of non-negative integer counts. Counts repeat a lot (run lengths are
    mostly 1), which makes np.partition slow; a histogram of the counts is one quick pass."""
    top = int(counts.max())
    if top > 4 * counts.size + 1024:
        return int(np.partition(counts, counts.size - k)[counts.size - k])
    at_least = np.cumsum(np.bincount(counts, minlength=top + 1)[::-1])  # counts >= top, top-1, ...
    return top - int(np.searchsorted(at_least, k))


def _mix_inplace(x: np.ndarray) -> None:
    """splitmix64's finaliser in place (one temporary, the shift): spreads the per-row hash
    after each column's codes are added, so row hashes combine without structure."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)


class _Col:
    """Per-column results shared by the stats and the duplicate-row hash."""

    def __init__(self):
        self.distinct = 0
        self.top: list = []
        self.top_counts = np.array([], dtype=np.int64)
        self.codes: np.ndarray | None = None  # integers per row, equal values -> equal codes
        self.sample: list = []                # some distinct values (text type checks)
        self.missing: int | None = None       # set when the stats count it on the way


def _runs(srt: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Distinct count, top values and their counts of a sorted array, from its run lengths
    (no hashing). Without repeats the run lengths are skipped: the top values are the first."""
    if srt.size == 0:
        return 0, srt[:0], np.array([], dtype=np.int64)
    change = srt[1:] != srt[:-1]
    distinct = int(np.count_nonzero(change)) + 1
    if distinct == srt.size:
        k = min(TOP_N, srt.size)
        return distinct, srt[:k], np.ones(k, dtype=np.int64)
    starts = np.flatnonzero(change)
    starts += 1
    starts = np.concatenate(([0], starts))
    lengths = np.diff(starts, append=srt.size)
    idx = _top_from_counts(lengths)
    return distinct, srt[starts[idx]], lengths[idx]


def _set_summary(out: _Col, distinct: int, top: np.ndarray, counts: np.ndarray) -> None:
    out.distinct, out.top, out.top_counts = distinct, top.tolist(), counts


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MULTIPLIER = np.uint64(0xBF58476D1CE4E5B9)
_NULL_CODE = np.uint64(0x5BD1E995)  # the hash code of every missing string
# _WORD_MASK[k] keeps the low k bytes of a little-endian word (the string's own bytes).
_WORD_MASK = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


def _string_hashes(arr: pa.Array, max_words: int = 8) -> tuple[np.ndarray, np.ndarray] | None:
    """A 64-bit hash of every string and its length in bytes, read straight from the Arrow
    buffers 8 bytes at a time (one vectorised gather per 8 bytes of the longest string); None
    for longer strings, where dictionary encoding is cheaper. Each word is folded in with a
    multiply and an xorshift (differences in any byte reach every bit before the next word).
    Nulls hash like the empty string: mask them separately."""
    if not _is_string(arr):
        return None
    off_t = np.dtype(np.int64 if pa.types.is_large_string(arr.type) else np.int32)
    bufs, n = arr.buffers(), len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    offsets = np.frombuffer(bufs[1], dtype=off_t, count=n + 1, offset=arr.offset * off_t.itemsize)
    lens = np.diff(offsets).astype(np.int64, copy=False)
    maxlen, minlen = int(lens.max()), int(lens.min())
    if maxlen > 8 * max_words:
        return None
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    if data.size < int(offsets[-1]) + maxlen + 8:  # a word read at start + j must stay inside
        pad = np.zeros(int(offsets[-1]) + maxlen + 8, dtype=np.uint8)
        pad[:data.size] = data
        data = pad
    words = np.ndarray(shape=(data.size - 7,), dtype="<u8", buffer=data, strides=(1,))  # unaligned
    h = np.empty(n, dtype=np.uint64)
    for first in range(0, n, _BLOCK):  # row blocks: every temporary stays in cache
        rows = slice(first, first + _BLOCK)
        starts = offsets[:-1][rows].astype(np.int64)  # a copy: advanced word by word below
        left = np.minimum(lens[rows], 255).astype(np.uint8)  # bytes not yet read (only < 8 matters)
        hb = lens[rows].astype(np.uint64)
        hb *= _GOLDEN
        for j in range(0, maxlen, 8):
            w = words[starts]
            if minlen < j + 8:  # some strings end inside this word: keep only their own bytes
                take = np.minimum(left, 8)
                w &= _WORD_MASK[take.astype(np.intp)]
                left -= take
            else:
                left -= 8
            hb ^= w
            hb *= _MULTIPLIER
            hb ^= hb >> np.uint64(32)
            starts += 8
        h[rows] = hb
    return h, lens


#: Text columns of at least this many values whose sample is mostly distinct are hashed
#: rather than dictionary-encoded (a hash table over a million distinct strings is slow).
HASH_TEXT_MIN = 200_000


def _hashed_text_summary(arr: pa.Array, out: _Col, info: dict) -> bool:
    """Exact distinct count, top values and duplicate-row codes of big high-cardinality text
    without a hash table: one 64-bit hash per string, sorted (run lengths). Unless strings
    are crafted to collide, two share a hash with probability ~n²/2⁶⁵: negligible."""
    if len(arr) < HASH_TEXT_MIN or not _is_string(arr):
        return False
    sample = arr.take(pa.array(np.arange(0, len(arr), max(1, len(arr) // 20_000)))).drop_null()
    distinct_sample = pc.unique(sample)
    if len(distinct_sample) < 0.5 * max(1, len(sample)):
        return False  # few distinct values: dictionary encoding is cheap and exact
    hashed = _string_hashes(arr)
    if hashed is None:
        return False
    h, lens = hashed
    valid = None
    if arr.null_count:
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
        h[~valid] = _NULL_CODE
    distinct, top_h, counts = _runs(np.sort(h if valid is None else h[valid]))
    out.distinct = distinct
    if distinct < len(arr) - arr.null_count:  # some values repeat: name the most frequent
        rows = np.array([np.argmax(h == t if valid is None else (h == t) & valid) for t in top_h])
        order = np.lexsort((rows, -counts))  # equal counts: the first seen first
        out.top, out.top_counts = arr.take(pa.array(rows[order])).to_pylist(), counts[order]
    out.codes = h
    out.sample = distinct_sample.slice(0, 500).to_pylist()
    if valid is None and _ascii(arr):  # then lengths in bytes are lengths in characters
        info.update(length_min=int(lens.min()), length_max=int(lens.max()),
                    length_mean=_f(int(lens.sum()) / lens.size))
    elif distinct:
        lengths = pc.utf8_length(arr)
        mm = pc.min_max(lengths).as_py()
        info.update(length_min=mm["min"], length_max=mm["max"],
                    length_mean=_f(pc.mean(lengths).as_py()))
    return True


def _ascii(arr: pa.Array) -> bool:
    """Whether every byte of the strings' data is ASCII (then bytes are characters)."""
    bufs = arr.buffers()
    off_t = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=off_t, count=len(arr) + 1,
                            offset=arr.offset * np.dtype(off_t).itemsize)
    if bufs[2] is None:
        return True
    data = np.frombuffer(bufs[2], dtype=np.uint8)[int(offsets[0]):int(offsets[-1])]
    return data.size == 0 or int(data.max()) < 128


def _text_summary(s: pd.Series, out: _Col, info: dict) -> None:
    """Distinct values, counts, top values, lengths and row codes of text: one dictionary
    encoding (big high-cardinality columns: hashed instead, see _hashed_text_summary)."""
    arr = _arrow(s)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    out.missing = arr.null_count
    if _hashed_text_summary(arr, out, info):
        return
    enc = pc.dictionary_encode(arr, null_encoding="encode")  # nulls get a code: no mask
    dictionary = enc.dictionary
    indices = enc.indices.to_numpy()
    counts = np.bincount(indices, minlength=len(dictionary))
    if dictionary.null_count:
        counts[~dictionary.is_valid().to_numpy(zero_copy_only=False)] = 0
    out.distinct = int(np.count_nonzero(counts))
    idx = _top_from_counts(counts)
    idx = idx[counts[idx] > 0]
    out.top, out.top_counts = dictionary.take(pa.array(idx)).to_pylist(), counts[idx]
    out.codes = indices
    out.sample = dictionary.drop_null().slice(0, 500).to_pylist()
    if out.distinct and _is_string(dictionary):  # lengths of the distinct values, weighted
        present = counts > 0
        lengths = pc.fill_null(pc.utf8_length(dictionary), 0).to_numpy()[present].astype(np.int64)
        weights = counts[present]
        info.update(length_min=int(lengths.min()), length_max=int(lengths.max()),
                    length_mean=_f(int(lengths @ weights) / int(weights.sum())))


def _is_string(arr) -> bool:
    return pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)


def _linear_quantiles(at, n: int) -> list:
    """QUANTILES of n sorted values as np.quantile(method='linear') computes them (pandas'
    default too): positions (n - 1)·q and numpy's two-sided interpolation, so the results
    equal numpy's to the bit. `at(ranks)` gives the values at those ranks."""
    q = np.asarray(QUANTILES)
    virtual = (n - 1) * q
    below = np.floor(virtual)
    lo_r = below.astype(np.intp)
    a, b = at(lo_r), at(np.minimum(lo_r + 1, n - 1))
    gamma = virtual - below
    diff = b - a
    res = np.add(a, diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=res, where=gamma >= 0.5, casting="unsafe")
    return res.tolist()


def _edges(lo: float, hi: float) -> np.ndarray:
    return np.linspace(lo, hi, BINS + 1) if hi > lo else np.linspace(lo - 0.5, lo + 0.5, BINS + 1)


def _shape_facts(info: dict, lo: float, hi: float, n: int, mean: float, m2: float, m3: float,
                 qs: list, counts: np.ndarray, edges: np.ndarray, zeros: int, negatives: int) -> None:
    """The numeric facts from the moments (sums of d², d³ around the mean) and the rest."""
    std = math.sqrt(m2 / (n - 1)) if n > 1 else None
    skew = None
    if n > 2 and m2 > 0:
        g1 = (m3 / n) / (m2 / n) ** 1.5
        skew = g1 * math.sqrt(n * (n - 1)) / (n - 2)  # pandas' adjusted Fisher-Pearson
    info.update(min=_f(lo), max=_f(hi), mean=_f(mean), std=_f(std), skew=_f(skew),
                quantiles={f"{int(q * 100)}%": _f(x) for q, x in zip(QUANTILES, qs)},
                zeros=int(zeros), negatives=int(negatives),
                histogram={"counts": np.asarray(counts).tolist(), "edges": [_f(e) for e in edges]})


def _central_moments(x: np.ndarray, mean: float) -> tuple[float, float]:
    """Σ(x - mean)² and Σ(x - mean)³, block by block: small temporaries in cache instead of
    two array-sized ones (3x faster on a million values)."""
    d, dd = np.empty(min(_BLOCK, x.size)), np.empty(min(_BLOCK, x.size))
    m2 = m3 = 0.0
    for start in range(0, x.size, _BLOCK):
        block = x[start:start + _BLOCK]
        dv, ddv = d[:block.size], dd[:block.size]
        np.subtract(block, mean, out=dv)
        np.multiply(dv, dv, out=ddv)
        m2 += float(ddv.sum())
        m3 += float(np.einsum("i,i->", ddv, dv))  # einsum, not np.dot: no BLAS threads to wake
    return m2, m3


def _sorted_facts(finite: np.ndarray, info: dict, exact: np.ndarray | None = None) -> None:
    """Numeric facts of sorted finite float64 values: min/max at the ends, quantiles at their
    ranks, histogram and zero/negative counts by binary search. `exact`: the same values in
    their own integer dtype, so integer quantiles interpolate as numpy does on integers."""
    n = finite.size
    lo, hi = float(finite[0]), float(finite[-1])
    edges = _edges(lo, hi)
    cuts = np.searchsorted(finite, edges[1:-1], side="left")
    counts = np.diff(cuts, prepend=0, append=n)
    src = finite if exact is None else exact
    qs = _linear_quantiles(lambda r: src[r], n)
    mean = float(finite.mean())
    m2, m3 = _central_moments(finite, mean)
    negatives = int(np.searchsorted(finite, 0.0, side="left"))
    zeros = int(np.searchsorted(finite, 0.0, side="right")) - negatives
    _shape_facts(info, lo, hi, n, mean, m2, m3, qs, counts, edges, zeros, negatives)


def _counted_facts(values: np.ndarray, counts: np.ndarray, info: dict) -> None:
    """Numeric facts of integers given as their distinct values (ascending) and counts: every
    fact is a weighted sum or a binary search over the distinct values, never over the rows."""
    n = int(counts.sum())
    cum = np.cumsum(counts)
    below = np.concatenate(([0], cum))  # rows under each distinct value
    vf, w = values.astype(np.float64), counts.astype(np.float64)
    lo, hi = float(vf[0]), float(vf[-1])
    edges = _edges(lo, hi)
    cuts = below[np.searchsorted(vf, edges[1:-1], side="left")]
    hist = np.diff(cuts, prepend=0, append=n)
    qs = _linear_quantiles(lambda r: values[np.searchsorted(cum, r, side="right")], n)
    mean = float(np.einsum("i,i->", vf, w)) / n
    d = vf - mean
    wdd = w * d * d
    m2 = float(wdd.sum())
    m3 = float(np.einsum("i,i->", wdd, d))
    negatives = int(below[np.searchsorted(values, 0, side="left")])
    zeros = int(below[np.searchsorted(values, 0, side="right")]) - negatives
    _shape_facts(info, lo, hi, n, mean, m2, m3, qs, hist, edges, zeros, negatives)


def _int_counts(vals: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Distinct integers (ascending) and their counts by np.bincount: one pass, no sort, when
    they span a range under half their count (then every later fact reads at most that many
    distinct values); None otherwise (the caller sorts)."""
    lo, hi = int(vals.min()), int(vals.max())
    limit = vals.size // 2 + 1024
    if hi - lo > limit:
        return None
    if 0 <= lo and hi <= limit:  # small non-negative values: count them where they are
        counts = np.bincount(vals, minlength=hi + 1)[lo:]
    else:
        counts = np.bincount(vals - lo, minlength=hi - lo + 1)
    idx = np.flatnonzero(counts)
    return idx + lo, counts[idx]


def _integer_stats(s: pd.Series, info: dict, out: _Col) -> None:
    """Integers: counted (np.bincount) when their range allows, else sorted once."""
    dtype = "uint64" if _beyond_int64(s) else "int64"
    if not isinstance(s.dtype, np.dtype) and s.hasnans:  # nullable integers with missing values
        out.codes = s.to_numpy(dtype="float64", na_value=np.nan).view(np.uint64)
        vals = s.dropna().to_numpy(dtype=dtype)
    else:
        vals = s.to_numpy(dtype=dtype)
        out.codes = vals.view(np.uint64)
    out.missing = len(s) - vals.size
    if vals.size == 0:
        return
    counted = _int_counts(vals) if dtype == "int64" else None
    if counted is not None:
        values, counts = counted
        idx = _top_from_counts(counts)
        _set_summary(out, int(values.size), values[idx], counts[idx])
        _counted_facts(values, counts, info)
    else:
        srt = np.sort(vals)
        _set_summary(out, *_runs(srt))
        _sorted_facts(srt.astype(np.float64), info, exact=srt)


def _beyond_int64(s: pd.Series) -> bool:
    """Unsigned 64-bit integers past int64's range (kept unsigned, sorted, never counted)."""
    return s.dtype.kind == "u" and s.dtype.itemsize == 8 and bool(s.max() >= 2 ** 63)


def _numeric_stats(s: pd.Series, info: dict, out: _Col) -> None:
    """Min/max, moments, quantiles, histogram, distinct and top values of a numeric column,
    all exact. Floats are sorted once (numpy's vectorised sort beats any pass of hashing or
    partitioning here); distinct and top values count ±inf, the statistics only finite values."""
    if pd.api.types.is_integer_dtype(s.dtype):
        _integer_stats(s, info, out)
        return
    raw = s.to_numpy(dtype="float64", na_value=np.nan)
    out.codes = raw.view(np.uint64)  # raw bits: equal values -> equal codes (mixed when combined)
    srt = np.sort(raw)  # NaN sort last, ±inf just inside them
    valid = int(np.searchsorted(srt, np.nan, side="left"))
    out.missing = raw.size - valid
    v = srt[:valid]
    if valid == 0:
        return
    _set_summary(out, *_runs(v))
    finite = v[int(np.searchsorted(v, -np.inf, side="right")):int(np.searchsorted(v, np.inf, side="left"))]
    if finite.size:
        _sorted_facts(finite, info)


_NAT = np.iinfo(np.int64).min


def _datetime_stats(s: pd.Series, info: dict, out: _Col) -> None:
    """Dates and times as int64 ticks, sorted once (NaT, the smallest int64, sorts first)."""
    naive = s.dt.tz_convert(None) if getattr(s.dt, "tz", None) is not None else s
    raw = naive.to_numpy().view("int64")
    out.codes = raw.view(np.uint64)
    srt = np.sort(raw)
    nat = int(np.searchsorted(srt, _NAT, side="right"))
    out.missing = nat
    ints = srt[nat:]
    if ints.size == 0:
        return
    unit = np.datetime_data(naive.dtype)[0]
    _set_summary(out, *_runs(ints))
    lo, hi = int(ints[0]), int(ints[-1])
    edges = np.linspace(lo, hi, BINS + 1) if hi > lo else np.linspace(lo - 1, lo + 1, BINS + 1)
    cuts = np.searchsorted(ints, edges[1:-1], side="left")
    counts = np.diff(cuts, prepend=0, append=ints.size)
    to_ts = lambda x: pd.Timestamp(np.datetime64(int(x), unit)).isoformat()  # noqa: E731
    out.top = [to_ts(x) for x in out.top]
    span = pd.Timedelta(np.timedelta64(hi - lo, unit))
    info.update(min=to_ts(lo), max=to_ts(hi), range_days=_f(span / pd.Timedelta(days=1)),
                histogram={"counts": counts.tolist()})


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
    info = {"name": str(name), "kind": kind, "dtype": str(s.dtype), "count": 0,
            "missing": 0, "missing_pct": 0.0}  # (filled in below, after the stats count them)
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
        out.codes = s.cat.codes.to_numpy()
        out.sample = [str(x) for x in vc.index[:500]]
    else:
        _text_summary(s, out, info)
    missing = int(s.isna().sum()) if out.missing is None else out.missing
    count = rows - missing
    info.update(count=count, missing=missing, missing_pct=_f(100.0 * missing / rows) if rows else 0.0)
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
        h += c.astype(np.uint64, copy=False)
        _mix_inplace(h)
    return int(pd.Index(h).duplicated().sum())


def _bernoulli_rows(rows: int, p: float) -> np.ndarray:
    """Row numbers of a Bernoulli(p) sample in row order, drawn as geometric gaps between kept
    rows: work in proportion to the sample, not to the rows."""
    rng = np.random.default_rng(0)
    picked = []
    last = -1
    while last < rows:  # one batch nearly always reaches the end
        gaps = rng.geometric(p, size=int(rows * p * 1.05) + 64)
        idx = last + np.cumsum(gaps)
        picked.append(idx)
        last = int(idx[-1])
    idx = np.concatenate(picked)
    return idx[:np.searchsorted(idx, rows)]


def _pairwise_corr(mat: np.ndarray) -> np.ndarray:
    """Pearson r of every pair of rows of `mat` over the columns where both are finite (like
    DataFrame.corr), from matrix products on row-centred data whose missing values are 0.

    Per pair (i, j), over the columns where j has a value: Σx_i, Σx_i² and how many both
    have. For a complete row j these are row i's own totals (Σx_i is 0 once centred), so only
    rows with gaps (usually few) need products over the columns. Overwrites `mat`.
    """
    finite = np.isfinite(mat)
    gaps = np.flatnonzero(~finite.all(axis=1))
    okg = finite[gaps].astype(np.float64)  # 1 where a row with gaps has a value
    x = mat
    x[gaps] = np.where(finite[gaps], x[gaps], 0.0)
    count = finite.sum(axis=1).astype(np.float64)
    x -= (x.sum(axis=1) / np.maximum(count, 1))[:, None]
    x[gaps] *= okg  # centred; missing values stay 0
    k = len(x)
    xx = x * x
    sx = np.zeros((k, k))
    sxx = np.repeat(xx.sum(axis=1)[:, None], k, axis=1)
    n = np.repeat(count[:, None], k, axis=1)
    # einsum, not @, for products with few rows: OpenBLAS's matrix-vector path costs 10x
    prod = lambda a, b: np.einsum("ir,jr->ij", a, b)  # noqa: E731
    if gaps.size:
        sx[:, gaps], sxx[:, gaps] = prod(x, okg), prod(xx, okg)
        n[:, gaps] = count[gaps]
        n[np.ix_(gaps, gaps)] = prod(okg, okg)
    cov = x @ x.T - sx * sx.T / n  # (a matrix-matrix product: BLAS is 5x faster than einsum)
    var = sxx - sx * sx / n
    corr = cov / np.sqrt(var * var.T)
    corr[n < 2] = np.nan
    return corr


def _correlations(df: pd.DataFrame, cols: list) -> tuple[list, int | None]:
    """Pearson r of every numeric pair (pairwise-complete rows, like DataFrame.corr), from four
    matrix products on column-centred data; frames over CORR_SAMPLE rows use a fixed random
    sample of rows (said in the output)."""
    if len(cols) < 2:
        return [], None
    rows, sampled, take = len(df), None, None
    if rows > CORR_SAMPLE:
        take = _bernoulli_rows(rows, CORR_SAMPLE / rows)
        sampled = int(take.size)  # (row indices: gathering by index beats a boolean mask 5x)
    mat = np.empty((len(cols), rows if take is None else sampled))  # one row per column
    for i, c in enumerate(cols):
        s = df[c]
        if take is not None and isinstance(s.dtype, np.dtype):  # plain numpy: gather directly
            mat[i] = s.to_numpy()[take]
            continue
        s = s if take is None else s.take(take)  # sample first, then convert
        mat[i] = s.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = _pairwise_corr(mat)
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
