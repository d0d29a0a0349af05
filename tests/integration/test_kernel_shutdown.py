"""shutdown_request with and without restart: replies, process exit, fresh state after restart."""
import time

from kernel_harness import execute, requires_anyviz, start_kernel, stop_kernel


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


@requires_anyviz
def test_a_port_already_taken_ends_the_kernel_with_a_clear_message(tmp_path):
    """The kernel exits at once (it used to hang) and says which port and what to do."""
    import json
    import socket
    import subprocess

    from jupyter_client.kernelspec import KernelSpecManager

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = []
    for _ in range(4):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    connection = {"shell_port": ports[0], "iopub_port": ports[1], "stdin_port": ports[2],
                  "control_port": ports[3], "hb_port": taken.getsockname()[1],
                  "ip": "127.0.0.1", "key": "k", "transport": "tcp",
                  "signature_scheme": "hmac-sha256", "kernel_name": "anyviz"}
    path = tmp_path / "kernel.json"
    path.write_text(json.dumps(connection))
    argv = [a.replace("{connection_file}", str(path))
            for a in KernelSpecManager().get_kernel_spec("anyviz").argv]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    finally:
        taken.close()
    assert done.returncode != 0
    assert f":{connection['hb_port']}" in done.stderr and "Address already in use" in done.stderr
    assert "start the kernel again" in done.stderr
