"""Bucket the nvBench misses by cause, to see which language rules to work on first.

    .venv/bin/python benchmarks/bench_nvbench.py --half A --dump /tmp/A.jsonl
    .venv/bin/python benchmarks/nvbench_misses.py /tmp/A.jsonl [--show BUCKET] [--n 20]

Each miss is compared with its case: no chart, wrong chart family, wrong x, wrong
y/aggregate, wrong colour/stacking, missing or extra filter, wrong date bin, top-N, order only
(right data, strict miss), or other (the specification looks right but the data differ).
The first cause that applies names the bucket.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_nvbench import DEFAULT_DATA, FAMILY, load_cases  # noqa: E402

AGG = {"count": "count", "sum": "sum", "avg": "mean", "min": "min", "max": "max"}
SPEC_FAMILY = {"bar": "bar", "histogram": "bar", "line": "line", "area": "line", "scatter": "scatter",
               "pie": "pie"}


def _same(a, b) -> bool:
    return str(a or "").lower() == str(b or "").lower()


def bucket(case: dict, row: dict) -> str:
    spec = row.get("spec")
    if not row["right"] and row["why"] != "order" and not row["why"].startswith(("data", "family")):
        return "no chart"
    if row["right"]:
        return "order only"
    if spec is None:
        return "no chart"
    want = FAMILY[case["chart_type"]]
    if row["why"].startswith("family") or SPEC_FAMILY.get(spec["chart"]) != want:
        return f"chart type ({spec['chart']} for {case['chart_type']})"
    x = (spec.get("bin") or [spec["x"]])[0] if spec.get("bin") else spec["x"]
    if not _same(x, case["x"]) and not _same(spec["x"], case["x"]):
        return "wrong x"
    agg = AGG.get(case["aggregate"]) if case["aggregate"] else None
    if agg == "count":
        if spec.get("agg") not in ("count",):
            return f"y/agg (count wanted, got {spec.get('agg')} of y)"
    elif agg:
        if not _same(spec.get("y"), case["y"]):
            return "y/agg (wrong y column)"
        if spec.get("agg") != agg:
            return f"y/agg ({agg} wanted, got {spec.get('agg')})"
    else:
        if not _same(spec.get("y"), case["y"]):
            return "y/agg (wrong y column, raw values)"
        if spec.get("agg") not in (None,):
            return f"y/agg (raw wanted, got {spec.get('agg')})"
    group = case.get("color_or_group")
    if group and not _same(spec.get("color"), group):
        return "colour/stacking missing or wrong"
    if not group and spec.get("color"):
        return "colour extra"
    bin_ = case.get("bin")
    sbin = spec.get("bin")
    if bin_ and not sbin:
        return f"date bin missing ({bin_['unit']})"
    if bin_ and sbin and not str(sbin[1]).startswith(bin_["unit"][:3]) and not (
            bin_["unit"] == "month" and sbin[1] == "monthname"):
        return f"date bin wrong ({sbin[1]} for {bin_['unit']})"
    if not bin_ and sbin:
        return "date bin extra"
    if case.get("filter") and not spec.get("filters"):
        return "filter missing"
    if not case.get("filter") and spec.get("filters"):
        return "filter extra"
    if spec.get("top"):
        return "top-N extra/other"
    return "other (filter value, data shape)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump")
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--show", help="print the cases of buckets starting with this text")
    ap.add_argument("--n", type=int, default=15)
    args = ap.parse_args(argv)
    cases = {c["id"]: c for c in load_cases(args.data)}
    rows = [json.loads(line) for line in open(args.dump, encoding="utf-8")]
    buckets = collections.defaultdict(list)
    for row in rows:
        buckets[bucket(cases[row["id"]], row)].append(row)
    for name, items in sorted(buckets.items(), key=lambda kv: -len(kv[1])):
        print(f"{len(items):>5}  {name}")
    if args.show:
        for name, items in buckets.items():
            if not name.startswith(args.show):
                continue
            for row in items[:args.n]:
                c = cases[row["id"]]
                s = row.get("spec") or {}
                print(f"\n- {c['id']} [{c['chart_type']}/{c['hardness']}] {c['query']}\n  {c['vql']}\n"
                      f"  planned: {s.get('chart')} x={s.get('x')} y={s.get('y')} agg={s.get('agg')} "
                      f"color={s.get('color')} bin={s.get('bin')} sort={s.get('sort')} top={s.get('top')} "
                      f"filters={s.get('filters')}\n  {row['why']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
