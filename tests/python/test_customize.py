"""Offline %customize: each instruction changes the figure JSON the way it says."""
import numpy as np
import pandas as pd
import plotly.data as pdata
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from anyviz.viz import customize, planner

TIPS = pdata.tips()
GAP = pdata.gapminder()


def chart(df, request):
    plan = planner.plan_chart(df, request)
    ns = {"df": df, "px": px, "pd": pd, "np": np, "go": go}
    exec(plan.code, ns)
    return ns["fig"]


def apply(fig, instruction, df=TIPS):
    edit = customize.translate(instruction, fig.to_plotly_json(), list(df.columns))
    assert edit is not None, f"not understood: {instruction}"
    ns = {"df": df, "px": px, "pd": pd, "np": np, "go": go, "fig": fig}
    exec(edit.code, ns)
    return ns["fig"], edit


@pytest.fixture
def bar():
    return chart(TIPS, "average tip by day")


@pytest.fixture
def lines():
    return chart(GAP, "population over time by continent")


def test_title_quoted(bar):
    fig, edit = apply(bar, "title 'Sales 2024'")
    assert fig.layout.title.text == "Sales 2024" and "Sales 2024" in edit.description


def test_title_unquoted_keeps_case(bar):
    fig, _ = apply(bar, "set the title to Tips per Day")
    assert fig.layout.title.text == "Tips per Day"


def test_axis_labels(bar):
    fig, _ = apply(bar, "x label Weekday and y label 'Mean tip ($)'")
    assert fig.layout.xaxis.title.text == "Weekday"
    assert fig.layout.yaxis.title.text == "Mean tip ($)"


@pytest.mark.parametrize("words,template", [("dark theme", "plotly_dark"), ("white", "plotly_white"),
                                            ("minimal style", "simple_white"),
                                            ("presentation theme", "presentation")])
def test_themes(bar, words, template):
    fig, _ = apply(bar, words)
    expected = pio.templates[template].layout
    assert fig.layout.template.layout.paper_bgcolor == expected.paper_bgcolor
    assert fig.layout.template.layout.font.size == expected.font.size


def test_named_colour(bar):
    fig, _ = apply(bar, "make the bars crimson")
    assert fig.data[0].marker.color == "crimson"


def test_colour_blind_palette(lines):
    fig, _ = apply(lines, "colour-blind safe")
    safe = px.colors.qualitative.Safe
    assert [t.line.color for t in fig.data] == safe[:len(fig.data)]


def test_named_palette(lines):
    fig, _ = apply(lines, "palette Pastel")
    assert fig.data[1].line.color == px.colors.qualitative.Pastel[1]


@pytest.mark.parametrize("words,axis", [("log scale on y", "y"), ("log x", "x"), ("logarithmic y axis", "y")])
def test_log(lines, words, axis):
    fig, _ = apply(lines, words, GAP)
    assert getattr(fig.layout, f"{axis}axis").type == "log"


def test_bar_to_line_keeps_values(bar):
    before = dict(zip(bar.data[0].x, bar.data[0].y))
    title = bar.layout.title.text
    fig, _ = apply(bar, "make it a line chart")
    assert fig.data[0].type == "scatter" and fig.data[0].mode == "lines"
    assert dict(zip(fig.data[0].x, fig.data[0].y)) == before
    assert fig.layout.title.text == title


def test_line_to_area_and_bar(lines):
    fig, _ = apply(lines, "as an area chart", GAP)
    assert all(t.stackgroup == "one" for t in fig.data) and len(fig.data) == 5
    fig, _ = apply(lines, "switch to bars", GAP)
    assert {t.type for t in fig.data} == {"bar"} and fig.layout.barmode == "group"


def test_bar_to_pie(bar):
    fig, _ = apply(bar, "pie chart")
    assert fig.data[0].type == "pie" and list(fig.data[0].values) == list(bar.data[0].y)


def test_horizontal_then_vertical(bar):
    days = list(bar.data[0].x)  # snippets edit fig in place: keep the original values
    fig, _ = apply(bar, "horizontal")
    t = fig.data[0]
    assert t.orientation == "h" and list(t.y) == days
    assert fig.layout.yaxis.title.text == "day"
    fig, _ = apply(fig, "vertical")
    assert fig.data[0].orientation == "v" and list(fig.data[0].x) == days


def test_barmode():
    fig = chart(TIPS, "average tip by day colored by sex")
    assert fig.layout.barmode == "group"
    fig, _ = apply(fig, "stacked")
    assert fig.layout.barmode == "stack"
    fig, _ = apply(fig, "grouped")
    assert fig.layout.barmode == "group"
    fig, _ = apply(fig, "100% stacked")
    assert fig.layout.barmode == "stack" and fig.layout.barnorm == "percent"


def test_sort(bar):
    fig, _ = apply(bar, "sort ascending")
    assert fig.layout.xaxis.categoryorder == "total ascending"
    fig, _ = apply(bar, "sort alphabetically")
    assert fig.layout.xaxis.categoryorder == "category ascending"


def test_size(bar):
    fig, _ = apply(bar, "width 900 height 500")
    assert (fig.layout.width, fig.layout.height) == (900, 500)
    fig, _ = apply(fig, "bigger")
    assert fig.layout.width > 900 and fig.layout.height > 500


def test_legend(lines):
    fig, _ = apply(lines, "hide the legend", GAP)
    assert fig.layout.showlegend is False
    fig, _ = apply(lines, "legend at the bottom", GAP)
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0


def test_font_size(bar):
    fig, _ = apply(bar, "font size 18")
    assert fig.layout.font.size == 18


def test_values_on_bars(bar):
    fig, _ = apply(bar, "show values on bars")
    assert fig.data[0].texttemplate and fig.data[0].textposition == "outside"


def test_facet_rebuilds_from_df():
    fig = chart(TIPS, "average tip by day")
    fig, _ = apply(fig, "title 'Tips'")
    fig, edit = apply(fig, "facet by sex")
    assert {t.xaxis for t in fig.data} == {"x", "x2"}
    got = {(t.xaxis, x): y for t in fig.data for x, y in zip(t.x, t.y)}
    exp = TIPS.groupby(["sex", "day"])["tip"].mean()
    assert len(got) == len(exp)
    female = {x: y for (ax, x), y in got.items() if ax == "x"}
    assert np.allclose([female[d] for d in sorted(female)], [exp["Female"][d] for d in sorted(female)]) or \
        np.allclose([female[d] for d in sorted(female)], [exp["Male"][d] for d in sorted(female)])
    assert "sex" in edit.description


def test_several_edits_in_one_instruction(bar):
    fig, edit = apply(bar, "title 'Tips'; dark theme, log y")
    assert fig.layout.title.text == "Tips" and fig.layout.yaxis.type == "log"
    assert fig.layout.template.layout.paper_bgcolor == pio.templates["plotly_dark"].layout.paper_bgcolor


def test_unknown_returns_none(bar):
    assert customize.translate("make it sparkle like a unicorn", bar.to_plotly_json(), []) is None
    assert "GEMINI_API_KEY" in customize.OFFLINE_HELP


def test_partly_understood_reports_rest(bar):
    edit = customize.translate("dark theme and make it sparkle", bar.to_plotly_json(), [])
    assert edit is not None and edit.unknown == ["make it sparkle"]
    assert "sparkle" in edit.description
