"""Tab completion: exact match sets and cursor ranges, as a front end would apply them."""
import json
import os

import pandas as pd
import pytest

from anyviz import completion, runtime, session

MAGICS = ["load", "lsmagic", "profile", "viz", "customize"]


def complete(code, ns=None, cursor_pos=None):
    pos = len(code) if cursor_pos is None else cursor_pos
    return completion.complete(code, pos, {} if ns is None else ns, MAGICS)


def apply(code, reply, match):
    """The text a front end produces when the user picks `match`."""
    return code[:reply["cursor_start"]] + match + code[reply["cursor_end"]:]


class Point:
    alpha = 1
    alps = 2
    beta = 3
    _hidden = 4

    def __init__(self):
        self.inner = Point.__new__(Point)


def test_builtin_name_in_empty_namespace():
    reply = complete("zi")
    assert reply["matches"] == ["zip"]
    assert (reply["cursor_start"], reply["cursor_end"]) == (0, 2)


def test_user_names_builtins_and_keywords_merge_sorted():
    reply = complete("x = wh", {"whale": 1, "wheat": 2, "_whisper": 3})
    assert reply["matches"] == ["whale", "wheat", "while"]
    assert apply("x = wh", reply, "whale") == "x = whale"


def test_private_names_only_after_underscore():
    assert complete("_wh", {"_whisper": 3})["matches"] == ["_whisper"]


def test_nothing_typed_or_after_digit_gives_nothing():
    assert complete("x = ")["matches"] == []
    assert complete("1e")["matches"] == []


def test_cursor_in_the_middle_of_code():
    code = "zi + other"
    reply = complete(code, cursor_pos=2)
    assert reply["matches"] == ["zip"] and reply["cursor_end"] == 2


def test_cursor_counts_code_points():
    code = "s = '😀é'; zi"  # the emoji is one code point (two UTF-16 units)
    reply = json.loads(runtime.complete(json.dumps({"code": code, "cursor_pos": len(code)})))
    assert reply["matches"] == ["zip"]
    assert reply["cursor_start"] == len(code) - 2


def test_attributes_of_dotted_names():
    ns = {"p": Point()}
    reply = complete("p.al", ns)
    assert reply["matches"] == ["alpha", "alps"]
    assert apply("p.al", reply, "alpha") == "p.alpha"
    assert complete("p.inner.be", ns)["matches"] == ["beta"]
    assert complete("p._hid", ns)["matches"] == ["_hidden"]
    assert "_hidden" not in complete("p.", ns)["matches"]


def test_attribute_completion_never_calls_functions():
    calls = []

    def make():
        calls.append(1)
        return Point()

    assert complete("make().al", {"make": make})["matches"] == []
    assert calls == []


def test_module_attributes():
    assert complete("os.path.joi", {"os": os})["matches"] == ["join"]


def test_unknown_base_gives_nothing():
    assert complete("missing.al")["matches"] == []


def test_magic_names_with_percent():
    reply = complete("%lo")
    assert reply["matches"] == ["%load"] and reply["cursor_start"] == 0
    reply = complete("x = 1\n  %")
    assert reply["matches"] == sorted("%" + m for m in MAGICS)
    assert apply("x = 1\n  %", reply, "%viz") == "x = 1\n  %viz"


def test_load_completes_paths(tmp_path):
    (tmp_path / "data.csv").write_text("a\n1\n")
    (tmp_path / "dates").mkdir()
    (tmp_path / "other.txt").write_text("")
    (tmp_path / ".dotfile").write_text("")
    base = str(tmp_path)
    reply = complete(f"%load {base}/da")
    assert reply["matches"] == [f"{base}/data.csv", f"{base}/dates/"]
    assert apply(f"%load {base}/da", reply, f"{base}/dates/") == f"%load {base}/dates/"
    assert complete(f"%load --name x {base}/ot")["matches"] == [f"{base}/other.txt"]
    assert complete(f"%load {base}/")["matches"] == [
        f"{base}/data.csv", f"{base}/dates/", f"{base}/other.txt"]


def test_string_literal_completes_paths(tmp_path):
    (tmp_path / "sales.csv").write_text("")
    code = f"pd.read_csv('{tmp_path}/sa"
    assert complete(code)["matches"] == [f"{tmp_path}/sales.csv"]


@pytest.fixture
def frame_ns():
    df = pd.DataFrame({"price": [1.0], "product": ["a"], "it's": [1], "qty": [2], 3: [0]})
    return {"df": df, "cfg": {"path": 1, "port": 2, 7: 3}}


def test_dataframe_column_keys_close_the_bracket(frame_ns):
    reply = complete('df["pr', frame_ns)
    assert reply["matches"] == ['price"]', 'product"]']
    assert apply('df["pr', reply, 'price"]') == 'df["price"]'


def test_keys_without_closing_when_front_end_auto_closed(frame_ns):
    code = "df['pr']"
    reply = complete(code, frame_ns, cursor_pos=6)
    assert reply["matches"] == ["price", "product"]
    assert apply(code, reply, "price") == "df['price']"


def test_keys_escape_quotes_and_skip_non_strings(frame_ns):
    reply = complete("df['", frame_ns)
    assert reply["matches"] == ["it\\'s']", "price']", "product']", "qty']"]


def test_dict_keys(frame_ns):
    assert complete('x = cfg["p', frame_ns)["matches"] == ['path"]', 'port"]']


def test_runtime_complete_uses_session_namespace_and_magics(monkeypatch):
    monkeypatch.setitem(session.user_ns, "zebra_count", 3)
    runtime.configure(json.dumps({"magics": ["viz", "load"]}))
    reply = json.loads(runtime.complete(json.dumps({"code": "zebra_c", "cursor_pos": 7})))
    assert reply["matches"] == ["zebra_count"] and reply["status"] == "ok"
    reply = json.loads(runtime.complete(json.dumps({"code": "%v", "cursor_pos": 2})))
    assert reply["matches"] == ["%viz"]
