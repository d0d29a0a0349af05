"""%profile's numerics against numpy and pandas on random columns of every kind: quantiles equal
np.quantile(method='linear') to the bit, histograms equal np.histogram on the same edges, and
distinct counts, top values and missing counts equal pandas', on every path (sorted floats,
counted and sorted integers, dictionary-encoded and hashed text, dates)."""
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from anyviz.data import profile as prof
from anyviz.data import profile_render as render

SIZES = [1, 2, 3, 7, 1000, 20_001]


def facts_of(series: pd.Series) -> dict:
    return prof.profile_frame(pd.DataFrame({"c": series}))["variables"][0]


def numeric_columns(n: int, r: np.random.Generator) -> dict:
    normal = r.normal(3, 2, n)
    with_gaps = normal.copy()
    with_gaps[r.random(n) < 0.2] = np.nan
    with_inf = r.lognormal(0, 2, n)
    with_inf[r.random(n) < 0.05] = np.inf
    with_inf[r.random(n) < 0.05] = -np.inf
    ints = r.integers(-50, 50, n)
    nullable = pd.array(r.integers(0, 9, n), dtype="Int64")
    nullable[r.random(n) < 0.3] = pd.NA
    return {
        "normal": normal, "with_gaps": with_gaps, "with_inf": with_inf,
        "repeats": np.round(r.normal(size=n), 1), "signed_zero": np.where(r.random(n) < 0.5, -0.0, 0.0),
        "constant": np.full(n, 2.5), "all_nan": np.full(n, np.nan),
        "small_ints": ints,  # counted (np.bincount)
        "wide_ints": r.integers(-10**15, 10**15, n),  # sorted
        "years": r.integers(1950, 2020, n),  # counted where they are (no offset)
        "nullable_ints": nullable, "float32": r.normal(size=n).astype("float32"),
        "uint8": r.integers(0, 255, n).astype("uint8"),
    }


@pytest.mark.parametrize("n", SIZES)
def test_numeric_facts_equal_numpy_and_pandas(n):
    r = np.random.default_rng(n)
    for name, data in numeric_columns(n, r).items():
        s = pd.Series(data)
        v = facts_of(s)
        present = s.dropna()
        assert (v["count"], v["missing"]) == (present.size, s.isna().sum()), name
        assert v["distinct"] == present.nunique(), name
        vc = present.value_counts()  # pandas orders equal counts by first appearance
        assert [t["count"] for t in v["top"]] == vc.iloc[:prof.TOP_N].tolist(), name
        finite = present.to_numpy(dtype="float64")
        finite = finite[np.isfinite(finite)]
        if finite.size == 0:
            assert "quantiles" not in v and "mean" not in v, name
            continue
        exact = present.to_numpy()[np.isfinite(present.to_numpy(dtype="float64"))]
        exact = exact.astype(np.int64 if pd.api.types.is_integer_dtype(s.dtype) else np.float64)
        for q in prof.QUANTILES:
            assert v["quantiles"][f"{int(q * 100)}%"] == np.quantile(exact, q), (name, q)
        assert (v["min"], v["max"]) == (finite.min(), finite.max()), name
        assert v["mean"] == pytest.approx(finite.mean(), rel=1e-12, abs=1e-12), name
        if finite.size > 1:
            assert v["std"] == pytest.approx(finite.std(ddof=1), rel=1e-9, abs=1e-12), name
        if finite.size > 2 and finite.std() > 0:
            assert v["skew"] == pytest.approx(pd.Series(finite).skew(), rel=1e-6, abs=1e-9), name
        assert v["zeros"] == np.count_nonzero(finite == 0) and v["negatives"] == np.count_nonzero(finite < 0)
        edges = np.asarray(v["histogram"]["edges"])
        if finite.max() > finite.min():
            assert v["histogram"]["counts"] == np.histogram(finite, bins=edges)[0].tolist(), name
        else:
            assert sum(v["histogram"]["counts"]) == finite.size, name


def test_counted_and_sorted_integer_paths_agree():
    """The same integers profiled by counting (narrow range) and by sorting (a far outlier
    widens the range) give the same quantiles, moments and histogram shape."""
    r = np.random.default_rng(3)
    vals = r.integers(0, 1000, 50_001)
    counted = facts_of(pd.Series(vals))
    spread = vals.copy()
    spread[0] = 10**12  # now too spread out to count
    assert prof._int_counts(spread) is None and prof._int_counts(vals) is not None
    for q in prof.QUANTILES:
        assert counted["quantiles"][f"{int(q * 100)}%"] == np.quantile(vals, q)
    sorted_ = facts_of(pd.Series(spread))
    for q in prof.QUANTILES:
        assert sorted_["quantiles"][f"{int(q * 100)}%"] == np.quantile(spread, q)
    assert counted["distinct"] == len(np.unique(vals)) and sorted_["distinct"] == len(np.unique(spread))


def test_boolean_categorical_and_datetime_facts_equal_pandas():
    r = np.random.default_rng(5)
    n = 30_000
    flags = pd.array(r.random(n) < 0.3, dtype="boolean")
    flags[r.random(n) < 0.1] = pd.NA
    cats = pd.Categorical(r.choice(["a", "b", "c", None], n, p=[.5, .3, .15, .05]),
                          categories=["c", "b", "a", "unused"])
    stamps = pd.Series(pd.Timestamp("2021-01-01") + pd.to_timedelta(r.integers(0, 10**6, n), unit="s"))
    stamps[r.random(n) < 0.1] = pd.NaT
    for s in (pd.Series(flags), pd.Series(cats), stamps, stamps.dt.tz_localize("UTC")):
        v = facts_of(s)
        vc = s.value_counts()
        vc = vc[vc > 0]
        assert v["missing"] == s.isna().sum() and v["distinct"] == s.nunique()
        assert [t["count"] for t in v["top"]] == vc.iloc[:prof.TOP_N].tolist()
    v = facts_of(stamps)
    assert pd.Timestamp(v["min"]) == stamps.min() and pd.Timestamp(v["max"]) == stamps.max()
    ticks = stamps.dropna().to_numpy().view("int64")
    edges = np.linspace(ticks.min(), ticks.max(), prof.BINS + 1)
    assert v["histogram"]["counts"] == np.histogram(ticks, bins=edges)[0].tolist()


def random_strings(r, n, max_len, alphabet="abcdefghij"):
    lengths = r.integers(0, max_len + 1, n)
    chars = np.array(list(alphabet))
    return [("".join(chars[r.integers(0, len(chars), k)])) for k in lengths]


@pytest.mark.parametrize("max_len", [3, 8, 9, 16, 17, 64, 65])
def test_hashed_text_counts_equal_pandas(monkeypatch, max_len):
    """Hashing reads strings 8 bytes at a time: lengths around word boundaries, empty strings,
    non-ASCII text, nulls and a sliced Arrow array must all count exactly (65 bytes: too long
    to hash, dictionary-encoded instead)."""
    monkeypatch.setattr(prof, "HASH_TEXT_MIN", 1000)
    r = np.random.default_rng(max_len)
    values = random_strings(r, 6000, max_len, alphabet="ab€ü日") + ["same"] * 40
    values[::97] = [None] * len(values[::97])
    arr = pa.array(values, type=pa.large_string()).slice(3)
    s = pd.Series(pd.arrays.ArrowStringArray(arr))
    v = facts_of(s)
    present = s.dropna()
    assert v["missing"] == s.isna().sum() and v["distinct"] == present.nunique()
    vc = present.value_counts()
    assert [t["count"] for t in v["top"]] == vc.iloc[:prof.TOP_N].tolist()
    assert {t["value"] for t in v["top"]} <= set(vc.index[vc >= vc.iloc[prof.TOP_N - 1]])
    lengths = present.str.len()
    assert (v["length_min"], v["length_max"]) == (lengths.min(), lengths.max())
    assert v["length_mean"] == pytest.approx(lengths.mean())


def test_string_hashes_are_equal_exactly_for_equal_strings():
    words = ["", "a", "abcdefg", "abcdefgh", "abcdefghi", "abcdefgh\x00", "abcdefgh\x00\x00"]
    arr = pa.array(words + words[::-1])
    h, lens = prof._string_hashes(arr)
    assert len(set(h[:len(words)].tolist())) == len(words)  # trailing NULs still differ (length)
    assert h[:len(words)].tolist() == h[len(words):][::-1].tolist()
    assert lens.tolist() == [len(w.encode()) for w in words + words[::-1]]


def test_equal_counts_keep_index_order():
    counts = np.array([3, 5, 5, 1, 5, 5, 2, 5])
    assert prof._top_from_counts(counts).tolist() == [1, 2, 4, 5, 7]
    assert prof._top_from_counts(np.array([2, 9])).tolist() == [1, 0]


def test_bernoulli_sample_rows_are_sorted_unique_and_in_range():
    rows = prof._bernoulli_rows(1_000_000, 0.1)
    assert rows[0] >= 0 and rows[-1] < 1_000_000
    assert np.all(np.diff(rows) > 0)
    assert rows.size == pytest.approx(100_000, rel=0.01)
    assert prof._bernoulli_rows(1_000_000, 0.1).tolist() == rows.tolist()  # fixed sample


def test_duplicate_rows_over_codes_of_every_width():
    r = np.random.default_rng(8)
    n = 60_000
    df = pd.DataFrame({
        "cat": pd.Categorical(r.choice(["x", "y", None], n)),
        "text": pd.array(r.choice(["p", "q", "r"], n), dtype="str"),
        "flag": r.random(n) < 0.5, "i": r.integers(0, 3, n), "f": np.round(r.random(n), 1),
        "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(r.integers(0, 3, n), unit="D"),
    })
    assert prof.profile_frame(df)["duplicate_rows"] == int(df.duplicated().sum()) > 0


def test_all_missing_text_column_renders():
    df = pd.DataFrame({"t": pd.array([None] * 5, dtype="str"), "x": range(5)})
    facts = prof.profile_frame(df)
    v = facts["variables"][0]
    assert v["count"] == 0 and "length_min" not in v
    assert "t has no values" in render.to_text(facts)
    assert "length" not in "\n".join(render.stats_lines(v))


def test_pairwise_correlations_equal_pandas():
    """Rows with gaps, infinities, a nearly empty row and complete rows, as DataFrame.corr."""
    r = np.random.default_rng(4)
    m = r.normal(size=(6, 800))
    m[1] += m[0]
    m[2, r.random(800) < 0.3] = np.nan
    m[3, r.random(800) < 0.5] = np.inf
    m[4] = 2 * m[2] + 0.1 * r.normal(size=800)
    m[5] = np.nan
    m[5, 0] = 1.0  # one value: no r with anything
    expected = pd.DataFrame(np.where(np.isfinite(m), m, np.nan).T).corr().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        got = prof._pairwise_corr(m.copy())
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.nanmax(np.abs(got - expected)) < 1e-12


def test_unsigned_integers_past_int64_stay_exact():
    r = np.random.default_rng(6)
    vals = (np.uint64(2 ** 63) + r.integers(0, 10 ** 6, 5000).astype(np.uint64)).astype(np.uint64)
    v = facts_of(pd.Series(vals))
    assert v["distinct"] == len(np.unique(vals)) and v["min"] == float(vals.min())
    assert v["top"][0]["value"] >= 2 ** 63  # not wrapped to a negative number
    for q in prof.QUANTILES:
        assert v["quantiles"][f"{int(q * 100)}%"] == np.quantile(vals, q)


def test_extension_and_mixed_object_columns_are_profiled_as_text(monkeypatch):
    """Periods, intervals and mixed Python objects: Arrow cannot count them, so their text is
    (big columns too, where the hashed path would otherwise see them)."""
    monkeypatch.setattr(prof, "HASH_TEXT_MIN", 1000)
    n = 3000
    df = pd.DataFrame({"period": pd.period_range("2000-01", periods=n, freq="D"),
                       "interval": pd.interval_range(0, n),
                       "mixed": pd.Series([1, "a", 2.5, None] * (n // 4), dtype=object)})
    facts = prof.profile_frame(df)
    json.dumps(facts, allow_nan=False)
    render.to_html(facts)
    for v in facts["variables"]:
        s = df[v["name"]]
        assert v["kind"] == "text" and v["distinct"] == s.nunique() and v["missing"] == s.isna().sum()
