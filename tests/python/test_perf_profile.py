"""%profile on frames big enough for the fast paths (counted integers, hashed text, sampled
correlations): every fact a user sees must still match pandas, and no count is an estimate."""
import numpy as np
import pandas as pd
import pytest

from anyviz.data import profile as prof
from anyviz.data import profile_render as render

N = prof.HASH_TEXT_MIN + 50_001  # odd, so quantile interpolation is exercised


def var(facts, name):
    return next(v for v in facts["variables"] if v["name"] == name)


@pytest.fixture(scope="module")
def big():
    r = np.random.default_rng(11)
    df = pd.DataFrame({
        "normal": r.normal(50, 10, N),
        "skewed": r.lognormal(0, 3, N),           # most values crowd the lowest buckets
        "rounded": np.round(r.normal(size=N), 2),  # floats with many repeats
        "small_int": r.integers(-3, 40, N),
        "wide_int": r.integers(0, 10**12, N) * 1000,  # huge range on a regular step
        "whole_float": r.integers(0, 500, N).astype("float64"),
        "daily": pd.Timestamp("2021-01-01") + pd.to_timedelta(r.integers(0, 900, N), unit="D"),
        "stamp": pd.Timestamp("2021-01-01") + pd.to_timedelta(r.integers(0, 10**15, N), unit="ns"),
    })
    df.loc[r.random(N) < 0.1, "whole_float"] = np.nan
    df.loc[r.random(N) < 0.05, "normal"] = np.nan
    df.loc[:4, "rounded"] = 123.456  # a heavy hitter the sample must find
    df.loc[5:9999, "rounded"] = 7.5
    return df


@pytest.fixture(scope="module")
def facts(big):
    return prof.profile_frame(big, name="big")


@pytest.mark.parametrize("col", ["normal", "skewed", "rounded", "small_int", "wide_int", "whole_float"])
def test_big_numeric_facts_match_pandas(big, facts, col):
    v, s = var(facts, col), big[col]
    assert v["count"] == s.count()
    assert v["min"] == s.min() and v["max"] == s.max()
    assert v["mean"] == pytest.approx(s.mean(), rel=1e-9)
    assert v["std"] == pytest.approx(s.std(), rel=1e-9)
    values = s.dropna().to_numpy()
    for q in prof.QUANTILES:
        assert v["quantiles"][f"{int(q * 100)}%"] == np.quantile(values, q)  # to the bit
        assert v["quantiles"][f"{int(q * 100)}%"] == pytest.approx(s.quantile(q), rel=1e-12, abs=1e-12)
    counts = v["histogram"]["counts"]
    assert len(counts) == prof.BINS and sum(counts) == s.count()
    expected, _ = np.histogram(values, bins=np.asarray(v["histogram"]["edges"]))
    assert counts == expected.tolist()


@pytest.mark.parametrize("col", ["normal", "skewed", "rounded", "small_int", "wide_int",
                                 "whole_float", "daily", "stamp"])
def test_distinct_and_top_values_are_exact(big, facts, col):
    v, s = var(facts, col), big[col]
    assert "distinct_approx" not in v
    assert v["distinct"] == s.nunique()
    vc = s.value_counts()
    assert [t["count"] for t in v["top"]] == vc.iloc[:len(v["top"])].tolist()
    assert vc.loc[pd.Timestamp(v["top"][0]["value"]) if col == "daily" else v["top"][0]["value"]] \
        == v["top"][0]["count"]


def test_no_count_is_labelled_an_estimate(facts):
    assert not any(v.get("distinct_approx") for v in facts["variables"])
    assert "(estimated)" not in render.to_text(facts) and "≈" not in render.to_html(facts)


def test_top_values_of_a_high_cardinality_column_are_counted_exactly(big, facts):
    v, s = var(facts, "rounded"), big["rounded"]
    assert v["top"][0] == {"value": 7.5, "count": int((s == 7.5).sum())}
    assert v["top"][0]["count"] >= 9995


def test_duplicate_rows_on_big_frames():
    r = np.random.default_rng(2)
    df = pd.DataFrame({"a": r.integers(0, 50, N), "b": r.integers(0, 50, N),
                       "c": np.round(r.random(N), 1)})
    f = prof.profile_frame(df)
    assert f["duplicate_rows"] == int(df.duplicated().sum()) > 0
    df["id"] = np.arange(N)  # unique on every row: no duplicates possible
    f = prof.profile_frame(df)
    assert f["duplicate_rows"] == 0 and ("id", "likely_id") in {(a["column"], a["kind"])
                                                                for a in f["alerts"]}


def test_correlations_on_a_sample_are_said_and_close():
    r = np.random.default_rng(5)
    n = prof.CORR_SAMPLE * 2
    x = r.normal(size=n)
    df = pd.DataFrame({"x": x, "y": 0.6 * x + 0.8 * r.normal(size=n), "z": r.normal(size=n)})
    df.loc[r.random(n) < 0.2, "y"] = np.nan
    f = prof.profile_frame(df)
    assert f["correlation_sample_rows"] == pytest.approx(prof.CORR_SAMPLE, rel=0.01)
    top = f["correlations"][0]
    assert {top["a"], top["b"]} == {"x", "y"}
    assert top["r"] == pytest.approx(df["x"].corr(df["y"]), abs=0.01)
    assert "on a sample of" in render.to_html(f)


def test_big_text_columns_hashed_not_encoded():
    r = np.random.default_rng(9)
    n = prof.HASH_TEXT_MIN + 10_000
    ids = pd.array([f"user{i}@example.org" for i in r.permutation(n)], dtype="str")
    codes = pd.array(r.integers(0, n, n).astype(str), dtype="str")  # numbers stored as text
    codes[:3000] = "77777"  # a value repeated often enough for any sample
    codes[5:9] = None
    df = pd.DataFrame({"email": ids, "code": codes})
    f = prof.profile_frame(df)
    email, code = var(f, "email"), var(f, "code")
    assert email["distinct"] == n and "distinct_approx" not in email and email["top"] == []
    kinds = {(a["column"], a["kind"]) for a in f["alerts"]}
    assert ("email", "likely_id") in kinds and ("code", "numbers_as_text") in kinds
    assert "distinct_approx" not in code and code["distinct"] == df["code"].nunique()
    assert code["missing"] == 4
    assert code["top"][0] == {"value": "77777", "count": int((df["code"] == "77777").sum())}
    vc = df["code"].value_counts()
    assert [t["count"] for t in code["top"]] == vc.iloc[:5].tolist()
    assert {t["value"] for t in code["top"]} <= set(vc.index[vc >= vc.iloc[4]])
    lengths = df["code"].dropna().str.len()
    assert (code["length_min"], code["length_max"]) == (lengths.min(), lengths.max())
    assert f["duplicate_rows"] == 0


@pytest.mark.parametrize("step", [0.5, 0.25, 0.01])
def test_distinct_of_short_mantissa_floats_is_exact(step):
    """Halves, quarters and cents: floats whose low bits are all zero or patterned."""
    r = np.random.default_rng(7)
    values = r.integers(0, 600_000, 1_000_000) * step
    v = prof.profile_frame(pd.DataFrame({"v": values}))["variables"][0]
    assert v["distinct"] == len(np.unique(values)) and "distinct_approx" not in v
