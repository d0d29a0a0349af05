"""The example notebooks run headless through nbclient on the AnyViz kernel and re-run identically.

Each notebook (notebooks/data.ipynb, notebooks/analysis.ipynb) is executed twice, each time in a
fresh kernel with the notebook's folder as working directory (what Jupyter, nbclient and
papermill do), offline (no LLM keys, so %viz uses its planner and %customize its offline editor).

What a re-run may legitimately change, and is therefore normalised before comparing (nothing
else is, so any other difference fails):
  * display ids (`metadata.anyviz.display_id` of a chart): a fresh uuid4 per chart so that
    %customize can update exactly that output; random by design.
  * uuids inside text/html (`<div id="anyviz-<32 hex>">` of each chart and the script that
    targets it): the DOM id must be unique in a page, so it is random too.
  * timings: "0.01 s" in %load / %frames / %profile text and HTML, and the "seconds" field of
    %profile's JSON facts: wall-clock measurements.
Not normalised, because they are deterministic for the same files in the same environment:
memory figures ("74.8 KB in memory" comes from pandas' deep memory usage of identical data),
execution counts, and temp-dir paths (the notebooks only use paths relative to their folder).
The plotly JSON (application/vnd.plotly.v1+json: data and layout) is compared with no
normalisation at all.
"""
import base64
import json
import os
import re
import subprocess
import sys

import nbformat
import numpy as np
import pandas as pd
import pytest

from kernel_harness import KERNEL, ROOT, VENV_BIN, execute, requires_anyviz, start_kernel, stop_kernel

pytestmark = requires_anyviz  # the notebooks are made of AnyViz magics

NB_DIR = os.path.join(ROOT, "notebooks")
DATA_DIR = os.path.join(NB_DIR, "data")
NOTEBOOKS = ("data", "analysis")
PLOTLY = "application/vnd.plotly.v1+json"
CHART_MIMES = {PLOTLY, "text/html", "text/plain"}

_UUID_RE = re.compile(r"\b[0-9a-f]{32}\b|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_TIMING_RE = re.compile(r"\b\d+(?:\.\d+)? s\b")


def _execute_notebook(name):
    """Run notebooks/NAME.ipynb in a fresh kernel; returns (notebook, {cell index: execute_reply})."""
    from nbclient import NotebookClient

    nb = nbformat.read(os.path.join(NB_DIR, f"{name}.ipynb"), as_version=4)
    replies = {}
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=180,
                            resources={"metadata": {"path": NB_DIR}})
    client.on_cell_executed = lambda cell, cell_index, execute_reply: replies.__setitem__(
        cell_index, execute_reply)
    old = dict(os.environ)
    os.environ.pop("GEMINI_API_KEY", None)
    os.environ.pop("OPENAI_API_KEY", None)
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb, replies


@pytest.fixture(scope="module")
def runs():
    """{name: [(nb, replies), (nb, replies)]}: every notebook executed twice."""
    return {name: [_execute_notebook(name), _execute_notebook(name)] for name in NOTEBOOKS}


def _tagged(nb, tag):
    cells = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert cells, f"no cell tagged {tag!r}"
    return cells


def _one(nb, tag):
    cells = _tagged(nb, tag)
    assert len(cells) == 1, f"{len(cells)} cells tagged {tag!r}"
    return cells[0]


def _bundles(cell):
    return [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]


def _text(cell):
    """Everything a plain-text frontend shows for the cell."""
    parts = []
    for o in cell.outputs:
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type in ("display_data", "execute_result"):
            parts.append(o.data.get("text/plain", ""))
    return "\n".join(parts)


def _figure(cell):
    charts = [b for b in _bundles(cell) if PLOTLY in b.data]
    assert len(charts) == 1, f"expected one chart in {cell.source!r}, got {len(charts)}"
    return charts[0].data[PLOTLY]


def _values(v):
    """Plotly array values as a list: plain lists or plotly's typed arrays {dtype, bdata}."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


def _normalise(obj):
    """A copy of a cell's outputs with only the legitimately varying parts replaced (see top)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == PLOTLY:
                out[k] = v  # compared verbatim
            elif k == "display_id":
                out[k] = "<display-id>"
            elif k == "seconds" and isinstance(v, (int, float)):
                out[k] = "<seconds>"
            else:
                out[k] = _normalise(v)
        return out
    if isinstance(obj, list):
        return [_normalise(v) for v in obj]
    if isinstance(obj, str):
        return _TIMING_RE.sub("<t> s", _UUID_RE.sub("<uuid>", obj))
    return obj


def _json_outputs(nb):
    return [json.loads(json.dumps(c.get("outputs", []))) for c in nb.cells]


# --- both notebooks ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_headless_without_errors(runs, name):
    for nb, _ in runs[name]:
        errors = [f"{o.ename}: {o.evalue}" for c in nb.cells if c.cell_type == "code"
                  for o in c.outputs if o.output_type == "error"]
        assert not errors
        stderr = [o.text for c in nb.cells if c.cell_type == "code"
                  for o in c.outputs if o.output_type == "stream" and o.name == "stderr"]
        assert not stderr, stderr


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_rerun_gives_identical_outputs(runs, name):
    (first, _), (second, _) = runs[name]
    a, b = _json_outputs(first), _json_outputs(second)
    for i, (x, y) in enumerate(zip(a, b)):
        assert _normalise(x) == _normalise(y), f"cell {i} differs: {first.cells[i].source!r}"
    assert len(a) == len(b)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_rerun_gives_identical_plotly_json(runs, name):
    (first, _), (second, _) = runs[name]
    figs = []
    for nb in (first, second):
        figs.append([b.data[PLOTLY] for c in nb.cells if c.cell_type == "code"
                     for b in _bundles(c) if PLOTLY in b.data])
    assert figs[0], "no charts at all"
    assert len(figs[0]) == len(figs[1])
    for x, y in zip(*figs):
        assert x["data"] == y["data"]
        assert x["layout"] == y["layout"]


def test_normalisation_only_hides_what_it_claims():
    """The normaliser must not hide real differences (a value change is still a difference)."""
    a = {"data": {"text/plain": "orders: 8 rows (237 B, 0.01 s, 468 B in memory)"},
         "metadata": {"anyviz": {"display_id": "c5293690e17946d3ba363dc4955de09d"}}}
    b = {"data": {"text/plain": "orders: 8 rows (237 B, 0.25 s, 468 B in memory)"},
         "metadata": {"anyviz": {"display_id": "1b98978a7e3f47789f7d84d89f9283d2"}}}
    assert _normalise(a) == _normalise(b)
    c = json.loads(json.dumps(b))
    c["data"]["text/plain"] = c["data"]["text/plain"].replace("468 B", "469 B")
    assert _normalise(a) != _normalise(c)
    d = {"data": {PLOTLY: {"layout": {"title": "x 0.01 s"}}}}
    e = {"data": {PLOTLY: {"layout": {"title": "x 0.02 s"}}}}
    assert _normalise(d) != _normalise(e)


# --- data.ipynb ---------------------------------------------------------------------------

def _csv(name):
    return pd.read_csv(os.path.join(DATA_DIR, f"{name}.csv"))


def test_data_files_are_small_and_regenerate_identically(tmp_path):
    sys.path.insert(0, DATA_DIR)
    try:
        import make_data
    finally:
        sys.path.remove(DATA_DIR)
    written = make_data.write_all(str(tmp_path))
    for name, path in written.items():
        committed = os.path.join(DATA_DIR, f"{name}.csv")
        assert os.path.getsize(committed) < 200_000
        with open(path, "rb") as fresh, open(committed, "rb") as old:
            assert fresh.read() == old.read(), f"{name}.csv is stale: rerun make_data.py"


def test_data_notebook_loads_relative_paths_and_shows_relationships(runs):
    nb, _ = runs["data"][0]
    load = _one(nb, "load")
    assert [set(b.data) for b in _bundles(load)] == [{"text/html", "text/plain"}]
    text = _text(load)
    for name, rows, cols in (("orders", 1500, 6), ("customers", 120, 5), ("products", 24, 4)):
        assert f"{name}: {rows:,} rows × {cols} columns from data/{name}.csv" in text
    assert "orders.customer_id → customers.id (many-to-one, 100% of keys match)" in text
    assert "orders.product_id → products.product_id (many-to-one, 100% of keys match)" in text
    frames = _text(_one(nb, "frames"))
    assert "orders.customer_id → customers.id" in frames
    assert "data/customers.csv" in frames


def test_data_notebook_profile_bundle(runs):
    nb, _ = runs["data"][0]
    (bundle,) = _bundles(_one(nb, "profile"))
    assert set(bundle.data) == {"text/html", "application/vnd.anyviz.profile+json", "text/plain"}
    assert "<script" not in bundle.data["text/html"].lower()
    facts = bundle.data["application/vnd.anyviz.profile+json"]
    raw = json.dumps(facts)
    assert "NaN" not in raw and "Infinity" not in raw
    assert "Profile of orders: 1,500 rows × 6 columns" in bundle.data["text/plain"]
    assert re.search(r"order_id is unique on every row and [^:\n]+: likely an ID", bundle.data["text/plain"])


def test_data_notebook_python_results_match_pandas(runs):
    """The joined revenue the notebook computes equals the same computation done here."""
    nb, _ = runs["data"][0]
    orders, customers, products = _csv("orders"), _csv("customers"), _csv("products")
    lines = orders.merge(products, on="product_id").merge(customers, left_on="customer_id",
                                                          right_on="id")
    revenue = (lines["quantity"] * lines["unit_price"] * (1 - lines["discount"])).round(2)
    expected = revenue.groupby(lines["country"]).sum().round(2).sort_values(ascending=False)

    assert _one(nb, "join").outputs[-1].data["text/plain"] == f"({len(orders)}, 15)"
    shown = _one(nb, "by-country").outputs[-1].data["text/plain"]
    rows = re.findall(r"^([A-Z]{2})\s+([\d.]+)$", shown, re.M)
    assert [(c, float(v)) for c, v in rows] == [(c, round(v, 2)) for c, v in expected.items()]
    top = _one(nb, "top-customers").outputs[-1].data["text/plain"]
    best = revenue.groupby(lines["name"]).sum().idxmax()
    assert best in top.splitlines()[1]
    chart = _figure(_one(nb, "chart"))
    assert chart["data"][0]["type"] == "bar"
    assert _values(chart["data"][0]["x"]) == list(expected.index)
    assert np.allclose(_values(chart["data"][0]["y"]), expected.to_numpy(), atol=0.05)


# --- analysis.ipynb -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gapminder():
    return _csv("gapminder")


def test_analysis_chart_cells_have_chart_mimes(runs):
    nb, _ = runs["analysis"][0]
    charts = _tagged(nb, "chart")
    assert 6 <= len(charts) <= 10
    for cell in charts:
        first = _bundles(cell)[0]
        assert set(first.data) == CHART_MIMES, (cell.source, set(first.data))
        assert first.data["text/plain"].split(" ")[1] == "chart", first.data["text/plain"]
    for cell in nb.cells:
        if cell.cell_type == "code" and "customize" in cell.metadata.get("tags", []):
            # %customize updates the chart above in place; its own cell confirms in one line
            # and shows the updated chart (the original output may be off-screen or, after a
            # page reload, no longer tracked by the front end)
            first = cell.outputs[0]
            assert first.output_type == "display_data", (cell.source, cell.outputs)
            assert first.data["text/plain"].startswith("Changed the chart"), cell.outputs
            assert [o for o in cell.outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]


def test_analysis_bare_viz_recommends_a_chart(runs):
    nb, _ = runs["analysis"][0]
    cell = _one(nb, "recommend")
    assert cell.source.strip() == "%viz"
    explanation = _bundles(cell)[1].data["text/plain"]
    assert explanation.startswith("Suggested:")
    assert "%viz" in explanation  # alternatives to try


def test_analysis_filter_and_customize_title_log(runs, gapminder):
    nb, _ = runs["analysis"][0]
    fig = _figure(_one(nb, "filter"))
    expected = (gapminder[gapminder["year"] == 2007].groupby("continent")["pop"].sum()
                .sort_values(ascending=False))
    assert fig["data"][0]["type"] == "bar"
    assert _values(fig["data"][0]["x"]) == list(expected.index)
    assert _values(fig["data"][0]["y"]) == expected.tolist()
    # the %customize cell below it changed this output in place
    assert fig["layout"]["title"]["text"] == "World population by continent, 2007"
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert "log scale on y" in _bundles(_one(nb, "filter"))[1].data["text/plain"]


def test_analysis_top_n(runs, gapminder):
    nb, _ = runs["analysis"][0]
    fig = _figure(_one(nb, "top"))
    top = gapminder[gapminder["year"] == 2007].nlargest(10, "gdpPercap")
    assert _values(fig["data"][0]["x"]) == top["country"].tolist()
    assert np.allclose(_values(fig["data"][0]["y"]), top["gdpPercap"].to_numpy())


def test_analysis_time_trend_with_theme_and_palette(runs, gapminder):
    import plotly.express as px

    nb, _ = runs["analysis"][0]
    fig = _figure(_one(nb, "trend"))
    means = gapminder.groupby(["continent", "year"])["lifeExp"].mean()
    assert [t["name"] for t in fig["data"]] == sorted(gapminder["continent"].unique())
    for trace in fig["data"]:
        assert trace["mode"] == "lines"
        assert np.allclose(_values(trace["y"]), means[trace["name"]].to_numpy())
    assert fig["layout"]["colorway"] == px.colors.qualitative.Bold
    assert fig["layout"]["template"]["layout"]["plot_bgcolor"] == "white"  # plotly_white


def test_analysis_scatter_log_x_histogram_box(runs):
    nb, _ = runs["analysis"][0]
    scatter = _figure(_one(nb, "scatter"))
    assert scatter["layout"]["xaxis"]["type"] == "log"
    assert scatter["layout"]["title"]["text"] == "Richer countries live longer (2007)"
    assert sum(len(_values(t["x"])) for t in scatter["data"]) == 142
    hist = _figure(_one(nb, "histogram"))
    assert hist["data"][0]["type"] == "histogram" and len(_values(hist["data"][0]["x"])) == 142
    box = _figure(_one(nb, "box"))
    assert box["data"][0]["type"] == "box"


def test_analysis_viz_code_hands_over_code_that_draws_the_same_chart(runs):
    nb, replies = runs["analysis"][0]
    index = nb.cells.index(_one(nb, "code"))
    payload = [p for p in replies[index]["content"].get("payload", [])
               if p.get("source") == "set_next_input"]
    assert len(payload) == 1 and "px.line" in payload[0]["text"]
    viz = _figure(_one(nb, "code"))
    from_code = _figure(_one(nb, "from-code"))
    assert viz["data"] == from_code["data"]


def test_viz_code_output_runs_as_the_next_cell():
    """`%viz --code` promises code for the next cell that makes the notebook reproducible: run as
    that next cell, with nothing else defined, it must draw the same chart."""
    km, kc = start_kernel()
    try:
        path = os.path.join(DATA_DIR, "gapminder.csv")
        assert execute(kc, f"%load {path}", timeout=60).status == "ok"
        viz = execute(kc, "%viz total pop by year --code", timeout=60)
        assert viz.status == "ok"
        (payload,) = [p for p in viz.content["payload"] if p["source"] == "set_next_input"]
        chart = [m for m in viz.of_type("display_data") if PLOTLY in m["content"]["data"]][0]
        rerun = execute(kc, payload["text"].rstrip("\n") + "\nfig", timeout=60)
        assert rerun.status == "ok", (f"the --code cell fails: {rerun.content.get('ename')}: "
                                      f"{rerun.content.get('evalue')}\n{payload['text']}")
        # a bare `fig` is shown through plotly's display hook, as display_data (as in ipykernel)
        shown = rerun.of_type("execute_result") + rerun.of_type("display_data")
        result = [m for m in shown if PLOTLY in m["content"]["data"]][-1]["content"]["data"][PLOTLY]
        assert result["data"] == chart["content"]["data"][PLOTLY]["data"]
    finally:
        stop_kernel(km, kc)


def test_nbconvert_html_has_plotlyjs_once_and_every_chart(runs, tmp_path):
    nb, _ = runs["analysis"][0]
    src = tmp_path / "analysis.ipynb"
    nbformat.write(nb, str(src))
    proc = subprocess.run([os.path.join(VENV_BIN, "jupyter"), "nbconvert", "--to", "html",
                           str(src)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "analysis.html").read_text(encoding="utf-8")
    assert html.count("* plotly.js v") == 1
    div_ids = [re.search(r'id="(anyviz-[0-9a-f]{32})"', b.data["text/html"]).group(1)
               for c in nb.cells if c.cell_type == "code" for b in _bundles(c) if PLOTLY in b.data]
    # A %customize cell shows the chart it updated again: the same display, the same element id
    # (each copy's script draws into the element just before it).
    assert len(set(div_ids)) == len(_tagged(nb, "chart"))
    for div in set(div_ids):
        assert html.count(f'id="{div}"') == div_ids.count(div), div
