"""%customize in a real browser (JupyterLab and Notebook 7): the issue's sequences never blank
the chart, an instruction that is not understood changes nothing, a page reload does not lose
the chart, and --undo goes back one step.

Each %customize cell shows a one-line confirmation and the updated chart; the checks read the
drawn chart through the DOM and Plotly's own state on the element (bar count and size, axis
type, orientation, bar gap, font). Screenshots go to artifacts/screenshots/.
"""
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from kernel_harness import KERNEL, requires_anyviz
from test_browser_anyviz import _CELL, _out, _run_cell, _shot
from test_browser_charts import CHROMEDRIVER, CHROMIUM, SHOTS, JupyterServer, _wait, driver  # noqa: F401

pytestmark = [
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                       reason="chromium/chromium-driver not installed (scripts/test.sh installs them)"),
    requires_anyviz,
]

CELLS = [
    "import plotly.express as px\ngapminder = px.data.gapminder()",
    "%viz --df gapminder total population by continent in 2007",
    "%customize log scale y",
    "%customize horizontal",
    "%customize make the bars thinner and use a serif font",
    "%customize make the bars sparkle",
    "%customize title 'After reload'",
    "%customize --undo",
]
CONTINENTS = 5

# The first chart in cell i as Plotly drew it (null when there is none).
_STATE = """
    const plots = out.querySelectorAll('.js-plotly-plot');
    const p = plots[0];
    // the category label drawn highest on the page (horizontal bars)
    const horizontalTop = p => { const t = [...p.querySelectorAll('.ytick text')];
        t.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
        return t.length ? t[0].textContent : null; };
    const text = out.textContent;
    if (!p || !p._fullLayout || !p.querySelector('.main-svg')) return {charts: plots.length, text};
    const sizes = [...p.querySelectorAll('.barlayer .point path')].map(e => {
        const b = e.getBBox(); return Math.min(b.width, b.height); });
    const L = p._fullLayout;
    return {charts: plots.length, text,
            bars: sizes.length, smallest: sizes.length ? Math.min(...sizes) : 0,
            orientation: p._fullData[0].orientation,
            xtype: L.xaxis.type, ytype: L.yaxis.type, bargap: L.bargap,
            top: horizontalTop(p),
            font: L.font.family, title: (L.title && L.title.text) || ''};"""


def _chart(drv, i, check, what, timeout=60):
    """Wait until cell i's chart satisfies `check` (JS over `s`, the _STATE), return the state."""
    return _wait(drv, f"const out = {_CELL.format(i=i)}; if (!out) return null;"
                      f"const s = (() => {{ {_STATE} }})();"
                      f"return s.bars !== undefined && ({check}) ? s : null;", timeout, what)


def _visible_bars(state, horizontal, log_value):
    assert state["bars"] == CONTINENTS, state
    assert state["smallest"] > 1, f"some bars are not drawn: {state}"  # no blank chart
    assert state["orientation"] == ("h" if horizontal else "v"), state
    value_axis = state["xtype"] if horizontal else state["ytype"]
    category_axis = state["ytype"] if horizontal else state["xtype"]
    assert (value_axis == "log") == log_value, state
    assert category_axis == "category", state


def _open(drv, server, app):
    drv.get(server.url("lab/tree/customize.ipynb" if app == "lab" else "notebooks/customize.ipynb"))
    _wait(drv, "return !!(window.jupyterapp && window.jupyterapp.shell && "
               "document.querySelector('.jp-Notebook .jp-CodeCell'))", 90, "the notebook")
    _wait(drv, """
        const w = window.jupyterapp.shell.currentWidget;
        const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
        return k && k.status === 'idle' && k.name;""", 90, "the kernel to be idle")


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_customize_sequences_reload_and_undo(app, tmp_path, driver):  # noqa: F811
    server = JupyterServer(app, tmp_path)
    os.makedirs(SHOTS, exist_ok=True)
    try:
        nb = new_notebook(cells=[new_code_cell(c) for c in CELLS], metadata={
            "kernelspec": {"name": KERNEL, "display_name": KERNEL, "language": "python"}})
        nbformat.write(nb, server.root / "customize.ipynb")
        _open(driver, server, app)
        _run_cell(driver, 0)
        _run_cell(driver, 1)
        first = _chart(driver, 1, "s.bars === 5", "the %viz bar chart")
        _visible_bars(first, horizontal=False, log_value=False)

        # log scale y: the value axis (y) turns log, bars still drawn
        _run_cell(driver, 2)
        s = _chart(driver, 2, "s.ytype === 'log'", "the log-scale chart in the %customize cell")
        _visible_bars(s, horizontal=False, log_value=True)
        assert "Changed the chart" in s["text"] and "log scale on y" in s["text"]
        assert "http" not in s["text"]
        _shot(driver, 2, f"{app}-customize-log.png")

        # horizontal: the log scale moves to x with the values; not a blank chart
        _run_cell(driver, 3)
        s = _chart(driver, 3, "s.orientation === 'h'", "horizontal bars")
        _visible_bars(s, horizontal=True, log_value=True)
        original = _chart(driver, 1, "s.orientation === 'h'", "the original chart updated in place", 20)
        _visible_bars(original, horizontal=True, log_value=True)
        assert s["top"] == "Asia", f"the largest bar should stay first (on top): {s}"
        _shot(driver, 3, f"{app}-customize-horizontal.png")

        # thinner bars and a serif font: earlier changes kept
        _run_cell(driver, 4)
        s = _chart(driver, 4, "s.bargap > 0.4", "thinner bars")
        _visible_bars(s, horizontal=True, log_value=True)
        assert "serif" in s["font"] and "sans" not in s["font"]
        assert "thinner bars; serif font" in s["text"]
        _shot(driver, 4, f"{app}-customize-thinner-serif.png")

        # not understood: nothing changes, the words are named
        _run_cell(driver, 5)
        text = _wait(driver, f"const out = {_CELL.format(i=5)}; "
                             "return out && out.textContent.includes('sparkle') ? out.textContent : null;",
                     30, "the not-understood message")
        assert "Nothing changed" in text
        assert _out(driver, 5, "return out.querySelectorAll('.js-plotly-plot').length") == 0
        s = _chart(driver, 1, "true", "the original chart")
        _visible_bars(s, horizontal=True, log_value=True)
        assert s["bargap"] > 0.4
        _shot(driver, 5, f"{app}-customize-unknown.png")

        # reload the page: the front end forgets the display ids; %customize still shows
        driver.execute_script("window.jupyterapp.commands.execute('docmanager:save')")
        _wait(driver, "return !window.jupyterapp.shell.currentWidget.context.model.dirty",
              30, "the notebook to be saved")
        driver.refresh()
        _open(driver, server, app)
        _run_cell(driver, 6)
        s = _chart(driver, 6, "s.title === 'After reload'", "the retitled chart after a reload")
        _visible_bars(s, horizontal=True, log_value=True)
        assert s["bargap"] > 0.4 and "serif" in s["font"]
        _shot(driver, 6, f"{app}-customize-after-reload.png")

        # --undo: the title goes, the rest stays
        _run_cell(driver, 7)
        s = _chart(driver, 7, "s.title !== 'After reload'", "the chart without the new title")
        _visible_bars(s, horizontal=True, log_value=True)
        assert "undid title set to 'After reload'" in s["text"]
        assert _out(driver, 6, "return (document.querySelector('.js-plotly-plot') ? 1 : 0)") == 1
        _shot(driver, 7, f"{app}-customize-undo.png")
    finally:
        try:
            driver.save_screenshot(os.path.join(SHOTS, f"{app}-customize-last.png"))
        finally:
            server.stop()
