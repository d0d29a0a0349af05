"""The Python LLM client used by `%load_ext anyviz`, against the loopback fake LLM server
speaking the real Gemini and OpenAI wire formats."""
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from fakellm import FakeLLM  # noqa: E402

from anyviz import llm_http  # noqa: E402

CHART = {"code": "fig = px.bar(df, x='a', y='b')", "explanation": "b by a",
         "alternatives": ["a line of b"]}
MESSAGES = [{"role": "system", "content": "rules"}, {"role": "user", "content": "chart it"}]


@pytest.fixture()
def llm():
    with FakeLLM() as server:
        yield server


def _openai(llm, **kw):
    return llm_http.LLMConfig(provider="openai", base_url=llm.base_url, model="m",
                              api_key=kw.pop("api_key", "sk-secret-123"), backoff_base=0.01, **kw)


def test_openai_wire_format_and_key_only_in_header(llm):
    llm.script([{"reply": json.dumps(CHART)}])
    text = llm_http.complete(_openai(llm), MESSAGES)
    assert json.loads(text) == CHART
    (request,) = llm.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-secret-123"
    assert request["body"]["messages"] == MESSAGES and request["body"]["temperature"] == 0
    assert "sk-secret-123" not in json.dumps(request["body"]) + request["path"]


def test_gemini_wire_format(llm):
    llm.script([{"reply": "hello"}])
    config = llm_http.LLMConfig(provider="gemini", base_url=llm.gemini_base_url,
                                model="gemini-x", api_key="g-key-456")
    assert llm_http.complete(config, MESSAGES + [{"role": "assistant", "content": "a"}]) == "hello"
    (request,) = llm.requests
    assert request["path"] == "/v1beta/models/gemini-x:generateContent"
    assert request["headers"]["x-goog-api-key"] == "g-key-456"
    body = request["body"]
    assert body["systemInstruction"] == {"parts": [{"text": "rules"}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model"]


def test_rate_limit_is_retried_then_answered(llm):
    llm.script([{"status": 429}, {"status": 503}, {"reply": "ok now"}])
    assert llm_http.complete(_openai(llm), MESSAGES, sleep=lambda s: None) == "ok now"
    assert len(llm.requests) == 3


def test_client_error_is_not_retried_and_never_shows_the_key(llm):
    llm.script([{"status": 401, "body": {"error": {"message": "bad key sk-secret-123"}}}])
    with pytest.raises(llm_http.LLMError) as caught:
        llm_http.complete(_openai(llm), MESSAGES, sleep=lambda s: None)
    assert len(llm.requests) == 1
    assert "HTTP 401" in str(caught.value) and "sk-secret-123" not in str(caught.value)
    assert "[API key]" in str(caught.value)


def test_timeout_is_reported_not_retried(llm):
    llm.script([{"hang": 5}])
    with pytest.raises(llm_http.LLMError) as caught:
        llm_http.complete(_openai(llm, timeout=0.3), MESSAGES, sleep=lambda s: None)
    assert caught.value.kind == "timeout" and "0.3 s" in str(caught.value)
    assert len(llm.requests) == 1


def test_unreachable_server_gives_a_message(llm):
    config = llm_http.LLMConfig(provider="openai", base_url="http://127.0.0.1:9/v1", model="m",
                                max_attempts=1)
    with pytest.raises(llm_http.LLMError) as caught:
        llm_http.complete(config, MESSAGES)
    assert "could not connect" in str(caught.value)


def test_garbage_and_empty_replies_are_errors(llm):
    llm.script([{"garbage": "<html>proxy</html>"}])
    with pytest.raises(llm_http.LLMError, match="choices"):
        llm_http.complete(_openai(llm), MESSAGES)
    llm.script([{"empty": True}])
    with pytest.raises(llm_http.LLMError, match="no text"):
        llm_http.complete(_openai(llm), MESSAGES)


@pytest.mark.parametrize("text", [
    json.dumps(CHART),
    "Here it is:\n```json\n" + json.dumps(CHART) + "\n```",
    'Answer: {"code": "fig = px.bar(df, x=\'a\', y=\'b\')\n", "explanation": "b by a", '
    '"alternatives": ["a line of b"]}',
    "Here is the code:\n```python\nfig = px.bar(df, x='a', y='b')\n```\nb by a",
])
def test_chart_reply_shapes(text):
    reply = llm_http.parse_chart_reply(text)
    assert reply.code == "fig = px.bar(df, x='a', y='b')"
    assert reply.explanation == "b by a"


def test_reply_without_code_is_an_error():
    with pytest.raises(llm_http.LLMError, match="no code"):
        llm_http.parse_chart_reply("I cannot help with that.")


def test_configuration_from_environment_never_sends_a_key_elsewhere():
    env = {"OPENAI_API_KEY": "sk-1", "ANYVIZ_LLM_PROVIDER": "gemini"}
    config = llm_http.LLMConfig.from_environment(env)
    assert config.provider == "gemini" and config.api_key is None
    assert any("GEMINI_API_KEY" in issue for issue in config.issues)
    config = llm_http.LLMConfig.from_environment({"ANYVIZ_LLM_TIMEOUT_S": "soon"})
    assert config.provider == "offline" and config.timeout == llm_http.DEFAULT_TIMEOUT_S
    assert "ANYVIZ_LLM_TIMEOUT_S=soon" in config.summary
    local = llm_http.LLMConfig.from_environment(
        {"ANYVIZ_LLM_PROVIDER": "openai", "ANYVIZ_LLM_BASE_URL": "http://u:p@localhost:1/v1/"})
    assert local.base_url == "http://u:p@localhost:1/v1"
    assert "base URL: http://localhost:1/v1" in local.summary and "u:p" not in local.summary


def test_prompt_is_capped():
    messages = llm_http.chart_messages("s" * 50_000, "r" * 5_000, {"x": "a", "y": ""})
    user = messages[1]["content"]
    assert len(user.encode()) < 11_000 and "characters cut" in user and "bytes cut" in user
    assert "The user fixed these choices: x=a" in user


def test_native_payload_carries_the_settings_and_the_key_only_there():
    """The AnyViz kernel's `llm_complete` gets the settings in force from Python (their one
    home); the summary shown to the user never has the key."""
    config = llm_http.LLMConfig.from_environment({"ANYVIZ_LLM_PROVIDER": "openai",
                                                  "ANYVIZ_LLM_API_KEY": "sk-secret-999",
                                                  "ANYVIZ_LLM_TIMEOUT_S": "7",
                                                  "ANYVIZ_LLM_RETRIES": "0"})
    native = config.to_native()
    assert native["provider"] == "openai" and native["api_key"] == "sk-secret-999"
    assert native["timeout"] == 7 and native["max_attempts"] == 1
    assert native["base_url"] == llm_http.OPENAI_BASE_URL
    assert "sk-secret-999" not in config.summary
