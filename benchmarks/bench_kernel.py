"""Kernel benchmark: AnyViz vs ipykernel, measured the way a frontend experiences them.

For each kernel: cold start = launch process -> first kernel_info_reply (median of --starts
runs), and round trip = send execute_request('pass') -> idle status on IOPub (median and p99 of
--requests runs, after a short warm-up). Prints both kernels side by side with the ratios
(aims: start <= 0.2x ipykernel, round trip <= 0.1x).

    .venv/bin/python benchmarks/bench_kernel.py            # 10 starts, 1000 round trips
    .venv/bin/python benchmarks/bench_kernel.py --quick    # 3 starts, 200 round trips
"""
import argparse
import json
import statistics
import sys
import time

import zmq
from queue import Empty

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


def p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def measure(kernel_name, starts, requests):
    start_times = [cold_start(kernel_name) for _ in range(starts)]
    rt = round_trips(kernel_name, requests)
    return {"kernel": kernel_name,
            "start_median_ms": statistics.median(start_times) * 1e3,
            "start_all_ms": [round(s * 1e3, 1) for s in start_times],
            "rt_median_ms": statistics.median(rt) * 1e3,
            "rt_p99_ms": p99(rt) * 1e3,
            "rt_samples": len(rt)}


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

    results = [measure(k, args.starts, args.requests) for k in (args.kernel, args.baseline)]
    a, b = results
    print(f"{'kernel':<12}{'start median':>14}{'rt median':>12}{'rt p99':>10}")
    for r in results:
        print(f"{r['kernel']:<12}{r['start_median_ms']:>11.1f} ms{r['rt_median_ms']:>9.3f} ms"
              f"{r['rt_p99_ms']:>7.3f} ms")
    ratios = {"start": a["start_median_ms"] / b["start_median_ms"],
              "rt_median": a["rt_median_ms"] / b["rt_median_ms"],
              "rt_p99": a["rt_p99_ms"] / b["rt_p99_ms"]}
    print(f"ratio {a['kernel']}/{b['kernel']}: start {ratios['start']:.3f}x (aim <= 0.2x), "
          f"round trip median {ratios['rt_median']:.3f}x, p99 {ratios['rt_p99']:.3f}x (aim <= 0.1x)")
    print(f"({args.starts} starts, {args.requests} round trips per kernel)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "ratios": ratios}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
