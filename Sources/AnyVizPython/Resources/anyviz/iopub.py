"""Publishing on IOPub through the kernel's `_anyviz` builtin module.

Every output the runtime produces (streams, rich displays, updates, comm messages) goes through
here, so the parent header and NaN-free JSON are handled in exactly one place.

Parents: the kernel numbers every request it hands to Python (a *parent token*) and keeps the
recent ones. Output from the thread running the request goes under the running request; a
thread remembers the token of the request during which it was created, so a `threading.Timer`
or a progress callback that prints after its cell ended still publishes under that cell (as
ipykernel 6+ does).
"""
from __future__ import annotations

import contextvars
import threading


try:
    import _anyviz  # provided by the Swift kernel (CAnyVizPython)
except ImportError:  # plain Python (unit tests install a fake before importing)
    _anyviz = None


def _jsonutil():
    """anyviz.jsonutil on first use: its orjson import stays off the kernel's start (the shell
    builder imports it in the background, see anyviz.startup)."""
    from . import jsonutil

    return jsonutil

#: Token of the request being served (0: none / the kernel's current request).
current_token = 0
#: The same token in the main thread's context: an asyncio task copies it when it is created,
#: so a task a cell left running publishes under that cell (as under ipykernel 7).
_context_token: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "anyviz_parent_token", default=None)
#: Header of the request being served, for code that asks the shell for its parent
#: (ipywidgets' Output widget captures outputs by the parent's msg_id).
current_header: dict = {}


def _bridge():
    global _anyviz
    if _anyviz is None:
        import _anyviz as bridge  # noqa: F811 - late import so tests can install a fake

        _anyviz = bridge
    return _anyviz


def has_native_services() -> bool:
    """True in the AnyViz kernel; False where `%load_ext anyviz` supplied a Python stand-in
    for the native side (its LLM client is then urllib's)."""
    return getattr(_bridge(), "native", True)


def begin_request(token: int, header: dict | None) -> None:
    """Called by the runtime when the kernel hands it a request."""
    global current_token, current_header
    current_token = int(token or 0)
    _context_token.set(current_token)
    current_header = dict(header or {})


def thread_token() -> int:
    """The parent token output from the calling thread belongs to."""
    thread = threading.current_thread()
    if thread is threading.main_thread():
        token = _context_token.get()
        return current_token if token is None else token
    token = getattr(thread, "_anyviz_parent", None)
    return current_token if token is None else token


def _serves_an_event_loop(thread) -> bool:
    """A thread running an asyncio loop (IPython's %%bash/%%sh runner, libraries' helpers) works
    for whichever request submits work to it, so it follows the running request."""
    target = getattr(thread, "_target", None)
    return (getattr(target, "__name__", "") == "run_forever"
            and hasattr(getattr(target, "__self__", None), "call_soon_threadsafe"))


def _remember_parent(init):
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._anyviz_parent = None if _serves_an_event_loop(self) else thread_token()
    __init__.__wrapped__ = init
    return __init__


def install_thread_parents() -> None:
    """Threads created from now on remember the request that created them (idempotent)."""
    if not hasattr(threading.Thread.__init__, "__wrapped__"):
        threading.Thread.__init__ = _remember_parent(threading.Thread.__init__)


def emit(msg_type: str, content: dict, token: int | None = None,
         metadata: dict | None = None, buffers: list | None = None) -> None:
    """Publish one IOPub message; `buffers` (bytes-like objects) go out as binary frames after
    the JSON parts, as widget comm messages carry images and arrays."""
    if msg_type != "stream":
        # Text printed before a display must reach the front end before it.
        import sys

        streams = sys.modules.get("anyviz.streams")
        if streams is not None:
            streams.flush_all()
    if token is None:
        token = thread_token()
    bridge = _bridge()
    payload = _jsonutil().dumps(content)
    if buffers:
        bridge.emit(msg_type, payload, token, _jsonutil().dumps(metadata or {}), list(buffers))
    elif metadata:
        bridge.emit(msg_type, payload, token, _jsonutil().dumps(metadata))
    elif token:
        bridge.emit(msg_type, payload, token)
    else:
        bridge.emit(msg_type, payload)


def stream(name: str, text: str, token: int | None = None) -> None:
    if text:
        emit("stream", {"name": name, "text": text}, token)


def new_display_id() -> str:
    import uuid  # here: its import (platform and all) would lengthen the kernel's start

    return uuid.uuid4().hex


def display_data(data: dict, metadata: dict | None = None, display_id: str | None = None,
                 update: bool = False) -> None:
    """Publish a MIME bundle; with `update=True` replace the output that has `display_id`."""
    content = {"data": data, "metadata": metadata or {}, "transient": {}}
    if display_id is not None:
        content["transient"] = {"display_id": display_id}
    emit("update_display_data" if update else "display_data", content)


def clear_output(wait: bool = False) -> None:
    emit("clear_output", {"wait": bool(wait)})


def take_buffers() -> list:
    """The binary buffers of the front-end message being handled (none outside the kernel)."""
    take = getattr(_bridge(), "take_buffers", None)
    return take() if take is not None else []


def input_line(prompt: str = "", password: bool = False) -> str:
    return _bridge().input(str(prompt), bool(password))


def call(service: str, payload: dict) -> dict:
    """Ask the Swift side for a service (`viz`, `fetch`, ...); see docs/ARCHITECTURE.md."""
    return _jsonutil().loads(_bridge().call(service, _jsonutil().dumps(payload)))


def dumps(value) -> str:
    return _jsonutil().dumps(value)


def loads_reply(text: str) -> dict:
    """A JSON reply of an `anyviz.viz.api` function as a dict."""
    value = _jsonutil().loads(text)
    return value if isinstance(value, dict) else {}
