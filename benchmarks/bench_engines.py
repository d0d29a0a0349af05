"""Engine tables benchmark: data bigger than the kernel's memory, charted through DuckDB.

1. Builds a Parquet data set (sales rows: ts, region, product, revenue, qty) with DuckDB, in
   parts, without holding it in memory: by default twice the kernel's memory cap (the issue's
   criterion), --quick about 1 GB, --gb N for another size. Reused when already there.
2. Starts the real AnyViz kernel (jupyter_client) under an address-space cap
   (`prlimit --as`, --cap-gb, default 4; ANYVIZ_ENGINE_MEMORY_MB then follows from it) and runs
   `%load FOLDER` (a folder: an engine table), five typical `%viz` requests and `%profile`,
   each checked for success; each %viz runs twice and the faster run counts.
3. Runs the same aggregate queries directly with DuckDB's Python API in this process (the
   SQL that AnyViz's compiler produces for the same plan, on the same files), best of two.

Prints, per request: seconds in the kernel, seconds in DuckDB directly, their ratio (target
<= 1.3), the output bundle's size (limit 2 MB); then the kernel's peak RSS and whether every
cell succeeded under the cap.

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
def direct_duckdb(folder: str, files: list[str], memory_mb: int) -> dict:
    """Seconds of the same queries in DuckDB's Python API (best of two), per request."""
    import ibis

    from anyviz.engines import compile as compiler
    from anyviz.engines.frame import LazyFrame
    from anyviz.viz import planner

    con = ibis.duckdb.connect(memory_limit=f"{memory_mb}MB")
    con.con.execute("SET enable_progress_bar = false")
    table = con.read_parquet(files)
    frame = LazyFrame(table, engine="duckdb", source=folder, backend=con)
    sample = frame.table.limit(20_000).execute()
    out = {}
    for request in REQUESTS:
        spec = planner.plan_chart(sample, request, frame_name="big").to_dict()
        best = None
        for _ in range(2):
            spent = [0.0]

            def execute(_frame, expr, spent=spent):
                sql = ibis.to_sql(expr, dialect="duckdb")
                t0 = time.perf_counter()
                result = con.con.execute(str(sql)).df()
                spent[0] += time.perf_counter() - t0
                return result if len(result.columns) > 1 or len(result) != 1 \
                    else result.iloc[0, 0]

            compiler.compile_chart(frame, spec, execute)
            best = spent[0] if best is None else min(best, spent[0])
        out[request] = best
        print(f"  duckdb direct: {request}: {best:.2f} s", flush=True)
    return out


# --------------------------------------------------------------------------- kernel
def _bundle_bytes(result) -> int:
    return max([len(json.dumps(m["content"].get("data", {})))
                for m in result.outputs if m["msg_type"] in ("display_data",
                                                              "update_display_data")] or [0])


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def kernel_run(folder: str, cap_bytes: int) -> dict:
    from jupyter_client.manager import KernelManager

    from kernel_harness import execute, stop_kernel

    km = KernelManager(kernel_name="anyviz")
    km.kernel_spec.argv = ["prlimit", f"--as={cap_bytes}", "--"] + list(km.kernel_spec.argv)
    # Under an address-space cap, reservations count, not use: one malloc arena per thread
    # (64 MB each) and OpenBLAS' per-thread buffers would use up a small cap on their own.
    env = dict(os.environ, MALLOC_ARENA_MAX="2", OPENBLAS_NUM_THREADS="1")
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    pid = km.provisioner.process.pid
    cells = {}

    def cell(code, timeout=3600):
        t0 = time.perf_counter()
        r = execute(kc, code, timeout=timeout)
        seconds = time.perf_counter() - t0
        ok = r.status == "ok"
        return {"ok": ok, "seconds": seconds, "bundle": _bundle_bytes(r),
                "error": None if ok else f"{r.content.get('ename')}: "
                                         f"{r.content.get('evalue', '')[:300]}",
                "figure": any("application/vnd.plotly.v1+json" in m["content"].get("data", {})
                              for m in r.outputs)}

    try:
        cells["%load"] = cell(f"%load {folder} as big")
        print(f"  kernel: %load {cells['%load']['seconds']:.2f} s", flush=True)
        for request in REQUESTS:
            runs = [cell(f"%viz big {request}") for _ in range(2)]
            best = min(runs, key=lambda c: c["seconds"])
            best["ok"] = all(c["ok"] and c["figure"] for c in runs)
            best["error"] = next((c["error"] for c in runs if c["error"]), None)
            cells[request] = best
            print(f"  kernel: %viz {request}: {best['seconds']:.2f} s "
                  f"({'ok' if best['ok'] else best['error']})", flush=True)
        cells["%profile"] = cell("%profile big")
        print(f"  kernel: %profile {cells['%profile']['seconds']:.2f} s", flush=True)
        rss = _peak_rss_mb(pid)
    finally:
        stop_kernel(km, kc)
    return {"cells": cells, "peak_rss_mb": rss}


# --------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="about 1 GB of Parquet")
    ap.add_argument("--gb", type=float, help="size of the Parquet data set in GB")
    ap.add_argument("--cap-gb", type=float, default=4.0,
                    help="the kernel's address-space cap (prlimit --as), GB")
    ap.add_argument("--dir", default=os.path.join("/tmp", "anyviz-bench-engines"))
    args = ap.parse_args()
    cap = int(args.cap_gb * 2**30)
    size_gb = args.gb or (1.0 if args.quick else 2 * args.cap_gb)
    folder = os.path.join(args.dir, f"sales-{size_gb:g}gb")
    print(f"building {size_gb:g} GB of Parquet in {folder}", flush=True)
    files, rows = build_data(folder, int(size_gb * 2**30))
    data_bytes = sum(os.path.getsize(f) for f in files)
    memory_mb = int(cap * 0.4) // 2**20  # what the kernel's DuckDB gets under the cap
    print(f"DuckDB directly (memory_limit {memory_mb} MB):", flush=True)
    direct = direct_duckdb(folder, files, memory_mb)
    print(f"kernel under prlimit --as={args.cap_gb:g} GB:", flush=True)
    kernel = kernel_run(folder, cap)

    cells = kernel["cells"]
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
    all_ok = all(c["ok"] for c in cells.values())
    bundles_ok = all(c["bundle"] <= 2 * 2**20 for c in cells.values())
    print(f"\nkernel peak RSS {kernel['peak_rss_mb']:.0f} MB; all cells succeeded under the cap: "
          f"{all_ok}; bundles <= 2 MB: {bundles_ok}; worst %viz / DuckDB ratio {worst:.2f} "
          f"(target <= 1.3)")
    summary = {"rows": rows, "data_bytes": data_bytes, "cap_bytes": cap,
               "peak_rss_mb": kernel["peak_rss_mb"], "cells": cells, "direct": direct,
               "worst_ratio": worst, "all_ok": all_ok, "bundles_ok": bundles_ok}
    print("JSON " + json.dumps(summary, default=str))
    return 0 if all_ok and bundles_ok else 1


if __name__ == "__main__":
    sys.exit(main())
