"""The one output path: MIME bundle contents, plotly.js once per session, display updates."""
import json
import re

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import pytest

from anyviz.viz import output


@pytest.fixture(autouse=True)
def fresh_session():
    output.reset_session()
    yield
    output.reset_session()


def _fig():
    df = pd.DataFrame({"x": [1, 2, 3], "y": [4.0, np.nan, 6.0]})
    return px.line(df, x="x", y="y", title="Growth")


def test_bundle_has_plotly_json_html_and_plain():
    data, metadata = output.figure_bundle(_fig(), display_id="d1")
    assert set(data) == {output.PLOTLY_MIME, "text/html", "text/plain"}
    spec = data[output.PLOTLY_MIME]
    assert spec["layout"]["title"]["text"] == "Growth"
    assert spec["data"][0]["type"] == "scatter"
    text = json.dumps(spec, allow_nan=False)  # NaN-free
    assert "NaN" not in text
    assert data["text/plain"] == "Line chart 'Growth': 1 trace, 3 points"
    assert metadata["anyviz"]["display_id"] == "d1"


def test_plotlyjs_is_embedded_once_per_session():
    first, _ = output.figure_bundle(_fig(), display_id="a")
    second, _ = output.figure_bundle(_fig(), display_id="b")
    assert "if (!window.Plotly)" in first["text/html"]
    assert len(first["text/html"]) > 3_000_000  # the full plotly.min.js
    assert "window.Plotly.newPlot" in second["text/html"]
    assert "if (!window.Plotly)" not in second["text/html"]
    assert len(second["text/html"]) < 20_000
    assert "</script" not in first["text/html"].split("if (!window.Plotly)")[1].split(
        "\n}</script>")[0]


def test_update_of_the_display_that_carried_plotlyjs_carries_it_again():
    output.figure_bundle(_fig(), display_id="first")
    again, _ = output.figure_bundle(_fig(), display_id="first")
    other, _ = output.figure_bundle(_fig(), display_id="other")
    assert "if (!window.Plotly)" in again["text/html"]
    assert "if (!window.Plotly)" not in other["text/html"]


def test_html_escapes_script_breaking_text():
    fig = go.Figure(go.Bar(x=["</script><script>alert(1)</script>"], y=[1]))
    data, _ = output.figure_bundle(fig)
    data, _ = output.figure_bundle(fig)  # second: small bundle, no plotly.js
    assert "</script><script>alert(1)" not in data["text/html"]


def test_show_figure_publishes_chart_and_explanation(bridge):
    did = output.show_figure(_fig(), explanation="Growth over x.",
                             alternatives=["%viz df bar of y by x"],
                             note="The LLM was unavailable; planner chart shown.")
    shown = bridge.of_type("display_data")
    assert len(shown) == 2
    chart, info = shown
    assert chart["transient"]["display_id"] == did
    assert output.PLOTLY_MIME in chart["data"]
    md = info["data"]["text/markdown"]
    assert "Growth over x." in md and "%viz df bar of y by x" in md
    assert "planner chart shown" in md
    html = info["data"]["text/html"]
    assert "<code>%viz df bar of y by x</code>" in html and "Growth over x." in html
    assert "Note:" in info["data"]["text/plain"]


HOSTILE = ["<img src=x onerror=alert(1)>", "<script>window.__pwned=1</script>",
           "[x](javascript:alert(1))", "`` </code><img src=y onerror=alert(2)> ``",
           "\u202eevil\u2066 <b>bold</b>"]


def test_show_figure_escapes_hostile_explanation_note_and_alternatives(bridge):
    output.show_figure(_fig(), explanation=HOSTILE[0] + HOSTILE[2], note=HOSTILE[1],
                       alternatives=HOSTILE[3:])
    info = bridge.of_type("display_data")[1]["data"]
    for mime in ("text/html", "text/markdown"):
        text = info[mime]
        for tag in ("<img", "<script", "<b>", "</code><img"):
            assert tag not in text, (mime, text)
        assert "\u202e" not in text and "\u2066" not in text
    assert not re.search(r"(?<!\\)\]\(javascript:", info["text/markdown"])  # no live link
    assert "&lt;img src=x onerror=alert(1)&gt;" in info["text/html"]
    # The plain text is what the user wrote, minus direction controls.
    assert HOSTILE[0] in info["text/plain"] and "\u202e" not in info["text/plain"]


def test_giant_figure_strings_are_cut_before_encoding(bridge):
    fig = {"data": [{"type": "bar", "x": ["a"], "y": [1]}],
           "layout": {"meta": "A" * 50_000_000, "title": {"text": "T" * 200_000}}}
    output.show_figure(fig)
    chart, info = bridge.of_type("display_data")
    assert len(chart["data"]["text/html"]) < 6_000_000  # plotly.js + a small figure
    meta = chart["data"][output.PLOTLY_MIME]["layout"]["meta"]
    assert len(meta) < output.MAX_FIGURE_STRING + 100 and "characters cut" in meta
    assert "over the output budget" in info["data"]["text/plain"]


def test_typed_arrays_are_not_cut(bridge):
    import base64

    y = {"dtype": "f8", "bdata": base64.b64encode(np.arange(50_000, dtype="f8").tobytes())
         .decode()}
    fig = {"data": [{"type": "scatter", "mode": "markers", "y": y}], "layout": {}}
    output.show_figure(fig)
    chart = bridge.of_type("display_data")[0]["data"][output.PLOTLY_MIME]
    trace = chart["data"][0]
    assert isinstance(trace["y"], dict) and "characters cut" not in trace["y"]["bdata"]
    assert len(trace["y"]["bdata"]) > output.MAX_FIGURE_STRING


def test_too_many_traces_are_dropped_with_a_note(bridge):
    fig = {"data": [{"type": "scatter", "x": [i], "y": [i]} for i in range(2000)],
           "layout": {}}
    output.show_figure(fig)
    chart, info = bridge.of_type("display_data")
    assert len(chart["data"][output.PLOTLY_MIME]["data"]) == output.MAX_TRACES
    assert f"first {output.MAX_TRACES:,} of 2,000 traces" in info["data"]["text/plain"]


def test_figure_over_text_budget_is_refused_with_a_clear_message(monkeypatch):
    monkeypatch.setattr(output, "MAX_FIGURE_TEXT", 1000)
    fig = {"data": [{"type": "bar", "x": ["x" * 900, "y" * 900], "y": [1, 2]}], "layout": {}}
    with pytest.raises(output.FigureTooLarge, match="too large to show.*over 1,000 characters"):
        output.figure_bundle(fig)


def test_html_payload_has_no_raw_angle_bracket():
    fig = {"data": [{"type": "bar", "x": ["<!--<script>"], "y": [1]}],
           "layout": {"title": {"text": "</script><img src=x onerror=alert(1)>"}}}
    html = output._html_bundle(fig, include_js=False)
    script_body = html.split("var spec = ", 1)[1].split(";\n", 1)[0]
    assert "<" not in script_body


def test_show_figure_update_replaces_in_place(bridge):
    did = output.show_figure(_fig())
    fig = _fig().update_layout(title="Renamed")
    again = output.show_figure(fig, display_id=did, update=True, explanation="Renamed title")
    assert again == did
    updates = bridge.of_type("update_display_data")
    # First a placeholder of another MIME type (JupyterLab's Plotly renderer ignores updates of
    # a chart it already drew, plotly.py#3053), then the chart, then its explanation.
    assert updates[0]["transient"]["display_id"] == did
    assert list(updates[0]["data"]) == ["text/plain"]
    assert updates[1]["transient"]["display_id"] == did
    assert updates[1]["data"][output.PLOTLY_MIME]["layout"]["title"]["text"] == "Renamed"
    assert updates[2]["transient"]["display_id"] == did + "-info"


def test_user_figure_with_millions_of_points_is_reduced():
    n = 1_000_000
    fig = go.Figure(go.Scatter(x=np.arange(n), y=np.sin(np.arange(n) / 1000), mode="lines"))
    data, metadata = output.figure_bundle(fig)
    data, metadata = output.figure_bundle(fig)
    size = len(json.dumps(data[output.PLOTLY_MIME]))
    assert size < 2_000_000
    assert "1,000,000 rows shown as" in data["text/plain"]
    assert metadata["anyviz"]["summary"]["points"] <= 4000


# ------------------------------------------------------------------ anyviz.safety, the one rule
def test_safety_markdown_text_renders_as_its_characters():
    import html

    import mistune  # nbconvert's Markdown renderer (HTML exports)

    from anyviz import safety

    for text in HOSTILE + ["# heading", "- item", "+ item", "1. first", "2) second", "> quote",
                           "a | b", "$x$", "**bold** _em_ ~~s~~", "&lt;img&gt;",
                           "snake_case_name", "<https://x.org>", "![i](x.png)"]:
        rendered = mistune.html(safety.markdown_text(text))
        assert rendered.startswith("<p>") and rendered.endswith("</p>\n"), (text, rendered)
        inner = rendered[3:-5]
        assert "<" not in inner, (text, rendered)
        assert html.unescape(inner) == safety.plain(text), (text, rendered)


def test_safety_caps_cleans_and_escapes():
    from anyviz import safety

    assert safety.cap("A" * 100, 10) == "A" * 10 + "… (90 characters cut)"
    assert safety.plain("a\u202eb\u2066c\x1b[31md") == "abc\ufffd[31md"
    assert safety.has_bidi("x\u202ey") and not safety.has_bidi("xy")
    assert safety.html_text('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
    assert safety.html_code("`</code><b>`") == "<code>`&lt;/code&gt;&lt;b&gt;`</code>"
    assert len(safety.plain("x" * 50_000_000)) < safety.TEXT_LIMIT + 40
    assert safety.py_literal("it's \"q\"\n") == repr("it's \"q\"\n")
    assert safety.prompt_value("v" * 100) == "v" * 39 + "…"
    assert safety.prompt_name("a\nb") == "'a b'"
