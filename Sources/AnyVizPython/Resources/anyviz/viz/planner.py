"""Offline chart planner: request text + DataFrame -> ChartPlan (Plotly Express code + why).

Pure: it reads the frame (profile, a duplicate check after filters) and never publishes or
mutates anything. Parsing lives in nlp.py, code generation in plan_code.py, the no-request
suggestions in recommend.py. Every choice that was not spelled out in the request (aggregation,
chart type, a fuzzy column match) is stated in the explanation, so ambiguity is resolved visibly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from anyviz import settings
from anyviz.errors import AnyVizError

from . import intents, nlp, spec_builder
from .nlp import ColumnMatcher, Filter, no_such_column
from .plan_code import (AGG_LABEL, BIN_NAME, Spec, describe_spec, filter_columns, filter_line, generate,
                        measure_label, prelude_lines)
from .plan_schema import FrameInfo, check_frame, profile
from .recommend import recommend as _recommend

CHART_TYPES = ("bar", "line", "scatter", "pie", "histogram", "box", "violin", "area", "heatmap")
AGG_NAMES = {"mean", "sum", "median", "min", "max", "count", "nunique"}
_AGG_ALIASES = {"average": "mean", "avg": "mean", "total": "sum", "distinct": "nunique"}
_CHART_NAME = {"bar": "Bar chart", "line": "Line chart", "scatter": "Scatter plot",
               "pie": "Pie chart", "histogram": "Histogram", "box": "Box plot",
               "violin": "Violin plot", "area": "Area chart", "heatmap": "Heatmap",
               "corr": "Correlation heatmap", "scatter_geo": "Map", "choropleth": "Map"}


@dataclass
class ChartPlan:
    code: str
    explanation: str
    alternatives: list = field(default_factory=list)
    spec: Spec | None = None
    notes: list = field(default_factory=list)

    @property
    def chart(self) -> str:
        return self.spec.chart if self.spec else ""

    def to_dict(self) -> dict:
        d = {"code": self.code, "explanation": self.explanation,
             "alternatives": list(self.alternatives), "notes": list(self.notes)}
        if self.spec is not None:
            d.update(self.spec.to_dict())
        return d


class _Ctx:
    """What one planning call knows: the frame, its profile and the notes collected so far."""

    def __init__(self, df: pd.DataFrame, frame: FrameInfo, frame_name: str):
        self.df, self.frame, self.frame_name = df, frame, frame_name
        self.notes: list[str] = []
        self.why: list[str] = []

    def kind(self, col) -> str:
        c = self.frame.columns.get(col)
        return c.kind if c else "nominal"

    def info(self, col):
        return self.frame.columns[col]

    def categorical(self, col) -> bool:
        """Reads well on a category axis: text, booleans, and small integer codes."""
        c = self.frame.columns.get(col)
        return c is not None and (c.kind in ("nominal", "boolean") or c.discrete)


# --------------------------------------------------------------------------- public API

def plan_chart(df, request: str, options: dict | None = None, frame_name: str = "df",
               relationships=()) -> ChartPlan:
    """Plan one chart for `request` over `df` (see docs/ARCHITECTURE.md, viz contract)."""
    check_frame(df, frame_name)
    request = (request or "").strip()
    options = {k: v for k, v in (options or {}).items() if v not in (None, "", [])}
    if request.startswith("%viz"):
        request = request[4:].strip()
    if not request and not options:
        return _recommend(df, frame_name, plan_chart=plan_chart)[0]
    frame = profile(df)
    ctx = _Ctx(df, frame, frame_name)
    matcher = ColumnMatcher(list(frame.columns))
    ctx.matcher = matcher
    if not options:
        try:
            reading = intents.read(request, frame, matcher, frame_name)
            ctx.notes.extend(reading.notes)
            spec = spec_builder.build(reading, ctx)
            if spec is not None:
                return finish(_finish_reading(spec, reading, ctx), ctx, reading)
        except AnyVizError:
            raise
        except Exception:  # noqa: BLE001  (a reading the data cannot take: the second planner tries)
            pass
        ctx.why.clear()
        ctx.notes.clear()
    try:
        return _plan_parsed(df, request, options, frame, ctx, matcher, relationships, frame_name)
    except AnyVizError:
        raise
    except Exception as exc:  # noqa: BLE001  (never a traceback for a request)
        raise AnyVizError(f"Could not make a chart of {frame_name} from this request ({type(exc).__name__}: "
                          f"{str(exc)[:120]}). Requests that would work: "
                          + "; ".join(spec_builder.suggestions(ctx)) + ".") from None


def _plan_parsed(df, request, options, frame, ctx, matcher, relationships, frame_name) -> ChartPlan:
    """The distribution/matrix planner (and --type/--x/--y/--color/--agg options)."""
    parsed = nlp.parse(request, frame, matcher)
    ctx.notes.extend(parsed.notes)
    _apply_options(parsed, options, matcher, ctx)
    _check_unknown(parsed, frame, relationships, frame_name)
    spec = _decide(parsed, ctx)
    return finish(spec, ctx, parsed)


def recommend(df, frame_name: str = "df") -> list[ChartPlan]:
    """A few informative charts for a frame when `%viz` has no request."""
    return _recommend(df, frame_name, plan_chart=plan_chart)




def _apply_options(parsed, options, matcher, ctx):
    """`%viz --type bar --x continent ...`: explicit options override what the text says."""
    if options.get("type"):
        t = str(options["type"]).lower()
        t = nlp.CHART_WORDS.get(t, t)
        if t not in CHART_TYPES:
            raise AnyVizError(f"Unknown chart type '{options['type']}'. Use one of: "
                              f"{', '.join(CHART_TYPES)}.")
        parsed.chart = t
    if options.get("agg"):
        a = str(options["agg"]).lower()
        a = _AGG_ALIASES.get(a, nlp.AGG_WORDS.get(a, a))
        if a not in AGG_NAMES:
            raise AnyVizError(f"Unknown aggregation '{options['agg']}'. Use one of: "
                              "mean, sum, median, min, max, count, nunique.")
        parsed.agg = a
    for role in ("x", "y", "color"):
        if options.get(role):
            col = matcher.resolve(str(options[role]), ctx.notes)
            idx = [i for i, m in enumerate(parsed.mentions) if parsed.roles.get(i) == role]
            for i in idx:
                parsed.roles[i] = "dropped"
            parsed.mentions.append(nlp.Mention(col, 10_000 + len(parsed.mentions), 0, "exact", col))
            parsed.roles[len(parsed.mentions) - 1] = role


def _check_unknown(parsed, frame, relationships, frame_name):
    """Words that look like column names but match none: never substitute silently."""
    if not parsed.unknown:
        return
    slot = [w for w, in_slot in parsed.unknown if in_slot]
    if slot or not parsed.mentions and not _has_intent(parsed):
        word = (slot or [w for w, _ in parsed.unknown])[0]
        err = no_such_column(word, list(frame.columns))
        related = [r for r in relationships or () if frame_name in (r.get("left"), r.get("right"))]
        if related:
            others = sorted({r["right"] if r.get("left") == frame_name else r["left"] for r in related})
            err = AnyVizError(str(err) + f" Related frames ({', '.join(others)}) may hold it: merge "
                              "them into one frame first, then %viz the result.")
        raise err
    parsed.notes.append("ignored the words " + ", ".join(repr(w) for w, _ in parsed.unknown))


def _has_intent(parsed) -> bool:
    return bool(parsed.chart or parsed.over_time or parsed.distribution or parsed.relationship
                or parsed.correlation_matrix or parsed.count_words or parsed.filters or parsed.bin)


# --------------------------------------------------------------------------- decisions

def _uniq(seq):
    return list(dict.fromkeys(seq))


def _decide(p, ctx: _Ctx) -> Spec:
    frame = ctx.frame
    role = lambda r: _uniq(p.with_role(r))  # noqa: E731
    subj, groups, vs = role("subject"), role("group"), role("vs")
    colors, facets = role("color"), role("facet")
    ex_x, ex_y = role("x"), role("y")
    color = colors[0] if colors else None
    facet = facets[0] if facets else None
    chart, agg = p.chart, p.agg
    x = y = None
    measures = [c for c in subj if ctx.kind(c) == "quantitative"]

    if p.correlation_matrix or (p.relationship and len(subj) + len(vs) + len(groups) == 0):
        cols = measures if len(measures) >= 2 else [c.name for c in frame.of_kind("quantitative")
                                                     if not c.idlike]
        if len(cols) < 2:
            raise AnyVizError("A correlation heatmap needs at least two numeric columns; "
                              f"{ctx.frame_name} has {len(cols)}.")
        ctx.why.append("correlations (Pearson) between the numeric columns " + ", ".join(cols))
        spec = Spec(chart="corr", columns=cols, filters=p.filters, rows=frame.rows)
        spec.title = _title(spec)
        return spec

    if ex_x or ex_y:
        x = ex_x[0] if ex_x else None
        y = ex_y[0] if ex_y else None
        rest = [c for c in subj + groups + vs if c not in (x, y)]
        if x is None and rest:
            x = rest.pop(0)
        if y is None and rest and chart not in ("histogram",):
            y = rest.pop(0)
    elif vs:
        left = subj[-1] if subj else (groups[0] if groups else None)
        y, x = left, vs[0]
        if left is None:
            x, y = vs[0], (vs[1] if len(vs) > 1 else None)
        if y and ctx.kind(y) == "temporal" and ctx.kind(x) != "temporal":
            x, y = y, x
            ctx.why.append(f"{x} is a time axis, so it goes on x")
        if ctx.categorical(y) and not ctx.categorical(x) and ctx.kind(x) == "quantitative":
            x, y = y, x
        if chart is None and y and ctx.kind(x) == "quantitative" and ctx.kind(y) == "quantitative":
            chart = "scatter"  # "A vs B" of two numbers is a relationship, even for small integers
            ctx.why.append(f"{y} against {x}, both numeric")
        groups = [g for g in groups if g not in (x, y)]
        if groups and not color:
            color = groups.pop(0)
    elif p.relationship and len(subj) >= 2:
        x, y = subj[0], subj[1]
    elif groups:
        x = groups[0]
        extra = [g for g in groups[1:] if g != x]
        for g in extra:
            if not color:
                color = g
            elif not facet and g != color:
                facet = g
        cats = [c for c in subj if c not in measures and c != x]
        if ctx.kind(x) == "quantitative" and not ctx.info(x).discrete and cats and not measures:
            # "countries by population": rank the category by the number
            measures, x = [x], cats.pop(0)
            ctx.why.append(f"{x} ranked by {measures[0]}")
        y = measures[0] if measures else None
        if y is None and cats:
            c0 = cats[0]
            if p.count_words and ctx.info(c0).distinct > 10 and ctx.kind(c0) == "nominal":
                agg, y = "nunique", c0
                ctx.why.append(f"'number of {c0}' counts distinct {c0} values in each group")
            elif not color:
                color = c0
        if y is None and agg not in ("nunique",):
            temporals = [c for c in subj if ctx.kind(c) == "temporal" and c != x]
            if temporals and ctx.categorical(x) and not p.count_words:
                # "date by symbol": a time series per category
                color, x = x, temporals[0]
    else:
        times = [c for c in subj if ctx.kind(c) == "temporal"]
        cats = [c for c in subj if ctx.categorical(c) and c not in measures]
        if measures and not times and (p.over_time or chart in ("line", "area")) and frame.first_temporal():
            times = [frame.first_temporal().name]  # "GOOG and AAPL over time"
        if measures and times and (chart in (None, "line", "area", "bar") or p.over_time):
            x = times[0]
            y = measures if len(measures) > 1 else measures[0]
        elif len(measures) >= 2 and chart not in ("histogram", "box", "violin", "pie"):
            x, y = measures[0], measures[1]
            if len(measures) > 2 and not color:
                color = measures[2]
        elif measures and cats and chart not in ("histogram",):
            x, y = cats[0], measures[0]
            if len(cats) > 1 and not color:
                color = cats[1]
        elif measures:
            y = measures[0]
            if chart in ("histogram", "box", "violin") and cats and not color:
                color = cats[0] if chart == "histogram" else None
                if chart != "histogram":
                    x = cats[0]
        elif len(cats) >= 2:
            x, color = cats[0], (color or cats[1])
        elif cats:
            x = cats[0]
        elif times:
            x = times[0]
        elif not subj:
            x, y, color, chart = _defaults_for(p, ctx, color)

    multi = [f for f in p.filters if f.op == "in" and not f.on_year and f.column not in (x, color)]
    if multi and x is None and y is not None and chart not in ("histogram", "box", "violin") \
            and not p.distribution and not p.over_time:
        x = multi[0].column  # "tips for lunch and dinner": compare the named groups side by side
        ctx.why.append(f"one bar per {x} named")
    elif multi and not color and chart not in ("histogram", "pie", "heatmap"):
        color = multi[0].column  # "China and India over time": one line each, not their sum
        ctx.why.append(f"one series per {color} named")

    # -- time binning and "over time" -----------------------------------------------------
    bin_ = None
    if p.bin:
        src = x if x and ctx.kind(x) == "temporal" else None
        src = src or (frame.first_temporal().name if frame.first_temporal() else None)
        if src is None:
            ctx.notes.append(f"ignored 'per {p.bin}': {ctx.frame_name} has no date column")
        elif ctx.info(src).temporal == "year":
            if p.bin != "year":
                ctx.notes.append(f"{src} holds years only, so it cannot be split by {p.bin}")
            if x != src:
                if x and not color:
                    color = x
                x = src
        else:
            if x and x != src and not color and (ctx.categorical(x)):
                color = x
            elif x and x != src and y is None and ctx.kind(x) == "quantitative":
                y = x
            bin_ = (src, p.bin)
            x = BIN_NAME[p.bin] if BIN_NAME[p.bin] not in frame.columns else f"{src} {BIN_NAME[p.bin]}"
            ctx.why.append(f"{src} grouped by {BIN_NAME[p.bin]}")
    elif (p.over_time or chart in ("line", "area")) and not (x and ctx.kind(x) == "temporal") \
            and chart not in ("scatter",):
        t = frame.first_temporal()
        if t is not None and not (x and ctx.kind(x) == "quantitative" and y is not None and chart in ("line", "area") and not p.over_time):
            if x and x != t.name:
                if y is None and ctx.kind(x) == "quantitative":
                    y = x
                elif not color and ctx.categorical(x):
                    color = x
            x = t.name
            ctx.why.append(f"'over time' uses the date column {t.name}")
        elif t is None and p.over_time:
            ctx.notes.append(f"{ctx.frame_name} has no date or year column, so 'over time' was ignored")

    x_kind = "temporal" if bin_ and bin_[1] not in ("weekday", "monthname") else (
        "nominal" if bin_ else (ctx.kind(x) if x else None))
    x_cat = bin_ is not None and bin_[1] in ("weekday", "monthname") or (x is not None and not bin_ and ctx.categorical(x))

    # -- chart type ------------------------------------------------------------------------
    if chart is None:
        if p.share and x and (x_cat or x_kind == "nominal"):
            chart = "pie"
        elif p.distribution and y is not None and isinstance(y, str) and x and x_cat:
            chart = "box"
        elif p.distribution and (y or x):
            chart = "histogram"
        elif x is None and y is not None:
            chart = "histogram" if not agg or agg == "count" else "bar"
        elif x_kind == "temporal" and (y is not None or agg or bin_):
            chart = "line"
        elif x_kind == "temporal" and y is None:
            chart = "histogram"
        elif x_cat:
            chart = "bar"
        elif x_kind == "quantitative" and y is not None and ctx.kind(y if isinstance(y, str) else y[0]) == "quantitative":
            chart = "line" if agg and agg != "count" else "scatter"
        elif x_kind == "quantitative" and y is not None:
            x, y = y, x
            chart = "bar"
        elif x_kind == "quantitative":
            chart = "histogram"
        else:
            chart = "bar"
        ctx.why.append(_why_chart(chart, x, y, ctx, bin_))

    # -- per chart normalisation --------------------------------------------------------
    if chart == "histogram":
        col = x if y is None or (x and ctx.kind(x) in ("quantitative", "temporal") and not x_cat) else y
        if y is not None and x is not None and x_cat and col == y and not color:
            color = x
        if bin_ and x == BIN_NAME.get(bin_[1]):
            chart, col = "bar", None  # counts per period
        if chart == "histogram":
            spec = Spec(chart="histogram", x=col, color=color, facet=facet, filters=p.filters,
                        rows=frame.rows)
            return _common_finish(spec, p, ctx, bin_)
    if chart in ("box", "violin"):
        if y is None or ctx.kind(y) != "quantitative":
            if x and ctx.kind(x) == "quantitative":
                x, y = None, x
            else:
                y = _best_measure(ctx)
                ctx.notes.append(f"no numeric column named; the {chart} shows {y}")
        if x is not None and not x_cat and not bin_:
            if color and ctx.categorical(color):
                x, color = color, None
            else:
                x = None
        spec = Spec(chart=chart, x=x, y=y, color=color if color != x else None, facet=facet,
                    filters=p.filters, rows=frame.rows)
        return _common_finish(spec, p, ctx, bin_)
    if chart == "scatter":
        if y is None or x is None:
            ms = [m for m in ([x, y] + measures) if m and ctx.kind(m) == "quantitative"]
            ms = _uniq(ms)
            if len(ms) < 2:
                others = [c.name for c in frame.of_kind("quantitative") if not c.idlike and c.name not in ms]
                ms = _uniq(ms + others)
            if len(ms) < 2:
                raise AnyVizError(f"A scatter plot needs two numeric columns; {ctx.frame_name} has "
                                  f"{len(ms)}. Try %viz histogram of a column instead.")
            x, y = ms[0], ms[1]
            ctx.notes.append(f"scatter of {y} against {x}")
        spec = Spec(chart="scatter", x=x, y=y, color=color, facet=facet, filters=p.filters,
                    top=p.top, rows=frame.rows)
        return _common_finish(spec, p, ctx, bin_)
    if chart == "heatmap":
        if x and y and ctx.kind(y) == "quantitative" and ctx.kind(x) == "quantitative" and not color:
            spec = Spec(chart="heatmap", x=x, y=y, filters=p.filters, rows=frame.rows)
            return _common_finish(spec, p, ctx, bin_)
        if x and y and ctx.categorical(y) and not color:
            color, y = y, None
        if not color:
            cands = [c.name for c in frame.of_kind("nominal", "boolean") if c.name != x and c.distinct <= 50 and not c.idlike]
            if not cands or x is None:
                raise AnyVizError("A heatmap needs two category or date columns (rows and columns), "
                                  "e.g. %viz heatmap of average tip by day and time.")
            color = cands[0]
            ctx.notes.append(f"rows of the heatmap: {color}")
        agg = agg or (("sum" if ctx.info(y).additive else "mean") if y else "count")
        spec = Spec(chart="heatmap", x=x, y=y if agg != "count" else None, color=color, agg=agg,
                    filters=p.filters, rows=frame.rows)
        return _common_finish(spec, p, ctx, bin_)

    # bar / line / area / pie: an aggregate (or raw values when one row per group)
    if x is None:
        if y is None:
            x = _best_category(ctx)
        else:
            # one aggregate number: a single bar
            a = agg if agg and agg != "count" else "mean"
            spec = Spec(chart="bar", x=None, y=y, agg=a, filters=p.filters, rows=frame.rows)
            ctx.why.append(f"{AGG_LABEL[a].lower()} of {y} over all rows")
            return _single_value(spec, p, ctx)
    if chart == "pie" and not (x_cat or x_kind == "nominal"):
        ctx.notes.append(f"a pie needs categories; {x} is not one, so this is a bar chart")
        chart = "bar"
    if y is None:
        agg = "count" if agg != "nunique" else agg
    elif isinstance(y, str) and ctx.kind(y) != "quantitative" and agg != "nunique":
        if agg in (None, "count"):
            agg = "count"
            if not color and y != x:
                color = y
            y = None
        else:
            raise AnyVizError(f"{y} is not numeric, so its {AGG_LABEL.get(agg, agg).lower()} "
                              "cannot be computed. Ask for a count instead, e.g. %viz count of "
                              f"{y} by {x}.")
    spec = Spec(chart=chart, x=x, y=y, color=color if color != x else None,
                facet=facet, agg=agg, filters=p.filters, top=p.top, sort=p.sort,
                horizontal=p.horizontal, barmode=p.barmode, rows=frame.rows)
    return _common_finish(spec, p, ctx, bin_, need_agg=True)


def _defaults_for(p, ctx, color):
    """No column named: pick sensible columns for the chart type or keywords asked for."""
    frame = ctx.frame
    chart = p.chart
    t = frame.first_temporal()
    if p.over_time or chart in ("line", "area"):
        if t is not None:
            ctx.notes.append(f"no column named; plotted {_best_measure(ctx)} over {t.name}")
            return t.name, _best_measure(ctx), color, chart
    if chart in ("bar", "pie") or p.count_words or p.share:
        cat = _best_category(ctx)
        ctx.notes.append(f"no column named; counted rows per {cat}")
        return cat, None, color, chart
    if chart == "scatter" or p.relationship:
        return None, None, color, "scatter"
    if chart in ("box", "violin"):
        m, cat = _best_measure(ctx), _best_category(ctx, required=False)
        ctx.notes.append(f"no column named; {chart} of {m}" + (f" per {cat}" if cat else ""))
        return cat, m, color, chart
    if chart == "heatmap":
        raise AnyVizError("Name the columns for a heatmap, e.g. %viz heatmap of average tip by day and time.")
    if chart == "histogram" or p.distribution:
        m = _best_measure(ctx)
        ctx.notes.append(f"no column named; histogram of {m}")
        return None, m, color, "histogram"
    raise AnyVizError("The request names no column. Columns are: " + ", ".join(frame.columns)
                      + ". Try e.g. %viz average <number column> by <category column>, or just %viz "
                      "for suggestions.")


def _best_measure(ctx) -> str:
    qs = [c for c in ctx.frame.of_kind("quantitative") if not c.idlike]
    if not qs:
        raise AnyVizError(f"{ctx.frame_name} has no numeric column to plot; try a count, e.g. "
                          "%viz count by <column>.")
    return max(qs, key=lambda c: c.distinct).name


def _best_category(ctx, required=True):
    cats = [c for c in ctx.frame.columns.values() if (c.kind in ("nominal", "boolean") or c.discrete)
            and 2 <= c.distinct <= 30 and not c.idlike]
    if not cats:
        if required:
            raise AnyVizError(f"{ctx.frame_name} has no category column with 2-30 values to count by; "
                              "name a column, e.g. %viz histogram of <numeric column>.")
        return None
    return min(cats, key=lambda c: (c.kind not in ("nominal", "boolean"), abs(c.distinct - 6))).name


def _why_chart(chart, x, y, ctx, bin_) -> str:
    def desc(c):
        if c is None:
            return ""
        if bin_ and c == x:
            return f"{c} is a period"
        info = ctx.frame.columns.get(c)
        if info is None:
            return f"{c}"
        if info.kind == "temporal":
            return f"{c} is a date/time"
        if info.kind == "quantitative" and (not info.discrete or c != x):
            return f"{c} is numeric"
        return f"{c} is a category ({info.distinct} values)"
    ys = y if isinstance(y, str) else (", ".join(y) if y else None)
    facts = [d for d in (desc(x), desc(ys) if isinstance(y, str) else (f"{ys} are numeric" if ys else ""))
             if d]
    return f"chose a {_CHART_NAME[chart].lower()} because " + " and ".join(facts) if facts else \
        f"chose a {_CHART_NAME[chart].lower()}"


# --------------------------------------------------------------------------- finishing

def _prelude_data(spec: Spec, ctx: _Ctx, bin_) -> pd.DataFrame:
    """The filtered (and binned) data the chart code will see, computed the same way."""
    ns = {"df": ctx.df, "pd": pd, "np": np}
    exec("\n".join(prelude_lines(spec, bin_)), ns)  # our own generated pandas code, vectorised
    return ns["data"]


def _common_finish(spec: Spec, p, ctx: _Ctx, bin_, need_agg=False) -> Spec:
    spec.bin = bin_
    used = [c for c in (spec.x, spec.color, spec.facet) if c] + (
        spec.y if isinstance(spec.y, list) else [spec.y] if spec.y else [])
    if bin_:
        used.append(bin_[0])
    used += filter_columns(spec.filters)
    if spec.color and spec.color in ctx.frame.columns and ctx.kind(spec.color) in ("quantitative", "temporal") \
            and spec.chart not in ("scatter",):
        spec.color_as_text = True  # years / codes as discrete groups, not a continuous scale
    as_time = {bin_[0]} if bin_ else set()
    if spec.chart in ("line", "area") or spec.fill_periods:
        as_time.add(spec.x)
    as_time |= {c for c in filter_columns(spec.filters)}
    spec.to_datetime = _uniq(c for c in used if c in ctx.frame.columns and c in as_time
                             and ctx.frame.columns[c].temporal == "string")
    data = _prelude_data(spec, ctx, bin_)
    if len(data) == 0:
        raise AnyVizError("No rows are left after the filters " + "; ".join(f.describe() for f in spec.filters)
                          + f". Check the values (e.g. with {ctx.frame_name}.head()) and try again.")
    if spec.filters:
        ctx.why.append("filtered to " + ", ".join(f.describe() for f in spec.filters)
                       + f" ({len(data):,} of {ctx.frame.rows:,} rows)")
    spec.rows = len(data)
    if need_agg and spec.chart in ("bar", "line", "area", "pie"):
        keys = [k for k in (spec.x, spec.color, spec.facet) if k]
        dup = _has_duplicates(data, keys) if keys else True
        if spec.agg is None and spec.y is not None and (getattr(spec, "_listing", False) or spec.derived):
            if dup and not spec.derived:
                ctx.why.append(f"each row drawn as it is (no aggregation was asked for)")
        elif spec.agg is None and spec.y is not None:
            if dup or spec.chart == "pie":
                ys = spec.y if isinstance(spec.y, list) else [spec.y]
                additive = all(ctx.frame.columns[c].additive for c in ys if c in ctx.frame.columns)
                spec.agg = "sum" if additive or spec.chart == "pie" else "mean"
                ctx.why.append(f"several rows per {' and '.join(keys)}, so {', '.join(ys)} is "
                               f"{'summed' if spec.agg == 'sum' else 'averaged'} (no aggregation was named; "
                               + ("a total-like quantity adds up)" if spec.agg == "sum" else
                                  "averages compare groups of different sizes fairly)"))
            else:
                ctx.why.append(f"one row per {' and '.join(keys)}, so values are plotted as they are")
        elif spec.agg and spec.agg not in ("count", "nunique") and spec.y is not None:
            ys = spec.y if isinstance(spec.y, list) else [spec.y]
            ctx.why.append(f"{AGG_LABEL[spec.agg].lower()} of {', '.join(ys)} per {' and '.join(keys)}")
        elif spec.agg == "count":
            ctx.why.append(f"number of rows per {' and '.join(keys)}")
        # sensible order: categories by value, periods/numbers along the axis
        x_ordered = bin_ is not None or ctx.kind(spec.x) in ("temporal",) or (
            spec.x in ctx.frame.columns and ctx.frame.columns[spec.x].discrete)
        if spec.chart in ("line", "area", "bar") and bin_ and spec.agg in ("count", "sum") and \
                bin_[1] in ("year", "quarter", "month", "week", "day") and not spec.facet:
            spec.fill_periods = True
            ctx.why.append("periods without rows drawn as 0")
        if spec.chart == "bar":
            if spec.sort is None:
                spec.sort = "x" if x_ordered else "desc"
            if spec.sort in ("desc", "asc") and not x_ordered or p.sort:
                ctx.why.append({"desc": "sorted highest first", "asc": "sorted lowest first",
                                "alpha": "sorted alphabetically", "x": ""}.get(spec.sort, ""))
        if spec.top:
            ctx.why.append(f"{'top' if spec.top[1] == 'desc' else 'bottom'} {spec.top[0]} {spec.x}")
        if spec.color and spec.chart == "bar" and spec.barmode is None:
            spec.barmode = "stack" if spec.agg in ("sum", "count", "nunique") else "group"
    _plan_reduction(spec, ctx)
    spec.title = _title(spec)
    return spec


def _finish_reading(spec: Spec, reading, ctx: _Ctx) -> Spec:
    """A spec from the intent reader: bin the date column, then the common finishing steps."""
    bin_ = getattr(spec, "_bin", None)
    if bin_:
        src, unit = bin_
        spec.x = BIN_NAME[unit] if BIN_NAME[unit] not in ctx.frame.columns else f"{src} {BIN_NAME[unit]}"
        ctx.why.append(f"{src} grouped by {BIN_NAME[unit]}")
    if spec.chart in ("scatter_geo", "choropleth"):
        spec.title = _title(spec)
        return spec
    p = type("P", (), {"sort": getattr(spec, "_sort_explicit", False)})()
    if spec.chart == "scatter":
        return _common_finish(spec, p, ctx, None)
    if spec.chart in ("bar", "line", "area", "pie") and spec.x is None:
        a = spec.agg if spec.agg and spec.agg != "count" else "mean"
        if spec.y is None:
            raise AnyVizError("Say what to group by, e.g. %viz count by <column>.")
        spec.agg = a
        return _single_value(spec, p, ctx)
    return _common_finish(spec, p, ctx, bin_, need_agg=True)


def _has_duplicates(data, keys: list) -> bool:
    """Whether any two rows share the key values, without hashing millions of rows when it
    can be avoided (a hash pass over 10M timestamps takes ~1 s): a sorted single key has
    duplicates only next to each other, and a repeat inside a sample is a repeat in the whole."""
    if len(keys) == 1:
        s = data[keys[0]]
        if len(s) > 1 and (s.is_monotonic_increasing or s.is_monotonic_decreasing):
            a = s.to_numpy()
            return bool((a[1:] == a[:-1]).any())
    if len(data) > 200_000 and data[keys].iloc[:: len(data) // 100_000].duplicated().any():
        return True
    return bool(data.duplicated(subset=keys).any())


def _plan_reduction(spec: Spec, ctx: _Ctx) -> None:
    """A raw line/area over more than ANYVIZ_REDUCE_ROWS rows is shrunk in the generated code
    (each slice's extremes, see plan_code._extremes_lines) so px never handles millions of
    rows; the plotted peaks and dips are the data's own."""
    max_points, reduce_rows = settings.point_limits()
    ys = spec.y if isinstance(spec.y, list) else [spec.y]
    if spec.chart in ("line", "area") and spec.agg is None and spec.y is not None and \
            spec.rows > reduce_rows and all(ctx.kind(c) == "quantitative" for c in ys):
        spec.reduce_points = max_points
        ctx.why.append(f"{spec.rows:,} rows: each line keeps the first, last, lowest and highest "
                       f"point of {max_points:,} slices, so every peak and dip is drawn")


def _single_value(spec: Spec, p, ctx) -> Spec:
    spec.x = "all rows"
    spec.title = f"{measure_label(spec, spec.y)}"
    spec._single = True  # type: ignore[attr-defined]
    return spec


def _title(spec: Spec) -> str:
    ys = spec.y if isinstance(spec.y, list) else ([spec.y] if spec.y else [])
    if spec.chart == "corr":
        t = "Correlation between " + ", ".join(spec.columns)
    elif spec.chart == "histogram":
        t = f"Distribution of {spec.x}"
    elif spec.chart in ("box", "violin"):
        t = f"Distribution of {spec.y}" + (f" by {spec.x}" if spec.x else "")
    elif spec.chart == "scatter":
        t = f"{spec.y} vs {spec.x}"
    elif spec.chart == "heatmap" and spec.agg is None:
        t = f"{spec.y} vs {spec.x} (number of rows)"
    elif spec.chart == "heatmap":
        t = f"{measure_label(spec, spec.y) if spec.y else 'Number of rows'} by {spec.color} and {spec.x}"
    else:
        what = measure_label(spec, ys[0]) if spec.agg and spec.agg != "count" and len(ys) == 1 else (
            "Number of rows" if spec.agg == "count" else ", ".join(ys))
        if spec.agg and len(ys) > 1:
            what = f"{AGG_LABEL[spec.agg]} " + ", ".join(ys)
        if spec.chart == "pie":
            t = f"Share of {what[0].lower() + what[1:]} by {spec.x}"
        else:
            t = f"{what} {'over' if spec.chart in ('line', 'area') else 'by'} {spec.x}"
        if spec.color:
            t += f", by {spec.color}" if spec.chart in ("line", "area") else f" and {spec.color}"
    if spec.top:
        t = f"{'Top' if spec.top[1] == 'desc' else 'Bottom'} {spec.top[0]}: {t}"
    if spec.filters:
        t += " (" + ", ".join(f.describe() for f in spec.filters) + ")"
    return t


def finish(spec: Spec, ctx: _Ctx, parsed=None) -> ChartPlan:
    """Spec -> code, explanation and alternatives."""
    if getattr(spec, "_single", False):
        code = "data = df\n" + "".join(filter_line(f) + "\n" for f in spec.filters) + (
            f"data = pd.DataFrame({{'': ['all rows'], {spec.y!r}: [data[{spec.y!r}].{spec.agg}()]}})\n"
            f"fig = px.bar(data, x='', y={spec.y!r}, labels={{{spec.y!r}: {measure_label(spec, spec.y)!r}}}, "
            f"title={spec.title!r})\n")
    else:
        code = generate(spec)
    code += f"fig.update_layout(meta={{'anyviz_plan': {plan_meta(spec)!r}}})\n"
    why = [w for w in ctx.why if w]
    lines = [_CHART_NAME[spec.chart] + " of " + ctx.frame_name + ": " + spec.title + "."]
    if why:
        lines.append(_sentence("; ".join(why)))
    if ctx.notes:
        lines.append(_sentence("Note: " + "; ".join(_uniq(ctx.notes))))
    if spec.rows > 50_000 and spec.chart == "scatter":
        lines.append(f"{spec.rows:,} points: large data is reduced for display.")
    lines.append("Read as: " + describe_spec(spec) + ".")
    alts = [with_frame(a, ctx.frame_name) for a in _alternatives(spec, ctx)]
    return ChartPlan(code=code, explanation=" ".join(lines), alternatives=alts,
                     spec=spec, notes=list(ctx.notes))


def with_frame(request: str, frame_name: str) -> str:
    """A suggested `%viz ...` that names its frame, so it charts the same data when run."""
    if request.startswith("%viz ") and "--df" not in request and frame_name.isidentifier():
        return f"%viz --df {frame_name} " + request[5:]
    return request


def plan_meta(spec: Spec) -> dict:
    """The spec as plain JSON data, stored in layout.meta so %customize can rebuild the chart
    (facets, chart type) from `df` without the planner's objects."""
    import json

    from anyviz import jsonutil
    d = spec.to_dict()
    d.pop("title", None)
    return json.loads(jsonutil.dumps(d))


def spec_from_meta(meta: dict) -> Spec:
    d = dict(meta)
    d["filters"] = [Filter(**f) for f in d.get("filters") or []]
    for key in ("top", "bin"):
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    spec = Spec(**{k: v for k, v in d.items() if k in Spec.__dataclass_fields__})
    spec.title = _title(spec)
    return spec


def _sentence(s: str) -> str:
    s = s.strip()
    return (s[0].upper() + s[1:] + ("" if s.endswith(".") else ".")) if s else s


def _filter_words(spec: Spec) -> str:
    out = []
    for f in spec.filters:
        if f.op == "==" and (f.on_year or isinstance(f.value, (int, np.integer))):
            out.append(f"in {f.value}")
        elif f.op == "==" and isinstance(f.value, str):
            out.append(f"for '{f.value}'")
    return (" " + " ".join(out)) if out else ""


def _measure_alternatives(spec: Spec, ctx: _Ctx, q, fw: str) -> list[str]:
    """Other views of a derived measure or a map, naming only real columns."""
    x = spec.bin[0] if spec.bin else spec.x
    if spec.chart == "scatter_geo":
        return [f"%viz {q(spec.y)} vs {q(spec.x)}{fw}"]
    if spec.chart == "choropleth":
        return [f"%viz {'total ' + q(spec.y) if spec.y else 'count'} by {q(spec.x)}{fw}"]
    num, den = spec.derived[1], spec.derived[2]
    alts = [f"%viz total {q(num)} by {q(x)}{fw}"]
    if den is not None:
        alts.append(f"%viz {q(num)} vs {q(den)}{fw}")
    elif ctx.frame.first_temporal() is not None:
        alts.append(f"%viz {q(num)} over time{fw}")
    return alts


def _alternatives(spec: Spec, ctx: _Ctx) -> list[str]:
    """2-3 `%viz ...` lines that re-plan cleanly: other aggregations, chart types, splits."""
    frame = ctx.frame
    alts: list[str] = []
    fw = _filter_words(spec)
    used = {spec.x, spec.color, spec.facet, spec.y if isinstance(spec.y, str) else None}
    other_cat = next((c.name for c in frame.columns.values() if c.name not in used and
                      c.kind in ("nominal", "boolean") and 2 <= c.distinct <= 12 and not c.idlike), None)
    q = lambda c: f"'{c}'" if not str(c).replace("_", "").isalnum() else str(c)  # noqa: E731
    y = spec.y if isinstance(spec.y, str) else None
    if spec.derived or spec.chart in ("scatter_geo", "choropleth"):
        return _measure_alternatives(spec, ctx, q, fw)
    if spec.chart == "corr":
        cols = spec.columns
        alts += [f"%viz {q(cols[0])} vs {q(cols[1])}", f"%viz distribution of {q(cols[0])}"]
    elif spec.chart in ("bar", "line", "area", "pie") and spec.bin is None and spec.x in frame.columns:
        x = spec.x
        if y and spec.agg in ("mean", "sum", "median", "min", "max"):
            other = "median" if spec.agg != "median" else "average"
            alts.append(f"%viz {other} {q(y)} by {q(x)}{fw}")
            if ctx.categorical(x):
                alts.append(f"%viz box plot of {q(y)} by {q(x)}{fw}")
        if spec.chart == "bar" and ctx.categorical(x) and y and spec.agg in ("sum",):
            alts.append(f"%viz share of {q(y)} by {q(x)}{fw}")
        if spec.chart == "line":
            alts.append(f"%viz area chart of {q(y) if y else 'count'} by {q(x)}{fw}" if y else
                        f"%viz bar chart of count by {q(x)}{fw}")
        if spec.chart == "pie":
            alts.append(f"%viz bar chart of {'total ' + q(y) if y else 'count'} by {q(x)}{fw}")
        if y is None and spec.chart != "pie" and ctx.categorical(x):
            alts.append(f"%viz pie of count by {q(x)}{fw}")
        if spec.agg == "nunique":
            alts.append(f"%viz count by {q(x)}{fw}")
        if other_cat and not spec.color and spec.agg != "nunique":
            alts.append(f"%viz {q(y) if y else 'count'} by {q(x)} colored by {q(other_cat)}{fw}")
        if y and len(alts) < 2:
            switch = {"line": "area chart", "area": "line chart", "bar": "line chart", "pie": "bar chart"}
            col = f" colored by {q(spec.color)}" if spec.color else ""
            alts.append(f"%viz {switch[spec.chart]} of {q(y)} by {q(x)}{col}{fw}")
            if ctx.kind(y) == "quantitative":
                alts.append(f"%viz distribution of {q(y)}{fw}")
    elif spec.chart in ("bar", "line") and spec.bin:
        src, unit = spec.bin
        other_unit = {"month": "year", "year": "month", "weekday": "month", "monthname": "weekday"}.get(unit, "month")
        what = q(y) if y else "count"
        alts.append(f"%viz {what} per {other_unit}" if y else f"%viz number of rows per {other_unit}")
        if y:
            alts.append(f"%viz {q(y)} over time")
    elif spec.chart == "scatter":
        if other_cat and not spec.color:
            alts.append(f"%viz {q(spec.y)} vs {q(spec.x)} colored by {q(other_cat)}{fw}")
        alts.append(f"%viz heatmap of {q(spec.y)} vs {q(spec.x)}{fw}")
        alts.append(f"%viz distribution of {q(spec.y)}{fw}")
    elif spec.chart == "histogram":
        alts.append(f"%viz box plot of {q(spec.x)}{fw}")
        if other_cat and not spec.color:
            alts.append(f"%viz distribution of {q(spec.x)} by {q(other_cat)}{fw}")
        other_num = next((c.name for c in frame.of_kind("quantitative")
                          if c.name != spec.x and not c.idlike), None)
        if other_num and ctx.kind(spec.x) == "quantitative":
            alts.append(f"%viz {q(other_num)} vs {q(spec.x)}{fw}")
    elif spec.chart in ("box", "violin"):
        other = "violin" if spec.chart == "box" else "box"
        by = f" by {q(spec.x)}" if spec.x else ""
        alts.append(f"%viz {other} plot of {q(spec.y)}{by}{fw}")
        if spec.x:
            alts.append(f"%viz average {q(spec.y)} by {q(spec.x)}{fw}")
        alts.append(f"%viz histogram of {q(spec.y)}{fw}")
    elif spec.chart == "heatmap":
        if spec.color and spec.x:
            alts.append(f"%viz {q(y) if y else 'count'} by {q(spec.x)} colored by {q(spec.color)}{fw}")
    return _uniq(alts)[:3]
