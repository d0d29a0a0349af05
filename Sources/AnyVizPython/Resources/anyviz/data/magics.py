"""The data magics: `%load`, `%profile`, `%who`, `%frames`, `%drop`.

Each entry point takes the raw text after the magic name, tokenizes it with shlex, parses it
with an argparse parser that never exits (bad usage raises UsageError with the usage text),
publishes its output through anyviz.iopub and raises AnyVizError subclasses for the user.
A function's docstring is its `%name?` help.
"""
from __future__ import annotations

import argparse
import builtins
import glob
import keyword
import os
import re
import shlex
import tempfile
import types
import urllib.parse

from .. import iopub, session
from ..errors import DataError, UsageError
from . import registry
from .sniff import env_int


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing and calling sys.exit."""

    def __init__(self, prog: str, usage: str | None = None, **kw):
        usage = usage.replace("%", "%%") if usage else usage  # argparse %-formats usage
        super().__init__(prog=prog, usage=usage, add_help=False, allow_abbrev=False, **kw)

    def error(self, message):
        raise UsageError(f"%{self.prog}: {message}\n{self.format_usage().strip()}\n"
                         f"Run %{self.prog}? for help.")

    def exit(self, status=0, message=None):  # pragma: no cover - never reached with add_help=False
        raise UsageError(message or self.format_usage())


def _tokens(line: str, prog: str) -> list[str]:
    try:
        return shlex.split(line or "")
    except ValueError as exc:  # e.g. "No closing quotation"
        raise UsageError(f"%{prog}: {exc} in {line!r}. Quote paths with spaces: "
                         f"%{prog} \"my file.csv\".") from None


def _wants_help(tokens: list[str], func) -> bool:
    if "-h" in tokens or "--help" in tokens:
        iopub.stream("stdout", (func.__doc__ or "").strip() + "\n")
        return True
    return False


# --------------------------------------------------------------------------- %load

_SEPS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}


def _load_parser() -> _Parser:
    p = _Parser("load", usage="%load PATH [PATH ...] [as NAME] [--name NAME] [--sep SEP] "
                              "[--encoding ENC] [--header first|none] [--sheet SHEET] [--nrows N] "
                              "[--on-bad-lines error|skip|warn]")
    p.add_argument("paths", nargs="+")
    p.add_argument("--name")
    p.add_argument("--sep")
    p.add_argument("--encoding")
    p.add_argument("--header", choices=["first", "none"], default="first")
    p.add_argument("--sheet")
    p.add_argument("--nrows", type=int)
    p.add_argument("--on-bad-lines", dest="on_bad_lines", choices=["error", "skip", "warn"],
                   default="error")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--dates", help="COL[,COL]: read these text columns as dates")
    p.add_argument("--no-dates", dest="no_dates", action="store_true")
    return p


def _dates_option(args):
    """--dates A,B -> ["A", "B"]; --no-dates -> None; neither -> "auto" (detect date text)."""
    if args.no_dates and args.dates:
        raise UsageError("%load: --dates and --no-dates contradict each other; use one.")
    if args.no_dates:
        return None
    if args.dates:
        return [c.strip() for c in args.dates.split(",") if c.strip()]
    return "auto"


def identifier_for(stem: str) -> str:
    """A valid Python identifier from a file stem: 'Sales 2024-Q1' -> 'sales_2024_q1'."""
    name = re.sub(r"\W+", "_", stem.strip()).strip("_").lower()
    if not name:
        name = "df"
    if name[0].isdigit():
        name = "df_" + name
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        name += "_"
    return name


def _stem(filename: str) -> str:
    base = os.path.basename(filename.rstrip("/"))
    for _ in range(2):  # sales.csv.gz -> sales
        root, ext = os.path.splitext(base)
        if ext and len(ext) <= 9:
            base = root
    return base


def _is_url(path: str) -> bool:
    return path.lower().startswith(("http://", "https://", "ftp://"))


def _expand(paths: list[str]) -> list[str]:
    """Expand ~ and globs (sorted); a pattern that matches nothing is an error."""
    out: list[str] = []
    for p in paths:
        if _is_url(p):
            out.append(p)
            continue
        p = os.path.expanduser(p)
        if glob.has_magic(p):
            matches = sorted(m for m in glob.glob(p, recursive=True) if os.path.isfile(m))
            if not matches:
                raise DataError(f"No files match {p} (searched from {os.getcwd()}). Check the "
                                f"pattern, e.g. %load data/*.csv.")
            out.extend(matches)
        else:
            out.append(p)
    limit = env_int("ANYVIZ_MAX_FILES", 200)
    if len(out) > limit:
        raise DataError(f"%load got {len(out)} files, over the limit of {limit}. Use a narrower "
                        f"pattern, or raise the limit with ANYVIZ_MAX_FILES.")
    return out


def _fetch(url: str, tmpdir: str) -> str:
    """Download through the kernel's libcurl service into `tmpdir`; returns the local path."""
    seg = urllib.parse.unquote(urllib.parse.urlparse(url).path.rstrip("/").rsplit("/", 1)[-1])
    seg = re.sub(r"[^\w.\-]", "_", seg) or "download.csv"
    path = os.path.join(tmpdir, seg)
    try:
        reply = iopub.call("fetch", {"url": url, "path": path, "timeout_s": 60})
    except Exception as exc:
        raise DataError(f"Could not download {url}: {exc}. Check the URL and the network, or "
                        f"download it yourself and %load the local file.") from None
    if not isinstance(reply, dict) or reply.get("status") != "ok":
        reply = reply if isinstance(reply, dict) else {}
        code = reply.get("http_code")
        why = (reply.get("message") or "download failed").rstrip(" .")
        # The transport's message may already carry advice; say each thing once.
        if "yourself" in why.lower():
            raise DataError(f"Could not download {url}: {why}.")
        advice = "" if "check the url" in why.lower() else " Check the URL (is it public?), or"
        raise DataError(f"Could not download {url}: {why}"
                        + (f" (HTTP {code})" if code else "")
                        + f".{advice or ' Or'} download it yourself and %load the local file.")
    if not os.path.exists(path):
        raise DataError(f"Downloading {url} reported success but wrote no file. Try again, or "
                        f"download it yourself and %load the local file.")
    return path


def _safe_name(name: str, notices: list) -> str:
    """Do not clobber modules, functions or classes the user imported (pd, np, px ...)."""
    old = session.user_ns.get(name)
    if isinstance(old, (types.ModuleType, types.FunctionType, type)) or \
            (name in vars(builtins) and name not in session.user_ns):
        new = name + "_df"
        notices.append(f"{name} is already a {type(old).__name__ if old is not None else 'builtin'}; "
                       f"bound the data to {new} instead.")
        return new
    return name


def load(line: str) -> None:
    """%load PATH [PATH ...] [as NAME] — load data files into DataFrames.

    Each file becomes a pandas DataFrame in a variable named after the file (sales.csv -> sales)
    and is shown with its shape, dtypes and first rows. Globs (data/*.csv) and http(s) URLs work.
    Formats: CSV/TSV/other delimited text (delimiter and encoding detected; .gz/.bz2/.xz/.zst
    compressed too), Parquet, JSON, JSON Lines, Feather and Excel (needs openpyxl).

    Options:
      as NAME / --name NAME     variable name (one file only)
      --sep SEP                 delimiter: , ; | tab (default: detected)
      --encoding ENC            text encoding (default: UTF-8/UTF-16 by BOM, Latin-1 fallback)
      --header first|none       first row is the header (default) or data (columns column_1..)
      --sheet SHEET             Excel sheet name or 0-based index
      --nrows N                 read only the first N rows
      --on-bad-lines MODE       rows with the wrong number of fields: error (default), skip,
                                warn (skip and list them)
      --no-progress             no progress line for big files
      --dates COL[,COL]         read these text columns as dates (any common format)
      --no-dates                keep date text as text (by default, text columns whose values
                                are all dates, e.g. 2012/01/01, 01/31/2012, Jan 1 2000, are
                                read as dates; the notice names the format chosen)
      --engine duckdb|spark     keep the rows in an engine (a lazy table): Parquet/CSV files,
                                folders and globs; also duckdb://FILE/TABLE, a .duckdb file,
                                spark://HOST:PORT/TABLE, sc://HOST:PORT/TABLE (Spark Connect).
                                Files over ANYVIZ_LAZY_THRESHOLD_MB (default: 25% of available
                                memory) and folders load into DuckDB without asking.

    All files of one %load are read first and bound only if every one succeeded: a failed
    %load changes nothing. A file with a header but no rows loads as 0 rows with a warning. Loading over an existing name replaces it (and says so).
    When several frames exist, likely join keys between them are shown and remembered.
    Limits: ANYVIZ_MAX_FILE_MB (default 4096), ANYVIZ_MAX_FILES (default 200).
    """
    from . import loader, preview, relationships

    tokens = _tokens(line, "load")
    if _wants_help(tokens, load):
        return
    from .. import engines

    if engines.load_wanted(line):  # --engine, duckdb:// spark:// sc://, folders, big files
        return engines.load(line)
    alias = None
    if "as" in tokens[1:-1] or (len(tokens) >= 2 and tokens[-2] == "as"):
        i = tokens.index("as", 1)  # "as NAME" may come before or after the options
        alias = tokens[i + 1]
        tokens = tokens[:i] + tokens[i + 2:]
    if not tokens:
        raise UsageError("%load needs a file: %load data/sales.csv (or %load data/*.csv, "
                         "%load https://.../file.csv). Run %load? for help.")
    args = _load_parser().parse_args(tokens)
    if args.name and alias and args.name != alias:
        raise UsageError(f"%load: both 'as {alias}' and --name {args.name} given; use one.")
    name_opt = args.name or alias
    if name_opt is not None and (not name_opt.isidentifier() or keyword.iskeyword(name_opt)):
        raise UsageError(f"%load: {name_opt!r} is not a valid Python variable name. Use letters, "
                         f"digits and _ (not starting with a digit), e.g. as sales_2024.")
    if args.nrows is not None and args.nrows <= 0:
        raise UsageError("%load: --nrows must be a positive number of rows, e.g. --nrows 1000.")
    sep = args.sep
    if sep is not None:
        sep = _SEPS.get(sep.lower(), sep)
        if len(sep) != 1:
            raise UsageError(f"%load: --sep must be one character (or tab/comma/semicolon/pipe); "
                             f"got {args.sep!r}.")
    if args.encoding:
        import codecs

        try:
            codecs.lookup(args.encoding)
        except LookupError:
            raise UsageError(f"%load: unknown encoding {args.encoding!r}; use e.g. utf-8, "
                             f"latin-1, cp1252, utf-16.") from None

    paths = _expand(args.paths)
    if name_opt and len(paths) > 1:
        raise UsageError(f"%load: a name ('as {name_opt}') names one frame, but {len(paths)} files "
                         f"were given; drop the name to use the file names.")

    # Read everything first; bind nothing unless every file loaded (a failed %load changes nothing).
    results = []
    with tempfile.TemporaryDirectory(prefix="anyviz-load-") as tmpdir:
        for p in paths:
            local, display = p, p
            if _is_url(p):
                local = _fetch(p, tmpdir)
                display = os.path.basename(local)
            try:
                res = loader.read_file(local, source=p, display_name=os.path.basename(display),
                                       sep=sep, encoding=args.encoding,
                                       header=args.header == "first", sheet=args.sheet,
                                       nrows=args.nrows, on_bad_lines=args.on_bad_lines,
                                       progress=args.progress, dates=_dates_option(args))
            except DataError as exc:
                if len(paths) > 1:
                    raise DataError(f"{exc}\nNothing was loaded (all {len(paths)} files of this "
                                    f"%load are loaded together); fix or leave out {p}.") from None
                raise
            results.append((p, res))

    notices: list[str] = []
    warnings: list[str] = []
    entries = []
    used: set[str] = set()
    for p, res in results:
        name = name_opt or identifier_for(_stem(os.path.basename(
            urllib.parse.urlparse(p).path) if _is_url(p) else p))
        if not name_opt:
            name = _safe_name(name, notices)
        base, k = name, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        if name != base:
            notices.append(f"two files map to the name {base}; bound {p} to {name}.")
        used.add(name)
        entries.append({"name": name, "df": res.df, "source": p, "size_bytes": res.size_bytes,
                        "seconds": res.seconds, "replaced": name in session.user_ns})
        notices.extend(res.notices)
        warnings.extend(res.warnings)

    for e in entries:
        session.user_ns[e["name"]] = e["df"]
        registry.register(e["name"], e["df"], source=e["source"], size_bytes=e["size_bytes"],
                          load_seconds=e["seconds"])
    session.set_current_frame(entries[-1]["name"])

    rel_lines = []
    all_frames = {n: session.user_ns[n] for n in registry.frame_names()}
    if len(all_frames) > 1:
        new = {e["name"] for e in entries}
        found = relationships.detect(dict(list(all_frames.items())[-50:]))
        registry.set_relationships(found)
        rel_lines = [relationships.describe(r) for r in found if r["left"] in new or r["right"] in new]
    iopub.display_data(preview.loaded_bundle(entries, rel_lines, warnings, notices))


# --------------------------------------------------------------------------- %profile


PROFILE_MIME = "application/vnd.anyviz.profile+json"


def profile(line: str) -> None:
    """%profile [NAME] [--columns a,b] — a data profile of a DataFrame.

    Per column: type, count, missing %, distinct, top values, min/max/mean/std/quantiles,
    a small histogram or bar sparkline, date range, text lengths. For the frame: duplicate
    rows, memory, strongest correlations, and alerts (constant column, likely ID, high
    cardinality, heavy skew, mostly missing, numbers or dates stored as text).
    NAME defaults to the current frame (the last one loaded). Output is static HTML (no
    JavaScript), JSON with the same facts (application/vnd.anyviz.profile+json; with --json
    also application/json), and plain text.
    """
    import pandas as pd

    from . import profile as prof
    from . import profile_render

    tokens = _tokens(line, "profile")
    if _wants_help(tokens, profile):
        return
    p = _Parser("profile", usage="%profile [NAME] [--columns a,b] [--json]")
    p.add_argument("name", nargs="?")
    p.add_argument("--columns")
    p.add_argument("--json", action="store_true",
                   help="also publish the facts as application/json (front ends then show JSON)")
    args = p.parse_args(tokens)
    name = args.name or session.current_frame
    if name is None:
        raise UsageError("%profile: no frame to profile yet. %load a file first, or name a "
                         "DataFrame: %profile df.")
    df = session.user_ns.get(name)
    from .. import engines

    if engines.is_lazy(df):  # a table in DuckDB or Spark: profiled there
        cols = [c.strip() for c in (args.columns or "").split(",") if c.strip()] or None
        iopub.display_data(engines.profile_bundle(df, name, cols))
        return
    if not isinstance(df, pd.DataFrame):
        frames = registry.frame_names()
        hint = f" DataFrames: {', '.join(frames)}." if frames else " %load a file first."
        what = "does not exist" if df is None else f"is a {type(df).__name__}, not a DataFrame"
        raise DataError(f"%profile: {name} {what}.{hint}")
    columns = None
    if args.columns:
        columns = [c.strip() for c in args.columns.split(",") if c.strip()]
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise DataError(f"%profile: {name} has no column(s) {', '.join(missing)}. Columns: "
                            f"{', '.join(map(str, df.columns[:30]))}"
                            + (" ..." if df.shape[1] > 30 else "") + ".")
    facts = prof.profile_frame(df, name=name, columns=columns)
    # JupyterLab and Notebook 7 would show a plain `application/json` as a JSON tree instead of
    # the HTML profile, so the facts travel under AnyViz's own JSON type (kept in the notebook
    # for tools, ignored by renderers); `--json` asks for plain application/json as well.
    data = {"text/html": profile_render.to_html(facts), PROFILE_MIME: facts,
            "text/plain": profile_render.to_text(facts)}
    if args.json:
        data["application/json"] = facts
    iopub.display_data(data)


# --------------------------------------------------------------------------- %who, %frames, %drop

_HIDDEN = {"In", "Out", "exit", "quit", "get_ipython", "display"}


def _user_variables() -> list[tuple[str, object]]:
    """User-made names: not _private, not modules, not builtins, not AnyViz's own helpers."""
    out = []
    for name, obj in list(session.user_ns.items()):
        if name.startswith("_") or name in _HIDDEN or isinstance(obj, types.ModuleType):
            continue
        if name in vars(builtins) and vars(builtins)[name] is obj:
            continue
        mod = getattr(obj, "__module__", None) if isinstance(obj, (types.FunctionType, type)) else None
        if mod and mod.split(".")[0] == "anyviz":
            continue
        out.append((name, obj))
    return sorted(out, key=lambda kv: kv[0].lower())


def _describe_value(obj) -> str:
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        return f"{obj.shape[0]:,} rows × {obj.shape[1]:,} columns"
    if isinstance(obj, pd.Series):
        return f"{len(obj):,} values, {obj.dtype}"
    shape = getattr(obj, "shape", None)
    if isinstance(shape, tuple):
        return "shape " + "×".join(str(s) for s in shape)
    if isinstance(obj, (list, tuple, dict, set, frozenset, str, bytes)):
        text = repr(obj) if isinstance(obj, (str, bytes)) else ""
        return f"len {len(obj):,}" + (f": {text[:40]}" if text else "")
    if isinstance(obj, (int, float, complex, bool)) or obj is None:
        return repr(obj)[:40]
    return ""


def _table(headers: list[str], rows: list[list[str]]) -> tuple[str, str]:
    from .preview import TABLE_STYLE, CELL_STYLE, HEADER_STYLE, esc

    h = (f"<table style='{TABLE_STYLE}'><thead><tr>" + "".join(f"<th style='{HEADER_STYLE}'>{esc(x)}</th>"
                                                         for x in headers) + "</tr></thead><tbody>"
         + "".join("<tr>" + "".join(f"<td style='{CELL_STYLE}'>{esc(c)}</td>" for c in r) + "</tr>"
                   for r in rows) + "</tbody></table>")
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    fmt = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    t = "\n".join([fmt(headers), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])
    return h, t


def who(line: str) -> None:
    """%who [TYPE ...] — list your variables with their type (DataFrames with their shape).

    Modules, names starting with _ and built-in helpers are left out. Give type names to filter,
    e.g. %who DataFrame or %who int float.
    """
    tokens = _tokens(line, "who")
    if _wants_help(tokens, who):
        return
    p = _Parser("who", usage="%who [TYPE ...]")
    p.add_argument("types", nargs="*")
    args = p.parse_args(tokens)
    wanted = {t.lower() for t in args.types}
    rows = [[n, type(o).__name__, _describe_value(o)] for n, o in _user_variables()
            if not wanted or type(o).__name__.lower() in wanted]
    if not rows:
        msg = ("No variables of type " + ", ".join(args.types) + "." if wanted
               else "No variables yet. %load a file or assign one in a cell.")
        iopub.display_data({"text/plain": msg, "text/html": f"<div>{msg}</div>"})
        return
    h, t = _table(["name", "type", "info"], rows)
    iopub.display_data({"text/html": h, "text/plain": t})


def frames(line: str) -> None:
    """%frames — the DataFrames in this session: shape, memory, source, load time, joins.

    Lists every DataFrame variable (loaded with %load or made in a cell); the current frame
    (what %viz and %profile use by default) is marked with *.
    """
    from . import relationships as rel
    from .preview import esc, fmt_bytes

    tokens = _tokens(line, "frames")
    if _wants_help(tokens, frames):
        return
    _Parser("frames", usage="%frames").parse_args(tokens)
    info = registry.frames()
    from .. import engines

    lazy = {n: o for n, o in session.user_ns.items() if engines.is_lazy(o) and n[0] != "_"}
    if not info and not lazy:
        msg = "No DataFrames yet. Use %load PATH (e.g. %load data/sales.csv)."
        iopub.display_data({"text/plain": msg, "text/html": f"<div>{esc(msg)}</div>"})
        return
    rows = []
    for name, i in info.items():
        mark = "*" if name == session.current_frame else ""
        secs = f"{i['load_seconds']:.2f} s" if i.get("load_seconds") is not None else ""
        rows.append([mark + name, f"{i['shape'][0]:,} × {i['shape'][1]:,}",
                     fmt_bytes(i["memory_bytes"]), str(i["source"]), secs])
    for name, o in lazy.items():  # engine tables: the rows stay in DuckDB or Spark
        n = f"{o.rows_known:,}" if o.rows_known is not None else "?"
        rows.append([("*" if name == session.current_frame else "") + name,
                     f"{n} × {len(o.columns):,}", f"in {o.engine}", str(o.source), ""])
    h, t = _table(["name", "rows × cols", "memory", "source", "load time"], rows)
    rels = [rel.describe(r) for r in registry.relationships()]
    if rels:
        h += "<div><b>Possible joins</b><ul>" + "".join(f"<li>{esc(r)}</li>" for r in rels) + "</ul></div>"
        t += "\nPossible joins:\n" + "\n".join(f"  {r}" for r in rels)
    iopub.display_data({"text/html": h, "text/plain": t})


def _forget_output_references(frame) -> None:
    """The output history (`_`, `__`, `___`, `_N`, `Out[N]`) would keep a dropped frame alive:
    a peer kernel's classic memory leak. Forget the entries that are this very object."""
    ns = session.user_ns
    for name in [k for k, v in ns.items() if v is frame and (k.strip("_") == "" or
                                                            (k.startswith("_") and k[1:].isdigit()))]:
        del ns[name]
    out = ns.get("Out")
    if isinstance(out, dict):
        for key in [k for k, v in out.items() if v is frame]:
            del out[key]


def drop(line: str) -> None:
    """%drop NAME [NAME ...] | --all — delete DataFrames from the session to free memory.

    Removes the variables and what AnyViz remembers about them (registry, joins). Names that
    are not DataFrames are refused and nothing is deleted.
    """
    tokens = _tokens(line, "drop")
    if _wants_help(tokens, drop):
        return
    p = _Parser("drop", usage="%drop NAME [NAME ...] | %drop --all")
    p.add_argument("names", nargs="*")
    p.add_argument("--all", action="store_true")
    args = p.parse_args(tokens)
    present = registry.frame_names()
    names = list(present) if args.all else args.names
    if not names:
        if args.all:
            iopub.display_data({"text/plain": "No DataFrames to drop.",
                                "text/html": "<div>No DataFrames to drop.</div>"})
            return
        raise UsageError("%drop needs frame names: %drop sales orders (or %drop --all). "
                         "%frames lists them.")
    bad = [n for n in names if n not in present]
    if bad:
        raise DataError(f"%drop: {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not a "
                        f"DataFrame in this session; nothing was dropped. DataFrames: "
                        f"{', '.join(present) or 'none'}.")
    import gc

    from ..viz import charts

    for n in names:
        frame = session.user_ns.pop(n, None)
        registry.forget(n)
        charts.forget(n)
        if frame is not None:
            _forget_output_references(frame)
    if session.current_frame in names:
        rest = registry.frame_names()
        session.set_current_frame(rest[-1] if rest else None)
    gc.collect()
    msg = f"Dropped {', '.join(names)}."
    iopub.display_data({"text/plain": msg, "text/html": f"<div>{msg}</div>"})
