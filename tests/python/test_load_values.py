"""What %load reads from CSV text: missing values as pandas' read_csv reads them (quoted or not,
in text, number and date columns), and the same frame when the column types are pinned from
the first block as when the file is small (gzip, UTF-8 and UTF-16 text cut mid-character,
quoted newlines across the typed block's end)."""
import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from anyviz.data import loader

#: Fields pandas reads as missing by default, as a CSV writes them (some quoted).
NA_FIELDS = ['', '""', 'NA', '"NA"', 'null', 'NULL', 'None', '<NA>', 'n/a', '#N/A', 'NaN', 'nan']
SAMPLE = 1 << 20  # bytes _read_delimited types up front for files with ordinary line lengths


@pytest.fixture(autouse=True)
def threaded_reader(monkeypatch):
    """The threaded reader with pinned types, whatever the machine's free memory."""
    monkeypatch.setenv("ANYVIZ_LOW_MEMORY_FRACTION", "0")


def read(path):
    return loader.read_file(str(path), progress=False).df


def text_dtype():
    """The dtype a text column gets from Arrow (pandas 3: the Arrow-backed `str`)."""
    return pa.table({"s": ["a"]}).to_pandas()["s"].dtype


def assert_same_as_pandas(ours, path, dates=()):
    theirs = pd.read_csv(path, parse_dates=list(dates))
    assert list(ours.columns) == list(theirs.columns)
    for col in ours.columns:
        assert ours[col].isna().tolist() == theirs[col].isna().tolist(), col
        assert ours[col].dropna().tolist() == theirs[col].dropna().tolist(), col


def test_missing_values_read_as_pandas_reads_them(tmp_path):
    path = tmp_path / "gaps.csv"
    rows = [f"{i},{na},{na},{na}" for i, na in enumerate(NA_FIELDS)]
    rows += ['100,x,1.5,2024-01-02', '101," ",2,2024-01-03', '102,"a,b",3,2024-01-04']
    path.write_text("id,label,amount,when\n" + "\n".join(rows) + "\n")
    df = read(path)
    assert df["id"].dtype == np.int64
    assert df["label"].dtype == text_dtype()
    assert df["amount"].dtype == np.float64  # a quoted "" does not make the numbers text
    assert pd.api.types.is_datetime64_any_dtype(df["when"])
    for col in ("label", "amount", "when"):
        assert df[col].isna().sum() == len(NA_FIELDS), col
    assert df["label"].dropna().tolist() == ["x", " ", "a,b"]  # a blank is text, not missing
    assert df["amount"].dropna().tolist() == [1.5, 2.0, 3.0]
    assert_same_as_pandas(df, path, dates=["when"])


def test_missing_values_after_the_typed_block_read_the_same(tmp_path):
    """Types pinned from the first 1 MB (no gaps there) still take the gaps further on."""
    path = tmp_path / "late_gaps.csv"
    n = 120_000  # ~4 MB: the gaps are blocks past the typed one
    with open(path, "w") as fh:
        fh.write("id,label,amount,when\n")
        for i in range(n):
            fh.write(f"{i},name{i % 50},{i % 97}.5,2024-01-{1 + i % 28:02d}\n")
        for j, na in enumerate(NA_FIELDS):
            fh.write(f"{n + j},{na},{na},{na}\n")
    assert path.stat().st_size > 3 * SAMPLE
    df = read(path)
    assert len(df) == n + len(NA_FIELDS)
    assert df["label"].dtype == text_dtype() and df["amount"].dtype == np.float64
    assert pd.api.types.is_datetime64_any_dtype(df["when"])
    tail = df.iloc[n:]
    assert tail[["label", "amount", "when"]].isna().all().all()
    assert df.iloc[:n][["label", "amount", "when"]].notna().all().all()
    assert_same_as_pandas(df, path, dates=["when"])


def _rows(n: int, label) -> list[str]:
    return [f"{i},{label(i)},{i % 89}.25,2023-{1 + i % 12:02d}-{1 + i % 28:02d}\n" for i in range(n)]


def _cut_mid_character(rows: list[str], encoding: str, cut: int) -> str:
    """The rows as one text whose byte `cut` falls inside a character (the typed block's
    buffer ends there), padding the first label with ASCII until it does."""
    for pad in range(64):
        text = "id,label,amount,when\n" + rows[0].replace(",", "," + "x" * pad, 1) + "".join(rows[1:])
        raw = text.encode(encoding)
        head = raw[:cut]
        try:
            head.decode(encoding)
        except UnicodeDecodeError:
            return text
    raise AssertionError("no padding puts the cut inside a character")


@pytest.mark.parametrize("encoding,char", [("utf-8", "é"), ("utf-16", "😀")])
def test_text_cut_mid_character_at_the_typed_sample_reads_whole(tmp_path, encoding, char):
    rows = _rows(90_000, lambda i: f"{char * (1 + i % 3)}{i}")
    text = _cut_mid_character(rows, encoding, 2 * SAMPLE)
    path = tmp_path / f"{encoding}.csv"
    path.write_bytes(text.encode(encoding))
    arrow_encoding = "utf8" if encoding == "utf-8" else encoding
    typed = loader._first_block_types(lambda: str(path), pacsv.ReadOptions(encoding=arrow_encoding),
                                      pacsv.ParseOptions(), pacsv.ConvertOptions(), SAMPLE)
    assert typed == {"id": pa.int64(), "label": pa.large_string(), "amount": pa.float64(),
                     "when": pa.date32()}
    df = read(path)
    assert len(df) == len(rows)
    assert df["label"].iloc[1] == char * 2 + "1" and df["label"].iloc[-1].endswith(str(len(rows) - 1))
    assert df["amount"].dtype == np.float64 and df["id"].dtype == np.int64
    assert pd.api.types.is_datetime64_any_dtype(df["when"])


def test_gzip_file_reads_the_same_frame_as_the_plain_file(tmp_path):
    body = "id,label,amount,when\n" + "".join(_rows(100_000, lambda i: f"store_{i % 200}"))
    plain, packed = tmp_path / "plain.csv", tmp_path / "packed.csv.gz"
    plain.write_text(body)
    packed.write_bytes(gzip.compress(body.encode()))
    pd.testing.assert_frame_equal(read(plain), read(packed))
    assert read(packed)["label"].dtype == text_dtype()


def test_quoted_newlines_across_the_typed_block_end(tmp_path):
    """Multi-line quoted notes straddle the typed block's end and the buffer's cut: the block
    still ends at a row boundary, so the types and every note come out whole."""
    path = tmp_path / "notes.csv"
    notes = [f"line one {i}\nline, two\n\"quoted\" three" for i in range(200)]
    out, size, i = ["id,note,when,score\n"], 0, 0
    while size < 3 * SAMPLE:
        note = notes[i % 200] + ("x" * 5000 if i % 40 == 0 else "")  # long ones span the cuts
        row = f'{i},"{note.replace(chr(34), chr(34) * 2)}",2022-03-{1 + i % 28:02d},{i % 7}\n'
        out.append(row)
        size += len(row)
        i += 1
    path.write_text("".join(out))
    df = read(path)
    assert len(df) == i
    assert df["id"].tolist() == list(range(i))
    assert df["score"].dtype == np.int64
    assert pd.api.types.is_datetime64_any_dtype(df["when"])
    assert df["note"].iloc[41] == notes[41] and df["note"].iloc[40].startswith(notes[40])


def test_the_typed_block_pins_text_as_pandas_str_storage(tmp_path):
    """Text is pinned as large_string, which pandas' `str` keeps without a copy; the frame's
    dtypes are what Arrow's own inference gives."""
    path = tmp_path / "sales.csv"
    path.write_text("id,store,price,day\n" + "".join(
        f"{i},store_{i % 9},{i % 13}.5,2021-05-{1 + i % 28:02d}\n" for i in range(1000)))
    types = loader._first_block_types(lambda: str(path), pacsv.ReadOptions(),
                                      pacsv.ParseOptions(), pacsv.ConvertOptions(), SAMPLE)
    assert types == {"id": pa.int64(), "store": pa.large_string(), "price": pa.float64(),
                     "day": pa.date32()}
    ours = read(path)
    plain = pacsv.read_csv(path).to_pandas(date_as_object=False)
    assert ours.dtypes.to_dict() == plain.dtypes.to_dict()


def test_the_loaded_frame_can_be_edited_in_place(tmp_path):
    """Text taken from Arrow without a copy, numbers and dates copied: every column of the
    frame takes assignments as an ordinary pandas frame does."""
    path = tmp_path / "edit.csv"
    path.write_text("id,store,price,day\n" + "".join(
        f"{i},store_{i % 9},{i % 13}.5,2021-05-{1 + i % 28:02d}\n" for i in range(50_000)))
    df = read(path)
    df.loc[0, "store"] = "renamed"
    df.loc[1, "id"] = -1
    df.loc[2, "price"] = 0.25
    df.loc[3, "day"] = pd.Timestamp("1999-12-31")
    df["store"] = df["store"].str.upper()
    assert df["store"].iloc[0] == "RENAMED" and df["store"].iloc[4] == "STORE_4"
    assert df["id"].iloc[1] == -1 and df["price"].iloc[2] == 0.25
    assert df["day"].iloc[3] == pd.Timestamp("1999-12-31")
    assert df["store"].dtype == text_dtype() and df["id"].dtype == np.int64
