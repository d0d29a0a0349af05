"""Comms (ipywidgets, plotly's FigureWidget, ...) through the `comm` package.

The kernel hands `comm_open`, `comm_msg` and `comm_close` from the front end to `handle`, which
passes them to the `comm` package's manager; comms opened or messaged from Python publish on
IOPub through `anyviz.iopub`, under the request being served (a cell, or the comm message whose
callback is running). Binary buffers are not carried: widgets whose state is plain JSON (sliders,
dropdowns, buttons, output areas) work; ones that send raw bytes do not.
"""
from __future__ import annotations

import logging

import comm
from comm.base_comm import BaseComm, CommManager

from . import iopub

_log = logging.getLogger("anyviz.comms")


class KernelComm(BaseComm):
    """A comm whose messages go out on IOPub."""

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        if buffers:
            _log.warning("comm %s: %d binary buffer(s) not sent (not supported)",
                         self.comm_id, len(buffers))
        content = {"data": {} if data is None else data, "comm_id": self.comm_id}
        content.update({k: v for k, v in keys.items() if v is not None or k == "target_module"})
        iopub.emit(msg_type, content, metadata=metadata)


_manager = CommManager()


def _create_comm(*args, **kwargs) -> BaseComm:
    return KernelComm(*args, **kwargs)


def _get_comm_manager() -> CommManager:
    return _manager


def install() -> None:
    """Make the `comm` package create kernel comms (ipywidgets asks it for them)."""
    comm.create_comm = _create_comm
    comm.get_comm_manager = _get_comm_manager


def handle(msg_type: str, content: dict, header: dict | None = None) -> None:
    """A comm message from the front end."""
    msg = {"header": dict(header or {}, msg_type=msg_type), "parent_header": {},
           "metadata": {}, "content": content, "buffers": []}
    handler = {"comm_open": _manager.comm_open, "comm_msg": _manager.comm_msg,
               "comm_close": _manager.comm_close}.get(msg_type)
    if handler is not None:
        handler(None, None, msg)


def info(target_name: str | None = None) -> dict:
    """comm_info_reply's `comms`: open comms, optionally of one target."""
    return {cid: {"target_name": c.target_name} for cid, c in list(_manager.comms.items())
            if not target_name or c.target_name == target_name}
