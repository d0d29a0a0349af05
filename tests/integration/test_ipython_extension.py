"""`%load_ext anyviz` in a plain ipykernel (what VS Code, Colab and stock JupyterLab run).

The package is installed the way a user would (`pip install` of the repository, here into a
private target folder so the shared venv and the AnyViz kernel's own copy stay untouched), then
a real ipykernel (`python3` kernelspec) is driven over the wire protocol. The kernel under test
is always ipykernel here, whatever ANYVIZ_TEST_KERNEL says: that is the point of the extension.
"""
import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

from kernel_harness import ROOT, execute, stop_kernel

sys.path.insert(0, os.path.join(ROOT, "tests"))
from fakellm import FakeLLM  # noqa: E402

PLOTLY_MIME = "application/vnd.plotly.v1+json"
ORDERS = os.path.join(ROOT, "tests", "data", "orders.csv")
PACKAGE = os.path.join("Sources", "AnyVizPython", "Resources", "anyviz")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`pip install` of a copy of the repository's Python package; returns the target folder."""
    source = tmp_path_factory.mktemp("anyviz-src")
    shutil.copy(os.path.join(ROOT, "pyproject.toml"), source)
    shutil.copy(os.path.join(ROOT, "README.md"), source)
    shutil.copytree(os.path.join(ROOT, PACKAGE), source / PACKAGE,
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path_factory.mktemp("anyviz-site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps",
         "--no-index", "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (target / "anyviz" / "ipython_extension.py").exists()
    return str(target)


@contextlib.contextmanager
def _serve(folder):
    """A loopback HTTP server for `folder`; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _start_ipykernel(site, cache_dir, **env_changes):
    from jupyter_client.manager import KernelManager

    env = dict(os.environ, PYTHONPATH=site, ANYVIZ_CACHE_DIR=str(cache_dir))
    for key in ("GEMINI_API_KEY", "OPENAI_API_KEY", "ANYVIZ_LLM_API_KEY", "ANYVIZ_LLM_PROVIDER",
                "ANYVIZ_LLM_BASE_URL", "ANYVIZ_LLM_MODEL", "ANYVIZ_REDIS_URL"):
        env.pop(key, None)
    env.update(env_changes)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
    except Exception:
        stop_kernel(km, kc)
        raise
    return km, kc


def _ok(kc, code, timeout=120):
    result = execute(kc, code, timeout=timeout)
    errors = result.of_type("error")
    assert result.status == "ok" and not errors, (code, [e["content"] for e in errors],
                                                  result.stream("stderr"))
    return result


def _charts(result, msg_type="display_data"):
    return [m["content"]["data"][PLOTLY_MIME] for m in result.of_type(msg_type)
            if PLOTLY_MIME in m["content"]["data"]]


def _texts(result):
    return " ".join(json.dumps(m["content"]["data"]) for m in result.of_type("display_data"))


def _title(figure):
    title = figure.get("layout", {}).get("title")
    return title.get("text") if isinstance(title, dict) else title


def test_extension_offline_load_viz_customize(installed, tmp_path):
    km, kc = _start_ipykernel(installed, tmp_path)
    try:
        where = _ok(kc, "import anyviz; print(anyviz.__file__)").stream()
        assert where.startswith(installed), where  # the pip-installed copy, not the repo
        assert _ok(kc, "%load_ext anyviz").outputs == []

        loaded = _ok(kc, f"%load {ORDERS}")
        assert any("orders: 8 rows" in m["content"]["data"].get("text/plain", "")
                   for m in loaded.of_type("display_data"))
        assert _ok(kc, "type(orders).__name__").result_text() == "'DataFrame'"

        chart = _ok(kc, "%viz total quantity by product_id")
        (figure,) = _charts(chart)
        assert figure["data"][0]["type"] == "bar"
        assert "text/html" in chart.of_type("display_data")[0]["content"]["data"]

        changed = _ok(kc, "%customize title 'Orders by product'")
        updates = _charts(changed, "update_display_data")
        assert updates and _title(updates[-1]) == "Orders by product"

        with _serve(os.path.dirname(ORDERS)) as url:  # %load of a URL goes through urllib here
            fetched = _ok(kc, f"%load {url}/products.csv")
        assert any("products: 4 rows" in m["content"]["data"].get("text/plain", "")
                   for m in fetched.of_type("display_data"))

        help_text = _ok(kc, "%viz?").content["payload"][0]["data"]["text/plain"]
        assert "plain language" in help_text

        missing = execute(kc, "%viz --df nosuch anything", timeout=60)
        (error,) = missing.of_type("error")
        assert error["content"]["evalue"].startswith("There is no DataFrame named 'nosuch'")
        assert len(error["content"]["traceback"]) == 1  # the message, not Python internals
        # ipykernel's own magics are still there, IPython's code-loading %load as %loadpy.
        assert "loadpy" in _ok(kc, "%lsmagic").result_text()
    finally:
        stop_kernel(km, kc)


def test_extension_asks_the_llm_and_repairs_its_code(installed, tmp_path):
    broken = {"code": "fig = px.bar(df, x='no_such_column', y='quantity')",
              "explanation": "first try", "alternatives": []}
    good = {"code": "data = df.groupby('product_id', as_index=False)['quantity'].sum()\n"
                    "fig = px.bar(data, x='product_id', y='quantity', title='From the LLM')",
            "explanation": "Quantity summed per product.", "alternatives": ["a pie of quantity"]}
    with FakeLLM() as llm:
        llm.script([{"reply": json.dumps(broken)}, {"reply": json.dumps(good)}])
        km, kc = _start_ipykernel(installed, tmp_path, ANYVIZ_LLM_PROVIDER="gemini",
                                  ANYVIZ_LLM_BASE_URL=llm.gemini_base_url,
                                  ANYVIZ_LLM_API_KEY="fake-key-1234")
        try:
            _ok(kc, "%load_ext anyviz")
            _ok(kc, f"%load {ORDERS}")
            summary = _ok(kc, "%llm").stream()
            assert "provider: gemini" in summary and "fake-key-1234" not in summary

            chart = _ok(kc, "%viz quantity per product")
            (figure,) = _charts(chart)
            assert _title(figure) == "From the LLM"
            texts = _texts(chart)
            assert "Repaired after 1 failed attempt" in texts

            first, second = llm.requests
            assert first["path"].endswith("/models/gemini-2.5-flash:generateContent")
            assert first["headers"]["x-goog-api-key"] == "fake-key-1234"
            prompt = json.dumps(first["body"])
            assert "'quantity'" in prompt and "fake-key-1234" not in prompt
            assert "That code failed" in json.dumps(second["body"]["contents"][-1])

            # The same request again is answered from the cache: no third LLM call.
            again = _ok(kc, "%viz quantity per product")
            assert _title(_charts(again)[0]) == "From the LLM" and len(llm.requests) == 2
        finally:
            stop_kernel(km, kc)


def test_extension_falls_back_to_the_planner_when_the_llm_fails(installed, tmp_path):
    with FakeLLM() as llm:
        llm.script([{"status": 500}])
        km, kc = _start_ipykernel(installed, tmp_path, ANYVIZ_LLM_PROVIDER="openai",
                                  ANYVIZ_LLM_BASE_URL=llm.base_url, ANYVIZ_LLM_RETRIES="1")
        try:
            _ok(kc, "%load_ext anyviz")
            _ok(kc, f"%load {ORDERS}")
            chart = _ok(kc, "%viz total quantity by product_id")
            assert len(_charts(chart)) == 1
            texts = _texts(chart)
            assert "The LLM could not be used" in texts and "HTTP 500" in texts
            assert len(llm.requests) == 2  # one try and one retry
            assert all(r["path"] == "/v1/chat/completions" for r in llm.requests)
        finally:
            stop_kernel(km, kc)


def _html_sizes(result):
    return [len(m["content"]["data"]["text/html"]) for m in result.of_type("display_data")
            if PLOTLY_MIME in m["content"]["data"]]


@pytest.mark.parametrize("colab", [False, True])
def test_plotlyjs_once_per_notebook_but_once_per_cell_in_colab(installed, tmp_path, colab):
    """Colab isolates each cell's outputs, so there every cell's first chart carries plotly.js;
    elsewhere it is sent once per session (a notebook of 20 charts stays small)."""
    site = installed
    if colab:  # a stand-in `google.colab` module, which is how code detects Colab
        fake = tmp_path / "fake-colab"
        (fake / "google" / "colab").mkdir(parents=True)
        (fake / "google" / "colab" / "__init__.py").write_text("")
        site = os.pathsep.join([installed, str(fake)])
    km, kc = _start_ipykernel(site, tmp_path / "cache")
    try:
        if colab:
            _ok(kc, "import google.colab")
        _ok(kc, "%load_ext anyviz")
        _ok(kc, f"%load {ORDERS}")
        (first,) = _html_sizes(_ok(kc, "%viz total quantity by product_id"))
        (second,) = _html_sizes(_ok(kc, "%viz quantity by customer_id"))
        assert first > 1_000_000  # plotly.js itself
        assert (second > 1_000_000) == colab
    finally:
        stop_kernel(km, kc)
