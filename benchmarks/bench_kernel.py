"""Kernel benchmark: AnyViz vs ipykernel vs a minimal pyzmq kernel (the floor), side by side,
measured the way a frontend experiences them.

For each kernel: cold start = launch process -> first kernel_info_reply; first result = launch
-> the `execute_result` of `1+1` sent right after kernel_info was answered (what a user waits
for when opening a notebook and running a cell); round trip = send execute_request('pass') ->
idle status on IOPub (median and p99, after a short warm-up). The floor kernel
(benchmarks/floor_kernel.py) answers everything at once: its numbers are what the measuring
client, zmq and message signing cost by themselves.

Aims: start <= 0.25x ipykernel, first result <= 0.5x ipykernel and <= 50 ms after kernel_info
was answered (the floor's gap is the client's own wait), round trip <= 1.5x the floor.

Everything is measured twice: through jupyter_client's KernelManager/BlockingKernelClient (what
a frontend experiences, including jupyter_client's own overhead, the same for every kernel) and
over the raw wire (spawn the kernelspec's argv, plain pyzmq sockets, no reply parsing), which
isolates what the kernel itself costs.

The kernels are measured in turns (one cold start of each, then the next round; round trips in
ten slices per kernel, all kernels running), so load from other processes on a shared machine
falls on all of them alike instead of on whichever kernel happened to run during it.

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

HERE = os.path.dirname(os.path.abspath(__file__))
FLOOR = "anyviz-bench-floor"


def install_floor_kernelspec() -> str:
    """A kernelspec for benchmarks/floor_kernel.py in a temporary folder on JUPYTER_PATH."""
    root = tempfile.mkdtemp(prefix="anyviz-bench-")
    spec_dir = os.path.join(root, "kernels", FLOOR)
    os.makedirs(spec_dir)
    with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
        json.dump({"argv": [sys.executable, os.path.join(HERE, "floor_kernel.py"), "-f",
                            "{connection_file}"], "display_name": "floor", "language": "python"},
                  f)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (root, os.environ.get("JUPYTER_PATH")) if p)
    return root


def _wait_result(kc, msg_id, deadline):
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.perf_counter()))
        if msg["msg_type"] == "execute_result" and msg["parent_header"].get("msg_id") == msg_id:
            return


def cold_start(kernel_name):
    """(seconds to the first kernel_info_reply, seconds to the first `1+1` result), both from
    process launch."""
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
        info = None
        iopub_seen = False
        # As jupyter_client's wait_for_ready: kernel_info until it is answered and IOPub has
        # delivered a message (a result published before the subscription is lost otherwise).
        while info is None or not iopub_seen:
            if time.perf_counter() - t0 > 60:
                raise TimeoutError(f"{kernel_name}: not ready within 60 s")
            kc.kernel_info()
            try:
                reply = kc.get_shell_msg(timeout=0.05)
                if info is None and reply["msg_type"] == "kernel_info_reply":
                    info = time.perf_counter() - t0
            except Empty:
                continue
            try:
                while True:
                    kc.get_iopub_msg(timeout=0.02)
                    iopub_seen = True
            except Empty:
                pass
        _wait_result(kc, kc.execute("1+1"), t0 + 60)
        return info, time.perf_counter() - t0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


class ClientRoundTrips:
    """execute('pass') until its idle status through jupyter_client, on one running kernel."""

    def __init__(self, kernel_name):
        self.km = KernelManager(kernel_name=kernel_name)
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def round_trips(self, n, warmup=20):
        """Seconds per execute('pass') until its idle status, n samples after `warmup`."""
        kc = self.kc
        samples = []
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
        return samples

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


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
        """(seconds to the first kernel_info_reply, seconds to the first `1+1` result) from
        spawning the process."""
        t0 = time.perf_counter()
        self.process = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        info = None
        iopub_seen = False
        while info is None or not iopub_seen:  # ready as jupyter_client's wait_for_ready
            if time.perf_counter() - t0 > 60:
                raise TimeoutError("not ready within 60 s")
            self.session.send(self.shell, "kernel_info_request", {})
            if not self.shell.poll(1_000):
                continue
            self.shell.recv_multipart()
            if info is None:
                info = time.perf_counter() - t0
            while self.iopub.poll(20):
                self.iopub.recv_multipart()
                iopub_seen = True
        while self.shell.poll(0):
            self.shell.recv_multipart()
        self.session.send(self.shell, "execute_request", {
            "code": "1+1", "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True})
        while True:
            if not self.iopub.poll(60_000):
                raise TimeoutError("no execute_result within 60 s")
            if b"execute_result" in self.iopub.recv_multipart()[0]:
                break
        return info, time.perf_counter() - t0

    def round_trips(self, n, warmup=50):
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


def _raw_start(kernel_name):
    wire = RawWire(kernel_name)
    try:
        return wire.start()
    finally:
        wire.close()
        time.sleep(0.2)  # let the kernel's process go before the next cold start


class _RawRoundTrips:
    def __init__(self, kernel_name):
        self.wire = RawWire(kernel_name)
        self.wire.start()
        time.sleep(0.5)

    def round_trips(self, n, warmup=50):
        return self.wire.round_trips(n, warmup)

    def close(self):
        self.wire.close()


def measure_interleaved(kernels, starts, requests, cold_start_fn, runner_cls, slices=10):
    """Cold starts one kernel after the other, `starts` rounds; then round trips with every
    kernel running, `slices` turns of requests/slices each (the first turn also warms up)."""
    start_times = {k: [] for k in kernels}
    for _ in range(starts):
        for k in kernels:
            start_times[k].append(cold_start_fn(k))
    runners = {}
    try:
        for k in kernels:
            runners[k] = runner_cls(k)
        rts = {k: [] for k in kernels}
        per_slice = max(1, requests // slices)
        for turn in range(slices):
            for k in kernels:
                rts[k] += runners[k].round_trips(per_slice, warmup=20 if turn == 0 else 2)
    finally:
        for runner in runners.values():
            runner.close()
    return [summary(k, start_times[k], rts[k]) for k in kernels]


def measure_raw(kernels, starts, requests):
    return measure_interleaved(kernels, starts, requests, _raw_start, _RawRoundTrips)


def measure(kernels, starts, requests):
    return measure_interleaved(kernels, starts, requests, cold_start, ClientRoundTrips)


def summary(kernel_name, start_times, rt):
    info = [s[0] for s in start_times]
    first = [s[1] for s in start_times]
    return {"kernel": kernel_name,
            "start_median_ms": statistics.median(info) * 1e3,
            "start_all_ms": [round(s * 1e3, 1) for s in info],
            "first_result_median_ms": statistics.median(first) * 1e3,
            "first_result_all_ms": [round(s * 1e3, 1) for s in first],
            # What the first cell waits after kernel_info was answered (the client's own wait
            # for a first IOPub message is in it too: compare with the floor's).
            "first_after_info_median_ms": statistics.median(f - i for i, f in zip(info, first)) * 1e3,
            # Best of the starts: the gap with the least interference from other processes.
            "first_after_info_best_ms": min(f - i for i, f in zip(info, first)) * 1e3,
            "rt_median_ms": statistics.median(rt) * 1e3,
            "rt_p99_ms": p99(rt) * 1e3,
            "rt_samples": len(rt)}


def p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


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

    install_floor_kernelspec()
    report = {}
    for label, measure_fn in (("through jupyter_client (what a frontend sees)", measure),
                              ("raw wire (the kernel alone)", measure_raw)):
        results = measure_fn([args.kernel, args.baseline, FLOOR], args.starts, args.requests)
        a, b, floor = results
        print(f"\n{label}")
        print(f"{'kernel':<20}{'kernel_info':>14}{'first 1+1':>14}{'1+1 - info':>14}{'(best)':>10}"
              f"{'rt median':>12}{'rt p99':>10}")
        for r in results:
            print(f"{r['kernel']:<20}{r['start_median_ms']:>11.1f} ms{r['first_result_median_ms']:>11.1f} ms"
                  f"{r['first_after_info_median_ms']:>11.1f} ms{r['first_after_info_best_ms']:>7.1f} ms"
                  f"{r['rt_median_ms']:>9.3f} ms{r['rt_p99_ms']:>7.3f} ms")
        ratios = {"start_vs_baseline": a["start_median_ms"] / b["start_median_ms"],
                  "first_result_vs_baseline": a["first_result_median_ms"] / b["first_result_median_ms"],
                  "rt_median_vs_floor": a["rt_median_ms"] / floor["rt_median_ms"],
                  "rt_p99_vs_floor": a["rt_p99_ms"] / floor["rt_p99_ms"],
                  "rt_median_vs_baseline": a["rt_median_ms"] / b["rt_median_ms"]}
        print(f"{a['kernel']}: kernel_info {ratios['start_vs_baseline']:.3f}x {b['kernel']} (aim <= 0.25x), "
              f"first 1+1 {ratios['first_result_vs_baseline']:.3f}x (aim <= 0.5x), "
              f"round trip {ratios['rt_median_vs_floor']:.2f}x the floor (aim <= 1.5x; p99 "
              f"{ratios['rt_p99_vs_floor']:.2f}x), {ratios['rt_median_vs_baseline']:.3f}x {b['kernel']}")
        print(f"{a['kernel']}: first 1+1 {a['first_after_info_median_ms']:.1f} ms after kernel_info "
              f"(best {a['first_after_info_best_ms']:.1f}; the floor's {floor['first_after_info_median_ms']:.1f}, "
              f"best {floor['first_after_info_best_ms']:.1f}) (aim <= 50 ms)")
        report[label] = {"results": results, "ratios": ratios}
    print(f"({args.starts} starts, {args.requests} round trips per kernel)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
