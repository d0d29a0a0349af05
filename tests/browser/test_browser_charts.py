"""Charts really render in a browser: JupyterLab, Notebook 7 and nbconvert HTML in headless
Chromium (Debian's chromium + chromedriver; Selenium never downloads anything).

Each server runs on 127.0.0.1 with a random token, its own temporary root/config/settings dirs
(news and update checks off via labconfig/default_setting_overrides.json) and is stopped through
its REST shutdown endpoint. Screenshots go to artifacts/screenshots/.
"""
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.request

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from kernel_harness import ARTIFACTS, IS_ANYVIZ, KERNEL, VENV_BIN

SHOTS = os.path.join(ARTIFACTS, "screenshots")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
BARS = 4
POINTS = 7
# Two figures with a known number of marks: the browser must draw exactly these.
CELLS = [
    "import plotly.express as px\nimport pandas as pd",
    "sales = pd.DataFrame({'region': ['north', 'south', 'east', 'west'], 'units': [3, 5, 2, 7]})\n"
    "px.bar(sales, x='region', y='units', title='units by region')",
    f"pts = pd.DataFrame({{'x': list(range({POINTS})), 'y': [v * v for v in range({POINTS})]}})\n"
    "px.scatter(pts, x='x', y='y', title='squares')",
]

pytestmark = pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                                reason="chromium/chromium-driver not installed (scripts/test.sh installs them)")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(path):
    nb = new_notebook(cells=[new_code_cell(c) for c in CELLS], metadata={
        "kernelspec": {"name": KERNEL, "display_name": KERNEL, "language": "python"}})
    nbformat.write(nb, path)


@pytest.fixture
def driver():
    os.environ.setdefault("SE_OFFLINE", "true")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


class JupyterServer:
    def __init__(self, app, tmp_path):
        self.app = app
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.root = tmp_path / "root"
        self.root.mkdir()
        config = tmp_path / "config"
        (config / "labconfig").mkdir(parents=True)
        (config / "labconfig" / "default_setting_overrides.json").write_text(json.dumps({
            "@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                            "checkForUpdates": False}}))
        env = dict(os.environ,
                   JUPYTER_CONFIG_DIR=str(config),
                   JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
                   JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
        env.pop("GEMINI_API_KEY", None)
        env.pop("OPENAI_API_KEY", None)
        cls = "LabApp" if app == "lab" else "JupyterNotebookApp"
        self.log = open(tmp_path / f"{app}.log", "w")
        self.proc = subprocess.Popen(
            [os.path.join(VENV_BIN, "jupyter"), app, "--no-browser", "--allow-root",
             "--ip=127.0.0.1", f"--port={self.port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
             f"--{cls}.expose_app_in_browser=True"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_up()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def _api(self, path, method="GET"):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def _wait_up(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited early; see {self.log.name}")
            try:
                self._api("status")
                return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"jupyter {self.app} did not answer within {timeout}s")

    def stop(self):
        try:
            self._api("shutdown", method="POST")
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        finally:
            self.log.close()


def _wait(drv, script, timeout, what):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = drv.execute_script(script)
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last value {value!r})")


def _count(drv, selector):
    return drv.execute_script(f"return document.querySelectorAll({selector!r}).length")


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_chart_renders_in_jupyter_frontend(app, tmp_path, driver):
    server = JupyterServer(app, tmp_path)
    shot = os.path.join(SHOTS, f"{app}-{KERNEL}.png")
    os.makedirs(SHOTS, exist_ok=True)
    try:
        _notebook(server.root / "charts.ipynb")
        driver.get(server.url("lab/tree/charts.ipynb" if app == "lab" else "notebooks/charts.ipynb"))
        _wait(driver, "return !!(window.jupyterapp && window.jupyterapp.shell && "
                      "document.querySelector('.jp-Notebook'))", 90, "the notebook to open")
        # The kernel of the open notebook must be started and idle before running cells.
        _wait(driver, """
            const w = window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return k && k.status === 'idle' && k.name;""", 90, "the kernel to be idle")
        kernel = driver.execute_script(
            "return window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.name")
        assert kernel == KERNEL
        driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        _wait(driver, "return document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2",
              120, "two plotly charts")
        # Every mark drawn: one path per bar and per scatter point.
        _wait(driver, f"return document.querySelectorAll('.js-plotly-plot .barlayer .point').length"
                      f" === {BARS}", 30, f"{BARS} bars")
        _wait(driver, f"return document.querySelectorAll('.js-plotly-plot .scatterlayer .point')"
                      f".length === {POINTS}", 30, f"{POINTS} points")
        errors = _count(driver, ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors == 0, "a cell wrote to stderr"
    finally:
        try:
            driver.save_screenshot(shot)
        finally:
            server.stop()
    assert server.proc.returncode is not None


def test_nbconvert_html_shows_chart_offline(tmp_path, driver):
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    cells = list(CELLS[:2])
    if not IS_ANYVIZ:
        # Under nbclient ipykernel's plotly renders only the JSON mime; ask it for the HTML that
        # AnyViz always includes (plotly.js inlined, so the page works offline).
        cells.insert(0, "import plotly.io as pio\npio.renderers.default = 'plotly_mimetype+notebook'")
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    NotebookClient(nb, kernel_name=KERNEL, timeout=120).execute()
    body, _ = HTMLExporter().from_notebook_node(nb)
    page = tmp_path / "charts.html"
    page.write_text(body, encoding="utf-8")
    os.makedirs(SHOTS, exist_ok=True)
    driver.get(page.as_uri())
    try:
        _wait(driver, "return document.querySelectorAll('.js-plotly-plot .main-svg').length >= 1",
              60, "the plotly chart in the exported HTML")
        assert _count(driver, ".js-plotly-plot .barlayer .point") == BARS
    finally:
        driver.save_screenshot(os.path.join(SHOTS, f"nbconvert-{KERNEL}.png"))
