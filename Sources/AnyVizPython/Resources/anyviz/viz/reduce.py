"""Large-data reduction: make a Plotly figure small and faithful before it leaves the process.

A browser cannot draw 10 million points, and a 300 MB bundle would stall the kernel, the wire
and the notebook file. So, per trace, with vectorised numpy only:

* line/area traces longer than ANYVIZ_MAX_POINTS (default 4000): M4-style min-max buckets
  (first, last, min and max of equal index buckets, 3/4 of the budget) plus a spike pass
  (points far from their neighbours' mean relative to the typical wiggle, 1/4 of the budget).
  This is the extreme-preserving relative of LTTB: every bucket's extremes survive, and
  isolated spikes survive even when several share a bucket, so the envelope is drawn
  faithfully at screen resolution.
* dense marker scatter: one trace -> a 2D count heatmap (what px.density_heatmap shows); several
  coloured traces -> a stratified sample per trace that keeps each trace's x/y extremes.
* histograms over raw values: bins computed in numpy, sent as a bar trace of counts (the same
  picture, a few hundred numbers instead of millions).
* bar traces with many rows: summed per category (exactly what the stacked segments add up to).
* anything else that is still huge: an even sample that keeps extremes.

The figure gets a visible note (layout annotation) such as "10,000,000 rows shown as 4,000
points, extremes kept", also returned in the summary. Arrays become Plotly typed arrays
(base64) and JSON is written by orjson, so the bundle stays well under 2 MB.

Reduction is active when the frame has more than ANYVIZ_REDUCE_ROWS rows (default 50,000) or
a trace has more than max_points points; each trace over max_points is reduced.
"""
from __future__ import annotations

import copy
import os
import warnings

import numpy as np

from anyviz import settings

_PER_POINT_SKIP = {"range", "geojson", "layer", "layers", "colorscale", "dimensions"}


# ------------------------------------------------------------------ array helpers
def _as_array(v):
    if isinstance(v, np.ndarray):
        return v
    if isinstance(v, (list, tuple)):
        try:
            return np.asarray(v)
        except Exception:
            return np.asarray(v, dtype=object)
    try:  # pandas objects
        import pandas as pd

        if isinstance(v, (pd.Series, pd.Index)):
            return v.to_numpy()
    except Exception:
        pass
    return None


def _numeric(a: np.ndarray):
    """A float64 view for computing (datetimes as int64 ns), or None if not numeric."""
    if a is None or a.ndim != 1:
        return None
    if a.dtype.kind in "iuf":
        return a.astype(np.float64, copy=False)
    if a.dtype.kind == "M":
        ints = a.astype("datetime64[ns]").view(np.int64).astype(np.float64)
        ints[np.isnat(a)] = np.nan
        return ints
    if a.dtype.kind == "O" and len(a):
        # Only real numbers / datetime objects count; strings are categories (and parsing
        # millions of strings to find out would cost seconds).
        import datetime as _dt

        import pandas as pd

        first = next((v for v in a[:1000] if v is not None and v == v), None)
        if isinstance(first, (int, float, np.number)) and not isinstance(first, bool):
            conv = pd.to_numeric(pd.Series(a), errors="coerce").to_numpy(np.float64)
            return conv
        if isinstance(first, (_dt.datetime, _dt.date, np.datetime64)):
            ts = pd.to_datetime(pd.Series(a), errors="coerce")
            return ts.astype("int64").astype(np.float64).where(ts.notna()).to_numpy()
    return None


def _trace_len(t: dict) -> int:
    if t.get("type") in ("heatmap", "histogram2d", "contour", "surface") and t.get("z") is not None:
        z = _as_array(t.get("z"))
        return int(z.size) if z is not None else 0
    for key in ("x", "y", "values", "labels", "z", "lat", "lon", "r", "a"):
        a = _as_array(t.get(key))
        if a is not None and a.ndim >= 1:
            return int(a.shape[0])
    return 0


def _take(obj: dict, idx: np.ndarray, n: int) -> dict:
    """Subset every per-point array (length n) in a trace dict, recursing into sub-dicts."""
    out = {}
    for key, value in obj.items():
        if key in _PER_POINT_SKIP:
            out[key] = value
        elif isinstance(value, dict):
            out[key] = _take(value, idx, n)
        else:
            a = _as_array(value) if isinstance(value, (np.ndarray, list, tuple)) else None
            if a is not None and a.ndim >= 1 and a.shape[0] == n:
                out[key] = a[idx]
            else:
                out[key] = value
    return out


def _drop_per_point(obj: dict, n: int) -> dict:
    out = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            out[key] = _drop_per_point(value, n)
        else:
            a = _as_array(value) if isinstance(value, (np.ndarray, list, tuple)) else None
            if a is None or a.ndim == 0 or a.shape[0] != n:
                out[key] = value
    return out


def spike_indices(y: np.ndarray, budget: int) -> np.ndarray:
    """Isolated spikes: points far from the mean of their two neighbours compared with the
    series' typical point-to-point wiggle (robust: median over a sample). Several spikes can
    share one min-max bucket, so they are selected separately; at most `budget`, largest
    first."""
    n = len(y)
    if n < 3 or budget <= 0:
        return np.empty(0, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        d = y[:-2] + y[2:]
        d *= 0.5
        np.subtract(y[1:-1], d, out=d)
        np.abs(d, out=d)
    np.nan_to_num(d, copy=False, nan=0.0)
    sample = d if n <= 200_000 else d[np.random.default_rng(0).choice(n - 2, 200_000)]
    typical = float(np.median(sample))
    with warnings.catch_warnings():  # all-NaN series: no span, no warning
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(y), np.nanmax(y)
    span = float(hi - lo) if np.isfinite(hi - lo) else 0.0
    threshold = max(20.0 * typical, 1e-3 * span)
    cand = np.flatnonzero(d > threshold)
    if len(cand) > budget:
        cand = cand[np.argpartition(d[cand], -budget)[-budget:]]
    return np.sort(cand + 1)


def slice_extremes(y: np.ndarray, parts: int) -> np.ndarray:
    """Positions of the first, last, lowest and highest value of each of `parts` equal slices
    of `y` (M4), unsorted and possibly repeated; every position when `y` is that short. NaN
    never wins min/max. Vectorised: the slices are one (parts, size) reshape, the last slice
    padded with the final value (padding positions are clipped to the last row)."""
    n = len(y)
    if n <= 4 * parts:
        return np.arange(n)
    size = -(-n // parts)
    m = np.concatenate([y, np.repeat(y[-1:], size * parts - n)]).reshape(parts, size)
    start = np.arange(parts) * size
    if np.isnan(y).any():  # the masked copies are only paid when there is a NaN
        nan = np.isnan(m)
        low, high = np.where(nan, np.inf, m).argmin(axis=1), np.where(nan, -np.inf, m).argmax(axis=1)
    else:
        low, high = m.argmin(axis=1), m.argmax(axis=1)
    pos = np.concatenate([start, start + size - 1, start + low, start + high])
    return np.minimum(pos, n - 1)


def minmax_indices(y: np.ndarray, max_points: int) -> np.ndarray:
    """Sorted indices to draw: first/last/min/max of equal index buckets (M4) plus isolated
    spikes, at most max_points in all.

    Three quarters of the budget go to the buckets, one quarter to spikes (several spikes in
    one bucket would otherwise lose all but the most extreme).
    """
    n = len(y)
    if n <= max_points:
        return np.arange(n)
    spike_budget = max_points // 4
    buckets = max(1, (max_points - spike_budget - 4) // 4)
    idx = np.unique(slice_extremes(y, buckets))
    spikes = spike_indices(y, max_points - len(idx))
    return np.union1d(idx, spikes) if len(spikes) else idx


def sample_indices(n: int, budget: int, keep=()) -> np.ndarray:
    """A reproducible random sample of `budget` indices plus the indices in `keep`."""
    rng = np.random.default_rng(0)
    budget = min(n, budget)
    idx = rng.choice(n, size=budget, replace=False) if budget < n else np.arange(n)
    if len(keep):
        idx = np.concatenate([idx, np.asarray(keep, dtype=np.int64)])
    return np.unique(idx)


def _extreme_indices(*arrays) -> list[int]:
    out = []
    for a in arrays:
        if a is not None and len(a) and not np.all(np.isnan(a)):
            out += [int(np.nanargmin(a)), int(np.nanargmax(a))]
    return out


def _is_line(t: dict) -> bool:
    mode = t.get("mode")
    return t.get("type", "scatter") in ("scatter", "scattergl") and (
        mode is None or "lines" in str(mode) or bool(t.get("fill")))


def _is_markers(t: dict) -> bool:
    return t.get("type", "scatter") in ("scatter", "scattergl") and not _is_line(t)


# ------------------------------------------------------------------ per-kind reducers
def _reduce_line(t: dict, n: int, max_points: int) -> tuple[dict, int]:
    x, y = _as_array(t.get("x")), _as_array(t.get("y"))
    yn = _numeric(y) if y is not None else None
    horizontal = yn is None and x is not None
    vals = _numeric(x) if horizontal else yn
    if vals is None:
        idx = np.unique(np.linspace(0, n - 1, max_points).astype(np.int64))
    else:
        idx = minmax_indices(vals, max_points)
    return _take(t, idx, n), len(idx)


def _bins(values: list[np.ndarray], nbins) -> np.ndarray:
    finite = [v[np.isfinite(v)] for v in values]
    allv = np.concatenate(finite) if finite else np.array([])
    if allv.size == 0:
        return np.array([0.0, 1.0])
    lo, hi = float(allv.min()), float(allv.max())
    if lo == hi:
        return np.array([lo - 0.5, hi + 0.5])
    if nbins:
        count = int(nbins)
    else:  # numpy's 'auto' rule on a sample (the rule needs quantiles), capped for legibility
        sample = allv if allv.size <= 200_000 else allv[
            np.random.default_rng(0).choice(allv.size, 200_000, replace=False)]
        count = len(np.histogram_bin_edges(sample, bins="auto")) - 1
        count = int(min(max(count, 10), 200))
    return np.linspace(lo, hi, count + 1)


def _reduce_histograms(traces: list[tuple[int, dict]], out: list) -> int:
    """Replace raw-value histogram traces (sharing one set of bins) by bar traces of counts."""
    points = 0
    horizontal = [t.get("orientation") == "h" or (t.get("x") is None and t.get("y") is not None)
                  for _, t in traces]
    raw = [_as_array(t.get("y") if h else t.get("x")) for (_, t), h in zip(traces, horizontal)]
    nums = [_numeric(a) for a in raw]
    edges = None
    if all(v is not None for v in nums):
        nb = traces[0][1].get("nbinsy" if horizontal[0] else "nbinsx")
        edges = _bins(nums, nb)
    for (pos, t), h, a, v in zip(traces, horizontal, raw, nums):
        ok, codes, positions, width = _bin_codes(a, v, edges)
        counts = _normalised(t, _bin_totals(t, h, ok, codes, len(positions)), width)
        if edges is not None and raw[0].dtype.kind == "M":
            positions = positions.astype(np.int64).astype("datetime64[ns]")
            width = width / 1e6  # plotly date axes measure widths in milliseconds
        out[pos] = _histogram_bar(t, len(a), h, positions, counts, width)
        points += len(positions)
    return points


def _bin_codes(a, v, edges):
    """(rows kept, their bin numbers, bin positions, bin widths): numeric values binned by
    `edges` (positions are bin centres), other values by category in order of first
    appearance, like plotly (positions are the categories; widths None)."""
    if edges is not None:
        ok = np.isfinite(v)
        codes = np.clip(np.searchsorted(edges, v[ok], side="right") - 1, 0, len(edges) - 2)
        return ok, codes, (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    import pandas as pd

    codes_all, uniques = pd.factorize(a)
    ok = codes_all >= 0
    return ok, codes_all[ok], np.asarray(uniques, dtype=object), None


def _bin_totals(t: dict, h: bool, ok, codes, nb: int):
    """Each bin's count, or its histfunc (sum, avg, min, max) of the trace's weights."""
    weights = _as_array(t.get("x") if h else t.get("y"))
    func = t.get("histfunc") or ("sum" if weights is not None else "count")
    if weights is None or func == "count":
        return np.bincount(codes, minlength=nb).astype(np.float64)
    import pandas as pd

    agg = {"avg": "mean", "sum": "sum", "min": "min", "max": "max"}.get(func, "sum")
    s = pd.Series(_numeric(weights)[ok]).groupby(codes).agg(agg)
    counts = np.full(nb, np.nan)
    counts[s.index.to_numpy()] = s.to_numpy()
    return counts


def _normalised(t: dict, counts, width):
    """The bin totals under the trace's histnorm (density needs numeric bins' widths)."""
    total = np.nansum(counts)
    norm = t.get("histnorm") or ""
    if width is not None and "density" in norm:
        counts = counts / width
    if norm.startswith("probability") or norm == "probability density":
        counts = counts / total if total else counts
    elif norm == "percent":
        counts = counts * 100.0 / total if total else counts
    return counts


_HISTOGRAM_ONLY = ("x", "y", "nbinsx", "nbinsy", "histfunc", "histnorm", "xbins", "ybins",
                   "autobinx", "autobiny", "bingroup", "cumulative", "type")


def _histogram_bar(t: dict, n: int, h: bool, positions, counts, width) -> dict:
    """The bar trace that draws the binned histogram, with the trace's other settings."""
    bar = {k: v for k, v in _drop_per_point(t, n).items() if k not in _HISTOGRAM_ONLY}
    bar["type"] = "bar"
    if h:
        bar.update(y=positions, x=counts, orientation="h")
    else:
        bar.update(x=positions, y=counts)
    if width is not None:
        bar["width"] = width
    return bar


def _reduce_bar(t: dict, n: int) -> tuple[dict, int]:
    import pandas as pd

    h = t.get("orientation") == "h"
    cat = _as_array(t.get("y") if h else t.get("x"))
    val = _as_array(t.get("x") if h else t.get("y"))
    if cat is None or val is None:
        return t, n
    s = pd.Series(_numeric(val) if _numeric(val) is not None else val).groupby(
        pd.Series(cat), sort=False).sum()
    keep = _drop_per_point(t, n)
    keep.pop("x", None)
    keep.pop("y", None)
    keys, sums = s.index.to_numpy(), s.to_numpy()
    keep.update({"y": keys, "x": sums} if h else {"x": keys, "y": sums})
    return keep, len(s)


def _reduce_density(t: dict, n: int) -> tuple[dict, int] | None:
    x, y = _as_array(t.get("x")), _as_array(t.get("y"))
    xn, yn = _numeric(x), _numeric(y)
    if xn is None or yn is None:
        return None
    ok = np.isfinite(xn) & np.isfinite(yn)
    bins = 120
    counts, xe, ye = np.histogram2d(xn[ok], yn[ok], bins=bins)
    z = counts.T
    z[z == 0] = np.nan  # empty cells stay transparent
    xc, yc = (xe[:-1] + xe[1:]) / 2, (ye[:-1] + ye[1:]) / 2
    if x.dtype.kind == "M":
        xc = xc.astype(np.int64).astype("datetime64[ns]")
    if y.dtype.kind == "M":
        yc = yc.astype(np.int64).astype("datetime64[ns]")
    heat = {"type": "heatmap", "x": xc, "y": yc, "z": z, "colorscale": "Viridis",
            "name": t.get("name") or "density", "colorbar": {"title": {"text": "count"}},
            "hovertemplate": "x=%{x}<br>y=%{y}<br>count=%{z}<extra></extra>"}
    for key in ("xaxis", "yaxis"):
        if key in t:
            heat[key] = t[key]
    return heat, bins * bins


# ------------------------------------------------------------------ figure level
def reduce_traces(data: list[dict], frame_rows: int = 0, max_points=None, reduce_rows=None):
    """Reduce a list of raw trace dicts. Returns (traces, info) where info lists what was done."""
    max_points, reduce_rows = settings.point_limits(max_points, reduce_rows)
    lengths = [_trace_len(t) for t in data]
    info = {"kinds": [], "points": int(sum(lengths)), "raw_points": int(sum(lengths))}
    if not (frame_rows > reduce_rows or any(n > max_points for n in lengths)):
        return list(data), info
    out = list(data)
    kinds = []
    marker_big = [i for i, (t, n) in enumerate(zip(data, lengths))
                  if _is_markers(t) and n > max_points]
    hist_groups: dict = {}
    for i, (t, n) in enumerate(zip(data, lengths)):
        kind = t.get("type", "scatter")
        if n <= max_points:
            continue
        if kind == "histogram":
            hist_groups.setdefault((t.get("xaxis"), t.get("yaxis"), t.get("orientation")),
                                   []).append((i, t))
        elif _is_line(t):
            out[i], _ = _reduce_line(t, n, max_points)
            kinds.append("extremes kept")
        elif _is_markers(t):
            heat = _reduce_density(t, n) if len(marker_big) == 1 and len(data) == 1 else None
            if heat is not None:
                out[i] = heat[0]
                kinds.append("as a density heatmap")
            else:
                budget = max(200, max_points // max(1, len(marker_big)))
                keep = _extreme_indices(_numeric(_as_array(t.get("x"))),
                                        _numeric(_as_array(t.get("y"))))
                out[i] = _take(t, sample_indices(n, budget, keep), n)
                kinds.append("sampled, extremes kept")
        elif kind == "bar":
            out[i], _ = _reduce_bar(t, n)
            kinds.append("aggregated per category")
        elif kind in ("heatmap", "image", "surface", "contour"):
            continue  # already gridded
        else:
            vals = [_numeric(_as_array(t.get(k))) for k in ("x", "y")]
            out[i] = _take(t, sample_indices(n, max_points, _extreme_indices(*vals)), n)
            kinds.append("sampled, extremes kept")
    for group in hist_groups.values():
        _reduce_histograms(group, out)
        kinds.append("binned")
    info["kinds"] = list(dict.fromkeys(kinds))
    info["points"] = int(sum(_trace_len(t) for t in out))
    return out, info


def note_text(frame_rows: int, info: dict) -> str | None:
    if not info.get("kinds"):
        return None
    rows = frame_rows or info.get("raw_points", 0)
    return (f"{rows:,} rows shown as {info['points']:,} points, "
            f"{'; '.join(info['kinds'])}")


def add_note(layout: dict, note: str) -> None:
    """A small grey annotation at the top right of the plot area (visible in every renderer)."""
    anns = list(layout.get("annotations") or [])
    anns.append({"text": note, "xref": "paper", "yref": "paper", "x": 1, "y": 1,
                 "xanchor": "right", "yanchor": "bottom", "showarrow": False,
                 "font": {"size": 10, "color": "#777"}, "name": "anyviz-reduction-note"})
    layout["annotations"] = anns


def reduce_plotly_figure(fig, frame_rows: int = 0, max_points=None, reduce_rows=None):
    """go.Figure -> (JSON-ready dict with typed arrays, summary). Never copies the big arrays:
    the raw trace dicts are read, reduced copies are built, then base64-encoded."""
    from _plotly_utils.utils import convert_to_base64

    data, info = reduce_traces([dict(t) for t in fig._data], frame_rows, max_points,
                               reduce_rows)
    layout = copy.deepcopy(fig._layout)
    note = note_text(frame_rows, info)
    if note:
        add_note(layout, note)
    out = {"data": data, "layout": layout}
    frames = [dict(f._props) for f in fig._frame_objs]
    if frames:
        for fr in frames:
            if "data" in fr:
                fr["data"], _ = reduce_traces([dict(t) for t in fr["data"]], frame_rows,
                                              max_points, reduce_rows)
        out["frames"] = frames
    convert_to_base64(out)
    types = list(dict.fromkeys(t.get("type", "scatter") for t in data))
    summary = {"type": types, "traces": len(data), "points": info["points"],
               "rows": int(frame_rows), "reduced": note}
    return out, summary


def figure_json(fig_dict: dict) -> bytes:
    """orjson bytes of a reduced figure dict (NaN -> null, datetimes -> ISO strings)."""
    from plotly.io.json import to_json_plotly

    return to_json_plotly(fig_dict, engine="orjson").encode("utf-8")
