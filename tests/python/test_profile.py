"""%profile facts checked against pandas on a known frame, alerts, and the three outputs."""
import json

import numpy as np
import pandas as pd
import pytest

from anyviz import session
from anyviz.data import magics
from anyviz.data import profile as prof
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
