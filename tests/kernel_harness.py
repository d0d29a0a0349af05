"""Helpers shared by the kernel-level suites: which kernel, how to start it, how to run a cell.

Everything talks to the kernel over the real wire protocol through jupyter_client, exactly as
a notebook frontend would, so the same tests validate ipykernel (harness check) and AnyViz.
"""
import os
import time
from queue import Empty

import pytest

KERNEL = os.environ.get("ANYVIZ_TEST_KERNEL", "anyviz")
IS_ANYVIZ = KERNEL == "anyviz"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
ARTIFACTS = os.path.join(ROOT, "artifacts")

requires_anyviz = pytest.mark.skipif(
    not IS_ANYVIZ, reason=f"AnyViz-specific behaviour; kernel under test is {KERNEL!r}")


def start_kernel(interrupt_mode=None, startup_timeout=60):
    """Start the kernel under test; returns (KernelManager, BlockingKernelClient) ready to use.

    interrupt_mode overrides the kernelspec's setting ("signal" or "message") for this manager
    only, so both interrupt paths can be tested against one installed kernelspec.
    """
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=KERNEL)
    if interrupt_mode is not None:
        km.kernel_spec.interrupt_mode = interrupt_mode
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=startup_timeout)
    except Exception:
        stop_kernel(km, kc)
        raise
    return km, kc


def stop_kernel(km, kc):
    try:
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=False)


class Result:
    """What one execute request produced, as a frontend would see it."""

    def __init__(self, reply, outputs):
        self.reply = reply
        self.outputs = outputs

    @property
    def content(self):
        return self.reply["content"]

    @property
    def status(self):
        return self.content["status"]

    def stream(self, name="stdout"):
        return "".join(m["content"]["text"] for m in self.outputs
                       if m["msg_type"] == "stream" and m["content"]["name"] == name)

    def of_type(self, msg_type):
        return [m for m in self.outputs if m["msg_type"] == msg_type]

    def result_text(self):
        results = self.of_type("execute_result")
        return results[-1]["content"]["data"]["text/plain"] if results else None


def collect_iopub(kc, msg_id, timeout=30, on_message=None):
    """IOPub messages caused by `msg_id` up to (not including) its idle status."""
    deadline = time.monotonic() + timeout
    outputs = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no idle status for {msg_id} within {timeout}s; got {outputs}")
        try:
            msg = kc.get_iopub_msg(timeout=remaining)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if on_message is not None:
            on_message(msg)
        if msg["msg_type"] == "status":
            if msg["content"]["execution_state"] == "idle":
                return outputs
            continue
        if msg["msg_type"] != "execute_input":
            outputs.append(msg)


def shell_reply(kc, msg_id, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no shell reply for {msg_id} within {timeout}s")
        try:
            msg = kc.get_shell_msg(timeout=remaining)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def execute(kc, code, timeout=30, **kwargs):
    """Run a cell and wait for both its reply and its idle status."""
    msg_id = kc.execute(code, **kwargs)
    outputs = collect_iopub(kc, msg_id, timeout=timeout)
    reply = shell_reply(kc, msg_id, timeout=timeout)
    return Result(reply, outputs)


def wait_for_busy(kc, msg_id, timeout=10):
    """Block until the kernel publishes busy for msg_id: the cell has really started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        except Empty:
            continue
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "busy"):
            return
    raise TimeoutError(f"kernel never went busy for {msg_id}")
