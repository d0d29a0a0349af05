"""Comms (ipywidgets, plotly's FigureWidget, ...) through the `comm` package.

The kernel hands `comm_open`, `comm_msg` and `comm_close` from the front end to `handle`, which
passes them to the `comm` package's manager; comms opened or messaged from Python publish on
IOPub through `anyviz.iopub`, under the request being served (a cell, or the comm message whose
callback is running). Binary buffers travel both ways as zmq frames, as under ipykernel: a
front end's buffers reach `msg["buffers"]` as memoryviews, and `comm.send(data, buffers=[...])`
publishes them after the JSON parts (ipywidgets' Image, arrays of bqplot or ipydatagrid).
"""
from __future__ import annotations

import comm
from comm.base_comm import BaseComm, CommManager

from . import iopub


class KernelComm(BaseComm):
    """A comm whose messages go out on IOPub."""

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        content = {"data": {} if data is None else data, "comm_id": self.comm_id}
        content.update({k: v for k, v in keys.items() if v is not None or k == "target_module"})
        iopub.emit(msg_type, content, metadata=metadata, buffers=buffers)


_manager = CommManager()


def _create_comm(*args, **kwargs) -> BaseComm:
    return KernelComm(*args, **kwargs)


def _get_comm_manager() -> CommManager:
    return _manager


def install() -> None:
    """Make the `comm` package create kernel comms (ipywidgets asks it for them)."""
    comm.create_comm = _create_comm
    comm.get_comm_manager = _get_comm_manager


def handle(msg_type: str, content: dict, header: dict | None = None,
           buffers: list | None = None) -> None:
    """A comm message from the front end; its binary buffers become memoryviews, as ipykernel
    hands them to comm callbacks."""
    msg = {"header": dict(header or {}, msg_type=msg_type), "parent_header": {},
           "metadata": {}, "content": content,
           "buffers": [memoryview(b) for b in buffers or ()]}
    handler = {"comm_open": _manager.comm_open, "comm_msg": _manager.comm_msg,
               "comm_close": _manager.comm_close}.get(msg_type)
    if handler is not None:
        handler(None, None, msg)


def info(target_name: str | None = None) -> dict:
    """comm_info_reply's `comms`: open comms, optionally of one target."""
    return {cid: {"target_name": c.target_name} for cid, c in list(_manager.comms.items())
            if not target_name or c.target_name == target_name}
