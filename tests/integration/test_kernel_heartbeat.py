"""The heartbeat must stay responsive while Python is busy: frontends declare a kernel dead
when pings go unanswered, so a busy cell must never look like a crash."""
import os
import time

import zmq

from kernel_harness import collect_iopub, shell_reply, start_kernel, stop_kernel, wait_for_busy

BUSY_SECONDS = 10
# Override only to diagnose on an overloaded machine; CI uses the 20 ms of the spec.
MAX_LATENCY_S = float(os.environ.get("ANYVIZ_HB_LIMIT_MS", "20")) / 1000


def test_heartbeat_fast_while_cell_busy_loops():
    km, kc = start_kernel()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"{kc.transport}://{kc.ip}:{kc.hb_port}")
    try:
        # Warm up the connection so TCP setup is not counted as latency.
        sock.send(b"warmup")
        assert sock.poll(5000), "heartbeat never answered even when idle"
        assert sock.recv() == b"warmup"

        msg_id = kc.execute(
            f"import time\n_t = time.time()\nwhile time.time() - _t < {BUSY_SECONDS}:\n    pass")
        wait_for_busy(kc, msg_id)
        latencies = []
        deadline = time.monotonic() + BUSY_SECONDS - 1
        while time.monotonic() < deadline:
            payload = str(len(latencies)).encode()
            t0 = time.perf_counter()
            sock.send(payload)
            assert sock.poll(1000), f"heartbeat unanswered for 1 s after {len(latencies)} pings"
            assert sock.recv() == payload  # the heartbeat echoes exactly what it got
            latencies.append(time.perf_counter() - t0)
            time.sleep(0.005)
        reply = shell_reply(kc, msg_id, timeout=BUSY_SECONDS + 10)
        collect_iopub(kc, msg_id)
        assert reply["content"]["status"] == "ok"

        latencies.sort()
        worst = latencies[-1]
        p50 = latencies[len(latencies) // 2]
        print(f"heartbeat: {len(latencies)} pings while busy, median {p50 * 1e3:.2f} ms, "
              f"max {worst * 1e3:.2f} ms")
        assert len(latencies) > 200
        assert worst < MAX_LATENCY_S, f"slowest heartbeat {worst * 1e3:.1f} ms (limit {MAX_LATENCY_S * 1e3:.0f} ms)"
    finally:
        sock.close()
        ctx.term()
        stop_kernel(km, kc)
