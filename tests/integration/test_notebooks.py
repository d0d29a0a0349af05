"""Whole-notebook tools drive the kernel: nbclient (the tour), papermill, jupyter console."""
import os
import subprocess
import sys

import nbformat
import pytest

from kernel_harness import IS_ANYVIZ, KERNEL, ROOT, VENV_BIN

TOUR = os.path.join(ROOT, "notebooks", "tour.ipynb")
PLOTLY_MIME = "application/vnd.plotly.v1+json"


def _offline_env():
    env = dict(os.environ)
    env.pop("GEMINI_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    return env


def _tagged(nb, tag):
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert cells, f"tour.ipynb has no cell tagged {tag!r}"
    return cells


def _mimes(cell):
    out = set()
    for o in cell.outputs:
        if o.output_type in ("display_data", "execute_result"):
            out |= set(o.data)
        elif o.output_type == "stream":
            out.add(f"stream:{o.name}")
    return out


@pytest.fixture(scope="module")
def executed_tour():
    from nbclient import NotebookClient

    nb = nbformat.read(TOUR, as_version=4)
    if not IS_ANYVIZ:  # ipykernel has no AnyViz magics; the rest of the tour must still run
        nb.cells = [c for c in nb.cells if "anyviz-magic" not in c.metadata.get("tags", [])]
    old = dict(os.environ)
    os.environ.pop("GEMINI_API_KEY", None)
    os.environ.pop("OPENAI_API_KEY", None)
    try:
        NotebookClient(nb, kernel_name=KERNEL, timeout=300,
                       resources={"metadata": {"path": os.path.dirname(TOUR)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def test_tour_runs_without_errors(executed_tour):
    errors = [o for c in executed_tour.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]


def test_tour_basics_outputs(executed_tour):
    first, second = _tagged(executed_tour, "basics")
    assert first.outputs[0].data["text/plain"] == "285"
    assert "hello, AnyViz" in "".join(o.text for o in second.outputs if o.output_type == "stream")


def test_tour_dataframe_is_displayed_as_table(executed_tour):
    shape_cell = _tagged(executed_tour, "dataframe")[0]
    assert shape_cell.outputs[0].data["text/plain"] == "(1704, 8)"
    shown = _tagged(executed_tour, "display")[0]
    assert [o.output_type for o in shown.outputs] == ["display_data"]
    assert {"text/html", "text/plain"} <= _mimes(shown)
    assert "Afghanistan" in shown.outputs[0].data["text/html"]


def test_tour_plotly_figure_has_plotly_mime(executed_tour):
    cell = _tagged(executed_tour, "plotly")[0]
    bundles = [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
    assert bundles and PLOTLY_MIME in bundles[0].data
    fig = bundles[0].data[PLOTLY_MIME]
    assert fig["data"][0]["type"] == "bar"
    assert len(fig["data"][0]["x"]) == 5  # five continents in 2007


@pytest.mark.skipif(not IS_ANYVIZ, reason="magic cells run only on AnyViz")
def test_tour_magics_outputs(executed_tour):
    load = _tagged(executed_tour, "load")[0]
    assert "gapminder_2007" in str([o.get("data", o.get("text")) for o in load.outputs])
    profile = _tagged(executed_tour, "profile")[0]
    assert "text/html" in _mimes(profile)
    viz = _tagged(executed_tour, "viz")[0]
    assert PLOTLY_MIME in _mimes(viz), _mimes(viz)


def _text(cell):
    return "\n".join(o.get("text", "") if o.output_type == "stream"
                     else str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)


def test_tour_fig_show_and_time(executed_tour):
    cell = _tagged(executed_tour, "fig-show")[0]
    charts = [o for o in cell.outputs if o.output_type == "display_data" and PLOTLY_MIME in o.data]
    assert len(charts) == 1 and charts[0].data[PLOTLY_MIME]["data"][0]["type"] == "scatter"
    assert "Wall time" in _text(cell)


@pytest.mark.skipif(not IS_ANYVIZ, reason="magic cells run only on AnyViz")
def test_tour_customize_list_undo_explain_and_engine(executed_tour):
    listed = _text(_tagged(executed_tour, "customize-list")[0]).lower()
    assert "log" in listed and "title" in listed, listed
    undo = _tagged(executed_tour, "customize-undo")[0]
    assert "undid log scale on y" in _text(undo)
    assert PLOTLY_MIME in _mimes(undo)  # the chart as it is now, shown in the cell
    explain = _tagged(executed_tour, "viz-explain")[0]
    assert PLOTLY_MIME in _mimes(explain)
    assert "Read as" in str([o.get("data") for o in explain.outputs])
    engine = _tagged(executed_tour, "engine-viz")[0]
    (fig,) = [o.data[PLOTLY_MIME] for o in engine.outputs
              if o.output_type == "display_data" and PLOTLY_MIME in o.data]
    assert len(fig["data"][0]["x"]) == 5  # five continents
    engine_profile = _text(_tagged(executed_tour, "engine-profile")[0])
    assert "142 rows" in engine_profile and "computed in duckdb" in engine_profile


def test_tour_top_level_await(executed_tour):
    cell = _tagged(executed_tour, "asyncio")[0]
    assert [o.output_type for o in cell.outputs] == ["execute_result"]
    assert cell.outputs[0].data["text/plain"] == "[0, 2, 4, 6]"


@pytest.mark.skipif(not IS_ANYVIZ, reason="magic cells run only on AnyViz")
def test_tour_pattern_filter_draws_only_matching_countries(executed_tour):
    import plotly.data

    latest = plotly.data.gapminder().query("year == 2007")
    expected = set(latest.loc[latest["country"].str.contains("land"), "country"])
    cell = _tagged(executed_tour, "pattern-filter")[0]
    (fig,) = [o.data[PLOTLY_MIME] for o in cell.outputs
              if o.output_type == "display_data" and PLOTLY_MIME in o.data]
    assert set(fig["data"][0]["x"]) == expected and len(expected) > 3


def test_papermill_parameterised_notebook(tmp_path):
    import papermill as pm
    from nbformat.v4 import new_code_cell, new_notebook

    params = new_code_cell("n = 1\nlabel = 'default'")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params, new_code_cell("print(label, n * 2)")],
                      metadata={"kernelspec": {"name": KERNEL, "display_name": KERNEL,
                                               "language": "python"}})
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    pm.execute_notebook(str(src), str(out), parameters={"n": 21, "label": "answer"},
                        kernel_name=KERNEL, progress_bar=False, execution_timeout=120)
    result = nbformat.read(out, as_version=4)
    injected = [c for c in result.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    printed = "".join(o.get("text", "") for o in result.cells[-1].outputs)
    assert printed.strip() == "answer 42"


def test_jupyter_console_runs_a_cell():
    import pexpect

    child = pexpect.spawn(os.path.join(VENV_BIN, "jupyter"),
                          ["console", "--kernel", KERNEL, "--simple-prompt"],
                          env=_offline_env(), encoding="utf-8", timeout=60)
    try:
        child.expect(r"In \[1\]: ")
        child.sendline("print(6 * 7, 'from console')")
        child.expect("42 from console")
        child.expect(r"In \[2\]: ")
        child.sendeof()
        idx = child.expect([r"\(\[y\]/n\)\?", pexpect.EOF])
        if idx == 0:
            child.sendline("y")
            child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, f"console exited with {child.exitstatus}, signal {child.signalstatus}"
