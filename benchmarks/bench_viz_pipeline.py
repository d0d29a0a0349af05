"""Offline `%viz` on the tour data through two AnyViz kernels side by side, and a cache hit.

Compares the kernel built from this tree (`.build/release/anyviz-kernel`) with a baseline
build (default `.build-base/release/anyviz-kernel`, e.g. a git worktree of an earlier commit
built with `swift build -c release --scratch-path .build-base`). Both run the tour's requests
(notebooks/tour.ipynb: gapminder 2007; tests/data: orders, products) with the LLM offline;
the kernels alternate request by request so both see the same machine load. Times are from
sending execute_request to the kernel's idle status (the chart published), median of the
rounds; the ratio is baseline / now (above 1: now is faster).

It also counts the Swift/Python crossings of one offline %viz in the current kernel: the
`_anyviz.call` services Python makes (IOPub publishing through `_anyviz.emit` counted apart),
on top of the one execute call in and its return.

Then the cache: the current kernel with the LLM pointed at tests/fakellm.py, the same
request twice; the second is answered from the cache (no LLM call) and its time is reported.

    .venv/bin/python benchmarks/bench_viz_pipeline.py
    .venv/bin/python benchmarks/bench_viz_pipeline.py --rounds 3 --base /path/to/anyviz-kernel
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

SETUP = f"""
import os, plotly.data
os.makedirs('/tmp/anyviz_bench', exist_ok=True)
gapminder = plotly.data.gapminder()
gapminder[gapminder['year'] == 2007].to_csv('/tmp/anyviz_bench/gapminder_2007.csv', index=False)
%load /tmp/anyviz_bench/gapminder_2007.csv
%load {ROOT}/tests/data/orders.csv
%load {ROOT}/tests/data/products.csv
"""
REQUESTS = [
    "%viz --df gapminder_2007 average life expectancy by continent",
    "%viz --df gapminder_2007 gdp vs life expectancy colored by continent",
    "%viz --df gapminder_2007 top 5 countries by population",
    "%viz --df gapminder_2007",
    "%viz --df orders quantity by product_id",
    "%viz --df products price by category",
]
#: Wraps `_anyviz` in the kernel to count what Python asks of the native side.
COUNTER = """
import anyviz.iopub as _iopub
class _Counting:
    def __init__(self, inner):
        self.inner, self.calls, self.emits = inner, [], 0
    def emit(self, *args):
        self.emits += 1
        return self.inner.emit(*args)
    def input(self, *args):
        return self.inner.input(*args)
    def call(self, service, payload):
        self.calls.append(service)
        return self.inner.call(service, payload)
_counting = _Counting(_iopub._bridge())
_iopub._anyviz = _counting
"""
GOOD_CODE = ("totals = df.groupby('continent', as_index=False)['lifeExp'].mean()\n"
             "fig = px.bar(totals, x='continent', y='lifeExp', title='Life expectancy')")


class Kernel:
    """An AnyViz kernel started from a given executable (through a throwaway kernelspec)."""

    def __init__(self, executable, **env):
        self.specs = tempfile.TemporaryDirectory()
        spec_dir = os.path.join(self.specs.name, "bench")
        os.makedirs(spec_dir)
        with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
            json.dump({"argv": [executable, "-f", "{connection_file}"], "language": "python",
                       "display_name": "bench", "interrupt_mode": "signal",
                       "env": {"ANYVIZ_PYTHON_VENV": os.path.join(ROOT, ".venv")}}, f)
        manager = KernelSpecManager(kernel_dirs=[self.specs.name])
        self.km = KernelManager(kernel_name="bench", kernel_spec_manager=manager)
        base = {k: v for k, v in os.environ.items()
                if k not in ("GEMINI_API_KEY", "OPENAI_API_KEY", "ANYVIZ_REDIS_URL")}
        self.km.start_kernel(env={**base, "ANYVIZ_LLM_PROVIDER": "offline", **env})
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code, timeout=120):
        """Seconds from execute_request to idle, and the stdout text; raises on an error."""
        t0 = time.perf_counter()
        msg_id = self.kc.execute(code)
        out, error = [], None
        while True:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                error = msg["content"]["evalue"]
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                break
        elapsed = time.perf_counter() - t0
        self.kc.get_shell_msg(timeout=timeout)
        if error:
            raise RuntimeError(f"{code!r} failed: {error}")
        return elapsed, "".join(out)

    def stop(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        self.specs.cleanup()


def side_by_side(base_exe, now_exe, rounds):
    kernels = {"base": Kernel(base_exe), "now": Kernel(now_exe)}
    try:
        for k in kernels.values():
            k.run(SETUP)
            for request in REQUESTS:  # warm: sandbox started, modules imported
                k.run(request)
        times = {name: {r: [] for r in REQUESTS} for name in kernels}
        for _ in range(rounds):
            for request in REQUESTS:
                for name, k in kernels.items():
                    times[name][request].append(k.run(request)[0])
        return times
    finally:
        for k in kernels.values():
            k.stop()


def crossings(now_exe):
    k = Kernel(now_exe)
    try:
        k.run(SETUP)
        k.run(COUNTER)
        k.run(REQUESTS[0])
        line = REQUESTS[0].removeprefix("%viz ")
        _, text = k.run("_counting.calls.clear(); _counting.emits = 0\n"
                        f"get_ipython().run_line_magic('viz', {line!r})\n"
                        "print(len(_counting.calls), _counting.emits)")
        calls, emits = (int(v) for v in text.split()[-2:])
        return calls, emits
    finally:
        k.stop()


def cache_hit(now_exe, rounds):
    from fakellm import FakeLLM

    with FakeLLM() as llm, tempfile.TemporaryDirectory() as cache:
        llm.script([{"reply": json.dumps({"code": GOOD_CODE, "explanation": "Mean life "
                                          "expectancy per continent.", "alternatives": []})}])
        k = Kernel(now_exe, ANYVIZ_LLM_PROVIDER="openai", ANYVIZ_LLM_BASE_URL=llm.base_url,
                   ANYVIZ_LLM_API_KEY="sk-bench", ANYVIZ_LLM_MODEL="fake", ANYVIZ_CACHE_DIR=cache)
        try:
            k.run(SETUP)
            k.run(COUNTER)
            cell = "%viz --df gapminder_2007 --explain life expectancy by continent"
            first, text = k.run(cell)
            assert "made: llm" in text, text
            calls = k.run("print(*_counting.calls)")[1].split()
            hits = []
            for _ in range(rounds):
                seconds, text = k.run(cell)
                assert "made: cache" in text, text
                hits.append(seconds)
            asked = len([r for r in llm.requests if r["kind"] in ("openai", "gemini")])
            return first, hits, asked, calls
        finally:
            k.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=os.path.join(ROOT, ".build-base/release/anyviz-kernel"))
    ap.add_argument("--now", default=os.path.join(ROOT, ".build/release/anyviz-kernel"))
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)

    if os.path.exists(args.base):
        times = side_by_side(args.base, args.now, args.rounds)
        print(f"offline %viz, median of {args.rounds} rounds (execute to idle, ms)")
        print(f"{'request':<66} {'base':>7} {'now':>7} {'ratio':>6}")
        ratios = []
        for request in REQUESTS:
            base = statistics.median(times["base"][request]) * 1000
            now = statistics.median(times["now"][request]) * 1000
            ratios.append(base / now)
            print(f"{request:<66} {base:>7.1f} {now:>7.1f} {base / now:>5.2f}x")
        total_base = sum(statistics.median(v) for v in times["base"].values()) * 1000
        total_now = sum(statistics.median(v) for v in times["now"].values()) * 1000
        print(f"{'all requests':<66} {total_base:>7.1f} {total_now:>7.1f} "
              f"{total_base / total_now:>5.2f}x (geometric mean of ratios "
              f"{statistics.geometric_mean(ratios):.2f}x)")
    else:
        print(f"no baseline kernel at {args.base}: side-by-side skipped")

    calls, emits = crossings(args.now)
    print(f"\none offline %viz: 2 crossings (execute in, reply out) + {calls} _anyviz.call; "
          f"{emits} IOPub publishes through _anyviz.emit")

    first, hits, asked, calls = cache_hit(args.now, args.rounds)
    print(f"\ncache: first request (LLM, fake server) {first * 1000:.1f} ms; "
          f"hit median {statistics.median(hits) * 1000:.1f} ms "
          f"(min {min(hits) * 1000:.1f}, max {max(hits) * 1000:.1f}); LLM asked {asked} time(s); "
          f"native calls of the first request: {' '.join(calls) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
