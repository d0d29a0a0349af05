"""Engine tables in DuckDB without a kernel (the fake bridge records what %load, %viz and
%profile publish): the planner's chart specification compiled to DuckDB draws the same numbers
as the planner's pandas code on the whole frame, the preview reads no more than it shows, and
bad input leaves the session as it was."""
import os

import numpy as np
import pandas as pd
import pytest

from engine_cases import (REQUESTS, assert_same_drawing, folder, pandas_figure,  # noqa: F401
                          sales, sales_df)


def _engine_figure(frame, spec):
    from anyviz.engines import compile as compiler
    from anyviz.engines import run, viz

    return viz.draw(compiler.compile_chart(frame, spec, run.execute))


@pytest.mark.parametrize("request_text", REQUESTS)
def test_engine_chart_draws_the_same_numbers_as_pandas(sales, sales_df, request_text):
    from anyviz.viz import planner

    plan = planner.plan_chart(sales_df, request_text, frame_name="df")
    expected = pandas_figure(sales_df, plan.code)
    got = _engine_figure(sales, plan.to_dict())
    assert_same_drawing(got, expected, request_text)


def test_load_binds_a_lazy_table_and_previews_without_reading_rows(sales, bridge, folder):
    from anyviz import session
    from anyviz.engines import LazyFrame

    assert isinstance(sales, LazyFrame) and sales.engine == "duckdb"
    assert session.current_frame == "sales"
    assert sales.rows_known == 30_000  # from Parquet metadata, shown in the preview
    text = bridge.of_type("display_data")[-1]["data"]["text/plain"]
    assert "sales: 30,000 rows × 5 columns in duckdb" in text
    assert "Lazy table" in text
    assert sales.columns == ["ts", "region", "product", "revenue", "qty"]


def test_viz_api_plans_and_renders_an_engine_chart(sales, bridge):
    from anyviz.viz import api

    plan = api.plan({"frame": "sales", "request": "total revenue by region"})
    assert "computed in duckdb over all 30,000 rows" in plan["explanation"]
    assert "chart(sales," in plan["code"]
    shown = api.render({"frame": "sales", "code": plan["code"],
                        "explanation": plan["explanation"]})
    assert shown["status"] == "ok", shown
    figure = bridge.of_type("display_data")[-2]["data"]["application/vnd.plotly.v1+json"]
    assert figure["data"][0]["type"] == "bar"
    # %customize edits the small drawn frame's chart, not the lazy table
    assert api._last["frame"] == "sales" and len(api._last["data"]) == 4


def test_llm_code_is_refused_on_an_engine_table_with_the_reason(sales):
    from anyviz.viz import api

    shown = api.render({"frame": "sales", "code": "fig = px.bar(df)"})
    assert shown["status"] == "error"
    assert "table in duckdb" in shown["message"]
    context = api.context({"frame": "sales"})
    assert "built-in planner" in context["engine_note"]


def test_split_frame_recognises_an_engine_table(sales):
    from anyviz.viz import api

    out = api.split_frame({"request": "sales revenue by region"})
    assert out == {"frame": "sales", "request": "revenue by region"}


def test_long_line_is_reduced_in_the_engine_keeping_every_extreme(sales, sales_df, monkeypatch):
    from anyviz.engines import compile as compiler

    monkeypatch.setattr(compiler, "RAW_ROWS", 1_000)
    spec = {"chart": "line", "x": "ts", "y": "revenue", "reduce_points": 200}
    fig = _engine_figure(sales, spec)
    y = np.asarray(fig.data[0].y, dtype=float)
    assert len(y) <= 4 * 200 < len(sales_df)
    assert y.max() == sales_df["revenue"].max()
    assert y.min() == sales_df["revenue"].min()


def test_long_line_slices_are_the_ones_pandas_cuts(sales, sales_df, monkeypatch):
    """The engine's slices along a time axis start at the first timestamp and end at the last
    (bounds read as stored, converted like the engine converts them): each slice's first and
    last point, lowest and highest value are those pandas finds with the same cut."""
    from anyviz.engines import compile as compiler

    monkeypatch.setattr(compiler, "RAW_ROWS", 1_000)
    fig = _engine_figure(sales, {"chart": "line", "x": "ts", "y": "revenue",
                                 "reduce_points": 200})
    seconds = sales_df["ts"].astype("datetime64[ns]").astype("int64") / 1e9
    lo, hi = seconds.min(), seconds.max()
    cut = np.minimum(np.floor((seconds - lo) * (200 / (hi - lo))), 199)
    rows = sales_df.assign(_b=cut).dropna(subset=["revenue"])
    ends, values = set(), set()
    for _, g in rows.groupby("_b"):
        ends |= {str(g["ts"].min()), str(g["ts"].max())}
        values |= {g["revenue"].min(), g["revenue"].max(),
                   g.loc[g["ts"].idxmin(), "revenue"], g.loc[g["ts"].idxmax(), "revenue"]}
    drawn_x = {str(pd.Timestamp(v)) for v in fig.data[0].x}
    assert ends <= drawn_x
    assert set(np.asarray(fig.data[0].y, dtype=float).tolist()) == values


def test_histogram_bins_are_counted_in_the_engine(sales, sales_df):
    fig = _engine_figure(sales, {"chart": "histogram", "x": "revenue"})
    counts, edges = np.histogram(sales_df["revenue"].dropna(), bins=50)
    got = dict(zip(np.round(np.asarray(fig.data[0].x, dtype=float), 6),
                   np.asarray(fig.data[0].y, dtype=int)))
    centers = np.round((edges[:-1] + edges[1:]) / 2, 6)
    want = {c: n for c, n in zip(centers, counts) if n}
    assert sum(got.values()) == counts.sum()
    assert got == want


def test_profile_is_computed_in_the_engine(sales, sales_df, bridge):
    from anyviz.data import magics

    magics.profile("sales")
    data = bridge.of_type("display_data")[-1]["data"]
    facts = data["application/vnd.anyviz.profile+json"]
    assert facts["rows"] == 30_000 and facts["engine"] == "duckdb"
    by_name = {v["name"]: v for v in facts["variables"]}
    rev = by_name["revenue"]
    assert rev["missing"] == int(sales_df["revenue"].isna().sum())
    assert rev["min"] == sales_df["revenue"].min() and rev["max"] == sales_df["revenue"].max()
    assert rev["mean"] == pytest.approx(sales_df["revenue"].mean())
    assert rev["quantiles"]["50%"] == pytest.approx(sales_df["revenue"].median(), rel=0.05)
    assert by_name["region"]["distinct"] == 4
    top = sales_df["region"].value_counts()
    assert by_name["region"]["top"][0] == {"value": top.index[0], "count": int(top.iloc[0])}
    assert "estimates" in data["text/plain"]


def test_duckdb_file_and_url_load_a_table(tmp_path, bridge, clean_data_session, sales_df):
    import duckdb

    from anyviz import session
    from anyviz.data import magics

    db = str(tmp_path / "shop.duckdb")
    con = duckdb.connect(db)
    con.register("src", sales_df)
    con.execute("CREATE TABLE orders AS SELECT * FROM src")
    con.execute("CREATE TABLE other AS SELECT 1 AS x")
    con.close()
    magics.load(f"duckdb://{db}/orders")
    assert session.user_ns["orders"].count() == len(sales_df)
    with pytest.raises(Exception) as err:
        magics.load(db)  # two tables: the user must name one
    assert "2 tables" in str(err.value) and "orders" in str(err.value)


def test_bad_input_says_what_is_wrong_and_keeps_what_was_loaded(tmp_path, sales, bridge):
    from anyviz import session
    from anyviz.data import magics
    from anyviz.errors import DataError

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "part-0.parquet").write_bytes(b"this is not parquet at all" * 10)
    with pytest.raises(DataError) as err:
        magics.load(f"--engine duckdb {bad} as broken")
    assert "valid Parquet" in str(err.value)
    with pytest.raises(DataError) as err:
        magics.load(f"duckdb://{tmp_path / 'missing.duckdb'}/t")
    assert "No DuckDB database" in str(err.value)
    assert "broken" not in session.user_ns
    assert session.user_ns["sales"] is sales and sales.count() == 30_000


def test_load_goes_lazy_above_the_threshold_only(folder, monkeypatch):
    from anyviz.engines import loading

    part = os.path.join(folder, "part-0.parquet")
    monkeypatch.setenv("ANYVIZ_LAZY_THRESHOLD_MB", "100")
    assert not loading.wants(part)
    assert loading.wants(folder)  # a folder of parts is one table
    assert loading.wants(f"{part} --engine duckdb")
    assert not loading.wants(f"{part} --engine pandas")
    monkeypatch.setenv("ANYVIZ_LAZY_THRESHOLD_MB", "0.01")
    assert loading.wants(part)
    assert loading.wants("spark://cluster:7077/sales") and loading.wants("sc://h:15002/t")


@pytest.mark.parametrize("request_text", [
    "total revenue per month",                      # empty periods drawn as 0
    "number of rows per week",
    "total revenue by region where product is P1 or P2",
    "number of rows by region where product contains 1",
    "total revenue by region for rows where revenue is missing",  # sum of nothing is 0
])
def test_more_planner_specs_match_pandas(sales, sales_df, request_text):
    from anyviz.viz import planner

    plan = planner.plan_chart(sales_df, request_text, frame_name="df")
    assert_same_drawing(_engine_figure(sales, plan.to_dict()), pandas_figure(sales_df, plan.code),
                        request_text)


def test_profile_quantiles_come_from_a_sample_on_big_tables(sales, sales_df, bridge,
                                                            monkeypatch):
    from anyviz.data import magics
    from anyviz.engines import profile

    monkeypatch.setattr(profile, "QUANTILE_SAMPLE_ROWS", 5_000)
    magics.profile("sales")
    data = bridge.of_type("display_data")[-1]["data"]
    facts = data["application/vnd.anyviz.profile+json"]
    rev = {v["name"]: v for v in facts["variables"]}["revenue"]
    assert rev["quantiles_approx"] is True
    assert rev["quantiles"]["50%"] == pytest.approx(sales_df["revenue"].median(), rel=0.1)
    assert "quantiles from a random sample of about 5,000 rows" in data["text/plain"]


def test_frames_lists_engine_tables(sales, bridge):
    from anyviz.data import magics

    magics.frames("")
    text = bridge.of_type("display_data")[-1]["data"]["text/plain"]
    assert "*sales" in text and "30,000 × 5" in text and "in duckdb" in text


@pytest.mark.parametrize("request_text", REQUESTS + [
    "distribution of revenue", "revenue over time", "revenue by region as a box plot",
    "share of revenue by region as a pie chart"])
def test_the_same_chart_again_is_published_exactly_as_first_drawn(sales, bridge, request_text,
                                                                   monkeypatch):
    """A chart whose engine result is unchanged is rebuilt from the figure kept the first
    time instead of through Plotly Express: what the front end receives is identical."""
    from anyviz.engines import compile as compiler
    from anyviz.engines import viz
    from anyviz.viz import api

    viz.drawn.clear()
    # One engine run for both charts: a float aggregate computed in parallel may differ in
    # its last bits between runs, and a different result is (rightly) drawn anew.
    results = {}
    real_compile = compiler.compile_chart

    def once(frame, spec, execute):
        key = repr(spec)
        if key not in results:
            results[key] = real_compile(frame, spec, execute)
        return results[key]

    monkeypatch.setattr(compiler, "compile_chart", once)
    published = []
    for _ in range(2):
        plan = api.plan({"frame": "sales", "request": request_text})
        assert api.render({"frame": "sales", "code": plan["code"]})["status"] == "ok"
        chart = [c for c in bridge.of_type("display_data")
                 if "application/vnd.plotly.v1+json" in c["data"]][-1]
        html = chart["data"]["text/html"]
        published.append((chart["data"]["application/vnd.plotly.v1+json"],
                          chart["data"]["text/plain"], chart["metadata"]["anyviz"]["summary"],
                          html[html.find("var spec"):].split("\n", 1)[0]))
    assert len(viz.drawn._entries) == 1  # the second chart came from the kept figure
    assert published[0] == published[1]


def test_a_changed_engine_result_is_drawn_anew(sales, bridge, monkeypatch):
    from anyviz.engines import compile as compiler
    from anyviz.engines import viz
    from anyviz.viz import api

    viz.drawn.clear()
    calls = []
    real_draw = viz.draw
    monkeypatch.setattr(viz, "draw", lambda compiled: calls.append(1) or real_draw(compiled))
    monkeypatch.setattr(viz.drawn, "limit", 1)  # the newest figure only
    plan = api.plan({"frame": "sales", "request": "number of rows by product"})
    api.render({"frame": "sales", "code": plan["code"]})
    api.render({"frame": "sales", "code": plan["code"]})
    assert len(calls) == 1  # an exact count: the same result, shown again
    real_compile = compiler.compile_chart

    def doubled(frame, spec, execute):
        out = real_compile(frame, spec, execute)
        out.data = out.data.assign(count=out.data["count"] * 2)
        return out

    monkeypatch.setattr(compiler, "compile_chart", doubled)
    api.render({"frame": "sales", "code": plan["code"]})
    assert len(calls) == 2
    first, second = [c["data"]["application/vnd.plotly.v1+json"]["data"][0]
                     for c in bridge.of_type("display_data")
                     if "application/vnd.plotly.v1+json" in c["data"]][-2:]
    assert first["x"] == second["x"] and first["y"] != second["y"]


def test_the_planner_reads_a_table_once_per_request(sales, monkeypatch):
    from anyviz.viz import api, planner

    calls = []
    real = planner.plan_chart
    monkeypatch.setattr(planner, "plan_chart",
                        lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    first = api.plan({"frame": "sales", "request": "number of rows by product"})
    again = api.plan({"frame": "sales", "request": "number of rows by product"})
    assert calls == ["number of rows by product"]
    assert again == first
    api.plan({"frame": "sales", "request": "total qty by weekday"})
    monkeypatch.setenv("ANYVIZ_MAX_POINTS", "1234")  # settings the planner reads: planned anew
    api.plan({"frame": "sales", "request": "number of rows by product"})
    assert calls == ["number of rows by product", "total qty by weekday",
                     "number of rows by product"]
