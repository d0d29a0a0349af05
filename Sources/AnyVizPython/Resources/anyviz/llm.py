"""The LLM as the chart pipeline sees it: the settings in force and one call, `complete`.

Settings have one home, here: read from ANYVIZ_LLM_* (and GEMINI_API_KEY / OPENAI_API_KEY) on
first use, changed by `%llm` (`configure`), shown by `%llm` and `%health` (`settings().summary`,
`status`). The prompts and the reply parser are in `anyviz.llm_http`.

Two services implement `LLMService`; `service()` picks one:

- `NativeLLM` in the AnyViz kernel: one `_anyviz.call("llm_complete", ...)` into Swift, which
  runs the libcurl providers (Sources/AnyVizLLM) with the GIL released: timeouts, retries
  with backoff, cancellation within 0.1 s of an interrupt, the wire formats. It answers
  `{status: ok, text}` or `{status: error, kind, message, retryable}` and records the LLM
  latency and prompt size metrics itself.
- `HTTPLLM` under `%load_ext anyviz` in another kernel: the same wire formats with urllib.

Both raise `anyviz.errors.LLMError` (kind + a message for the user); an interrupt arrives as
KeyboardInterrupt.
"""
from __future__ import annotations

import os
import threading
from typing import Protocol

from . import iopub, llm_http
from .errors import LLMError, UsageError
from .llm_http import LLMConfig


class LLMService(Protocol):
    """Sends chat messages (`[{"role", "content"}]`) and returns the model's text."""

    def complete(self, messages: list[dict], config: LLMConfig) -> str:
        """The answer's text; raises LLMError (or KeyboardInterrupt when interrupted)."""


class NativeLLM:
    """The kernel's native client: one typed crossing per call."""

    def complete(self, messages: list[dict], config: LLMConfig) -> str:
        reply = iopub.call("llm_complete", {"config": config.to_native(), "messages": messages})
        if reply.get("status") == "ok" and isinstance(reply.get("text"), str):
            return reply["text"]
        raise LLMError(config.redact(str(reply.get("message") or "the LLM call failed")),
                       kind=str(reply.get("kind") or "transport"),
                       retryable=bool(reply.get("retryable")))


class HTTPLLM:
    """urllib, for kernels without AnyViz's native side."""

    def complete(self, messages: list[dict], config: LLMConfig) -> str:
        return llm_http.complete(config, messages)


def service() -> LLMService:
    """The native client when the kernel provides one, else urllib."""
    return NativeLLM() if iopub.has_native_services() else HTTPLLM()


_lock = threading.Lock()
_config: LLMConfig | None = None


def settings() -> LLMConfig:
    """The configuration in force (from the environment until `%llm` changes it)."""
    global _config
    with _lock:
        if _config is None:
            _config = LLMConfig.from_environment()
        return _config


def configure(provider=None, model=None, base_url=None, key_env=None, timeout=None,
              environ=None) -> LLMConfig:
    """`%llm`'s changes; the key is read from the environment variable `key_env` names so it
    never appears in a notebook. Raises UsageError for an unknown provider or unset variable."""
    global _config
    environ = os.environ if environ is None else environ
    api_key = None
    if key_env:
        api_key = environ.get(key_env)
        if not api_key:
            raise UsageError(f"The environment variable {key_env} is not set in the kernel's "
                             "environment. Set it before starting Jupyter.")
    if timeout is not None and not (0 < float(timeout) < float("inf")):
        raise UsageError(f"%llm --timeout must be a positive number of seconds, not {timeout}.")
    if base_url is not None and not base_url.lower().startswith(("http://", "https://")):
        raise UsageError(f"%llm --base-url must start with http:// or https://, not {base_url}.")
    current = settings()
    try:
        changed = current.updated(provider=provider, model=model, base_url=base_url,
                                  api_key=api_key, timeout=timeout)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with _lock:
        _config = changed
    return changed


def reset() -> None:
    """Forget `%llm`'s changes: the next `settings()` reads the environment again."""
    global _config
    with _lock:
        _config = None


def status() -> str:
    """`%health`'s LLM line: does the provider's model list answer? (never shows the key)"""
    return llm_http.reachability(settings())
