"""`%load` for engine tables: big Parquet/CSV folders and globs, DuckDB files, Spark tables.

`wants(line)` tells the %load magic whether this load belongs here (an explicit `--engine`, an
engine URL, a .duckdb file, or files bigger than the lazy threshold); `load(line)` then binds a
LazyFrame and shows a preview read with LIMIT (and the row count where Parquet metadata gives
it), never the whole table.
"""
from __future__ import annotations

import glob
import keyword
import os
import re
import shlex
import time
import urllib.parse

from .. import iopub, session
from ..errors import DataError, UsageError
from . import frame as _frame
from .frame import LazyFrame
from .sources import CSV, DB_SUFFIXES, PARQUET, URL_SCHEMES, data_files

ENGINES = ("duckdb", "spark", "pandas")


def threshold_bytes() -> int:
    """Files above this total load lazily: ANYVIZ_LAZY_THRESHOLD_MB, else 25 % of the memory
    the kernel can use (available RAM, or its address-space cap if lower)."""
    value = os.environ.get("ANYVIZ_LAZY_THRESHOLD_MB", "").strip()
    if value:
        try:
            return int(float(value) * 2**20)
        except ValueError:
            pass
    available = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft not in (resource.RLIM_INFINITY, -1):
            available = min(available or soft, soft)
    except (ImportError, OSError, ValueError):
        pass
    return int((available or 8 * 2**30) * 0.25)


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"%load: {exc} (check the quotes).") from None


def _engine_option(tokens: list[str]) -> str | None:
    for i, tok in enumerate(tokens):
        if tok == "--engine" and i + 1 < len(tokens):
            return tokens[i + 1].lower()
        if tok.startswith("--engine="):
            return tok.split("=", 1)[1].lower()
    return None


def wants(line: str) -> bool:
    """Whether `%load line` should make a lazy engine table instead of a pandas frame."""
    try:
        tokens = _split(line)
    except UsageError:
        return False
    engine = _engine_option(tokens)
    if engine == "pandas":
        return False
    if engine:
        return True
    paths = [t for t in tokens if not t.startswith("-")]
    if any(p.lower().startswith(URL_SCHEMES) or p.lower().endswith(DB_SUFFIXES) for p in paths):
        return True
    for p in paths:
        if os.path.isdir(os.path.expanduser(p)):
            return True  # a folder of Parquet/CSV parts is one table
    total = 0
    for p in paths:
        for f in data_files(p):
            if f.lower().endswith(PARQUET + CSV):
                try:
                    total += os.path.getsize(f)
                except OSError:
                    pass
    return total > threshold_bytes()


def _parse(line: str) -> dict:
    tokens = _split(line)
    out = {"engine": None, "name": None, "table": None, "paths": []}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("--engine", "--name", "--table") and i + 1 < len(tokens):
            out[tok[2:]] = tokens[i + 1]
            i += 2
            continue
        if tok.startswith(("--engine=", "--name=", "--table=")):
            key, value = tok[2:].split("=", 1)
            out[key] = value
        elif tok == "as" and i + 1 < len(tokens):
            out["name"] = tokens[i + 1]
            i += 2
            continue
        elif tok.startswith("-"):
            raise UsageError(f"%load: {tok} is not an option for engine tables. Use --engine "
                             f"duckdb|spark|pandas, --table NAME, as NAME.")
        else:
            out["paths"].append(tok)
        i += 1
    if out["engine"]:
        out["engine"] = out["engine"].lower()
        if out["engine"] not in ENGINES:
            raise UsageError(f"%load: unknown engine {out['engine']!r}; use duckdb, spark or "
                             f"pandas.")
    if len(out["paths"]) != 1:
        raise UsageError("%load with an engine takes one source: a Parquet/CSV file, folder or "
                         "glob, a .duckdb file, duckdb://PATH/TABLE, spark://HOST:PORT/TABLE or "
                         "sc://HOST:PORT/TABLE.")
    name = out["name"]
    if name is not None and (not name.isidentifier() or keyword.iskeyword(name)):
        raise UsageError(f"%load: {name!r} is not a valid Python variable name, e.g. as sales.")
    return out


def _identifier(text: str) -> str:
    name = re.sub(r"\W+", "_", text.strip()).strip("_").lower() or "df"
    if name[0].isdigit():
        name = "df_" + name
    if keyword.iskeyword(name):
        name += "_"
    return name


def _stem(path: str) -> str:
    base = path.rstrip("/")
    if glob.has_magic(base):
        base = os.path.dirname(base.split("*")[0].rstrip("/")) or base.split("*")[0] or "data"
    base = os.path.basename(base.rstrip("/")) or "data"
    for _ in range(2):
        root, ext = os.path.splitext(base)
        if ext and len(ext) <= 9:
            base = root
    return base


# --------------------------------------------------------------------------- sources
def _file_table(backend, files: list[str], source: str):
    parquet = [f for f in files if f.lower().endswith(PARQUET)]
    if parquet and len(parquet) != len(files):
        raise DataError(f"{source} mixes Parquet and other files; load one format at a time "
                        f"(e.g. {os.path.join(os.path.dirname(files[0]), '*.parquet')}).")
    # Spark reads folders and globs itself (and takes one path); DuckDB gets the file list.
    where = os.path.expanduser(source) if backend.name == "pyspark" else files
    try:
        if parquet:
            return backend.read_parquet(where), True
        return backend.read_csv(where), False
    except Exception as exc:  # noqa: BLE001 - corrupt file, bad CSV, permissions
        raise DataError(f"Could not read {source}: {_frame.short_error(exc)}. Check that every file "
                        f"is valid {'Parquet' if parquet else 'CSV'}; nothing was loaded.") \
            from None


def _open(spec: dict) -> tuple[LazyFrame, str]:
    """The LazyFrame for a parsed %load, and the default variable name."""
    path = spec["paths"][0]
    low = path.lower()
    engine = spec["engine"]
    if low.startswith(("spark://", "sc://")):
        parts = urllib.parse.urlparse(path)
        table = spec["table"] or parts.path.strip("/")
        if not table:
            raise UsageError(f"%load {path}: name the table, e.g. {path.rstrip('/')}/sales or "
                             f"--table sales.")
        base = f"{parts.scheme}://{parts.netloc}"
        backend = (_frame.spark_backend(remote=base) if parts.scheme == "sc"
                   else _frame.spark_backend(master=base))
        return _table(backend, table, "spark", path), table.split(".")[-1]
    if low.startswith("duckdb://") or low.endswith(DB_SUFFIXES):
        db = path[len("duckdb://"):] if low.startswith("duckdb://") else path
        table = spec["table"]
        if not os.path.exists(db) and "/" in db and not table:
            db, table = db.rsplit("/", 1)
        backend = _frame.duckdb_file_backend(db)
        if not table:
            tables = _list_tables(backend)
            if len(tables) != 1:
                listed = ", ".join(tables[:20]) or "none"
                raise DataError(f"{db} has {len(tables)} tables ({listed}); name one: "
                                f"%load duckdb://{db}/TABLE.")
            table = tables[0]
        lazy = _table(backend, table, "duckdb", path)
        lazy.files = [db, db + ".wal"]  # a writer elsewhere changes one of the two
        return lazy, table
    files = data_files(path)
    if not files:
        raise DataError(f"No Parquet or CSV files at {path} (searched from {os.getcwd()}).")
    if engine == "spark":
        backend = _frame.spark_backend()
    else:
        backend = _frame.duckdb_backend()
    table, parquet = _file_table(backend, files, path)
    size = sum(os.path.getsize(f) for f in files if os.path.exists(f))
    lazy = LazyFrame(table, engine="spark" if engine == "spark" else "duckdb", source=path,
                     backend=backend, size_bytes=size, files=files)
    lazy.parquet = parquet
    return lazy, _stem(path)


def _list_tables(backend) -> list[str]:
    """Table names, through the engine's own catalog for DuckDB (portable across versions)."""
    raw = getattr(backend, "con", None)
    if raw is not None and hasattr(raw, "interrupt"):
        rows = raw.execute("SELECT table_name FROM information_schema.tables "
                           "WHERE table_schema = 'main' ORDER BY table_name").fetchall()
        return [r[0] for r in rows]
    return list(backend.list_tables())


def _table(backend, table: str, engine: str, source: str) -> LazyFrame:
    try:
        t = backend.table(table)
    except Exception as exc:  # noqa: BLE001
        try:
            tables = ", ".join(_list_tables(backend)[:20]) or "none"
        except Exception:  # noqa: BLE001
            tables = "unknown"
        raise DataError(f"There is no table {table!r} in {source} ({_frame.short_error(exc, 160)}). "
                        f"Tables there: {tables}.") from None
    lazy = LazyFrame(t, engine=engine, source=source, backend=backend)
    lazy.parquet = engine == "duckdb" and _is_base_table(backend, table)
    return lazy


def _is_base_table(backend, table: str) -> bool:
    """A DuckDB base table knows its row count; a view may be a query of any cost."""
    try:
        rows = backend.con.execute("SELECT table_type FROM information_schema.tables "
                                   "WHERE table_name = ?", [table]).fetchall()
    except Exception:  # noqa: BLE001
        return False
    return bool(rows) and rows[0][0] == "BASE TABLE"


# --------------------------------------------------------------------------- the magic
def load(line: str) -> None:
    """Bind a LazyFrame for `line` and show its preview (first rows, count where cheap)."""
    from ..data.preview import esc, fmt_bytes, frame_table_html, frame_table_text

    spec = _parse(line)
    started = time.perf_counter()
    lazy, stem = _open(spec)
    head = lazy.head(5)  # a query: a corrupt file fails here, before anything is bound
    if getattr(lazy, "parquet", False):
        lazy.count()  # Parquet footers / DuckDB table statistics: no full scan
    seconds = time.perf_counter() - started
    name = spec["name"] or _identifier(stem)
    replaced = name in session.user_ns
    session.user_ns[name] = lazy
    session.set_current_frame(name)

    rows = (f"{lazy.rows_known:,} rows" if lazy.rows_known is not None
            else "rows not counted (a full scan; %profile counts them)")
    size = f", {fmt_bytes(lazy.size_bytes)}" if lazy.size_bytes else ""
    title = (f"{name}: {rows} × {len(lazy.columns):,} columns in {lazy.engine} from "
             f"{lazy.source}{size} ({seconds:.2f} s)")
    note = (f"Lazy table: the rows stay in {lazy.engine}; %viz and %profile run there and bring "
            f"back only what they show. In code, {name}.table is an Ibis table.")
    if replaced:
        note += " Replaced the previous value of this name."
    table_html, cut = frame_table_html(head)
    dtypes = ", ".join(f"{c}: {t}" for c, t in list(lazy.schema.items())[:20])
    html_text = (f"<div style='font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif'>"
                 f"<div style='margin:6px 0'><b>{esc(name)}</b>: {esc(title[len(name) + 2:])}"
                 f"</div>{table_html}"
                 + (f"<div style='color:#555;font-size:12px'>{esc(cut)}</div>" if cut else "")
                 + f"<div style='color:#555;font-size:12px;margin:2px 0'>ℹ {esc(note)}</div>"
                 + "</div>")
    text = f"{title}\n  dtypes: {dtypes}\n{frame_table_text(head)}\nnote: {note}"
    iopub.display_data({"text/html": html_text, "text/plain": text})
