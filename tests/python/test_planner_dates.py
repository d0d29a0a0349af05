"""Dates written as text: %load reads common formats as dates (--dates / --no-dates), and the
planner treats date-like text as time when it is still text."""
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import pytest

from anyviz.data import dates, loader
from anyviz.errors import DataError
from anyviz.viz import planner


def _csv(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _weather_csv(tmp_path):
    days = pd.date_range("2012-01-01", periods=40, freq="D")
    rows = ["date,temp_max,weather,label"] + [
        f"{d:%Y/%m/%d},{10 + i % 7},{'rain' if i % 3 else 'sun'},{d:%b} {d.day} {d.year}"
        for i, d in enumerate(days)]
    return _csv(tmp_path, "weather.csv", "\n".join(rows) + "\n")


def test_load_reads_non_iso_dates_and_says_which_format(tmp_path):
    res = loader.read_file(_weather_csv(tmp_path), progress=False)
    assert pd.api.types.is_datetime64_any_dtype(res.df["date"])
    assert pd.api.types.is_datetime64_any_dtype(res.df["label"])  # "Jan 1 2012"
    assert res.df["date"].iloc[31] == pd.Timestamp("2012-02-01")
    assert any("date: dates written like '2012/01/01'" in n for n in res.notices)
    assert not pd.api.types.is_datetime64_any_dtype(res.df["weather"])


def test_no_dates_keeps_text_and_dates_forces_columns(tmp_path):
    path = _weather_csv(tmp_path)
    res = loader.read_file(path, progress=False, dates=None)
    assert not pd.api.types.is_datetime64_any_dtype(res.df["date"])
    res = loader.read_file(path, progress=False, dates=["date"])
    assert pd.api.types.is_datetime64_any_dtype(res.df["date"])
    assert not pd.api.types.is_datetime64_any_dtype(res.df["label"])


def test_dates_option_names_missing_or_bad_columns(tmp_path):
    path = _weather_csv(tmp_path)
    with pytest.raises(DataError, match="--dates names 'when'"):
        loader.read_file(path, progress=False, dates=["when"])
    with pytest.raises(DataError, match="--dates weather: 'sun', 'rain'"):
        loader.read_file(path, progress=False, dates=["weather"])


@pytest.mark.parametrize("values,fmt", [
    (["2012/01/31", "2012/02/01"], "%Y/%m/%d"),
    (["01/31/2012", "02/01/2012"], "%m/%d/%Y"),
    (["31/01/2012", "01/02/2012"], "%d/%m/%Y"),
    (["31.01.2012", "01.02.2012"], "%d.%m.%Y"),
    (["Jan 1 2000", "Feb 12 2000"], "%b %d %Y"),
    (["January 1, 2000", "March 3, 2001"], "%B %d, %Y"),
    (["1 Jan 2000", "12 Feb 2000"], "%d %b %Y"),
])
def test_one_format_per_column(values, fmt):
    assert dates.date_format(values) == fmt


def test_codes_and_numbers_are_not_dates():
    assert dates.date_format(["A-12", "B-7"]) is None
    assert dates.date_format(["12", "13"]) is None
    assert dates.date_format(["4:57.03", "4:56.96"]) is None


def test_load_magic_has_dates_options(tmp_path, bridge, clean_data_session):
    from anyviz import session
    from anyviz.data import magics

    path = _weather_csv(tmp_path)
    magics.load(f"{path} as w --no-dates")
    assert not pd.api.types.is_datetime64_any_dtype(session.user_ns["w"]["date"])
    magics.load(f"{path} as w2 --dates date")
    assert pd.api.types.is_datetime64_any_dtype(session.user_ns["w2"]["date"])
    assert not pd.api.types.is_datetime64_any_dtype(session.user_ns["w2"]["label"])
    magics.load(f"{path} as w3")
    assert pd.api.types.is_datetime64_any_dtype(session.user_ns["w3"]["date"])


@pytest.mark.parametrize("request_text", ["temperature over time", "temp_max by date", "temp max per month"])
def test_planner_treats_date_text_as_time(tmp_path, request_text):
    df = loader.read_file(_weather_csv(tmp_path), progress=False, dates=None).df
    plan = planner.plan_chart(df, request_text, frame_name="w")
    assert plan.spec.chart == "line"
    ns = {"df": df, "px": px, "pd": pd, "np": np, "go": go}
    exec(plan.code, ns)
    xs = pd.to_datetime(pd.Series(ns["fig"].data[0].x))
    assert xs.notna().all() and xs.is_monotonic_increasing
    assert len(xs) <= 40
