"""Data stays home: what the LLM receives through a real kernel (the fake server's request log).

The prompt holds the schema and a few short sample values; a failing chart sends back only the
exception type and a short masked message, even when the code puts the whole frame into its
error; the size of every request is capped and the kernel measures it
(anyviz_llm_prompt_bytes on the Prometheus endpoint).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import urllib.request

import pytest

from fakellm import FakeLLM
from kernel_harness import IS_ANYVIZ
from test_untrusted_text import Kernel, llm_env

pytestmark = pytest.mark.skipif(not IS_ANYVIZ, reason="AnyViz-specific: %viz with an LLM")

#: The Python side caps the data summary at this many bytes (anyviz.viz.api.PROMPT_LIMIT).
PROMPT_LIMIT = 8192
ROWS = 400
GOOD = "fig = px.histogram(df, x='amount', title='Amounts')"
# 400 rows whose every value is unique and recognisable in a request body.
SETUP = (f"import pandas as pd\n"
         f"df = pd.DataFrame({{'customer': [f'cust-{{i:04d}}-zq' for i in range({ROWS})],\n"
         f"                   'amount': [1000.0 + i * 1.0137 for i in range({ROWS})],\n"
         f"                   'code': [f'K{{i * 7919 % 100003:06d}}X' for i in range({ROWS})]}})")


def values():
    """Every cell of the frame as it could appear in text."""
    out = set()
    for i in range(ROWS):
        out.add(f"cust-{i:04d}-zq")
        amount = 1000.0 + i * 1.0137
        out.update({repr(amount), f"{amount:.4f}", f"{amount:.6f}"[:-2]})
        out.add(f"K{i * 7919 % 100003:06d}X")
    return out


def reply(code, explanation="ok"):
    return json.dumps({"code": code, "explanation": explanation, "alternatives": []})


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llm():
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def kernel(llm):
    cache = tempfile.mkdtemp(prefix="anyviz-leak-")
    port = _free_port()
    k = Kernel(**llm_env(llm, cache), ANYVIZ_METRICS_PORT=port)
    k.metrics_port = port
    k.ok(SETUP)
    yield k
    k.stop()
    shutil.rmtree(cache, ignore_errors=True)


def chat_requests(llm):
    return [r for r in llm.requests if r["kind"] in ("openai", "gemini")]


def user_messages(req):
    return [m["content"] for m in req["body"]["messages"] if m["role"] == "user"]


def leaked(text, allowed):
    return sorted(v for v in values() - allowed if v in text)


def test_error_carrying_the_whole_frame_is_not_sent_back(kernel, llm):
    llm.reset()
    llm.script([{"reply": reply("raise ValueError(df.to_string())")}, {"reply": reply(GOOD)}])
    res = kernel.ok("%viz --df df --no-cache --explain amounts")
    assert "How this chart was made: llm" in res.stream("stdout")  # repaired
    first, second = chat_requests(llm)
    schema_sample = {v for v in values() if v in json.dumps(first["body"])}
    assert len(schema_sample) <= 3 * 3 + 5 * 2, schema_sample  # a few samples per column
    feedback = user_messages(second)[-1]
    assert feedback.startswith("That code failed: ValueError")
    error = feedback.split("That code failed: ", 1)[1].split("\nFix it.", 1)[0]
    assert len(error) <= 500
    assert "data omitted" in error
    # Nothing in the repair request beyond what the first request already held.
    assert leaked(json.dumps(second["body"]), schema_sample) == []


def test_error_quoting_values_is_masked(kernel, llm):
    llm.reset()
    code = ("bad = df.loc[df['amount'] > 1200, 'customer'].tolist()\n"
            "raise KeyError(f\"no such customers: {bad[:40]} amounts {df['amount'].tolist()[:50]}\")")
    llm.script([{"reply": reply(code)}, {"reply": reply(GOOD)}])
    kernel.ok("%viz --df df --no-cache amounts again")
    first, second = chat_requests(llm)
    schema_sample = {v for v in values() if v in json.dumps(first["body"])}
    feedback = user_messages(second)[-1]
    assert "KeyError" in feedback
    assert leaked(feedback, schema_sample) == []
    assert not re.search(r"cust-\d{4}-zq", feedback.replace("cust-0000-zq", ""))


def test_prompt_is_capped_and_measured(kernel, llm):
    llm.reset()
    kernel.ok("wide = pd.DataFrame({f'column_{i:05d}_' + 'n' * 40: ['v' * 300, 'w' * 300] "
              "for i in range(3000)})")
    llm.script([{"reply": reply("fig = px.histogram(df, x=df.columns[0])")}])
    kernel.ok("%viz --df wide --no-cache the first column")
    (req,) = chat_requests(llm)
    (user,) = user_messages(req)
    data = user.split("Data:\n", 1)[1].split("\n\nRequest: ", 1)[0]
    assert len(data.encode()) <= PROMPT_LIMIT
    assert "more line(s) not listed" in data
    assert "v" * 41 not in user  # sample values truncated
    total = sum(len(m["content"].encode()) for m in req["body"]["messages"])
    assert total < PROMPT_LIMIT + 4096  # summary + the fixed rules + the request
    # The kernel measured it: the Prometheus summary counts every request and its bytes.
    text = urllib.request.urlopen(f"http://127.0.0.1:{kernel.metrics_port}/metrics",
                                  timeout=5).read().decode()
    sums = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("anyviz_llm_prompt_bytes_sum")]
    counts = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith("anyviz_llm_prompt_bytes_count")]
    assert sums and counts and counts[0] >= 1, text[:2000]
    assert sums[0] / counts[0] < PROMPT_LIMIT + 4096


def test_huge_error_message_is_capped_before_it_is_sent(kernel, llm):
    llm.reset()
    llm.script([{"reply": reply("raise RuntimeError('E' * 30_000_000)")},
                {"reply": reply(GOOD)}])
    kernel.ok("%viz --df df --no-cache amounts, third try")
    first, second = chat_requests(llm)
    assert len(json.dumps(second["body"])) < len(json.dumps(first["body"])) + 2000
