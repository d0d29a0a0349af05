"""Planner output a user can trust: column names only as literals in generated code, requests
that are not understood get a message with suggestions (never a random chart), the frame used
last is the one charted next, and the explanation shows the parsed specification."""
import ast
import os

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import pytest

from anyviz.errors import AnyVizError
from anyviz.viz import planner

EVIL = "x'); __import__('os').system('echo INJECTED'); ('"
EVIL2 = 'y"]) or __import__("os").system("echo INJECTED") or (["'


def _evil_frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame({EVIL: rng.choice(["a", "b", "c"], 30), EVIL2: rng.normal(size=30),
                         "when": pd.date_range("2024-01-01", periods=30, freq="D")})


def _names_only_in_literals(code: str, names) -> None:
    """Every occurrence of a column name is inside a string constant of the parsed code."""
    tree = ast.parse(code)
    literal_text = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    for name in names:
        assert any(name in s for s in literal_text), f"{name!r} never appears as a literal"
        stripped = code
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                stripped = stripped.replace(repr(node.value), "''")
        assert "__import__" not in stripped and "system(" not in stripped, stripped


@pytest.mark.parametrize("request_text,options", [
    (f"count by `{EVIL}`", None),
    (f"average `{EVIL2}` by `{EVIL}`", None),
    (f"`{EVIL2}` over time by `{EVIL}`", None),
    ("", {"x": EVIL, "y": EVIL2}),
    ("", {"type": "scatter", "x": "when", "y": EVIL2, "color": EVIL}),
])
def test_column_names_are_quoted_literals_never_code(request_text, options, monkeypatch):
    df = _evil_frame()
    plan = planner.plan_chart(df, request_text, options=options, frame_name="evil")
    _names_only_in_literals(plan.code, [c for c in (EVIL, EVIL2) if c in plan.code or repr(c) in plan.code])
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    ns = {"df": df, "px": px, "pd": pd, "np": np, "go": go}
    exec(plan.code, ns)
    assert not calls and ns["fig"].data


def test_filter_values_and_text_patterns_are_literals():
    df = pd.DataFrame({"name": ["a'b", "c"], "v": [1, 2], "kind": ["x'); import os; ('", "y"]})
    plan = planner.plan_chart(df, "v by name for `x'); import os; ('`", frame_name="t")
    assert [f.describe() for f in plan.spec.filters] == ["kind = x'); import os; ('"]
    tree = ast.parse(plan.code)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not imports


def test_request_not_understood_says_which_words_and_what_would_work():
    df = pd.DataFrame({"day": ["Mon", "Tue", "Mon"], "tip": [1.0, 2.0, 3.0], "bill": [10.0, 12.0, 9.0]})
    with pytest.raises(AnyVizError) as err:
        planner.plan_chart(df, "average salary", frame_name="tips")
    msg = str(err.value)
    assert "Not understood: 'salary'" in msg
    assert "--df tips" in msg and "%viz --df tips average" in msg
    for suggestion in msg.split("Requests that would work: ")[1].rstrip(".").split("; "):
        request = suggestion.split("--df tips ", 1)[1]
        assert planner.plan_chart(df, request, frame_name="tips").code  # each runs as shown


def test_explanation_names_frame_and_specification():
    df = pd.DataFrame({"day": ["Mon", "Tue", "Mon"], "tip": [1.0, 2.0, 3.0]})
    plan = planner.plan_chart(df, "average tip by day in descending order", frame_name="tips")
    assert "of tips:" in plan.explanation
    assert "Read as: chart bar, x day, y tip (average), sort y descending" in plan.explanation
    assert plan.alternatives and all(a.startswith("%viz --df tips ") for a in plan.alternatives)


def test_frame_used_last_is_charted_next(clean_data_session):
    from anyviz import session
    from anyviz.viz import api

    session.user_ns["first"] = pd.DataFrame({"a": ["x", "y"], "n": [1, 2]})
    session.user_ns["second"] = pd.DataFrame({"b": ["p", "q", "p"], "m": [3, 4, 5]})
    session.set_current_frame("first")  # loaded last
    api.plan({"frame": "second", "request": "count by b"})
    reply = api.plan({"request": "average m by b"})
    assert "of second:" in reply["explanation"]
    assert all("--df second" in a for a in reply["alternatives"])


@pytest.mark.parametrize("frame_name,request_text", [
    ("tips", "tip percentage by party size"), ("tips", "average tip by day"), ("gap", "growth of population per year"),
    ("gap", "map of population by country in 2007"), ("tips", "tip vs total bill"), ("gap", "pop by continent"),
    ("tips", "histogram of total bill"), ("gap", "life expectancy over time by continent"),
])
def test_every_suggested_request_runs_as_shown(frame_name, request_text):
    import plotly.data as pdata
    df = {"tips": pdata.tips, "gap": pdata.gapminder}[frame_name]()
    plan = planner.plan_chart(df, request_text, frame_name=frame_name)
    assert plan.alternatives
    for alt in plan.alternatives:
        assert alt.startswith(f"%viz --df {frame_name} ")
        follow = planner.plan_chart(df, alt.split(f"--df {frame_name} ", 1)[1], frame_name=frame_name)
        ns = {"df": df, "px": px, "pd": pd, "np": np, "go": go}
        exec(follow.code, ns)
        assert ns["fig"].data, alt
