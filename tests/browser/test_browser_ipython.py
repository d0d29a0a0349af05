"""IPython habits really work in JupyterLab with the AnyViz kernel: `fig.show()` draws one
Plotly chart, `%%time` prints its timing next to the result, and an ipywidgets slider (comms
both ways) redraws a Plotly chart in an Output widget when the user moves it, and a plotly
`FigureWidget` (an anywidget) draws and follows changes made to it from Python.

Reuses the harness of test_browser_charts.py (server on 127.0.0.1 with a token, Debian
chromium + chromedriver, screenshots in artifacts/screenshots/).
"""
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from kernel_harness import KERNEL, requires_anyviz
from test_browser_anyviz import _CELL, _out, _run_cell, _shot
from test_browser_charts import CHROMEDRIVER, CHROMIUM, SHOTS, JupyterServer, _wait, driver  # noqa: F401

pytestmark = [
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                       reason="chromium/chromium-driver not installed (scripts/test.sh installs them)"),
    requires_anyviz,
]

CELLS = [
    "import plotly.express as px\n"
    "fig = px.bar(x=['a', 'b', 'c'], y=[3, 1, 2], title='shown with fig.show()')\n"
    "fig.show()",
    "%%time\nsum(range(1000))",
    "import ipywidgets as widgets\n"
    "import plotly.graph_objects as go\n"
    "slider = widgets.IntSlider(value=2, min=1, max=5, description='bars')\n"
    "out = widgets.Output()\n"
    "def draw(change=None):\n"
    "    with out:\n"
    "        out.clear_output(wait=True)\n"
    "        n = slider.value\n"
    "        go.Figure(go.Bar(x=list(range(n)), y=list(range(1, n + 1))),\n"
    "                  layout_title_text=f'{n} bars').show()\n"
    "slider.observe(draw, names='value')\n"
    "draw()\n"
    "display(slider, out)",
    "fw = go.FigureWidget(go.Bar(x=['p', 'q'], y=[1, 2]), layout_title_text='a FigureWidget')\n"
    "fw",
    "with fw.batch_update():\n"
    "    fw.data[0].x = ['p', 'q', 'r', 's']\n"
    "    fw.data[0].y = [4, 3, 2, 1]\n"
    "    fw.layout.title.text = 'changed from Python'",
]


def _bars(i):
    return f"""
        const out = {_CELL.format(i=i)};
        const plots = out ? out.querySelectorAll('.js-plotly-plot') : [];
        const bars = plots.length ? plots[plots.length - 1].querySelectorAll('.point').length : 0;
        const title = plots.length ? (plots[plots.length - 1].querySelector('.gtitle') || {{}}).textContent : null;
        return {{plots: plots.length, bars, title}};"""


def test_fig_show_time_magic_and_a_slider_driving_a_chart(tmp_path, driver):  # noqa: F811
    server = JupyterServer("lab", tmp_path)
    os.makedirs(SHOTS, exist_ok=True)
    try:
        nb = new_notebook(cells=[new_code_cell(c) for c in CELLS], metadata={
            "kernelspec": {"name": KERNEL, "display_name": KERNEL, "language": "python"}})
        nbformat.write(nb, server.root / "ipython.ipynb")
        driver.get(server.url("lab/tree/ipython.ipynb"))
        _wait(driver, "return !!(window.jupyterapp && window.jupyterapp.shell && "
                      "document.querySelector('.jp-Notebook .jp-CodeCell'))", 90, "the notebook")
        _wait(driver, """
            const w = window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return k && k.status === 'idle' && k.name;""", 90, "the kernel to be idle")

        # fig.show(): exactly one interactive chart with the three bars.
        _run_cell(driver, 0)
        _wait(driver, _bars(0).replace("return {", "const r = {").rstrip(";") +
              "; return r.plots === 1 && r.bars === 3;", 60, "the fig.show() chart")
        shown = _out(driver, 0, _bars(0).split("const out = ", 1)[1].split(";", 1)[1])
        assert shown == {"plots": 1, "bars": 3, "title": "shown with fig.show()"}
        assert _out(driver, 0, "return out.querySelectorAll('.jp-OutputArea-child').length") == 1
        _shot(driver, 0, "lab-ipython-fig-show.png")

        # %%time: the timing lines on stdout and the result below them.
        _run_cell(driver, 1)
        text = _wait(driver, f"""
            const out = {_CELL.format(i=1)};
            return out && out.textContent.includes('499500') && out.textContent;""",
                     30, "the %%time output")
        assert "Wall time" in text and "CPU times" in text

        # The slider: the widget renders through comms, its chart shows 2 bars; one step to
        # the right sends the new value to the kernel, which redraws the chart with 3 bars.
        _run_cell(driver, 2)
        _wait(driver, f"return !!{_CELL.format(i=2)}.querySelector('.noUi-handle')", 60,
              "the slider widget")
        _wait(driver, _bars(2).replace("return {", "const r = {").rstrip(";") +
              "; return r.bars === 2;", 60, "the first chart under the slider")
        handle = driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell .noUi-handle")[-1]
        handle.click()
        handle.send_keys(Keys.ARROW_RIGHT)
        _wait(driver, _bars(2).replace("return {", "const r = {").rstrip(";") +
              "; return r.bars === 3 && r.plots === 1;", 30, "the chart redrawn with 3 bars")
        state = _out(driver, 2, _bars(2).split("const out = ", 1)[1].split(";", 1)[1])
        assert state == {"plots": 1, "bars": 3, "title": "3 bars"}
        readout = _out(driver, 2, "return (out.querySelector('.widget-readout') || {}).textContent")
        assert readout.strip() == "3"
        _shot(driver, 2, "lab-ipython-slider.png")

        # FigureWidget: drawn through its widget model; changes made in Python reach the
        # chart through comm messages, without re-running the cell that shows it.
        _run_cell(driver, 3)
        _wait(driver, _bars(3).replace("return {", "const r = {").rstrip(";") +
              "; return r.bars === 2 && r.title === 'a FigureWidget';", 60, "the FigureWidget")
        _run_cell(driver, 4)
        _wait(driver, _bars(3).replace("return {", "const r = {").rstrip(";") +
              "; return r.bars === 4 && r.title === 'changed from Python';", 30,
              "the FigureWidget updated from Python")
        _shot(driver, 3, "lab-ipython-figurewidget.png")
        errors = driver.execute_script("return document.querySelectorAll(\".jp-OutputArea-output"
                                       "[data-mime-type='application/vnd.jupyter.stderr']\").length")
        assert errors == 0, "a cell wrote to stderr"
    finally:
        server.stop()
