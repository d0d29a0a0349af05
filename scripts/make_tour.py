"""Regenerate notebooks/tour.ipynb (run from the repo root with .venv/bin/python). Cell tags are
used by tests/integration/test_notebooks.py: anyviz-magic cells are dropped when the harness is
checked against ipykernel."""
import nbformat
from nbformat.v4 import new_notebook, new_markdown_cell, new_code_cell

def code(src, *tags):
    c = new_code_cell(src)
    if tags:
        c.metadata["tags"] = list(tags)
    return c

cells = [
    new_markdown_cell("# AnyViz tour\n\nAnyViz is a Python kernel: everything you know from Python works, "
                      "plus magics that load, profile and chart data. This tour runs offline: the data "
                      "comes from `plotly.data`, and without an LLM key `%viz` uses its local planner."),
    new_markdown_cell("## Python basics"),
    code("squares = [n * n for n in range(10)]\nsum(squares)", "basics"),
    code("def greet(name):\n    return f'hello, {name}'\n\nprint(greet('AnyViz'))", "basics"),
    new_markdown_cell("## A DataFrame\n\n`plotly.data.gapminder()` ships with plotly, so no download is needed."),
    code("import plotly.data\n\ngapminder = plotly.data.gapminder()\ngapminder.shape", "dataframe"),
    code("latest = gapminder[gapminder['year'] == 2007]\ndisplay(latest.head())", "dataframe", "display"),
    code("import plotly.express as px\n\nby_continent = latest.groupby('continent', as_index=False)['pop'].sum()\n"
         "px.bar(by_continent, x='continent', y='pop', title='Population by continent, 2007')", "plotly"),
    new_markdown_cell("## Magics\n\n`%load` reads files into DataFrames (CSV, Parquet, JSON, Excel...), "
                      "`%profile` summarises a frame, `%viz` draws a chart from a plain-English request. "
                      "`%lsmagic` lists them all; `%load?` shows help."),
    code("import os\n\nos.makedirs('/tmp/anyviz_tour', exist_ok=True)\n"
         "latest.to_csv('/tmp/anyviz_tour/gapminder_2007.csv', index=False)"),
    code("%load /tmp/anyviz_tour/gapminder_2007.csv", "anyviz-magic", "load"),
    code("%profile gapminder_2007", "anyviz-magic", "profile"),
    code("%viz gapminder_2007 average life expectancy by continent", "anyviz-magic", "viz"),
    new_markdown_cell("`%viz` understands column names in everyday words (\"life expectancy\" for "
                      "`lifeExp`, \"gdp\" for `gdpPercap`), filters, top-N and time trends, and says "
                      "which columns and aggregation it chose. `%customize` changes the last chart in "
                      "place; `%viz --code` puts the chart's code (with the customizations) into the "
                      "next cell, so the notebook stays reproducible without AnyViz."),
    code("%viz gdp vs life expectancy colored by continent", "anyviz-magic", "viz-scatter"),
    code("%customize log scale y and title 'Wealth and health, 2007'", "anyviz-magic", "customize"),
    code("%viz top 5 countries by population", "anyviz-magic", "viz-top"),
    code("%viz", "anyviz-magic", "viz-recommend"),
    new_markdown_cell("## With an LLM\n\nSet `GEMINI_API_KEY`, or `OPENAI_API_KEY` (or "
                      "`ANYVIZ_LLM_PROVIDER=openai` with `ANYVIZ_LLM_BASE_URL` for Ollama, llama.cpp, "
                      "vLLM, LM Studio) before starting Jupyter, or use `%llm`. The LLM's code runs in a "
                      "sandbox; if it fails, AnyViz repairs it or falls back to the planner, and says so."),
    code("%llm", "anyviz-magic"),
    code("%lsmagic", "anyviz-magic"),
]
nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "anyviz", "display_name": "AnyViz (Python)", "language": "python"},
    "language_info": {"name": "python", "file_extension": ".py"},
})
nbformat.validate(nb)
nbformat.write(nb, "notebooks/tour.ipynb")
