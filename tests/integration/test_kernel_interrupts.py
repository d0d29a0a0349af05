"""Interrupts in both modes stop running code within 1 s and leave the session intact.

signal mode: KernelManager.interrupt_kernel sends SIGINT to the kernel process.
message mode: the frontend sends interrupt_request on the control channel and expects
interrupt_reply; the kernel must interrupt itself.
"""
import time

import pytest

from kernel_harness import collect_iopub, execute, shell_reply, start_kernel, stop_kernel, wait_for_busy

BUSY_CELLS = {
    "busy_loop": "while True:\n    pass",
    "sleep": "import time\ntime.sleep(100)",
}


@pytest.fixture(scope="module", params=["signal", "message"])
def kernel(request):
    km, kc = start_kernel(interrupt_mode=request.param)
    yield request.param, km, kc
    stop_kernel(km, kc)


def _interrupt(mode, km, kc):
    if mode == "signal":
        km.interrupt_kernel()
        return None
    msg = kc.session.msg("interrupt_request", content={})
    kc.control_channel.send(msg)
    return msg["header"]["msg_id"]


@pytest.mark.parametrize("cell", sorted(BUSY_CELLS))
def test_interrupt_stops_cell_and_session_survives(kernel, cell):
    mode, km, kc = kernel
    before = execute(kc, f"survivor_{cell} = 41")
    assert before.status == "ok"

    msg_id = kc.execute(BUSY_CELLS[cell])
    wait_for_busy(kc, msg_id)
    time.sleep(0.3)  # let the loop / sleep really start inside Python
    t0 = time.monotonic()
    interrupt_id = _interrupt(mode, km, kc)
    reply = shell_reply(kc, msg_id, timeout=10)
    elapsed = time.monotonic() - t0
    outputs = collect_iopub(kc, msg_id, timeout=10)

    assert elapsed < 1.0, f"{mode} interrupt of {cell} took {elapsed:.2f}s"
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    errors = [m for m in outputs if m["msg_type"] == "error"]
    assert errors and errors[0]["content"]["ename"] == "KeyboardInterrupt"
    if interrupt_id is not None:
        ctrl = kc.get_control_msg(timeout=5)
        assert ctrl["msg_type"] == "interrupt_reply"
        assert ctrl["parent_header"]["msg_id"] == interrupt_id
        assert ctrl["content"]["status"] == "ok"

    after = execute(kc, f"survivor_{cell} + 1")
    assert after.status == "ok"
    assert after.result_text() == "42"


def test_interrupt_when_idle_is_harmless(kernel):
    mode, km, kc = kernel
    interrupt_id = _interrupt(mode, km, kc)
    if interrupt_id is not None:
        assert kc.get_control_msg(timeout=5)["msg_type"] == "interrupt_reply"
    time.sleep(0.2)
    res = execute(kc, "6 * 7")
    assert res.status == "ok" and res.result_text() == "42"


def test_interrupt_while_waiting_for_input(kernel):
    """A cell blocked in input() is interrupted too (the front end never answers)."""
    mode, km, kc = kernel
    msg_id = kc.execute("name = input('who? ')", allow_stdin=True)
    request = kc.get_stdin_msg(timeout=10)
    assert request["msg_type"] == "input_request"
    t0 = time.monotonic()
    interrupt_id = _interrupt(mode, km, kc)
    reply = shell_reply(kc, msg_id, timeout=10)
    assert time.monotonic() - t0 < 1.0
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    if interrupt_id is not None:
        assert kc.get_control_msg(timeout=5)["msg_type"] == "interrupt_reply"
    res = execute(kc, "'name' in globals(), 6 * 7")
    assert res.status == "ok" and res.result_text() == "(False, 42)"
