"""%viz / %customize against the real kernel with a scripted fake LLM.

Every test talks to the installed `anyviz` kernelspec over the wire (jupyter_client), with the
LLM endpoint pointed at tests/fakellm.py on loopback, so the whole pipeline runs for real:
prompt -> cache -> HTTP (OpenAI or Gemini wire format) -> guard -> render -> repair -> fallback.
What is asserted is what a notebook user sees (the Plotly bundle and its values, the
explanation/note display, streams, errors) plus what left the machine (the fake server's log:
request count, body, headers).

Kernels are shared per scenario group (module-scoped fixtures) to keep the file fast; each test
resets the fake server's script and log first.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import numpy as np
import pandas as pd
import plotly.data
import pytest

from fakellm import FakeLLM
from kernel_harness import IS_ANYVIZ, collect_iopub, execute, shell_reply, wait_for_busy

pytestmark = pytest.mark.skipif(not IS_ANYVIZ, reason="AnyViz-specific: %viz with an LLM")

PLOTLY = "application/vnd.plotly.v1+json"
API_KEY = "sk-test-SECRET-7f3a9c-do-not-leak"
GOOD_CODE = ("totals = df.groupby('continent', as_index=False)['pop'].sum()\n"
             "fig = px.bar(totals, x='continent', y='pop', title='Population by continent')")
GOOD_EXPLANATION = "Bars of total population per continent (sum of pop over all rows)."


def llm_reply(code, explanation=GOOD_EXPLANATION, alternatives=("Life expectancy over time",),
              fenced=False):
    """The reply format the prompt asks for: a JSON object, optionally in a ```json fence."""
    text = json.dumps({"code": code, "explanation": explanation,
                       "alternatives": list(alternatives)})
    return f"```json\n{text}\n```" if fenced else text


# --------------------------------------------------------------------------- kernel plumbing
class Kernel:
    """One AnyViz kernel started with extra environment (the harness's start_kernel cannot
    pass env, which is how the LLM/caching settings reach the kernel)."""

    def __init__(self, **env):
        from jupyter_client.manager import KernelManager

        self.env = {**os.environ, **{k: str(v) for k, v in env.items()}}
        self.km = KernelManager(kernel_name="anyviz")
        self.km.start_kernel(env=self.env)
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=60)
        except Exception:
            self.stop()
            raise

    def run(self, code, timeout=60):
        return execute(self.kc, code, timeout=timeout)

    def ok(self, code, timeout=60):
        res = self.run(code, timeout=timeout)
        assert res.status == "ok", f"{code!r} failed: {res.content.get('ename')}: " \
                                   f"{res.content.get('evalue')}"
        return res

    def value(self, expr):
        return self.ok(expr).result_text()

    def alive(self):
        return self.km.is_alive()

    def stop(self):
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)


def llm_env(llm, cache_dir, provider="openai", **extra):
    base = llm.base_url if provider == "openai" else llm.gemini_base_url
    env = {"ANYVIZ_LLM_PROVIDER": provider, "ANYVIZ_LLM_BASE_URL": base,
           "ANYVIZ_LLM_API_KEY": API_KEY, "ANYVIZ_LLM_MODEL": "fake-model",
           "ANYVIZ_LLM_TIMEOUT_S": "1", "ANYVIZ_LLM_RETRIES": "1",
           "ANYVIZ_CACHE_DIR": cache_dir, "ANYVIZ_GUARD_TIMEOUT_S": "2"}
    env.update(extra)
    # A Redis URL or keys from the developer's shell must not leak into these kernels.
    for name in ("ANYVIZ_REDIS_URL", "GEMINI_API_KEY", "OPENAI_API_KEY"):
        if name not in extra:
            env[name] = ""
    return env


SETUP_GAPMINDER = ("import plotly.data\n"
                   "df = plotly.data.gapminder()\n"
                   "df_copy = df.copy(deep=True)\n"
                   "marker = 'untouched'")


# --------------------------------------------------------------------------- output helpers
def decode(values):
    """A Plotly data array as numpy: plain lists or plotly's typed arrays {dtype, bdata}."""
    if isinstance(values, dict) and "bdata" in values:
        arr = np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
        shape = values.get("shape")
        return arr.reshape([int(s) for s in str(shape).split(",")]) if shape else arr
    return np.asarray(values)


def charts(res):
    """Plotly figures shown by a cell (display_data and update_display_data)."""
    return [m["content"]["data"][PLOTLY] for m in res.outputs
            if m["msg_type"] in ("display_data", "update_display_data")
            and PLOTLY in m["content"]["data"]]


def chart_message(res):
    msgs = [m for m in res.outputs if m["msg_type"] == "display_data"
            and PLOTLY in m["content"]["data"]]
    assert len(msgs) == 1, f"expected exactly one chart, got {summarize(res)}"
    return msgs[0]


def info_text(res, display_id=None):
    """The explanation/note display (`<display_id>-info`), plain text, or ''."""
    texts = []
    for m in res.outputs:
        if m["msg_type"] not in ("display_data", "update_display_data"):
            continue
        did = (m["content"].get("transient") or {}).get("display_id") or ""
        if did.endswith("-info") and (display_id is None or did == display_id + "-info"):
            data = m["content"]["data"]
            assert "text/markdown" in data and "text/plain" in data, data.keys()
            texts.append(data["text/plain"])
    return "\n".join(texts)


def table_html(res):
    return "\n".join(m["content"]["data"]["text/html"] for m in res.outputs
                     if m["msg_type"] == "display_data" and PLOTLY not in m["content"]["data"]
                     and "text/html" in m["content"]["data"])


def summarize(res):
    parts = [f"status={res.status} {res.content.get('ename', '')}: {res.content.get('evalue', '')}"]
    for m in res.outputs:
        c = m["content"]
        text = (c.get("data") or {}).get("text/plain") or c.get("text") or c.get("evalue") or ""
        parts.append(f"{m['msg_type']}: {str(text)[:300]}")
    return "\n".join(parts)


def assert_something_shown(res):
    """No %viz may end with nothing on screen: a chart, or at least the table fallback."""
    assert res.status == "ok", summarize(res)
    assert charts(res) or table_html(res), f"nothing shown:\n{summarize(res)}"


def level_of(res):
    """The level named by --explain ("How this chart was made: planner ...")."""
    text = res.stream("stdout")
    marker = "How this chart was made: "
    assert marker in text, f"--explain printed no level:\n{summarize(res)}"
    return text.split(marker, 1)[1].split()[0].rstrip(".")


def assert_population_bars(fig, frame):
    expected = frame.groupby("continent")["pop"].sum()
    (trace,) = fig["data"]
    assert trace["type"] == "bar"
    got = pd.Series(decode(trace["y"]).astype("int64"), index=decode(trace["x"]).astype(str))
    pd.testing.assert_series_equal(got.sort_index(), expected.astype("int64").sort_index(),
                                   check_names=False, check_index_type=False)


def new_requests(llm, before):
    return [r for r in llm.requests[before:] if r["kind"] in ("openai", "gemini")]


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def llm():
    with FakeLLM() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_script(llm):
    llm.reset()
    yield


@pytest.fixture(scope="module")
def gapminder():
    return plotly.data.gapminder()


@pytest.fixture(scope="module")
def workdir():
    path = tempfile.mkdtemp(prefix="anyviz-vizllm-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def openai_kernel(llm, workdir):
    k = Kernel(**llm_env(llm, os.path.join(workdir, "cache-openai")))
    k.ok(SETUP_GAPMINDER)
    yield k
    k.stop()


@pytest.fixture(scope="module")
def gemini_kernel(llm, workdir, gapminder):
    csv = os.path.join(workdir, "gapminder.csv")
    gapminder.to_csv(csv, index=False)
    k = Kernel(**llm_env(llm, os.path.join(workdir, "cache-gemini"), provider="gemini"))
    k.ok(f"%load {csv} --name gap")
    yield k
    k.stop()


# =========================================================================== good code
def _check_good_request(req, frame, kind):
    assert req["kind"] == kind
    body = json.dumps(req["body"])
    # The prompt carries the schema summary: every column name, the row count.
    for col in frame.columns:
        assert col in body, f"column {col!r} missing from the prompt"
    assert "1,704 rows" in body
    # ... but never the data: values unique to row 1000 do not travel.
    row = frame.iloc[1000]
    assert (frame["pop"] == row["pop"]).sum() == 1
    assert str(row["pop"]) not in body
    assert repr(float(row["gdpPercap"])) not in body
    # The key only in the auth header, never in the body or the URL.
    assert API_KEY not in body and API_KEY not in req["path"]
    header = {"openai": "authorization", "gemini": "x-goog-api-key"}[kind]
    expected = f"Bearer {API_KEY}" if kind == "openai" else API_KEY
    assert req["headers"].get(header) == expected
    others = {k: v for k, v in req["headers"].items() if k != header}
    assert API_KEY not in json.dumps(others)


def test_good_code_openai_shows_chart_explanation_and_sends_schema_only(openai_kernel, llm,
                                                                         gapminder):
    llm.script([{"reply": llm_reply(GOOD_CODE)}])
    res = openai_kernel.run("%viz --df df --no-cache --explain total population by continent")
    assert_something_shown(res)
    msg = chart_message(res)
    assert_population_bars(msg["content"]["data"][PLOTLY], gapminder)
    did = msg["content"]["transient"]["display_id"]
    assert GOOD_EXPLANATION in info_text(res, did)
    assert "Life expectancy over time" in info_text(res, did)  # the alternatives
    assert level_of(res) == "llm"
    reqs = new_requests(llm, 0)
    assert len(reqs) == 1
    _check_good_request(reqs[0], gapminder, "openai")
    assert reqs[0]["body"]["model"] == "fake-model"


def test_good_code_gemini_wire_format(gemini_kernel, llm, gapminder):
    code = GOOD_CODE  # the %load'ed frame is `gap`, but generated code always sees it as `df`
    llm.script([{"reply": llm_reply(code, fenced=True)}])
    res = gemini_kernel.run("%viz --df gap --no-cache total population by continent")
    assert_something_shown(res)
    msg = chart_message(res)
    assert_population_bars(msg["content"]["data"][PLOTLY], gapminder)
    assert GOOD_EXPLANATION in info_text(res, msg["content"]["transient"]["display_id"])
    reqs = new_requests(llm, 0)
    assert len(reqs) == 1
    assert reqs[0]["path"].endswith("/models/fake-model:generateContent")
    _check_good_request(reqs[0], gapminder, "gemini")


def test_code_flag_puts_chart_code_into_next_cell(openai_kernel, llm):
    llm.script([{"reply": llm_reply(GOOD_CODE)}])
    res = openai_kernel.run("%viz --df df --no-cache --code population per continent")
    assert_something_shown(res)
    payloads = [p for p in res.content.get("payload", []) if p.get("source") == "set_next_input"]
    assert len(payloads) == 1
    assert "px.bar(totals, x='continent', y='pop'" in payloads[0]["text"]


# =========================================================================== repair
def test_wrong_column_is_repaired_with_the_error_sent_back(openai_kernel, llm, gapminder):
    bad = "fig = px.bar(df, x='continent', y='population_total')"
    llm.script([{"reply": llm_reply(bad)}, {"reply": llm_reply(GOOD_CODE)}])
    res = openai_kernel.run("%viz --df df --no-cache --explain population totals by continent")
    assert_something_shown(res)
    assert_population_bars(chart_message(res)["content"]["data"][PLOTLY], gapminder)
    assert level_of(res) == "llm"
    reqs = new_requests(llm, 0)
    assert len(reqs) == 2
    second = reqs[1]["body"]["messages"]
    assert any(m["role"] == "assistant" and "population_total" in m["content"] for m in second)
    feedback = second[-1]
    assert feedback["role"] == "user"
    assert "population_total" in feedback["content"]  # the error names the bad column
    assert "failed" in feedback["content"]
    # The first request is a prefix of the second: same conversation, error appended.
    assert second[:len(reqs[0]["body"]["messages"])] == reqs[0]["body"]["messages"]


# =========================================================================== fallback levels
def test_code_that_keeps_failing_falls_back_to_planner_after_three_calls(openai_kernel, llm,
                                                                         gapminder):
    llm.script([{"reply": llm_reply("fig = px.bar(df, x='no_such_col', y='pop')")}])
    res = openai_kernel.run("%viz --df df --no-cache --explain population by continent")
    assert_something_shown(res)
    assert level_of(res) == "planner"
    assert len(new_requests(llm, 0)) == 3  # first try + 2 repairs
    msg = chart_message(res)
    assert_population_bars(msg["content"]["data"][PLOTLY], gapminder)
    note = info_text(res, msg["content"]["transient"]["display_id"])
    assert "Note:" in note and "planner" in note
    assert "no_such_col" in note  # says why: the last error


def test_planner_failure_falls_to_simpler_chart_with_note(openai_kernel, llm):
    llm.script([{"status": 500}])
    res = openai_kernel.run("%viz --df df --no-cache --explain zorblax quantum flux by wibble")
    assert_something_shown(res)
    assert level_of(res) in ("simple", "table")
    note = info_text(res) or table_html(res)
    assert "simpler" in note
    assert "flux" in note  # why the planner could not map the request


def test_simpler_chart_note_still_says_the_llm_failed(openai_kernel, llm):
    """When both the LLM and the planner fail, the note must keep the LLM's reason: otherwise a
    user with an LLM configured sees a histogram and no hint that the LLM never answered."""
    llm.script([{"status": 500}])
    res = openai_kernel.run("%viz --df df --no-cache zorblax quantum flux by wibble")
    assert_something_shown(res)
    note = info_text(res) or table_html(res)
    assert "HTTP 500" in note or "LLM" in note, note


def test_frame_without_columns_reaches_table_level_with_note(openai_kernel, llm):
    openai_kernel.ok("import pandas as pd\nnocols = pd.DataFrame(index=range(5))")
    llm.script([{"reply": llm_reply("fig = px.bar(df)")}])
    res = openai_kernel.run("%viz --df nocols --no-cache --explain anything at all")
    assert_something_shown(res)
    assert level_of(res) == "table"
    html = table_html(res)
    assert "nocols" in html and "simpler" in html  # the note is in the table display


# =========================================================================== hostile code
def _hostile_cases(paths, llm, kernel_pid):
    """name -> code. Each one, if it ran unguarded, would leave a trace the test checks:
    a file, a request in the fake server's log, a changed kernel variable, a dead kernel or
    /etc/passwd content in the output."""
    p = paths
    url = llm.url
    plot = "\nfig = px.bar(x=['a'], y=[1])"
    return {
        "to_csv": f"df.to_csv({p['to_csv']!r})" + plot,
        "open_passwd": "secret = open('/etc/passwd').read()\n"
                       "fig = px.bar(x=[secret[:200]], y=[1], title=secret[:200])",
        "dunder_import_os": f"__import__('os').system('touch {p['dunder']}')" + plot,
        "pandas_os_system": f"pd.io.common.os.system('touch {p['pd_os']}')" + plot,
        "subprocess": f"import subprocess\nsubprocess.run(['touch', {p['subprocess']!r}])" + plot,
        "socket": "import socket\ns = socket.create_connection(('127.0.0.1', "
                  f"{llm.port}))\ns.sendall(b'GET /status/299 HTTP/1.0\\r\\n\\r\\n')" + plot,
        "os_kill": f"import os\nos.kill({kernel_pid}, 9)" + plot,
        "thread": "import threading\n"
                  f"threading.Thread(target=lambda: open({p['thread']!r}, 'w').write('x')).start()"
                  + plot,
        "write_html": "import plotly.io as pio\nfig = px.bar(x=['a'], y=[1])\n"
                      f"pio.write_html(fig, {p['write_html']!r})",
        "read_csv_url": f"remote = pd.read_csv({url + '/bytes/64'!r})" + plot,
        "getattr_builtins": f"getattr(__builtins__, 'open')({p['getattr']!r}, 'w').write('x')"
                            + plot,
        "subclasses": "popen = [c for c in ().__class__.__base__.__subclasses__() "
                      "if c.__name__ == 'Popen'][0]\n"
                      f"popen(['touch', {p['subclasses']!r}])" + plot,
        "globals_via_function": "g = (lambda: 0).__globals__\n"
                                f"g['__builtins__']['open']({p['globals']!r}, 'w')" + plot,
        "np_hidden_os": f"np.lib.npyio.os.system('touch {p['np_os']}')" + plot,
        "main_marker": "pd.io.common.sys.modules['__main__'].marker = 'pwned'" + plot,
        "mutate_frame": "df.drop(columns=['pop'], inplace=True)\ndf['lifeExp'] = 0\n"
                        "df.iloc[0:100, 0] = 'HACKED'" + plot,
        "busy_loop": "while True:\n    pass" + plot,
        # Not caught by name by the static check: only the runtime layer (audit hook) stops these.
        "pandas_get_handle": f"h = pd.io.common.get_handle({p['get_handle']!r}, 'w')\n"
                             "h.handle.write('x')\nh.close()" + plot,
        "pandas_urlopen": f"pd.io.common.urlopen({url + '/bytes/64'!r}).read()" + plot,
    }


@pytest.fixture(scope="module")
def hostile_kernel(llm, workdir):
    """Own kernel: a hostile snippet that escaped could kill it or poison its state."""
    k = Kernel(**llm_env(llm, os.path.join(workdir, "cache-hostile")))
    k.ok(SETUP_GAPMINDER)
    yield k
    k.stop()


HOSTILE_NAMES = [
    "to_csv", "open_passwd", "dunder_import_os", "pandas_os_system", "subprocess", "socket",
    "os_kill", "thread", "write_html", "read_csv_url", "getattr_builtins", "subclasses",
    "globals_via_function", "np_hidden_os", "main_marker", "mutate_frame", "busy_loop",
    "pandas_get_handle", "pandas_urlopen"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_code_does_nothing_and_a_chart_is_still_shown(hostile_kernel, llm, workdir,
                                                             name):
    k = hostile_kernel
    target = os.path.join(workdir, f"pwned-{name}")
    paths = {key: target for key in ("to_csv", "dunder", "pd_os", "subprocess", "thread",
                                     "write_html", "getattr", "subclasses", "globals", "np_os",
                                     "get_handle")}
    kernel_pid = k.km.provisioner.process.pid
    code = _hostile_cases(paths, llm, kernel_pid)[name]
    # The hostile answer first, then (as the repair) well-behaved code.
    llm.script([{"reply": llm_reply(code)}, {"reply": llm_reply(GOOD_CODE)}])
    t0 = time.monotonic()
    res = k.run(f"%viz --df df --no-cache population by continent ({name})", timeout=60)
    elapsed = time.monotonic() - t0

    assert k.alive(), f"{name}: the kernel died"
    assert_something_shown(res)
    assert not os.path.exists(target), f"{name}: the code created {target}"
    assert [r for r in llm.requests if r["kind"] == "get"] == [], f"{name}: network access"
    reqs = new_requests(llm, 0)
    if name != "mutate_frame":  # mutating `df` is harmless (it is a copy), so it may render
        assert len(reqs) >= 2, f"{name}: hostile code was accepted as a chart"
        assert "failed" in reqs[1]["body"]["messages"][-1]["content"]
    with open("/etc/passwd", encoding="utf-8") as fh:
        passwd_line = fh.readline().strip()  # e.g. root:x:0:0:root:/root:/bin/bash
    everything = json.dumps([m["content"] for m in res.outputs])
    assert passwd_line[:12] not in everything, f"{name}: /etc/passwd content reached the output"
    assert k.value("marker") == "'untouched'"
    assert k.value("df.equals(df_copy) and list(df.columns) == list(df_copy.columns)") == "True"
    assert elapsed < 20, f"{name}: took {elapsed:.1f}s"


def test_kernel_still_fine_after_hostile_suite(hostile_kernel, llm, gapminder):
    llm.script([{"reply": llm_reply(GOOD_CODE)}])
    res = hostile_kernel.run("%viz --df df --no-cache population by continent (after)")
    assert_population_bars(chart_message(res)["content"]["data"][PLOTLY], gapminder)
    assert hostile_kernel.value("6 * 7") == "42"


# =========================================================================== LLM failures
def test_429_then_success_retries_once(openai_kernel, llm, gapminder):
    llm.script([{"status": 429}, {"reply": llm_reply(GOOD_CODE)}])
    res = openai_kernel.run("%viz --df df --no-cache --explain pop by continent, rate limited")
    assert_something_shown(res)
    assert level_of(res) == "llm"
    assert len(new_requests(llm, 0)) == 2
    assert_population_bars(chart_message(res)["content"]["data"][PLOTLY], gapminder)


def test_500s_until_failure_fall_back_with_note_naming_the_error(openai_kernel, llm):
    llm.script([{"status": 500}])
    res = openai_kernel.run("%viz --df df --no-cache --explain population by continent")
    assert_something_shown(res)
    assert level_of(res) == "planner"
    assert len(new_requests(llm, 0)) == 2  # ANYVIZ_LLM_RETRIES=1: two attempts, then give up
    note = info_text(res)
    assert "HTTP 500" in note and "planner" in note


def test_hang_times_out_and_falls_back(openai_kernel, llm):
    llm.script([{"hang": 8}])
    t0 = time.monotonic()
    res = openai_kernel.run("%viz --df df --no-cache --explain population by continent")
    elapsed = time.monotonic() - t0
    assert_something_shown(res)
    assert level_of(res) == "planner"
    assert "did not answer within 1 s" in info_text(res)
    assert elapsed < 5, f"ANYVIZ_LLM_TIMEOUT_S=1 but the cell took {elapsed:.1f}s"


def test_hang_interrupted_ends_cell_quickly_and_kernel_survives(openai_kernel, llm):
    k = openai_kernel
    k.ok("%llm --timeout 30")
    try:
        llm.script([{"hang": 20}])
        msg_id = k.kc.execute("%viz --df df --no-cache population by continent, slow")
        wait_for_busy(k.kc, msg_id)
        time.sleep(1.0)
        assert len(new_requests(llm, 0)) == 1  # really waiting on the LLM
        t0 = time.monotonic()
        k.km.interrupt_kernel()
        reply = shell_reply(k.kc, msg_id, timeout=10)
        elapsed = time.monotonic() - t0
        outputs = collect_iopub(k.kc, msg_id, timeout=10)
        assert elapsed < 2.0, f"interrupt took {elapsed:.2f}s"
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert [m for m in outputs if m["msg_type"] == "error"]
    finally:
        k.ok("%llm --timeout 1")
    assert k.value("6 * 7") == "42"
    llm.script([{"reply": llm_reply(GOOD_CODE)}])
    assert_something_shown(k.run("%viz --df df --no-cache population by continent, again"))


@pytest.mark.parametrize("step,words", [
    ({"garbage": "<html><body>502 Bad Gateway</body></html>"}, "could not be read"),
    ({"garbage": '{"unexpected": true}'}, "could not be read"),
    ({"empty": True}, "no text"),
    ({"reply": "I'm sorry, I cannot help with that."}, "no code|no Python code"),
], ids=["garbage_html", "garbage_json", "empty_reply", "prose_without_code"])
def test_unusable_answers_fall_back_with_note(openai_kernel, llm, step, words):
    llm.script([step])
    res = openai_kernel.run("%viz --df df --no-cache --explain population by continent")
    assert_something_shown(res)
    assert level_of(res) == "planner"
    note = info_text(res)
    assert "Note:" in note and "planner" in note
    assert re.search(words, note), note


# =========================================================================== cache
def test_cache_second_identical_viz_makes_no_request(openai_kernel, llm, gapminder):
    k = openai_kernel
    cell = "%viz --df df --explain cached population by continent"
    llm.script([{"reply": llm_reply(GOOD_CODE)}])
    first = k.run(cell)
    assert_something_shown(first)
    assert len(new_requests(llm, 0)) == 1
    second = k.run(cell)
    assert len(new_requests(llm, 0)) == 1, "the cached answer was not reused"
    assert level_of(second) == "cache"
    assert_population_bars(chart_message(second)["content"]["data"][PLOTLY], gapminder)
    third = k.run(cell.replace("%viz", "%viz --no-cache"))
    assert_something_shown(third)
    assert len(new_requests(llm, 0)) == 2, "--no-cache must ask the LLM again"
    stats = k.ok("%cache").stream()
    assert "Store: disk" in stats and "Hits: 1" in stats
    assert "Cache cleared" in k.ok("%cache clear").stream()
    assert "Entries: 0" in k.ok("%cache").stream()
    fourth = k.run(cell)
    assert level_of(fourth) == "llm"
    assert len(new_requests(llm, 0)) == 3, "after %cache clear the LLM must be asked again"


def test_cache_survives_kernel_restart(llm, workdir, gapminder):
    cache_dir = os.path.join(workdir, "cache-restart")
    cell = "%viz --df df --explain population by continent across restarts"
    llm.script([{"reply": llm_reply(GOOD_CODE)}])
    k = Kernel(**llm_env(llm, cache_dir))
    try:
        k.ok(SETUP_GAPMINDER)
        assert_something_shown(k.run(cell))
    finally:
        k.stop()
    assert len(new_requests(llm, 0)) == 1
    k = Kernel(**llm_env(llm, cache_dir))
    try:
        k.ok(SETUP_GAPMINDER)
        res = k.run(cell)
        assert level_of(res) == "cache"
        assert_population_bars(chart_message(res)["content"]["data"][PLOTLY], gapminder)
    finally:
        k.stop()
    assert len(new_requests(llm, 0)) == 1, "the restarted kernel asked the LLM again"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(workdir):
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is not installed: `apt-get install redis-server` "
                    "(the shared-cache test needs a real Redis)")
    port = _free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", workdir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


def test_redis_cache_is_shared_between_two_kernels(llm, workdir, redis_url, gapminder):
    import redis

    cell = "%viz --df df --explain population by continent via redis"
    llm.script([{"reply": llm_reply(GOOD_CODE)}])
    a = Kernel(**llm_env(llm, os.path.join(workdir, "cache-redis-a"),
                         ANYVIZ_REDIS_URL=redis_url))
    b = Kernel(**llm_env(llm, os.path.join(workdir, "cache-redis-b"),
                         ANYVIZ_REDIS_URL=redis_url))
    try:
        a.ok(SETUP_GAPMINDER)
        b.ok(SETUP_GAPMINDER)
        assert_something_shown(a.run(cell))
        assert len(new_requests(llm, 0)) == 1
        assert redis.Redis.from_url(redis_url).keys("anyviz:viz:*"), "nothing stored in Redis"
        res = b.run(cell)
        assert len(new_requests(llm, 0)) == 1, "kernel B asked the LLM: cache not shared"
        assert level_of(res) == "cache"
        assert_population_bars(chart_message(res)["content"]["data"][PLOTLY], gapminder)
        assert "Store: redis" in b.ok("%cache").stream()
    finally:
        a.stop()
        b.stop()


# =========================================================================== %customize
def test_customize_sends_current_code_and_updates_the_same_display(openai_kernel, llm,
                                                                   gapminder):
    k = openai_kernel
    llm.script([{"reply": llm_reply(GOOD_CODE)}])
    first = k.run("%viz --df df --no-cache population by continent to customize")
    display_id = chart_message(first)["content"]["transient"]["display_id"]

    new_code = GOOD_CODE + "\nfig.update_layout(title='World population, summed')\n" \
                           "fig.update_yaxes(type='log')"
    llm.reset()
    llm.script([{"reply": llm_reply(new_code, explanation="Log scale, new title.")}])
    res = k.run("%customize title 'World population, summed' and log scale y")
    assert res.status == "ok", summarize(res)
    reqs = new_requests(llm, 0)
    assert len(reqs) == 1
    prompt = json.dumps(reqs[0]["body"])
    assert json.dumps(GOOD_CODE)[1:-1] in prompt  # the current code, verbatim
    assert "log scale y" in prompt
    updates = [m for m in res.outputs if m["msg_type"] == "update_display_data"
               and PLOTLY in m["content"]["data"]]
    assert len(updates) == 1
    assert updates[0]["content"]["transient"]["display_id"] == display_id
    # the %customize cell confirms and shows the same chart under the same display id
    copies = [m for m in res.outputs if m["msg_type"] == "display_data" and PLOTLY in m["content"]["data"]]
    assert len(copies) == 1 and copies[0]["content"]["transient"]["display_id"] == display_id
    assert any(m["content"]["data"].get("text/plain", "").startswith("Changed the chart")
               for m in res.outputs if m["msg_type"] == "display_data")
    fig = updates[0]["content"]["data"][PLOTLY]
    title = fig["layout"]["title"]
    assert (title["text"] if isinstance(title, dict) else title) == "World population, summed"
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert_population_bars(fig, gapminder)


# =========================================================================== %llm and the key
def test_llm_magic_never_prints_the_key(openai_kernel, llm):
    k = openai_kernel
    out = k.ok("%llm").stream()
    assert "API key: set" in out and "fake-model" in out
    assert API_KEY not in out
    out = k.ok("%llm --model other-model").stream()
    assert API_KEY not in out and "other-model" in out
    k.ok("%llm --model fake-model")
    # A service that echoes the key in its error message: the note must not show it.
    llm.script([{"status": 401, "body": {"error": {"message": f"Incorrect API key {API_KEY}"}}}])
    res = k.run("%viz --df df --no-cache population by continent, bad key")
    assert_something_shown(res)
    everything = json.dumps([m["content"] for m in res.outputs]) + json.dumps(res.content)
    assert API_KEY not in everything
    assert "rejected the API key" in info_text(res)


def test_health_and_llm_status_probe_the_endpoint_with_the_key_only_in_a_header(openai_kernel,
                                                                               llm):
    res = openai_kernel.ok("%health")
    (table,) = [m["content"]["data"] for m in res.outputs if m["msg_type"] == "display_data"]
    line = [row for row in table["text/plain"].splitlines() if row.startswith("LLM")][0]
    assert "openai fake-model at http://127.0.0.1" in line and "answered HTTP 404" in line
    (probe,) = [r for r in llm.requests if r["method"] == "GET"]
    assert probe["path"] == "/v1/models"
    assert probe["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in json.dumps([m["content"] for m in res.outputs])


def test_provider_key_from_gemini_api_key_env_stays_in_the_header(llm, workdir):
    env = llm_env(llm, os.path.join(workdir, "cache-envkey"), provider="gemini",
                  GEMINI_API_KEY=API_KEY)
    env["ANYVIZ_LLM_API_KEY"] = ""
    k = Kernel(**env)
    try:
        out = k.ok("%llm").stream()
        assert "provider: gemini" in out and "API key: set" in out
        assert API_KEY not in out
        k.ok(SETUP_GAPMINDER)
        llm.script([{"reply": llm_reply(GOOD_CODE)}])
        res = k.run("%viz --df df --no-cache --explain population by continent, env key")
        assert level_of(res) == "llm"
        (req,) = new_requests(llm, 0)
        assert req["headers"]["x-goog-api-key"] == API_KEY
        assert API_KEY not in json.dumps(req["body"]) and API_KEY not in req["path"]
        assert API_KEY not in json.dumps([m["content"] for m in res.outputs])
    finally:
        k.stop()


def test_offline_kernel_uses_planner_and_never_calls_out(llm, workdir, gapminder):
    env = llm_env(llm, os.path.join(workdir, "cache-offline"), ANYVIZ_LLM_PROVIDER="offline")
    k = Kernel(**env)
    try:
        assert "provider: offline" in k.ok("%llm").stream()
        k.ok(SETUP_GAPMINDER)
        res = k.run("%viz --df df --explain population by continent")
        assert level_of(res) == "planner"
        assert_population_bars(chart_message(res)["content"]["data"][PLOTLY], gapminder)
        assert llm.requests == []
    finally:
        k.stop()
