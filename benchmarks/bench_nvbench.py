"""nvBench development set: how often offline `%viz` draws the expected chart.

Each case is `%load <table> as NAME` then `%viz --df NAME <query>`; the chart is scored as
/work/shared/nvbench-dev/README.md says: every data trace of the expected family (bar, line,
scatter, pie; stacked/grouped = one trace per group or one trace coloured by group) and the
multiset of drawn points (x label, group, y) equal to the expected data (numbers within 1e-6
relative, labels case/space-insensitive, dates at the binned unit, horizontal bars read
upright, zero-filled cells ignored). "strict" also requires the drawn order to follow `sort`.

Two modes run the same planner path:
    .venv/bin/python benchmarks/bench_nvbench.py                   # in-process (fast)
    .venv/bin/python benchmarks/bench_nvbench.py --kernel --sample 200   # real kernel
Options: --sample N (stratified by chart type and hardness), --seed, --show-misses K,
--type CHART, --alt (each case's first alternative phrasing), --data DIR (default
../shared/nvbench-dev next to the checkout), --half A|B (a fixed split by a hash of the case id:
develop rules on A's misses, check them on B), --dump FILE (the misses as JSON lines with the
planned specification, for tools/bucketing).
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import os
import random
import re
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(os.path.dirname(ROOT), "shared", "nvbench-dev")
PLOTLY = "application/vnd.plotly.v1+json"

FAMILY = {"bar": "bar", "stacked_bar": "bar", "line": "line", "grouped_line": "line",
          "scatter": "scatter", "grouped_scatter": "scatter", "pie": "pie"}
_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


# ------------------------------------------------------------------ reading a figure

def _trace_family(t: dict) -> str:
    kind = t.get("type", "scatter")
    if kind in ("bar", "histogram"):
        return "bar"
    if kind == "pie":
        return "pie"
    if kind in ("scatter", "scattergl"):
        mode = t.get("mode") or ("lines" if t.get("line", {}).get("shape") else "markers")
        return "line" if "lines" in mode else "scatter"
    return kind


def _values(v):
    """Plotly JSON arrays may be typed ({"dtype", "bdata"}); decode those to lists."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np
        arr = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        if "shape" in v:
            arr = arr.reshape([int(s) for s in str(v["shape"]).split(",")])
        return arr.tolist()
    return list(v) if v is not None else []


def _histogram_points(t: dict) -> list:
    """A histogram over text categories counts as the bars it draws (one per distinct label)."""
    xs = _values(t.get("x"))
    ys = _values(t.get("y"))
    horizontal = t.get("orientation") == "h" or (not xs and ys)
    labels = ys if horizontal else xs
    counts = collections.Counter(str(v) for v in labels)
    return [(k, n) for k, n in counts.items()]


def drawn_points(fig: dict) -> tuple[list, list, int]:
    """(families, [(x, group, y)], traces) of the data-drawing traces, in drawn order."""
    traces = [t for t in fig.get("data", []) if t.get("visible", True) is not False]
    families, points = [], []
    for t in traces:
        fam = _trace_family(t)
        families.append(fam)
        name = t.get("name") if len(traces) > 1 else None
        if fam == "pie":
            for label, value in zip(_values(t.get("labels")), _values(t.get("values"))):
                points.append((label, None, value))
            continue
        if t.get("type") == "histogram":
            for label, n in _histogram_points(t):
                points.append((label, name, n))
            continue
        xs, ys = _values(t.get("x")), _values(t.get("y"))
        if t.get("orientation") == "h":
            xs, ys = ys, xs
        colors = _values((t.get("marker") or {}).get("color")) if len(traces) == 1 else []
        for i, (x, y) in enumerate(zip(xs, ys)):
            group = colors[i] if len(colors) == len(xs) and isinstance(colors[i], str) and \
                not str(colors[i]).startswith(("#", "rgb")) else name
            points.append((x, group, y))
    return families, points, len(traces)


# ------------------------------------------------------------------ comparing values

def _num(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.replace(",", "")) if re.fullmatch(r"\s*-?[\d,]*\.?\d+(e[-+]?\d+)?\s*", v, re.I) else None
        except ValueError:
            return None
    return None


def _label(v, unit: str | None) -> str:
    s = re.sub(r"\s+", " ", str(v).strip().lower())
    if unit == "weekday":
        for i, w in enumerate(_WEEKDAYS):
            if s.startswith(w):
                return f"wd{i}"
    if unit == "month":
        for i, m in enumerate(_MONTHS):
            if s.startswith(m):
                return f"m{i}"
    date = re.match(r"^(\d{4})(?:-(\d\d)(?:-(\d\d))?)?(?:[t ]\d\d:\d\d(:\d\d(\.\d+)?)?)?$", s)
    if date:
        if unit == "year":
            return date.group(1)
        parts = [p for p in date.groups()[:3] if p]
        if len(parts) == 3 and re.search(r"[t ]00:00(:00(\.0+)?)?$", s) or len(parts) < 3 or \
                not re.search(r"[t ]", s):
            return "-".join(parts)
    n = _num(s)
    if n is not None:
        return repr(round(n, 9))
    return s


def _same_number(a, b) -> bool:
    x, y = _num(a), _num(b)
    if x is None or y is None:
        return False
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y))


def _match(expected: list, drawn: list, unit) -> bool:
    """Multiset equality: each expected point pairs with one drawn point."""
    if len(drawn) != len(expected):
        return False
    pool = collections.defaultdict(list)
    for p in drawn:
        pool[(_label(p[0], unit), _label(p[1], None) if p[1] is not None else None)].append(p[2])
    for e in expected:
        key = (_label(e[0], unit), _label(e[2], None) if len(e) > 2 and e[2] is not None else None)
        cands = pool.get(key)
        if not cands and len(e) > 2:  # one trace, no group label: accept an ungrouped point
            cands = pool.get((key[0], None))
        if not cands:
            return False
        hit = next((i for i, v in enumerate(cands) if _same_number(v, e[1])), None)
        if hit is None:
            return False
        cands.pop(hit)
    return True


def _order_ok(case: dict, drawn: list, unit) -> bool:
    sort = case.get("sort")
    if not sort or case["chart_type"] in ("pie", "scatter", "grouped_scatter"):
        return True
    if sort["by"] == "y":
        ys = [_num(p[2]) for p in drawn]
        if any(v is None for v in ys):
            return False
        want = sorted(ys, reverse=sort["order"] == "desc")
        return ys == want
    xs = [p[0] for p in drawn]
    order = {x: i for i, x in enumerate(dict.fromkeys(e[0] for e in case["expected_data"]))}
    seq = [order.get(next((k for k in order if _label(k, unit) == _label(x, unit)), None), -1) for x in xs]
    firsts = list(dict.fromkeys(seq))
    return firsts == sorted(firsts)


def score(case: dict, fig: dict | None) -> tuple[bool, bool, str]:
    """(right, strictly right, why not)."""
    if not fig:
        return False, False, "no chart"
    families, points, traces = drawn_points(fig)
    want = FAMILY[case["chart_type"]]
    if not families or any(f != want for f in families):
        return False, False, f"family {sorted(set(families))} != {want}"
    unit = (case.get("bin") or {}).get("unit")
    expected = [list(e) for e in case["expected_data"]]
    grouped = any(len(e) > 2 for e in expected)
    if not grouped:
        points = [(x, None, y) for x, _, y in points]
    nonzero = [p for p in points if not (_num(p[2]) == 0.0 and not any(
        _label(e[0], unit) == _label(p[0], unit) and _same_number(e[1], 0) for e in expected))]
    if not (_match(expected, points, unit) or _match(expected, nonzero, unit)):
        return False, False, f"data: drew {len(points)} points, expected {len(expected)}"
    return True, _order_ok(case, nonzero, unit), ""


# ------------------------------------------------------------------ running

def load_cases(data_dir: str) -> list[dict]:
    with open(os.path.join(data_dir, "cases.jsonl"), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def stratified(cases: list[dict], n: int, seed: int) -> list[dict]:
    """About n cases, each (chart type, hardness) stratum in proportion, at least one each."""
    if n <= 0 or n >= len(cases):
        return cases
    rng = random.Random(seed)
    strata = collections.defaultdict(list)
    for c in cases:
        strata[(c["chart_type"], c["hardness"])].append(c)
    out = []
    for key in sorted(strata):
        items = strata[key]
        k = max(1, round(n * len(items) / len(cases)))
        out += rng.sample(items, min(k, len(items)))
    return out


def half_of(case: dict) -> str:
    """"A" or "B": a split by a hash of the case id that does not depend on the file's order."""
    import hashlib
    return "AB"[hashlib.sha1(case["id"].encode()).digest()[0] & 1]


def frame_name(case: dict) -> str:
    return os.path.splitext(os.path.basename(case["table_csv"]))[0]


class InProcess:
    """The planner path without a kernel: loader -> plan_chart -> the plan's code."""

    def __init__(self, data_dir: str):
        sys.path.insert(0, os.path.join(ROOT, "Sources", "AnyVizPython", "Resources"))
        sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
        import conftest  # noqa: F401  (a stand-in for the kernel's builtin module)
        import numpy as np
        import pandas as pd
        import plotly.express as px
        import plotly.graph_objects as go

        from anyviz.data import loader
        from anyviz.viz import planner
        self.data_dir, self.loader, self.planner = data_dir, loader, planner
        self.ns = {"px": px, "pd": pd, "np": np, "go": go}
        self.frames: dict = {}

    def chart(self, case: dict) -> tuple[dict | None, str]:
        path = os.path.join(self.data_dir, case["table_csv"])
        if path not in self.frames:
            self.frames[path] = self.loader.read_file(path, progress=False).df
        df = self.frames[path]
        try:
            plan = self.planner.plan_chart(df, case["query"], frame_name=frame_name(case))
        except Exception as exc:  # a clear message is an answer, but not a chart
            return None, f"{type(exc).__name__}: {exc}"[:200]
        self.last_spec = plan.spec.to_dict() if plan.spec is not None else None
        ns = dict(self.ns, df=df)
        try:
            exec(plan.code, ns)
        except Exception as exc:
            return None, f"code failed: {type(exc).__name__}: {exc}"[:200]
        return ns["fig"].to_plotly_json(), ""

    def close(self):
        pass


class Kernel:
    """The same cells through a real `anyviz` kernel over jupyter_client."""

    def __init__(self, data_dir: str, kernel_name: str = "anyviz"):
        from jupyter_client.manager import KernelManager
        self.data_dir = data_dir
        self.km = KernelManager(kernel_name=kernel_name)
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        self.loaded: set = set()

    def run(self, code: str, timeout: float = 120) -> tuple[dict | None, str]:
        msg_id = self.kc.execute(code)
        fig, err = None, ""
        while True:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind in ("display_data", "update_display_data", "execute_result") and \
                    PLOTLY in content.get("data", {}):
                fig = content["data"][PLOTLY]
            elif kind == "error":
                err = content.get("evalue", "")[:200]
            elif kind == "stream" and content.get("name") == "stderr":
                err = err or content.get("text", "")[:200]
            elif kind == "status" and content["execution_state"] == "idle":
                return fig, err

    def chart(self, case: dict) -> tuple[dict | None, str]:
        name = frame_name(case)
        if name not in self.loaded:
            path = os.path.join(self.data_dir, case["table_csv"])
            self.run(f"%load {path} as {name}")
            self.loaded.add(name)
        query = case["query"].replace("\n", " ")
        return self.run(f"%viz --df {name} {query}")

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def _table(title: str, rows: dict) -> list[str]:
    out = [f"{title:<18} {'n':>5} {'right':>7} {'strict':>7}"]
    for key in sorted(rows, key=lambda k: (-rows[k][0], str(k))):
        n, ok, strict = rows[key]
        out.append(f"{str(key):<18} {n:>5} {100 * ok / n:>6.1f}% {100 * strict / n:>6.1f}%")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--sample", type=int, default=0, help="stratified sample size (0: all)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--kernel", action="store_true", help="run through a real anyviz kernel")
    ap.add_argument("--show-misses", type=int, default=0)
    ap.add_argument("--type", help="only this chart type")
    ap.add_argument("--half", choices=["A", "B"], help="only this half of the cases (hash of the id)")
    ap.add_argument("--dump", help="write the misses (and strict misses) as JSON lines to this file")
    ap.add_argument("--alt", action="store_true",
                    help="ask each case's first alternative phrasing (alt_queries) instead of `query`")
    args = ap.parse_args(argv)

    cases = load_cases(args.data)
    if args.type:
        cases = [c for c in cases if c["chart_type"] == args.type]
    if args.half:
        cases = [c for c in cases if half_of(c) == args.half]
    cases = stratified(cases, args.sample, args.seed)
    if args.alt:  # the same charts asked in other words: a check that rules are not tuned to wording
        cases = [dict(c, query=c["alt_queries"][0]) for c in cases if c.get("alt_queries")]
    runner = Kernel(args.data) if args.kernel else InProcess(args.data)
    by_type = collections.defaultdict(lambda: [0, 0, 0])
    by_hard = collections.defaultdict(lambda: [0, 0, 0])
    misses, dumped = [], []
    t0 = time.perf_counter()
    try:
        for case in cases:
            fig, err = runner.chart(case)
            ok, strict, why = score(case, fig)
            for table, key in ((by_type, case["chart_type"]), (by_hard, case["hardness"])):
                table[key][0] += 1
                table[key][1] += ok
                table[key][2] += ok and strict
            if not ok:
                misses.append((case, err or why))
            if args.dump and not (ok and strict):
                spec = getattr(runner, "last_spec", None) if fig else None
                dumped.append({"id": case["id"], "right": ok, "why": err or why or "order",
                               "spec": spec, "drawn": drawn_points(fig)[1][:30] if fig else None})
    finally:
        runner.close()
    total = sum(v[0] for v in by_type.values())
    right = sum(v[1] for v in by_type.values())
    strict = sum(v[2] for v in by_type.values())
    lines = [f"nvBench dev: {total} cases, {'kernel' if args.kernel else 'in-process'}, "
             f"{time.perf_counter() - t0:.1f} s",
             f"right {right}/{total} = {100 * right / max(1, total):.1f}%   "
             f"strict {strict}/{total} = {100 * strict / max(1, total):.1f}%", ""]
    lines += _table("chart type", by_type) + [""] + _table("hardness", by_hard)
    print("\n".join(lines))
    if args.dump:
        from anyviz import jsonutil
        with open(args.dump, "w", encoding="utf-8") as fh:
            for row in dumped:
                fh.write(jsonutil.dumps(row) + "\n")
    for case, why in misses[:args.show_misses]:
        print(f"\n- {case['id']} [{case['chart_type']}] {case['query']}\n  {case['vql']}\n  {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
