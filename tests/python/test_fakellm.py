"""The fake LLM server must speak the real wire formats and misbehave exactly as scripted,
otherwise the Swift provider tests that rely on it prove nothing."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from fakellm import FakeLLM, pattern_bytes  # noqa: E402


def post(url, body, headers=None, timeout=5):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


GEMINI_BODY = {"systemInstruction": {"parts": [{"text": "sys"}]},
               "contents": [{"role": "user", "parts": [{"text": "plot it"}]}],
               "generationConfig": {"temperature": 0}}
OPENAI_BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "plot it"}], "temperature": 0}


@pytest.fixture
def llm():
    with FakeLLM() as server:
        yield server


def test_reply_is_wrapped_in_each_wire_format(llm):
    llm.script([{"reply": "fig = px.bar(df)"}])
    status, body, _ = post(f"{llm.gemini_base_url}/models/gemini-x:generateContent", GEMINI_BODY,
                           {"x-goog-api-key": "k1"})
    assert status == 200
    assert json.loads(body)["candidates"][0]["content"]["parts"][0]["text"] == "fig = px.bar(df)"
    status, body, _ = post(f"{llm.base_url}/chat/completions", OPENAI_BODY, {"Authorization": "Bearer k2"})
    assert status == 200
    reply = json.loads(body)
    assert reply["choices"][0]["message"]["content"] == "fig = px.bar(df)"
    assert reply["model"] == "gpt-test"


def test_log_keeps_path_headers_and_parsed_body(llm):
    post(f"{llm.gemini_base_url}/models/gemini-x:generateContent", GEMINI_BODY, {"x-goog-api-key": "SECRET"})
    [entry] = llm.requests
    assert entry["path"] == "/v1beta/models/gemini-x:generateContent"
    assert entry["kind"] == "gemini"
    assert entry["headers"]["x-goog-api-key"] == "SECRET"
    assert entry["body"] == GEMINI_BODY


def test_script_steps_in_order_then_last_repeats(llm):
    llm.script([{"status": 429, "headers": {"Retry-After": "1"}}, {"status": 500, "body": "boom"},
                {"reply": "done"}])
    url = f"{llm.base_url}/chat/completions"
    status, body, headers = post(url, OPENAI_BODY)
    assert status == 429 and headers["Retry-After"] == "1"
    assert "message" in json.loads(body)["error"]
    assert post(url, OPENAI_BODY)[:2] == (500, b"boom")
    for _ in range(2):
        status, body, _ = post(url, OPENAI_BODY)
        assert json.loads(body)["choices"][0]["message"]["content"] == "done"
    assert [r["step"] for r in llm.requests] == [0, 1, 2, 2]


def test_garbage_empty_and_hang(llm):
    url = f"{llm.gemini_base_url}/models/m:generateContent"
    llm.script([{"garbage": "<html>nope"}, {"empty": True}, {"hang": 0.3, "reply": "slow"}])
    assert post(url, GEMINI_BODY)[:2] == (200, b"<html>nope")
    assert json.loads(post(url, GEMINI_BODY)[1])["candidates"][0]["content"]["parts"] == []
    start = time.monotonic()
    status, body, _ = post(url, GEMINI_BODY)
    assert time.monotonic() - start >= 0.3
    assert json.loads(body)["candidates"][0]["content"]["parts"][0]["text"] == "slow"


def test_hang_client_timeout_does_not_break_server(llm):
    llm.script([{"hang": 5}, {"reply": "after"}])
    url = f"{llm.base_url}/chat/completions"
    with pytest.raises(Exception):
        post(url, OPENAI_BODY, timeout=0.3)
    assert json.loads(post(url, OPENAI_BODY)[1])["choices"][0]["message"]["content"] == "after"


def test_bad_script_is_rejected_with_a_hint(llm):
    with pytest.raises(ValueError, match="reply/status/hang/garbage/empty"):
        llm.script([{"repl": "typo"}])


def test_require_key_rejects_a_wrong_key():
    with FakeLLM(require_key="good") as llm:
        status, body, _ = post(f"{llm.base_url}/chat/completions", OPENAI_BODY, {"Authorization": "Bearer bad"})
        assert status == 401 and "error" in json.loads(body)
        status, _, _ = post(f"{llm.base_url}/chat/completions", OPENAI_BODY, {"Authorization": "Bearer good"})
        assert status == 200


def test_download_bytes(llm):
    with urllib.request.urlopen(f"{llm.url}/bytes/1000", timeout=5) as resp:
        assert resp.read() == pattern_bytes(1000)


def test_command_line_prints_port_and_logs(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"reply": "from file"}]))
    log = tmp_path / "log.jsonl"
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "fakellm.py"), "--port", "0",
                             "--script", str(script), "--log", str(log)],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        status, body, _ = post(f"http://127.0.0.1:{port}/v1/chat/completions", OPENAI_BODY,
                               {"Authorization": "Bearer K"})
        assert json.loads(body)["choices"][0]["message"]["content"] == "from file"
        # control endpoint rescripts a running server
        post(f"http://127.0.0.1:{port}/_fake/script", [{"status": 503}])
        assert post(f"http://127.0.0.1:{port}/v1/chat/completions", OPENAI_BODY)[0] == 503
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["kind"] for e in entries] == ["openai", "openai"]
    assert entries[0]["headers"]["authorization"] == "Bearer K"
    assert entries[0]["body"]["messages"][0]["content"] == "plot it"
