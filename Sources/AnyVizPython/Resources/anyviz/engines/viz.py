"""The %viz calls (context, plan, render, simple, table) for a LazyFrame.

`anyviz.viz.api` hands a call here when the frame it names is a LazyFrame, so the Swift
pipeline runs unchanged: the planner picks the chart from a sample of the table, this module
remembers the planner's specification, and `render` compiles it to one engine query whose small
result is drawn with Plotly Express in the kernel (our own generated code, not model output).
"""
from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .. import safety, session
from ..errors import AnyVizError
from . import compile as _compile
from . import run

#: Planned specifications by the code string handed to the Swift pipeline (render gets the
#: code back, not the plan).
_planned: dict[str, dict] = {}
_MAX_PLANNED = 64

LLM_NOTE = ("{name} is a table in {engine}: the built-in planner chose this chart and "
            "{engine} computed it over every row (LLM-written pandas code cannot run on an "
            "engine table).")


def _explain(frame, text: str, rows: int | None) -> str:
    where = f"computed in {frame.engine}"
    if rows is not None:
        where += f" over all {rows:,} rows"
    return f"{text} ({where}.)" if text else where[0].upper() + where[1:] + "."


def context(name: str, frame, args: dict) -> dict:
    rows = frame.rows_known
    if args.get("light"):
        return {"frame": name, "rows": rows or 0}
    sample = frame.sample()
    lines = [f"Table `df` (session name {name!r}) in {frame.engine}: "
             f"{f'{rows:,} rows' if rows is not None else 'rows not counted'} x "
             f"{len(frame.columns)} columns (statistics from its first {len(sample):,} rows)"]
    columns = []
    for col, dtype in frame.schema.items():
        s = sample[col] if col in sample else None
        distinct = int(s.nunique()) if s is not None else 0
        columns.append({"name": col, "dtype": dtype, "kind": "", "distinct": distinct,
                        "distinct_exact": False})
        lines.append(f"- {col} ({dtype}): distinct in sample {distinct}")
    return {"frame": name, "summary": "\n".join(lines), "columns": columns,
            "fingerprint": f"{frame.engine}:{frame.source}:{rows}", "rows": rows or 0,
            "relationships": [],
            "engine_note": LLM_NOTE.format(name=name, engine=frame.engine)}


def _remember_plan(code: str, spec: dict) -> None:
    if len(_planned) >= _MAX_PLANNED:
        _planned.pop(next(iter(_planned)))
    _planned[code] = spec


def _engine_code(name: str, frame, plan_dict: dict) -> str:
    """What `%viz --code` shows for an engine chart: the spec, run through the compiler."""
    keep = {k: v for k, v in plan_dict.items()
            if k in {f for f in _compile.EngineSpec.__dataclass_fields__} and v not in
            (None, [], (), "", False, 0)}
    return (f"# {name} lives in {frame.engine}: this chart specification is compiled to one "
            f"engine query\nfrom anyviz.engines import chart\nfig = chart({name}, {keep!r})\n")


#: Plans kept per engine table (the planner reads the table's fixed sample, so the same
#: request, options and point limits give the same plan).
_MAX_PLANS = 32


def plan(name: str, frame, args: dict) -> dict:
    from .. import settings

    request = (args.get("request") or "").strip()
    options = {k: v for k, v in (args.get("options") or {}).items() if v is not None} or None
    key = repr((name, request, sorted((options or {}).items()), settings.point_limits()))
    plans = frame.__dict__.setdefault("_plans", OrderedDict())
    kept = plans.get(key)
    if kept is None:
        kept = plans[key] = _plan(name, frame, request, options)
        while len(plans) > _MAX_PLANS:
            plans.popitem(last=False)
    spec, explanation, alternatives = copy.deepcopy(kept)
    code = _engine_code(name, frame, spec)
    _remember_plan(code, spec)
    return {"code": code, "explanation": _explain(frame, explanation, frame.rows_known),
            "alternatives": alternatives, "plan": spec}


def _plan(name: str, frame, request: str, options: dict | None) -> tuple:
    """(spec, explanation, alternatives) of the planner's chart, from the table's sample."""
    from ..viz import planner

    sample = frame.sample()
    if len(sample) == 0:
        raise AnyVizError(f"{name} is empty: there is nothing to plot.")
    if not request and not options:
        plans = planner.recommend(sample, name)
        if not plans:
            raise AnyVizError(f"Nothing to chart in {name!r}: it has no usable columns.")
        p = plans[0]
    else:
        p = planner.plan_chart(sample, request, options=options, frame_name=name)
    return p.to_dict(), p.explanation, list(p.alternatives)


def draw(compiled: _compile.Compiled):
    """Run the generated drawing code on the small result; returns the go.Figure."""
    import pandas as pd
    import plotly.express as px
    import plotly.graph_objects as go

    scope = {"df": compiled.data, "px": px, "go": go, "pd": pd, "np": np}
    exec(compile(compiled.code, "<anyviz engine chart>", "exec"), scope)  # noqa: S102 - ours
    return scope["fig"]


class DrawnFigures:
    """Figures drawn for engine charts, by drawing code, Plotly template, point limits and an
    exact digest of the small drawn frame. The engine query runs every time (the rows may
    have changed); when its result is the same as before (a re-run cell, a cached LLM
    specification, the planner's pick again), the figure made the first time is shown again
    instead of being built through Plotly Express (whose validation costs ~30 ms a figure),
    reduced and encoded once more. At most `limit` figures, of frames up to `max_rows`."""

    def __init__(self, limit: int = 16, max_rows: int = 200_000):
        self.limit, self.max_rows = limit, max_rows
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def key(self, compiled: _compile.Compiled):
        import pandas as pd
        import plotly.io as pio

        from .. import settings

        data = compiled.data
        if not isinstance(data, pd.DataFrame) or len(data) > self.max_rows:
            return None
        try:
            rows = pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes()
        except (TypeError, ValueError):  # cells pandas cannot hash: always drawn
            return None
        digest = hashlib.sha256(rows)
        digest.update(repr([(str(c), str(t)) for c, t in data.dtypes.items()]).encode())
        # The output path reduces long traces by the point limits read from the settings.
        return (compiled.code, str(pio.templates.default), settings.point_limits(),
                digest.hexdigest())

    def figure(self, compiled: _compile.Compiled) -> tuple[dict, dict, dict]:
        """(figure as published: reduced, typed arrays; its summary; the figure as Plotly's
        dict, kept for %customize) for `compiled`: kept, or drawn by its code and kept."""
        from ..viz import output

        key = self.key(compiled)
        with self._lock:
            kept = self._entries.get(key) if key else None
            if kept is not None:
                self._entries.move_to_end(key)
        if kept is not None:
            return copy.deepcopy(kept)
        fig = draw(compiled)
        shown, summary = output.to_figure_dict(fig, frame_rows=len(compiled.data))
        entry = (shown, summary, fig.to_plotly_json())
        if key:
            with self._lock:
                self._entries[key] = copy.deepcopy(entry)
                while len(self._entries) > self.limit:
                    self._entries.popitem(last=False)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


drawn = DrawnFigures()


@dataclass
class ShownChart:
    """A chart drawn from an engine query, for the caller to remember."""
    code: str
    display_id: str
    request: object
    figure: dict
    data: object  # the small pandas frame that was drawn
    engine_code: str | None


def _show(name, frame, spec, *, explanation, alternatives=(), note=None, display_id=None,
          update=False, static=None, request=None, code_shown=None) -> dict:
    from ..viz import output

    compiled = _compile.compile_chart(frame, spec, run.execute)
    shown_figure, summary, figure = drawn.figure(compiled)
    notes = [n for n in [note, *compiled.notes] if n]
    did = output.show_figure(shown_figure, explanation=explanation, alternatives=alternatives,
                             note=" ".join(notes) or None, display_id=display_id,
                             update=bool(update and display_id), summary=summary,
                             frame_rows=len(compiled.data),
                             **({"static": True} if static else {}))
    types = list(dict.fromkeys(t.get("type", "scatter") for t in figure.get("data", [])))
    # The caller (anyviz.viz.api) keeps the chart for %customize: the small drawn frame is
    # what later changes edit.
    shown = ShownChart(code=compiled.code, display_id=did, request=request, figure=figure,
                       data=compiled.data, engine_code=code_shown)
    return {"status": "ok", "message": " ".join(compiled.notes), "display_id": did,
            "figure": {"type": types, "points": int(len(compiled.data)),
                       "traces": len(figure.get("data", [])), "reduced": None},
            "shown": shown}


def render(name: str, frame, args: dict) -> dict:
    code = args.get("code") or ""
    spec = _planned.get(code)
    if spec is None:
        return {"status": "error", "display_id": None, "figure": None,
                "message": f"{name} is a table in {frame.engine}: only the built-in planner's "
                           f"charts run on it (pandas code would need every row in memory)."}
    try:
        return _show(name, frame, spec, explanation=args.get("explanation"),
                     alternatives=args.get("alternatives") or (), note=args.get("note"),
                     display_id=args.get("display_id"), update=bool(args.get("update")),
                     static=args.get("static"), request=args.get("request"), code_shown=code)
    except ValueError as exc:
        return {"status": "error", "display_id": None, "figure": None, "message": str(exc)}


def simple(name: str, frame, args: dict) -> dict:
    """A histogram of the first numeric column, else the most frequent values of a column."""
    schema = frame.table.schema()
    wanted = [c for c in (args.get("columns") or []) if c in schema] or list(schema)
    numeric = [c for c in wanted if schema[c].is_numeric() and not schema[c].is_boolean()]
    if numeric:
        spec = {"chart": "histogram", "x": numeric[0], "title": f"Distribution of {numeric[0]}"}
        explanation = f"Histogram of {numeric[0]}."
    else:
        col = wanted[0]
        spec = {"chart": "bar", "x": col, "agg": "count", "top": (30, "desc"),
                "title": f"Most frequent {col}"}
        explanation = f"Bar chart of the most frequent values of {col}."
    reply = _show(name, frame, spec, explanation=_explain(frame, explanation, frame.rows_known),
                  note=args.get("note"), request=args.get("request"))
    reply["code"] = _engine_code(name, frame, spec)
    return reply


def table(name: str, frame, args: dict) -> dict:
    from ..data.preview import esc, frame_table_html, frame_table_text
    from ..viz import output

    head = frame.head(20)
    what = f"first {len(head)} rows of {name} (a table in {frame.engine})"
    html_text, _ = frame_table_html(head, rows=20)
    output.show_html(f"<p><b>{esc(name)}</b>: {esc(what)}</p>\n" + html_text,
                     f"{name}: {what}\n{frame_table_text(head, rows=20)}", args.get("note"))
    return {"status": "ok", "message": what, "display_id": None, "figure": None}


def chart(frame, spec, *, show: bool = False):
    """`fig = chart(lazy_frame, {"chart": "bar", "x": ..., "y": ..., "agg": "sum"})`: the
    figure for a chart specification, computed in the frame's engine (for cells and
    `%viz --code`)."""
    fig = draw(_compile.compile_chart(frame, spec, run.execute))
    if show:
        from ..viz import output

        output.show_figure(fig)
    return fig


def chart_from_llm(name: str, request: str, hints: dict, complete, *, render,
                   cache: dict | None = None) -> dict:
    """%viz on an engine table with an LLM configured: the LLM picks a chart specification
    from the table's schema (see llm_spec), the compiler runs it in the engine, and the chart
    is shown through the normal output path. `complete(messages) -> str` calls the LLM;
    `render` is the chart package's render step (`anyviz.viz.api.render`), passed in so the
    engine layer does not import the package that calls it.

    `cache` ({"provider", "model", "read"}) turns on the chart cache: a specification the LLM
    gave before for this table identity, request, hints and model is validated again and
    drawn without an LLM call (`read` False skips the lookup, as `%viz --no-cache` does, but
    still stores the new answer); an entry that no longer validates or draws is a miss.

    Returns the reply `anyviz.viz.api.render` gives (status, display_id, figure, message),
    plus the code shown for it, the explanation and `cached` (True for a cache hit). A reply
    that cannot be used (not JSON, unknown columns or values, a query the engine refuses) goes
    back to the LLM once with the reason; a second failure raises llm_spec.SpecError for the
    pipeline to fall back to the planner. LLM errors from `complete` propagate unchanged."""
    from . import llm_spec

    target = current_lazy(name)
    if target is None:
        raise AnyVizError(f"{name!r} is not an engine table.")
    name, frame = target
    kinds = llm_spec.column_kinds(frame)
    key = None
    if cache:
        key = llm_spec.cache_key(frame, request, hints, str(cache.get("provider") or ""),
                                 str(cache.get("model") or ""))
        if cache.get("read", True):
            shown = _cached_chart(name, frame, kinds, request, hints, key, render)
            if shown is not None:
                return shown
    conversation = llm_spec.messages(name, frame, kinds, request, hints)
    problems = []
    for attempt in range(2):
        reply = complete(conversation)
        try:
            raw = llm_spec.parse(reply)
            answer = llm_spec.validate(raw, kinds, hints)
        except llm_spec.SpecError as exc:
            problems.append(str(exc))
            conversation = llm_spec.repair(conversation, str(reply), str(exc))
            continue
        note = (f"Repaired after 1 unusable answer: {problems[-1]}" if attempt else None)
        shown = _draw_answer(name, frame, answer, request, note, render)
        if shown.get("status") == "ok":
            if key:
                _cache_put(key, llm_spec.cache_value(raw))
            return shown
        problem = shown.get("message") or "the engine could not compute it"
        problems.append(problem)
        # Engine messages can quote values from the data: masked before they reach the LLM.
        conversation = llm_spec.repair(conversation, str(reply), safety.mask_error(problem))
    raise llm_spec.SpecError("the LLM's chart specification was unusable twice (last: "
                             f"{problems[-1]})")


def _draw_answer(name: str, frame, answer: dict, request: str, note, render) -> dict:
    """A validated LLM answer computed in the engine and shown; render's reply plus the code
    shown for it and the explanation."""
    spec = answer["spec"]
    code = _engine_code(name, frame, spec)
    _remember_plan(code, spec)
    try:
        shown = render({"frame": name, "code": code, "source": "llm",
                        "explanation": _explain(frame, answer["explanation"], frame.rows_known),
                        "alternatives": answer["alternatives"], "note": note,
                        "request": request})
    except AnyVizError as exc:  # the engine refused the query (types, casts)
        shown = {"status": "error", "message": str(exc)}
    if shown.get("status") == "ok":
        shown = dict(shown, code=code, explanation=answer["explanation"])
    return shown


def _cached_chart(name: str, frame, kinds: dict, request: str, hints: dict, key: str,
                  render) -> dict | None:
    """The chart of a cached LLM specification, or None (a miss: nothing kept, an entry that
    is not a usable specification for the table as it is now, or one the engine refuses)."""
    from .. import metrics
    from ..viz import cache as _cache
    from . import llm_spec

    try:
        raw = llm_spec.cached_spec(_cache.get(key))
    except Exception:  # noqa: BLE001 - a store that fails is a miss, never a failed %viz
        raw = None
    shown = None
    if raw is not None:
        try:
            answer = llm_spec.validate(raw, kinds, hints)
        except llm_spec.SpecError:
            answer = None
        if answer is not None:
            shown = _draw_answer(name, frame, answer, request, None, render)
    if shown is None or shown.get("status") != "ok":
        metrics.count(metrics.CACHE_MISSES)
        return None
    metrics.count(metrics.CACHE_HITS)
    return dict(shown, cached=True)


def _cache_put(key: str, value: str) -> None:
    from ..viz import cache as _cache

    try:
        _cache.put(key, value)
    except Exception:  # noqa: BLE001 - a chart already shown never fails on its cache write
        pass


def current_lazy(name: str | None):
    """(name, LazyFrame) when `name` (or, without a name, the current frame) is a LazyFrame."""
    from .frame import LazyFrame

    if not name:
        name = session.current_frame
    obj = session.user_ns.get(name) if name else None
    if isinstance(obj, LazyFrame):
        return name, obj
    return None
