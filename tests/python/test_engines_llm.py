"""The LLM path for engine tables, without a kernel: the LLM (a scripted fake `complete`) is
shown the table's schema and answers with a chart specification; the specification is checked
against the table and drawn by the same compiler as the planner's, with one repair round for an
unusable answer. The prompt never carries rows, and the LLM's text never becomes code or markup.
"""
import base64
import json

import numpy as np
import pandas as pd
import pytest

from engine_cases import folder, sales, sales_df  # noqa: F401 - shared fixtures

PLOTLY = "application/vnd.plotly.v1+json"


def chart_from_llm(name, request, hints, complete):
    """The engine layer's LLM chart, drawn through the chart package's render step (as the
    pipeline calls it)."""
    from anyviz.engines import viz
    from anyviz.viz import api

    return viz.chart_from_llm(name, request, hints, complete, render=api.render)


class FakeLLM:
    """`complete(messages) -> str` answering from a script; records every conversation."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.calls = []

    def __call__(self, messages):
        self.calls.append([dict(m) for m in messages])
        reply = self.replies.pop(0)
        return reply if isinstance(reply, str) else json.dumps(reply)


def _figure(bridge):
    return [c["data"][PLOTLY] for c in bridge.of_type("display_data")
            if PLOTLY in c.get("data", {})][-1]


def _values(v) -> list:
    """Plotly's typed arrays ({"dtype", "bdata"}) or plain lists, as a list."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def _bars(figure) -> dict:
    trace = figure["data"][0]
    return dict(zip(_values(trace["x"]), _values(trace["y"])))


def test_llm_spec_is_computed_in_the_engine_and_drawn(sales, sales_df, bridge):
    from anyviz.viz import api

    llm = FakeLLM({"chart": "bar", "x": "region", "y": "revenue", "agg": "sum",
                   "sort": "desc", "title": "Revenue by region",
                   "explanation": "Sum of revenue per region.",
                   "alternatives": ["average revenue by month"]})
    shown = chart_from_llm("sales", "revenue per region", {}, llm)
    assert shown["status"] == "ok", shown
    expected = sales_df.groupby("region")["revenue"].sum()
    bars = _bars(_figure(bridge))
    assert bars.keys() == set(expected.index)
    for region, total in expected.items():
        assert bars[region] == pytest.approx(total)
    assert "chart(sales," in shown["code"] and "'agg': 'sum'" in shown["code"]
    assert shown["explanation"] == "Sum of revenue per region."
    info = bridge.of_type("display_data")[-1]["data"]["text/plain"]
    assert "computed in duckdb over all 30,000 rows" in info
    assert len(llm.calls) == 1
    # %customize edits this chart next: the small drawn frame is kept
    assert api._last["frame"] == "sales" and len(api._last["data"]) == 4


def test_prompt_has_quoted_names_and_types_but_no_rows(sales, sales_df):

    llm = FakeLLM({"chart": "histogram", "x": "qty"})
    chart_from_llm("sales", "distribution of qty", {"type": "histogram"}, llm)
    system, user = llm.calls[0]
    assert "JSON object" in system["content"]
    text = user["content"]
    assert "'region': text" in text and "'revenue': number" in text
    assert "'ts': timestamp" in text and "30,000 rows" in text
    assert "Request: distribution of qty" in text and "type='histogram'" in text
    for value in [*sales_df["region"].unique(), str(sales_df["revenue"].iloc[1])]:
        assert value not in text


def test_unknown_column_gets_one_repair_with_the_reason(sales, bridge):

    llm = FakeLLM({"chart": "bar", "x": "country", "y": "revenue", "agg": "sum"},
                  "```json\n{\"chart\": \"bar\", \"x\": \"region\", \"agg\": \"count\"}\n```")
    shown = chart_from_llm("sales", "rows per country", {}, llm)
    assert shown["status"] == "ok"
    repair = llm.calls[1][-1]["content"]
    assert "'x' names no column of the table: 'country'" in repair
    assert "'region'" in repair  # the columns it may use
    assert llm.calls[1][-2] == {"role": "assistant",
                                "content": json.dumps({"chart": "bar", "x": "country",
                                                       "y": "revenue", "agg": "sum"})}
    assert sum(_bars(_figure(bridge)).values()) == 30_000
    info = bridge.of_type("display_data")[-1]["data"]["text/plain"]
    assert "Repaired after 1 unusable answer" in info


@pytest.mark.parametrize("bad, reason", [
    ("Sure! Here is a nice bar chart of revenue.", "no JSON object"),
    ("{\"chart\": \"bar\", \"x\": }", "not valid JSON"),
    ({"chart": "sunburst", "x": "region"}, "'chart' must be one of"),
    ({"chart": "bar", "x": "region", "y": "revenue", "agg": "stddev"}, "'agg' must be one of"),
    ({"chart": "bar", "x": "region", "y": "region", "agg": "sum"}, "must be a number column"),
    ({"chart": "bar", "x": "ts", "y": "revenue", "agg": "sum"}, "give 'bin'"),
    ({"chart": "bar", "x": "region", "agg": "count", "code": "import os"}, "unknown keys"),
    ({"chart": "bar", "x": "region", "agg": "count",
      "filters": [{"column": "region", "op": "; DROP TABLE", "value": 1}]},
     "filters[0].op"),
    ({"chart": "bar", "x": "region", "agg": "count", "top": {"n": 10 ** 9}}, "'top' must be"),
])
def test_unusable_answers_twice_raise_for_the_planner_to_take_over(sales, bad, reason):
    from anyviz.engines.llm_spec import SpecError

    llm = FakeLLM(bad, bad)
    with pytest.raises(SpecError) as err:
        chart_from_llm("sales", "a chart", {}, llm)
    assert "unusable twice" in str(err.value) and reason in str(err.value)
    assert len(llm.calls) == 2


def test_time_bins_filters_and_top_n_match_pandas(sales, sales_df, bridge):

    llm = FakeLLM({"chart": "line", "x": "ts", "y": "revenue", "agg": "mean",
                   "bin": {"column": "ts", "unit": "month"},
                   "filters": [{"column": "region", "op": "in", "value": ["North", "East"]}]})
    assert chart_from_llm("sales", "monthly mean revenue north and east", {}, llm)["status"] \
        == "ok"
    kept = sales_df[sales_df["region"].isin(["North", "East"])]
    expected = kept.groupby(kept["ts"].dt.to_period("M").dt.start_time)["revenue"].mean()
    trace = _figure(bridge)["data"][0]
    got = pd.Series(_values(trace["y"]), index=pd.to_datetime(_values(trace["x"])))
    assert list(got.index) == list(expected.index)
    assert got.to_numpy() == pytest.approx(expected.to_numpy())

    llm = FakeLLM({"chart": "bar", "x": "product", "y": "qty", "agg": "sum",
                   "top": {"n": 3, "order": "desc"}})
    chart_from_llm("sales", "top 3 products by qty", {}, llm)
    expected = sales_df.groupby("product")["qty"].sum().nlargest(3)
    assert _bars(_figure(bridge)) == pytest.approx(expected.to_dict())


def test_user_hints_win_over_the_llm(sales, bridge):

    llm = FakeLLM({"chart": "bar", "x": "region", "y": "revenue", "agg": "sum"})
    chart_from_llm("sales", "revenue", {"agg": "max", "x": "product"}, llm)
    figure = _figure(bridge)
    assert set(_bars(figure)) == {f"P{i}" for i in range(12)}


def test_too_many_groups_is_a_message_not_millions_of_bars(sales, monkeypatch):
    from anyviz.engines import llm_spec

    monkeypatch.setattr(llm_spec, "MAX_MARKS", 100)
    spec = {"chart": "bar", "x": "revenue", "agg": "count"}
    llm = FakeLLM(spec, spec)
    with pytest.raises(llm_spec.SpecError, match="over 100 groups"):
        chart_from_llm("sales", "count by revenue", {}, llm)
    assert "groups: group by a column with fewer values" in llm.calls[1][-1]["content"]


def test_llm_text_is_plain_in_the_chart_and_escaped_in_html(sales, bridge):

    llm = FakeLLM({"chart": "bar", "x": "region", "agg": "count",
                   "title": "<a href='javascript:alert(1)'>click</a>",
                   "explanation": "<img src=x onerror=alert(1)> counts",
                   "alternatives": ["<script>alert(2)</script>"]})
    chart_from_llm("sales", "rows per region", {}, llm)
    title = _figure(bridge)["layout"]["title"]["text"]
    assert "<" not in title and ">" not in title
    html = bridge.of_type("display_data")[-1]["data"]["text/html"]
    assert "<img" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; counts" in html


def test_errors_from_the_llm_call_propagate(sales):
    from anyviz.errors import LLMError

    def failing(messages):
        raise LLMError("the LLM timed out", kind="timeout")

    with pytest.raises(LLMError, match="timed out"):
        chart_from_llm("sales", "revenue by region", {}, failing)


def test_more_colours_than_a_chart_can_tell_apart_are_refused(sales, monkeypatch):
    from anyviz.engines import compile as compiler
    from anyviz.engines import llm_spec

    monkeypatch.setattr(compiler, "MAX_SERIES", 5)
    spec = {"chart": "bar", "x": "region", "agg": "count", "color": "product"}
    llm = FakeLLM(spec, spec)
    with pytest.raises(llm_spec.SpecError, match="over 5 colours"):
        chart_from_llm("sales", "count by region and revenue", {}, llm)


# ------------------------------------------------------------------ the chart cache
@pytest.fixture
def chart_cache(tmp_path, monkeypatch):
    """The chart cache on a fresh disk folder (no Redis): the store the pipeline shares."""
    monkeypatch.setenv("ANYVIZ_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ANYVIZ_REDIS_URL", raising=False)
    from anyviz.viz import cache

    return cache


MODEL = {"provider": "openai", "model": "fake-model"}
REVENUE_BY_REGION = {"chart": "bar", "x": "region", "y": "revenue", "agg": "sum",
                     "explanation": "Sum of revenue per region."}


def cached_chart(name, request, llm, **cache):
    from anyviz.engines import viz
    from anyviz.viz import api

    return viz.chart_from_llm(name, request, {}, llm, render=api.render,
                              cache=dict(MODEL, **cache))


def test_a_cached_spec_is_drawn_again_without_asking_the_llm(sales, sales_df, bridge,
                                                             chart_cache):
    from anyviz import metrics

    first = FakeLLM(REVENUE_BY_REGION)
    shown = cached_chart("sales", "revenue per region", first)
    assert shown["status"] == "ok" and not shown.get("cached") and len(first.calls) == 1
    metrics.drain()

    again = FakeLLM()  # no scripted answer: any LLM call fails the test
    shown = cached_chart("sales", "revenue per region", again)
    assert shown["status"] == "ok" and shown["cached"] is True and again.calls == []
    assert shown["explanation"] == "Sum of revenue per region."
    expected = sales_df.groupby("region")["revenue"].sum()
    assert _bars(_figure(bridge)) == pytest.approx(expected.to_dict())
    assert chart_cache.stats()["hits"] >= 1
    counted = {m["name"]: m["value"] for m in metrics.drain()}
    assert counted.get(metrics.CACHE_HITS) == 1 and metrics.CACHE_MISSES not in counted

    # Another request, another model or `--no-cache` (read False) asks the LLM.
    for request, cache in (("revenue per product", {}), ("revenue per region",
                                                         {"model": "other-model"}),
                           ("revenue per region", {"read": False})):
        llm = FakeLLM({"chart": "bar", "x": "product", "agg": "count"})
        assert cached_chart("sales", request, llm, **cache)["status"] == "ok"
        assert len(llm.calls) == 1, (request, cache)


def test_a_cached_spec_that_no_longer_validates_is_a_miss(sales, sales_df, bridge,
                                                          chart_cache):
    from anyviz.engines import llm_spec

    key = llm_spec.cache_key(sales, "revenue per region", {}, MODEL["provider"],
                             MODEL["model"])
    chart_cache.put(key, llm_spec.cache_value({"chart": "bar", "x": "country",
                                               "agg": "count"}))
    llm = FakeLLM(REVENUE_BY_REGION)
    shown = cached_chart("sales", "revenue per region", llm)
    assert shown["status"] == "ok" and not shown.get("cached") and len(llm.calls) == 1
    assert set(_bars(_figure(bridge))) == set(sales_df["region"].unique())
    # The good answer replaced the stale entry.
    assert llm_spec.cached_spec(chart_cache.get(key))["x"] == "region"


def test_changed_files_or_schema_are_a_miss(sales_df, bridge, clean_data_session, tmp_path,
                                            chart_cache):
    from anyviz import session
    from anyviz.data import magics
    from engine_cases import write_parts

    folder = write_parts(sales_df, str(tmp_path / "t"))
    magics.load(f"--engine duckdb {folder} as t")
    assert cached_chart("t", "revenue per region", FakeLLM(REVENUE_BY_REGION))["status"] == "ok"
    assert cached_chart("t", "revenue per region", FakeLLM())["cached"] is True

    # Same schema, new rows in one part: the table's identity changed, the LLM is asked.
    write_parts(sales_df.assign(revenue=sales_df["revenue"] * 2), folder)
    llm = FakeLLM(REVENUE_BY_REGION)
    assert not cached_chart("t", "revenue per region", llm).get("cached")
    assert len(llm.calls) == 1
    expected = (sales_df["revenue"] * 2).groupby(sales_df["region"]).sum()
    assert _bars(_figure(bridge)) == pytest.approx(expected.to_dict())

    # Reloaded with a renamed column: the old answer is not reused.
    write_parts(sales_df.rename(columns={"revenue": "amount"}), folder)
    magics.load(f"--engine duckdb {folder} as t")
    assert "amount" in session.user_ns["t"].columns
    llm = FakeLLM({"chart": "bar", "x": "region", "y": "amount", "agg": "sum"})
    assert not cached_chart("t", "revenue per region", llm).get("cached")
    assert len(llm.calls) == 1


def test_table_identity_follows_the_files(sales, folder, tmp_path):
    import os

    before = sales.identity()
    assert before["engine"] == "duckdb" and len(before["files"]) == 3
    assert before["schema"]["revenue"].startswith("float")
    assert sales.identity() == before
    part = os.path.join(folder, "part-0.parquet")
    stat = os.stat(part)
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    try:
        assert sales.identity() != before
    finally:
        os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns))
