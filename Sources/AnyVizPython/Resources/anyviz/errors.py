"""Errors whose message is meant for the user: the runtime shows them without a Python traceback."""
from . import safety

#: Longest message an error shows. Messages often quote file contents, names or error text
#: from chart code; a 30 MB message must not reach the notebook.
MESSAGE_LIMIT = 20_000


class AnyVizError(Exception):
    """Base class: `str(error)` says what was wrong and what to do (capped, no direction
    controls or terminal escapes, whatever text it quotes)."""

    def __str__(self) -> str:
        return safety.plain(super().__str__(), MESSAGE_LIMIT)


class UsageError(AnyVizError):
    """A magic was called with arguments it does not understand."""


class DataError(AnyVizError):
    """A file or frame cannot be used as data (binary, empty, ragged, ...)."""


class NotUnderstood(AnyVizError):
    """The planner could not read a request: the message names the words, the closest columns
    and requests that work. A guessed chart would be worse, so no fallback chart follows."""


class MagicError(AnyVizError):
    """A magic failed; raised by the kernel's bridge with the magic's message."""


class VizError(AnyVizError):
    """`%viz` or `%customize` could not show anything: every rung of the fallback ladder
    failed (or the request was not understood); the message says why and what to do."""


class LLMError(AnyVizError):
    """The LLM could not be used. `str()` is a message for the user (never a key); `kind`
    names the failure for metrics (timeout, http_429, transport, malformed, empty, no_code,
    not_configured) and `retryable` says whether another attempt could help."""

    def __init__(self, message: str, *, retryable: bool = False, kind: str = "transport",
                 retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.kind = kind
        self.retry_after = retry_after
