"""shutdown_request with and without restart: replies, process exit, fresh state after restart."""
import time

from kernel_harness import execute, start_kernel, stop_kernel


def _wait_dead(km, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not km.is_alive():
            return True
        time.sleep(0.05)
    return False


def test_shutdown_request_with_restart_flag_replies_and_exits():
    km, kc = start_kernel()
    try:
        msg_id = kc.shutdown(restart=True)
        reply = kc.get_control_msg(timeout=10)
        assert reply["msg_type"] == "shutdown_reply"
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "ok"
        assert reply["content"]["restart"] is True
        assert _wait_dead(km, 10), "kernel process still running 10 s after shutdown_request"
        assert km.provisioner.process.returncode == 0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_restart_gives_fresh_working_kernel():
    km, kc = start_kernel()
    try:
        assert execute(kc, "before_restart = 1").status == "ok"
        old_pid = km.provisioner.pid
        km.restart_kernel(now=False)
        kc.wait_for_ready(timeout=60)
        assert km.provisioner.pid != old_pid
        res = execute(kc, "'before_restart' in globals()")
        assert res.result_text() == "False", "state survived a restart"
        assert execute(kc, "2 ** 10").result_text() == "1024"
    finally:
        stop_kernel(km, kc)


def test_plain_shutdown_exits_cleanly():
    km, kc = start_kernel()
    try:
        kc.shutdown(restart=False)
        reply = kc.get_control_msg(timeout=10)
        assert reply["content"]["restart"] is False
        assert _wait_dead(km, 10)
        assert km.provisioner.process.returncode == 0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
