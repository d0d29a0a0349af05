"""anyviz.runtime.execute / is_complete and anyviz.display, observed through the fake bridge."""
import json
import os
import subprocess
import sys
import time

import pytest

from anyviz import display as adisplay
from anyviz import runtime, session
from anyviz.errors import UsageError

_count = iter(range(1000, 100000))


def run(code, *, n=None, **request):
    req = {"code": code, "silent": False, "store_history": True,
           "execution_count": next(_count) if n is None else n,
           "user_expressions": {}, "allow_stdin": False}
    req.update(request)
    return json.loads(runtime.execute(json.dumps(req)))


def stdout_text(bridge, name="stdout"):
    return "".join(c["text"] for c in bridge.of_type("stream") if c["name"] == name)


@pytest.fixture
def json_strict_bridge(bridge, monkeypatch):
    """conftest's bridge rejects any "NaN" text, even inside plotly.js or an HTML table; this one
    rejects only real NaN/Infinity JSON tokens, which is what Jupyter cannot parse."""
    def reject(token):
        raise AssertionError(f"non-JSON constant {token} in an IOPub message")

    def emit(msg_type, content_json):
        bridge.messages.append((msg_type, json.loads(content_json, parse_constant=reject)))

    monkeypatch.setattr(bridge, "emit", emit)
    return bridge


# --- results and the display hook --------------------------------------------------------------

def test_last_expression_becomes_execute_result_and_history(bridge):
    reply = run("a = 20\na + 1", n=7)
    assert reply["status"] == "ok"
    (result,) = bridge.of_type("execute_result")
    assert result == {"execution_count": 7, "data": {"text/plain": "21"}, "metadata": {}}
    ns = session.user_ns
    assert ns["_"] == 21 and ns["_7"] == 21 and ns["Out"][7] == 21
    assert ns["In"][7] == "a = 20\na + 1" and ns["_i7"] == "a = 20\na + 1"
    run("'second'")
    assert ns["_"] == "second" and ns["__"] == 21


def test_none_semicolon_silent_and_inner_expressions_show_nothing(bridge):
    run("None")
    run("1 + 1;  # a comment")
    run("3 * 3", silent=True, store_history=False)
    run("if True:\n    5")
    assert bridge.of_type("execute_result") == []


def test_store_history_false_keeps_out_unchanged(bridge):
    run("'not stored'", n=4242, store_history=False)
    assert bridge.of_type("execute_result")[0]["data"]["text/plain"] == "'not stored'"
    assert 4242 not in session.user_ns["Out"] and "_4242" not in session.user_ns


def test_long_containers_are_pretty_printed(bridge):
    run("list(range(40))")
    text = bridge.of_type("execute_result")[0]["data"]["text/plain"]
    assert text.count("\n") >= 2 and eval(text) == list(range(40))


def test_dataframe_result_has_pandas_html_and_text(json_strict_bridge):
    run("import pandas as pd\npd.DataFrame({'city': ['Oslo', 'Rome'], 'temp': [4.5, None]})")
    data = json_strict_bridge.of_type("execute_result")[0]["data"]
    assert "<table" in data["text/html"] and "<td>Oslo</td>" in data["text/html"]
    assert "city" in data["text/plain"] and "NaN" in data["text/plain"]


def test_top_level_await(bridge):
    reply = run("import asyncio\nasync def twice(x):\n    await asyncio.sleep(0.01)\n"
                "    return 2 * x\nv = await twice(4)\nawait twice(v)")
    assert reply["status"] == "ok", reply
    assert bridge.of_type("execute_result")[0]["data"]["text/plain"] == "16"


def test_series_result_has_html(bridge):
    run("import pandas as pd\npd.Series([1, 2], name='visits')")
    data = bridge.of_type("execute_result")[0]["data"]
    assert "<table" in data["text/html"] and "visits" in data["text/html"]
    assert "Name: visits" in data["text/plain"]


def test_plotly_figure_gets_plotly_bundle_without_nan(json_strict_bridge):
    bridge = json_strict_bridge
    run("import plotly.graph_objects as go\ngo.Figure(go.Scatter(y=[1, float('nan'), 3]))")
    data = bridge.of_type("execute_result")[0]["data"]
    spec = data["application/vnd.plotly.v1+json"]
    assert spec["data"][0]["type"] == "scatter"
    assert spec["data"][0]["y"] == [1, None, 3]
    assert "text/plain" in data


# --- display -----------------------------------------------------------------------------------

def test_display_builtin_and_handle_update(bridge):
    reply = run("from anyviz.display import HTML, Markdown\n"
                "h = display(HTML('<b>hi</b>'), display_id=True)\nh.update(Markdown('*new*'))")
    assert reply["status"] == "ok", reply
    shown, = bridge.of_type("display_data")
    updated, = bridge.of_type("update_display_data")
    assert shown["data"]["text/html"] == "<b>hi</b>"
    assert updated["data"]["text/markdown"] == "*new*"
    assert shown["transient"]["display_id"] == updated["transient"]["display_id"]


@pytest.fixture
def display_names():
    ns = session.user_ns
    for name in adisplay.__all__:
        ns[name] = getattr(adisplay, name)
    yield
    for name in adisplay.__all__:
        ns.pop(name, None)


def test_update_display_and_clear_output(bridge, display_names):
    run("display(1, display_id='d1')\nupdate_display(2, display_id='d1')\nclear_output(wait=True)")
    kinds = [t for t, _ in bridge.messages]
    assert kinds == ["display_data", "update_display_data", "clear_output"]
    assert bridge.messages[1][1]["data"]["text/plain"] == "2"
    assert bridge.messages[1][1]["transient"] == {"display_id": "d1"}
    assert bridge.messages[2][1] == {"wait": True}


def test_display_raw_and_json_and_image(bridge, tmp_path, display_names):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
    (tmp_path / "p.png").write_bytes(png)
    path = str(tmp_path / "p.png")
    run(f"display({{'text/plain': 'raw!'}}, raw=True)\ndisplay(JSON({{'a': [1, 2]}}))\n"
        f"display(Image(filename={path!r}, width=20))")
    raw, js, img = bridge.of_type("display_data")
    assert raw["data"] == {"text/plain": "raw!"}
    assert js["data"]["application/json"] == {"a": [1, 2]}
    import base64
    assert base64.b64decode(img["data"]["image/png"]) == png
    assert img["metadata"] == {"image/png": {"width": 20}}


def test_format_bundle_repr_methods():
    class Rich:
        def _repr_html_(self):
            return "<i>rich</i>"

        def _repr_png_(self):
            return b"PNGDATA"

        def _repr_latex_(self):
            return None

        def __repr__(self):
            return "Rich()"

    data, metadata = adisplay.format_bundle(Rich())
    assert data == {"text/html": "<i>rich</i>", "image/png": "UE5HREFUQQ==", "text/plain": "Rich()"}
    assert metadata == {}


def test_format_bundle_mimebundle_and_classes_and_getattr_objects():
    class Bundle:
        def _repr_mimebundle_(self, include=None, exclude=None):
            return {"text/html": "<p>b</p>", "text/plain": "B"}, {"text/html": {"isolated": True}}

    class Anything:  # answers every attribute, like a mock: must not look displayable
        def __getattr__(self, name):
            return lambda *a, **k: "<junk>"

        def __repr__(self):
            return "Anything()"

    assert adisplay.format_bundle(Bundle()) == (
        {"text/html": "<p>b</p>", "text/plain": "B"}, {"text/html": {"isolated": True}})
    assert adisplay.format_bundle(Anything())[0] == {"text/plain": "Anything()"}
    assert adisplay.format_bundle(Bundle)[0] == {"text/plain": repr(Bundle)}


def test_failing_repr_html_falls_back_to_text_with_warning(bridge):
    run("class Bad:\n    def _repr_html_(self):\n        raise ValueError('boom')\n"
        "    def __repr__(self):\n        return 'Bad()'\nBad()")
    assert bridge.of_type("execute_result")[0]["data"] == {"text/plain": "Bad()"}
    assert "_repr_html_() failed (ValueError: boom)" in stdout_text(bridge, "stderr")


def test_ipython_display_reaches_anyviz(bridge):
    reply = run("from IPython.display import display as ipy_display, HTML as IHTML\n"
                "ipy_display(IHTML('<b>via IPython</b>'))")
    assert reply["status"] == "ok", reply
    (shown,) = bridge.of_type("display_data")
    assert shown["data"]["text/html"] == "<b>via IPython</b>"


def test_image_rejects_unknown_data():
    with pytest.raises(ValueError, match="png, jpeg and gif"):
        adisplay.Image(b"not an image")


# --- streams -----------------------------------------------------------------------------------

def test_print_goes_to_stdout_and_stderr_streams(bridge):
    run("import sys\nprint('hello')\nprint('oops', file=sys.stderr)")
    assert stdout_text(bridge) == "hello\n"
    assert stdout_text(bridge, "stderr") == "oops\n"
    assert sys.stdout is not adisplay  # restored after the cell
    assert type(sys.stdout).__name__ != "StreamWriter"


def test_output_is_sent_while_the_cell_still_runs(bridge):
    sent = []
    real_emit = bridge.emit
    bridge.emit = lambda t, c: (sent.append((time.monotonic(), json.loads(c))), real_emit(t, c))
    try:
        start = time.monotonic()
        run("import time\nprint('before sleep')\nprint('no newline', end='')\ntime.sleep(0.6)")
        end = time.monotonic()
    finally:
        del bridge.emit
    assert sent[0][1]["text"] == "before sleep\n" and sent[0][0] - start < 0.3
    assert sent[1][1]["text"] == "no newline" and sent[1][0] < end - 0.3


def test_many_prints_are_coalesced(bridge):
    run("for i in range(100000):\n    print(i)")
    streams = bridge.of_type("stream")
    assert len(streams) < 100
    text = "".join(s["text"] for s in streams)
    assert text.split("\n")[:-1] == [str(i) for i in range(100000)]


def test_writes_from_other_threads_are_published(bridge):
    run("import threading\nt = threading.Thread(target=print, args=('from a thread',))\n"
        "t.start(); t.join()")
    assert stdout_text(bridge) == "from a thread\n"


# --- errors ------------------------------------------------------------------------------------

def test_exception_traceback_shows_cell_lines_not_runtime(bridge):
    reply = run("def f(x):\n    return 1 / x\nf(0)", n=12)
    assert reply["status"] == "error"
    assert reply["ename"] == "ZeroDivisionError" and reply["evalue"] == "division by zero"
    text = "\n".join(reply["traceback"])
    assert "Cell In[12], line 3" in text and "Cell In[12], line 2, in f" in text
    assert "return 1 / x" in text
    assert "runtime.py" not in text and "anyviz" not in text


def test_syntax_error_points_at_the_line(bridge):
    reply = run("x = 1\ny = (2,\n", n=13)
    assert reply["ename"] == "SyntaxError"
    text = "\n".join(reply["traceback"])
    assert "Cell In[13], line 2" in text and "y = (2," in text and "ast.py" not in text


def test_output_before_error_is_kept_and_later_cells_run(bridge):
    reply = run("print('partial')\nraise KeyError('k')")
    assert reply["ename"] == "KeyError" and stdout_text(bridge) == "partial\n"
    assert run("1")["status"] == "ok"


@pytest.mark.parametrize("code, evalue", [("import sys\nsys.exit(3)", "3"), ("exit()", "None"),
                                          ("quit(2)", "2"), ("raise SystemExit('bye')", "bye")])
def test_system_exit_is_an_error_and_the_kernel_keeps_running(bridge, code, evalue):
    reply = run(code)
    assert reply["status"] == "error" and reply["ename"] == "SystemExit"
    assert reply["evalue"] == evalue
    assert "Kernel > Shut Down" in "\n".join(reply["traceback"])
    assert run("'still alive'")["status"] == "ok"


def test_exit_repr_explains(bridge):
    run("exit")
    assert "Kernel > Shut Down" in bridge.of_type("execute_result")[0]["data"]["text/plain"]


def test_keyboard_interrupt_is_reported(bridge):
    reply = run("import _thread, time\n_thread.interrupt_main()\ntime.sleep(2)")
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert run("1 + 1")["status"] == "ok"


# --- magics and notebook syntax ----------------------------------------------------------------

def test_line_magics_are_sent_to_the_registry(bridge):
    reply = run("%load data.csv --name sales\nfor i in range(2):\n    %viz bar chart\n"
                "x = %profile\n%lsmagic?\n%viz??")
    assert reply["status"] == "ok", reply
    assert bridge.magics == [
        ("magic", {"name": "load", "line": "data.csv --name sales"}),
        ("magic", {"name": "viz", "line": "bar chart"}),
        ("magic", {"name": "viz", "line": "bar chart"}),
        ("magic", {"name": "profile", "line": ""}),
        ("magic", {"name": "lsmagic?", "line": ""}),
        ("magic", {"name": "viz?", "line": ""}),
    ]
    assert session.user_ns["x"] is None


def test_percent_inside_strings_and_expressions_is_python(bridge):
    reply = run('s = """\n%load not a magic\n"""\nv = (10\n%3)\nv')
    assert reply["status"] == "ok", reply
    assert bridge.magics == []
    assert bridge.of_type("execute_result")[0]["data"]["text/plain"] == "1"


def test_magic_error_is_shown_without_python_traceback(bridge, monkeypatch):
    def fail(service, payload_json):
        raise UsageError("usage: %load PATH [--name NAME]\n%load: PATH is required")

    monkeypatch.setattr(bridge, "call", fail)
    reply = run("print('first')\n%load")
    assert reply["ename"] == "UsageError"
    assert reply["traceback"] == ["UsageError: usage: %load PATH [--name NAME]",
                                  "%load: PATH is required"]
    assert stdout_text(bridge) == "first\n"


def test_python_error_from_bridge_propagates(bridge, monkeypatch):
    def fail(service, payload_json):
        raise RuntimeError("registry unavailable")

    monkeypatch.setattr(bridge, "call", fail)
    reply = run("%viz")
    assert reply["ename"] == "RuntimeError" and reply["evalue"] == "registry unavailable"


def test_shell_escape_and_cell_magic_are_rejected_clearly(bridge):
    reply = run("!ls -l")
    assert reply["ename"] == "ShellEscapeError" and "subprocess" in reply["evalue"]
    assert len(reply["traceback"]) == 1
    reply = run("%%timeit\n1")
    assert "cell magics are not supported" in reply["evalue"]


@pytest.mark.parametrize("code", ["print?", "?print", "print??", "print ?", "for _ in [1]:\n    print?"])
def test_help_syntax_returns_a_page_payload(bridge, code):
    reply = run(code)
    assert reply["status"] == "ok", reply
    (page,) = reply["payload"]
    assert page["source"] == "page" and page["start"] == 0
    assert "print(*args, sep=' '" in page["data"]["text/plain"]
    assert bridge.of_type("execute_result") == []


def test_help_on_unknown_name_says_not_found(bridge):
    reply = run("no_such_thing_here?")
    assert reply["payload"] == [] and stdout_text(bridge) == "Object `no_such_thing_here` not found.\n"


# --- input -------------------------------------------------------------------------------------

def test_input_without_stdin_raises_clear_error(bridge):
    reply = run("name = input('Name? ')", allow_stdin=False)
    assert reply["ename"] == "StdinNotImplementedError"
    assert reply["evalue"] == ("raw_input was called, but this frontend does not support "
                               "input requests.")


def test_input_and_getpass_use_the_bridge(bridge):
    bridge.inputs.extend(["Ada", "s3cret"])
    reply = run("import getpass\nname = input('Name? ')\npw = getpass.getpass()\n(name, pw)",
                allow_stdin=True)
    assert reply["status"] == "ok", reply
    assert bridge.of_type("execute_result")[0]["data"]["text/plain"] == "('Ada', 's3cret')"
    import builtins
    import getpass
    assert builtins.input is not runtime._input and getpass.getpass is not runtime._getpass


# --- user_expressions --------------------------------------------------------------------------

def test_user_expressions_are_evaluated_after_the_cell(bridge):
    reply = run("z = 6", user_expressions={"double": "z * 2", "bad": "1/0"})
    assert reply["user_expressions"]["double"] == {"status": "ok", "data": {"text/plain": "12"},
                                                  "metadata": {}}
    bad = reply["user_expressions"]["bad"]
    assert bad["status"] == "error" and bad["ename"] == "ZeroDivisionError"


# --- is_complete -------------------------------------------------------------------------------

@pytest.mark.parametrize("code, status, indent", [
    ("print('hello, world')", "complete", None),
    ("print('''hello", "incomplete", ""),
    ("import = 7q", "invalid", None),
    ("for x in range(3):", "incomplete", "    "),
    ("for x in range(3):\n    if x:", "incomplete", "        "),
    ("for x in range(3):\n    print(x)", "incomplete", "    "),
    ("for x in range(3):\n    print(x)\n", "complete", None),
    ("d = {'a': 1,", "incomplete", ""),
    ("x = 1 + \\", "incomplete", ""),
    ("%load data.csv", "complete", None),
    ("print?", "complete", None),
    ("", "complete", None),
])
def test_is_complete(code, status, indent):
    reply = json.loads(runtime.is_complete(json.dumps({"code": code})))
    assert reply["status"] == status
    if indent is not None:
        assert reply["indent"] == indent


# --- start-up cost -----------------------------------------------------------------------------

def test_import_is_light():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = ("import sys, time; t = time.perf_counter(); import anyviz.runtime; "
            "print((time.perf_counter() - t) * 1000); "
            "print(sorted(m for m in ('pandas', 'numpy', 'plotly', 'IPython') if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=os.path.join(root, "Sources", "AnyVizPython", "Resources"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[1] == "[]"
    assert float(out[0]) < 200  # generous bound for a loaded CI machine; typically ~10-25 ms


def test_huge_output_is_truncated_per_cell_with_a_notice(bridge, monkeypatch):
    from anyviz import streams

    monkeypatch.setattr(streams, "CELL_LIMIT", 1000)
    reply = json.loads(runtime.execute(json.dumps({"code": "for i in range(1000): print('x' * 50)\nprint('FINAL-LINE')",
                                                   "execution_count": 1})))
    assert reply["status"] == "ok"
    text = "".join(c["text"] for c in bridge.of_type("stream") if c["name"] == "stdout")
    assert len(text) < 1300 and "output truncated" in text and "FINAL-LINE" not in text
    bridge.messages.clear()
    runtime.execute(json.dumps({"code": "print('next cell')", "execution_count": 2}))
    assert "next cell" in "".join(c["text"] for c in bridge.of_type("stream"))


def test_matplotlib_figures_show_inline_as_png(bridge, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "module://anyviz.mpl_inline")
    reply = json.loads(runtime.execute(json.dumps({
        "code": "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('inline')",
        "execution_count": 1})))
    assert reply["status"] == "ok"
    images = [d for d in bridge.of_type("display_data") if "image/png" in d["data"]]
    assert len(images) == 1, "the open figure is shown once at the end of the cell"
    import base64

    assert base64.b64decode(images[0]["data"]["image/png"]).startswith(b"\x89PNG")
    bridge.messages.clear()
    runtime.execute(json.dumps({"code": "plt.figure(); plt.bar(['a'], [1]); plt.show()\nx = 1",
                                "execution_count": 2}))
    assert len([d for d in bridge.of_type("display_data") if "image/png" in d["data"]]) == 1
    bridge.messages.clear()
    runtime.execute(json.dumps({"code": "y = 2", "execution_count": 3}))
    assert not bridge.of_type("display_data"), "closed figures are not shown again"
