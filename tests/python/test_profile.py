"""%profile facts checked against pandas on a known frame, alerts, and the three outputs."""
import json
import re

import numpy as np
import plotly.data as pdata
import pandas as pd
import pytest

from anyviz import session
from anyviz.data import magics
from anyviz.data import profile as prof
from anyviz.data import profile_render as render
from anyviz.errors import DataError, UsageError


pytestmark = pytest.mark.usefixtures("clean_data_session")


@pytest.fixture(scope="module")
def known():
    r = np.random.default_rng(7)
    n = 5000
    df = pd.DataFrame({
        "id": np.arange(n),
        "x": r.normal(10, 3, n),
        "y": np.nan,
        "skewed": r.lognormal(0, 2, n),
        "const": 4,
        "city": pd.array(r.choice(["Berlin", "Paris", "Rome", None], n, p=[.5, .3, .15, .05]),
                         dtype="str"),
        "email": pd.array([f"user{i}@x.org" for i in r.permutation(n)], dtype="str"),
        "amount_text": pd.array(r.integers(0, 500, n).astype(str), dtype="str"),
        "date_text": pd.array(pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M"),
                              dtype="str"),
        "when": pd.date_range("2023-01-01", periods=n, freq="D"),
        "flag": r.random(n) < 0.25,
    })
    df["y"] = df["x"] * 2 + r.normal(0, 0.1, n)
    df.loc[r.random(n) < 0.6, "y"] = np.nan  # mostly missing, correlated with x
    df = pd.concat([df, df.iloc[:7]], ignore_index=True)  # 7 duplicate rows
    return df


@pytest.fixture(scope="module")
def facts(known):
    return prof.profile_frame(known, name="known")


def var(facts, name):
    return next(v for v in facts["variables"] if v["name"] == name)


def test_frame_level_facts(known, facts):
    assert facts["rows"] == len(known) and facts["columns"] == known.shape[1]
    assert facts["duplicate_rows"] == int(known.duplicated().sum()) == 7
    assert facts["memory_bytes"] == int(known.memory_usage(deep=True).sum())


def test_numeric_facts_match_pandas(known, facts):
    for col in ("x", "y", "skewed", "id"):
        v, s = var(facts, col), known[col]
        assert v["kind"] == "numeric"
        assert v["count"] == s.count() and v["missing"] == s.isna().sum()
        assert v["distinct"] == s.nunique()
        assert v["mean"] == pytest.approx(s.mean(), rel=1e-9)
        assert v["std"] == pytest.approx(s.std(), rel=1e-9)
        assert v["min"] == s.min() and v["max"] == s.max()
        assert v["skew"] == pytest.approx(s.skew(), rel=1e-6)
        for q in (0.05, 0.25, 0.5, 0.75, 0.95):
            assert v["quantiles"][f"{int(q * 100)}%"] == pytest.approx(s.quantile(q), rel=1e-9)
        assert sum(v["histogram"]["counts"]) == s.count()
    assert var(facts, "y")["missing_pct"] == pytest.approx(100 * known["y"].isna().mean())


def test_text_facts_match_pandas(known, facts):
    v, s = var(facts, "city"), known["city"]
    vc = s.value_counts()
    assert v["distinct"] == s.nunique() == 3
    assert [t["value"] for t in v["top"]] == list(vc.index)
    assert [t["count"] for t in v["top"]] == vc.tolist()
    assert v["missing"] == s.isna().sum()
    lengths = s.dropna().str.len()
    assert (v["length_min"], v["length_max"]) == (lengths.min(), lengths.max())
    assert v["length_mean"] == pytest.approx(lengths.mean())


def test_datetime_and_boolean_facts(known, facts):
    v = var(facts, "when")
    assert v["kind"] == "datetime"
    assert pd.Timestamp(v["min"]) == known["when"].min()
    assert pd.Timestamp(v["max"]) == known["when"].max()
    assert v["range_days"] == (known["when"].max() - known["when"].min()).days
    b = var(facts, "flag")
    assert b["kind"] == "boolean"
    assert {t["value"]: t["count"] for t in b["top"]} == known["flag"].value_counts().to_dict()


def test_correlations_match_pandas(known, facts):
    top = facts["correlations"][0]
    assert {top["a"], top["b"]} == {"x", "y"}
    expected = known[["x", "y"]].corr().loc["x", "y"]
    assert top["r"] == pytest.approx(expected, abs=1e-4)


def test_alerts(facts):
    kinds = {(a["column"], a["kind"]) for a in facts["alerts"]}
    assert ("const", "constant") in kinds
    assert ("y", "mostly_missing") in kinds
    assert ("skewed", "skewed") in kinds
    assert ("amount_text", "numbers_as_text") in kinds
    assert ("date_text", "dates_as_text") in kinds
    assert ("email", "high_cardinality") in kinds or ("email", "likely_id") in kinds
    assert (None, "duplicates") in kinds
    assert ("x", "skewed") not in kinds and ("city", "high_cardinality") not in kinds


def test_likely_id_alert():
    df = pd.DataFrame({"order_id": np.arange(100, 200), "v": np.ones(100)})
    f = prof.profile_frame(df)
    assert ("order_id", "likely_id") in {(a["column"], a["kind"]) for a in f["alerts"]}


def test_magic_outputs_html_json_text(bridge, known):
    session.user_ns["known"] = known
    session.set_current_frame("known")
    magics.profile("")  # defaults to the current frame
    data = bridge.of_type("display_data")[-1]["data"]
    assert set(data) == {"text/html", "application/vnd.anyviz.profile+json", "text/plain"}
    html = data["text/html"]
    assert "<script" not in html.lower() and "<svg" in html and "Profile of known" in html
    assert "javascript:" not in html.lower() and " on" + "load=" not in html
    facts = data["application/vnd.anyviz.profile+json"]
    json.dumps(facts, allow_nan=False)  # NaN free
    assert facts["duplicate_rows"] == 7 and var(facts, "y")["count"] == known["y"].count()
    assert "ALERT: const has a single value" in data["text/plain"]


def test_columns_option_and_errors(bridge, known):
    session.user_ns["known"] = known
    magics.profile("known --columns x,city")
    facts = bridge.of_type("display_data")[-1]["data"]["application/vnd.anyviz.profile+json"]
    assert [v["name"] for v in facts["variables"]] == ["x", "city"]
    with pytest.raises(DataError, match="has no column\\(s\\) nope"):
        magics.profile("known --columns x,nope")
    with pytest.raises(DataError, match="missing_frame does not exist"):
        magics.profile("missing_frame")
    session.user_ns["notframe"] = 3
    with pytest.raises(DataError, match="notframe is a int, not a DataFrame"):
        magics.profile("notframe")
    with pytest.raises(UsageError, match="unrecognized arguments"):
        magics.profile("known --bins 3")


def test_no_current_frame(bridge):
    with pytest.raises(UsageError, match="no frame to profile yet"):
        magics.profile("")


def test_edge_frames_do_not_crash():
    df = pd.DataFrame({"empty": pd.Series([], dtype="float64"), "s": pd.Series([], dtype="str")})
    f = prof.profile_frame(df)
    assert f["rows"] == 0 and f["duplicate_rows"] == 0
    allnan = pd.DataFrame({"a": [np.nan, np.nan], "b": [np.inf, 1.0],
                           "c": pd.Categorical(["u", "v"]), "d": pd.array([True, None], dtype="boolean"),
                           "t": pd.to_datetime(["2024-01-01", None]).tz_localize("UTC")})
    f = prof.profile_frame(allnan)
    json.dumps(f, allow_nan=False)
    assert var(f, "c")["distinct"] == 2 and var(f, "t")["kind"] == "datetime"


def test_json_flag_adds_plain_application_json(bridge):
    import pandas as pd

    from anyviz import session
    from anyviz.data import magics

    session.user_ns["small"] = pd.DataFrame({"a": [1, 2, 2], "b": ["x", "y", "y"]})
    magics.profile("small --json")
    data = bridge.of_type("display_data")[-1]["data"]
    assert data["application/json"] == data["application/vnd.anyviz.profile+json"]
    assert "b" in data["text/plain"] and data["application/json"]


# ------------------------------------------------------------------ one number format

@pytest.mark.parametrize("value,text", [
    (2_793_664, "2,793,664"), (1704, "1,704"), (0, "0"), (-12_345, "-12,345"),
])
def test_integers_have_thousands_separators(value, text):
    assert render.fmt_int(value) == text
    assert render.fmt_num(value) == text


@pytest.mark.parametrize("value,text", [
    (29_601_234.5, "29,600,000"), (12.9187, "12.92"), (59.474, "59.47"), (0.012345, "0.01235"),
    (3.0, "3"), (241.1658, "241.2"), (113_523.13, "113,500"), (1e-7, "1.000e-07"),
])
def test_floats_have_four_significant_digits(value, text):
    assert render.fmt_float(value) == text


@pytest.mark.parametrize("n,text", [(300, "300 B"), (36 * 1024, "36 KiB"),
                                    (135 * 1024 + 500, "135 KiB"), (5 * 2**30 // 4, "1.25 GiB")])
def test_memory_in_binary_units(n, text):
    assert render.fmt_bytes(n) == text


def test_gapminder_text_has_one_number_format():
    facts = prof.profile_frame(pdata.gapminder(), name="gapminder")
    text = render.to_text(facts)
    assert "1,704 rows × 8 columns, 135 KiB in memory" in text
    year = text[text.index("year ("):text.index("lifeExp (")]
    assert "min 1952  max 2007" in year and "1,9" not in year and "2,0" not in year
    pop = text[text.index("pop ("):text.index("gdpPercap (")]
    assert "max 1,318,683,096" in pop and "mean 29,600,000" in pop
    assert not re.search(r"\de[+-]\d", text)  # no exponents for everyday magnitudes
    assert "0.0 MB" not in text


def _bundled_frames():
    frames = {}
    for name in dir(pdata):
        fn = getattr(pdata, name)
        if name.startswith("_") or not callable(fn):
            continue
        try:
            df = fn()
        except TypeError:
            continue
        if isinstance(df, pd.DataFrame):
            frames[f"plotly:{name}"] = df
    from vega_datasets import local_data
    for name in local_data.list_datasets():
        frames[f"vega:{name}"] = getattr(local_data, name.replace("-", "_"))()
    return frames


#: Columns that are IDs in plotly's and vega's bundled data; every other column is not
#: (unique measurements like gapminder's pop, runs of years, dates stored as text, 16
#: bacteria names).
EXPECTED_IDS = {"plotly:election": {"district_id"}, "vega:airports": {"iata"}}


def test_id_rule_over_bundled_datasets():
    frames = _bundled_frames()
    assert len(frames) >= 25
    for name, df in frames.items():
        facts = prof.profile_frame(df, name=name)
        flagged = {a["column"] for a in facts["alerts"] if a["kind"] == "likely_id"}
        assert flagged == EXPECTED_IDS.get(name, set()), name
        text = render.to_text(facts)
        assert not re.search(r"\d\.\d+e[+-]\d", text), name
        assert re.search(r"in memory", text) and " MB in memory" not in text or \
            facts["memory_bytes"] >= 2**20, name


def test_id_signals():
    n = 200
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "customerKey": rng.permutation(n) * 7 + 3,          # name says so
        "row": np.arange(10, 10 + n),                       # monotonic sequence
        "token": [f"t{x:08x}" for x in rng.permutation(n)],  # text, one per row
        "population": rng.permutation(n) * 1000 + 5,        # unique measurement
        "year": np.arange(1800, 1800 + n),                  # a run of years
        "when": pd.date_range("2020-01-01", periods=n).astype(str),  # dates as text
    })
    facts = prof.profile_frame(df)
    flagged = {a["column"] for a in facts["alerts"] if a["kind"] == "likely_id"}
    assert flagged == {"customerKey", "row", "token"}


def test_html_escapes_names_and_values():
    df = pd.DataFrame({"<b>x</b>": ["<script>alert(1)</script>"] * 3 + ["a&b"]})
    html_text = render.to_html(prof.profile_frame(df, name="<i>f</i>"))
    assert "<script>" not in html_text and "<b>x</b>" not in html_text and "<i>f</i>" not in html_text
    assert "&lt;b&gt;x&lt;/b&gt;" in html_text and "a&amp;b" in html_text
