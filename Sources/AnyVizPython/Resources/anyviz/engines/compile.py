"""Chart specification -> Ibis expression run in the engine -> the small frame that is drawn.

The planner decides *what* to draw (chart type, x, y, aggregate, colour, time bin, filters,
top-N, sort); this module decides *where the work happens*: every step that touches rows
(filter, bin, group, aggregate, top-N, the min/max reduction of long lines, histogram bins,
box-plot quantiles, sampling of scatter plots) is one Ibis expression the engine runs. What
comes back is a pandas frame with one row per drawn mark, and Plotly Express code that draws
it (kept, so %customize edits it like any other chart).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..viz.plan_code import px_common_args

#: Buckets along x for a raw long line (each keeps first, last, min and max: up to 4 points).
LINE_BUCKETS = 2000
#: Raw rows a chart may fetch before lines are reduced and scatters sampled.
RAW_ROWS = 100_000
HIST_BINS = 50
#: Colours or panels a capped spec (max_marks) may ask for.
MAX_SERIES = 100
AGG_LABEL = {"mean": "Average", "sum": "Total", "median": "Median", "min": "Minimum",
             "max": "Maximum", "count": "Number of rows", "nunique": "Number of distinct"}
BIN_NAME = {"year": "year", "quarter": "quarter", "month": "month", "week": "week", "day": "day",
            "hour": "hour", "weekday": "weekday", "monthname": "month of year"}
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


@dataclass
class EngineSpec:
    """The fields of the planner's chart specification this compiler reads (any object or
    dict with these names is accepted through `from_any`)."""

    chart: str
    x: str | None = None
    y: object = None
    color: str | None = None
    facet: str | None = None
    agg: str | None = None
    measure_name: str | None = None
    filters: list = field(default_factory=list)   # dicts: column, op, value, on_year
    top: tuple | None = None                      # (n, "desc" | "asc")
    sort: str | None = None                       # desc asc alpha x
    bin: tuple | None = None                      # (source column, unit)
    to_datetime: list = field(default_factory=list)
    horizontal: bool = False
    barmode: str | None = None
    title: str = ""
    columns: list = field(default_factory=list)
    color_as_text: bool = False
    rows: int = 0
    reduce_points: int = 0
    derived: list | None = None                   # [name, numerator, denominator, scale]
    fill_periods: bool = False                    # empty time periods drawn as 0
    max_marks: int = 0                            # most groups drawn (0: no limit)


def _as_dict(obj) -> dict:
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    return dict(vars(obj))


def from_any(obj) -> EngineSpec:
    """An EngineSpec from the planner's spec object, its to_dict(), or a plain dict."""
    d = _as_dict(obj)
    names = {f.name for f in dataclasses.fields(EngineSpec)}
    values = {k: v for k, v in d.items() if k in names}
    values["filters"] = [_filter_dict(f) for f in values.get("filters") or []]
    for key in ("top", "bin"):
        if values.get(key) is not None:
            values[key] = tuple(values[key])
    if not values.get("chart"):
        raise ValueError("the chart specification has no chart type")
    return EngineSpec(**values)


def _filter_dict(f) -> dict:
    f = f if isinstance(f, dict) else _as_dict(f)
    value = f.get("value")
    if f["op"] == "or":  # groups of conditions, any group may hold
        value = [[_filter_dict(g) for g in group] for group in value]
    elif f["op"] == "and":
        value = [_filter_dict(g) for g in value]
    return {"column": f.get("column"), "op": f["op"], "value": value,
            "on_year": bool(f.get("on_year"))}


@dataclass
class Compiled:
    """The drawn data (small pandas frame), code drawing it from `df`, and what was done."""

    data: object
    code: str
    notes: list = field(default_factory=list)


# ------------------------------------------------------------------ expression building
def _filter(t, f: dict):
    import functools
    import operator
    import re

    import ibis

    op, v = f["op"], f.get("value")
    if op == "or":
        return functools.reduce(operator.or_, [
            functools.reduce(operator.and_, [_filter(t, g) for g in group]) for group in v])
    if op == "and":
        return functools.reduce(operator.and_, [_filter(t, g) for g in v])
    col = t[f["column"]]
    if f.get("on_year"):
        col = col.year()
    if op == "notnull":
        return col.notnull()
    if op == "isnull":
        return col.isnull()
    if op in ("contains", "notcontains"):
        hit = col.cast("string").lower().contains(str(v).lower())
        return ~hit if op == "notcontains" else hit
    if op in ("startswith", "endswith"):
        text = col.cast("string").lower()
        return getattr(text, op)(str(v).lower())
    if isinstance(v, str) and re.match(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}$", v) \
            and col.type().is_temporal():
        import pandas as pd

        v = pd.Timestamp(v)
    if op == "in":
        return col.isin(list(v))
    if op == "notin":
        return ~col.isin(list(v))
    if op == "between":
        return col.between(v[0], v[1])
    ops = {"==": col.__eq__, "!=": col.__ne__, ">=": col.__ge__, ">": col.__gt__,
           "<=": col.__le__, "<": col.__lt__}
    if op not in ops:
        raise ValueError(f"filter operator {op!r} is not supported in the engine")
    return ops[op](ibis.literal(v) if v is not None else v)


def _bin_expr(col, unit: str):
    """The bin key per row. Weekday and month names are grouped by their number (0 = Monday,
    1 = January) and named after the query: a name per row costs a string per row."""
    if unit == "year":
        return col.year()
    if unit == "weekday":
        return col.day_of_week.index()
    if unit == "monthname":
        return col.month()
    return col.truncate({"quarter": "Q", "month": "M", "week": "W", "day": "D",
                         "hour": "h"}[unit])


def prepare(t, spec: EngineSpec):
    """Filters, text dates, colour-as-text and the time bin as one expression; returns
    (table, x column name, category orders)."""
    for col in spec.to_datetime:
        t = t.mutate(**{col: t[col].try_cast("timestamp")})
    for f in spec.filters:
        t = t.filter(_filter(t, f))
    if spec.color_as_text and spec.color:
        t = t.mutate(**{spec.color: t[spec.color].cast("string")})
    x, orders = spec.x, {}
    if spec.bin:
        src, unit = spec.bin
        name = spec.x if spec.x and spec.x != src and spec.x == BIN_NAME.get(unit) \
            else BIN_NAME[unit]
        t = t.filter(t[src].notnull()).mutate(**{name: _bin_expr(t[src], unit)})
        x = name
        if unit == "weekday":
            orders[name] = WEEKDAYS
        if unit == "monthname":
            orders[name] = MONTHS
    return t, x, orders


def _measure(t, spec: EngineSpec, y: str | None):
    agg = spec.agg
    if agg == "count":
        return t.count()
    col = t[y]
    if agg == "nunique":
        return col.nunique()
    if agg == "sum":  # pandas: the sum of nothing (or of only missing values) is 0
        import ibis

        return ibis.coalesce(col.sum(), 0)
    if agg in ("mean", "min", "max", "median"):
        return getattr(col, agg)()
    raise ValueError(f"aggregate {agg!r} is not supported in the engine")


def measure_name(spec: EngineSpec) -> str:
    if spec.agg == "count":
        return spec.measure_name or "count"
    if spec.agg == "nunique":
        return spec.measure_name or f"distinct {spec.y}"
    return spec.y


def measure_label(spec: EngineSpec) -> str:
    if spec.derived:
        return spec.derived[0]
    if spec.agg == "count":
        return "Number of rows"
    if spec.agg == "nunique":
        return f"Number of distinct {spec.y}"
    return f"{AGG_LABEL[spec.agg]} {spec.y}"


def aggregate_expr(t, spec: EngineSpec, x: str):
    """group by x/colour/facet, one measure; top-N and order in the engine too."""
    import ibis

    keys = [k for k in (x, spec.color, spec.facet) if k]
    for k in keys:  # pandas' groupby drops missing keys; so does the engine query
        if not (spec.bin and k == x):  # a bin's source column is filtered in prepare()
            t = t.filter(t[k].notnull())
    value = measure_name(spec)
    ys = spec.y if isinstance(spec.y, list) else [spec.y]
    if spec.derived:  # a ratio of two column totals per group
        value, num, den, scale = spec.derived
        out = t.group_by(keys).agg(**{
            value: t[num].sum().cast("float64") / t[den].sum().cast("float64").nullif(0)
            * float(scale)})
        return _top_and_order(out, spec, x, keys, value), value
    if isinstance(spec.y, list) and spec.agg not in ("count", "nunique"):
        out = t.group_by(keys).agg(**{y: _measure(t, spec, y) for y in ys})
        return out.order_by(keys), ys
    out = t.group_by(keys).agg(**{value: _measure(t, spec, spec.y)})
    return _top_and_order(out, spec, x, keys, value), value


def _top_and_order(out, spec: EngineSpec, x: str, keys: list, value: str):
    import ibis

    if spec.top:
        n, direction = spec.top
        order = ibis.desc(value) if direction == "desc" else ibis.asc(value)
        if spec.color or spec.facet:
            keep = (out.group_by(x).agg(_total=out[value].sum())
                    .order_by(ibis.desc("_total") if direction == "desc" else "_total")
                    .limit(int(n)))
            out = out.semi_join(keep, x)
        else:
            out = out.order_by([order, x]).limit(int(n))
    if spec.chart == "bar" and spec.sort in ("desc", "asc") and not (spec.color or spec.facet):
        return out.order_by([ibis.desc(value) if spec.sort == "desc" else value, x])
    if spec.chart == "bar" and spec.sort == "x_desc":
        return out.order_by([ibis.desc(x)] + keys[1:])
    return out.order_by(keys)


def name_bins(data, spec: EngineSpec, x: str):
    """Weekday and month numbers from the engine as the names pandas' dt accessors give."""
    if spec.bin and x in data.columns and spec.bin[1] in ("weekday", "monthname"):
        names = WEEKDAYS if spec.bin[1] == "weekday" else [""] + MONTHS
        data = data.assign(**{x: [names[int(v)] for v in data[x]]})
    return data


def fill_periods(data, spec: EngineSpec, x: str, value: str):
    """Counts and sums over time: every period from the first to the last, 0 where empty
    (done on the small aggregated result, as the planner's pandas code does)."""
    import pandas as pd

    unit = spec.bin[1]
    if len(data) == 0 or unit not in ("year", "quarter", "month", "week", "day"):
        return data
    if unit == "year":
        periods = list(range(int(data[x].min()), int(data[x].max()) + 1))
    else:
        freq = {"quarter": "QS", "month": "MS", "week": "W-MON", "day": "D"}[unit]
        periods = pd.date_range(data[x].min(), data[x].max(), freq=freq)
        data = data.assign(**{x: pd.to_datetime(data[x]).astype(periods.dtype)})
    groups = [k for k in (spec.color, spec.facet) if k]
    if groups:
        index = pd.MultiIndex.from_product([periods] + [data[g].unique() for g in groups],
                                           names=[x] + groups)
    else:
        index = pd.Index(periods, name=x)
    keys = [x] + groups
    full = data.set_index(keys)[value].reindex(index, fill_value=0).reset_index()
    return full.sort_values(keys, kind="stable").reset_index(drop=True)


def _x_number(t, x: str):
    xcol = t[x]
    if xcol.type().is_temporal():
        return xcol.epoch_seconds().cast("float64")
    return xcol.cast("float64")


def x_bounds_expr(t, x: str):
    """min and max of x, as stored: one column read, no per-row conversion (a third faster
    than bounds of the converted x over rows where y is present; the slices only need to
    cover every x)."""
    return t.aggregate(lo=t[x].min(), hi=t[x].max())


def x_number(value) -> float:
    """A bound from x_bounds_expr as the number the engine's `_x_number` gives (seconds since
    the epoch for times, UTC for naive ones)."""
    import datetime

    import numpy as np
    import pandas as pd

    if value is None or pd.isna(value):  # no x at all: one slice, nothing drawn
        return 0.0
    if isinstance(value, (datetime.date, pd.Timestamp, np.datetime64)):
        stamp = pd.Timestamp(value)
        return stamp.timestamp() if stamp.tzinfo else stamp.tz_localize("UTC").timestamp()
    return float(value)


_ARG_FUNCTIONS = {"duckdb": ("arg_min", "arg_max"), "pyspark": ("min_by", "max_by")}


def arg_extreme(backend: str, which: str, value, key):
    """`value` at the row where `key` is lowest/highest. Ibis' own argmin compiles to an
    ordered FIRST(... ORDER BY ...) in DuckDB, 4-5x slower than its arg_min on big groups,
    so the engine's native function is called where we know it."""
    names = _ARG_FUNCTIONS.get(backend)
    if names is None:
        return value.argmin(key) if which == "min" else value.argmax(key)
    import ibis

    name = names[0] if which == "min" else names[1]
    vt, kt = value.type(), key.type()

    def fn(x, k):  # a signature only: the engine's builtin runs
        ...

    fn.__name__ = name
    fn.__annotations__ = {"x": vt, "k": kt, "return": vt}
    return ibis.udf.agg.builtin(fn, name=name)(value, key)


def m4_expr(t, spec: EngineSpec, x: str, y: str, buckets: int, lo: float, hi: float,
            backend: str = ""):
    """Long raw line: cut x into `buckets` equal slices (per colour/facet) and keep each
    slice's first, last, lowest and highest point (M4), computed in the engine. The bounds
    come from a first small query, as literals: no cross join per row."""
    import ibis

    groups = [k for k in (spec.color, spec.facet) if k]
    t = t.filter(t[x].notnull() & t[y].notnull())
    xn = _x_number(t, x)
    scale = buckets / (hi - lo) if hi > lo else 0.0
    bucket = ((xn - lo) * scale).floor().cast("int64")
    t = t.mutate(_xn=xn, _b=ibis.greatest(ibis.least(bucket, buckets - 1), 0))
    agg = t.group_by(groups + ["_b"]).agg(
        x_first=t[x].min(), y_first=arg_extreme(backend, "min", t[y], t._xn),
        x_last=t[x].max(), y_last=arg_extreme(backend, "max", t[y], t._xn),
        x_low=arg_extreme(backend, "min", t[x], t[y]), y_low=t[y].min(),
        x_high=arg_extreme(backend, "max", t[x], t[y]), y_high=t[y].max())
    return agg


def m4_rows(agg, spec: EngineSpec, x: str, y: str):
    """The engine's M4 buckets as line points in x order (duplicates dropped)."""
    import pandas as pd

    groups = [k for k in (spec.color, spec.facet) if k]
    parts = []
    for which in ("first", "last", "low", "high"):
        part = agg[groups + [f"x_{which}", f"y_{which}"]].rename(
            columns={f"x_{which}": x, f"y_{which}": y})
        parts.append(part)
    out = pd.concat(parts, ignore_index=True).drop_duplicates()
    return out.sort_values(groups + [x], kind="stable").reset_index(drop=True)


def hist_expr(t, spec: EngineSpec, x: str, bins: int = HIST_BINS):
    groups = [k for k in (spec.color, spec.facet) if k]
    t = t.filter(t[x].notnull())
    xn = t[x].cast("float64")
    bounds = t.aggregate(lo=xn.min(), hi=xn.max())
    t = t.mutate(_xn=xn).cross_join(bounds)
    width = (t.hi - t.lo).nullif(0)
    b = ((t._xn - t.lo) / width * bins).floor().clip(upper=bins - 1)
    import ibis

    t = t.mutate(_b=ibis.coalesce(b, 0).cast("int64"))
    return t.group_by(groups + ["_b", "lo", "hi"]).agg(count=t.count()).order_by(groups + ["_b"])


def box_expr(t, spec: EngineSpec):
    keys = [spec.x] if spec.x else []
    t = t.filter(t[spec.y].notnull())
    for k in keys:
        t = t.filter(t[k].notnull())
    y = t[spec.y]
    parts = dict(lowerfence=y.min(), q1=y.quantile(0.25), median=y.quantile(0.5),
                 q3=y.quantile(0.75), upperfence=y.max(), n=t.count())
    if keys:
        return t.group_by(keys).agg(**parts).order_by(keys)
    return t.aggregate(**parts)


# ------------------------------------------------------------------ compile and draw
def _q(value) -> str:
    """A Python literal for generated code (column names from the data are never code)."""
    return repr(value)


def compile_chart(frame, spec, execute) -> Compiled:
    """Run `spec` on `frame` through `execute(frame, expr)`; the drawn data and its code."""
    spec = spec if isinstance(spec, EngineSpec) else from_any(spec)
    t, x, orders = prepare(frame.table, spec)
    chart = spec.chart
    notes: list[str] = []
    if chart in ("bar", "line", "area", "pie") and (spec.agg or spec.derived):
        expr, value = aggregate_expr(t, spec, x)
        data = name_bins(_at_most(spec, execute(frame, _limited(spec, expr))), spec, x)
        if spec.fill_periods and spec.bin and isinstance(value, str) and not spec.derived:
            data = fill_periods(data, spec, x, value)
        return Compiled(data, _bar_code(spec, x, value, orders), notes)
    if chart in ("line", "area", "bar") and spec.y is not None:
        return _raw_line(frame, t, spec, x, orders, execute)
    if chart == "histogram":
        return _histogram(frame, t, spec, x, orders, execute)
    if chart == "scatter":
        return _scatter(frame, t, spec, orders, execute)
    if chart in ("box", "violin"):
        data = _at_most(spec, execute(frame, _limited(spec, box_expr(t, spec))))
        if chart == "violin":
            notes.append("A violin needs every value; drawn as a box plot from quantiles the "
                         "engine computed.")
        return Compiled(data, _box_code(spec), notes)
    if chart == "heatmap" and spec.agg:
        fake = dataclasses.replace(spec, color=None, facet=None)
        keys = [spec.color, x]
        tt = t
        for k in keys:
            tt = tt.filter(tt[k].notnull())
        value = measure_name(spec)
        expr = tt.group_by(keys).agg(**{value: _measure(tt, fake, spec.y)}).order_by(keys)
        data = name_bins(execute(frame, expr), spec, x)
        code = (f"table = df.pivot(index={_q(spec.color)}, columns={_q(x)}, values={_q(value)})\n"
                f"fig = px.imshow(table, text_auto='.3s', aspect='auto', labels={{'x': {_q(x)}, "
                f"'y': {_q(spec.color)}, 'color': {_q(measure_label(spec))}}}, "
                f"title={_q(spec.title or '')})\n")
        return Compiled(data, code, notes)
    if chart == "corr" and len(spec.columns) >= 2:
        cols = list(spec.columns)
        aggs = {f"{i}|{j}": t[a].cast("float64").corr(t[b].cast("float64"))
                for i, a in enumerate(cols) for j, b in enumerate(cols) if i < j}
        row = execute(frame, t.aggregate(**aggs))
        import numpy as np
        import pandas as pd

        m = np.eye(len(cols))
        for key, val in row.iloc[0].items():
            i, j = map(int, key.split("|"))
            m[i, j] = m[j, i] = float(val) if val is not None else np.nan
        data = pd.DataFrame(m, index=cols, columns=cols)
        code = ("fig = px.imshow(df, text_auto='.2f', zmin=-1, zmax=1, "
                f"color_continuous_scale='RdBu_r', aspect='auto', title={_q(spec.title or '')})\n")
        return Compiled(data, code, notes)
    raise ValueError(f"a {chart} chart of this kind is not supported on engine tables yet")


def _limited(spec: EngineSpec, expr):
    """One row more than `max_marks` at most: enough to tell that there are too many."""
    return expr.limit(spec.max_marks + 1) if spec.max_marks else expr


def _at_most(spec: EngineSpec, data):
    """The drawn data, or ValueError when a capped spec (max_marks) draws too much: too many
    groups, or a colour/facet column with more values than a chart can tell apart."""
    if not spec.max_marks:
        return data
    if len(data) > spec.max_marks:
        raise ValueError(f"the chart would draw over {spec.max_marks:,} groups: group by a "
                         f"column with fewer values, bin the time axis, or keep the top N")
    for role, column in (("colours", spec.color), ("panels", spec.facet)):
        if column and column in data and data[column].nunique() > MAX_SERIES:
            raise ValueError(f"the chart would need over {MAX_SERIES} {role} (one per value "
                             f"of {column!r}): choose a column with fewer values")
    return data


def _bar_code(spec: EngineSpec, x: str, value, orders: dict) -> str:
    labels = {}
    if isinstance(value, str):
        labels[value] = measure_label(spec)
    common = px_common_args(spec, labels, orders)
    if spec.chart == "pie":
        return (f"fig = px.pie(df, names={_q(x)}, values={_q(value)}, "
                f"labels={labels!r}, title={_q(spec.title or '')})\n"
                "fig.update_traces(textinfo='percent+label')\n")
    fn = {"bar": "px.bar", "line": "px.line", "area": "px.area"}[spec.chart]
    lines = []
    if spec.chart == "bar" and spec.sort in ("desc", "asc") and (spec.color or spec.facet) \
            and isinstance(value, str) and x not in orders:
        asc = spec.sort == "asc"
        lines.append(f"order = df.groupby({_q(x)})[{_q(value)}].sum()"
                     f".sort_values(ascending={asc}).index")
        common = px_common_args(spec, labels, dict(orders, **{x: "__ORDER__"})).replace(
            "'__ORDER__'", "list(order)")
    if spec.chart == "bar" and spec.horizontal:
        lines.append(f"fig = {fn}(df, x={_q(value)}, y={_q(x)}, orientation='h', {common})")
    else:
        lines.append(f"fig = {fn}(df, x={_q(x)}, y={_q(value)}, {common})")
    if spec.chart == "bar" and spec.color:
        lines.append(f"fig.update_layout(barmode={_q(spec.barmode or 'group')})")
    if spec.chart == "bar" and spec.horizontal and spec.sort in ("desc", "asc") \
            and not spec.color:
        lines.append("fig.update_yaxes(autorange='reversed')")
    return "\n".join(lines) + "\n"


def _raw_line(frame, t, spec, x, orders, execute) -> Compiled:
    ys = spec.y if isinstance(spec.y, list) else [spec.y]
    keep = [c for c in dict.fromkeys([x, *ys, spec.color, spec.facet]) if c]
    n = int(execute(frame, t.count()))
    notes = []
    if n <= RAW_ROWS:
        data = execute(frame, t.select(keep).order_by(x))
        data = data.dropna(subset=[c for c in keep if c])
    else:
        import pandas as pd

        buckets = int(spec.reduce_points or LINE_BUCKETS)
        parts = []
        bounds = execute(frame, x_bounds_expr(t, x)).iloc[0]
        lo, hi = x_number(bounds["lo"]), x_number(bounds["hi"])
        for y in ys:
            expr = m4_expr(t, spec, x, y, buckets, lo, hi, getattr(frame.backend, "name", ""))
            part = m4_rows(execute(frame, expr), spec, x, y)
            parts.append(part)
        data = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        notes.append(f"{n:,} rows: the engine cut the line into {buckets:,} slices along {x} "
                     f"and kept each slice's first, last, lowest and highest point, so every "
                     f"peak and dip is drawn.")
    fn = {"bar": "px.bar", "line": "px.line", "area": "px.area"}[spec.chart]
    y_arg = _q(ys[0]) if len(ys) == 1 else repr(ys)
    return Compiled(data, f"fig = {fn}(df, x={_q(x)}, y={y_arg}, {px_common_args(spec, {}, orders)})\n",
                    notes)


def _histogram(frame, t, spec, x, orders, execute) -> Compiled:
    col_type = t[x].type()
    if not col_type.is_numeric():
        expr = (t.filter(t[x].notnull()).group_by(x).agg(count=t.count())
                .order_by([__import__("ibis").desc("count"), x]).limit(HIST_BINS))
        data = execute(frame, expr)
        return Compiled(data, f"fig = px.bar(df, x={_q(x)}, y='count', labels={{'count': "
                              f"'Number of rows'}}, title={_q(spec.title or '')})\n", [])
    raw = execute(frame, hist_expr(t, spec, x))
    import numpy as np

    groups = [k for k in (spec.color, spec.facet) if k]
    if len(raw):
        lo, hi = float(raw["lo"].iloc[0]), float(raw["hi"].iloc[0])
    else:
        lo = hi = 0.0
    width = (hi - lo) / HIST_BINS if hi > lo else 1.0
    data = raw[groups + ["count"]].copy()
    data.insert(0, x, lo + (raw["_b"].to_numpy(dtype=float) + 0.5) * width)
    data["count"] = data["count"].astype(np.int64)
    common = px_common_args(spec, {"count": "Number of rows"}, orders)
    code = (f"fig = px.bar(df, x={_q(x)}, y='count', {common})\n"
            f"fig.update_traces(width={width!r})\n"
            f"fig.update_layout(bargap=0{', barmode=' + _q('overlay') if groups else ''})\n")
    return Compiled(data, code, [])


def _scatter(frame, t, spec, orders, execute) -> Compiled:
    import ibis

    keep = [c for c in dict.fromkeys([spec.x, spec.y, spec.color, spec.facet]) if c]
    t = t.filter(t[spec.x].notnull() & t[spec.y].notnull()) if spec.y else t
    notes = []
    if spec.top:
        n, direction = spec.top
        order = ibis.desc(spec.y) if direction == "desc" else ibis.asc(spec.y)
        data = execute(frame, t.select(keep).order_by(order).limit(int(n)))
    else:
        n = int(execute(frame, t.count()))
        if n > RAW_ROWS:
            t = t.filter(ibis.random() < RAW_ROWS / n)
            notes.append(f"{n:,} points: drawn from a random sample of about {RAW_ROWS:,} "
                         f"taken in the engine.")
        data = execute(frame, t.select(keep).limit(RAW_ROWS))
    code = f"fig = px.scatter(df, x={_q(spec.x)}, y={_q(spec.y)}, {px_common_args(spec, {}, orders)})\n"
    return Compiled(data, code, notes)


def _box_code(spec: EngineSpec) -> str:
    x = spec.x
    trace_x = f"x=[row[{_q(x)}]], " if x else ""
    name = f"name=str(row[{_q(x)}]), " if x else f"name={_q(spec.y)}, "
    return ("fig = go.Figure()\n"
            "for _, row in df.iterrows():\n"
            f"    fig.add_trace(go.Box({trace_x}{name}q1=[row['q1']], median=[row['median']], "
            "q3=[row['q3']], lowerfence=[row['lowerfence']], upperfence=[row['upperfence']], "
            "showlegend=False))\n"
            f"fig.update_layout(title={_q(spec.title or '')}, yaxis_title={_q(spec.y)}"
            f"{', xaxis_title=' + _q(x) if x else ''})\n")
