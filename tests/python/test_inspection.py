"""Inspection (Shift+Tab, `obj?`): what the user reads about an object."""
import json
import os

import pandas as pd
import pytest

from anyviz import inspection, runtime, session


def inspect(code, ns, cursor_pos=None, detail=0):
    pos = len(code) if cursor_pos is None else cursor_pos
    return inspection.inspect_request(code, pos, detail, ns)


def test_builtin_function_shows_type_signature_and_doc():
    reply = inspect("print", {})
    assert reply["found"] is True
    text = reply["data"]["text/plain"]
    assert "Type:" in text and "builtin_function_or_method" in text
    assert "Signature: print(*args, sep=' ', end='\\n', file=None, flush=False)" in text
    assert "Prints the values to a stream" in text


def test_cursor_inside_call_arguments_inspects_the_callee():
    code = "print(1, "
    assert "Signature: print(" in inspect(code, {})["data"]["text/plain"]
    code = "len(x) + print('a', (1, 2), "
    assert "Signature: print(" in inspect(code, {})["data"]["text/plain"]


def test_cursor_in_the_middle_of_a_name():
    assert "Signature: print(" in inspect("print('x')", {}, cursor_pos=2)["data"]["text/plain"]


def test_dotted_name():
    text = inspect("os.path.join", {"os": os})["data"]["text/plain"]
    assert "Signature: join(" in text and "File:" in text


def test_not_found():
    assert inspect("nothing_named_so", {}) == {"found": False, "data": {}, "metadata": {}}
    assert inspect("   ", {})["found"] is False
    assert inspect("12.5", {})["found"] is False


def test_dataframe_summary():
    df = pd.DataFrame({"city": ["Oslo", "Rome", "Lima"], "temp": [4.5, 20.1, 18.0],
                       "year": [2020, 2021, 2022]})
    text = inspect("df", {"df": df})["data"]["text/plain"]
    assert "Type:" in text and "DataFrame" in text
    assert "3 rows × 3 columns" in text
    lines = text.split("\n")
    assert any(line.split() == ["temp", "float64"] for line in lines)
    assert any(line.split() == ["year", "int64"] for line in lines)
    assert any(line.startswith("city") for line in lines)
    assert "Memory:" in text and ("bytes" in text or "KiB" in text)
    assert "Docstring" not in text  # the class docstring says nothing about this data


def test_wide_dataframe_dtypes_are_truncated():
    df = pd.DataFrame({f"c{i}": [i] for i in range(100)})
    text = inspect("df", {"df": df})["data"]["text/plain"]
    assert "1 rows × 100 columns" in text
    assert "c39" in text and "c40 " not in text and "... and 60 more columns" in text


def test_series_summary():
    s = pd.Series([1.5, 2.5, None], name="price")
    text = inspect("s", {"s": s})["data"]["text/plain"]
    assert "Series" in text and "'price'" in text and "float64" in text
    assert "Length: 3" in text


def test_column_by_attribute_is_a_series():
    df = pd.DataFrame({"qty": [1, 2]})
    text = inspect("df.qty", {"df": df})["data"]["text/plain"]
    assert "Dtype:  int64" in text and "Length: 2" in text


def test_instance_shows_string_form_and_class_docstring():
    class Box:
        """Holds one thing."""

        def __repr__(self):
            return "Box(42)"

    text = inspect("b", {"b": Box()})["data"]["text/plain"]
    assert "String form: Box(42)" in text and "Class docstring:\nHolds one thing." in text


def test_detail_1_shows_source_of_cell_defined_function(bridge):
    reply = json.loads(runtime.execute(json.dumps({
        "code": "def area(w, h=2):\n    '''Area of a box.'''\n    return w * h",
        "execution_count": 501, "store_history": True, "silent": False})))
    assert reply["status"] == "ok"
    base = json.loads(runtime.inspect(json.dumps({"code": "area(", "cursor_pos": 5,
                                                  "detail_level": 0})))
    assert "Signature: area(w, h=2)" in base["data"]["text/plain"]
    assert "Area of a box." in base["data"]["text/plain"]
    assert "File:" not in base["data"]["text/plain"]  # defined in a cell, not a file
    deep = json.loads(runtime.inspect(json.dumps({"code": "area", "cursor_pos": 4,
                                                  "detail_level": 1})))
    assert "return w * h" in deep["data"]["text/plain"]
    session.user_ns.pop("area")


def test_broken_object_still_answers():
    class Broken:
        def __str__(self):
            raise RuntimeError("no str")

        __repr__ = __str__

    reply = inspect("x", {"x": Broken()})
    assert reply["found"] is True and "Broken" in reply["data"]["text/plain"]


@pytest.mark.parametrize("name", ["dict.get", "str", "len"])
def test_builtin_types_and_methods(name):
    reply = inspect(name, {})
    assert reply["found"] and "Docstring" in reply["data"]["text/plain"]
