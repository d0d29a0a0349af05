"""Benchmark %load and %profile against the obvious alternatives; prints ratios.

    .venv/bin/python benchmarks/bench_load_profile.py            # 100 MB CSV, 1M x 20 profile
    .venv/bin/python benchmarks/bench_load_profile.py --quick    # 20 MB, 200k rows (< 1 min)
    .venv/bin/python benchmarks/bench_load_profile.py --skip-profile --repeat 8   # %load only

Every contender runs in its own subprocess so peak RSS (ru_maxrss) is its own. %load is
called in-process with a fake `_anyviz` bridge (the same loader the kernel runs, without the protocol).

ydata-profiling pins pandas < 3 and numpy < 2.4, so installing it into the project venv would
downgrade pandas; it is run from a separate venv instead (--ydata-python, default
/tmp/ydata-venv/bin/python; create it with `python3.11 -m venv /tmp/ydata-venv &&
/tmp/ydata-venv/bin/pip install ydata-profiling`). Without it that comparison is skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESOURCES = os.path.join(ROOT, "Sources", "AnyVizPython", "Resources")

# Peak memory is this process's own VmHWM and the baseline its VmRSS after imports.
# ru_maxrss is NOT used: Linux carries the parent's peak RSS across fork+exec into the child's
# ru_maxrss, so after make_csv() (~200 MB in the parent) the "import baseline" read 216 MB
# and the "above baseline" ratio came out ~1.1x too low.
PRELUDE = textwrap.dedent("""
    import json, os, sys, time, types
    def _status(key):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    def rss_mb():
        return _status("VmHWM")
    def now_mb():
        return _status("VmRSS")
    def reset_peak():
        # VmHWM back to the current RSS (Linux clear_refs "5"), so a peak reached while
        # building the input (the profile's frame) is not counted as the measured step's.
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
""")

def fake_bridge(resources: str = RESOURCES) -> str:
    """Prelude importing anyviz from `resources` behind a fake `_anyviz` bridge."""
    return textwrap.dedent(f"""
        sys.path.insert(0, {resources!r})
        fake = types.ModuleType("_anyviz")
        fake.emit = lambda t, c: None
        fake.call = lambda s, p: "{{}}"
        fake.input = lambda p, pw: ""
        sys.modules["_anyviz"] = fake
    """)


FAKE_BRIDGE = fake_bridge()

CONTENDERS = {
    "anyviz %load": FAKE_BRIDGE + textwrap.dedent("""
        import pandas, pyarrow
        from anyviz.data import magics
        from anyviz import session
        base = now_mb()
        t, c = time.perf_counter(), time.process_time()
        magics.load(PATH + " as df --no-progress")
        secs, cpu = time.perf_counter() - t, time.process_time() - c
        df = session.user_ns["df"]
    """),
    "pandas.read_csv(parse_dates)": textwrap.dedent("""
        import pandas as pd
        base = now_mb()
        t, c = time.perf_counter(), time.process_time()
        df = pd.read_csv(PATH, parse_dates=["date"])
        secs, cpu = time.perf_counter() - t, time.process_time() - c
    """),
    "pyarrow read_csv().to_pandas()": textwrap.dedent("""
        import pandas, pyarrow.csv as pc
        base = now_mb()
        t, c = time.perf_counter(), time.process_time()
        df = pc.read_csv(PATH).to_pandas()
        secs, cpu = time.perf_counter() - t, time.process_time() - c
    """),
}

MAKE_FRAME = textwrap.dedent("""
    import numpy as np, pandas as pd
    def make(n, seed=0):
        r = np.random.default_rng(seed)
        cols = {}
        for i in range(6): cols[f"num{i}"] = r.normal(size=n) * (i + 1)
        for i in range(3): cols[f"int{i}"] = r.integers(0, 1000 * (i + 1), n)
        cols["skewed"] = r.lognormal(0, 2, n)
        cols["withnan"] = np.where(r.random(n) < 0.1, np.nan, r.random(n))
        cats = np.array([f"cat_{k}" for k in range(50)])
        for i in range(3): cols[f"cat{i}"] = cats[r.integers(0, 50, n)]
        cols["text"] = np.char.add("user_", r.integers(0, 10**6, n).astype(str))
        cols["date"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(r.integers(0, 10**8, n), unit="s")
        cols["flag"] = r.random(n) < 0.3
        cols["id"] = np.arange(n)
        cols["const"] = 1
        cols["numtext"] = r.integers(0, 100, n).astype(str)
        return pd.DataFrame(cols)
""")


def run(code: str, python: str = sys.executable, env: dict | None = None) -> dict:
    script = PRELUDE + code + "\nprint('RESULT' + json.dumps({'secs': secs, 'cpu': cpu, 'peak_mb': rss_mb(), 'base_mb': base}))\n"
    out = subprocess.run([python, "-c", script], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=3600)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[6:])
    raise RuntimeError(f"benchmark subprocess failed:\n{out.stderr[-3000:]}")


def make_csv(path: str, mb: float) -> int:
    import numpy as np
    import pandas as pd

    rows_per_mb = 23_700  # ~44 bytes per row with the columns below
    n = int(mb * rows_per_mb)
    r = np.random.default_rng(1)
    chunk = 500_000
    with open(path, "w") as fh:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            pd.DataFrame({
                "id": np.arange(start, start + m),
                "date": (pd.Timestamp("2020-01-01") + pd.to_timedelta(r.integers(0, 1500, m), unit="D"))
                .strftime("%Y-%m-%d"),
                "store": np.array([f"store_{k}" for k in range(200)])[r.integers(0, 200, m)],
                "qty": r.integers(1, 50, m),
                "price": np.round(r.random(m) * 100, 2),
                "score": r.normal(size=m).round(5),
            }).to_csv(fh, index=False, header=start == 0)
    return os.path.getsize(path)


def bench_load(mb: float, repeat: int) -> None:
    """Round-robin rounds (each contender once per round) so a busy machine slows all of them
    alike; prints each contender's best round and the spread of the per-round ratio."""
    import statistics

    with tempfile.TemporaryDirectory(prefix="anyviz-bench-") as tmp:
        path = os.path.join(tmp, "sales.csv")
        size = make_csv(path, mb)
        file_mb = size / 2**20
        print(f"\n%load: {file_mb:.1f} MB CSV with a date column, best of {repeat} rounds")
        runs: dict = {name: [] for name in CONTENDERS}
        for _ in range(repeat):
            for name, code in CONTENDERS.items():
                runs[name].append(run(f"PATH = {path!r}\n" + code))
        results = {}
        for name, rounds in runs.items():
            best = dict(min(rounds, key=lambda r: r["secs"]))
            best["peak_mb"] = min(r["peak_mb"] for r in rounds)
            results[name] = best
            print(f"  {name:34s} {best['secs']:6.2f} s   peak RSS {best['peak_mb']:7.0f} MB "
                  f"({best['peak_mb'] / file_mb:.2f}x file; "
                  f"{(best['peak_mb'] - best['base_mb']) / file_mb:.2f}x above import baseline)")
        ours = results["anyviz %load"]
        others = [k for k in results if k != "anyviz %load"]
        fastest = min((results[k] for k in others), key=lambda r: r["secs"])
        per_round = [runs["anyviz %load"][i]["secs"] / min(runs[k][i]["secs"] for k in others)
                     for i in range(repeat)]
        print(f"  ratio time  %load / fastest alternative = {ours['secs'] / fastest['secs']:.2f}x "
              f"best of each (aim <= 1.2); per round min {min(per_round):.2f}x, median "
              f"{statistics.median(per_round):.2f}x, max {max(per_round):.2f}x")
        print(f"  ratio peak RSS / file size            = {ours['peak_mb'] / file_mb:.2f}x total, "
              f"{(ours['peak_mb'] - ours['base_mb']) / file_mb:.2f}x above the import baseline "
              f"(aim <= 2.5)")


def profile_anyviz(rows: int, resources: str = RESOURCES) -> dict:
    return run(fake_bridge(resources) + MAKE_FRAME + textwrap.dedent(f"""
        from anyviz.data import profile as prof, profile_render as render
        df = make({rows})
        for c in ("cat0", "cat1", "cat2", "text", "numtext"):
            df[c] = df[c].astype("str")
        base = now_mb()
        reset_peak()
        t, c = time.perf_counter(), time.process_time()
        html = render.to_html(prof.profile_frame(df, name="df"))
        secs, cpu = time.perf_counter() - t, time.process_time() - c
    """))


def bench_profile(rows: int, ydata_python: str | None, baseline: str | None = None) -> None:
    print(f"\n%profile: {rows:,} rows x 20 mixed columns")
    ours = profile_anyviz(rows)
    print(f"  anyviz profile_frame + to_html   {ours['secs']:8.2f} s   peak RSS {ours['peak_mb']:.0f} MB, "
          f"{(ours['peak_mb'] - ours['base_mb']) / 1024:.2f} GB above the frame (aim <= 0.5); "
          f"CPU {ours['cpu']:.2f} s")
    before = profile_anyviz(rows, baseline) if baseline else None
    if before:
        print(f"  baseline anyviz ({baseline})  {before['secs']:8.2f} s   peak RSS {before['peak_mb']:.0f} MB, "
              f"{(before['peak_mb'] - before['base_mb']) / 1024:.2f} GB above the frame; "
              f"CPU {before['cpu']:.2f} s")
    if not ydata_python or not os.path.exists(ydata_python):
        print("  ydata-profiling: not available (see module docstring); comparison skipped")
        return
    try:
        theirs = run(MAKE_FRAME + textwrap.dedent(f"""
            import warnings; warnings.filterwarnings("ignore")
            from ydata_profiling import ProfileReport
            df = make({rows})
            base = now_mb()
            reset_peak()
            t, c = time.perf_counter(), time.process_time()
            html = ProfileReport(df, minimal=True, progress_bar=False).to_html()
            secs, cpu = time.perf_counter() - t, time.process_time() - c
        """), python=ydata_python)
    except Exception as exc:  # pragma: no cover - report, do not crash the run
        print(f"  ydata-profiling failed: {exc}")
        return
    print(f"  ydata ProfileReport(minimal).to_html {theirs['secs']:6.2f} s   peak RSS {theirs['peak_mb']:.0f} MB, "
          f"{(theirs['peak_mb'] - theirs['base_mb']) / 1024:.2f} GB above the frame")
    print(f"  ratio ydata / anyviz = {theirs['secs'] / ours['secs']:.1f}x wall time (aim >= 50); "
          f"{theirs['cpu'] / ours['cpu']:.1f}x CPU time ({theirs['cpu']:.1f} s / {ours['cpu']:.2f} s; "
          f"wall time depends on what else the machine runs, CPU time much less)")
    if before:
        print(f"  ratio ydata / baseline = {theirs['secs'] / before['secs']:.1f}x wall time; "
              f"{theirs['cpu'] / before['cpu']:.1f}x CPU time")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20 MB CSV, 200k-row profile, 1 repeat")
    ap.add_argument("--csv-mb", type=float, help="CSV size in MB (default 100)")
    ap.add_argument("--profile-rows", type=int, help="rows for the profile (default 1,000,000)")
    ap.add_argument("--repeat", type=int, help="rounds of the load contenders (default 2)")
    ap.add_argument("--ydata-python", default="/tmp/ydata-venv/bin/python")
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-profile", action="store_true")
    ap.add_argument("--skip-ydata", action="store_true")
    ap.add_argument("--baseline", metavar="DIR",
                    help="also profile with the anyviz package under DIR (a Resources folder, "
                         "e.g. from `git worktree add`), to compare versions in one run")
    a = ap.parse_args()
    mb = a.csv_mb or (20 if a.quick else 100)
    rows = a.profile_rows or (200_000 if a.quick else 1_000_000)
    repeat = a.repeat or (1 if a.quick else 2)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    if not a.skip_load:
        bench_load(mb, repeat)
    if not a.skip_profile:
        bench_profile(rows, None if a.skip_ydata else a.ydata_python, a.baseline)


if __name__ == "__main__":
    main()
