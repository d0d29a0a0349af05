"""anyviz.runtime on IPython's shell, observed through the fake bridge: what a front end would
receive (IOPub messages, reply content, payloads) for the habits of ipykernel users."""
import base64
import json
import threading
import time

import re
import sys

import pytest

from anyviz import iopub, runtime, session, streams

_count = iter(range(1000, 100000))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class kernel_streams:
    """In the kernel stdout/stderr are always the IOPub writers; pytest swaps its own capture
    in for every test phase, so each request here puts the kernel's back."""

    def __enter__(self):
        self.saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = streams.stdout, streams.stderr

    def __exit__(self, *exc):
        sys.stdout, sys.stderr = self.saved


def run(code, *, n=None, **request):
    req = {"code": code, "silent": False, "store_history": True,
           "execution_count": next(_count) if n is None else n,
           "user_expressions": {}, "allow_stdin": False}
    req.update(request)
    with kernel_streams():
        return json.loads(runtime.execute(json.dumps(req)))


def call(entry, **request):
    with kernel_streams():
        return json.loads(getattr(runtime, entry)(json.dumps(request)))


def text_of(bridge, name="stdout"):
    return "".join(c["text"] for c in bridge.of_type("stream") if c["name"] == name)


@pytest.fixture
def tokens(bridge, monkeypatch):
    """The bridge also records the parent token each message was published under."""
    seen = []

    def emit(msg_type, content_json, token=0):
        seen.append((msg_type, token, json.loads(content_json)))
        bridge.messages.append((msg_type, json.loads(content_json)))

    monkeypatch.setattr(bridge, "emit", emit)
    return seen


# --- results and the display hook --------------------------------------------------------------

def test_last_expression_becomes_execute_result_and_history(bridge):
    n = next(_count)
    reply = run("a = 20\na + 1", n=n)
    assert reply["status"] == "ok"
    (result,) = bridge.of_type("execute_result")
    assert result == {"execution_count": n, "data": {"text/plain": "21"}, "metadata": {}}
    ns = session.user_ns
    assert ns["_"] == 21 and ns[f"_{n}"] == 21 and ns["Out"][n] == 21
    assert ns["In"][n] == "a = 20\na + 1" and ns[f"_i{n}"] == "a = 20\na + 1"
    run("'second'")
    assert ns["_"] == "second" and ns["__"] == 21


def test_none_semicolon_silent_and_inner_expressions_show_nothing(bridge):
    run("None")
    run("1 + 1;  # a comment")
    run("3 * 3", silent=True, store_history=False)
    run("x = 5\nx\ny = 6")
    assert bridge.of_type("execute_result") == []


def test_dataframe_result_has_pandas_html_and_text(bridge):
    run("import pandas as pd\npd.DataFrame({'a': [1.0, float('nan')]})")
    (result,) = bridge.of_type("execute_result")
    assert "<table" in result["data"]["text/html"] and "NaN" in result["data"]["text/plain"]


def test_top_level_await(bridge):
    reply = run("import asyncio\nawait asyncio.sleep(0)\n40 + 2")
    assert reply["status"] == "ok"
    assert bridge.of_type("execute_result")[0]["data"]["text/plain"] == "42"


# --- Plotly: one output with both MIME types, whichever way the figure is shown -----------------

@pytest.mark.parametrize("show", ["fig.show()", "display(fig)", "fig"])
def test_plotly_figure_is_one_output_with_plotly_json_and_html(bridge, show):
    run("import plotly.express as px\nfig = px.bar(x=['a', 'b'], y=[3, float('nan')])")
    bridge.messages.clear()
    reply = run(show)
    assert reply["status"] == "ok"
    outputs = [m for t, m in bridge.messages if t in ("display_data", "execute_result")]
    assert len(outputs) == 1, outputs
    data = outputs[0]["data"]
    assert "application/vnd.plotly.v1+json" in data and "<div" in data["text/html"]
    assert data["application/vnd.plotly.v1+json"]["data"][0]["type"] == "bar"


def test_plotly_js_is_embedded_once_per_session(bridge):
    from anyviz.viz import output

    output.reset_session()
    run("import plotly.express as px\npx.bar(x=[1], y=[1]).show()\npx.bar(x=[2], y=[2]).show()")
    htmls = [m["data"]["text/html"] for m in bridge.of_type("display_data")]
    assert len(htmls) == 2
    assert len(htmls[0]) > 1_000_000 > len(htmls[1])


# --- display ------------------------------------------------------------------------------------

def test_display_handle_update_and_clear_output_from_ipython(bridge):
    reply = run("from IPython.display import display, HTML, clear_output\n"
                "h = display(HTML('<b>one</b>'), display_id=True)\n"
                "h.update(HTML('<b>two</b>'))\nprint('gone'); clear_output(wait=True)")
    assert reply["status"] == "ok"
    (shown,) = bridge.of_type("display_data")
    (update,) = bridge.of_type("update_display_data")
    assert shown["data"]["text/html"] == "<b>one</b>" and update["data"]["text/html"] == "<b>two</b>"
    assert shown["transient"]["display_id"] == update["transient"]["display_id"]
    kinds = [t for t, _ in bridge.messages]
    assert kinds.index("stream") < kinds.index("clear_output"), "text printed before is sent first"
    assert bridge.of_type("clear_output") == [{"wait": True}]


def test_markdown_image_and_json_wrappers(bridge, tmp_path):
    png = tmp_path / "dot.png"
    png.write_bytes(base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg=="))
    reply = run("from IPython.display import Markdown, Image, JSON\n"
                f"display(Markdown('# hi'), Image(filename={str(png)!r}), JSON({{'a': 1}}))")
    assert reply["status"] == "ok", reply
    data = [d["data"] for d in bridge.of_type("display_data")]
    assert data[0]["text/markdown"] == "# hi"
    assert base64.b64decode(data[1]["image/png"]).startswith(b"\x89PNG")
    assert data[2]["application/json"] == {"a": 1}


def test_matplotlib_figures_show_inline_as_png_once(bridge):
    reply = run("%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 3, 2])")
    assert reply["status"] == "ok", reply
    images = [d for d in bridge.of_type("display_data") if "image/png" in d["data"]]
    assert len(images) == 1
    assert base64.b64decode(images[0]["data"]["image/png"]).startswith(b"\x89PNG")
    bridge.messages.clear()
    run("y = 2")
    assert not bridge.of_type("display_data"), "a shown figure is not shown again"


# --- streams and threads ----------------------------------------------------------------------

def test_print_goes_to_stdout_and_stderr_streams(bridge):
    run("import sys\nprint('hello')\nprint('oops', file=sys.stderr)")
    assert text_of(bridge) == "hello\n"
    assert text_of(bridge, "stderr") == "oops\n"


def test_output_is_sent_while_the_cell_still_runs(bridge, monkeypatch):
    sent = []
    real_emit = bridge.emit
    monkeypatch.setattr(bridge, "emit", lambda t, c, *token: (
        sent.append((time.monotonic(), json.loads(c))), real_emit(t, c)))
    start = time.monotonic()
    run("import time\nprint('before sleep')\ntime.sleep(0.6)")
    assert sent[0][1]["text"] == "before sleep\n" and sent[0][0] - start < 0.3


def test_many_prints_are_coalesced(bridge):
    run("for i in range(100000):\n    print(i)")
    streams = bridge.of_type("stream")
    assert len(streams) < 100
    assert "".join(s["text"] for s in streams).split("\n")[:-1] == [str(i) for i in range(100000)]


def test_thread_output_after_its_cell_ended_keeps_that_cell_as_parent(bridge, tokens):
    iopub.install_thread_parents()
    run("import threading\nfrom IPython.display import display\n"
        "def late():\n    print('late line')\n    display('late display')\n"
        "timer = threading.Timer(0.3, late); timer.start()", parent_token=41)
    run("import time; time.sleep(0.8); print('second cell')", parent_token=42)
    by_text = {json.dumps(c): token for _, token, c in tokens}
    late_stream = [tok for kind, tok, c in tokens if kind == "stream" and "late line" in c["text"]]
    late_display = [tok for kind, tok, c in tokens if kind == "display_data"]
    second = [tok for kind, tok, c in tokens if kind == "stream" and "second cell" in c["text"]]
    assert late_stream == [41] and late_display == [41] and second == [42], by_text


# --- errors ------------------------------------------------------------------------------------

def test_exception_is_published_once_with_cell_lines(bridge):
    n = next(_count)
    reply = run("def f(x):\n    return 1 / x\nf(0)", n=n)
    assert reply["status"] == "error"
    assert reply["ename"] == "ZeroDivisionError" and reply["evalue"] == "division by zero"
    assert reply["error_published"] is True
    (error,) = bridge.of_type("error")
    assert error["traceback"] == reply["traceback"]
    text = ANSI.sub("", "\n".join(reply["traceback"]))
    assert f"Cell In[{n}], line 3" in text and "return 1 / x" in text and "runtime.py" not in text


def test_syntax_error_points_at_the_line(bridge):
    reply = run("x = 1\ny = (2,\n")
    assert reply["ename"] == "SyntaxError"
    assert "y = (2," in "\n".join(reply["traceback"])


def test_anyviz_usage_error_is_its_message_without_python_internals(bridge):
    reply = run("%load")
    assert reply["ename"] == "UsageError" and "%load needs a file" in reply["evalue"]
    assert not any('File "' in line for line in reply["traceback"])
    assert len(bridge.of_type("error")) == 1


def test_unknown_magic_suggests_close_names_on_stderr(bridge):
    reply = run("%lsmagi")
    assert reply["status"] == "error" and reply["ename"] == "UsageError"
    assert "%lsmagic" in reply["evalue"] and "%lsmagic" in text_of(bridge, "stderr")
    assert bridge.of_type("error") == [], "like IPython: a usage error is one line on stderr"


def test_keyboard_interrupt_is_reported_and_the_next_cell_runs(bridge):
    reply = run("import _thread, time\n_thread.interrupt_main()\ntime.sleep(2)")
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert run("1 + 1")["status"] == "ok"


def test_exit_asks_the_front_end_and_the_kernel_keeps_running(bridge):
    reply = run("exit()")
    assert reply["status"] == "ok"
    assert reply["payload"] == [{"source": "ask_exit", "keepkernel": False}]
    assert run("'still alive'")["status"] == "ok"


# --- IPython's magics, shell escapes and help -------------------------------------------------

def test_timeit_and_time_report_on_stdout(bridge):
    assert run("%timeit -n 2 -r 2 sum(range(10))")["status"] == "ok"
    assert "per loop" in text_of(bridge)
    bridge.messages.clear()
    assert run("%%time\nx = sum(range(10))")["status"] == "ok"
    assert "Wall time" in text_of(bridge)


def test_shell_escape_streams_output_and_keeps_exit_code(bridge):
    reply = run("!echo from-the-shell && exit 3")
    assert reply["status"] == "ok"
    assert "from-the-shell" in text_of(bridge)
    assert session.user_ns["_exit_code"] == 3
    run("files = !echo a b")
    assert list(session.user_ns["files"]) == ["a b"]


def test_cell_magics_writefile_capture_and_html(bridge, tmp_path):
    target = tmp_path / "out.txt"
    assert run(f"%%writefile {target}\nhello file\n")["status"] == "ok"
    assert target.read_text() == "hello file\n"
    bridge.messages.clear()
    run("%%capture captured\nprint('hidden')")
    assert text_of(bridge) == "" and session.user_ns["captured"].stdout == "hidden\n"
    run("%%html\n<i>raw</i>")
    assert bridge.of_type("display_data")[-1]["data"]["text/html"] .strip() == "<i>raw</i>"


@pytest.mark.parametrize("code", ["print?", "?print", "print??", "%timeit?"])
def test_help_is_a_page_payload(bridge, code):
    reply = run(code)
    assert reply["status"] == "ok"
    (page,) = reply["payload"]
    assert page["source"] == "page" and page["data"]["text/plain"]


def test_anyviz_magic_help_is_its_docstring_and_ipython_load_is_loadpy(bridge):
    page = run("%load?")["payload"][0]["data"]["text/plain"]
    assert "load data files into DataFrames" in page
    page = run("%loadpy?")["payload"][0]["data"]["text/plain"]
    assert "Load code into the current frontend" in page


def test_lsmagic_lists_ipython_and_anyviz_magics(bridge):
    run("%lsmagic")
    text = bridge.of_type("execute_result")[0]["data"]["text/plain"]
    for name in ("%load", "%loadpy", "%viz", "%profile", "%timeit", "%%writefile", "%pip"):
        assert name in text


def test_input_without_stdin_raises_clear_error(bridge):
    reply = run("input('name? ')")
    assert reply["ename"] == "StdinNotImplementedError"
    assert "does not support input requests" in reply["evalue"]


def test_input_and_getpass_use_the_bridge(bridge):
    bridge.inputs.extend(["Ada", "s3cret"])
    reply = run("import getpass\nwho = input('name? ')\npw = getpass.getpass()\nwho + '/' + pw",
                allow_stdin=True)
    assert reply["status"] == "ok", reply
    assert bridge.of_type("execute_result")[0]["data"]["text/plain"] == "'Ada/s3cret'"


def test_user_expressions_are_evaluated_after_the_cell(bridge):
    reply = run("z = 41", user_expressions={"answer": "z + 1", "bad": "1/0"})
    assert reply["user_expressions"]["answer"]["data"]["text/plain"] == "42"
    assert reply["user_expressions"]["bad"]["status"] == "error"


# --- AnyViz magics reach the kernel's services --------------------------------------------------

def test_viz_options_are_parsed_in_python_and_sent_to_the_pipeline(bridge, monkeypatch):
    from anyviz.viz import pipeline

    requests = []
    monkeypatch.setattr(pipeline, "viz", lambda request: requests.append(request) or
                        pipeline.VizOutcome("planner", None, None, "", 0))
    reply = run("%viz what's the trend --type line --x year --no-cache")
    assert reply["status"] == "ok", reply
    (request,) = requests
    assert request.text == "what's the trend" and request.hints == {"type": "line", "x": "year"}
    assert request.use_cache is False and not bridge.magics


def test_viz_bad_option_is_a_usage_error_naming_the_help(bridge):
    reply = run("%viz --colour red")
    assert reply["ename"] == "UsageError" and "%viz?" in reply["evalue"]
    assert not bridge.magics


def test_llm_changes_the_settings_and_customize_goes_to_the_pipeline(bridge, monkeypatch):
    from anyviz import llm
    from anyviz.viz import pipeline

    monkeypatch.setenv("KEYVAR", "sk-from-env-1234")
    instructions = []
    monkeypatch.setattr(pipeline, "customize", instructions.append)
    try:
        reply = run("%llm --provider openai --model m --key-env KEYVAR")
        assert reply["status"] == "ok", reply
        assert llm.settings().model == "m" and llm.settings().api_key == "sk-from-env-1234"
        assert "sk-from-env-1234" not in text_of(bridge) and "model: m" in text_of(bridge)
    finally:
        llm.reset()
    run("%customize dark theme")
    assert instructions == ["dark theme"] and not bridge.magics
    assert run("%customize")["ename"] == "UsageError"


# --- completion, inspection, is_complete, history ----------------------------------------------

def test_completion_uses_ipython_with_types_like_ipykernel(bridge):
    run("completion_target_value = 1")
    reply = call("complete", code="completion_target_v", cursor_pos=19)
    assert reply["matches"] == ["completion_target_value"]
    assert reply["cursor_start"] == 0 and reply["cursor_end"] == 19
    (item,) = reply["metadata"]["_jupyter_types_experimental"]
    assert item["text"] == "completion_target_value" and item["type"] == "instance"
    magics = call("complete", code="%tim", cursor_pos=4)["matches"]
    assert "%timeit" in magics


def test_inspect_uses_ipythons_inspector(bridge):
    reply = call("inspect", code="len(", cursor_pos=3, detail_level=0)
    assert reply["found"] is True and "Return the number of items" in reply["data"]["text/plain"]
    assert call("inspect", code="no_such_name_here", cursor_pos=5)["found"] is False


@pytest.mark.parametrize("code, status, indent", [
    ("print('hello, world')", "complete", None),
    ("import = 7q", "invalid", None),
    ("for x in range(3):", "incomplete", "    "),
    ("d = {'a': 1,", "incomplete", ""),
    ("%load data.csv", "complete", None),
    ("print?", "complete", None),
])
def test_is_complete_uses_ipythons_transformer(code, status, indent):
    reply = call("is_complete", code=code)
    assert reply["status"] == status
    if indent is not None:
        assert reply["indent"] == indent


def test_history_tail_range_and_search_from_ipython(bridge):
    line = next(_count)
    run("history_marker = 1 + 1", n=line)
    tail = call("history", hist_access_type="tail", n=1, output=True, raw=True)["history"]
    session_number, tail_line, (source, output) = tail[-1]
    assert source == "history_marker = 1 + 1" and tail_line == line and session_number >= 1
    ranged = call("history", hist_access_type="range", session=session_number, start=line,
                  stop=line + 1, raw=True, output=False)["history"]
    assert ranged == [[session_number, line, "history_marker = 1 + 1"]]
    found = call("history", hist_access_type="search", pattern="history_marker*", n=5,
                 raw=True, output=False)["history"]
    assert [h[2] for h in found] == ["history_marker = 1 + 1"]


# --- comms --------------------------------------------------------------------------------------

def test_comm_from_the_front_end_reaches_its_target_and_answers(bridge):
    run("import comm\nreceived = []\n"
        "def target(c, msg):\n    c.on_msg(lambda m: (received.append(m['content']['data']), c.send({'echo': 1})))\n"
        "comm.get_comm_manager().register_target('test.target', target)")
    call("comm", msg_type="comm_open", content={"comm_id": "c1", "target_name": "test.target",
                                                 "data": {}})
    assert call("comm_info", target_name="test.target")["comms"] == {
        "c1": {"target_name": "test.target"}}
    call("comm", msg_type="comm_msg", content={"comm_id": "c1", "data": {"x": 1}})
    assert session.user_ns["received"] == [{"x": 1}]
    assert bridge.of_type("comm_msg") == [{"data": {"echo": 1}, "comm_id": "c1"}]
    call("comm", msg_type="comm_close", content={"comm_id": "c1", "data": {}})
    assert call("comm_info")["comms"] == {}


def test_comm_to_an_unknown_target_is_closed(bridge):
    call("comm", msg_type="comm_open", content={"comm_id": "c2", "target_name": "nobody",
                                                 "data": {}})
    assert bridge.of_type("comm_close")[0]["comm_id"] == "c2"


def test_comm_opened_from_python_is_published(bridge):
    run("import comm\nc = comm.create_comm(target_name='from.kernel', data={'v': 1})")
    (opened,) = bridge.of_type("comm_open")
    assert opened["target_name"] == "from.kernel" and opened["data"] == {"v": 1}


# --- limits --------------------------------------------------------------------------------------

def test_huge_output_is_truncated_per_cell_with_a_notice(bridge, monkeypatch):
    from anyviz import streams

    monkeypatch.setattr(streams, "CELL_LIMIT", 1000)
    reply = run("for i in range(1000): print('x' * 50)\nprint('FINAL-LINE')")
    assert reply["status"] == "ok"
    text = text_of(bridge)
    assert len(text) < 1300 and "output truncated" in text and "FINAL-LINE" not in text
    bridge.messages.clear()
    run("print('next cell')")
    assert "next cell" in text_of(bridge)


def test_threads_started_in_a_cell_do_not_block_the_reply(bridge):
    reply = run("import threading\nthreading.Thread(target=lambda: None).start()\n'done'")
    assert reply["status"] == "ok" and threading.active_count() >= 1


# --- the fast path for plain Python keeps IPython's meaning -------------------------------------

@pytest.mark.parametrize("code, expected", [
    ("x = 1", True), ("def f():\n    return 1", True), ("a != b", False), ("x = 5 % 3", False),
    ("who", False), ("  indented = 1", False), ("\nx = 1", False), (">>> 1 + 1", False),
    ("exit", False), ("print?", False), ("/print 1", False),
])
def test_plain_python_detection(code, expected):
    from anyviz import shell

    assert shell._is_plain_python(shell.get(), code) is expected


def test_automagic_and_pasted_prompts_still_work(bridge):
    run("automagic_marker = 7")
    bridge.messages.clear()
    run("whos")  # no variable is called whos: IPython runs %whos (automagic)
    assert "automagic_marker" in text_of(bridge)
    bridge.messages.clear()
    run(">>> 2 + 3")
    assert bridge.of_type("execute_result")[0]["data"]["text/plain"] == "5"


def test_builtin_results_keep_registered_printers_and_precision(bridge):
    """Plain builtin values skip IPython's rich formatters only while none is registered for
    them: a printer the user registers for int (or its base) and %precision still apply."""
    run("{'a': [1, 2.5], 'b': 'x' * 3}")
    (plain,) = bridge.of_type("execute_result")
    assert plain["data"] == {"text/plain": "{'a': [1, 2.5], 'b': 'xxx'}"}
    bridge.messages.clear()
    run("_html = get_ipython().display_formatter.formatters['text/html']\n"
        "_html.for_type(int, lambda n: f'<b>{n}</b>')\nTrue")
    (flagged,) = bridge.of_type("execute_result")  # bool is an int: the printer applies
    assert flagged["data"] == {"text/plain": "True", "text/html": "<b>True</b>"}
    run("_html.pop(int)")
    bridge.messages.clear()
    run("%precision 2")
    run("3.14159")
    assert bridge.of_type("execute_result")[-1]["data"] == {"text/plain": "3.14"}
    run("%precision")


def test_semicolon_inside_a_string_does_not_silence_the_result(bridge):
    run("'a;b'")
    run("x = 1; x")
    assert [r["data"]["text/plain"] for r in bridge.of_type("execute_result")] == ["'a;b'", "1"]
