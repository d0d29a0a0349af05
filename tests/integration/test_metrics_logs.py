"""Operators' view: the Prometheus endpoint moves with %viz calls; logs carry request ids but
never data values or keys."""
import os
import re
import socket
import urllib.request

import pytest
from jupyter_client.manager import KernelManager

from kernel_harness import execute, requires_anyviz

pytestmark = requires_anyviz


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


@pytest.fixture
def kernel(tmp_path):
    port = _free_port()
    log = tmp_path / "kernel.log"
    km = KernelManager(kernel_name="anyviz")
    env = {**os.environ, "ANYVIZ_METRICS_PORT": str(port), "ANYVIZ_CACHE_DIR": str(tmp_path / "cache"),
           "ANYVIZ_LOG_LEVEL": "info", "ANYVIZ_METRICS_FILE": str(tmp_path / "anyviz.prom"),
           "ANYVIZ_LOG_FILE": str(tmp_path / "file.log"),
           "OPENAI_API_KEY": "sk-test-secret-never-logged", "ANYVIZ_LLM_PROVIDER": "offline"}
    with open(log, "w") as stderr:
        km.start_kernel(env=env, stderr=stderr)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    yield kc, port, log, tmp_path
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def test_metrics_counters_move_after_viz_calls(kernel):
    kc, port, _, tmp_path = kernel
    before = _scrape(port)
    assert before.get("anyviz_viz_requests_total", 0) == 0
    execute(kc, "import plotly.express as px; secret_frame = px.data.tips()", timeout=60)
    for request in ["total_bill by day", "tip vs total_bill", "distribution of tip"]:
        assert execute(kc, f"%viz --df secret_frame {request}", timeout=60).status == "ok"
    assert execute(kc, "1/0").status == "error"
    after = _scrape(port)
    assert after["anyviz_viz_requests_total"] == 3
    assert after['anyviz_viz_results_total{level="planner"}'] == 3
    assert after['anyviz_errors_total{type="ZeroDivisionError"}'] == 1
    assert after["anyviz_execute_seconds_count"] >= 5
    # The node_exporter textfile is written too (every 5 s).
    import time
    deadline = time.time() + 10
    while time.time() < deadline and "anyviz_viz_requests_total 3" not in (
            (tmp_path / "anyviz.prom").read_text() if (tmp_path / "anyviz.prom").exists() else ""):
        time.sleep(0.5)
    assert "anyviz_viz_requests_total 3" in (tmp_path / "anyviz.prom").read_text()


def test_logs_have_request_ids_and_no_values_or_keys(kernel):
    kc, _, log, tmp_path = kernel
    marker = "very-private-value-8231"
    assert execute(kc, f"x = '{marker}'\nprint(x)").status == "ok"
    assert execute(kc, f"raise ValueError('{marker}')").status == "error"
    kc.shutdown()
    import time
    time.sleep(1)
    text = log.read_text()
    assert re.search(r"request=[0-9a-f-]{6,}", text), text[-2000:]
    assert "execute" in text
    assert marker not in text
    assert "sk-test-secret-never-logged" not in text
    file_text = (tmp_path / "file.log").read_text()
    assert re.search(r"request=[0-9a-f-]{6,}", file_text), "ANYVIZ_LOG_FILE gets the same lines"
    assert marker not in file_text


def test_rejected_messages_are_counted(kernel):
    import time

    import zmq

    kc, port, _, _ = kernel
    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(f"tcp://{kc.ip}:{kc.shell_port}")
    try:
        for _ in range(5):
            socket.send_multipart([b"<IDS|MSG>", b"0" * 64, b"{}", b"{}", b"{}", b"{}"])
        deadline = time.time() + 5
        while time.time() < deadline and _scrape(port).get("anyviz_rejected_messages_total", 0) < 5:
            time.sleep(0.1)
        assert _scrape(port)["anyviz_rejected_messages_total"] == 5
        assert execute(kc, "1 + 1").result_text() == "2"
    finally:
        socket.close()
