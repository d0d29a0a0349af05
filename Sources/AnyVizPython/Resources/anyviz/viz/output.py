"""The one output path for charts: every figure (%viz, planner, %customize, a user's own Plotly
figure) becomes the same MIME bundle here.

* application/vnd.plotly.v1+json: the figure dict (NaN-free; typed arrays allowed) for
  JupyterLab / VS Code / nteract.
* text/html: a div + script for places that only run HTML (nbconvert HTML exports, trusted
  classic notebooks). plotly.js (~4.8 MB) is embedded ONCE per session, in the first bundle,
  inside a guard that defines window.Plotly only if absent; later bundles only call
  window.Plotly (waiting briefly for it), so a notebook with 20 charts carries plotly.js once.
  If a later %customize replaces the output that carried plotly.js, the update carries it again,
  otherwise the export would lose the library.
* text/plain: one line (chart type, title, traces, points) for terminals and logs.
Explanation, notes and alternatives are a separate small display (text/markdown + text/plain),
so updating the chart never duplicates text.
"""
from __future__ import annotations

import html as _html
import uuid

from .. import iopub, jsonutil

PLOTLY_MIME = "application/vnd.plotly.v1+json"

_plotlyjs_display: str | None = None  # display id of the bundle that carried plotly.js
_plotlyjs_sent = False


def reset_session() -> None:
    """Forget that plotly.js was sent (a new session/notebook needs it again)."""
    global _plotlyjs_sent, _plotlyjs_display
    _plotlyjs_sent = False
    _plotlyjs_display = None


def _plotlyjs() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().replace("</script", "<\\/script")


def to_figure_dict(fig, frame_rows: int = 0) -> tuple[dict, dict]:
    """Any figure (go.Figure, dict from the guard worker) -> (JSON-ready dict, summary).

    A go.Figure shown directly by the user goes through the same reduction as %viz output,
    so a 10M-point figure cannot freeze the notebook."""
    if isinstance(fig, dict):
        data = fig.get("data") or []
        summary = {"type": list(dict.fromkeys(t.get("type", "scatter") for t in data)),
                   "traces": len(data), "points": _points(data)}
        return fig, summary
    from . import reduce

    out, summary = reduce.reduce_plotly_figure(fig, frame_rows=frame_rows)
    return jsonutil.loads(reduce.figure_json(out)), summary


def _points(data) -> int:
    total = 0
    for t in data:
        for key in ("z", "x", "y", "values", "labels"):
            v = t.get(key)
            if v is None:
                continue
            if isinstance(v, dict) and "bdata" in v:
                import base64

                size = {"i1": 1, "u1": 1, "i2": 2, "u2": 2, "i4": 4, "u4": 4, "f4": 4,
                        "f8": 8}.get(v.get("dtype"), 8)
                total += len(base64.b64decode(v["bdata"])) // size
            elif isinstance(v, (list, tuple)):
                total += sum(len(r) if isinstance(r, (list, tuple)) else 1 for r in v) \
                    if key == "z" else len(v)
            break
    return total


def _title(layout: dict) -> str:
    t = layout.get("title")
    if isinstance(t, dict):
        t = t.get("text")
    return str(t) if t else ""


_KIND_NAMES = {"scatter": "Scatter", "scattergl": "Scatter", "bar": "Bar",
               "histogram": "Histogram", "heatmap": "Heatmap", "box": "Box", "violin": "Violin",
               "pie": "Pie", "histogram2d": "2D histogram"}


def describe(fig_dict: dict, summary: dict | None = None) -> str:
    data = fig_dict.get("data") or []
    kinds = []
    for t in data:
        k = t.get("type", "scatter")
        if k in ("scatter", "scattergl"):
            mode = str(t.get("mode") or "lines")
            k = "Line" if "lines" in mode or t.get("fill") else "Scatter"
        else:
            k = _KIND_NAMES.get(k, k.capitalize())
        kinds.append(k)
    kind = "/".join(dict.fromkeys(kinds)) or "Empty"
    title = _title(fig_dict.get("layout") or {})
    points = (summary or {}).get("points")
    if points is None:
        points = _points(data)
    text = f"{kind} chart"
    if title:
        text += f" '{title}'"
    text += f": {len(data)} trace{'s' if len(data) != 1 else ''}, {points:,} points"
    reduced = (summary or {}).get("reduced")
    if reduced:
        text += f" ({reduced})"
    return text


def _html_bundle(fig_dict: dict, include_js: bool) -> str:
    div = "anyviz-" + uuid.uuid4().hex
    payload = jsonutil.dumps({"data": fig_dict.get("data") or [],
                              "layout": fig_dict.get("layout") or {},
                              "config": {"responsive": True}}).replace("</", "<\\/")
    parts = []
    if include_js:
        parts.append("<script type=\"text/javascript\">window.PlotlyConfig = "
                     "{MathJaxConfig: 'local'};\nif (!window.Plotly) {\n" + _plotlyjs()
                     + "\n}</script>")
    parts.append(
        f'<div id="{div}" class="plotly-graph-div" style="height:480px; width:100%;"></div>'
        f'<script type="text/javascript">(function() {{\n'
        f'  var spec = {payload};\n'
        f'  var tries = 0;\n'
        f'  function draw() {{\n'
        f'    var el = document.getElementById("{div}");\n'
        f'    if (!el) return;\n'
        f'    if (window.Plotly) {{ window.Plotly.newPlot(el, spec.data, spec.layout, '
        f'spec.config); return; }}\n'
        f'    if (++tries < 100) {{ setTimeout(draw, 50); return; }}\n'
        f'    el.textContent = "plotly.js is not loaded here: re-run the first chart cell of '
        f'this notebook.";\n'
        f'  }}\n'
        f'  draw();\n'
        f'}})();</script>')
    return "\n".join(parts)


def figure_bundle(fig, *, display_id: str | None = None, frame_rows: int = 0,
                  summary: dict | None = None) -> tuple[dict, dict]:
    """(data, metadata) MIME bundle for a figure; includes plotly.js the first time."""
    global _plotlyjs_sent, _plotlyjs_display
    fig_dict, own_summary = to_figure_dict(fig, frame_rows)
    summary = dict(own_summary, **(summary or {}))
    include_js = not _plotlyjs_sent or (display_id is not None
                                        and display_id == _plotlyjs_display)
    data = {
        PLOTLY_MIME: {"data": fig_dict.get("data") or [], "layout": fig_dict.get("layout") or {},
                      "config": {"responsive": True}},
        "text/html": _html_bundle(fig_dict, include_js),
        "text/plain": describe(fig_dict, summary),
    }
    if include_js:
        _plotlyjs_sent = True
        if display_id is not None:
            _plotlyjs_display = display_id
    metadata = {"anyviz": {"display_id": display_id, "summary": summary}}
    return data, metadata


def _info_markdown(explanation, note, alternatives) -> str:
    lines = []
    if explanation:
        lines.append(str(explanation).strip())
    if note:
        lines.append(f"*Note: {str(note).strip()}*")
    alts = [a for a in (alternatives or []) if a]
    if alts:
        lines.append("Other charts to try:\n" + "\n".join(f"- `{a}`" for a in alts))
    return "\n\n".join(lines)


def _info_plain(explanation, note, alternatives) -> str:
    lines = []
    if explanation:
        lines.append(str(explanation).strip())
    if note:
        lines.append(f"Note: {str(note).strip()}")
    alts = [a for a in (alternatives or []) if a]
    if alts:
        lines.append("Other charts to try:\n" + "\n".join(f"  {a}" for a in alts))
    return "\n".join(lines)


def show_figure(fig, *, explanation=None, alternatives=(), note=None, display_id=None,
                update=False, summary: dict | None = None, frame_rows: int = 0,
                static: bool = False) -> str:
    """Publish the chart (display_id kept for %customize updates) and its explanation.

    Returns the display id. With update=True the existing outputs (chart and info) are
    replaced in place."""
    if display_id is None:
        display_id = iopub.new_display_id()
        update = False
    data, metadata = figure_bundle(fig, display_id=display_id, frame_rows=frame_rows,
                                   summary=summary)
    if static:
        png = _png(data[PLOTLY_MIME])
        if png is not None:
            data["image/png"] = png
    iopub.display_data(data, metadata, display_id=display_id, update=update)
    md = _info_markdown(explanation, note, alternatives)
    if md:
        iopub.display_data({"text/markdown": md,
                            "text/plain": _info_plain(explanation, note, alternatives)},
                           {}, display_id=display_id + "-info", update=update)
    return display_id


def _png(fig_dict: dict):
    """image/png via kaleido when installed (optional); None otherwise."""
    try:
        import base64

        import plotly.io as pio

        return base64.b64encode(pio.to_image(fig_dict, format="png")).decode("ascii")
    except Exception:
        return None


def show_html(html_text: str, plain: str, note: str | None = None) -> None:
    """A non-chart result (the table fallback) through the same publishing call."""
    body = html_text
    if note:
        body = f"<p><em>{_html.escape(note)}</em></p>\n" + body
        plain = f"Note: {note}\n{plain}"
    iopub.display_data({"text/html": body, "text/plain": plain}, {})
