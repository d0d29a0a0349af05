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
Explanation, notes and alternatives are a separate small display, so updating the chart never
duplicates text. That text comes from an LLM, a file or an error and is untrusted: it is published
as text/html built with `anyviz.safety` escaping, as fully escaped text/markdown (for front ends
that prefer Markdown) and as text/plain. No untrusted character is ever live markup.

Figures are checked against a size budget before any JSON/HTML encoding (`check_figure`): giant
strings (titles, annotations, `meta`) are cut, too many traces are dropped with a note, and a
figure still over the budget is refused with a message instead of a 100 MB output.
"""
from __future__ import annotations

import atexit
import os
import threading
import uuid

from .. import iopub, jsonutil, safety, settings
from ..errors import AnyVizError

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
        text += f" {safety.name(title)}"
    text += f": {len(data)} trace{'s' if len(data) != 1 else ''}, {points:,} points"
    reduced = (summary or {}).get("reduced")
    if reduced:
        text += f" ({safety.plain(reduced, 500)})"
    return text


#: Longest string kept in a figure (a title, an annotation, a hover text, `meta`).
MAX_FIGURE_STRING = 10_000
#: Most traces shown; more are dropped with a note (a legend of 10,000 entries helps no one).
MAX_TRACES = 500
#: Total characters of strings a figure may carry after cutting; above it the figure is refused.
MAX_FIGURE_TEXT = 20_000_000
#: Deepest nesting walked in a figure dict (deeper is not a Plotly figure).
_MAX_DEPTH = 40


class FigureTooLarge(AnyVizError):
    """The figure is over the output budget even after reduction; the message says why."""

    def __init__(self, why: str):
        super().__init__(f"The figure is too large to show: {why}. Plot fewer traces or "
                         f"shorter texts (aggregate or filter the data first).")


def _cut_strings(value, budget: list, depth: int = 0):
    """`value` with every string over MAX_FIGURE_STRING cut (visibly) and without direction
    controls (a label from a file must read as what it is), counting the characters kept in
    budget[0] and the strings cut in budget[1]. Lists of numbers are skipped cheaply."""
    if depth > _MAX_DEPTH:
        raise FigureTooLarge("the figure is nested too deeply to be a Plotly figure")
    if isinstance(value, str):
        if len(value) > MAX_FIGURE_STRING:
            budget[1] += 1
            value = safety.cap(value, MAX_FIGURE_STRING)
        budget[0] += len(value)
        return safety.strip_bidi(value) if safety.has_bidi(value) else value
    if isinstance(value, dict):
        if "bdata" in value:
            return value  # a typed array (numbers in base64): its size is reduce.py's business
        out = {}
        for k, v in value.items():
            out[k] = _cut_strings(v, budget, depth + 1)
            if budget[0] > MAX_FIGURE_TEXT:
                raise FigureTooLarge(f"its text (labels, hover texts, titles) is over "
                                     f"{MAX_FIGURE_TEXT:,} characters")
        return out
    if isinstance(value, (list, tuple)):
        if value and not isinstance(value[0], (str, dict, list, tuple)) \
                and not isinstance(value[-1], (str, dict, list, tuple)):
            return value  # numeric arrays: nothing to cut
        out = [_cut_strings(v, budget, depth + 1) for v in value]
        if budget[0] > MAX_FIGURE_TEXT:
            raise FigureTooLarge(f"its text (labels, hover texts, titles) is over "
                                 f"{MAX_FIGURE_TEXT:,} characters")
        return out
    return value


def check_figure(fig_dict: dict) -> tuple[dict, str | None]:
    """The figure within the output budget, and a note saying what was cut (or None).

    Runs before any encoding, so `meta='A' * 100_000_000` costs one slice, not a 100 MB
    JSON output plus a 100 MB HTML output. Raises FigureTooLarge when cutting is not enough."""
    data = fig_dict.get("data") or []
    notes = []
    if not isinstance(data, (list, tuple)):
        raise FigureTooLarge("its data is not a list of traces")
    if len(data) > MAX_TRACES:
        notes.append(f"showing the first {MAX_TRACES:,} of {len(data):,} traces")
        data = list(data[:MAX_TRACES])
    budget = [0, 0]
    out = dict(fig_dict)
    out["data"] = _cut_strings(list(data), budget)
    for key, value in fig_dict.items():
        if key != "data":
            out[key] = _cut_strings(value, budget)
    if budget[1]:
        notes.append(f"{budget[1]} text value{'s' if budget[1] != 1 else ''} longer than "
                     f"{MAX_FIGURE_STRING:,} characters cut")
    return out, ("; ".join(notes) or None)


def _script_json(value) -> str:
    """JSON for inside a <script> element: no `<` at all, so neither `</script>` nor `<!--`
    in a title or label can end or confuse the script."""
    return jsonutil.dumps(value).replace("<", "\\u003c")


def _html_bundle(fig_dict: dict, include_js: bool) -> str:
    div = "anyviz-" + uuid.uuid4().hex
    payload = _script_json({"data": fig_dict.get("data") or [],
                            "layout": fig_dict.get("layout") or {},
                            "config": {"responsive": True}})
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
        # The element right before this script: the same chart may stand in two outputs (a
        # %customize cell shows the display it updated), so its id is not unique on the page.
        f'  var me = document.currentScript && document.currentScript.previousElementSibling;\n'
        f'  function draw() {{\n'
        f'    var el = (me && me.id === "{div}") ? me : document.getElementById("{div}");\n'
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
    fig_dict, cut = check_figure(fig_dict)
    summary = dict(own_summary, **(summary or {}))
    if cut:
        summary["reduced"] = "; ".join(x for x in (summary.get("reduced"), cut) if x)
        summary["budget_note"] = cut
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


def _alternatives(alternatives) -> list:
    if isinstance(alternatives, str):
        alternatives = [alternatives]
    return [a for a in list(alternatives or [])[:10] if a]


def _info_html(explanation, note, alternatives) -> str:
    """The explanation display as HTML: every untrusted piece escaped, alternatives in <code>."""
    parts = []
    if explanation:
        parts.append(f"<p>{safety.html_text(str(explanation).strip())}</p>")
    if note:
        parts.append(f"<p><em>Note: {safety.html_text(str(note).strip())}</em></p>")
    alts = _alternatives(alternatives)
    if alts:
        items = "".join(f"<li>{safety.html_code(a, 300)}</li>" for a in alts)
        parts.append(f"<p>Other charts to try:</p><ul>{items}</ul>")
    return "\n".join(parts)


def _info_markdown(explanation, note, alternatives) -> str:
    """The same as Markdown with every untrusted character escaped (no code spans: a backtick
    in an alternative would break out of one)."""
    lines = []
    if explanation:
        lines.append(safety.markdown_text(str(explanation).strip()))
    if note:
        lines.append(f"*Note: {safety.markdown_text(str(note).strip())}*")
    alts = _alternatives(alternatives)
    if alts:
        lines.append("Other charts to try:\n\n" + "\n".join(
            f"- {safety.markdown_text(a, 300)}" for a in alts))
    return "\n\n".join(lines)


def _info_plain(explanation, note, alternatives) -> str:
    lines = []
    if explanation:
        lines.append(safety.plain(str(explanation).strip()))
    if note:
        lines.append(f"Note: {safety.plain(str(note).strip())}")
    alts = _alternatives(alternatives)
    if alts:
        lines.append("Other charts to try:\n" + "\n".join(
            f"  {safety.plain(a, 300)}" for a in alts))
    return "\n".join(lines)


def info_bundle(explanation, note, alternatives) -> dict | None:
    """The explanation/note/alternatives display, or None when there is nothing to say."""
    plain = _info_plain(explanation, note, alternatives)
    if not plain:
        return None
    return {"text/html": _info_html(explanation, note, alternatives),
            "text/markdown": _info_markdown(explanation, note, alternatives),
            "text/plain": plain}


def show_figure(fig, *, explanation=None, alternatives=(), note=None, display_id=None,
                update=False, summary: dict | None = None, frame_rows: int = 0,
                static: bool | None = None) -> str:
    """Publish the chart (display_id kept for %customize updates) and its explanation.

    Returns the display id. With update=True the existing outputs (chart and info) are
    replaced in place. static=True also attaches an image/png rendering (for viewers that
    cannot run Plotly: GitHub, email, PDF exports); static=None means "use the global setting",
    the ANYVIZ_STATIC environment variable. If the image cannot be made the chart is still
    shown, and the note says why there is no image and what to do."""
    if display_id is None:
        display_id = iopub.new_display_id()
        update = False
    data, metadata = figure_bundle(fig, display_id=display_id, frame_rows=frame_rows,
                                   summary=summary)
    cut = metadata["anyviz"]["summary"].get("budget_note")
    if cut:
        note = f"{str(note).strip()} " if note else ""
        note += f"The figure was over the output budget: {cut}."
    if static is None:
        static = static_default()
    if static:
        try:
            data["image/png"] = _png(data[PLOTLY_MIME])
        except StaticImageError as exc:
            note = f"{str(note).strip()} " if note else ""
            note += f"No static image attached: {exc}"
    if update:
        # JupyterLab's Plotly renderer ignores an update of a chart it already drew
        # (plotly.py#3053): replacing the output with a different MIME type first makes the
        # front end build a fresh renderer for the updated figure.
        iopub.display_data({"text/plain": "Updating the chart…"}, {}, display_id=display_id,
                           update=True)
    iopub.display_data(data, metadata, display_id=display_id, update=update)
    info = info_bundle(explanation, note, alternatives)
    if info:
        iopub.display_data(info, {}, display_id=display_id + "-info", update=update)
    elif update:  # e.g. every change undone: the old "Customized: …" text must not stay
        iopub.display_data({"text/plain": ""}, {}, display_id=display_id + "-info", update=True)
    return display_id


# ------------------------------------------------------------------ static image (--static)
# A PNG next to the interactive chart, for viewers that cannot run Plotly (GitHub's notebook
# view, email, PDF exports). Rendered by kaleido 1.x, which drives a headless Chromium.
STATIC_ENV = settings.STATIC_ENV
STATIC_WIDTH = 900  # px; a figure's own layout.width/height win
STATIC_HEIGHT = 480  # the interactive div's height, so the image looks like the chart
STATIC_TIMEOUT_S = 60.0
# Debian/Ubuntu chromium first, so kaleido never needs to download a browser.
_BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


class StaticImageError(Exception):
    """The PNG could not be made; the message says why and what to do."""


def static_default() -> bool:
    """The global setting: ANYVIZ_STATIC=1 attaches a PNG to every chart.

    Read at each chart (not at import) so `os.environ["ANYVIZ_STATIC"] = "1"` in a cell takes
    effect at once. A value that is neither on nor off is reported, not guessed."""
    value = settings.static_png()
    if value is None:
        raw = os.environ.get(STATIC_ENV, "").strip().lower()
        iopub.stream("stderr", f"{STATIC_ENV}={raw!r} is not understood; set it to 1 (attach "
                               f"a PNG to every chart) or 0 (off). Using off.\n")
    return bool(value)


def _browser_path() -> str | None:
    """BROWSER_PATH (kaleido's own setting) if set, else a system Chromium, else let kaleido
    look (it also finds a Chrome installed by `plotly_get_chrome`)."""
    env = os.environ.get("BROWSER_PATH")
    if env:
        return env
    return next((p for p in _BROWSERS if os.path.exists(p)), None)


class _Renderer:
    """One headless Chromium kept for the session on its own event-loop thread.

    Starting Chromium costs ~3 s, each later PNG ~0.15 s, so with ANYVIZ_STATIC=1 a notebook of
    charts is not 3 s slower per chart. Every wait has a timeout (kaleido's own sync server
    waits forever if the browser dies), and a failed render closes the browser so the next
    chart starts a fresh one."""

    def __init__(self, browser: str | None):
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="anyviz-static",
                                       daemon=True)
        self.thread.start()
        self.kaleido = None
        try:
            self.kaleido = self._run(self._open(browser), STATIC_TIMEOUT_S)
        except BaseException:
            self.close()
            raise

    @staticmethod
    async def _open(browser):
        import kaleido

        # mathjax=False: the default loads MathJax from a CDN, which offline machines lack.
        k = kaleido.Kaleido(mathjax=False, timeout=STATIC_TIMEOUT_S,
                            **({"path": browser} if browser else {}))
        await k.open()
        return k

    def _run(self, coro, timeout):
        import asyncio

        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except BaseException:  # timeout, error, KeyboardInterrupt: do not leave it running
            fut.cancel()
            raise

    def png(self, fig: dict, width: int, height: int) -> bytes:
        opts = {"format": "png", "width": width, "height": height, "scale": 1}
        return self._run(self.kaleido.calc_fig(fig, opts=opts), STATIC_TIMEOUT_S + 5)

    def close(self) -> None:
        if self.kaleido is not None:
            try:
                self._run(self.kaleido.close(), 10)
            except BaseException:
                pass
            self.kaleido = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


_renderer: _Renderer | None = None
_renderer_lock = threading.Lock()


def close_static_renderer() -> None:
    """Stop the session's Chromium (also run at interpreter exit)."""
    global _renderer
    with _renderer_lock:
        if _renderer is not None:
            _renderer.close()
            _renderer = None



def _png(spec: dict) -> str:
    """Base64 PNG of the figure (data + layout of the Plotly bundle), or StaticImageError."""
    global _renderer
    try:
        import kaleido  # noqa: F401
        from kaleido.errors import ChromeNotFoundError
    except ImportError:
        raise StaticImageError("kaleido is not installed in the kernel's Python; install it "
                               "there (pip install 'kaleido>=1') and run the cell again.") from None
    import base64

    layout = spec.get("layout") or {}
    fig = {"data": spec.get("data") or [], "layout": layout}
    width = int(layout.get("width") or STATIC_WIDTH)
    height = int(layout.get("height") or STATIC_HEIGHT)
    with _renderer_lock:
        try:
            if _renderer is None:
                _renderer = _Renderer(_browser_path())
                # Registered after the browser's temp profile dir exists, so (exit handlers run
                # last-in first-out) Chromium stops before that dir is removed.
                atexit.unregister(close_static_renderer)
                atexit.register(close_static_renderer)
            png = _renderer.png(fig, width, height)
        except ChromeNotFoundError:
            env = os.environ.get("BROWSER_PATH")
            fix = (f"BROWSER_PATH={env!r} is not a browser: point it at Chrome/Chromium or "
                   "unset it" if env else "install one (Debian: apt-get install chromium) or "
                   "set BROWSER_PATH to it")
            raise StaticImageError(f"kaleido found no Chrome/Chromium; {fix}.") from None
        except Exception as exc:
            if _renderer is not None:
                _renderer.close()
                _renderer = None
            detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
            what = "timed out" if isinstance(exc, TimeoutError) else \
                f"failed ({type(exc).__name__}: {detail.strip()[:200]})"
            raise StaticImageError(f"rendering the PNG {what}; the interactive chart above is "
                                   "unaffected. Run the cell again to retry.") from None
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise StaticImageError("kaleido returned something that is not a PNG; check the "
                               "kaleido and Chromium versions.")
    return base64.b64encode(png).decode("ascii")


def show_html(html_text: str, plain: str, note: str | None = None) -> None:
    """A non-chart result (the table fallback) through the same publishing call."""
    body = html_text
    if note:
        body = f"<p><em>{safety.html_text(note)}</em></p>\n" + body
        plain = f"Note: {safety.plain(note)}\n{plain}"
    iopub.display_data({"text/html": body, "text/plain": plain}, {})
