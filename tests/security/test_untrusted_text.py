"""Untrusted text (LLM replies, file contents, error text) through every output path of a real
kernel, with the scripted fake LLM server: nothing from the payload becomes live markup.

The corpus holds HTML that runs script (<img onerror>, <script>, <svg onload>), Markdown links
to javascript: URLs, backticks that would break out of a code span, Unicode direction controls
and very long strings. Each test drives one path the way a user does (%viz, %load, %profile,
--code, a cached answer replayed by a fresh kernel) and checks every text/html and
text/markdown output of the cell.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import tempfile

import pandas as pd
import pytest

from fakellm import FakeLLM
from kernel_harness import IS_ANYVIZ, execute

pytestmark = pytest.mark.skipif(not IS_ANYVIZ, reason="AnyViz-specific output paths")

# Markers that only appear if a payload tag survived unescaped.
TAGS = ("<img src=x", "<img src=y", "<script>window.__pwned", "<svg onload", "<iframe")
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"

HOSTILE = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=2</script>",
    "[click me](javascript:window.__pwned=3)",
    "`` `</code><img src=y onerror=window.__pwned=4>` ``",
    "javascript:alert(document.domain)",
    "\u202eRLO\u2066LRI\u2069 <svg onload=window.__pwned=5>",
    "<iframe src=javascript:alert(6)></iframe>",
]
LONG = "L" * 200_000
HOSTILE_TEXT = " ".join(HOSTILE)
GOOD_CODE = "fig = px.bar(df, x='region', y='sales', title='Sales by region')"
SETUP = ("import pandas as pd\n"
         "df = pd.DataFrame({'region': ['north', 'south', 'east', 'west'] * 5,\n"
         "                   'sales': [float(i * 7 % 11) for i in range(20)]})")


def reply(code=GOOD_CODE, explanation=HOSTILE_TEXT, alternatives=tuple(HOSTILE)):
    return json.dumps({"code": code, "explanation": explanation,
                       "alternatives": list(alternatives)})


class Kernel:
    """An AnyViz kernel with extra environment (LLM endpoint, cache directory)."""

    def __init__(self, **env):
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="anyviz")
        self.km.start_kernel(env={**os.environ, **{k: str(v) for k, v in env.items()}})
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=60)
        except Exception:
            self.stop()
            raise

    def run(self, code, timeout=90):
        return execute(self.kc, code, timeout=timeout)

    def ok(self, code, timeout=90):
        res = self.run(code, timeout)
        assert res.status == "ok", (code, res.content.get("ename"), res.content.get("evalue"))
        return res

    def stop(self):
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)


def llm_env(llm, cache_dir):
    return {"ANYVIZ_LLM_PROVIDER": "openai", "ANYVIZ_LLM_BASE_URL": llm.base_url,
            "ANYVIZ_LLM_API_KEY": "sk-test-untrusted", "ANYVIZ_LLM_MODEL": "fake-model",
            "ANYVIZ_LLM_TIMEOUT_S": "5", "ANYVIZ_LLM_RETRIES": "1",
            "ANYVIZ_CACHE_DIR": cache_dir, "ANYVIZ_GUARD_TIMEOUT_S": "10",
            "ANYVIZ_REDIS_URL": "", "GEMINI_API_KEY": "", "OPENAI_API_KEY": ""}


# --------------------------------------------------------------------------- checks
def rich_texts(res):
    """(mime, text) of every text/html and text/markdown output of the cell."""
    out = []
    for m in res.outputs:
        data = m["content"].get("data") or {}
        for mime in ("text/html", "text/markdown"):
            if mime in data:
                out.append((mime, data[mime]))
    return out


def plotly_free(text):
    """An HTML output without the embedded plotly.js library (its own code is not payload)."""
    return re.sub(r"if \(!window\.Plotly\) \{.*?\n\}</script>", "", text, flags=re.S)


def assert_inert(res, *, what):
    """No payload tag, live javascript: link or direction control in any rich output, and no
    rich output (other than a chart's plotly.js) is huge."""
    texts = rich_texts(res)
    assert texts, f"{what}: the cell showed no HTML/Markdown output"
    for mime, text in texts:
        body = plotly_free(text)
        lowered = body.lower()
        for tag in TAGS:
            assert tag.lower() not in lowered, f"{what}: {tag!r} live in {mime}"
        if mime == "text/markdown":
            assert not re.search(r"(?<!\\)\]\(javascript:", body), f"{what}: live md link"
        assert not re.search(r"href=[\"']?javascript:", lowered), f"{what}: live href"
        assert not any(ch in body for ch in BIDI), f"{what}: direction control in {mime}"
        assert len(body) < 300_000, f"{what}: {mime} output of {len(body):,} characters"


def info_outputs(res):
    return [m["content"]["data"] for m in res.outputs
            if m["msg_type"] in ("display_data", "update_display_data")
            and ((m["content"].get("transient") or {}).get("display_id") or "").endswith("-info")]


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
def workdir():
    path = tempfile.mkdtemp(prefix="anyviz-untrusted-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def kernel(llm, workdir):
    k = Kernel(**llm_env(llm, os.path.join(workdir, "cache")))
    k.ok(SETUP)
    yield k
    k.stop()


@pytest.fixture(scope="module")
def offline_kernel(workdir):
    k = Kernel(ANYVIZ_LLM_PROVIDER="", ANYVIZ_REDIS_URL="", GEMINI_API_KEY="",
               OPENAI_API_KEY="", ANYVIZ_CACHE_DIR=os.path.join(workdir, "cache-offline"))
    yield k
    k.stop()


@pytest.fixture(scope="module")
def hostile_csv(workdir):
    """A CSV whose header and cells carry the payloads."""
    path = os.path.join(workdir, "hostile.csv")
    frame = pd.DataFrame({
        '<img src=x onerror="window.__pwned=1">': ["<script>window.__pwned=2</script>"] * 6,
        "[c](javascript:window.__pwned=3)": [1.5, 2.5, 3.5, 4.5, 5.5, 6.5],
        "\u202eRLO <svg onload=window.__pwned=5>": ["a", "b", "a", "b", "a", "b"],
        "long_" + "L" * 5000: ["`x`</code><img src=y onerror=1>"] * 6,
    })
    frame.to_csv(path, index=False)
    return path


# =========================================================================== LLM text
def test_llm_explanation_and_alternatives_are_shown_as_text(kernel, llm):
    llm.script([{"reply": reply()}])
    res = kernel.ok("%viz --df df --no-cache sales by region")
    assert_inert(res, what="explanation/alternatives")
    (info,) = info_outputs(res)
    # The user still reads the text itself (escaped, not dropped).
    assert "&lt;img src=x onerror=" in info["text/html"]
    assert "<code>[click me](javascript:window.__pwned=3)</code>" in info["text/html"]
    assert "window.__pwned=1" in info["text/plain"]


def test_long_explanation_is_capped_with_a_visible_marker(kernel, llm):
    llm.script([{"reply": reply(explanation=LONG, alternatives=[LONG])}])
    res = kernel.ok("%viz --df df --no-cache sales per region, long text")
    assert_inert(res, what="long explanation")
    (info,) = info_outputs(res)
    assert "characters cut)" in info["text/plain"]
    assert all(len(v) < 20_000 for v in info.values())


def test_explain_prints_llm_text_capped_and_without_controls(kernel, llm):
    llm.script([{"reply": reply(explanation="\u202eRLO\x1b[2J" + LONG)}])
    res = kernel.ok("%viz --df df --no-cache --explain sales per region, explained")
    out = res.stream("stdout")
    assert "How this chart was made: llm" in out
    assert "characters cut)" in out and len(out) < 20_000
    assert not any(ch in out for ch in BIDI) and "\x1b" not in out


def test_error_text_of_llm_code_is_escaped_and_capped(kernel, llm):
    boom = ("raise ValueError(" + repr(HOSTILE_TEXT) + " + 'E' * 30_000_000)")
    llm.script([{"reply": reply(code=boom, explanation="x", alternatives=[])}])
    res = kernel.ok("%viz --df df --no-cache sales by region, failing code")
    assert_inert(res, what="error text in the note")
    infos = info_outputs(res)
    note = "\n".join(i["text/plain"] for i in infos)
    assert "Note:" in note and "ValueError" in note
    for m in res.outputs:  # the 30 MB message reaches no output
        assert len(json.dumps(m["content"])) < 6_000_000
    for r in llm.requests:  # ... and no request to the LLM
        assert len(json.dumps(r.get("body"))) < 20_000


def test_cached_reply_is_escaped_in_a_fresh_kernel_even_if_poisoned_on_disk(llm, workdir):
    cache_dir = os.path.join(workdir, "cache-replay")
    first = Kernel(**llm_env(llm, cache_dir))
    try:
        first.ok(SETUP)
        llm.script([{"reply": reply()}])
        first.ok("%viz --df df sales by region from the cache")
    finally:
        first.stop()
    (entry,) = [os.path.join(cache_dir, f) for f in os.listdir(cache_dir) if f.endswith(".json")]
    # An older version or another tool wrote raw markup and a huge text into the entry.
    with open(entry) as fh:
        stored = json.load(fh)
    poisoned = {"code": GOOD_CODE, "explanation": HOSTILE_TEXT + LONG,
                "alternatives": HOSTILE + [LONG]}
    stored["value"] = json.dumps(poisoned)
    with open(entry, "w") as fh:
        json.dump(stored, fh)
    llm.reset()
    second = Kernel(**llm_env(llm, cache_dir))
    try:
        second.ok(SETUP)
        res = second.ok("%viz --df df --explain sales by region from the cache")
        assert "How this chart was made: cache" in res.stream("stdout")
        assert not [r for r in llm.requests if r["kind"] in ("openai", "gemini")]
        assert_inert(res, what="cached reply")
        (info,) = info_outputs(res)
        assert "&lt;script&gt;window.__pwned=2" in info["text/html"]
        assert len(info["text/html"]) < 20_000
    finally:
        second.stop()


# =========================================================================== file contents
def test_hostile_csv_header_in_load_preview(offline_kernel, hostile_csv):
    res = offline_kernel.ok(f"%load {hostile_csv} --name h")
    assert_inert(res, what="%load preview")
    html = "\n".join(t for mime, t in rich_texts(res) if mime == "text/html")
    assert "&lt;img src=x onerror=" in html and "&lt;script&gt;window.__pwned=2" in html
    assert "L" * 1000 not in html  # the 5,000-character name is cut


def test_hostile_csv_in_table_fallback(offline_kernel, hostile_csv):
    offline_kernel.ok(f"%load {hostile_csv} --name h")
    res = offline_kernel.ok("import anyviz.viz.api as _api\n"
                            "_api.table('{\"frame\": \"h\", \"note\": " +
                            json.dumps(json.dumps(HOSTILE_TEXT))[1:-1] + "}')")
    assert_inert(res, what="table fallback")


def test_hostile_csv_in_profile(offline_kernel, hostile_csv):
    offline_kernel.ok(f"%load {hostile_csv} --name h")
    res = offline_kernel.ok("%profile h")
    assert_inert(res, what="%profile")


def test_hostile_csv_chart_without_llm(offline_kernel, hostile_csv):
    offline_kernel.ok(f"%load {hostile_csv} --name h")
    res = offline_kernel.ok("%viz --df h")
    assert_inert(res, what="planner chart of hostile columns")


def test_hostile_column_names_reach_the_prompt_only_as_quoted_capped_literals(
        kernel, llm, hostile_csv):
    kernel.ok(f"%load {hostile_csv} --name hp")
    llm.script([{"reply": reply(code="fig = px.histogram(df, x=df.columns[1])",
                                explanation="ok", alternatives=[])}])
    kernel.ok("%viz --df hp --no-cache a chart")
    (req,) = [r for r in llm.requests if r["kind"] == "openai"]
    prompt = req["body"]["messages"][-1]["content"]
    assert "'[c](javascript:window.__pwned=3)'" in prompt  # a quoted literal
    assert "\u202e" not in prompt
    assert "L" * 100 not in prompt  # names capped
    assert len(prompt.encode()) < 10_000


# =========================================================================== --code
MARKER = "/tmp/anyviz-untrusted-pwned"
HOSTILE_NAMES = ["it's", 'say "hi"', "two\nlines", "back\\slash", "<b>bold</b>",
                 f"__import__('os').system('touch {MARKER}')",
                 f"x'); open('{MARKER}', 'w'); ('", f"x\"); open('{MARKER}', 'w'); (\""]


def _next_cell(res):
    payloads = [p for p in res.content.get("payload", []) if p.get("source") == "set_next_input"]
    assert len(payloads) == 1, res.content.get("payload")
    return payloads[0]["text"]


def _string_literals(code):
    return {n.value for n in ast.walk(ast.parse(code))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)}


@pytest.mark.parametrize("column", HOSTILE_NAMES)
def test_code_from_the_planner_quotes_hostile_column_names(offline_kernel, column):
    frame_code = (f"import pandas as pd\nq = pd.DataFrame({{{column!r}: [1.0, 2.0, 3.0, 5.0],"
                  f" 'group': ['a', 'b', 'a', 'b']}})")
    offline_kernel.ok(frame_code + "\nimport anyviz.viz.api as _api\n_api._last.clear()")
    res = offline_kernel.ok("%viz --df q --code")
    assert_inert(res, what="chart of a hostile column name")
    charted = any("application/vnd.plotly.v1+json" in (m["content"].get("data") or {})
                  for m in res.outputs)
    if not charted:
        # The sandbox's static check refuses some names (dunder strings): no chart ran, so
        # there is no code to offer, and none may be offered.
        assert not [p for p in res.content.get("payload", [])
                    if p.get("source") == "set_next_input"]
        return
    code = _next_cell(res)
    compile(code, "<next cell>", "exec")  # valid Python
    lines = code.splitlines()
    assert lines[0].startswith("# ")
    if not all(line.startswith("#") for line in lines):  # a live script, not a refused one
        assert column in _string_literals(code), code
    # Running the cell in the kernel never runs the name's Python.
    offline_kernel.ok(f"import os\nos.path.exists({MARKER!r}) and os.remove({MARKER!r})")
    offline_kernel.run(code)
    res = offline_kernel.ok(f"import os\nprint(os.path.exists({MARKER!r}))")
    assert res.stream("stdout").strip() == "False"


def test_code_from_the_llm_says_so_and_is_the_code_that_ran(kernel, llm):
    llm.script([{"reply": reply(explanation="ok", alternatives=[])}])
    res = kernel.ok("%viz --df df --no-cache --code sales by region, as code")
    code = _next_cell(res)
    assert code.startswith("# Written by an LLM and run in AnyViz's chart sandbox")
    assert GOOD_CODE in code
    compile(code, "<next cell>", "exec")
