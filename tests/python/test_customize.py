"""Offline %customize: instructions -> changes -> the original chart re-rendered with all of them.

The first half runs the generated code in-process (fast, exact figure checks); the second half
goes through the viz API with the real guard and the fake bridge, as %customize does.
"""

import numpy as np
import pandas as pd
import plotly.data as pdata
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from anyviz import session
from anyviz.viz import api, charts, customize, customize_apply, guard, output, planner

TIPS = pdata.tips()
GAP = pdata.gapminder()
POP_2007 = "total population by continent in 2007"


def chart(df, request):
    plan = planner.plan_chart(df, request)
    ns = {"df": df, "px": px, "pd": pd, "np": np, "go": go}
    exec(plan.code, ns)
    return plan.code, ns["fig"].to_plotly_json()


def apply(base, instructions, df=TIPS):
    """Parse each instruction against the chart as the earlier ones left it, then render the
    ORIGINAL chart with all the changes (what charts.customize does)."""
    code, figure = base
    view = customize_apply.base_view(figure, df.columns)
    changes = []
    for text in instructions:
        parsed = customize.parse(text, view, customize_apply.advance)
        assert parsed.ok, (text, parsed.message())
        for ch in parsed.changes:
            view = customize_apply.advance(view, ch)
        changes += parsed.changes
    ns = {"df": df, "px": px, "pd": pd, "np": np, "go": go}
    full = customize_apply.chart_code(code, figure, changes, df.columns)
    assert guard.check_code(full) == [], full
    exec(full, ns)
    return ns["fig"], changes


def numbers(values):
    if isinstance(values, dict):  # plotly's typed arrays
        import base64
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


@pytest.fixture(scope="module")
def pop():
    return chart(GAP, POP_2007)


@pytest.fixture(scope="module")
def bar():
    return chart(TIPS, "average tip by day")


@pytest.fixture(scope="module")
def lines():
    return chart(GAP, "population over time by continent")


# ------------------------------------------------------------------ the sequences
def test_log_then_horizontal_keeps_log_on_the_value_axis(pop):
    fig, _ = apply(pop, ["log scale y", "horizontal"], GAP)
    bars = fig.data[0]
    assert bars.orientation == "h"
    assert all(isinstance(v, str) for v in bars.y)  # continents on y
    assert min(bars.x) > 1e7  # populations on x (2007 totals)
    assert fig.layout.xaxis.type == "log"
    assert fig.layout.yaxis.type in (None, "-", "category", "linear")
    assert fig.layout.yaxis.autorange == "reversed"  # the first (largest) bar stays first: on top
    # axis titles moved with the axes
    assert "continent" in (fig.layout.yaxis.title.text or "").lower()


def test_changes_compose_in_any_order(pop):
    a, _ = apply(pop, ["log scale y", "horizontal", "title 'Pop'"], GAP)
    b, _ = apply(pop, ["horizontal", "title 'Pop'", "log scale x"], GAP)
    assert pio.to_json(a) == pio.to_json(b)


def test_thinner_bars_and_serif_keep_earlier_changes(pop):
    fig, changes = apply(pop, ["horizontal", "stacked",
                               "make the bars thinner and use a serif font"], GAP)
    assert fig.data[0].orientation == "h"
    assert fig.layout.barmode == "stack"
    assert fig.layout.bargap > 0.4
    assert "serif" in fig.layout.font.family
    assert [c.description for c in changes][-2:] == ["thinner bars", "serif font"]


def test_back_to_vertical_restores_the_original_axes(pop):
    code, figure = pop
    ns = {"df": GAP, "px": px, "pd": pd, "np": np, "go": go}
    exec(code, ns)
    fig, _ = apply(pop, ["horizontal", "vertical"], GAP)
    assert pio.to_json(fig) == pio.to_json(ns["fig"])


# ------------------------------------------------------------------ single intents
@pytest.mark.parametrize("instruction,key,value", [
    ("title 'Sales 2024'", "title", "Sales 2024"),
    ("set the title to Revenue by Day", "title", "Revenue by Day"),
    ("dark theme", "theme", "plotly_dark"),
    ("color the bars red", "colour", "red"),
    ("palette Pastel", "palette", "Pastel"),
    ("colour-blind safe", "palette", "Safe"),
    ("stacked", "barmode", "stack"),
    ("100% stacked", "barmode", "percent"),
    ("sort descending", "sort", "descending"),
    ("width 900 height 500", "size", {"width": 900, "height": 500}),
    ("font size 14", "font_size", 14),
    ("sans-serif font", "font_family", customize.FONT_FAMILIES["sans"]),
    ("monospace font", "font_family", customize.FONT_FAMILIES["mono"]),
    ("thicker bars", "bargap", "thicker"),
    ("legend at the bottom", "legend", "bottom"),
    ("hide the legend", "legend", "hidden"),
    ("hide gridlines", "grid", False),
    ("as a line chart", "chart", "line"),
])
def test_intent(bar, instruction, key, value):
    view = customize_apply.base_view(bar[1], TIPS.columns)
    parsed = customize.parse(instruction, view)
    assert parsed.ok, parsed.message()
    assert [(c.key, c.value) for c in parsed.changes] == [(key, value)]


def test_rendered_intents(bar, lines):
    fig, _ = apply(bar, ["title 'Tips'", "x label Weekday", "y label Tip ($)", "dark theme",
                         "bigger", "show values on bars", "sort ascending"])
    assert fig.layout.title.text == "Tips"
    assert fig.layout.xaxis.title.text == "Weekday"
    assert fig.layout.yaxis.title.text == "Tip ($)"
    assert fig.layout.template.layout.paper_bgcolor is not None
    assert fig.layout.width == int(800 * 1.3)
    assert fig.data[0].texttemplate == "%{y:.3s}"
    assert fig.layout.xaxis.categoryorder == "total ascending"
    line_fig, _ = apply(lines, ["log scale y", "as an area chart"], GAP)
    assert line_fig.layout.yaxis.type == "log"
    assert all(t.stackgroup == "one" for t in line_fig.data)


def test_axis_label_follows_its_axis_when_flipped(bar):
    fig, _ = apply(bar, ["x label Weekday", "horizontal"])
    assert fig.layout.yaxis.title.text == "Weekday"  # the days are on y now
    assert fig.data[0].orientation == "h"


def test_bar_to_line_keeps_values(bar):
    fig, _ = apply(bar, ["as a line chart"])
    assert fig.data[0].type == "scatter" and fig.data[0].mode == "lines"
    assert list(fig.data[0].x) == list(bar[1]["data"][0]["x"])


def test_facet_rebuilds_from_df():
    base = chart(TIPS, "average tip by day and sex")
    fig, changes = apply(base, ["facet by smoker"])
    assert changes[0].value == "smoker"
    annotations = [a.text for a in fig.layout.annotations]
    assert any("smoker=Yes" in t for t in annotations)


# ------------------------------------------------------------------ not understood
def test_unknown_instruction_changes_nothing_and_names_the_words(bar):
    view = customize_apply.base_view(bar[1], TIPS.columns)
    parsed = customize.parse("make it sparkle like a unicorn", view)
    assert not parsed.ok and parsed.changes == []
    msg = parsed.message()
    assert "'sparkle'" in msg and "'unicorn'" in msg and msg.startswith("Nothing changed")


def test_partly_understood_changes_nothing_and_suggests(bar):
    view = customize_apply.base_view(bar[1], TIPS.columns)
    parsed = customize.parse("dark theme and make the bars thiner", view)
    assert not parsed.ok and parsed.changes == []
    assert "'thiner'" in parsed.message() and "'thinner'" in parsed.message()


def test_orientation_on_a_line_chart_is_refused(lines):
    view = customize_apply.base_view(lines[1], GAP.columns)
    change = customize.parse("horizontal", view).changes[0]
    assert "bar and box charts" in customize_apply.problems(view, change)


# ------------------------------------------------------------------ through the viz API
pytestmark = pytest.mark.usefixtures("chart_worker")  # one warm sandbox per module


@pytest.fixture
def frames(bridge):
    saved = dict(session.user_ns)
    session.user_ns.update(gapminder=GAP.copy(), tips=TIPS.copy())
    api._last.clear()
    charts._by_frame.clear()
    charts._current[0] = None
    output.reset_session()
    yield
    for k in ("gapminder", "tips"):
        session.user_ns.pop(k, None)
    session.user_ns.update({k: v for k, v in saved.items() if k not in session.user_ns})


def call(fn, **args):
    return fn(args)


def viz(frame, request):
    plan = call(api.plan, frame=frame, request=request)
    shown = call(api.render, frame=frame, code=plan["code"], request=request, source="planner")
    assert shown["status"] == "ok", shown
    return shown


def plotly_outputs(bridge, kind):
    return [m for m in bridge.of_type(kind) if output.PLOTLY_MIME in m["data"]]


def cell_lines(bridge):
    return [m["data"]["text/plain"] for m in bridge.of_type("display_data")
            if set(m["data"]) == {"text/plain"}]


def test_api_sequence_updates_in_place_and_confirms_in_the_cell(frames, bridge):
    first = viz("gapminder", POP_2007)
    for instruction in ("log scale y", "horizontal", "make the bars thinner and use a serif font"):
        bridge.messages.clear()
        r = call(api.customize, instruction=instruction)
        assert r["status"] == "ok", r["message"]
        update = plotly_outputs(bridge, "update_display_data")[-1]
        copy = plotly_outputs(bridge, "display_data")[-1]
        assert update["transient"]["display_id"] == first["display_id"]
        assert copy["transient"]["display_id"] == first["display_id"]
        (line,) = cell_lines(bridge)
        assert line.startswith("Changed the chart “") and "(gapminder)" in line
        assert "http" not in line
    fig = copy["data"][output.PLOTLY_MIME]
    assert fig["data"][0]["orientation"] == "h"
    assert fig["layout"]["xaxis"]["type"] == "log"
    assert min(numbers(fig["data"][0]["x"])) > 1e7  # non-empty bars on the log axis
    assert "serif" in fig["layout"]["font"]["family"] and fig["layout"]["bargap"] > 0.4
    info = [m for m in bridge.of_type("update_display_data")
            if m["transient"]["display_id"] == first["display_id"] + "-info"][-1]
    assert info["data"]["text/plain"] == ("Customized: log scale on y; horizontal bars; "
                                          "thinner bars; serif font.")


def test_api_unknown_changes_nothing(frames, bridge):
    viz("gapminder", POP_2007)
    call(api.customize, instruction="horizontal")
    bridge.messages.clear()
    r = call(api.customize, instruction="make the chart sparkle")
    assert r["status"] == "unknown" and "'sparkle'" in r["message"]
    assert "GEMINI_API_KEY" in r["message"] and "%llm" in r["message"]
    assert plotly_outputs(bridge, "update_display_data") == []
    listed = call(api.customize, instruction="--list")
    assert listed["status"] == "ok" and [s["description"] for s in listed["steps"]] == \
        ["horizontal bars"]


def test_api_list_undo_and_script(frames, bridge):
    viz("gapminder", POP_2007)
    call(api.customize, instruction="log scale y")
    call(api.customize, instruction="title 'World'")
    r = call(api.customize, instruction="--list")
    assert "1. log scale on y" in r["message"] and "2. title set to 'World'" in r["message"]
    bridge.messages.clear()
    r = call(api.customize, instruction="--undo")
    assert r["status"] == "ok"
    fig = plotly_outputs(bridge, "display_data")[-1]["data"][output.PLOTLY_MIME]
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert fig["layout"]["title"]["text"] != "World"
    last = call(api.last_chart)
    assert "type='log'" in last["code"] and "World" not in last["code"]
    call(api.customize, instruction="--undo")
    r = call(api.customize, instruction="--undo")
    assert r["status"] == "unknown" and "Nothing to undo" in r["message"]


def test_api_last_chart_per_frame(frames, bridge):
    viz("gapminder", POP_2007)
    tips_chart = viz("tips", "average tip by day")
    r = call(api.customize, instruction="title 'Tips'")
    assert r["display_id"] == tips_chart["display_id"]
    r = call(api.customize, instruction="--df gapminder log scale y")
    assert r["status"] == "ok" and r["display_id"] != tips_chart["display_id"]
    # the gapminder chart is now the current one
    assert call(api.last_chart)["frame"] == "gapminder"
    r = call(api.customize, instruction="--df nope title x")
    assert r["status"] == "no_chart" and "'nope'" in r["message"]


def test_api_llm_edit_is_a_step_to_undo(frames, bridge):
    viz("tips", "average tip by day")
    code = "fig = px.box(df, x='day', y='tip', title='Tips spread')"
    assert call(api.apply_custom_code, code=code, instruction="as a box plot")["status"] == "ok"
    assert "LLM" in cell_lines(bridge)[-1]
    r = call(api.customize, instruction="horizontal")
    assert r["status"] == "ok" and r["code"].startswith(code)
    call(api.customize, instruction="--undo")
    bridge.messages.clear()
    call(api.customize, instruction="--undo")
    fig = plotly_outputs(bridge, "display_data")[-1]["data"][output.PLOTLY_MIME]
    assert fig["data"][0]["type"] == "bar"


def test_undoing_every_change_clears_the_customized_note(frames, bridge):
    viz("gapminder", POP_2007)
    call(api.customize, instruction="log scale y")
    bridge.messages.clear()
    call(api.customize, instruction="--undo")
    infos = [m for m in bridge.of_type("update_display_data")
             if m.get("transient", {}).get("display_id", "").endswith("-info")]
    assert infos, "the note under the chart was not updated"
    assert "Customized" not in str(infos[-1]["data"])
