"""Replies as models really write them: the chart pipeline must get runnable code from each.

These are the cases the Swift `ChartReply` parser was tested with before the pipeline moved to
Python, plus prose a model may write around bare code.
"""
import json

import pytest

from anyviz import llm_http

parse = llm_http.parse_chart_reply
def test_a_plain_json_object():
    reply = parse(json.dumps({"code": "fig = px.bar(df, x='region', y='sales')",
                              "explanation": "Sales by region.",
                              "alternatives": ["pie of sales", "line over time"]}))
    assert reply.code == "fig = px.bar(df, x='region', y='sales')"
    assert reply.explanation == "Sales by region."
    assert reply.alternatives == ["pie of sales", "line over time"]


def test_json_in_a_json_fence_with_prose_around():
    text = ("Sure! Here is the chart you asked for:\n```json\n"
            '{"code": "import plotly.express as px\\nfig = px.line(df, x=\'date\', y=\'value\')",\n'
            ' "explanation": "A line shows the trend.", "alternatives": []}\n'
            "```\nLet me know if you need anything else.")
    reply = parse(text)
    assert reply.code == "import plotly.express as px\nfig = px.line(df, x='date', y='value')"
    assert (reply.explanation, reply.alternatives) == ("A line shows the trend.", [])


def test_raw_newlines_and_tabs_inside_the_code_string():
    reply = parse('{"code": "fig = px.scatter(df,\n\tx=\'a\', y=\'b\')", "explanation": "Scatter."}')
    assert reply.code == "fig = px.scatter(df,\n\tx='a', y='b')"
    assert reply.explanation == "Scatter."


def test_json_inside_prose_without_a_fence():
    text = 'Answer: {"code": "fig = px.histogram(df, x=\'age\')", "explanation": "Ages."} Hope it helps.'
    assert parse(text).code == "fig = px.histogram(df, x='age')"


def test_code_as_a_fenced_list_and_alternatives_as_objects():
    reply = parse(json.dumps({
        "code": ["```python", "import plotly.express as px", "fig = px.box(df, y='price')", "```"],
        "alternatives": [{"title": "Violin", "description": "shows density"}, "Histogram"]}))
    assert reply.code == "import plotly.express as px\nfig = px.box(df, y='price')"
    assert reply.explanation == ""
    assert reply.alternatives == ["Violin: shows density", "Histogram"]


def test_python_fence_with_explanation_and_an_alternatives_list():
    code = ('import plotly.express as px\nfig = px.bar(df, x="month", y="revenue")\n'
            'fig.update_layout(title="Revenue")')
    text = (f"Here is the code:\n\n```python\n{code}\n```\n\n"
            "A bar chart compares months side by side.\n\n**Alternatives:**\n"
            "- A line chart of revenue over months\n- A table of the top months\n")
    reply = parse(text)
    assert reply.code == code
    assert reply.explanation == "A bar chart compares months side by side."
    assert reply.alternatives == ["A line chart of revenue over months", "A table of the top months"]


def test_unlabelled_fence_and_fence_cut_off_by_the_token_limit():
    assert parse("```\nfig = px.pie(df, names='k')\n```").code == "fig = px.pie(df, names='k')"
    cut_off = "Chart:\n```py\nfig = px.area(df)\nfig.update_traces()"
    assert parse(cut_off).code == "fig = px.area(df)\nfig.update_traces()"


def test_python_fence_preferred_over_other_languages():
    text = "Run:\n```bash\npip install plotly\n```\n```python\nfig = px.bar(df)\n```"
    assert parse(text).code == "fig = px.bar(df)"


def test_bare_code_between_prose_lines():
    code = 'import plotly.express as px\nfig = px.scatter(\n    df, x="height", y="weight",\n)'
    reply = parse(f"Here is the code:\n{code}\nThis plots height against weight.\n")
    assert reply.code == code
    assert reply.explanation == "This plots height against weight."


def test_bare_code_only():
    code = "fig = px.bar(df, x='a', y='b')\nfig.update_layout(bargap=0.1)"
    reply = parse(f"\n{code}\n\n")
    assert (reply.code, reply.explanation, reply.alternatives) == (code, "", [])


@pytest.mark.parametrize("text", ["", "I cannot help with that request.",
                                  "```python\n# nothing to do\n```",
                                  '{"code": "", "explanation": "none"}'])
def test_no_code_is_an_error(text):
    with pytest.raises(llm_http.LLMError):
        parse(text)


def test_crlf_and_a_single_alternative_string():
    reply = parse('{"code": "fig = px.bar(df)",\r\n "alternatives": "a stacked bar"}')
    assert reply.alternatives == ["a stacked bar"]


def test_a_python_dict_with_a_code_key_is_not_the_reply():
    bare = "fig = px.bar(df, x='code', labels={\"code\": \"Product code\"})"
    assert parse(bare).code == bare
    reply = parse(f"```python\n{bare}\n```\nBars per product.")
    assert (reply.code, reply.explanation) == (bare, "Bars per product.")


@pytest.mark.parametrize("text", ["Sure", "Sorry, I can't draw that.", "fig", "x"])
def test_prose_that_happens_to_parse_is_not_code(text):
    with pytest.raises(llm_http.LLMError):
        parse(text)


def test_alternatives_heading_variants():
    reply = parse("```python\nfig = px.line(df, x='d', y='v')\n```\nA trend.\n\n"
                  "## Other charts\n1. An area chart of v\n2) A bar per month\nThat is all.")
    assert reply.alternatives == ["An area chart of v", "A bar per month"]
    assert reply.explanation == "A trend.\nThat is all."
