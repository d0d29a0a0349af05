"""Engine tables benchmark: data bigger than the kernel's memory, charted through DuckDB.

1. Builds a Parquet data set (sales rows: ts, region, product, revenue, qty) with DuckDB, in
   parts, without holding it in memory: by default twice the kernel's memory cap (the issue's
   criterion), --quick about 1 GB, --gb N for another size. Reused when already there.
2. Starts the real AnyViz kernel (jupyter_client) under an address-space cap
   (`prlimit --as`, --cap-gb, default 4; ANYVIZ_ENGINE_MEMORY_MB then follows from it) and runs
   `%load FOLDER` (a folder: an engine table), five typical `%viz` requests and `%profile`,
   each checked for success.
3. Runs the same aggregate queries directly with DuckDB's Python API in this process (the
   SQL that AnyViz's compiler produces for the same plan, on the same files, same
   memory_limit). Direct and kernel runs alternate, --rounds times per request, and the best
   of each counts: both see the same load on a shared machine.

Prints, per request: seconds in the kernel, seconds in DuckDB directly, their ratio (target
<= 1.3), the chart's output bundle (limit 2 MB) and, separately, the plotly.js loader that the
session's first chart carries once (~4.8 MB, for HTML exports; not part of any chart); then
the kernel's peak RSS and whether every cell succeeded under the cap.

Run:  .venv/bin/python benchmarks/bench_engines.py --quick
      .venv/bin/python benchmarks/bench_engines.py --cap-gb 4          # 8 GB of Parquet
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Sources", "AnyVizPython", "Resources"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

REQUESTS = [
    "total revenue by region",
    "average revenue by month",
    "number of rows by product",
    "total qty by weekday",
    "revenue over time",
]
ROWS_PER_PART = 4_000_000
_ROW_SQL = """
SELECT TIMESTAMP '2015-01-01' + to_seconds(i * 7) AS ts,
       ['North', 'South', 'East', 'West', 'Central'][1 + (hash(i) % 5)::INT] AS region,
       'P' || (hash(i * 7) % 40)::VARCHAR AS product,
       CASE WHEN i % 97 = 0 THEN NULL ELSE (hash(i * 13) % 100000) / 100.0 END AS revenue,
       (hash(i * 31) % 20)::INT AS qty
FROM range({start}, {stop}) t(i)
"""


# --------------------------------------------------------------------------- data
def build_data(folder: str, target_bytes: int) -> tuple[list[str], int]:
    """Parquet parts of ROWS_PER_PART rows until the folder holds `target_bytes`."""
    import duckdb

    os.makedirs(folder, exist_ok=True)
    manifest = os.path.join(folder, "manifest.json")
    if os.path.exists(manifest):
        info = json.load(open(manifest))
        if info.get("target_bytes") == target_bytes:
            return info["files"], info["rows"]
        shutil.rmtree(folder)
        os.makedirs(folder)
    con = duckdb.connect()
    con.execute("SET memory_limit = '1GB'")
    files, rows, total, k = [], 0, 0, 0
    started = time.perf_counter()
    while total < target_bytes:
        path = os.path.join(folder, f"part-{k:04d}.parquet")
        sql = _ROW_SQL.format(start=rows, stop=rows + ROWS_PER_PART)
        con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)")
        files.append(path)
        rows += ROWS_PER_PART
        total += os.path.getsize(path)
        k += 1
        print(f"  data: {len(files)} parts, {total / 2**30:.2f} GB, {rows:,} rows "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    con.close()
    json.dump({"target_bytes": target_bytes, "files": files, "rows": rows}, open(manifest, "w"))
    return files, rows


# --------------------------------------------------------------------------- direct DuckDB
class DirectDuckDB:
    """The same queries in DuckDB's Python API: AnyViz's compiler builds the plan's queries,
    DuckDB runs their SQL text directly (no Ibis execution, no kernel, no drawing)."""

    def __init__(self, folder: str, files: list[str], memory_mb: int):
        import ibis

        from anyviz.engines.frame import LazyFrame

        self.con = ibis.duckdb.connect(memory_limit=f"{memory_mb}MB")
        self.con.con.execute("SET enable_progress_bar = false")
        self.frame = LazyFrame(self.con.read_parquet(files), engine="duckdb", source=folder,
                               backend=self.con)
        self.sample = self.frame.table.limit(20_000).execute()

    def seconds(self, request: str) -> float:
        """Seconds DuckDB spends on the queries of one request's chart."""
        import ibis

        from anyviz.engines import compile as compiler
        from anyviz.viz import planner

        spec = planner.plan_chart(self.sample, request, frame_name="big").to_dict()
        spent = [0.0]

        def execute(_frame, expr):
            sql = str(ibis.to_sql(expr, dialect="duckdb"))
            t0 = time.perf_counter()
            result = self.con.con.execute(sql).df()
            spent[0] += time.perf_counter() - t0
            return result if len(result.columns) > 1 or len(result) != 1 \
                else result.iloc[0, 0]

        compiler.compile_chart(self.frame, spec, execute)
        return spent[0]


# --------------------------------------------------------------------------- kernel
_LOADER_MARK = "window.PlotlyConfig"


def _bundle_sizes(result) -> tuple[int, int]:
    """(largest chart bundle, plotly.js loader) in bytes of JSON. The session's first chart
    carries plotly.js once in its text/html for HTML exports (a <script> before the chart's
    div); it is the same ~4.8 MB whatever the data, so it is reported on its own."""
    chart = loader = 0
    for m in result.outputs:
        if m["msg_type"] not in ("display_data", "update_display_data"):
            continue
        data = dict(m["content"].get("data", {}))
        html = data.get("text/html", "")
        cut = html.find('<div id="anyviz-')
        if html.startswith("<script") and _LOADER_MARK in html[:200] and cut > 0:
            loader = max(loader, len(json.dumps(html[:cut])))
            data["text/html"] = html[cut:]
        chart = max(chart, len(json.dumps(data)))
    return chart, loader


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Kernel:
    """The AnyViz kernel under an address-space cap, driven through jupyter_client."""

    def __init__(self, cap_bytes: int):
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="anyviz")
        self.km.kernel_spec.argv = (["prlimit", f"--as={cap_bytes}", "--"]
                                    + list(self.km.kernel_spec.argv))
        # Under an address-space cap, reservations count, not use: one malloc arena per
        # thread (64 MB each) and OpenBLAS' per-thread buffers would use up a small cap.
        env = dict(os.environ, MALLOC_ARENA_MAX="2", OPENBLAS_NUM_THREADS="1")
        self.km.start_kernel(env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        self.pid = self.km.provisioner.process.pid

    def cell(self, code: str, timeout: int = 3600) -> dict:
        from kernel_harness import execute

        t0 = time.perf_counter()
        r = execute(self.kc, code, timeout=timeout)
        seconds = time.perf_counter() - t0
        ok = r.status == "ok"
        chart, loader = _bundle_sizes(r)
        return {"ok": ok, "seconds": seconds, "bundle": chart, "loader": loader,
                "error": None if ok else f"{r.content.get('ename')}: "
                                         f"{r.content.get('evalue', '')[:300]}",
                "figure": any("application/vnd.plotly.v1+json" in m["content"].get("data", {})
                              for m in r.outputs)}

    def peak_rss_mb(self) -> float:
        return _peak_rss_mb(self.pid)

    def stop(self) -> None:
        from kernel_harness import stop_kernel

        stop_kernel(self.km, self.kc)


def run_all(folder: str, files: list[str], cap_bytes: int, memory_mb: int,
            rounds: int) -> dict:
    """%load, then per request `rounds` x (direct DuckDB, kernel %viz), then %profile."""
    direct = DirectDuckDB(folder, files, memory_mb)
    kernel = Kernel(cap_bytes)
    cells, seconds_direct = {}, {}
    try:
        cells["%load"] = kernel.cell(f"%load {folder} as big")
        print(f"  kernel: %load {cells['%load']['seconds']:.2f} s", flush=True)
        for request in REQUESTS:
            runs, plain = [], []
            for _ in range(rounds):
                plain.append(direct.seconds(request))
                runs.append(kernel.cell(f"%viz big {request}"))
            best = dict(min(runs, key=lambda c: c["seconds"]))
            best["ok"] = all(c["ok"] and c["figure"] for c in runs)
            best["error"] = next((c["error"] for c in runs if c["error"]), None)
            best["bundle"] = max(c["bundle"] for c in runs)
            best["loader"] = max(c["loader"] for c in runs)
            cells[request] = best
            seconds_direct[request] = min(plain)
            print(f"  %viz {request}: kernel {[round(c['seconds'], 2) for c in runs]} s, "
                  f"duckdb {[round(p, 2) for p in plain]} s "
                  f"({'ok' if best['ok'] else best['error']})", flush=True)
        cells["%profile"] = kernel.cell("%profile big")
        print(f"  kernel: %profile {cells['%profile']['seconds']:.2f} s", flush=True)
        rss = kernel.peak_rss_mb()
    finally:
        kernel.stop()
    return {"cells": cells, "direct": seconds_direct, "peak_rss_mb": rss}


# --------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="about 1 GB of Parquet")
    ap.add_argument("--gb", type=float, help="size of the Parquet data set in GB")
    ap.add_argument("--cap-gb", type=float, default=4.0,
                    help="the kernel's address-space cap (prlimit --as), GB")
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternating direct/kernel runs per request (best counts)")
    ap.add_argument("--dir", default=os.path.join("/tmp", "anyviz-bench-engines"))
    args = ap.parse_args()
    cap = int(args.cap_gb * 2**30)
    size_gb = args.gb or (1.0 if args.quick else 2 * args.cap_gb)
    folder = os.path.join(args.dir, f"sales-{size_gb:g}gb")
    print(f"building {size_gb:g} GB of Parquet in {folder}", flush=True)
    files, rows = build_data(folder, int(size_gb * 2**30))
    data_bytes = sum(os.path.getsize(f) for f in files)
    memory_mb = int(cap * 0.4) // 2**20  # what the kernel's DuckDB gets under the cap
    print(f"kernel under prlimit --as={args.cap_gb:g} GB, DuckDB directly with memory_limit "
          f"{memory_mb} MB, {args.rounds} alternating rounds:", flush=True)
    result = run_all(folder, files, cap, memory_mb, max(1, args.rounds))

    cells, direct = result["cells"], result["direct"]
    print(f"\n{rows:,} rows, {data_bytes / 2**30:.2f} GB of Parquet in {len(files)} files; "
          f"kernel capped at {args.cap_gb:g} GB of address space "
          f"(data = {data_bytes / cap:.2f}x the cap)")
    print(f"{'cell':42} {'kernel s':>9} {'duckdb s':>9} {'ratio':>6} {'bundle':>9}  ok")
    worst = 0.0
    for name, c in cells.items():
        d = direct.get(name)
        ratio = c["seconds"] / d if d else None
        if ratio:
            worst = max(worst, ratio)
        label = name if name.startswith("%") else f"%viz {name}"
        print(f"{label:42} {c['seconds']:9.2f} {d if d else float('nan'):9.2f} "
              f"{ratio if ratio else float('nan'):6.2f} {c['bundle'] / 1024:8.1f}K  "
              f"{'ok' if c['ok'] else c['error']}")
    loader = max(c["loader"] for c in cells.values())
    all_ok = all(c["ok"] for c in cells.values())
    bundles_ok = all(c["bundle"] <= 2 * 2**20 for c in cells.values())
    print(f"\nplotly.js loader (once per session, in the first chart's text/html, for HTML "
          f"exports): {loader / 2**20:.1f} MB")
    print(f"kernel peak RSS {result['peak_rss_mb']:.0f} MB; all cells succeeded under the cap: "
          f"{all_ok}; chart bundles <= 2 MB: {bundles_ok}; worst %viz / DuckDB ratio "
          f"{worst:.2f} (target <= 1.3)")
    summary = {"rows": rows, "data_bytes": data_bytes, "cap_bytes": cap,
               "peak_rss_mb": result["peak_rss_mb"], "cells": cells, "direct": direct,
               "worst_ratio": worst, "all_ok": all_ok, "bundles_ok": bundles_ok,
               "plotlyjs_loader_bytes": loader}
    print("JSON " + json.dumps(summary, default=str))
    return 0 if all_ok and bundles_ok else 1


if __name__ == "__main__":
    sys.exit(main())
