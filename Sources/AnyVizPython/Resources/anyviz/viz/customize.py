"""Offline `%customize`: an instruction in plain words -> a code snippet applied to `fig`.

`translate(instruction, figure_dict, columns)` understands a fixed set of edits (OFFLINE_HELP).
The snippet runs after the chart's code under the guard, in the namespace df, px, pd, np, go,
fig; it only touches `fig` (or rebuilds it from `df` for facets, using the plan the planner left
in layout.meta). Several edits can be joined with "and", "," or ";". Unknown -> None, and the
caller tells the user what works offline and how to enable an LLM.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

OFFLINE_HELP = (
    "Offline, %customize understands: title 'Text'; x label Text / y label Text; theme dark | "
    "white | minimal | presentation | ggplot | seaborn; colour red (any CSS colour or #hex); "
    "palette Pastel | Bold | Vivid | ...; colour-blind safe; log scale on x/y; linear scale; "
    "as a bar | line | area | scatter | pie chart; horizontal / vertical; stacked / grouped / "
    "100% stacked; sort descending / ascending / alphabetically; width 900 height 500; bigger / "
    "smaller; hide legend / legend at the bottom|top|left|right; font size 14; show values on bars; "
    "hide gridlines; facet by <column>. For anything else enable an LLM: %llm, or set "
    "ANYVIZ_LLM_PROVIDER with GEMINI_API_KEY or OPENAI_API_KEY.")

THEMES = {
    "dark": "plotly_dark", "night": "plotly_dark", "black": "plotly_dark",
    "white": "plotly_white", "light": "plotly_white", "clean": "simple_white",
    "minimal": "simple_white", "minimalist": "simple_white", "simple": "simple_white",
    "plain": "simple_white", "presentation": "presentation", "slides": "presentation",
    "ggplot": "ggplot2", "ggplot2": "ggplot2", "seaborn": "seaborn", "default": "plotly",
    "plotly": "plotly",
}
_CHART_TARGETS = {"bar": "bar", "bars": "bar", "column": "bar", "columns": "bar", "line": "line",
                  "lines": "line", "area": "area", "scatter": "scatter", "points": "scatter",
                  "dots": "scatter", "pie": "pie", "donut": "pie"}


@dataclass
class Edit:
    code: str
    description: str
    unknown: list = field(default_factory=list)  # clauses that were not understood


def _named_colors() -> set:
    try:
        from _plotly_utils.basevalidators import ColorValidator
        return set(ColorValidator.named_colors)
    except Exception:  # pragma: no cover - plotly internals moved
        return {"red", "green", "blue", "black", "white", "gray", "grey", "orange", "purple",
                "navy", "teal", "pink", "brown", "gold", "crimson", "steelblue", "darkblue"}


def _split(instruction: str) -> list[str]:
    """Split on ';', ',', ' and ', ' then ' outside quotes."""
    parts, buf, quote = [], "", None
    i = 0
    s = instruction.strip()
    while i < len(s):
        ch = s[i]
        if quote:
            buf += ch
            if ch == quote:
                quote = None
            i += 1
            continue
        if ch in "'\"`":
            quote = ch
            buf += ch
            i += 1
            continue
        m = re.match(r"\s*(;|,|\band\b|\bthen\b|\balso\b)\s*", s[i:], re.I)
        if m and (ch in ";," or ch.isspace()):
            parts.append(buf)
            buf = ""
            i += m.end()
            continue
        buf += ch
        i += 1
    parts.append(buf)
    return [p.strip() for p in parts if p.strip()]


def _text_after(clause: str, keyword_re: str) -> str | None:
    """The quoted text, or the words after the keyword ("title to Sales 2024" -> Sales 2024)."""
    q = re.search(r"'([^']*)'|\"([^\"]*)\"|`([^`]*)`", clause)
    if q:
        return next(g for g in q.groups() if g is not None)
    m = re.search("(?:" + keyword_re + r")\s*(?:(?:to|as|is|=|:)\s*)?(.*)$", clause, re.I)
    if m:
        text = m.group(m.lastindex).strip()
        return text or None
    return None


def translate(instruction: str, figure_dict: dict | None, columns=()) -> Edit | None:
    """Translate one %customize instruction; None when nothing in it is understood offline."""
    figure_dict = figure_dict or {}
    codes, descs, unknown = [], [], []
    for clause in _split(instruction or ""):
        got = _clause(clause, figure_dict, list(columns or ()))
        if got is None:
            unknown.append(clause)
        else:
            codes.append(got[0])
            descs.append(got[1])
    if not codes:
        return None
    desc = "; ".join(descs)
    if unknown:
        desc += ". Not understood offline: " + "; ".join(repr(u) for u in unknown)
    return Edit(code="\n".join(codes).rstrip() + "\n", description=desc, unknown=unknown)


def _traces(figure_dict) -> list[dict]:
    return list(figure_dict.get("data") or [])


def _horizontal(figure_dict) -> bool:
    return any(t.get("type") in ("bar", "box", "histogram") and t.get("orientation") == "h"
               for t in _traces(figure_dict))


def _clause(clause: str, fig: dict, columns: list):  # noqa: C901 - a flat list of rules
    c = clause.lower().strip()
    layout = fig.get("layout") or {}

    # axis labels (before title: "x axis title Year" is an axis label)
    m = re.search(r"\b(x|y)[\s_-]*(?:axis)?[\s_-]*(label|title|name)\b|\b(xlabel|ylabel)\b|"
                  r"\blabel\s+(?:the\s+)?(x|y)(?:[\s-]*axis)?\b|\brename\s+(?:the\s+)?(x|y)[\s-]*axis\b", c)
    if m:
        axis = (m.group(1) or (m.group(3) or "")[:1] or m.group(4) or m.group(5))
        text = _text_after(clause, m.re.pattern)
        if text is None:
            return None
        return (f"fig.update_{axis}axes(title_text={text!r})", f"{axis} axis label set to {text!r}")
    if re.search(r"\b(remove|no|hide|without|drop)\b.*\btitle\b", c):
        return ("fig.update_layout(title_text='')", "title removed")
    m = re.search(r"\b(title|heading|headline|call it|name it|caption)\b", c)
    if m:
        text = _text_after(clause, r"\b(title|heading|headline|call it|name it|caption)\b")
        if not text:
            return None
        return (f"fig.update_layout(title_text={text!r})", f"title set to {text!r}")

    # colour-blind safe palette / named palettes / sequential scales
    if re.search(r"colou?r[\s-]*blind|\bcvd\b|\baccessible\b|\bdaltonism\b", c):
        return (_palette_code("Safe"), "colour-blind safe palette (px.colors.qualitative.Safe)")
    m = re.search(r"\b(palette|colou?rs?|colou?r ?scheme|colou?rway|scale|colou?rscale)\s*"
                  r"(?:to\s+|of\s+|=\s*|:\s*)?([a-z0-9_]+)", c) or re.search(r"([a-z0-9_]+)\s+(palette|colou?rs|colou?rscale)\b", c)
    if m:
        name = m.group(2) if m.group(1) in ("palette", "colors", "colours", "color", "colour", "colorway",
                                               "colourway", "scale", "colorscale", "colourscale",
                                               "color scheme", "colour scheme", "colorscheme") else m.group(1)
        pal = _qualitative(name)
        if pal:
            return (_palette_code(pal), f"palette {pal}")
        scale = _sequential(name)
        if scale:
            return (f"fig.update_coloraxes(colorscale={scale!r})\n"
                    f"fig.update_traces(colorscale={scale!r}, selector=dict(type='heatmap'))",
                    f"colour scale {scale}")
    colors = _named_colors()
    hexm = re.search(r"#[0-9a-f]{6}\b|#[0-9a-f]{3}\b", c)
    words = re.findall(r"[a-z]+", c)
    named = next((w for w in words if w in colors and w not in ("white", "black") or
                  (w in ("white", "black") and re.search(r"colou?r|bars?|lines?|points?|markers?", c))), None)
    if (hexm or named) and not re.search(r"\b(theme|background|mode|template|style)\b", c):
        col = hexm.group(0) if hexm else named
        return ("fig.update_traces(marker_color=" + repr(col) + ", selector=dict(type='bar'))\n"
                "fig.update_traces(marker_color=" + repr(col) + ", line_color=" + repr(col)
                + ", selector=dict(type='scatter'))\n"
                "fig.update_traces(marker_color=" + repr(col) + ", selector=dict(type='histogram'))\n"
                "fig.update_traces(marker_color=" + repr(col) + ", line_color=" + repr(col)
                + ", selector=dict(type='box'))",
                f"colour {col}")

    # theme
    for word, template in THEMES.items():
        if re.search(rf"\b{word}\b", c) and (re.search(r"\b(theme|mode|template|style|background|look)\b", c)
                                             or len(c.split()) <= 3):
            if word in ("default", "plotly") and not re.search(r"\b(theme|template|style)\b", c):
                continue
            return (f"fig.update_layout(template={template!r})", f"theme {template}")

    # scales
    if re.search(r"\blog(arithmic)?\b", c):
        axis = _axis_in(c, default="x" if _only_histogram(fig) else "y")
        return (f"fig.update_{axis}axes(type='log')", f"log scale on {axis}")
    if re.search(r"\blinear\b", c):
        axis = _axis_in(c, default="y")
        return (f"fig.update_{axis}axes(type='linear')", f"linear scale on {axis}")

    # orientation
    if re.search(r"\bhorizontal(ly)?\b|\bsideways\b|\bflip\b|\bswap axes\b", c):
        return (_orientation_code("h"), "horizontal bars")
    if re.search(r"\bvertical(ly)?\b|\bupright\b", c):
        return (_orientation_code("v"), "vertical bars")

    # bar mode
    if re.search(r"100\s*%|\bpercent(age)?\s+stack|\bnormali[sz]ed?\b", c):
        return ("fig.update_layout(barmode='stack', barnorm='percent')", "100% stacked bars")
    if re.search(r"\bstack(ed)?\b", c):
        return ("fig.update_layout(barmode='stack', barnorm=None)\n"
                "fig.update_traces(stackgroup='one', selector=dict(type='scatter', mode='lines'))",
                "stacked")
    if re.search(r"\b(group(ed)?|side[\s-]+by[\s-]+side|clustered|unstack(ed)?)\b", c):
        return ("fig.update_layout(barmode='group')", "grouped bars")
    if re.search(r"\boverlay|overlap", c):
        return ("fig.update_layout(barmode='overlay')\nfig.update_traces(opacity=0.65)", "overlaid")

    # sort order
    if re.search(r"\b(sort|sorted|order|ordered|rank|ranked)\b|\b(highest|largest|biggest|lowest|smallest)\s+first\b"
                 r"|\b(ascending|descending|alphabetical(ly)?)\b", c):
        cat_axis = "y" if _horizontal(fig) else "x"
        if re.search(r"alphabet|\bname\b|a-z|a to z", c):
            order, what = "category ascending", "alphabetically"
        elif re.search(r"\b(ascending|asc|lowest first|smallest first|increasing)\b", c):
            order, what = "total ascending", "by value, lowest first"
        else:
            order, what = "total descending", "by value, highest first"
        if cat_axis == "y" and order.startswith("total"):  # horizontal: first category at the top
            order = "total ascending" if order.endswith("descending") else "total descending"
        return (f"fig.update_{cat_axis}axes(categoryorder={order!r}, autorange=True)", f"sorted {what}")

    # size
    w = re.search(r"\bwidth\s*(?:=|:|of|to)?\s*(\d{2,4})", c)
    h = re.search(r"\bheight\s*(?:=|:|of|to)?\s*(\d{2,4})", c)
    wh = re.search(r"\b(\d{3,4})\s*(?:x|×|by|\*)\s*(\d{3,4})\b", c)
    if w or h or wh:
        args = {}
        if wh:
            args = {"width": int(wh.group(1)), "height": int(wh.group(2))}
        if w:
            args["width"] = int(w.group(1))
        if h:
            args["height"] = int(h.group(1))
        return (f"fig.update_layout({', '.join(f'{k}={v}' for k, v in args.items())})",
                "size " + " x ".join(str(v) for v in args.values()))
    cur_w, cur_h = layout.get("width") or 800, layout.get("height") or 500
    if re.search(r"\b(font|text|labels?)\b", c) and re.search(r"\b(size|bigger|larger|smaller|tiny|huge|\d+)\b", c) \
            and not re.search(r"\b(on|show|add|display)\b.*\bbars?\b", c):
        n = re.search(r"(\d{1,2})", c)
        size = int(n.group(1)) if n else (10 if re.search(r"smaller|tiny", c) else 16)
        return (f"fig.update_layout(font_size={size})", f"font size {size}")
    if re.search(r"\b(bigger|larger|enlarge|huge)\b", c):
        return (f"fig.update_layout(width={int(cur_w * 1.3)}, height={int(cur_h * 1.3)})", "bigger")
    if re.search(r"\b(smaller|shrink|compact|tiny)\b", c):
        return (f"fig.update_layout(width={int(cur_w * 0.75)}, height={int(cur_h * 0.75)})", "smaller")
    if re.search(r"\bwider\b", c):
        return (f"fig.update_layout(width={int(cur_w * 1.4)})", "wider")
    if re.search(r"\btaller\b", c):
        return (f"fig.update_layout(height={int(cur_h * 1.4)})", "taller")

    # legend
    if re.search(r"\blegend\b", c):
        if re.search(r"\b(hide|remove|no|without|off|drop|disable)\b", c):
            return ("fig.update_layout(showlegend=False)", "legend hidden")
        pos = {
            "bottom": "dict(orientation='h', yanchor='top', y=-0.2, xanchor='center', x=0.5)",
            "top": "dict(orientation='h', yanchor='bottom', y=1.02, xanchor='center', x=0.5)",
            "left": "dict(orientation='v', yanchor='top', y=1, xanchor='right', x=-0.15)",
            "right": "dict(orientation='v', yanchor='top', y=1, xanchor='left', x=1.02)",
            "inside": "dict(orientation='v', yanchor='top', y=0.98, xanchor='right', x=0.98)",
        }
        for word, spec in pos.items():
            if re.search(rf"\b{word}\b", c):
                return (f"fig.update_layout(showlegend=True, legend={spec})", f"legend at the {word}")
        if re.search(r"\b(show|add|display|on)\b", c):
            return ("fig.update_layout(showlegend=True)", "legend shown")
        return None

    # gridlines
    if re.search(r"\bgrid(lines?)?\b", c):
        show = not re.search(r"\b(hide|remove|no|without|off)\b", c)
        return (f"fig.update_xaxes(showgrid={show})\nfig.update_yaxes(showgrid={show})",
                "gridlines " + ("shown" if show else "hidden"))

    # data labels
    if re.search(r"\b(labels?|values?|numbers?|annotat\w*|text)\b", c) and \
            re.search(r"\b(show|add|display|put|with|on|label)\b", c):
        return (_labels_code(fig), "values shown on the marks")

    # facet (rebuild from the plan)
    m = re.search(r"\b(facet(?:ed)?|split|panels?|small multiples|subplots?|separate (?:charts|plots|panels))\b"
                  r"(?:\s+\w+)*?\s+(?:by|per|on|for|of)\s+(.+)$", c)
    if m:
        return _facet(m.group(2), fig, columns)

    # chart type
    m = re.search(r"\b(bar|bars|column|columns|line|lines|area|scatter|points|dots|pie|donut)\b", c)
    if m and (re.search(r"\b(chart|plot|graph|as|into|to|instead|switch|change|convert|make|turn|use)\b", c)
              or len(c.split()) <= 2):
        return _chart_type(_CHART_TARGETS[m.group(1)], fig)
    return None


def _axis_in(c: str, default: str) -> str:
    if re.search(r"\bx\b|x[\s-]*axis|horizontal axis", c):
        return "x"
    if re.search(r"\by\b|y[\s-]*axis|vertical axis", c):
        return "y"
    return default


def _only_histogram(fig) -> bool:
    ts = _traces(fig)
    return bool(ts) and all(t.get("type") == "histogram" for t in ts)


def _qualitative(name: str) -> str | None:
    import plotly.express as px
    names = {n.lower(): n for n in dir(px.colors.qualitative) if not n.startswith("_") and n != "swatches"}
    return names.get(name.lower())


def _sequential(name: str) -> str | None:
    import plotly.express as px
    for mod in (px.colors.sequential, px.colors.diverging):
        names = {n.lower(): n for n in dir(mod) if not n.startswith("_") and n != "swatches"}
        if name.lower() in names:
            return names[name.lower()]
    return None


def _palette_code(name: str) -> str:
    return (f"palette = px.colors.qualitative.{name}\n"
            "fig.update_layout(colorway=palette)\n"
            "for i, trace in enumerate(fig.data):\n"
            "    colour = palette[i % len(palette)]\n"
            "    if trace.type == 'pie':\n"
            "        trace.marker.colors = palette\n"
            "    elif trace.type in ('bar', 'histogram', 'box', 'violin'):\n"
            "        trace.marker.color = colour\n"
            "    elif trace.type == 'scatter':\n"
            "        trace.marker.color = colour\n"
            "        trace.line.color = colour")


def _orientation_code(target: str) -> str:
    cond = "!= 'h'" if target == "h" else "== 'h'"
    new = "'h'" if target == "h" else "'v'"
    return ("flipped = False\n"
            "for trace in fig.data:\n"
            f"    if trace.type in ('bar', 'box') and trace.orientation {cond}:\n"
            f"        trace.update(x=trace.y, y=trace.x, orientation={new})\n"
            "        flipped = True\n"
            "if flipped:\n"
            "    xt, yt = fig.layout.xaxis.title.text, fig.layout.yaxis.title.text\n"
            "    fig.update_layout(xaxis_title_text=yt, yaxis_title_text=xt)\n"
            "    fig.update_yaxes(autorange=True)")


def _labels_code(fig) -> str:
    types = {t.get("type") for t in _traces(fig)}
    lines = []
    if "bar" in types:
        var = "x" if _horizontal(fig) else "y"
        lines.append(f"fig.update_traces(texttemplate='%{{{var}:.3s}}', textposition='outside', "
                     "selector=dict(type='bar'))")
    if "pie" in types:
        lines.append("fig.update_traces(textinfo='label+percent+value', selector=dict(type='pie'))")
    if "scatter" in types:
        lines.append("fig.update_traces(mode='lines+markers+text', texttemplate='%{y:.3s}', "
                     "textposition='top center', selector=dict(type='scatter', mode='lines'))")
        lines.append("fig.update_traces(mode='lines+markers+text', texttemplate='%{y:.3s}', "
                     "textposition='top center', selector=dict(type='scatter', mode='lines+markers'))")
        lines.append("fig.update_traces(mode='markers+text', texttemplate='%{y:.3s}', "
                     "textposition='top center', selector=dict(type='scatter', mode='markers'))")
    if "heatmap" in types:
        lines.append("fig.update_traces(texttemplate='%{z:.3s}', selector=dict(type='heatmap'))")
    return "\n".join(lines) or "fig.update_traces(texttemplate='%{y}')"


def _plan_of(fig) -> dict | None:
    meta = (fig.get("layout") or {}).get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("anyviz_plan"), dict):
        return meta["anyviz_plan"]
    return None


def _rebuild(spec) -> str:
    """Code that rebuilds fig from df with `spec`, keeping title/template/size edits made so far."""
    from .planner import plan_meta
    from .plan_code import generate
    body = generate(spec)
    return ("previous_layout = fig.layout\n" + body
            + f"fig.update_layout(meta={{'anyviz_plan': {plan_meta(spec)!r}}})\n"
            "fig.update_layout(template=previous_layout.template, width=previous_layout.width, "
            "height=previous_layout.height, font=previous_layout.font)")


def _facet(words: str, fig: dict, columns: list):
    from anyviz.errors import AnyVizError

    from .nlp import ColumnMatcher
    from .planner import spec_from_meta
    plan = _plan_of(fig)
    if plan is None or not columns:
        return None
    notes: list = []
    words = re.sub(r"^(the|each|every)\s+", "", words.strip())
    try:
        col = ColumnMatcher(columns).resolve(words.strip(" '\"`."), notes)
    except AnyVizError:
        return None
    spec = spec_from_meta(plan)
    if spec.chart in ("corr", "heatmap", "pie"):
        return None
    if col in (spec.x, spec.color):
        return None
    spec.facet = col
    spec.title = spec.title + f", one panel per {col}"
    return (_rebuild(spec), f"one panel per {col}" + (f" ({'; '.join(notes)})" if notes else ""))


def _chart_type(target: str, fig: dict):
    traces = _traces(fig)
    types = {t.get("type") for t in traces}
    plan = _plan_of(fig)
    if not types <= {"bar", "scatter", "pie"} or not traces:
        # histograms, boxes, heatmaps: rebuild from the plan when there is one
        if plan and target in ("bar", "line", "area") and plan.get("chart") in ("histogram",):
            return None
        return None
    if target == "pie":
        if len(traces) != 1 or "pie" in types:
            return None
        return ("trace = fig.data[0]\n"
                "labels, values = (trace.y, trace.x) if trace.orientation == 'h' else (trace.x, trace.y)\n"
                "fig = go.Figure([go.Pie(labels=labels, values=values, textinfo='percent+label')], "
                "layout=fig.layout)", "pie chart")
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
            "        x, y = (trace.y, trace.x) if trace.orientation == 'h' else (trace.x, trace.y)\n"
            "        colour = trace.marker.color if trace.type == 'bar' else (trace.line.color or trace.marker.color)\n"
            "        colour = colour if isinstance(colour, str) else None\n"
            f"    traces.append({make})\n"
            "fig = go.Figure(traces, layout=fig.layout)\n"
            + ("fig.update_layout(barmode='group')" if target == "bar" and len(traces) > 1 else ""),
            f"{target} chart")
