"""Hostile wire traffic: oversized frames are refused before the signature check, without the
kernel's memory growing, and a flood of bad messages gives a bounded number of log lines.

Everything goes through a real kernel started by jupyter_client; the attacker is a raw zmq
DEALER that knows the ports but not the key.
"""
import os
import re
import socket
import time
import urllib.request

import pytest
import zmq
from jupyter_client.manager import KernelManager

from kernel_harness import execute, requires_anyviz

pytestmark = requires_anyviz

GIB = 1 << 30


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scrape(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def _rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.fixture
def kernel(tmp_path, request):
    extra = getattr(request, "param", {})
    port = _free_port()
    log = tmp_path / "kernel.log"
    env = {**os.environ, "ANYVIZ_METRICS_PORT": str(port), "ANYVIZ_LOG_FILE": str(log),
           "ANYVIZ_LLM_PROVIDER": "offline", **extra}
    km = KernelManager(kernel_name="anyviz")
    with open(tmp_path / "stderr.log", "w") as stderr:
        km.start_kernel(env=env, stderr=stderr)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    yield km, kc, port, log
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def _attacker(kc, port_attr):
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://{kc.ip}:{getattr(kc, port_attr)}")
    return sock


def _still_serves(kc):
    """Shell and control both answer after the attack."""
    assert execute(kc, "kept = 40 + 2\nkept").result_text() == "42"
    kc.kernel_info()
    reply = kc.get_shell_msg(timeout=10)
    assert reply["msg_type"] == "kernel_info_reply"
    msg = kc.session.msg("kernel_info_request")
    kc.control_channel.send(msg)
    ctrl = kc.get_control_msg(timeout=10)
    assert ctrl["msg_type"] == "kernel_info_reply"


def test_three_unsigned_1gb_frames_to_control_do_not_grow_the_kernel(kernel):
    km, kc, _, _ = kernel
    pid = km.provisioner.pid
    assert execute(kc, "warm = 1").status == "ok"
    before = _rss_mb(pid)
    # calloc'd zeros: the test process does not touch 1 GiB of real memory to send them.
    frame = bytes(GIB)
    sock = _attacker(kc, "control_port")
    try:
        sock.send_multipart([b"<IDS|MSG>", b"", frame, frame, frame], copy=False)
        peak = before
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            peak = max(peak, _rss_mb(pid))
            time.sleep(0.05)
    finally:
        sock.close()
        del frame
    after = _rss_mb(pid)
    print(f"kernel RSS before {before:.0f} MB, peak {peak:.0f} MB, after {after:.0f} MB")
    assert peak - before < 64, f"kernel RSS grew from {before:.0f} MB to {peak:.0f} MB"
    _still_serves(kc)


@pytest.mark.parametrize("kernel", [{"ANYVIZ_MAX_MESSAGE_MB": "8"}], indirect=True)
def test_many_frames_over_the_total_limit_are_dropped_and_logged(kernel):
    """Each frame is under libzmq's per-frame limit; together they are over the setting."""
    km, kc, port, log = kernel
    sock = _attacker(kc, "shell_port")
    try:
        chunk = b"x" * (3 << 20)
        sock.send_multipart([b"<IDS|MSG>", b"0" * 64, chunk, chunk, chunk, b"{}", b"{}"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _scrape(port).get("anyviz_rejected_messages_total", 0) < 1:
            time.sleep(0.1)
        assert _scrape(port)["anyviz_rejected_messages_total"] == 1
    finally:
        sock.close()
    text = log.read_text()
    assert re.search(r"over the limit of 8388608 \(ANYVIZ_MAX_MESSAGE_MB\)", text), text[-2000:]
    _still_serves(kc)


def test_10k_badly_signed_messages_give_a_bounded_number_of_log_lines(kernel):
    km, kc, port, log = kernel
    count = 10_000
    sock = _attacker(kc, "shell_port")
    try:
        for i in range(count):
            sock.send_multipart([b"<IDS|MSG>", b"0" * 64, b'{"msg_id": "%d"}' % i, b"{}", b"{}", b"{}"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _scrape(port).get("anyviz_rejected_messages_total", 0) < count:
            time.sleep(0.2)
        # Every message is still counted for operators.
        assert _scrape(port)["anyviz_rejected_messages_total"] == count
    finally:
        sock.close()
    # The summary for the suppressed ones comes when their window (5 s) ends.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = log.read_text()
        summarized = sum(int(n) for n in re.findall(r"dropped (\d+) more invalid messages", text))
        detailed = text.count("dropped invalid message")
        if detailed + summarized >= count:
            break
        time.sleep(0.5)
    lines = [line for line in text.splitlines() if "invalid message" in line]
    print(f"{count} bad messages -> {len(lines)} log lines")
    assert detailed + summarized == count, lines
    assert len(lines) <= 20, f"{len(lines)} log lines for {count} bad messages"
    _still_serves(kc)
