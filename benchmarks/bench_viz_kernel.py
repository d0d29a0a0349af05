"""Large data through real kernels: AnyViz `%viz` vs ipykernel showing `px.line` of the same frame.

Both kernels build the same N-row time series in a cell (a random walk with planted spikes),
then draw it as a line: AnyViz with `%viz value over time` (planner, guard, reduction, output
path), ipykernel with `px.line(df, x='ts', y='value')` as the cell's result (what a user of plain
Jupyter does). Measured from sending the request to receiving the chart's display message, plus
the chart bundle's size on the wire, for the session's first chart and a second one (AnyViz's
first chart of a session also carries plotly.js, ~4.8 MB, for HTML exports; later ones do not).
Prints both side by side with the ratios.

    .venv/bin/python benchmarks/bench_viz_kernel.py                 # 1M, 5M, 10M rows
    .venv/bin/python benchmarks/bench_viz_kernel.py --sizes 1000000
"""
import argparse
import json
import sys
import time

from jupyter_client.manager import KernelManager

MAKE_FRAME = """
import numpy as np, pandas as pd
rng = np.random.default_rng(7)
n = {n}
values = np.cumsum(rng.normal(size=n))
values[rng.choice(n, 20, replace=False)] += 1000.0
series = pd.DataFrame({{'ts': pd.date_range('2020-01-01', periods=n, freq='s'), 'value': values}})
"""
CHART = {
    "anyviz": "%viz --df series value over time",
    "python3": "import plotly.express as px\npx.line(series, x='ts', y='value')",
}
PLOTLY = "application/vnd.plotly.v1+json"


def chart_time(kc, code, timeout=600):
    """Seconds until the first output carrying a Plotly figure, and that message's size."""
    t0 = time.perf_counter()
    msg_id = kc.execute(code)
    found = None
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if found is None and kind in ("display_data", "execute_result") and PLOTLY in msg["content"]["data"]:
            found = (time.perf_counter() - t0, len(json.dumps(msg["content"])))
        if kind == "error":
            raise RuntimeError(f"{code!r} failed: {msg['content']['evalue']}")
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            break
    if found is None:
        raise RuntimeError(f"{code!r} showed no chart")
    return found


def measure(kernel, n):
    km = KernelManager(kernel_name=kernel)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        kc.execute_interactive(MAKE_FRAME.format(n=n), timeout=600, output_hook=lambda m: None)
        seconds, size = chart_time(kc, CHART[kernel])
        warm, warm_size = chart_time(kc, CHART[kernel])
        return seconds, warm, size, warm_size
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,5000000,10000000", help="comma-separated row counts")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'rows':>11} | {'ipykernel px.line':>35} | {'AnyViz %viz':>35} | {'faster':>13}")
    print(f"{'':>11} | {'first s':>8} {'again s':>8} {'MB':>8} {'again MB':>8} | "
          f"{'first s':>8} {'again s':>8} {'MB':>8} {'again MB':>8} | {'first':>6} {'again':>6}")
    for n in sizes:
        plain = measure("python3", n)
        ours = measure("anyviz", n)
        print(f"{n:>11,} | {plain[0]:>8.2f} {plain[1]:>8.2f} {plain[2] / 1e6:>8.1f} {plain[3] / 1e6:>8.1f} | "
              f"{ours[0]:>8.2f} {ours[1]:>8.2f} {ours[2] / 1e6:>8.2f} {ours[3] / 1e6:>8.2f} | "
              f"{plain[0] / ours[0]:>5.1f}x {plain[1] / ours[1]:>5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
