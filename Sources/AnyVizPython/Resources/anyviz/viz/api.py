"""The viz API the Swift %viz / %customize pipeline calls: JSON string in, JSON string out.

Swift owns the control flow (context -> cache -> LLM -> render -> repair -> fallbacks); each
function here is one step and never raises for a problem the pipeline can handle: it answers
with a status and a user-facing message instead. Only a missing frame (nothing to fall back
to) raises AnyVizError, whose message lists the frames there are.
"""
from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd

from .. import jsonutil, session
from ..errors import AnyVizError
from . import cache as _cache
from . import guard as _guard
from . import output

#: The last chart shown (for %customize and the "show code" path).
_last: dict = {}


# ------------------------------------------------------------------ helpers
def _args(j) -> dict:
    if isinstance(j, dict):
        return j
    if not j:
        return {}
    try:
        value = jsonutil.loads(j)
    except ValueError as exc:
        raise AnyVizError(f"viz API: the request is not valid JSON ({exc})") from None
    return value if isinstance(value, dict) else {}


def _reply(value) -> str:
    return jsonutil.dumps(value)


def _session_frames() -> dict:
    return {k: v for k, v in session.user_ns.items()
            if isinstance(v, pd.DataFrame) and not k.startswith("_")}


def split_frame(j) -> str:
    """`%viz sales revenue by region`: a request that starts with a DataFrame's name charts that
    frame (as `--df sales` would)."""
    request = (_args(j).get("request") or "").strip()
    first, _, rest = request.partition(" ")
    if first and first in _session_frames():
        return _reply({"frame": first, "request": rest.strip()})
    return _reply({"frame": None, "request": request})


def _resolve(name) -> tuple[str, pd.DataFrame]:
    frames = _session_frames()
    if not name:
        name = session.current_frame if session.current_frame in frames else None
        if name is None and len(frames) == 1:
            name = next(iter(frames))
    if name and name in frames:
        return name, frames[name]
    there = ", ".join(sorted(frames)) or "none"
    if not name:
        raise AnyVizError(f"No frame given and no current frame. Frames in this session: "
                          f"{there}. Load data with %load or name a frame: %viz df_name ...")
    raise AnyVizError(f"There is no DataFrame named {name!r}. Frames in this session: {there}.")


def _kind(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.PeriodDtype):
        return "temporal"
    if pd.api.types.is_numeric_dtype(s):
        return "quantitative"
    return "nominal"


def _sample_positions(n: int, k: int = 4096) -> np.ndarray:
    if n <= k:
        return np.arange(n)
    return np.unique(np.concatenate([np.arange(64), np.arange(n - 64, n),
                                     np.linspace(0, n - 1, k).astype(np.int64)]))


def fingerprint(df: pd.DataFrame) -> str:
    """Stable across runs: schema + shape + a hash of sampled rows (cheap on 10M rows)."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    h.update(repr(df.shape).encode())
    pos = _sample_positions(len(df))
    if len(pos):
        try:
            h.update(pd.util.hash_pandas_object(df.iloc[pos], index=True).to_numpy().tobytes())
        except Exception:
            h.update(repr(df.iloc[pos].astype(str).to_numpy().tolist()).encode())
    return h.hexdigest()


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    s = str(v)
    return s if len(s) <= 40 else s[:37] + "..."


def _column_summary(name, s: pd.Series, kind: str, distinct: int, exact: bool = True) -> str:
    missing = int(s.isna().sum())
    shown = f"{distinct}" if exact else f">= {distinct}"
    head = f"- {name} ({s.dtype}, {kind}): missing {missing}, distinct {shown}"
    nonnull = s.dropna()
    if kind == "quantitative" and len(nonnull):
        num = nonnull.astype("float64")
        head += (f", min {_fmt(num.min())}, max {_fmt(num.max())}, mean {_fmt(num.mean())}, "
                 f"std {_fmt(num.std())}")
    elif kind == "temporal" and len(nonnull):
        head += f", from {nonnull.min()} to {nonnull.max()}"
    elif len(nonnull):
        top = nonnull.astype(str).value_counts().head(5)
        head += ", top: " + ", ".join(f"{_fmt(k)} ({v})" for k, v in top.items())
    samples = [_fmt(v) for v in nonnull.drop_duplicates().head(3).tolist()]
    return head + f"; e.g. {', '.join(samples)}"


def _relationship_dicts(name: str) -> list[dict]:
    """Join keys between `name` and the other session frames (anyviz.data.relationships)."""
    frames = _session_frames()
    if len(frames) < 2:
        return []
    try:
        from ..data import relationships as rel

        return [r for r in rel.detect(frames) if name in (r["left"], r["right"])]
    except Exception:  # relationship hints are optional context, never a failure
        return []


def _relationships(name: str, df: pd.DataFrame) -> list[str]:
    out = []
    for r in _relationship_dicts(name):
        try:
            from ..data import relationships as rel

            out.append(rel.describe(r))
        except Exception:
            out.append(f"{r['left']}.{r['left_col']} -> {r['right']}.{r['right_col']}")
    return out


# ------------------------------------------------------------------ context / plan
#: Above this many rows the prompt's statistics come from an evenly spread sample: exact
#: distinct counts of 10M-row columns cost seconds and the LLM needs the shape of the data only.
_SAMPLE_ROWS = 200_000
_EXACT_DISTINCT_ROWS = 1_000_000


def context(j) -> str:
    args = _args(j)
    name, df = _resolve(args.get("frame"))
    if args.get("light"):  # the offline planner needs the frame, not a prompt
        return _reply({"frame": name, "rows": int(len(df))})
    columns = []
    sampled = len(df) > _SAMPLE_ROWS
    sample = df.iloc[_sample_positions(len(df), _SAMPLE_ROWS)] if sampled else df
    lines = [f"DataFrame `df` (session name {name!r}): {len(df):,} rows x {df.shape[1]} columns"
             + (f" (statistics below from an evenly spread sample of {len(sample):,} rows)"
                if sampled else "")]
    for col in df.columns:
        s = df[col]
        kind = _kind(s)
        exact = len(df) <= _EXACT_DISTINCT_ROWS
        counted = s if exact else sample[col]
        try:
            distinct = int(counted.nunique(dropna=True))
        except TypeError:
            distinct = int(counted.astype(str).nunique())
        columns.append({"name": str(col), "dtype": str(s.dtype), "kind": kind,
                        "distinct": distinct, "distinct_exact": exact})
        lines.append(_column_summary(col, sample[col], kind, distinct, exact))
    rel = _relationships(name, df)
    if rel:
        lines.append("Relationships: " + "; ".join(rel))
    return _reply({"frame": name, "summary": "\n".join(lines), "columns": columns,
                   "fingerprint": fingerprint(df), "rows": int(len(df)), "relationships": rel})


def plan(j) -> str:
    args = _args(j)
    name, df = _resolve(args.get("frame"))
    from . import planner  # written by the planner engineer; imported only when needed

    request = (args.get("request") or "").strip()
    options = {k: v for k, v in (args.get("options") or {}).items() if v is not None} or None
    rel = tuple(_relationship_dicts(name))
    if not request and not options:
        plans = planner.recommend(df, name)
        if not plans:
            raise AnyVizError(f"Nothing to chart in {name!r}: it has no usable columns.")
        first = plans[0]
        alts = list(first.alternatives) + [p.alternatives[0] for p in plans[1:]
                                           if getattr(p, "alternatives", None)]
        return _reply({"code": first.code, "explanation": first.explanation,
                       "alternatives": list(dict.fromkeys(alts)), "plan": first.to_dict(),
                       "recommendations": [p.to_dict() for p in plans]})
    p = planner.plan_chart(df, request, options=options, frame_name=name, relationships=rel)
    return _reply({"code": p.code, "explanation": p.explanation,
                   "alternatives": list(p.alternatives), "plan": p.to_dict()})


# ------------------------------------------------------------------ render path
_STATUS = {"ok": "ok", "rejected": "rejected", "blocked": "rejected", "timeout": "timeout",
           "memory": "error", "error": "error"}


def _frames_for(code: str, name: str, df: pd.DataFrame) -> dict:
    frames = {"df": df}
    others = _session_frames()
    for used in _guard.used_names(code):
        if used != "df" and used in others and used not in ("pd", "np", "px", "go"):
            frames[used] = others[used]
    return frames


def _run_and_show(name, df, code, *, explanation=None, alternatives=(), note=None,
                  display_id=None, update=False, static=None):
    result = _guard.run(code, _frames_for(code, name, df))
    status = _STATUS.get(result.status, "error")
    reply = {"status": status, "message": result.message, "display_id": display_id,
             "figure": None}
    if status != "ok":
        return reply, None
    if not (result.figure or {}).get("data"):
        reply.update(status="error", message="The chart code produced an empty figure "
                     "(no traces); check the column names and filters.")
        return reply, None
    did = output.show_figure(result.figure, explanation=explanation,
                             alternatives=alternatives or (), note=note,
                             display_id=display_id, update=bool(update and display_id),
                             summary=result.summary, frame_rows=len(df),
                             **({"static": True} if static else {}))
    s = result.summary
    reply.update(display_id=did, message=s.get("reduced") or "",
                 figure={"type": s.get("type", []), "points": s.get("points", 0),
                         "traces": s.get("traces", 0), "reduced": s.get("reduced")})
    return reply, result


#: Whether the last chart asked for a PNG (`%viz --static`): its %customize updates keep it.
_last_static = [False]


def _remember(name, code, display_id, request, figure, columns):
    _last.clear()
    _last.update(base_code=code, code=code, frame=name, display_id=display_id,
                 request=request, history=[], figure=figure, columns=columns)


def render(j) -> str:
    args = _args(j)
    name, df = _resolve(args.get("frame"))
    code = args.get("code") or ""
    reply, result = _run_and_show(name, df, code, explanation=args.get("explanation"),
                                  alternatives=args.get("alternatives") or (),
                                  note=args.get("note"), display_id=args.get("display_id"),
                                  update=bool(args.get("update")), static=args.get("static"))
    if reply["status"] == "ok":
        _last_static[0] = bool(args.get("static"))
        if args.get("source") == "customize" and _last.get("frame") == name:
            _last.update(code=code, display_id=reply["display_id"], figure=result.figure)
        else:
            _remember(name, code, reply["display_id"], args.get("request"), result.figure,
                      list(map(str, df.columns)))
    return _reply(reply)


def _simple_code(df: pd.DataFrame, columns) -> tuple[str, str]:
    cols = [c for c in (columns or []) if c in df.columns] or list(df.columns)
    # Prefer an informative column: numeric with spread, else a low-cardinality category.
    chosen = None
    for c in cols:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) \
                and s.nunique() > 1:
            chosen = c
            break
    if chosen is not None:
        return (f"fig = px.histogram(df, x={chosen!r}, title='Distribution of {chosen}')",
                f"Histogram of {chosen}.")
    c = cols[0] if cols else None
    if c is None:
        raise AnyVizError("The frame has no columns to chart.")
    return (f"counts = df[{c!r}].astype(str).value_counts().head(30)\n"
            f"fig = px.bar(x=counts.index, y=counts.to_numpy(), "
            f"labels={{'x': {str(c)!r}, 'y': 'count'}}, title='Most frequent {c}')",
            f"Bar chart of the most frequent values of {c}.")


def simple(j) -> str:
    args = _args(j)
    name, df = _resolve(args.get("frame"))
    code, explanation = _simple_code(df, args.get("columns"))
    reply, result = _run_and_show(name, df, code, explanation=explanation,
                                  note=args.get("note"))
    if reply["status"] == "ok":
        _remember(name, code, reply["display_id"], args.get("request"), result.figure,
                  list(map(str, df.columns)))
    reply["code"] = code
    return _reply(reply)


def table(j) -> str:
    """HTML table fallback, computed in the kernel (trusted code, bounded output)."""
    args = _args(j)
    name, df = _resolve(args.get("frame"))
    cols = [c for c in (args.get("columns") or []) if c in df.columns] or list(df.columns)
    view = df[cols]
    nominal = [c for c in cols if _kind(view[c]) in ("nominal", "boolean")]
    numeric = [c for c in cols if _kind(view[c]) == "quantitative"]
    if len(nominal) == 1 and numeric and len(view) > 20:
        shown = view.groupby(nominal[0], dropna=False)[numeric].agg(["count", "mean", "sum"])
        shown = shown.head(50)
        what = f"{', '.join(map(str, numeric))} by {nominal[0]} (count, mean, sum; first 50 groups)"
    else:
        shown = view.head(20)
        what = f"first {len(shown)} of {len(view):,} rows"
    html_text = (f"<p><b>{name}</b>: {what}</p>\n"
                 + shown.to_html(max_cols=30, float_format=lambda v: f"{v:.6g}"))
    output.show_html(html_text, f"{name}: {what}\n{shown.to_string(max_cols=30)}",
                     args.get("note"))
    return _reply({"status": "ok", "message": what, "display_id": None, "figure": None})


# ------------------------------------------------------------------ customize
_OFFLINE_HELP = (
    "Offline %customize understands: titles and axis labels (\"title Sales 2024\", \"x label "
    "Month\"), colors and themes (\"dark theme\", \"color bars red\"), log scales, legend "
    "position or hiding, chart type (\"as bars\", \"as a line\"), facets (\"facet by region\"), "
    "sizes and fonts. For free-form changes enable an LLM: %llm gemini (or set "
    "ANYVIZ_LLM_PROVIDER with GEMINI_API_KEY or OPENAI_API_KEY).")


def customize(j) -> str:
    args = _args(j)
    instruction = (args.get("instruction") or "").strip()
    if not _last:
        return _reply({"status": "no_chart", "display_id": None, "code": None,
                       "message": "There is no chart to customize yet: make one with %viz "
                                  "first."})
    from . import customize as _customize  # planner engineer's translator

    edit = _customize.translate(instruction, _last.get("figure") or {}, _last.get("columns")
                                or [])
    if edit is None:
        return _reply({"status": "unknown", "display_id": _last["display_id"], "code": None,
                       "message": f"Could not apply {instruction!r} offline. " + _OFFLINE_HELP})
    name, df = _resolve(_last["frame"])
    code = _last["code"] + "\n" + edit.code
    done = [h["description"] for h in _last["history"] if h.get("description")]
    explanation = "Customized: " + "; ".join(done + [edit.description]) + "."
    reply, result = _run_and_show(name, df, code, explanation=explanation,
                                  note=args.get("note"), display_id=_last["display_id"],
                                  update=True, static=_last_static[0])
    if reply["status"] != "ok":
        reply.update(code=code, status=reply["status"],
                     message=f"Could not apply {instruction!r}: {reply['message']}")
        return _reply(reply)
    _last["history"].append({"instruction": instruction, "code": edit.code,
                             "description": edit.description})
    _last.update(code=code, figure=result.figure)
    return _reply({"status": "ok", "message": edit.description, "display_id": reply["display_id"],
                   "code": code})


def last_chart(j=None) -> str:
    if not _last:
        return _reply({})
    return _reply({k: _last.get(k) for k in ("code", "frame", "display_id", "request")}
                  | {"history": _last.get("history", []), "script": script(_last)})


_PLAN_META = re.compile(r"^fig\.update_layout\(meta=\{'anyviz_plan'.*\)\s*$", re.M)


def script(chart: dict) -> str:
    """The last chart as a cell that runs on its own in the session (for `%viz --code`): the
    imports and the frame binding the sandbox provided, and without AnyViz's internal plan
    metadata."""
    body = _PLAN_META.sub("", chart.get("code") or "").strip()
    frame = chart.get("frame") or "df"
    header = ["import numpy as np", "import pandas as pd", "import plotly.express as px",
              "import plotly.graph_objects as go", ""]
    if frame != "df":
        header.append(f"df = {frame}")
    return "\n".join(header) + "\n" + body + "\nfig\n"


def apply_custom_code(j) -> str:
    """Full replacement code (LLM-edited) applied as an update of the last chart."""
    args = _args(j)
    if not _last:
        return _reply({"status": "no_chart", "display_id": None, "figure": None,
                       "message": "There is no chart to customize yet: make one with %viz "
                                  "first."})
    name, df = _resolve(_last["frame"])
    code = args.get("code") or ""
    reply, result = _run_and_show(name, df, code, display_id=_last["display_id"], update=True,
                                  explanation=args.get("explanation"), static=_last_static[0])
    if reply["status"] == "ok":
        _last["history"].append({"instruction": args.get("instruction"), "code": code,
                                 "full": True})
        _last.update(code=code, figure=result.figure)
    return _reply(reply)


def warm(j=None) -> str:
    """Start the guard's worker in the background (call at kernel start or on first %viz
    parse) so the first chart does not wait ~1.5 s for pandas/plotly to import."""
    _guard.get_guard().start()
    return _reply({"started": True})


# ------------------------------------------------------------------ cache
def cache_get(j) -> str:
    key = _args(j).get("key") or ""
    try:
        value = _cache.get(key)
    except Exception:  # a flaky Redis is a miss, never a failed %viz
        value = None
    return _reply({"hit": value is not None, "value": value or ""})


def cache_put(j) -> str:
    args = _args(j)
    try:
        _cache.put(args.get("key") or "", args.get("value") or "")
        return _reply({"ok": True})
    except Exception as exc:  # noqa: BLE001
        return _reply({"ok": False, "message": f"cache write failed: {exc}"})


def cache_stats(j=None) -> str:
    return _reply(_cache.stats())


def cache_clear(j=None) -> str:
    return _reply({"removed": _cache.clear()})
