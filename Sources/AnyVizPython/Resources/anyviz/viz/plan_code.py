"""Chart spec -> self-contained Plotly Express code.

The code runs later under the guard in a namespace holding only `df`, `px`, `pd`, `np` and `go`,
so it imports nothing and never mutates `df` (filters and derived columns go to `data`).
Aggregations are computed in pandas before px, so the figure carries the plotted numbers (and a
big frame becomes a small one before it reaches the browser).
"""
from __future__ import annotations

import keyword
from dataclasses import asdict, dataclass, field

from .nlp import Filter

#: Rows above which a histogram is pre-binned with numpy instead of shipping every value.
HISTOGRAM_PREBIN_ROWS = 50_000

AGG_LABEL = {"mean": "Average", "sum": "Total", "median": "Median", "min": "Minimum",
             "max": "Maximum", "count": "Number of rows", "nunique": "Number of distinct"}
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
_BIN_EXPR = {
    "year": "{s}.dt.year",
    "quarter": "{s}.dt.to_period('Q').dt.start_time",
    "month": "{s}.dt.to_period('M').dt.start_time",
    "week": "{s}.dt.to_period('W').dt.start_time",
    "day": "{s}.dt.floor('D')",
    "hour": "{s}.dt.floor('h')",
    # calendar order in the data itself (an ordered category), not only on the axis
    "weekday": "pd.Categorical({s}.dt.day_name(), categories=" + repr(WEEKDAYS) + ", ordered=True)",
    "monthname": "pd.Categorical({s}.dt.month_name(), categories=" + repr(MONTHS) + ", ordered=True)",
}
BIN_NAME = {"year": "year", "quarter": "quarter", "month": "month", "week": "week", "day": "day",
            "hour": "hour", "weekday": "weekday", "monthname": "month of year"}


@dataclass
class Spec:
    chart: str                      # bar line scatter pie histogram box violin area heatmap corr
    x: str | None = None
    y: object = None                # str, list of str (wide line), or None
    color: str | None = None
    facet: str | None = None
    agg: str | None = None          # mean sum median min max count nunique (None: raw values)
    measure_name: str | None = None  # name of the aggregated column (count -> "count")
    filters: list = field(default_factory=list)
    top: tuple | None = None
    sort: str | None = None         # desc asc alpha x (by the x value)
    bin: tuple | None = None        # (source column, unit)
    to_datetime: list = field(default_factory=list)  # text columns holding ISO dates
    horizontal: bool = False
    barmode: str | None = None
    title: str = ""
    columns: list = field(default_factory=list)      # for corr heatmaps
    color_as_text: bool = False     # numeric colour column shown as discrete groups
    rows: int = 0
    reduce_points: int = 0          # raw line/area over many rows: keep each slice's extremes
    derived: list | None = None     # [name, numerator, denominator, scale]: a ratio measure
    fill_periods: bool = False      # counts/sums over time: empty periods drawn as 0
    location_codes: dict | None = None  # choropleth over ISO-2 codes: their ISO-3 codes

    def to_dict(self) -> dict:
        d = asdict(self)
        d["filters"] = [asdict(f) if isinstance(f, Filter) else f for f in self.filters]
        return d


def _lit(v) -> str:
    """A Python literal for a value from the data (numpy scalars become plain numbers)."""
    if hasattr(v, "item") and not isinstance(v, (list, tuple, dict, str)):
        try:
            v = v.item()
        except Exception:
            pass
    if hasattr(v, "isoformat") and not isinstance(v, str):
        return f"pd.Timestamp({v.isoformat()!r})"
    if isinstance(v, float) and v.is_integer():
        return repr(int(v))
    return repr(v)


class _Code(str):
    """A string that is emitted as code, not as a literal, when a dict holding it is repr'd."""

    def __repr__(self) -> str:
        return str(self)


def _col(name: str) -> str:
    return f"data[{name!r}]"


def _assign(name: str, expr: str) -> str:
    if name.isidentifier() and not keyword.iskeyword(name):
        return f"data = data.assign({name}={expr})"
    return f"data = data.assign(**{{{name!r}: {expr}}})"


def _as_filter(f) -> Filter:
    return f if isinstance(f, Filter) else Filter(**f)


def condition(f) -> str:
    """A pandas boolean expression for one filter; names and values only as literals."""
    f = _as_filter(f)
    if f.op == "or":
        groups = [" & ".join(f"({condition(g)})" for g in group) for group in f.value]
        return " | ".join(f"({g})" for g in groups)
    if f.op == "and":
        return " & ".join(f"({condition(g)})" for g in f.value)
    s = _col(f.column) + (".dt.year" if f.on_year else "")
    if f.op == "in":
        return f"{s}.isin([{', '.join(_lit(v) for v in f.value)}])"
    if f.op == "notin":
        return f"~{s}.isin([{', '.join(_lit(v) for v in f.value)}])"
    if f.op == "between":
        return f"{s}.between({_lit(f.value[0])}, {_lit(f.value[1])})"
    if f.op in ("contains", "notcontains"):
        neg = "~" if f.op == "notcontains" else ""
        return f"{neg}{s}.astype(str).str.contains({_lit(str(f.value))}, case=False, regex=False)"
    if f.op in ("startswith", "endswith"):
        return f"{s}.astype(str).str.lower().str.{f.op}({_lit(str(f.value).lower())})"
    if f.op == "notnull":
        return f"{s}.notna()"
    if f.op == "isnull":
        return f"{s}.isna()"
    value = f.value
    if isinstance(value, str) and _DATE_TEXT.match(value):
        return f"{s} {f.op} pd.Timestamp({_lit(value)})"
    return f"{s} {f.op} {_lit(value)}"


_DATE_TEXT = __import__("re").compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}$")


def filter_line(f) -> str:
    return f"data = data[{condition(f)}]"


def filter_columns(filters) -> list:
    """Every column a filter reads (nested `or`/`and` filters included)."""
    out = []
    for f in filters:
        f = _as_filter(f)
        if f.op == "or":
            for group in f.value:
                out += filter_columns(group)
        elif f.op == "and":
            out += filter_columns(f.value)
        else:
            out.append(f.column)
    return out


def measure_label(spec: Spec, y: str) -> str:
    if spec.agg in (None,):
        return y
    if spec.agg == "count":
        return "Number of rows"
    if spec.agg == "nunique":
        return f"Number of distinct {y}"
    return f"{AGG_LABEL[spec.agg]} {y}"


def prelude_lines(spec: Spec, bin_=None) -> list[str]:
    """The lines that turn `df` into the `data` a chart is drawn from: text dates parsed, the
    filters applied and, with `bin_` = (source column, unit), the dates binned into `spec.x`.
    The planner runs exactly these lines to check the chart before it writes the code."""
    lines = ["data = df"]
    lines += [_assign(col, f"pd.to_datetime({_col(col)}, errors='coerce')") for col in spec.to_datetime]
    lines += [filter_line(f) for f in spec.filters]
    if bin_:
        lines.append(_assign(spec.x, _BIN_EXPR[bin_[1]].format(s=_col(bin_[0]))))
    return lines


def generate(spec: Spec) -> str:
    """Python source for `spec`; assigns `fig`."""
    L = ["data = df"]
    for col in spec.to_datetime:
        L.append(_assign(col, f"pd.to_datetime({_col(col)}, errors='coerce')"))
    for f in spec.filters:
        L.append(filter_line(f))
    cat_orders = {}
    if spec.color_as_text and spec.color:
        L.append(_assign(spec.color, f"{_col(spec.color)}.astype(str)"))
    if spec.bin:
        src, unit = spec.bin
        name = spec.x if spec.x and spec.x not in (src,) and spec.x == BIN_NAME.get(unit) else BIN_NAME[unit]
        L.append(_assign(name, _BIN_EXPR[unit].format(s=_col(src))))
        if spec.sort not in ("asc", "desc", "x_desc"):  # calendar order unless another was asked
            if unit == "weekday":
                cat_orders[name] = WEEKDAYS
            if unit == "monthname":
                cat_orders[name] = MONTHS

    builder = {"bar": _bar_like, "line": _bar_like, "area": _bar_like, "pie": _pie,
               "scatter": _scatter, "histogram": _histogram, "box": _box, "violin": _box,
               "heatmap": _heatmap, "corr": _corr, "scatter_geo": _scatter_geo,
               "choropleth": _choropleth}[spec.chart]
    L.extend(builder(spec, cat_orders))
    return "\n".join(L) + "\n"


def _keys(spec: Spec) -> list[str]:
    return [k for k in (spec.x, spec.color, spec.facet) if k]


def _aggregate(spec: Spec, L: list) -> str:
    """Emit the groupby line; return the name of the value column."""
    keys = _keys(spec)
    ys = spec.y if isinstance(spec.y, list) else [spec.y]
    if spec.agg == "count":
        name = spec.measure_name or "count"
        L.append(f"data = data.groupby({keys!r}, observed=True).size().reset_index(name={name!r})")
        return name
    if spec.agg == "nunique":
        name = spec.measure_name or f"distinct {spec.y}"
        L.append(f"data = data.groupby({keys!r}, observed=True)[{spec.y!r}].nunique()"
                 f".reset_index(name={name!r})")
        return name
    if isinstance(spec.y, list):
        L.append(f"data = data.groupby({keys!r}, as_index=False, observed=True)[{ys!r}].{spec.agg}()")
        return ys
    L.append(f"data = data.groupby({keys!r}, as_index=False, observed=True)[{spec.y!r}].{spec.agg}()")
    return spec.y


def px_common_args(spec, labels: dict, cat_orders: dict) -> str:
    """The Plotly Express arguments every chart shares (colour, facets, category orders,
    labels, title), as code; names from the data are Python literals, never code. Used for
    pandas charts here and for engine charts (`anyviz.engines.compile`)."""
    parts = []
    if spec.color:
        parts.append(f"color={spec.color!r}")
    if spec.facet:
        parts.append(f"facet_col={spec.facet!r}, facet_col_wrap=3")
    if cat_orders:
        parts.append(f"category_orders={cat_orders!r}")
    if labels:
        parts.append(f"labels={labels!r}")
    parts.append(f"title={spec.title or ''!r}")
    return ", ".join(parts)


def _bar_like(spec: Spec, cat_orders: dict) -> list[str]:
    L: list[str] = []
    value = spec.y
    if spec.derived:
        value = _derived_lines(spec, L)
    elif spec.agg:
        value = _aggregate(spec, L)
        if spec.fill_periods and spec.bin and isinstance(value, str):
            L.extend(_fill_lines(spec, value))
    else:
        subset = [c for c in _keys(spec) + (spec.y if isinstance(spec.y, list) else [spec.y]) if c]
        L.append(f"data = data.dropna(subset={subset!r})")
    labels = {}
    if isinstance(value, str) and spec.agg:
        labels[value] = measure_label(spec, spec.y if spec.agg not in ("count",) else "rows")
    x = spec.x
    if spec.top and isinstance(value, str):
        n, direction = spec.top
        pick = "nlargest" if direction == "desc" else "nsmallest"
        if spec.color or spec.facet:
            L.append(f"keep = data.groupby({x!r})[{value!r}].sum().{pick}({n}).index")
            L.append(f"data = data[data[{x!r}].isin(keep)]")
        else:
            L.append(f"data = data.{pick}({n}, {value!r})")
    if spec.chart == "bar" and spec.sort == "x_desc":
        L.append(f"data = data.sort_values({x!r}, ascending=False, kind='stable')")
    elif spec.chart == "bar" and isinstance(value, str) and spec.sort in ("desc", "asc") and x not in cat_orders:
        asc = spec.sort == "asc"
        if spec.color or spec.facet:
            L.append(f"order = data.groupby({x!r})[{value!r}].sum().sort_values(ascending={asc}).index")
            cat_orders = dict(cat_orders, **{x: _Code("list(order)")})
        else:
            L.append(f"data = data.sort_values({value!r}, ascending={asc})")
    elif spec.reduce_points and spec.chart in ("line", "area") and not spec.agg:
        L.append(f"if not data[{x!r}].is_monotonic_increasing:  # big data already in order: no sort")
        L.append(f"    data = data.sort_values({x!r})")
    elif spec.chart in ("line", "area") and spec.sort == "x_desc":
        L.append(f"data = data.sort_values({x!r}, ascending=False, kind='stable')")
    elif spec.sort in ("x", "alpha") or spec.chart in ("line", "area"):
        L.append(f"data = data.sort_values({x!r}, kind='stable')")
    if spec.reduce_points and spec.chart in ("line", "area") and not spec.agg and value:
        L.extend(_extremes_lines(spec, value))
    common = px_common_args(spec, labels, cat_orders)
    fn = {"bar": "px.bar", "line": "px.line", "area": "px.area"}[spec.chart]
    if spec.chart == "bar" and spec.horizontal:
        L.append(f"fig = {fn}(data, x={value!r}, y={x!r}, orientation='h', {common})")
    else:
        L.append(f"fig = {fn}(data, x={x!r}, y={value!r}, {common})")
    if spec.chart == "bar" and spec.color:
        L.append(f"fig.update_layout(barmode={(spec.barmode or 'group')!r})")
    if spec.chart == "bar" and spec.horizontal and spec.sort in ("desc", "asc") and not spec.color:
        L.append("fig.update_yaxes(autorange='reversed')")
    if spec.chart == "line" and spec.rows and spec.rows <= 60:
        L.append("fig.update_traces(mode='lines+markers')")
    return L


def _extremes_lines(spec: Spec, value) -> list[str]:
    """Code that shrinks a long raw line before px sees it (px copies and validates every row:
    ~0.5 s per 10M), keeping what the eye needs: per line, the first, last, lowest and highest
    row of each of `reduce_points` equal slices along x (M4). Every peak and dip survives;
    the figure's reduction pass then draws it at screen resolution with the same rule."""
    ys = value if isinstance(value, list) else [value]
    n = spec.reduce_points
    groups = [k for k in (spec.color, spec.facet) if k]
    L = [f"# {spec.rows:,} rows: cut each line into {n:,} slices along x and keep every slice's",
         "# first, last, lowest and highest row, so each peak and dip is still drawn",
         "def extremes(y, parts):",
         "    if len(y) <= parts:",
         "        return np.arange(len(y))",
         "    size = -(-len(y) // parts)  # rows per slice",
         "    m = np.concatenate([y, np.repeat(y[-1:], size * parts - len(y))]).reshape(parts, size)",
         "    start = np.arange(parts) * size",
         "    pos = np.concatenate([start, start + size - 1, start + m.argmin(axis=1), start + m.argmax(axis=1)])",
         "    return np.minimum(pos, len(y) - 1)"]
    if groups:
        L.append(f"rows = [idx[extremes(data[y].to_numpy(dtype=float)[idx], {n})]")
        L.append(f"        for idx in data.groupby({groups!r}, observed=True).indices.values() for y in {ys!r}]")
    else:
        L.append(f"rows = [extremes(data[y].to_numpy(dtype=float), {n}) for y in {ys!r}]")
    L.append("data = data.iloc[np.unique(np.concatenate(rows))]")
    return L


def _derived_lines(spec: Spec, L: list) -> str:
    """A ratio of two column totals per group ("tip percentage by size" = sum tip / sum bill)."""
    name, num, den, scale = spec.derived
    keys = _keys(spec)
    if den is None:  # growth: percent change of the total from one x to the next (per series)
        L.append(f"data = data.groupby({keys!r}, as_index=False, observed=True)[[{num!r}]].sum()")
        L.append(f"data = data.sort_values({spec.x!r}, kind='stable')")
        series = [k for k in (spec.color, spec.facet) if k]
        change = (f"data.groupby({series!r}, observed=True)[{num!r}].pct_change() * 100" if series
                  else f"{_col(num)}.pct_change() * 100")
        L.append(_assign(name, change))
        L.append(f"data = data.dropna(subset=[{name!r}])")
        return name
    L.append(f"data = data.groupby({keys!r}, as_index=False, observed=True)[[{num!r}, {den!r}]].sum()")
    factor = f" * {scale!r}" if scale != 1 else ""
    L.append(_assign(name, f"{_col(num)} / {_col(den)}{factor}"))
    return name


def _fill_lines(spec: Spec, value: str) -> list[str]:
    """Counts and sums over time: every period between the first and last is drawn, 0 if empty."""
    unit = spec.bin[1]
    x = spec.x
    groups = [k for k in (spec.color,) if k]
    if unit == "year":
        rng = f"range(int(data[{x!r}].min()), int(data[{x!r}].max()) + 1)"
    else:
        freq = {"quarter": "QS", "month": "MS", "week": "W-MON", "day": "D"}[unit]
        rng = f"pd.date_range(data[{x!r}].min(), data[{x!r}].max(), freq={freq!r})"
    if unit == "week":
        rng = f"pd.date_range(data[{x!r}].min(), data[{x!r}].max(), freq='7D')"
    if not groups:
        return [f"data = data.set_index({x!r}).reindex({rng}, fill_value=0).rename_axis({x!r}).reset_index()"]
    g = groups[0]
    return [f"full = pd.MultiIndex.from_product([{rng}, data[{g!r}].unique()], names=[{x!r}, {g!r}])",
            f"data = data.set_index([{x!r}, {g!r}]).reindex(full, fill_value=0).reset_index()"]


def _pie(spec: Spec, cat_orders: dict) -> list[str]:
    L: list[str] = []
    if spec.agg is None and spec.y is not None:  # one slice per row, as listed
        L.append(f"data = data.dropna(subset=[{spec.x!r}, {spec.y!r}])")
        L.append(f"fig = px.pie(data, names={spec.x!r}, values={spec.y!r}, title={spec.title!r})")
        L.append("fig.update_traces(textinfo='percent+label')")
        return L
    value = _derived_lines(spec, L) if spec.derived else _aggregate(spec, L)
    if spec.top:
        n, direction = spec.top
        L.append(f"data = data.{'nlargest' if direction == 'desc' else 'nsmallest'}({n}, {value!r})")
    label = measure_label(spec, spec.y if spec.agg != "count" else "rows")
    L.append(f"fig = px.pie(data, names={spec.x!r}, values={value!r}, "
             f"labels={{{value!r}: {label!r}}}, title={spec.title!r})")
    L.append("fig.update_traces(textinfo='percent+label')")
    return L


def _scatter(spec: Spec, cat_orders: dict) -> list[str]:
    if spec.agg:  # one point per group: "classrooms and the number of students in each"
        L: list[str] = []
        value = _aggregate(spec, L)
        labels = {value: measure_label(spec, spec.y if spec.agg != "count" else "rows")}
        L.append(f"fig = px.scatter(data, x={spec.x!r}, y={value!r}, "
                 f"{px_common_args(spec, labels, cat_orders)})")
        return L
    subset = [c for c in (spec.x, spec.y) if c]
    L = [f"data = data.dropna(subset={subset!r})"]
    if spec.top:
        n, direction = spec.top
        L.append(f"data = data.{'nlargest' if direction == 'desc' else 'nsmallest'}({n}, {spec.y!r})")
    L.append(f"fig = px.scatter(data, x={spec.x!r}, y={spec.y!r}, {px_common_args(spec, {}, cat_orders)})")
    return L


def _histogram(spec: Spec, cat_orders: dict) -> list[str]:
    x = spec.x
    L = [f"data = data.dropna(subset=[{x!r}])"]
    if spec.rows > HISTOGRAM_PREBIN_ROWS and not spec.color and not spec.facet:
        # Pre-binned: 50 bins computed by numpy; the browser gets 50 bars, not every row.
        L.append(f"counts, edges = np.histogram(data[{x!r}].to_numpy(dtype=float), bins=50)")
        L.append(f"data = pd.DataFrame({{{x!r}: (edges[:-1] + edges[1:]) / 2, 'count': counts}})")
        L.append(f"fig = px.bar(data, x={x!r}, y='count', labels={{'count': 'Number of rows'}}, "
                 f"title={spec.title!r})")
        L.append("fig.update_traces(width=float(edges[1] - edges[0]))")
        L.append("fig.update_layout(bargap=0)")
        return L
    L.append(f"fig = px.histogram(data, x={x!r}, {px_common_args(spec, {}, cat_orders)})")
    L.append("fig.update_layout(yaxis_title='Number of rows')")
    if spec.color:
        L.append("fig.update_layout(barmode='overlay')")
        L.append("fig.update_traces(opacity=0.65)")
    return L


def _box(spec: Spec, cat_orders: dict) -> list[str]:
    subset = [c for c in (spec.x, spec.y) if c]
    L = [f"data = data.dropna(subset={subset!r})"]
    fn = "px.box" if spec.chart == "box" else "px.violin"
    xarg = f"x={spec.x!r}, " if spec.x else ""
    if spec.x and spec.x not in cat_orders and spec.sort != "x":
        L.append(f"order = data.groupby({spec.x!r})[{spec.y!r}].median().sort_values(ascending=False).index")
        cat_orders = dict(cat_orders, **{spec.x: _Code("list(order)")})
    args = px_common_args(spec, {}, cat_orders)
    extra = ", box=True" if spec.chart == "violin" else ""
    L.append(f"fig = {fn}(data, {xarg}y={spec.y!r}{extra}, {args})")
    return L


def _heatmap(spec: Spec, cat_orders: dict) -> list[str]:
    L: list[str] = []
    rows, cols = spec.color, spec.x  # heatmap: x across, `color` slot holds the row dimension
    if spec.agg is None:  # two numbers: a 2-D histogram
        L.append(f"data = data.dropna(subset=[{spec.x!r}, {spec.y!r}])")
        L.append(f"fig = px.density_heatmap(data, x={spec.x!r}, y={spec.y!r}, nbinsx=30, nbinsy=30, "
                 f"title={spec.title!r})")
        return L
    if spec.agg == "count":
        L.append(f"table = data.groupby([{rows!r}, {cols!r}], observed=True).size().unstack({cols!r})")
        label = "Number of rows"
    else:
        L.append(f"table = data.groupby([{rows!r}, {cols!r}], observed=True)[{spec.y!r}]"
                 f".{spec.agg}().unstack({cols!r})")
        label = measure_label(spec, spec.y)
    for dim in (rows, cols):
        if dim in cat_orders and not isinstance(cat_orders[dim], _Code):
            axis = 0 if dim == rows else 1
            L.append(f"table = table.reindex({[v for v in cat_orders[dim]]!r}, axis={axis})")
    L.append(f"fig = px.imshow(table, text_auto='.3s', aspect='auto', "
             f"labels={{'x': {cols!r}, 'y': {rows!r}, 'color': {label!r}}}, title={spec.title!r})")
    return L


def _corr(spec: Spec, cat_orders: dict) -> list[str]:
    return [
        f"table = data[{list(spec.columns)!r}].corr()",
        "fig = px.imshow(table, text_auto='.2f', zmin=-1, zmax=1, color_continuous_scale='RdBu_r', "
        f"aspect='auto', title={spec.title!r})",
    ]


def _scatter_geo(spec: Spec, cat_orders: dict) -> list[str]:
    """Points on a world map from longitude (x) and latitude (y); geometry ships with plotly."""
    L = [f"data = data.dropna(subset=[{spec.x!r}, {spec.y!r}])"]
    color = f", color={spec.color!r}" if spec.color else ""
    L.append(f"fig = px.scatter_geo(data, lon={spec.x!r}, lat={spec.y!r}{color}, title={spec.title!r})")
    return L


def _choropleth(spec: Spec, cat_orders: dict) -> list[str]:
    """Countries shaded by a value (or their row count); names or ISO-3 codes, offline geometry."""
    L: list[str] = []
    value = _aggregate(spec, L)
    if spec.location_codes:
        L.append(f"data[{spec.x!r}] = data[{spec.x!r}].map({spec.location_codes!r})")
    mode = "ISO-3" if spec.columns == ["ISO-3"] else "country names"
    L.append(f"fig = px.choropleth(data, locations={spec.x!r}, locationmode={mode!r}, color={value!r}, "
             f"title={spec.title!r})")
    return L


def describe_spec(spec: Spec) -> str:
    """The specification in words, for the explanation and `%viz --explain`."""
    parts = [f"chart {spec.chart}"]
    if spec.x:
        parts.append(f"x {spec.x}" + (f" ({spec.bin[1]} of {spec.bin[0]})" if spec.bin else ""))
    if spec.derived and spec.derived[2] is None:
        parts.append(f"y {spec.derived[0]} = percent change of {spec.derived[1]}")
    elif spec.derived:
        name, num, den, scale = spec.derived
        parts.append(f"y {name} = {num} / {den}" + (" x 100" if scale != 1 else ""))
    elif spec.agg == "count":
        parts.append("y number of rows")
    elif spec.y is not None:
        ys = ", ".join(spec.y) if isinstance(spec.y, list) else spec.y
        parts.append(f"y {ys}" + (f" ({AGG_LABEL[spec.agg].lower()})" if spec.agg else ""))
    if spec.color:
        parts.append(f"colour {spec.color}")
    if spec.facet:
        parts.append(f"facet {spec.facet}")
    if spec.barmode:
        parts.append(f"bars {'stacked' if spec.barmode == 'stack' else 'grouped'}")
    order = {"asc": "y ascending", "desc": "y descending", "x": "x ascending", "x_desc": "x descending",
             "alpha": "x alphabetical"}
    if spec.sort:
        parts.append("sort " + order.get(spec.sort, spec.sort))
    if spec.top:
        parts.append(f"{'top' if spec.top[1] == 'desc' else 'bottom'} {spec.top[0]}")
    if spec.filters:
        parts.append("filter " + "; ".join(_as_filter(f).describe() for f in spec.filters))
    return ", ".join(parts)
