"""Kernel benchmark: AnyViz vs ipykernel, measured the way a frontend experiences them.

For each kernel: cold start = launch process -> first kernel_info_reply (median of --starts
runs), and round trip = send execute_request('pass') -> idle status on IOPub (median and p99 of
--requests runs, after a short warm-up). Prints both kernels side by side with the ratios
(aims: start <= 0.2x ipykernel, round trip <= 0.1x).

Both are measured twice: through jupyter_client's KernelManager/BlockingKernelClient (what a
frontend experiences, including jupyter_client's own overhead, the same for every kernel) and
over the raw wire (spawn the kernelspec's argv, plain pyzmq sockets, no reply parsing), which
isolates what the kernel itself costs.

    .venv/bin/python benchmarks/bench_kernel.py            # 10 starts, 1000 round trips
    .venv/bin/python benchmarks/bench_kernel.py --quick    # 3 starts, 200 round trips
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from queue import Empty

import zmq
from jupyter_client.manager import KernelManager


def cold_start(kernel_name):
    """Seconds from process launch to the first kernel_info_reply."""
    km = KernelManager(kernel_name=kernel_name)
    # A client that connects before the kernel has bound retries only every 100 ms by default
    # (libzmq's reconnect interval), which would hide the kernels' own start-up time in 100 ms
    # steps. Retry every 2 ms instead, the same for both kernels.
    km.context.setsockopt(zmq.RECONNECT_IVL, 2)
    t0 = time.perf_counter()
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        while True:
            msg_id = kc.kernel_info()
            try:
                reply = kc.get_shell_msg(timeout=0.05)
            except Empty:
                if time.perf_counter() - t0 > 60:
                    raise TimeoutError(f"{kernel_name}: no kernel_info_reply within 60 s")
                continue
            if reply["parent_header"].get("msg_id") == msg_id or reply["msg_type"] == "kernel_info_reply":
                return time.perf_counter() - t0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def round_trips(kernel_name, n, warmup=20):
    """Seconds per execute('pass') until its idle status, n samples."""
    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    samples = []
    try:
        for i in range(n + warmup):
            t0 = time.perf_counter()
            msg_id = kc.execute("pass", store_history=False)
            while True:
                msg = kc.get_iopub_msg(timeout=10)
                if (msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
                        and msg["parent_header"].get("msg_id") == msg_id):
                    break
            dt = time.perf_counter() - t0
            # drain the shell reply so the queue does not grow
            kc.get_shell_msg(timeout=10)
            if i >= warmup:
                samples.append(dt)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return samples


class RawWire:
    """The kernel alone, without jupyter_client's own start-up and message handling: spawn the
    kernelspec's argv directly, talk over plain pyzmq sockets and do not parse replies. This is
    what the kernel itself costs; `jupyter_client` adds the same overhead to every kernel."""

    def __init__(self, kernel_name):
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.session import Session

        spec = KernelSpecManager().get_kernel_spec(kernel_name)
        self.ports = _free_ports(5)
        fd, self.connection_file = tempfile.mkstemp(suffix=".json")
        key = uuid.uuid4().hex
        with os.fdopen(fd, "w") as f:
            json.dump({"shell_port": self.ports[0], "iopub_port": self.ports[1],
                       "stdin_port": self.ports[2], "control_port": self.ports[3],
                       "hb_port": self.ports[4], "ip": "127.0.0.1", "key": key,
                       "transport": "tcp", "signature_scheme": "hmac-sha256"}, f)
        self.argv = [a.replace("{connection_file}", self.connection_file) for a in spec.argv]
        if self.argv and self.argv[0] in ("python", "python3"):
            self.argv[0] = sys.executable  # as jupyter_client does for the native kernel
        self.env = {**os.environ, **spec.env}
        self.session = Session(key=key.encode())
        self.context = zmq.Context()
        self.shell = self.context.socket(zmq.DEALER)
        self.iopub = self.context.socket(zmq.SUB)
        for sock, port in ((self.shell, self.ports[0]), (self.iopub, self.ports[1])):
            sock.setsockopt(zmq.RECONNECT_IVL, 1)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(f"tcp://127.0.0.1:{port}")
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.process = None

    def start(self):
        """Seconds from spawning the process to its first kernel_info_reply."""
        t0 = time.perf_counter()
        self.process = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self.session.send(self.shell, "kernel_info_request", {})
        if not self.shell.poll(60_000):
            raise TimeoutError("no kernel_info_reply within 60 s")
        self.shell.recv_multipart()
        return time.perf_counter() - t0

    def round_trips(self, n, warmup=50):
        time.sleep(0.5)
        while self.iopub.poll(100):
            self.iopub.recv_multipart()
        samples = []
        content = {"code": "pass", "silent": False, "store_history": False, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        poller = zmq.Poller()
        poller.register(self.shell, zmq.POLLIN)
        poller.register(self.iopub, zmq.POLLIN)
        for i in range(n + warmup):
            t0 = time.perf_counter()
            self.session.send(self.shell, "execute_request", content)
            replied = idle = False
            while not (replied and idle):
                for sock, _ in poller.poll(10_000):
                    frames = sock.recv_multipart()
                    if sock is self.shell:
                        replied = True
                    elif b"idle" in frames[-1]:
                        idle = True
            if i >= warmup:
                samples.append(time.perf_counter() - t0)
        return samples

    def close(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self.context.destroy(linger=0)
        os.unlink(self.connection_file)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def measure_raw(kernel_name, starts, requests):
    start_times = []
    for _ in range(starts):
        wire = RawWire(kernel_name)
        try:
            start_times.append(wire.start())
        finally:
            wire.close()
    wire = RawWire(kernel_name)
    try:
        wire.start()
        rt = wire.round_trips(requests)
    finally:
        wire.close()
    return summary(kernel_name, start_times, rt)


def summary(kernel_name, start_times, rt):
    return {"kernel": kernel_name,
            "start_median_ms": statistics.median(start_times) * 1e3,
            "start_all_ms": [round(s * 1e3, 1) for s in start_times],
            "rt_median_ms": statistics.median(rt) * 1e3,
            "rt_p99_ms": p99(rt) * 1e3,
            "rt_samples": len(rt)}


def p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def measure(kernel_name, starts, requests):
    start_times = [cold_start(kernel_name) for _ in range(starts)]
    rt = round_trips(kernel_name, requests)
    return summary(kernel_name, start_times, rt)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default="anyviz", help="kernel under test (default anyviz)")
    ap.add_argument("--baseline", default="python3", help="reference kernel (default python3 = ipykernel)")
    ap.add_argument("--starts", type=int, default=10, help="cold starts per kernel (median)")
    ap.add_argument("--requests", type=int, default=1000, help="execute round trips per kernel")
    ap.add_argument("--quick", action="store_true", help="3 starts and 200 round trips")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    if args.quick:
        args.starts, args.requests = 3, 200
    if args.starts < 1 or args.requests < 1:
        ap.error("--starts and --requests must be at least 1")

    report = {}
    for label, measure_fn in (("through jupyter_client (what a frontend sees)", measure),
                              ("raw wire (the kernel alone)", measure_raw)):
        results = [measure_fn(k, args.starts, args.requests) for k in (args.kernel, args.baseline)]
        a, b = results
        print(f"\n{label}")
        print(f"{'kernel':<12}{'start median':>14}{'rt median':>12}{'rt p99':>10}")
        for r in results:
            print(f"{r['kernel']:<12}{r['start_median_ms']:>11.1f} ms{r['rt_median_ms']:>9.3f} ms"
                  f"{r['rt_p99_ms']:>7.3f} ms")
        ratios = {"start": a["start_median_ms"] / b["start_median_ms"],
                  "rt_median": a["rt_median_ms"] / b["rt_median_ms"],
                  "rt_p99": a["rt_p99_ms"] / b["rt_p99_ms"]}
        print(f"ratio {a['kernel']}/{b['kernel']}: start {ratios['start']:.3f}x (aim <= 0.2x), "
              f"round trip median {ratios['rt_median']:.3f}x, p99 {ratios['rt_p99']:.3f}x (aim <= 0.1x)")
        report[label] = {"results": results, "ratios": ratios}
    print(f"({args.starts} starts, {args.requests} round trips per kernel)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
