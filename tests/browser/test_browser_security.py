"""In JupyterLab, a hostile LLM explanation and a hostile CSV header show as text and no script
runs: the page title stays, `window.__pwned` stays undefined, and no file appears through the
Jupyter server's contents API (what the reported exploit did with the page's token).

A control cell displays the same kind of payload through IPython's own HTML display, which
JupyterLab runs for a trusted output: it proves the page would notice a script that ran.
Reuses the servers, driver and helpers of test_browser_charts.py / test_browser_anyviz.py.
"""
import json
import os
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from fakellm import FakeLLM
from kernel_harness import KERNEL, requires_anyviz
from test_browser_anyviz import _CELL, _out, _run_cell, _shot
from test_browser_charts import CHROMEDRIVER, CHROMIUM, SHOTS, JupyterServer, _wait, driver  # noqa: F401

pytestmark = [
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                       reason="chromium/chromium-driver not installed (scripts/test.sh installs them)"),
    requires_anyviz,
]


def _payload(flag, filename):
    """JavaScript that marks the page and writes a file with the page's own token."""
    return (f"window.__pwned='{flag}';document.title='PWNED';"
            "var t=JSON.parse(document.getElementById('jupyter-config-data').textContent).token;"
            f"fetch('/api/contents/{filename}?token='+t,{{method:'PUT',"
            "headers:{'Content-Type':'application/json'},"
            "body:JSON.stringify({type:'file',format:'text',content:'pwned'})})")


def _img(flag, filename):
    return f'<img src=x onerror="{_payload(flag, filename)}">'


EXPLANATION = (_img("explanation", "pwned-explanation.txt")
               + f" <script>{_payload('script', 'pwned-script.txt')}</script>"
               + " [click](javascript:window.__pwned='link')")
ALTERNATIVES = ["`` `</code>" + _img("alternative", "pwned-alternative.txt") + "` ``"]
HEADER = _img("header", "pwned-header.txt")


@pytest.fixture
def llm(monkeypatch, tmp_path):
    """The fake LLM, configured for kernels the Jupyter server starts (they inherit the env)."""
    with FakeLLM() as server:
        for name, value in {"ANYVIZ_LLM_PROVIDER": "openai", "ANYVIZ_LLM_BASE_URL": server.base_url,
                            "ANYVIZ_LLM_API_KEY": "sk-test-browser", "ANYVIZ_LLM_MODEL": "fake",
                            "ANYVIZ_LLM_TIMEOUT_S": "10", "ANYVIZ_LLM_RETRIES": "1",
                            "ANYVIZ_CACHE_DIR": str(tmp_path / "cache"),
                            "ANYVIZ_REDIS_URL": ""}.items():
            monkeypatch.setenv(name, value)
        yield server


def test_hostile_explanation_and_csv_header_show_as_text_in_lab(tmp_path, driver, llm):  # noqa: F811
    llm.script([{"reply": json.dumps({
        "code": "fig = px.histogram(df, x=df.columns[1], title='Values')",
        "explanation": EXPLANATION, "alternatives": ALTERNATIVES})}])
    server = JupyterServer("lab", tmp_path)
    os.makedirs(SHOTS, exist_ok=True)
    try:
        csv_path = server.root / "hostile.csv"
        csv_path.write_text(f'"{HEADER.replace(chr(34), chr(34) * 2)}",value\n'
                            + "".join(f"row{i},{i * 1.5}\n" for i in range(8)))
        cells = [f"%load {csv_path} as h", "%viz --df h --no-cache values",
                 "from IPython.display import HTML\n"
                 "HTML('<img src=x onerror=\"window.__control=1\">')"]
        nb = new_notebook(cells=[new_code_cell(c) for c in cells], metadata={
            "kernelspec": {"name": KERNEL, "display_name": KERNEL, "language": "python"}})
        nbformat.write(nb, server.root / "hostile.ipynb")
        driver.get(server.url("lab/tree/hostile.ipynb"))
        _wait(driver, "return !!(window.jupyterapp && window.jupyterapp.shell && "
                      "document.querySelector('.jp-Notebook .jp-CodeCell'))", 90, "the notebook")
        _wait(driver, """
            const w = window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return k && k.status === 'idle' && k.name;""", 90, "the kernel to be idle")
        title = driver.title
        files_before = {f["name"] for f in json.loads(server._api("contents"))["content"]}

        _run_cell(driver, 0)  # %load: the hostile header in the preview table
        try:
            header = _wait(driver, f"""
                const out = {_CELL.format(i=0)};
                const th = out && out.querySelector('.jp-RenderedHTMLCommon table thead th:nth-child(2)');
                return th && th.textContent;""", 60, "the %load preview table")
        except TimeoutError as exc:
            shown = _out(driver, 0, "return out ? out.textContent : null")
            raise AssertionError(f"{exc}; the %load cell shows: {shown!r}") from None
        assert "onerror=" in header  # shown as the text it is

        _run_cell(driver, 1)  # %viz: the hostile explanation and alternatives
        info = _wait(driver, f"""
            const out = {_CELL.format(i=1)};
            if (!out || !out.querySelector('.js-plotly-plot')) return null;
            const texts = [...out.querySelectorAll('.jp-RenderedHTMLCommon')].map(e => e.textContent);
            return texts.join('\\n') || null;""", 60, "the chart and its explanation")
        assert "onerror=" in info and "<script>" in info and "[click](javascript:" in info
        _shot(driver, 1, "lab-hostile-explanation.png")
        links = _out(driver, 1, "return [...out.querySelectorAll('a')].map(a => a.href)")
        assert not [h for h in links if h.startswith("javascript:")]

        _run_cell(driver, 2)  # control: a trusted output's script does run and is seen
        _wait(driver, "return window.__control === 1", 15, "the control payload to run")

        time.sleep(1.5)  # any fetch the payloads started has landed by now
        assert driver.execute_script("return typeof window.__pwned") == "undefined"
        assert driver.title != "PWNED" and driver.title == title
        files_after = {f["name"] for f in json.loads(server._api("contents"))["content"]}
        assert files_after - files_before == set(), files_after - files_before
        assert not [r for r in llm.requests if r["kind"] == "openai"][1:]  # one LLM call
    finally:
        try:
            driver.save_screenshot(os.path.join(SHOTS, "lab-hostile-last.png"))
        finally:
            server.stop()
