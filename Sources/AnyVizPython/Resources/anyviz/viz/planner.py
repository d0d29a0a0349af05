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

from . import clauses, intents, nlp, spec_builder
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
    plain = _plain_order_words(request)
    if plain != request and parsed.unknown:
        parsed = nlp.parse(plain, frame, matcher)
    ctx.notes.extend(parsed.notes)
    _apply_options(parsed, options, matcher, ctx)
    _check_unknown(parsed, frame, relationships, frame_name)
    spec = _decide(parsed, ctx)
    return finish(spec, ctx, parsed)


def _plain_order_words(request: str) -> str:
    """The request with its ordering clause ('rank from high to low by the bar') said as one
    word this planner reads ('descending'), so 'high'/'low'/'bar' are not taken as columns."""
    sort, spans = clauses.read_sort(request)
    if not sort or not spans:
        return request
    start, end = spans[0]
    return f"{request[:start]} {'descending' if sort[1] == 'desc' else 'ascending'} {request[end:]}"


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


@dataclass
class _Choice:
    """The chart being decided: the request's columns by role, then the axes, colour, facet,
    chart type and aggregation as each decision step fills them in."""
    subj: list
    groups: list
    vs: list
    explicit_x: list
    explicit_y: list
    measures: list
    x: object = None
    y: object = None
    color: str | None = None
    facet: str | None = None
    chart: str | None = None
    agg: str | None = None

    @classmethod
    def of(cls, p, ctx: _Ctx) -> "_Choice":
        role = lambda r: _uniq(p.with_role(r))  # noqa: E731
        subj, colors, facets = role("subject"), role("color"), role("facet")
        return cls(subj=subj, groups=role("group"), vs=role("vs"), explicit_x=role("x"),
                   explicit_y=role("y"), measures=[c for c in subj if ctx.kind(c) == "quantitative"],
                   color=colors[0] if colors else None, facet=facets[0] if facets else None,
                   chart=p.chart, agg=p.agg)


def _decide(p, ctx: _Ctx) -> Spec:
    """The chart specification for a parsed request: axes from the named columns' roles and
    kinds, then time binning, then the chart type, then what that chart type needs."""
    c = _Choice.of(p, ctx)
    if p.correlation_matrix or (p.relationship and len(c.subj) + len(c.vs) + len(c.groups) == 0):
        return _correlation_spec(p, ctx, c.measures)
    _choose_axes(p, ctx, c)
    _compare_named_values(p, ctx, c)
    bin_ = _time_axis(p, ctx, c)
    x_kind = "temporal" if bin_ and bin_[1] not in ("weekday", "monthname") else (
        "nominal" if bin_ else (ctx.kind(c.x) if c.x else None))
    x_cat = bin_ is not None and bin_[1] in ("weekday", "monthname") or (
        c.x is not None and not bin_ and ctx.categorical(c.x))
    if c.chart is None:
        c.chart = _chart_type(p, ctx, c, x_kind, x_cat, bin_)
        ctx.why.append(_why_chart(c.chart, c.x, c.y, ctx, bin_))
    if c.chart == "histogram":
        spec = _histogram_spec(p, ctx, c, x_cat, bin_)
        if spec is not None:
            return spec
    special = {"box": _box_spec, "violin": _box_spec, "scatter": _scatter_spec,
               "heatmap": _heatmap_spec}.get(c.chart)
    if special is not None:
        return special(p, ctx, c, x_cat, bin_)
    return _aggregate_spec(p, ctx, c, x_kind, x_cat, bin_)


def _correlation_spec(p, ctx: _Ctx, measures: list) -> Spec:
    """"correlation" (or a relationship with no column named): a heatmap of Pearson r."""
    cols = measures if len(measures) >= 2 else [c.name for c in ctx.frame.of_kind("quantitative")
                                                 if not c.idlike]
    if len(cols) < 2:
        raise AnyVizError("A correlation heatmap needs at least two numeric columns; "
                          f"{ctx.frame_name} has {len(cols)}.")
    ctx.why.append("correlations (Pearson) between the numeric columns " + ", ".join(cols))
    spec = Spec(chart="corr", columns=cols, filters=p.filters, rows=ctx.frame.rows)
    spec.title = _title(spec)
    return spec


# -- axes from the named columns ------------------------------------------------------------

def _choose_axes(p, ctx: _Ctx, c: _Choice) -> None:
    """x, y and colour from how the columns were named: --x/--y, "A vs B", "A and B related",
    "A by B", or a plain list of columns."""
    if c.explicit_x or c.explicit_y:
        _axes_explicit(c)
    elif c.vs:
        _axes_versus(ctx, c)
    elif p.relationship and len(c.subj) >= 2:
        c.x, c.y = c.subj[0], c.subj[1]
    elif c.groups:
        _axes_grouped(p, ctx, c)
    else:
        _axes_listed(p, ctx, c)


def _axes_explicit(c: _Choice) -> None:
    c.x = c.explicit_x[0] if c.explicit_x else None
    c.y = c.explicit_y[0] if c.explicit_y else None
    rest = [col for col in c.subj + c.groups + c.vs if col not in (c.x, c.y)]
    if c.x is None and rest:
        c.x = rest.pop(0)
    if c.y is None and rest and c.chart not in ("histogram",):
        c.y = rest.pop(0)


def _axes_versus(ctx: _Ctx, c: _Choice) -> None:
    """"A vs B": B on x, A on y; time goes on x, numbers against categories go on y."""
    left = c.subj[-1] if c.subj else (c.groups[0] if c.groups else None)
    c.y, c.x = left, c.vs[0]
    if left is None:
        c.x, c.y = c.vs[0], (c.vs[1] if len(c.vs) > 1 else None)
    if c.y and ctx.kind(c.y) == "temporal" and ctx.kind(c.x) != "temporal":
        c.x, c.y = c.y, c.x
        ctx.why.append(f"{c.x} is a time axis, so it goes on x")
    if ctx.categorical(c.y) and not ctx.categorical(c.x) and ctx.kind(c.x) == "quantitative":
        c.x, c.y = c.y, c.x
    if c.chart is None and c.y and ctx.kind(c.x) == "quantitative" and ctx.kind(c.y) == "quantitative":
        c.chart = "scatter"  # "A vs B" of two numbers is a relationship, even for small integers
        ctx.why.append(f"{c.y} against {c.x}, both numeric")
    c.groups = [g for g in c.groups if g not in (c.x, c.y)]
    if c.groups and not c.color:
        c.color = c.groups.pop(0)


def _axes_grouped(p, ctx: _Ctx, c: _Choice) -> None:
    """"A by B (and C)": B on x, further groups as colour then facet, A the measure."""
    c.x = c.groups[0]
    for g in [g for g in c.groups[1:] if g != c.x]:
        if not c.color:
            c.color = g
        elif not c.facet and g != c.color:
            c.facet = g
    cats = [col for col in c.subj if col not in c.measures and col != c.x]
    if ctx.kind(c.x) == "quantitative" and not ctx.info(c.x).discrete and cats and not c.measures:
        # "countries by population": rank the category by the number
        c.measures, c.x = [c.x], cats.pop(0)
        ctx.why.append(f"{c.x} ranked by {c.measures[0]}")
    c.y = c.measures[0] if c.measures else None
    if c.y is None and cats:
        c0 = cats[0]
        if p.count_words and ctx.info(c0).distinct > 10 and ctx.kind(c0) == "nominal":
            c.agg, c.y = "nunique", c0
            ctx.why.append(f"'number of {c0}' counts distinct {c0} values in each group")
        elif not c.color:
            c.color = c0
    if c.y is None and c.agg not in ("nunique",):
        temporals = [col for col in c.subj if ctx.kind(col) == "temporal" and col != c.x]
        if temporals and ctx.categorical(c.x) and not p.count_words:
            # "date by symbol": a time series per category
            c.color, c.x = c.x, temporals[0]


def _axes_listed(p, ctx: _Ctx, c: _Choice) -> None:
    """A plain list of columns: numbers over time, two numbers against each other, numbers
    per category, or a single column's distribution."""
    measures, chart = c.measures, c.chart
    times = [col for col in c.subj if ctx.kind(col) == "temporal"]
    cats = [col for col in c.subj if ctx.categorical(col) and col not in measures]
    first_time = ctx.frame.first_temporal()
    if measures and not times and (p.over_time or chart in ("line", "area")) and first_time:
        times = [first_time.name]  # "GOOG and AAPL over time"
    if measures and times and (chart in (None, "line", "area", "bar") or p.over_time):
        c.x = times[0]
        c.y = measures if len(measures) > 1 else measures[0]
    elif len(measures) >= 2 and chart not in ("histogram", "box", "violin", "pie"):
        c.x, c.y = measures[0], measures[1]
        if len(measures) > 2 and not c.color:
            c.color = measures[2]
    elif measures and cats and chart not in ("histogram",):
        c.x, c.y = cats[0], measures[0]
        if len(cats) > 1 and not c.color:
            c.color = cats[1]
    elif measures:
        _axes_one_measure(c, cats)
    elif len(cats) >= 2:
        c.x, c.color = cats[0], (c.color or cats[1])
    elif cats:
        c.x = cats[0]
    elif times:
        c.x = times[0]
    elif not c.subj:
        c.x, c.y, c.color, c.chart = _defaults_for(p, ctx, c.color)


def _axes_one_measure(c: _Choice, cats: list) -> None:
    c.y = c.measures[0]
    if c.chart in ("histogram", "box", "violin") and cats and not c.color:
        c.color = cats[0] if c.chart == "histogram" else None
        if c.chart != "histogram":
            c.x = cats[0]


def _compare_named_values(p, ctx: _Ctx, c: _Choice) -> None:
    """Values named in a filter ("lunch and dinner", "China and India") are compared side by
    side or as one series each, never summed together."""
    multi = [f for f in p.filters if f.op == "in" and not f.on_year and f.column not in (c.x, c.color)]
    if multi and c.x is None and c.y is not None and c.chart not in ("histogram", "box", "violin") \
            and not p.distribution and not p.over_time:
        c.x = multi[0].column  # "tips for lunch and dinner": compare the named groups side by side
        ctx.why.append(f"one bar per {c.x} named")
    elif multi and not c.color and c.chart not in ("histogram", "pie", "heatmap"):
        c.color = multi[0].column  # "China and India over time": one line each, not their sum
        ctx.why.append(f"one series per {c.color} named")


# -- time binning and "over time" -----------------------------------------------------------

def _time_axis(p, ctx: _Ctx, c: _Choice):
    """"per month" bins a date column onto x; "over time" (or a line) puts the first date
    column on x. Returns the bin, (source column, unit), or None."""
    if p.bin:
        return _binned_time_axis(p, ctx, c)
    if (p.over_time or c.chart in ("line", "area")) and not (c.x and ctx.kind(c.x) == "temporal") \
            and c.chart not in ("scatter",):
        _over_time_axis(p, ctx, c)
    return None


def _binned_time_axis(p, ctx: _Ctx, c: _Choice):
    frame = ctx.frame
    src = c.x if c.x and ctx.kind(c.x) == "temporal" else None
    src = src or (frame.first_temporal().name if frame.first_temporal() else None)
    if src is None:
        ctx.notes.append(f"ignored 'per {p.bin}': {ctx.frame_name} has no date column")
        return None
    if ctx.info(src).temporal == "year":
        if p.bin != "year":
            ctx.notes.append(f"{src} holds years only, so it cannot be split by {p.bin}")
        if c.x != src:
            if c.x and not c.color:
                c.color = c.x
            c.x = src
        return None
    if c.x and c.x != src and not c.color and (ctx.categorical(c.x)):
        c.color = c.x
    elif c.x and c.x != src and c.y is None and ctx.kind(c.x) == "quantitative":
        c.y = c.x
    c.x = BIN_NAME[p.bin] if BIN_NAME[p.bin] not in frame.columns else f"{src} {BIN_NAME[p.bin]}"
    ctx.why.append(f"{src} grouped by {BIN_NAME[p.bin]}")
    return (src, p.bin)


def _over_time_axis(p, ctx: _Ctx, c: _Choice) -> None:
    t = ctx.frame.first_temporal()
    numeric_line = c.x and ctx.kind(c.x) == "quantitative" and c.y is not None \
        and c.chart in ("line", "area") and not p.over_time
    if t is not None and not numeric_line:
        if c.x and c.x != t.name:
            if c.y is None and ctx.kind(c.x) == "quantitative":
                c.y = c.x
            elif not c.color and ctx.categorical(c.x):
                c.color = c.x
        c.x = t.name
        ctx.why.append(f"'over time' uses the date column {t.name}")
    elif t is None and p.over_time:
        ctx.notes.append(f"{ctx.frame_name} has no date or year column, so 'over time' was ignored")


# -- chart type -----------------------------------------------------------------------------

def _chart_type(p, ctx: _Ctx, c: _Choice, x_kind, x_cat, bin_) -> str:
    """The chart type when none was asked for, from the words (share, distribution) and the
    kinds on the axes. May swap x and y (a number by a number-like category)."""
    x, y, agg = c.x, c.y, c.agg
    if p.share and x and (x_cat or x_kind == "nominal"):
        return "pie"
    if p.distribution and y is not None and isinstance(y, str) and x and x_cat:
        return "box"
    if p.distribution and (y or x):
        return "histogram"
    if x is None and y is not None:
        return "histogram" if not agg or agg == "count" else "bar"
    if x_kind == "temporal":
        return "line" if (y is not None or agg or bin_) else "histogram"
    if x_cat:
        return "bar"
    if x_kind == "quantitative" and y is not None and ctx.kind(y if isinstance(y, str) else y[0]) == "quantitative":
        return "line" if agg and agg != "count" else "scatter"
    if x_kind == "quantitative" and y is not None:
        c.x, c.y = y, x
        return "bar"
    return "histogram" if x_kind == "quantitative" else "bar"


# -- what each chart type needs -------------------------------------------------------------

def _histogram_spec(p, ctx: _Ctx, c: _Choice, x_cat, bin_) -> Spec | None:
    """A histogram of one column; None (and the chart becomes a bar of counts) when the
    column is a binned period."""
    col = c.x if c.y is None or (c.x and ctx.kind(c.x) in ("quantitative", "temporal") and not x_cat) else c.y
    if c.y is not None and c.x is not None and x_cat and col == c.y and not c.color:
        c.color = c.x
    if bin_ and c.x == BIN_NAME.get(bin_[1]):
        c.chart = "bar"  # counts per period
        return None
    spec = Spec(chart="histogram", x=col, color=c.color, facet=c.facet, filters=p.filters,
                rows=ctx.frame.rows)
    return _common_finish(spec, p, ctx, bin_)


def _box_spec(p, ctx: _Ctx, c: _Choice, x_cat, bin_) -> Spec:
    x, y, color = c.x, c.y, c.color
    if y is None or ctx.kind(y) != "quantitative":
        if x and ctx.kind(x) == "quantitative":
            x, y = None, x
        else:
            y = _best_measure(ctx)
            ctx.notes.append(f"no numeric column named; the {c.chart} shows {y}")
    if x is not None and not x_cat and not bin_:
        if color and ctx.categorical(color):
            x, color = color, None
        else:
            x = None
    spec = Spec(chart=c.chart, x=x, y=y, color=color if color != x else None, facet=c.facet,
                filters=p.filters, rows=ctx.frame.rows)
    return _common_finish(spec, p, ctx, bin_)


def _scatter_spec(p, ctx: _Ctx, c: _Choice, x_cat, bin_) -> Spec:
    x, y = c.x, c.y
    if y is None or x is None:
        ms = _uniq([m for m in ([x, y] + c.measures) if m and ctx.kind(m) == "quantitative"])
        if len(ms) < 2:
            others = [col.name for col in ctx.frame.of_kind("quantitative") if not col.idlike and col.name not in ms]
            ms = _uniq(ms + others)
        if len(ms) < 2:
            raise AnyVizError(f"A scatter plot needs two numeric columns; {ctx.frame_name} has "
                              f"{len(ms)}. Try %viz histogram of a column instead.")
        x, y = ms[0], ms[1]
        ctx.notes.append(f"scatter of {y} against {x}")
    spec = Spec(chart="scatter", x=x, y=y, color=c.color, facet=c.facet, filters=p.filters,
                top=p.top, rows=ctx.frame.rows)
    return _common_finish(spec, p, ctx, bin_)


def _heatmap_spec(p, ctx: _Ctx, c: _Choice, x_cat, bin_) -> Spec:
    x, y, color, frame = c.x, c.y, c.color, ctx.frame
    if x and y and ctx.kind(y) == "quantitative" and ctx.kind(x) == "quantitative" and not color:
        spec = Spec(chart="heatmap", x=x, y=y, filters=p.filters, rows=frame.rows)
        return _common_finish(spec, p, ctx, bin_)
    if x and y and ctx.categorical(y) and not color:
        color, y = y, None
    if not color:
        cands = [col.name for col in frame.of_kind("nominal", "boolean")
                 if col.name != x and col.distinct <= 50 and not col.idlike]
        if not cands or x is None:
            raise AnyVizError("A heatmap needs two category or date columns (rows and columns), "
                              "e.g. %viz heatmap of average tip by day and time.")
        color = cands[0]
        ctx.notes.append(f"rows of the heatmap: {color}")
    agg = c.agg or (("sum" if ctx.info(y).additive else "mean") if y else "count")
    spec = Spec(chart="heatmap", x=x, y=y if agg != "count" else None, color=color, agg=agg,
                filters=p.filters, rows=frame.rows)
    return _common_finish(spec, p, ctx, bin_)


def _aggregate_spec(p, ctx: _Ctx, c: _Choice, x_kind, x_cat, bin_) -> Spec:
    """bar / line / area / pie: an aggregate per x (or raw values when one row per group)."""
    if c.x is None:
        if c.y is not None:
            return _one_number_spec(p, ctx, c)
        c.x = _best_category(ctx)
    if c.chart == "pie" and not (x_cat or x_kind == "nominal"):
        ctx.notes.append(f"a pie needs categories; {c.x} is not one, so this is a bar chart")
        c.chart = "bar"
    _aggregate_of_y(ctx, c)
    spec = Spec(chart=c.chart, x=c.x, y=c.y, color=c.color if c.color != c.x else None,
                facet=c.facet, agg=c.agg, filters=p.filters, top=p.top, sort=p.sort,
                horizontal=p.horizontal, barmode=p.barmode, rows=ctx.frame.rows)
    return _common_finish(spec, p, ctx, bin_, need_agg=True)


def _one_number_spec(p, ctx: _Ctx, c: _Choice) -> Spec:
    """No x: one aggregate number over all rows, drawn as a single bar."""
    a = c.agg if c.agg and c.agg != "count" else "mean"
    spec = Spec(chart="bar", x=None, y=c.y, agg=a, filters=p.filters, rows=ctx.frame.rows)
    ctx.why.append(f"{AGG_LABEL[a].lower()} of {c.y} over all rows")
    return _single_value(spec, p, ctx)


def _aggregate_of_y(ctx: _Ctx, c: _Choice) -> None:
    """Rows are counted when there is no y or y is text (then y becomes the colour)."""
    if c.y is None:
        c.agg = "count" if c.agg != "nunique" else c.agg
    elif isinstance(c.y, str) and ctx.kind(c.y) != "quantitative" and c.agg != "nunique":
        if c.agg not in (None, "count"):
            raise AnyVizError(f"{c.y} is not numeric, so its {AGG_LABEL.get(c.agg, c.agg).lower()} "
                              "cannot be computed. Ask for a count instead, e.g. %viz count of "
                              f"{c.y} by {c.x}.")
        c.agg = "count"
        if not c.color and c.y != c.x:
            c.color = c.y
        c.y = None


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
    """Everything every chart gets after its type is known: text dates parsed, the filters
    checked against the data, the aggregation and order chosen, the reduction and the title."""
    spec.bin = bin_
    _mark_color_and_dates(spec, ctx, bin_)
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
        _choose_aggregation(spec, ctx, keys, _has_duplicates(data, keys) if keys else True)
        _choose_order(spec, p, ctx, bin_)
    _plan_reduction(spec, ctx)
    spec.title = _title(spec)
    return spec


def _mark_color_and_dates(spec: Spec, ctx: _Ctx, bin_) -> None:
    """A numeric colour is shown as groups; text dates the chart bins, draws along or filters
    on are parsed (spec.to_datetime)."""
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


def _choose_aggregation(spec: Spec, ctx: _Ctx, keys: list, dup: bool) -> None:
    """With several rows per group and no aggregation named, totals are summed and other
    quantities averaged; one row per group is drawn as it is. Says why in ctx.why."""
    per = " and ".join(keys)
    if spec.agg is None and spec.y is not None and (getattr(spec, "_listing", False) or spec.derived):
        if dup and not spec.derived:
            ctx.why.append("each row drawn as it is (no aggregation was asked for)")
    elif spec.agg is None and spec.y is not None:
        if dup or spec.chart == "pie":
            ys = spec.y if isinstance(spec.y, list) else [spec.y]
            additive = all(ctx.frame.columns[c].additive for c in ys if c in ctx.frame.columns)
            spec.agg = "sum" if additive or spec.chart == "pie" else "mean"
            ctx.why.append(f"several rows per {per}, so {', '.join(ys)} is "
                           f"{'summed' if spec.agg == 'sum' else 'averaged'} (no aggregation was named; "
                           + ("a total-like quantity adds up)" if spec.agg == "sum" else
                              "averages compare groups of different sizes fairly)"))
        else:
            ctx.why.append(f"one row per {per}, so values are plotted as they are")
    elif spec.agg and spec.agg not in ("count", "nunique") and spec.y is not None:
        ys = spec.y if isinstance(spec.y, list) else [spec.y]
        ctx.why.append(f"{AGG_LABEL[spec.agg].lower()} of {', '.join(ys)} per {per}")
    elif spec.agg == "count":
        ctx.why.append(f"number of rows per {per}")


def _choose_order(spec: Spec, p, ctx: _Ctx, bin_) -> None:
    """Sensible order: categories by value, periods and numbers along the axis; empty periods
    of counts and totals drawn as 0; coloured bars stacked when they add up."""
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


def _q(column) -> str:
    """A column name as a request word: quoted unless it is plain letters, digits and _."""
    return f"'{column}'" if not str(column).replace("_", "").isalnum() else str(column)


def _alternatives(spec: Spec, ctx: _Ctx) -> list[str]:
    """2-3 `%viz ...` lines that re-plan cleanly: other aggregations, chart types, splits."""
    fw = _filter_words(spec)
    if spec.derived or spec.chart in ("scatter_geo", "choropleth"):
        return _measure_alternatives(spec, ctx, _q, fw)
    used = {spec.x, spec.color, spec.facet, spec.y if isinstance(spec.y, str) else None}
    other_cat = next((c.name for c in ctx.frame.columns.values() if c.name not in used and
                      c.kind in ("nominal", "boolean") and 2 <= c.distinct <= 12 and not c.idlike), None)
    if spec.chart in ("bar", "line", "area", "pie") and spec.bin is None and spec.x in ctx.frame.columns:
        alts = _aggregate_alternatives(spec, ctx, fw, other_cat)
    elif spec.chart in ("bar", "line") and spec.bin:
        alts = _binned_alternatives(spec)
    else:
        make = {"corr": _corr_alternatives, "scatter": _scatter_alternatives,
                "histogram": _histogram_alternatives, "box": _box_alternatives,
                "violin": _box_alternatives, "heatmap": _heatmap_alternatives}.get(spec.chart)
        alts = make(spec, ctx, fw, other_cat) if make else []
    return _uniq(alts)[:3]


def _aggregate_alternatives(spec: Spec, ctx: _Ctx, fw: str, other_cat) -> list[str]:
    x, y, alts = spec.x, (spec.y if isinstance(spec.y, str) else None), []
    if y and spec.agg in ("mean", "sum", "median", "min", "max"):
        other = "median" if spec.agg != "median" else "average"
        alts.append(f"%viz {other} {_q(y)} by {_q(x)}{fw}")
        if ctx.categorical(x):
            alts.append(f"%viz box plot of {_q(y)} by {_q(x)}{fw}")
    if spec.chart == "bar" and ctx.categorical(x) and y and spec.agg in ("sum",):
        alts.append(f"%viz share of {_q(y)} by {_q(x)}{fw}")
    if spec.chart == "line":
        alts.append(f"%viz area chart of {_q(y) if y else 'count'} by {_q(x)}{fw}" if y else
                    f"%viz bar chart of count by {_q(x)}{fw}")
    if spec.chart == "pie":
        alts.append(f"%viz bar chart of {'total ' + _q(y) if y else 'count'} by {_q(x)}{fw}")
    if y is None and spec.chart != "pie" and ctx.categorical(x):
        alts.append(f"%viz pie of count by {_q(x)}{fw}")
    if spec.agg == "nunique":
        alts.append(f"%viz count by {_q(x)}{fw}")
    if other_cat and not spec.color and spec.agg != "nunique":
        alts.append(f"%viz {_q(y) if y else 'count'} by {_q(x)} colored by {_q(other_cat)}{fw}")
    if y and len(alts) < 2:
        switch = {"line": "area chart", "area": "line chart", "bar": "line chart", "pie": "bar chart"}
        col = f" colored by {_q(spec.color)}" if spec.color else ""
        alts.append(f"%viz {switch[spec.chart]} of {_q(y)} by {_q(x)}{col}{fw}")
        if ctx.kind(y) == "quantitative":
            alts.append(f"%viz distribution of {_q(y)}{fw}")
    return alts


def _binned_alternatives(spec: Spec) -> list[str]:
    y = spec.y if isinstance(spec.y, str) else None
    unit = spec.bin[1]
    other_unit = {"month": "year", "year": "month", "weekday": "month", "monthname": "weekday"}.get(unit, "month")
    if not y:
        return [f"%viz number of rows per {other_unit}"]
    return [f"%viz {_q(y)} per {other_unit}", f"%viz {_q(y)} over time"]


def _corr_alternatives(spec: Spec, ctx: _Ctx, fw: str, other_cat) -> list[str]:
    cols = spec.columns
    return [f"%viz {_q(cols[0])} vs {_q(cols[1])}", f"%viz distribution of {_q(cols[0])}"]


def _scatter_alternatives(spec: Spec, ctx: _Ctx, fw: str, other_cat) -> list[str]:
    alts = []
    if other_cat and not spec.color:
        alts.append(f"%viz {_q(spec.y)} vs {_q(spec.x)} colored by {_q(other_cat)}{fw}")
    alts.append(f"%viz heatmap of {_q(spec.y)} vs {_q(spec.x)}{fw}")
    alts.append(f"%viz distribution of {_q(spec.y)}{fw}")
    return alts


def _histogram_alternatives(spec: Spec, ctx: _Ctx, fw: str, other_cat) -> list[str]:
    alts = [f"%viz box plot of {_q(spec.x)}{fw}"]
    if other_cat and not spec.color:
        alts.append(f"%viz distribution of {_q(spec.x)} by {_q(other_cat)}{fw}")
    other_num = next((c.name for c in ctx.frame.of_kind("quantitative")
                      if c.name != spec.x and not c.idlike), None)
    if other_num and ctx.kind(spec.x) == "quantitative":
        alts.append(f"%viz {_q(other_num)} vs {_q(spec.x)}{fw}")
    return alts


def _box_alternatives(spec: Spec, ctx: _Ctx, fw: str, other_cat) -> list[str]:
    other = "violin" if spec.chart == "box" else "box"
    by = f" by {_q(spec.x)}" if spec.x else ""
    alts = [f"%viz {other} plot of {_q(spec.y)}{by}{fw}"]
    if spec.x:
        alts.append(f"%viz average {_q(spec.y)} by {_q(spec.x)}{fw}")
    alts.append(f"%viz histogram of {_q(spec.y)}{fw}")
    return alts


def _heatmap_alternatives(spec: Spec, ctx: _Ctx, fw: str, other_cat) -> list[str]:
    y = spec.y if isinstance(spec.y, str) else None
    if spec.color and spec.x:
        return [f"%viz {_q(y) if y else 'count'} by {_q(spec.x)} colored by {_q(spec.color)}{fw}"]
    return []
