"""Read one file into a pandas DataFrame: pyarrow's multithreaded CSV reader first, pandas' C
engine only where pyarrow cannot cope, and clear `DataError`s for files that cannot be read.

The result is ordinary pandas: numpy numbers, datetime64 for ISO-like dates, pandas 3's
Arrow-backed `str` for text (fast, compact, and what plotly express and pandas ops expect).
"""
from __future__ import annotations

import codecs
import io
import os
import threading
import time
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from .. import iopub
from ..errors import DataError
from .dates import parse_text_dates
from .sniff import FileInfo, env_int, inspect_file

ON_BAD_LINES = ("error", "skip", "warn")

#: Fields read as missing, quoted or not, in every column: pandas' read_csv default na_values
#: (Arrow's default null values plus "<NA>" and "None"), so a file reads the same whichever
#: parser takes it (see _pandas_fallback) and as pandas users expect: "" and "NA" are NaN
#: in a text column, and a quoted "" in a number column does not turn the column into text.
NA_VALUES = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
             "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")


@dataclass
class LoadResult:
    """One loaded file plus what the user should be told about it."""

    df: pd.DataFrame
    source: str
    size_bytes: int
    seconds: float
    kind: str
    notices: list = field(default_factory=list)   # informational
    warnings: list = field(default_factory=list)  # something the user should check


# --------------------------------------------------------------------------- progress


class _CountingReader(io.RawIOBase):
    """File wrapper that counts bytes handed to the parser, so progress is real, and lets the
    main thread cancel a read (raising inside read() makes pyarrow abort)."""

    def __init__(self, path: str):
        self._fh = open(path, "rb", buffering=0)
        self.count = 0
        self.cancelled = False

    def readable(self):
        return True

    def readinto(self, buf):
        if self.cancelled:
            raise KeyboardInterrupt("load cancelled")
        n = self._fh.readinto(buf)
        self.count += n or 0
        return n

    def read(self, size=-1):
        if self.cancelled:
            raise KeyboardInterrupt("load cancelled")
        data = self._fh.read(size)
        self.count += len(data)
        return data

    def close(self):
        self._fh.close()
        super().close()


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GB"


def _progress_bundle(text: str) -> dict:
    import html

    return {"text/plain": text,
            "text/html": f"<div style='font-family:monospace;font-size:12px'>{html.escape(text)}</div>"}


def _run_with_progress(name: str, size: int, path: str, work):
    """Run `work(file_like)` on a worker thread while this thread shows bytes read and rate.

    The parser releases the GIL, so the main thread can publish `update_display_data` on one
    display id every 0.25 s; Ctrl-C here cancels the read through the counting wrapper.
    """
    reader = _CountingReader(path)
    box: dict = {}

    def target():
        try:
            box["value"] = work(reader)
        except BaseException as exc:  # handed to the main thread
            box["error"] = exc

    display_id = iopub.new_display_id()
    start = time.perf_counter()
    iopub.display_data(_progress_bundle(f"Loading {name}: 0 of {_fmt_bytes(size)}"),
                       display_id=display_id)
    thread = threading.Thread(target=target, name="anyviz-load", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.25)
            if thread.is_alive():
                done = reader.count
                rate = done / max(time.perf_counter() - start, 1e-6)
                pct = 100.0 * done / size if size else 0.0
                iopub.display_data(_progress_bundle(
                    f"Loading {name}: {_fmt_bytes(done)} of {_fmt_bytes(size)} ({pct:.0f}%) at "
                    f"{_fmt_bytes(rate)}/s"), display_id=display_id, update=True)
    except KeyboardInterrupt:
        reader.cancelled = True
        thread.join()
        reader.close()
        iopub.display_data(_progress_bundle(f"Loading {name}: cancelled"),
                           display_id=display_id, update=True)
        raise
    reader.close()
    secs = time.perf_counter() - start
    final = (f"Read {name}: {_fmt_bytes(size)} in {secs:.1f} s ({_fmt_bytes(size / max(secs, 1e-6))}/s)"
             if "error" not in box else f"Loading {name}: failed")
    iopub.display_data(_progress_bundle(final), display_id=display_id, update=True)
    if "error" in box:
        raise box["error"]
    return box["value"]


# --------------------------------------------------------------------------- delimited text


def _unique_names(names: list[str], name: str, notices: list) -> list[str]:
    """Strip names, name the blank ones, and make duplicates unique (amount, amount_2, ...)."""
    out, seen, dups, blanks = [], set(), [], 0
    for i, raw in enumerate(names):
        col = str(raw).strip().lstrip("\ufeff")
        if not col:
            col, blanks = f"unnamed_{i + 1}", blanks + 1
        if col in seen:
            base, k = col, 2
            while f"{base}_{k}" in seen:
                k += 1
            col = f"{base}_{k}"
            dups.append(f"{base} → {col}")
        seen.add(col)
        out.append(col)
    if dups:
        notices.append(f"{name}: duplicate column names made unique: {', '.join(dups[:10])}"
                       + (" ..." if len(dups) > 10 else "") + ".")
    if blanks:
        notices.append(f"{name}: {blanks} column(s) had no header; named them unnamed_N.")
    return out


class _ReturningPool:
    """While a file loads, allocate Arrow memory from jemalloc with page decay off, then restore.

    pyarrow's default pool (mimalloc) keeps freed pages: the threaded CSV reader's transient
    blocks (raw text waiting to be parsed, parsed fields waiting to be converted; together
    about the file's size) stay resident after they are freed, and the peak RSS of %load was
    ~4x the file above the baseline. jemalloc with decay 0 hands them back to the OS at once:
    peak ~2.7x (~1.6x with the types pinned from the first block, see _first_block_types),
    for ~0.05-0.1 s more per 100 MB (benchmarks/bench_load_profile.py). The loaded arrays keep a reference to
    their pool, so restoring the default afterwards is safe. Without jemalloc in the pyarrow
    build this does nothing.
    """

    def __enter__(self):
        self.previous = None
        try:
            pool = pa.jemalloc_memory_pool()
            pa.jemalloc_set_decay_ms(0)
        except (NotImplementedError, AttributeError, pa.ArrowNotImplementedError):
            return self
        self.previous = pa.default_memory_pool()
        pa.set_memory_pool(pool)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            pa.set_memory_pool(self.previous)
        return False


def _table_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas with dates as datetime64, empty columns as text, bool-with-nulls as boolean."""
    fixes = {}
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            fixes[i] = pa.string()
        elif pa.types.is_dictionary(f.type):
            fixes[i] = f.type.value_type if pa.types.is_string(f.type.value_type) else None
        elif pa.types.is_string_view(f.type):
            fixes[i] = pa.large_string()
    for i, typ in fixes.items():
        if typ is not None:
            table = table.set_column(i, table.schema[i].name, table.column(i).cast(typ))
    bool_nulls = [f.name for f in table.schema
                  if pa.types.is_boolean(f.type) and table.column(f.name).null_count]
    df = table.to_pandas(date_as_object=False, split_blocks=True, self_destruct=True)
    for col in bool_nulls:
        df[col] = df[col].astype("boolean")
    return df


def _first_bad_rows(read_opts, parse_kwargs, conv, stream_factory, limit: int = 5) -> list:
    """Re-read single-threaded (line numbers are only known then), stopping after `limit` bad rows."""
    rows: list = []

    def handler(row):
        rows.append(row)
        return "error" if len(rows) >= limit else "skip"

    opts = pacsv.ReadOptions(use_threads=False, block_size=read_opts.block_size,
                             encoding=read_opts.encoding,
                             autogenerate_column_names=read_opts.autogenerate_column_names)
    try:
        pacsv.read_csv(stream_factory(), read_options=opts,
                       parse_options=pacsv.ParseOptions(invalid_row_handler=handler, **parse_kwargs),
                       convert_options=conv)
    except Exception:
        pass
    return rows


def _bad_line_error(info: FileInfo, read_opts, parse_kwargs, conv, stream_factory) -> DataError:
    rows = _first_bad_rows(read_opts, parse_kwargs, conv, stream_factory)
    detail = "; ".join(f"line {r.number}: expected {r.expected_columns} fields, found "
                       f"{r.actual_columns}" for r in rows[:5] if r.number is not None)
    return DataError(f"{info.name} has rows with the wrong number of fields ({detail or 'ragged rows'}). "
                     f"Fix the file, or %load it with --on-bad-lines skip (drop them) or "
                     f"--on-bad-lines warn (drop and list them); check --sep if every row fails.")


def _first_block_types(open_stream, read_opts, parse_opts, conv_opts, sample: int) -> dict:
    """The column types Arrow infers from the file's first block of `sample` bytes, to pin for
    the whole read.

    Arrow infers each column's type from the first block anyway, but while it does, the
    threaded reader keeps reading and parsing the next blocks and holds them: the peak RSS of
    a 100 MB CSV was ~2.7x the file, and ~1.6x with the types given up front (measured with
    benchmarks/bench_load_profile.py). The streaming reader gets only two blocks' bytes: given
    the file, its read-ahead pulled ~50 MB into memory, and typing a 4 MB block took ~30 ms of
    a ~0.5 s load; one 1 MB block takes ~8 ms. Arrow's own chunker still ends the block at a row
    boundary (quoted newlines included). The bytes are read into an Arrow buffer, i.e. from
    the jemalloc pool of _ReturningPool on this thread, not into Python bytes: measured, the
    frame conversion then reuses the memory the read freed, and the load peaks at ~1.5x the
    file above the baseline instead of ~1.9x (the allocator's per-thread arena set-up is the
    likely cause). Columns with no value in the block are left to inference; a pinned column
    that fails later is un-pinned and the read retried (see _read_delimited). {} when the
    sample cannot be read: the full read then reports it."""
    opts = pacsv.ReadOptions(use_threads=False, block_size=sample,
                             autogenerate_column_names=read_opts.autogenerate_column_names)
    try:
        stream = open_stream()
        if isinstance(stream, str):
            stream = pa.OSFile(stream)
        with stream:  # into an Arrow buffer, not bytes: see above
            head = stream.read_buffer(2 * sample)
        if read_opts.encoding != "utf8":  # whole characters only: the cut may split one
            head = codecs.getincrementaldecoder(read_opts.encoding)().decode(
                head.to_pybytes()).encode()
        reader = pacsv.open_csv(pa.BufferReader(head), read_options=opts,
                                parse_options=parse_opts, convert_options=conv_opts)
    except (pa.ArrowException, OSError, ValueError):
        return {}
    try:
        schema = reader.schema
    finally:
        reader.close()
    names = schema.names
    return {f.name: _read_type(f.type) for f in schema
            if not pa.types.is_null(f.type) and names.count(f.name) == 1}


def _read_type(typ: pa.DataType) -> pa.DataType:
    """The type to pin for a column typed `typ` from the first block: text as large_string,
    the storage pandas' `str` dtype keeps, so the frame takes the parsed text without copying
    (from `string` it converts every chunk's offsets: ~15 ms per 2.4M values)."""
    return pa.large_string() if pa.types.is_string(typ) else typ


def _low_memory(size: int) -> bool:
    """Whether to read with the streaming CSV reader: one block in flight (~1.3x the file at
    peak instead of ~1.6x for the threaded reader with pinned types), but about twice as
    slow. Chosen when the file is large next to the memory still available
    (ANYVIZ_LOW_MEMORY_FRACTION of MemAvailable, default 0.2; 0 turns it off, 1e-9 forces it)."""
    from .. import settings

    fraction = settings.low_memory_fraction()
    if fraction <= 0:
        return False
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return size > fraction * int(line.split()[1]) * 1024
    except OSError:
        pass
    return False


def _read_delimited(info: FileInfo, *, header: bool, nrows: int | None, on_bad_lines: str,
                    progress: bool, notices: list, warnings: list) -> pd.DataFrame:
    block = 1 << 20
    if info.longest_line * 2 > block:
        block = min(1 << 28, max(block, 4 * info.longest_line))
    type_sample = block  # what _first_block_types types: a few ms, and rows fit in it
    if block == 1 << 20 and info.size > (64 << 20):
        block = 4 << 20  # fewer, larger blocks: less per-block overhead on big files
    read_opts = pacsv.ReadOptions(use_threads=True, block_size=block,
                                  encoding=info.encoding if info.encoding not in ("utf-8", "utf-8-sig") else "utf8",
                                  autogenerate_column_names=not header)
    parse_kwargs = dict(delimiter=info.sep, newlines_in_values=info.quoted_newlines)
    bad_rows: list = []
    skipping = on_bad_lines in ("skip", "warn")
    lock = threading.Lock()

    def handler(row):
        with lock:
            bad_rows.append((row.number, row.text[:80]))
        return "skip"

    def make_parse():
        kw = dict(parse_kwargs)
        if skipping:
            kw["invalid_row_handler"] = handler
        return pacsv.ParseOptions(**kw)

    column_types: dict = {}
    first_block_types: dict = {}  # see _first_block_types; computed once, un-pinned per column
    pinned = [False]

    def conv():
        return pacsv.ConvertOptions(column_types={**first_block_types, **column_types},
                                    null_values=list(NA_VALUES),
                                    strings_can_be_null=True,
                                    quoted_strings_can_be_null=True,
                                    decimal_point="," if info.decimal_comma else ".")

    def stream_for(src):
        if info.compression:
            return pa.CompressedInputStream(pa.PythonFile(src, mode="r") if not isinstance(src, str)
                                            else pa.OSFile(src), info.compression)
        return src

    low_memory = _low_memory(info.size)

    def read_all(src):
        if nrows is not None or low_memory:  # streaming reader: one block in flight at a time
            reader = pacsv.open_csv(stream_for(src), read_options=read_opts,
                                    parse_options=make_parse(), convert_options=conv())
            batches, got = [], 0
            for batch in reader:
                batches.append(batch)
                got += batch.num_rows
                if nrows is not None and got >= nrows:
                    break
            table = pa.Table.from_batches(batches, schema=reader.schema)
            return table.slice(0, nrows) if nrows is not None else table
        if not pinned[0]:
            pinned[0] = True
            quiet = pacsv.ParseOptions(invalid_row_handler=(lambda row: "skip") if skipping
                                       else None, **parse_kwargs)
            first_block_types.update(_first_block_types(  # its own stream: src may be a
                lambda: stream_for(info.path), read_opts, quiet, conv(), type_sample))  # progress reader
        return pacsv.read_csv(stream_for(src), read_options=read_opts,
                              parse_options=make_parse(), convert_options=conv())

    use_progress = progress and info.size > env_int("ANYVIZ_PROGRESS_MB", 50) * (1 << 20)
    table = None
    for attempt in range(12):
        bad_rows.clear()
        try:
            if use_progress and nrows is None:
                table = _run_with_progress(info.name, info.size, info.path, read_all)
            else:
                table = read_all(info.path)
            break
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            if "straddling" in msg or "straddles" in msg:
                if read_opts.block_size < (64 << 20):
                    read_opts.block_size = 64 << 20
                    continue
                raise DataError(f"{info.name} has a row longer than 64 MB (or an unclosed quote "
                                f"that swallows the rest of the file). Check the quoting, or pass "
                                f"--sep if the delimiter was guessed wrong.") from None
            if "conversion error" in msg.lower():
                col = _conversion_column(msg, lambda: pacsv.open_csv(
                    stream_for(info.path), read_options=read_opts,
                    parse_options=pacsv.ParseOptions(**parse_kwargs)).schema.names)
                if col is not None and first_block_types.pop(col, None) is not None:
                    continue  # typed from the first block only: let Arrow infer it again
                if col is not None and col not in column_types:
                    column_types[col] = pa.large_string()  # mixed: keep text, convert below
                    continue
            if "Expected" in msg and "columns" in msg:
                if not parse_kwargs["newlines_in_values"] and '"' in msg:
                    parse_kwargs["newlines_in_values"] = True
                    continue
                raise _bad_line_error(info, read_opts, parse_kwargs, conv(),
                                      lambda: stream_for(info.path)) from None
            if "Empty CSV file" in msg:
                raise DataError(f"{info.name} is empty; there is nothing to load. Check that the file "
                                f"was saved completely, or %load the right file.") from None
            return _pandas_fallback(info, header=header, nrows=nrows, on_bad_lines=on_bad_lines,
                                    why=msg, notices=notices, warnings=warnings)
    if table is None:  # every retry failed: pandas' reader is slower but more forgiving
        return _pandas_fallback(info, header=header, nrows=nrows, on_bad_lines=on_bad_lines,
                                why="the fast reader gave up after repeated type conflicts",
                                notices=notices, warnings=warnings)
    # Text that is not UTF-8 after the sampled first MB shows up as binary columns: re-read.
    if any(pa.types.is_binary(f.type) for f in table.schema) and info.encoding.startswith("utf-8"):
        info.encoding = "latin-1"
        notices.append(f"{info.name} is not valid UTF-8 after its first MB; read it as Latin-1. "
                       f"Pass --encoding if characters look wrong.")
        return _read_delimited(info, header=header, nrows=nrows, on_bad_lines=on_bad_lines,
                               progress=progress, notices=notices, warnings=warnings)

    names = [f"column_{i + 1}" for i in range(table.num_columns)] if not header else table.column_names
    table = table.rename_columns(_unique_names(names, info.name, notices))
    if bad_rows:
        numbered = [f"line {n}" for n, _ in bad_rows if n is not None][:5]
        text = (f"{info.name}: skipped {len(bad_rows):,} row(s) with the wrong number of fields"
                + (f" ({', '.join(numbered)})" if numbered else "") + ".")
        if on_bad_lines == "warn":
            if not numbered:  # multithreaded parsing does not know line numbers: look them up
                rows = _first_bad_rows(read_opts, parse_kwargs, conv(), lambda: stream_for(info.path))
                numbered = [f"line {r.number}" for r in rows if r.number is not None]
                text = (f"{info.name}: skipped {len(bad_rows):,} row(s) with the wrong number of "
                        f"fields" + (f" ({', '.join(numbered)})" if numbered else "") + ".")
            sample = "; ".join(repr(t) for _, t in bad_rows[:3])
            warnings.append(f"{text} First: {sample}")
        else:
            notices.append(text)
    df = _table_to_pandas(table)
    del table
    for col in column_types:  # mixed columns: numbers if everything parses, else text
        if col in df.columns:
            num = pd.to_numeric(df[col], errors="coerce")
            if num.notna().sum() == df[col].notna().sum():
                df[col] = num
    if len(df) == 0:
        warnings.append(f"{info.name} has a header but no data rows; loaded 0 rows.")
    return df


def _pandas_fallback(info: FileInfo, *, header: bool, nrows, on_bad_lines: str, why: str,
                     notices: list, warnings: list) -> pd.DataFrame:
    """pandas' C engine for what pyarrow refuses; announced, since it is slower and stricter
    date handling differs."""
    try:
        df = pd.read_csv(info.path, sep=info.sep, encoding=info.encoding, nrows=nrows,
                         header=0 if header else None, on_bad_lines=on_bad_lines,
                         compression={"lzma": "xz"}.get(info.compression, info.compression),
                         decimal="," if info.decimal_comma else ".", engine="c")
    except Exception as exc:
        raise DataError(f"{info.name} could not be parsed as delimited text ({why}; pandas: "
                        f"{exc}). Check --sep, --encoding and --header.") from None
    notices.append(f"{info.name}: read with pandas' parser (the fast reader said: {why[:120]}).")
    if not header:
        df.columns = [f"column_{i + 1}" for i in range(df.shape[1])]
    df.columns = _unique_names([str(c) for c in df.columns], info.name, notices)
    if len(df) == 0:
        warnings.append(f"{info.name} has a header but no data rows; loaded 0 rows.")
    return df


def _conversion_column(msg: str, header_names) -> str | None:
    """Column name from pyarrow's "In CSV column #3: CSV conversion error ..." message."""
    import re

    m = re.search(r"column #(\d+)", msg)
    if m is None:
        return None
    try:  # the message has only the index; the header (first block only) maps it to a name
        names = header_names()
        return names[int(m.group(1))]
    except Exception:
        return None


# --------------------------------------------------------------------------- other formats


def _read_json(info: FileInfo, nrows: int | None) -> pd.DataFrame:
    if info.kind == "jsonl":
        try:
            import pyarrow.json as pajson

            src = pa.input_stream(info.path, compression=info.compression) if info.compression \
                else info.path
            if info.encoding.startswith("utf-8"):
                df = _table_to_pandas(pajson.read_json(src))
                return df.head(nrows) if nrows else df
        except pa.ArrowInvalid:
            pass  # inconsistent types across lines: let pandas cope
        try:
            return pd.read_json(info.path, lines=True, nrows=nrows, encoding=info.encoding,
                                compression=info.compression and {"lzma": "xz"}.get(
                                    info.compression, info.compression))
        except ValueError as exc:
            raise DataError(f"{info.name} is not valid JSON Lines ({exc}). Each line must be one "
                            f"JSON object.") from None
    import json

    with pa.input_stream(info.path, compression=info.compression) as stream:
        raw = stream.read()
    try:
        try:
            import orjson

            obj = orjson.loads(raw.decode(info.encoding) if not info.encoding.startswith("utf-8")
                               else raw.removeprefix(b"\xef\xbb\xbf"))
        except ImportError:
            obj = json.loads(raw.decode(info.encoding))
    except ValueError as exc:
        raise DataError(f"{info.name} is not valid JSON ({exc}). If it has one object per line, "
                        f"name it .jsonl.") from None
    del raw
    if isinstance(obj, dict):
        lists = [k for k, v in obj.items() if isinstance(v, list)]
        if len(lists) == 1 and all(not isinstance(v, list) for k, v in obj.items() if k != lists[0]) \
                and obj[lists[0]] and isinstance(obj[lists[0]][0], dict):
            obj = obj[lists[0]]  # {"data": [...records...], "meta": ...}
        elif all(isinstance(v, (list, dict)) for v in obj.values()):
            df = pd.DataFrame(obj)
            return df.head(nrows) if nrows else df
        else:
            obj = [obj]
    if not isinstance(obj, list) or (obj and not all(isinstance(r, dict) for r in obj[:1000])):
        raise DataError(f"{info.name}: JSON must be a list of records ([{{...}}, ...]), an object of "
                        f"columns, or JSON Lines; this one is a list of "
                        f"{type(obj[0]).__name__ if obj else 'nothing'}.")
    if nrows:
        obj = obj[:nrows]
    return _infer_text_dates(pd.json_normalize(obj))


def _infer_text_dates(df: pd.DataFrame) -> pd.DataFrame:
    """JSON has no date type: turn ISO-looking text columns into datetime64 (sample checked first)."""
    import re

    iso = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
    for col in df.columns:
        s = df[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            sample = s.dropna().head(200)
            if len(sample) and all(isinstance(v, str) and iso.match(v) for v in sample):
                try:
                    df[col] = pd.to_datetime(s, format="ISO8601")
                except (ValueError, TypeError):
                    pass
    return df


def _read_excel(info: FileInfo, sheet, header: bool, nrows: int | None) -> pd.DataFrame:
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise DataError(f"{info.name} is an Excel workbook; reading it needs the openpyxl package. "
                        f"Run `%pip install openpyxl` (or pip install openpyxl in the kernel's "
                        f"environment), then %load it again — or save it as CSV.") from None
    if info.name.lower().endswith(".xls"):
        raise DataError(f"{info.name} is an old .xls workbook; save it as .xlsx or CSV and "
                        f"%load that.")
    sheet_name = 0
    if sheet is not None:
        sheet_name = int(sheet) if str(sheet).isdigit() else sheet
    try:
        return pd.read_excel(info.path, sheet_name=sheet_name, header=0 if header else None,
                             nrows=nrows, engine="openpyxl")
    except (ValueError, KeyError, IndexError) as exc:
        try:
            names = pd.ExcelFile(info.path, engine="openpyxl").sheet_names
        except Exception:
            raise DataError(f"{info.name} could not be read as an Excel workbook ({exc}).") from None
        raise DataError(f"{info.name} has no sheet {sheet!r}. Sheets: {', '.join(names)}. "
                        f"Pass --sheet NAME or --sheet INDEX (0-based).") from None
    except Exception as exc:
        raise DataError(f"{info.name} could not be read as an Excel workbook ({exc}). Re-save it "
                        f"from Excel as .xlsx or CSV.") from None


def _read_parquet(info: FileInfo, nrows: int | None) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        if nrows is not None:
            pf = pq.ParquetFile(info.path)
            batches, got = [], 0
            for batch in pf.iter_batches(batch_size=min(nrows, 65536)):
                batches.append(batch)
                got += batch.num_rows
                if got >= nrows:
                    break
            table = pa.Table.from_batches(batches, schema=pf.schema_arrow).slice(0, nrows)
        else:
            table = pq.read_table(info.path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{info.name} is not a readable Parquet file ({exc}). Check that the file "
                        f"is complete.") from None
    return _table_to_pandas(table)


def _read_feather(info: FileInfo, nrows: int | None) -> pd.DataFrame:
    import pyarrow.feather as feather

    try:
        table = feather.read_table(info.path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{info.name} is not a readable Feather/Arrow file ({exc}).") from None
    return _table_to_pandas(table.slice(0, nrows) if nrows else table)


# --------------------------------------------------------------------------- entry point


def read_file(path: str, *, source: str | None = None, display_name: str | None = None,
              sep: str | None = None, encoding: str | None = None, header: bool = True,
              sheet=None, nrows: int | None = None, on_bad_lines: str = "error",
              progress: bool = True, dates="auto") -> LoadResult:
    """Load one local file; raises DataError naming the file, the problem and what to do.
    `dates`: "auto" turns text columns that hold dates (2012/01/01, Jan 1 2000 ...) into dates,
    a list of column names forces exactly those, None keeps text as text (--no-dates)."""
    start = time.perf_counter()
    info = inspect_file(path, display_name=display_name, encoding=encoding, sep=sep)
    notices, warnings = list(info.notices), []
    with _ReturningPool():
        if info.kind == "delimited":
            df = _read_delimited(info, header=header, nrows=nrows, on_bad_lines=on_bad_lines,
                                 progress=progress, notices=notices, warnings=warnings)
        elif info.kind in ("json", "jsonl"):
            df = _read_json(info, nrows)
        elif info.kind == "excel":
            df = _read_excel(info, sheet, header, nrows)
        elif info.kind == "parquet":
            df = _read_parquet(info, nrows)
        else:
            df = _read_feather(info, nrows)
    if info.kind != "delimited":
        df.columns = _unique_names([str(c) for c in df.columns], info.name, notices)
        if len(df) == 0:
            warnings.append(f"{info.name} has no rows; loaded an empty frame.")
    if dates is not None and info.kind in ("delimited", "json", "jsonl", "excel"):
        df = parse_text_dates(df, None if dates == "auto" else dates, notices)
    return LoadResult(df=df, source=source or os.path.abspath(path), size_bytes=info.size,
                      seconds=time.perf_counter() - start, kind=info.kind, notices=notices,
                      warnings=warnings)
