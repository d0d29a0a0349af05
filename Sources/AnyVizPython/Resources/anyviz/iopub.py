"""Publishing on IOPub through the kernel's `_anyviz` builtin module.

Every output the runtime produces (streams, rich displays, updates) goes through here, so the
parent header and NaN-free JSON are handled in exactly one place.
"""
from __future__ import annotations

import sys
import uuid

from . import jsonutil

try:
    import _anyviz  # provided by the Swift kernel (CAnyVizPython)
except ImportError:  # plain Python (unit tests install a fake before importing)
    _anyviz = None


def _bridge():
    global _anyviz
    if _anyviz is None:
        import _anyviz as bridge  # noqa: F811 - late import so tests can install a fake

        _anyviz = bridge
    return _anyviz


def emit(msg_type: str, content: dict) -> None:
    if msg_type != "stream":
        # Text printed before a display must reach the front end before it.
        streams = sys.modules.get("anyviz.streams")
        if streams is not None:
            streams.flush_all()
    _bridge().emit(msg_type, jsonutil.dumps(content))


def stream(name: str, text: str) -> None:
    if text:
        emit("stream", {"name": name, "text": text})


def new_display_id() -> str:
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


def input_line(prompt: str = "", password: bool = False) -> str:
    return _bridge().input(str(prompt), bool(password))


def call(service: str, payload: dict) -> dict:
    """Ask the Swift side for a service (`magic`, `fetch`, ...); see docs/ARCHITECTURE.md."""
    return jsonutil.loads(_bridge().call(service, jsonutil.dumps(payload)))
