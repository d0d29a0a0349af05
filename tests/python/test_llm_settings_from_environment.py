"""The LLM settings read from the environment (the cases the Swift configuration tests held
before the settings moved to Python): key precedence, local servers, bad values, no key shown."""
import pytest

from anyviz import llm_http

from_env = llm_http.LLMConfig.from_environment


def test_no_keys_means_offline_with_a_hint():
    config = from_env({})
    assert config.provider == "offline"
    assert "offline" in config.summary and "GEMINI_API_KEY" in config.summary


def test_each_provider_defaults_to_its_vendor():
    gemini = from_env({"GEMINI_API_KEY": "g-secret-1"})
    assert (gemini.provider, gemini.model) == ("gemini", "gemini-2.5-flash")
    assert gemini.api_key == "g-secret-1"
    assert gemini.base_url == "https://generativelanguage.googleapis.com/v1beta"
    assert (gemini.timeout, gemini.max_attempts, gemini.issues) == (60, 3, [])
    openai = from_env({"OPENAI_API_KEY": "o-secret-2"})
    assert (openai.provider, openai.model) == ("openai", "gpt-4o-mini")
    assert openai.base_url == "https://api.openai.com/v1"


def test_a_provider_takes_its_own_key_never_the_other_services():
    both = {"GEMINI_API_KEY": "g-secret-1", "OPENAI_API_KEY": "o-secret-2"}
    assert from_env(both).provider == "gemini"
    assert from_env({**both, "ANYVIZ_LLM_PROVIDER": "OpenAI"}).api_key == "o-secret-2"
    assert from_env({"ANYVIZ_LLM_PROVIDER": "openai", "GEMINI_API_KEY": "g"}).api_key is None
    assert from_env({**both, "ANYVIZ_LLM_PROVIDER": "openai",
                     "ANYVIZ_LLM_API_KEY": "any-secret-3"}).api_key == "any-secret-3"
    assert from_env({"ANYVIZ_LLM_PROVIDER": "offline", "GEMINI_API_KEY": "g"}).provider == "offline"


def test_a_local_openai_compatible_server_needs_no_key():
    config = from_env({"ANYVIZ_LLM_PROVIDER": "openai",
                       "ANYVIZ_LLM_BASE_URL": "http://localhost:11434/v1/",
                       "ANYVIZ_LLM_MODEL": "llama3.2", "ANYVIZ_LLM_TIMEOUT_S": "120",
                       "ANYVIZ_LLM_RETRIES": "0"})
    assert (config.base_url, config.model) == ("http://localhost:11434/v1", "llama3.2")
    assert config.api_key is None
    assert (config.timeout, config.max_attempts, config.issues) == (120, 1, [])
    assert "API key: not set" in config.summary


def test_bad_values_fall_back_and_the_summary_names_each():
    config = from_env({"GEMINI_API_KEY": "g-secret-1", "ANYVIZ_LLM_PROVIDER": "claude",
                       "ANYVIZ_LLM_TIMEOUT_S": "soon", "ANYVIZ_LLM_RETRIES": "-1",
                       "ANYVIZ_LLM_BASE_URL": "ftp://x"})
    assert (config.provider, config.timeout, config.max_attempts) == ("gemini", 60, 3)
    assert config.base_url == "https://generativelanguage.googleapis.com/v1beta"
    for setting in ("ANYVIZ_LLM_PROVIDER=claude", "ANYVIZ_LLM_TIMEOUT_S=soon", "ANYVIZ_LLM_RETRIES=-1",
                    "ANYVIZ_LLM_BASE_URL=ftp://x"):
        assert setting in config.summary
    assert "needs an API key" in from_env({"ANYVIZ_LLM_PROVIDER": "gemini"}).summary


@pytest.mark.parametrize("env", [
    {"OPENAI_API_KEY": "sk-very-secret-4242"},
    {"GEMINI_API_KEY": "sk-very-secret-4242", "ANYVIZ_LLM_MODEL": "gemini-2.5-pro"},
    {"ANYVIZ_LLM_API_KEY": "sk-very-secret-4242", "ANYVIZ_LLM_PROVIDER": "openai",
     "ANYVIZ_LLM_BASE_URL": "https://proxy.example/v1?key=sk-very-secret-4242"},
    {"ANYVIZ_LLM_API_KEY": "sk-very-secret-4242", "ANYVIZ_LLM_PROVIDER": "sk-very-secret-4242"},
])
def test_the_summary_never_shows_the_key(env):
    summary = from_env(env).summary
    assert "sk-very-secret-4242" not in summary and "secret" not in summary
