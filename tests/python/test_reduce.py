"""Large-data reduction: faithful (spikes, sums, counts) and small (bundle bytes)."""
import base64

import numpy as np
import orjson
import pandas as pd
import plotly.express as px
import pytest

from anyviz.viz import reduce


def _values(v):
    """Decode a plotly typed array (or a plain list) back to numpy."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


def _roundtrip(fig, rows):
    d, summary = reduce.reduce_plotly_figure(fig, frame_rows=rows)
    raw = reduce.figure_json(d)
    return orjson.loads(raw), summary, len(raw)


@pytest.fixture(scope="module")
def series():
    n = 5_000_000
    rng = np.random.default_rng(42)
    y = rng.normal(0, 1, n).cumsum() / 100
    up = rng.choice(n, 25, replace=False)
    down = rng.choice(np.setdiff1d(np.arange(n), up), 25, replace=False)
    y[up] += 1000.0
    y[down] -= 1000.0
    df = pd.DataFrame({"t": pd.date_range("2020-01-01", periods=n, freq="s"), "v": y})
    return df, up, down


def test_5m_row_series_keeps_every_spike_and_stays_small(series):
    df, up, down = series
    fig = px.line(df, x="t", y="v", title="Sensor")
    out, summary, size = _roundtrip(fig, len(df))
    trace = out["data"][0]
    y = _values(trace["y"])
    assert len(y) <= 4000
    assert np.isin(df["v"].to_numpy()[up], y).all()
    assert np.isin(df["v"].to_numpy()[down], y).all()
    assert y.max() == df["v"].max() and y.min() == df["v"].min()
    # x values are the timestamps of exactly the kept points, as datetime strings
    x = pd.to_datetime(trace["x"])
    spike_times = df["t"].iloc[up]
    assert spike_times.isin(x).all()
    assert size < 2_000_000
    assert summary["reduced"] == f"5,000,000 rows shown as {len(y):,} points, extremes kept"
    notes = [a["text"] for a in out["layout"]["annotations"]]
    assert summary["reduced"] in notes


def test_minmax_indices_keep_bucket_extremes_on_random_data():
    rng = np.random.default_rng(1)
    y = rng.normal(size=100_003)
    idx = minmax = reduce.minmax_indices(y, 1000)
    assert len(idx) <= 1000 and np.all(np.diff(idx) > 0)
    assert idx[0] == 0 and idx[-1] == len(y) - 1
    assert y[minmax].max() == y.max() and y[minmax].min() == y.min()


def test_minmax_ignores_nan():
    y = np.full(50_000, np.nan)
    y[10_000] = 5.0
    y[20_000] = -5.0
    idx = reduce.minmax_indices(y, 400)
    assert 10_000 in idx and 20_000 in idx


def test_small_figures_are_untouched():
    df = pd.DataFrame({"x": np.arange(100), "y": np.arange(100) ** 2})
    out, summary, _ = _roundtrip(px.line(df, x="x", y="y"), 100)
    assert summary["reduced"] is None
    assert _values(out["data"][0]["y"]).tolist() == (np.arange(100) ** 2).tolist()
    assert not out["layout"].get("annotations")


def test_histogram_becomes_bar_of_numpy_counts():
    rng = np.random.default_rng(3)
    x = rng.normal(size=400_000)
    df = pd.DataFrame({"x": x})
    out, summary, size = _roundtrip(px.histogram(df, x="x", nbins=50), len(df))
    bar = out["data"][0]
    assert bar["type"] == "bar"
    counts = _values(bar["y"])
    edges = np.linspace(x.min(), x.max(), 51)
    expected, _ = np.histogram(x, bins=edges)
    assert counts.tolist() == expected.astype(float).tolist()
    assert counts.sum() == len(x)
    assert "binned" in summary["reduced"] and size < 50_000


def test_categorical_histogram_counts_equal_value_counts():
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"c": rng.choice(["a", "b", "c", "d"], 200_000)})
    out, _, _ = _roundtrip(px.histogram(df, x="c"), len(df))
    bar = out["data"][0]
    got = dict(zip(bar["x"], _values(bar["y"]).tolist()))
    assert got == df["c"].value_counts().astype(float).to_dict()


def test_raw_bars_are_aggregated_exactly_like_groupby():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"region": rng.choice(["north", "south", "east", "west"], 300_000),
                       "sales": rng.integers(0, 1000, 300_000).astype(float)})
    out, summary, _ = _roundtrip(px.bar(df, x="region", y="sales"), len(df))
    bar = out["data"][0]
    got = dict(zip(bar["x"], _values(bar["y"]).tolist()))
    assert got == df.groupby("region")["sales"].sum().to_dict()
    assert "aggregated" in summary["reduced"]


def test_dense_scatter_becomes_density_heatmap_with_all_points_counted():
    rng = np.random.default_rng(6)
    df = pd.DataFrame({"a": rng.normal(size=300_000), "b": rng.normal(size=300_000)})
    out, summary, size = _roundtrip(px.scatter(df, x="a", y="b"), len(df))
    heat = out["data"][0]
    assert heat["type"] == "heatmap"
    z = _values(heat["z"])
    assert np.nansum(z) == len(df)
    assert "density" in summary["reduced"] and size < 2_000_000


def test_coloured_scatter_is_sampled_per_trace_keeping_extremes():
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"a": rng.normal(size=200_000), "b": rng.normal(size=200_000),
                       "g": rng.choice(["p", "q"], 200_000)})
    out, summary, _ = _roundtrip(px.scatter(df, x="a", y="b", color="g"), len(df))
    assert [t["type"] for t in out["data"]] == ["scattergl", "scattergl"]  # px: >1000 pts
    for t in out["data"]:
        sub = df[df["g"] == t["name"]]
        xs = _values(t["x"])
        assert len(xs) <= 2100
        assert xs.max() == sub["a"].max() and xs.min() == sub["a"].min()
    assert "sampled" in summary["reduced"]


def test_thresholds_come_from_environment(monkeypatch):
    monkeypatch.setenv("ANYVIZ_MAX_POINTS", "500")
    df = pd.DataFrame({"x": np.arange(10_000.0), "y": np.sin(np.arange(10_000.0))})
    out, _, _ = _roundtrip(px.line(df, x="x", y="y"), len(df))
    assert len(_values(out["data"][0]["y"])) <= 500
