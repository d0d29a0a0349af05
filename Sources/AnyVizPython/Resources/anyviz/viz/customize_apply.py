"""Changes -> chart code: the customized chart as a pure function of (original chart, changes).

`fold()` reduces the list of changes to one specification (the last change of a key wins);
`chart_code()` turns it into code appended to the ORIGINAL chart code, in a fixed order that
does not depend on the order the changes were made in: rebuild (facet) -> chart type ->
orientation -> bar layout -> axis settings by role -> colours -> labels -> theme, fonts, title,
size, legend, grid. Axis settings are stored by role and resolved to x or y only here, after
the final orientation is known, so a log scale stays on the value axis when bars turn
horizontal. The code runs under the guard like any chart code (it only touches `fig`, or
rebuilds it from `df` with the planner's code for facets).
"""
from __future__ import annotations

from dataclasses import replace

from .customize import Change, View

DEFAULT_BARGAP = 0.2  # plotly's default gap between bars, as a fraction of a category's width


def _traces(figure: dict) -> list[dict]:
    return list((figure or {}).get("data") or [])


def base_view(figure: dict, columns=()) -> View:
    """The original chart's view (see customize.View)."""
    traces = _traces(figure)
    layout = (figure or {}).get("layout") or {}
    # WebGL lines and points (plotly picks them above 1,000 points) behave like scatter here
    kinds = {"scattergl": "scatter"}
    return View(types=frozenset(kinds.get(t.get("type"), t.get("type") or "scatter")
                                for t in traces),
                horizontal=any(t.get("type") in ("bar", "box") and t.get("orientation") == "h"
                               for t in traces),
                width=layout.get("width"), height=layout.get("height"),
                bargap=layout.get("bargap"),
                columns=tuple(str(c) for c in (columns if columns is not None else ())))


def advance(view: View, change: Change) -> View:
    """The view after one more change (what the next clause or change sees)."""
    if change.key == "chart":
        types = {"bar": {"bar"}, "pie": {"pie"}}.get(change.value, {"scatter"})
        return replace(view, types=frozenset(types))
    if change.key == "orientation" and view.oriented:
        return replace(view, horizontal=change.value == "h")
    if change.key == "size":
        return replace(view, width=change.value.get("width", view.width),
                       height=change.value.get("height", view.height))
    if change.key == "bargap":
        return replace(view, bargap=_gap(view.bargap, change.value))
    return view


def _gap(previous: float | None, how: str) -> float:
    """Bars 40% thinner or 60% thicker than now, as plotly's bargap."""
    gap = DEFAULT_BARGAP if previous is None else float(previous)
    gap = 1 - (1 - gap) * 0.6 if how == "thinner" else gap * 0.4
    return round(min(0.95, max(0.0, gap)), 3)


def fold(changes: list, view: View) -> tuple[dict, View]:
    """The specification the changes add up to, and the view of the final chart."""
    spec: dict = {}
    for change in changes:
        view = advance(view, change)
        spec[change.key] = view.bargap if change.key == "bargap" else change.value
    return spec, view


def problems(view_before: View, change: Change) -> str | None:
    """Why a change cannot apply to the chart as it is (None when it can)."""
    if change.key == "orientation" and not view_before.oriented:
        return "horizontal / vertical applies to bar and box charts only"
    if change.key == "bargap" and not view_before.types & {"bar", "histogram"}:
        return "thinner / thicker bars applies to bar charts only"
    return None


# ------------------------------------------------------------------ code pieces
def _flip_code(target: str) -> str:
    """Turn bars/boxes to `target` ('h' or 'v') and swap every x axis's settings with its y
    axis's (titles, scales, category orders), keeping each axis's place on the page."""
    cond = "!= 'h'" if target == "h" else "== 'h'"
    return (
        "flipped = False\n"
        "for trace in fig.data:\n"
        f"    if trace.type in ('bar', 'box') and trace.orientation {cond}:\n"
        f"        trace.update(x=trace.y, y=trace.x, orientation={target!r})\n"
        "        flipped = True\n"
        "if flipped:\n"
        "    old = fig.layout.to_plotly_json()\n"
        "    names = {k for k in old if k.startswith('xaxis') or k.startswith('yaxis')}\n"
        "    names |= {('y' if k[0] == 'x' else 'x') + k[1:] for k in names}\n"
        "    swapped = {}\n"
        "    for name in names:\n"
        "        other = ('y' if name[0] == 'x' else 'x') + name[1:]\n"
        "        axis = dict(old.get(other) or {})\n"
        "        place = old.get(name) or {}\n"
        "        for key in ('domain', 'anchor', 'position', 'side', 'overlaying'):\n"
        "            axis.pop(key, None)\n"
        "            if key in place:\n"
        "                axis[key] = place[key]\n"
        "        for key in ('matches', 'scaleanchor'):\n"
        "            if isinstance(axis.get(key), str) and axis[key][:1] in ('x', 'y'):\n"
        "                axis[key] = ('y' if axis[key][0] == 'x' else 'x') + axis[key][1:]\n"
        "        order = axis.get('categoryorder') or ''\n"
        "        if order.startswith('total'):  # first category: left when vertical, top when horizontal\n"
        "            axis['categoryorder'] = 'total ' + (\n"
        "                'ascending' if order.endswith('descending') else 'descending')\n"
        + ("        if name.startswith('yaxis') and not order:  # first bar on top, as it was at the left\n"
           "            axis['autorange'] = 'reversed'\n" if target == "h" else
           "        if name.startswith('xaxis') and axis.get('autorange') == 'reversed':\n"
           "            axis.pop('autorange')\n")
        + "        swapped[name] = axis\n"
        "    for name in names:\n"
        "        fig.layout[name] = swapped[name]\n")


def _chart_type_code(target: str, view: View, n_traces: int) -> str | None:
    """Bars, lines, areas, points and pies from the traces' own data (no rebuild)."""
    if not view.types or not view.types <= {"bar", "scatter", "pie"}:
        return None
    if target == "pie":
        if n_traces != 1 or "pie" in view.types:
            return None
        return ("trace = fig.data[0]\n"
                "across = trace.type in ('bar', 'box') and trace.orientation == 'h'\n"
                "labels, values = (trace.y, trace.x) if across else (trace.x, trace.y)\n"
                "fig = go.Figure([go.Pie(labels=labels, values=values, textinfo='percent+label')], "
                "layout=fig.layout)\n")
    make = {
        "bar": "go.Bar(x=x, y=y, name=trace.name, marker_color=colour, showlegend=trace.showlegend)",
        "line": "go.Scatter(x=x, y=y, name=trace.name, mode='lines', line_color=colour, "
                "showlegend=trace.showlegend)",
        "area": "go.Scatter(x=x, y=y, name=trace.name, mode='lines', stackgroup='one', "
                "line_color=colour, showlegend=trace.showlegend)",
        "scatter": "go.Scatter(x=x, y=y, name=trace.name, mode='markers', marker_color=colour, "
                   "showlegend=trace.showlegend)",
    }[target]
    return ("traces = []\n"
            "for trace in fig.data:\n"
            "    if trace.type == 'pie':\n"
            "        x, y, colour = trace.labels, trace.values, None\n"
            "    else:\n"
            "        across = trace.type in ('bar', 'box') and trace.orientation == 'h'\n"
            "        x, y = (trace.y, trace.x) if across else (trace.x, trace.y)\n"
            "        colour = (trace.marker.color if trace.type == 'bar'\n"
            "                  else trace.line.color or trace.marker.color)\n"
            "        colour = colour if isinstance(colour, str) else None\n"
            f"    traces.append({make})\n"
            "fig = go.Figure(traces, layout=fig.layout)\n"
            + ("fig.update_layout(barmode='group')\n" if target == "bar" and n_traces > 1 else ""))


def _palette_code(name: str) -> str:
    return (f"palette = px.colors.qualitative.{name}\n"
            "fig.update_layout(colorway=palette)\n"
            "for i, trace in enumerate(fig.data):\n"
            "    colour = palette[i % len(palette)]\n"
            "    if trace.type == 'pie':\n"
            "        trace.marker.colors = palette\n"
            "    elif trace.type in ('bar', 'histogram', 'box', 'violin'):\n"
            "        trace.marker.color = colour\n"
            "    elif trace.type in ('scatter', 'scattergl'):\n"
            "        trace.marker.color = colour\n"
            "        trace.line.color = colour\n")


def _colour_code(col: str) -> str:
    c = repr(col)
    return (f"fig.update_traces(marker_color={c}, selector=dict(type='bar'))\n"
            f"fig.update_traces(marker_color={c}, line_color={c}, selector=dict(type='scatter'))\n"
            f"fig.update_traces(marker_color={c}, line_color={c}, selector=dict(type='scattergl'))\n"
            f"fig.update_traces(marker_color={c}, selector=dict(type='histogram'))\n"
            f"fig.update_traces(marker_color={c}, line_color={c}, selector=dict(type='box'))\n")


def _labels_code(view: View) -> str:
    value = "x" if view.horizontal and view.oriented else "y"
    lines = []
    if "bar" in view.types:
        lines.append(f"fig.update_traces(texttemplate='%{{{value}:.3s}}', textposition='outside', "
                     "selector=dict(type='bar'))")
    if "pie" in view.types:
        lines.append("fig.update_traces(textinfo='label+percent+value', selector=dict(type='pie'))")
    if "scatter" in view.types:
        for mode, new in (("lines", "lines+markers+text"), ("lines+markers", "lines+markers+text"),
                          ("markers", "markers+text")):
            for kind in ("scatter", "scattergl"):
                lines.append(f"fig.update_traces(mode={new!r}, texttemplate='%{{y:.3s}}', "
                             f"textposition='top center', selector=dict(type={kind!r}, mode={mode!r}))")
    if "heatmap" in view.types:
        lines.append("fig.update_traces(texttemplate='%{z:.3s}', selector=dict(type='heatmap'))")
    return "\n".join(lines or ["fig.update_traces(texttemplate='%{y}')"]) + "\n"


_LEGEND = {
    "bottom": "dict(orientation='h', yanchor='top', y=-0.2, xanchor='center', x=0.5)",
    "top": "dict(orientation='h', yanchor='bottom', y=1.02, xanchor='center', x=0.5)",
    "left": "dict(orientation='v', yanchor='top', y=1, xanchor='right', x=-0.15)",
    "right": "dict(orientation='v', yanchor='top', y=1, xanchor='left', x=1.02)",
    "inside": "dict(orientation='v', yanchor='top', y=0.98, xanchor='right', x=0.98)",
}


def _sort_code(order: str, cat_axis: str) -> str:
    how = {"alphabetical": "category ascending", "ascending": "total ascending",
           "descending": "total descending"}[order]
    if cat_axis == "y" and how.startswith("total"):  # horizontal: the first category on top
        how = "total ascending" if how.endswith("descending") else "total descending"
    return f"fig.update_{cat_axis}axes(categoryorder={how!r}, autorange=True)\n"


def _facet_code(figure: dict, column: str) -> str | None:
    """The planner's code for the original plan with one panel per `column` (None when the
    chart has no plan or cannot be faceted that way)."""
    from .planner import plan_meta, spec_from_meta
    from .plan_code import generate
    meta = ((figure or {}).get("layout") or {}).get("meta")
    plan = meta.get("anyviz_plan") if isinstance(meta, dict) else None
    if not isinstance(plan, dict):
        return None
    spec = spec_from_meta(plan)
    if spec.chart in ("corr", "heatmap", "pie") or column in (spec.x, spec.color):
        return None
    spec.facet = column
    spec.title = spec.title + f", one panel per {column}"
    return generate(spec) + f"fig.update_layout(meta={{'anyviz_plan': {plan_meta(spec)!r}}})\n"


# ------------------------------------------------------------------ the whole chart
class NotApplicable(Exception):
    """A change cannot be made to this chart; the message says why."""


def chart_code(base_code: str, figure: dict, changes: list, columns=()) -> str:
    """The original chart code followed by the code for all `changes` (see the module doc)."""
    view = base_view(figure, columns)
    spec, final = fold(changes, view)
    cat_axis, val_axis = ("y", "x") if final.horizontal and final.oriented else ("x", "y")
    return "".join(_shape_parts(base_code, figure, spec, view, final)
                   + _axis_parts(spec, cat_axis, val_axis)
                   + _style_parts(spec, final))


_BARMODE_CODE = {
    "percent": "fig.update_layout(barmode='stack', barnorm='percent')\n",
    "stack": "fig.update_layout(barmode='stack', barnorm=None)\n"
             "fig.update_traces(stackgroup='one', selector=dict(type='scatter', mode='lines'))\n",
    "group": "fig.update_layout(barmode='group')\n",
    "overlay": "fig.update_layout(barmode='overlay')\nfig.update_traces(opacity=0.65)\n",
}


def _shape_parts(base_code: str, figure: dict, spec: dict, view, final) -> list[str]:
    """The chart itself (or its panels), then a new chart type, orientation and bar layout."""
    parts = [base_code.rstrip() + "\n"]
    if "facet" in spec:
        rebuilt = _facet_code(figure, spec["facet"])
        if rebuilt is None:
            raise NotApplicable(f"cannot split this chart into panels by {spec['facet']!r}")
        parts = [rebuilt]
    if "chart" in spec:
        target = spec["chart"]
        current = {"bar"} if target == "bar" else {"pie"} if target == "pie" else None
        if current is None or view.types != current:
            code = _chart_type_code(target, view, len(_traces(figure)))
            if code is None:
                raise NotApplicable(f"this chart cannot be turned into a {target} chart offline")
            parts.append(code)
    if "orientation" in spec and final.oriented:
        parts.append(_flip_code("h" if final.horizontal else "v"))
    if "barmode" in spec:
        parts.append(_BARMODE_CODE[spec["barmode"]])
    if "bargap" in spec:
        parts.append(f"fig.update_layout(bargap={spec['bargap']!r})\n")
    return parts


def _axis_parts(spec: dict, cat_axis: str, val_axis: str) -> list[str]:
    """Scales, titles and order of the category and value axes, wherever they now are."""
    parts = []
    for role, axis in (("category", cat_axis), ("value", val_axis)):
        if f"scale:{role}" in spec:
            parts.append(f"fig.update_{axis}axes(type={spec[f'scale:{role}']!r})\n")
        if f"label:{role}" in spec:
            parts.append(f"fig.update_{axis}axes(title_text={spec[f'label:{role}']!r})\n")
    if "sort" in spec:
        parts.append(_sort_code(spec["sort"], cat_axis))
    return parts


def _style_parts(spec: dict, final) -> list[str]:
    """Colours, labels, theme, fonts, title, size, legend and grid."""
    parts = []
    if "palette" in spec:
        parts.append(_palette_code(spec["palette"]))
    if "colorscale" in spec:
        scale = spec["colorscale"]
        parts.append(f"fig.update_coloraxes(colorscale={scale!r})\n"
                     f"fig.update_traces(colorscale={scale!r}, selector=dict(type='heatmap'))\n")
    if "colour" in spec:
        parts.append(_colour_code(spec["colour"]))
    if "data_labels" in spec:
        parts.append(_labels_code(final) if spec["data_labels"]
                     else "fig.update_traces(texttemplate=None, selector=dict(type='bar'))\n")
    if "theme" in spec:
        parts.append(f"fig.update_layout(template={spec['theme']!r})\n")
    if "font_family" in spec:
        parts.append(f"fig.update_layout(font_family={spec['font_family']!r})\n")
    if "font_size" in spec:
        parts.append(f"fig.update_layout(font_size={int(spec['font_size'])})\n")
    if "title" in spec:
        parts.append(f"fig.update_layout(title_text={spec['title']!r})\n")
    if "size" in spec:
        args = ", ".join(f"{k}={int(v)}" for k, v in spec["size"].items())
        parts.append(f"fig.update_layout({args})\n")
    if "legend" in spec:
        where = spec["legend"]
        parts.append("fig.update_layout(showlegend=False)\n" if where == "hidden" else
                     "fig.update_layout(showlegend=True)\n" if where == "shown" else
                     f"fig.update_layout(showlegend=True, legend={_LEGEND[where]})\n")
    if "grid" in spec:
        show = bool(spec["grid"])
        parts.append(f"fig.update_xaxes(showgrid={show})\nfig.update_yaxes(showgrid={show})\n")
    return parts
