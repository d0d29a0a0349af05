"""Large-data first render: px never handles millions of rows, and the drawn line keeps the
data's own extremes. Covers the planner's generated reduction, the sandbox child's
pre-reduction of plain px.line/px.area calls, and the planner's cheap duplicate check."""
import base64

import numpy as np
import pandas as pd
import pytest

from anyviz.viz import planner

N = 120_000
LIMITS = dict(reduce_rows=20_000, max_points=500)


def values(trace, key):
    v = trace[key]
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v, dtype=float)


@pytest.fixture(scope="module")
def series():
    r = np.random.default_rng(3)
    y = r.normal(0, 1, N).cumsum() / 50
    spikes = r.choice(N, 12, replace=False)
    y[spikes[:6]] += 300.0
    y[spikes[6:]] -= 300.0
    df = pd.DataFrame({"t": pd.date_range("2021-01-01", periods=N, freq="s"), "v": y,
                       "g": np.where(np.arange(N) % 4 == 0, "a", "b")})
    return df, spikes


def test_plain_px_line_keeps_every_spike_and_the_envelope(g, series, monkeypatch):
    df, spikes = series
    r = g.run("fig = px.line(df, x='t', y='v')", {"df": df}, timeout=60, **LIMITS)
    assert r.status == "ok", r.message
    y = values(r.figure["data"][0], "y")
    assert len(y) <= LIMITS["max_points"]
    assert np.isin(df["v"].to_numpy()[spikes], y).all()
    assert y.min() == df["v"].min() and y.max() == df["v"].max()
    assert r.summary["reduced"].startswith(f"{N:,} rows shown as")


def test_grouped_line_keeps_each_groups_extremes(g, series):
    df, _ = series
    r = g.run("import plotly.express as px\nfig = px.line(df, x='t', y='v', color='g')",
              {"df": df}, timeout=60, **LIMITS)
    assert r.status == "ok", r.message
    by_name = {t["name"]: values(t, "y") for t in r.figure["data"]}
    for name, part in df.groupby("g"):
        assert by_name[name].max() == part["v"].max() and by_name[name].min() == part["v"].min()


def test_gaps_are_not_bridged(g, series):
    df, _ = series
    d = df.copy()
    d.loc[5000:5999, "v"] = np.nan  # a gap px draws as a break in the line
    r = g.run("fig = px.line(df, x='t', y='v')", {"df": d}, timeout=60, **LIMITS)
    assert r.status == "ok", r.message
    assert np.isnan(values(r.figure["data"][0], "y")).any()


def test_rows_to_draw_leaves_unusual_calls_alone(series):
    from anyviz.viz.px_rows import rows_to_draw

    df, _ = series
    assert rows_to_draw(df, "t", "v", {}, 20_000, 500) is not None
    assert rows_to_draw(df, "t", "v", {"animation_frame": "g"}, 20_000, 500) is None
    assert rows_to_draw(df, "t", df["v"].to_numpy(), {}, 20_000, 500) is None
    assert rows_to_draw(df, "t", "g", {}, 20_000, 500) is None  # text y
    assert rows_to_draw(df.head(1000), "t", "v", {}, 20_000, 500) is None  # small


def test_planner_code_reduces_before_px(g, series, monkeypatch):
    monkeypatch.setenv("ANYVIZ_REDUCE_ROWS", str(LIMITS["reduce_rows"]))
    monkeypatch.setenv("ANYVIZ_MAX_POINTS", str(LIMITS["max_points"]))
    df, spikes = series
    plan = planner.plan_chart(df, "line of v over t")
    assert "def extremes(" in plan.code and "slices" in plan.explanation
    r = g.run(plan.code, {"df": df}, timeout=60)
    assert r.status == "ok", r.message
    y = values(r.figure["data"][0], "y")
    assert np.isin(df["v"].to_numpy()[spikes], y).all()
    assert r.figure["layout"]["title"]["text"] == "v over t"


def test_planner_code_runs_the_same_outside_the_guard(series, monkeypatch):
    """The generated reduction is plain pandas/numpy: row for row what it claims to keep."""
    import plotly.express as px

    monkeypatch.setenv("ANYVIZ_REDUCE_ROWS", "20000")
    monkeypatch.setenv("ANYVIZ_MAX_POINTS", "500")
    df, _ = series
    shuffled = df.sample(frac=1.0, random_state=1)  # not in time order: the code must sort
    ns = {"df": shuffled, "pd": pd, "np": np, "px": px}
    exec(planner.plan_chart(shuffled, "line of v over t").code, ns)
    data = ns["data"]
    assert data["t"].is_monotonic_increasing and len(data) <= 4 * 500
    slices = np.array_split(df.sort_values("t")["v"].to_numpy(), 500)
    kept = set(data["v"].tolist())
    assert all(s.max() in kept and s.min() in kept for s in slices)


@pytest.mark.parametrize("make", [
    lambda n: pd.DataFrame({"k": np.arange(n)}),                      # sorted, unique
    lambda n: pd.DataFrame({"k": np.sort(np.r_[np.arange(n - 1), 7])}),  # sorted, one repeat
    lambda n: pd.DataFrame({"k": np.random.default_rng(0).permutation(n)}),  # unsorted, unique
    lambda n: pd.DataFrame({"k": np.random.default_rng(0).integers(0, n, n)}),  # many repeats
    lambda n: pd.DataFrame({"k": np.arange(n) % (n - 1), "j": 1}),     # last row repeats first
])
def test_has_duplicates_matches_pandas(make):
    df = make(300_001)
    keys = list(df.columns)
    assert planner._has_duplicates(df, keys) == bool(df.duplicated(subset=keys).any())
