"""%load through the fake bridge: good files (shape, dtypes, values), every awkward/bad file
(message names the file and says what to do; earlier frames unchanged), options, URLs, limits."""
import os
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "data"))

from make_awkward import BAD_FILE_MESSAGES as BAD, write_corpus  # noqa: E402

from anyviz import iopub, session  # noqa: E402
from anyviz.data import magics, registry  # noqa: E402
from anyviz.errors import DataError, UsageError  # noqa: E402


pytestmark = pytest.mark.usefixtures("clean_data_session")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(str(tmp_path_factory.mktemp("awkward")), big=True)


@pytest.fixture
def keeper(tmp_path):
    """A frame loaded before each bad %load; it must come out unchanged."""
    p = tmp_path / "keeper.csv"
    p.write_text("k,v\n1,a\n2,b\n")
    magics.load(str(p))
    return session.user_ns["keeper"]


def html_of(bridge):
    return bridge.of_type("display_data")[-1]["data"]["text/html"]


def text_of(bridge):
    return bridge.of_type("display_data")[-1]["data"]["text/plain"]


# ---------------------------------------------------------------- bad files




@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_clear_message_and_session_unchanged(bridge, corpus, keeper, name):
    snapshot = keeper.copy()
    with pytest.raises(DataError) as err:
        magics.load(corpus[name])
    for fragment in BAD[name]:
        assert fragment in str(err.value)
    assert session.user_ns["keeper"] is keeper
    pd.testing.assert_frame_equal(keeper, snapshot)
    assert session.current_frame == "keeper"
    assert os.path.splitext(name)[0].replace(".", "_") not in session.user_ns
    assert registry.frame_names() == ["keeper"]


def test_missing_file_and_empty_glob(bridge, keeper, tmp_path):
    with pytest.raises(DataError, match="nope.csv: no such file"):
        magics.load(str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="No files match"):
        magics.load(str(tmp_path / "*.parquet"))
    assert session.user_ns["keeper"] is keeper


def test_one_bad_file_in_a_batch_binds_nothing(bridge, corpus, keeper, tmp_path):
    good = tmp_path / "fresh.csv"
    good.write_text("a,b\n1,2\n")
    with pytest.raises(DataError) as err:
        magics.load(f"{good} {corpus['report.csv']}")
    assert "Nothing was loaded" in str(err.value) and "report.csv" in str(err.value)
    assert "fresh" not in session.user_ns
    assert session.user_ns["keeper"] is keeper


def test_long_line_is_refused_quickly(bridge, corpus):
    import resource
    import time

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    with pytest.raises(DataError):
        magics.load(corpus["one_line.csv"])
    assert time.perf_counter() - t < 5
    # bounded memory: the 50 MB line is never held whole (ru_maxrss is in KB on Linux)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 40 * 1024


# ---------------------------------------------------------------- awkward but loadable


def test_ragged_rows_skip_and_warn(bridge, corpus):
    magics.load(f"{corpus['ragged.csv']} --on-bad-lines skip")
    df = session.user_ns["ragged"]
    assert df["a"].tolist() == [1, 6, 13]
    assert "skipped 2 row(s)" in text_of(bridge)
    magics.load(f"{corpus['ragged.csv']} --on-bad-lines warn as r2")
    assert session.user_ns["r2"].shape == (3, 3)
    html = html_of(bridge)
    assert "⚠" in html and "skipped 2 row(s)" in html and "line 3" in html
    assert "WARNING: ragged.csv: skipped 2 row(s)" in text_of(bridge)


def test_compressed_csv(bridge, corpus):
    magics.load(corpus["good.csv.gz"])
    df = session.user_ns["good"]
    assert df.shape == (3, 4) and df["city"].tolist() == ["Berlin", "Paris", "Rome"]
    magics.load(corpus["gz_named.csv"])
    assert session.user_ns["gz_named"].equals(df)
    assert "gzip-compressed" in text_of(bridge)


def test_header_only_loads_zero_rows_with_warning(bridge, corpus):
    magics.load(corpus["header_only.csv"])
    df = session.user_ns["header_only"]
    assert df.shape == (0, 3) and list(df.columns) == ["id", "name", "amount"]
    assert "has a header but no data rows" in html_of(bridge)


@pytest.mark.parametrize("name,col,values,note", [
    ("bom.csv", "café", ["crème", "brûlée"], None),
    ("utf16.csv", "name", ["Zoë", "Łukasz"], "UTF-16"),
    ("latin1.csv", "name", ["Müller", "Señor"], "read it as Latin-1"),
])
def test_encodings(bridge, corpus, name, col, values, note):
    magics.load(corpus[name])
    df = session.user_ns[os.path.splitext(name)[0]]
    assert df[col].tolist() == values and list(df.columns)[0] == "id"
    if note:
        assert note in text_of(bridge)


@pytest.mark.parametrize("name,amounts", [
    ("semicolon.csv", [10.5, 20.0, 7.0]),  # also a decimal comma
    ("tabbed.txt", [10.5, 20.0]),
    ("piped.txt", [10.5, 20.0]),
])
def test_delimiter_sniffing(bridge, corpus, name, amounts):
    magics.load(corpus[name])
    df = session.user_ns[os.path.splitext(name)[0]]
    assert list(df.columns) == ["id", "city", "amount"]
    assert df["amount"].tolist() == amounts


def test_quoted_newlines(bridge, corpus):
    magics.load(corpus["quoted_newlines.csv"])
    df = session.user_ns["quoted_newlines"]
    assert df["comment"].tolist() == ["first line\nsecond line", "plain, with comma",
                                      'say "hi"\nagain']
    assert df["score"].tolist() == [5, 7, 9]


def test_duplicate_and_blank_column_names(bridge, corpus):
    magics.load(corpus["dup_cols.csv"])
    df = session.user_ns["dup_cols"]
    assert list(df.columns) == ["id", "amount", "amount_2", "unnamed_4", "note"]
    assert df["amount_2"].tolist() == [3, 7]
    assert "duplicate column names made unique: amount → amount_2" in text_of(bridge)


def test_mixed_type_column_beyond_inference_block_stays_text(bridge, corpus):
    magics.load(corpus["mixed_types.csv"])
    df = session.user_ns["mixed_types"]
    assert len(df) == 2001 and df["code"].iloc[-1] == "A12" and df["code"].iloc[0] == "0"
    assert df["value"].dtype == np.int64


def test_ten_thousand_columns_preview_truncated(bridge, corpus):
    magics.load(corpus["wide.csv"])
    df = session.user_ns["wide"]
    assert df.shape == (2, 10_000) and df["c9999"].tolist() == [9999, 19998]
    html = html_of(bridge)
    assert "showing 20 of 10,000 columns" in html
    assert "c20<" not in html and len(html) < 50_000


# ---------------------------------------------------------------- good files


def test_csv_types_dates_and_values(bridge, corpus):
    magics.load(corpus["dates.csv"])
    df = session.user_ns["dates"]
    assert pd.api.types.is_datetime64_any_dtype(df["d"])
    assert pd.api.types.is_datetime64_any_dtype(df["ts"])
    assert df["ts"].iloc[1] == pd.Timestamp("2024-02-06 11:00:00")
    assert pd.isna(df["d"].iloc[2])
    assert pd.api.types.is_string_dtype(df["label"])
    # ordinary pandas and plotly express work on the result
    assert df.groupby(df["d"].dt.month)["label"].count().to_dict() == {1.0: 1, 2.0: 1}
    import plotly.express as px

    fig = px.line(df, x="ts", y=df.index)
    assert len(fig.data) == 1


def test_preview_registry_and_current_frame(bridge, tmp_path):
    src = os.path.join(HERE, "..", "data", "orders.csv")
    magics.load(src)
    df = session.user_ns["orders"]
    assert df.shape == (8, 5) and df["quantity"].sum() == 25
    assert session.current_frame == "orders"
    info = registry.frames()["orders"]
    assert info["shape"] == [8, 5] and info["size_bytes"] == os.path.getsize(src)
    assert info["dtypes"]["order_date"].startswith("datetime64")
    assert info["memory_bytes"] > 0 and info["load_seconds"] >= 0
    html = html_of(bridge)
    assert "<b>orders</b>: 8 rows × 5 columns" in html and "1001" in html and "<script" not in html
    assert "orders: 8 rows × 5 columns" in text_of(bridge)


def test_reload_replaces_and_says_so(bridge, tmp_path):
    p = tmp_path / "data.csv"
    p.write_text("a\n1\n")
    magics.load(str(p))
    p.write_text("a\n1\n2\n")
    magics.load(str(p))
    assert len(session.user_ns["data"]) == 2
    assert "replaced the previous value" in text_of(bridge)


def test_names_as_name_glob_and_identifiers(bridge, tmp_path):
    for n in ("Sales 2024-Q1.csv", "2023.csv", "class.csv"):
        (tmp_path / n).write_text("x\n1\n")
    magics.load(str(tmp_path / "*.csv"))
    assert {"sales_2024_q1", "df_2023", "class_"} <= set(session.user_ns)
    magics.load(f"'{tmp_path / 'Sales 2024-Q1.csv'}' as q1")
    assert session.user_ns["q1"]["x"].tolist() == [1]
    magics.load(f"{tmp_path / '2023.csv'} --name y2023")
    assert "y2023" in session.user_ns
    with pytest.raises(UsageError, match="names one frame"):
        magics.load(f"{tmp_path / '*.csv'} as many")


def test_name_does_not_clobber_modules(bridge, tmp_path):
    session.user_ns["pd"] = pd
    p = tmp_path / "pd.csv"
    p.write_text("x\n1\n")
    magics.load(str(p))
    assert session.user_ns["pd"] is pd and "pd_df" in session.user_ns


def test_options_sep_header_nrows_encoding(bridge, tmp_path):
    p = tmp_path / "raw.txt"
    p.write_bytes("1:Zoë\n2:Ann\n3:Bo\n".encode("cp1252"))
    magics.load(f"{p} --sep : --header none --encoding cp1252 --nrows 2")
    df = session.user_ns["raw"]
    assert list(df.columns) == ["column_1", "column_2"]
    assert df["column_2"].tolist() == ["Zoë", "Ann"]


def test_parquet_json_jsonl(bridge, tmp_path, corpus):
    src = pd.DataFrame({"id": [1, 2, 3], "v": [0.5, None, 2.5],
                        "when": pd.to_datetime(["2024-01-01", "2024-01-02", None])})
    src.to_parquet(tmp_path / "p.parquet")
    magics.load(str(tmp_path / "p.parquet"))
    got = session.user_ns["p"]
    assert got["id"].tolist() == [1, 2, 3] and got["v"].isna().tolist() == [False, True, False]
    assert pd.api.types.is_datetime64_any_dtype(got["when"])
    magics.load(f"{corpus['records.json']} {corpus['lines.jsonl']}")
    rec = session.user_ns["records"]
    assert rec["name"].tolist() == ["a", "b"] and pd.api.types.is_datetime64_any_dtype(rec["when"])
    lines = session.user_ns["lines"]
    assert lines["x"].tolist()[:2] == [1.5, 2.5] and pd.isna(lines["x"].iloc[2])


def test_excel_and_missing_openpyxl(bridge, tmp_path, monkeypatch):
    pytest.importorskip("openpyxl")
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as xw:
        pd.DataFrame({"a": [1, 2]}).to_excel(xw, sheet_name="first", index=False)
        pd.DataFrame({"b": ["x", "y", "z"]}).to_excel(xw, sheet_name="second", index=False)
    magics.load(f"{path} --sheet second")
    assert session.user_ns["book"]["b"].tolist() == ["x", "y", "z"]
    with pytest.raises(DataError, match="no sheet 'third'. Sheets: first, second"):
        magics.load(f"{path} --sheet third")
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(DataError, match="pip install openpyxl"):
        magics.load(str(path))


def test_url_downloads_through_fetch_service(bridge, tmp_path, monkeypatch):
    local = os.path.join(HERE, "..", "data", "customers.csv")
    calls = []

    def fake_call(service, payload):
        calls.append((service, payload))
        if "missing" in payload["url"]:
            return {"status": "error", "http_code": 404, "message": "Not Found"}
        shutil.copy(local, payload["path"])
        return {"status": "ok", "bytes": os.path.getsize(local), "http_code": 200}

    monkeypatch.setattr(iopub, "call", fake_call)
    magics.load("https://example.com/data/customers.csv?x=1")
    assert calls[0][0] == "fetch" and calls[0][1]["timeout_s"] == 60
    assert os.path.basename(calls[0][1]["path"]) == "customers.csv"
    df = session.user_ns["customers"]
    assert df.shape == (5, 4)
    assert registry.frames()["customers"]["source"] == "https://example.com/data/customers.csv?x=1"
    with pytest.raises(DataError, match=r"Could not download https://example.com/missing.csv: Not Found \(HTTP 404\)"):
        magics.load("https://example.com/missing.csv")
    assert not os.path.exists(calls[-1][1]["path"])  # temp files cleaned up


def test_progress_line_updates_one_display(bridge, tmp_path, monkeypatch):
    monkeypatch.setenv("ANYVIZ_PROGRESS_MB", "1")
    p = tmp_path / "big.csv"
    n = 200_000
    pd.DataFrame({"i": np.arange(n), "d": pd.date_range("2020-01-01", periods=n, freq="min")}) \
        .to_csv(p, index=False)
    magics.load(str(p))
    assert len(session.user_ns["big"]) == n
    first = bridge.of_type("display_data")[0]
    did = first["transient"]["display_id"]
    assert first["data"]["text/plain"].startswith("Loading big.csv")
    updates = bridge.of_type("update_display_data")
    assert updates and all(u["transient"]["display_id"] == did for u in updates)
    assert updates[-1]["data"]["text/plain"].startswith("Read big.csv") and "MB/s" in updates[-1]["data"]["text/plain"]


def test_limits_from_environment(bridge, tmp_path, monkeypatch, keeper):
    for i in range(3):
        (tmp_path / f"f{i}.csv").write_text("a\n1\n")
    monkeypatch.setenv("ANYVIZ_MAX_FILES", "2")
    with pytest.raises(DataError, match="got 3 files, over the limit of 2.*ANYVIZ_MAX_FILES"):
        magics.load(str(tmp_path / "f*.csv"))
    monkeypatch.setenv("ANYVIZ_MAX_FILE_MB", "1")
    big = tmp_path / "huge.csv"
    big.write_bytes(b"a\n" + b"1\n" * (600_000))
    with pytest.raises(DataError, match="huge.csv is 1 MB, over the 1 MB limit|huge.csv is .* over the 1 MB limit"):
        magics.load(str(big))
    assert registry.frame_names() == ["keeper"]


def test_usage_errors(bridge):
    with pytest.raises(UsageError, match="needs a file"):
        magics.load("")
    with pytest.raises(UsageError, match="unrecognized arguments: --bogus"):
        magics.load("x.csv --bogus")
    with pytest.raises(UsageError, match="--on-bad-lines.*invalid choice"):
        magics.load("x.csv --on-bad-lines maybe")
    with pytest.raises(UsageError, match="not a valid Python variable name"):
        magics.load("x.csv as 1abc")
    with pytest.raises(UsageError, match="No closing quotation"):
        magics.load("'x.csv")
    magics.load("--help")
    assert "%load PATH" in bridge.of_type("stream")[-1]["text"]


def test_pandas_fallback_is_announced(bridge, tmp_path, monkeypatch):
    import pyarrow as pa

    from anyviz.data import loader

    def refuse(*a, **k):
        raise pa.ArrowInvalid("CSV parse error: something pyarrow cannot handle")

    monkeypatch.setattr(loader.pacsv, "read_csv", refuse)
    p = tmp_path / "odd.csv"
    p.write_text("a,b\n1,x\n2,y\n")
    magics.load(str(p))
    assert session.user_ns["odd"]["b"].tolist() == ["x", "y"]
    assert "read with pandas' parser" in text_of(bridge)


def test_types_pinned_from_the_first_block_widen_when_later_rows_differ(bridge, tmp_path):
    """%load pins the first block's types for the whole read (lower peak memory); a column
    whose later rows do not fit (ints, then a decimal; dates, then text) is read again as
    Arrow would have read it without the pin."""
    n = 120_000  # several 1 MB blocks
    path = tmp_path / "later.csv"
    with open(path, "w") as fh:
        fh.write("id,amount,when,label\n")
        for i in range(n):
            fh.write(f"{i},{i % 97},2024-01-{1 + i % 28:02d},row{i}\n")
        fh.write(f"{n},3.5,not a date,last\n")
    magics.load(f"{path} as later --no-progress")
    df = session.user_ns["later"]
    assert len(df) == n + 1
    assert df["id"].dtype == np.int64 and df["id"].iloc[-1] == n
    assert df["amount"].iloc[-1] == 3.5 and df["amount"].iloc[0] == 0
    assert df["when"].iloc[-1] == "not a date" and df["label"].iloc[-1] == "last"


def test_header_repeated_mid_file_loads(bridge, tmp_path):
    """Two CSV exports pasted together: the second header is a data row, kept as text."""
    part = "a,b\n" + "1,2\n" * 262143
    (tmp_path / "twice.csv").write_text(part + part)
    magics.load(f"{tmp_path / 'twice.csv'} as twice")
    df = session.user_ns["twice"]
    assert len(df) == 2 * 262143 + 1
    assert list(df.columns) == ["a", "b"]
    assert (df["a"].astype(str) == "a").sum() == 1
