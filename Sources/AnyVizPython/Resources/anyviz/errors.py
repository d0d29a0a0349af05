"""Errors whose message is meant for the user: the runtime shows them without a Python traceback."""


class AnyVizError(Exception):
    """Base class: `str(error)` says what was wrong and what to do."""


class UsageError(AnyVizError):
    """A magic was called with arguments it does not understand."""


class DataError(AnyVizError):
    """A file or frame cannot be used as data (binary, empty, ragged, ...)."""


class MagicError(AnyVizError):
    """A magic failed; raised by the kernel's bridge with the magic's message."""
