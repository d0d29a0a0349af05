"""`%profile` of a LazyFrame: the statistics are computed in the engine, in one scan for the
per-column facts and one small top-values query per text column.

Distinct counts and quantiles are approximate (HyperLogLog / t-digest-style sketches in DuckDB,
percentile_approx in Spark): exact ones need a sort or a hash table of every value, which is
what a table bigger than memory cannot afford. The output says which numbers are estimates.
"""
from __future__ import annotations

import html
import time

from ..columns import engine_kind
from . import run

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
TOP_N = 5
#: Quantiles come from a random sample of about this many rows (exact below twice that):
#: DuckDB's t-digest over 40M rows took ~9 s per column, a sorted 1M-row sample ~0.5 s.
QUANTILE_SAMPLE_ROWS = 1_000_000
#: Text columns whose top values are queried (each is one more query).
TOP_COLUMNS = 20


def _py(v):
    if hasattr(v, "item") and not isinstance(v, (str, bytes, list, tuple)):
        try:
            return v.item()
        except (ValueError, AttributeError):
            pass
    if hasattr(v, "isoformat"):
        return str(v)
    return v


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def _quantiles(values) -> dict:
    values = list(values) if values is not None else [None] * len(QUANTILES)
    return {f"{int(q * 100)}%": _num(v) for q, v in zip(QUANTILES, values)}


def profile_facts(frame, name: str, columns: list[str] | None = None) -> dict:
    """The profile's facts as a JSON-ready dict (computed in `frame`'s engine)."""
    started = time.perf_counter()
    t = frame.table
    schema = t.schema()
    cols = columns or list(schema)
    aggs = {"__rows": t.count()}
    for i, c in enumerate(cols):
        col, kind = t[c], engine_kind(schema[c])
        aggs[f"{i}_count"] = col.count()
        aggs[f"{i}_distinct"] = col.approx_nunique()
        if kind == "numeric":
            x = col.cast("float64")
            aggs.update({f"{i}_min": x.min(), f"{i}_max": x.max(), f"{i}_mean": x.mean(),
                         f"{i}_std": x.std()})
        elif kind == "datetime":
            aggs.update({f"{i}_min": col.min(), f"{i}_max": col.max()})
        elif kind == "text":
            n = col.length()
            aggs.update({f"{i}_lmin": n.min(), f"{i}_lmax": n.max(), f"{i}_lmean": n.mean()})
    row = run.execute(frame, t.aggregate(**aggs)).iloc[0]
    rows = int(row["__rows"])
    numeric = [(i, c) for i, c in enumerate(cols) if engine_kind(schema[c]) == "numeric"]
    sampled = rows > 2 * QUANTILE_SAMPLE_ROWS
    quantiles = {}
    if numeric and rows:
        src = t.sample(QUANTILE_SAMPLE_ROWS / rows, method="row") if sampled else t
        qrow = run.execute(frame, src.aggregate(**{
            f"{i}_q": src[c].cast("float64").quantile(list(QUANTILES)) for i, c in numeric}))
        quantiles = {k: qrow[k].iloc[0] if len(qrow) else None for k in qrow.columns}
    frame._rows = rows
    variables, alerts = [], []
    for i, c in enumerate(cols):
        kind = engine_kind(schema[c])
        count = int(row[f"{i}_count"])
        missing = rows - count
        v = {"name": c, "kind": kind, "dtype": str(schema[c]), "count": count,
             "missing": missing, "missing_pct": round(100.0 * missing / rows, 2) if rows else 0.0,
             "distinct": int(row[f"{i}_distinct"]), "distinct_approx": True, "top": []}
        if kind == "numeric":
            v.update(min=_num(row[f"{i}_min"]), max=_num(row[f"{i}_max"]),
                     mean=_num(row[f"{i}_mean"]), std=_num(row[f"{i}_std"]),
                     quantiles=_quantiles(quantiles.get(f"{i}_q")), quantiles_approx=sampled)
        elif kind == "datetime":
            v.update(min=str(row[f"{i}_min"]), max=str(row[f"{i}_max"]))
        elif kind == "text":
            v.update(length_min=_py(row[f"{i}_lmin"]), length_max=_py(row[f"{i}_lmax"]),
                     length_mean=_num(row[f"{i}_lmean"]))
        if rows and missing / rows > 0.5:
            alerts.append({"column": c, "kind": "missing",
                           "message": f"{c} is {100 * missing / rows:.0f}% missing"})
        if count and v["distinct"] <= 1:
            alerts.append({"column": c, "kind": "constant", "message": f"{c} has one value"})
        variables.append(v)
    text_cols = [v for v in variables if v["kind"] in ("text", "boolean")
                 or (v["kind"] == "numeric" and v["distinct"] <= 10)][:TOP_COLUMNS]
    for v in text_cols:
        top = run.execute(frame, t[v["name"]].topk(TOP_N))
        v["top"] = [{"value": _py(r[0]), "count": int(r[1])}
                    for r in top.itertuples(index=False) if r[0] is not None]
    return {"name": name, "engine": frame.engine, "source": frame.source, "rows": rows,
            "columns": len(schema), "alerts": alerts, "variables": variables,
            "approximate": ["distinct"] + (["quantiles"] if sampled else []),
            "quantile_sample_rows": QUANTILE_SAMPLE_ROWS if sampled else None,
            "seconds": round(time.perf_counter() - started, 3)}


def _fmt(x, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        if x == int(x) and abs(x) < 1e15:
            return f"{int(x):,}" if abs(x) >= 10_000 else str(int(x))
        return f"{x:,.{digits}g}" if abs(x) < 1e6 else f"{x:.3e}"
    return str(x)


def _lines(v: dict) -> list[str]:
    out = [f"count {v['count']:,}", f"missing {v['missing']:,} ({v['missing_pct']:.1f}%)",
           f"distinct ≈{v['distinct']:,} (estimated)"]
    if v["kind"] == "numeric" and v.get("min") is not None:
        q = v["quantiles"]
        out += [f"min {_fmt(v['min'])}  max {_fmt(v['max'])}",
                f"mean {_fmt(v['mean'])}  std {_fmt(v['std'])}",
                ("≈ " if v.get("quantiles_approx") else "")
                + "  ".join(f"{k} {_fmt(val)}" for k, val in q.items())
                + (" (from a random sample)" if v.get("quantiles_approx") else "")]
    elif v["kind"] == "datetime" and v.get("min"):
        out += [f"from {v['min']}", f"to {v['max']}"]
    elif v.get("length_min") is not None:
        out.append(f"length {v['length_min']}–{v['length_max']} "
                   f"(mean {_fmt(v['length_mean'], 3)})")
    if v["top"]:
        out.append("top: " + ", ".join(f"{str(t['value'])[:30]} ({t['count']:,})"
                                      for t in v["top"]))
    return out


def _estimates(facts: dict) -> str:
    if facts.get("quantile_sample_rows"):
        return (f"distinct counts are estimates; quantiles from a random sample of about "
                f"{facts['quantile_sample_rows']:,} rows")
    return "distinct counts are estimates"


def to_html(facts: dict) -> str:
    e = lambda x: html.escape(str(x), quote=True)  # noqa: E731
    td = "border-top:1px solid #e5e5e5;padding:4px 8px;vertical-align:top;font-size:12px"
    parts = ["<div style='font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif'>",
             f"<div style='font-size:14px;margin-bottom:4px'><b>Profile of {e(facts['name'])}"
             f"</b>: {facts['rows']:,} rows × {facts['columns']:,} columns, computed in "
             f"{e(facts['engine'])} <span style='color:#888'>({facts['seconds']:.2f} s; "
             f"{e(_estimates(facts))})</span></div>"]
    if facts["alerts"]:
        parts.append("<ul style='font-size:12px'>" + "".join(
            f"<li>{e(a['message'])}</li>" for a in facts["alerts"]) + "</ul>")
    parts.append("<table style='border-collapse:collapse'><tbody>")
    for v in facts["variables"]:
        parts.append(f"<tr><td style='{td}'><b>{e(v['name'])}</b><br><span style='color:#888'>"
                     f"{e(v['kind'])} · {e(v['dtype'])}</span></td><td style='{td}'>"
                     + "<br>".join(e(x) for x in _lines(v)) + "</td></tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def to_text(facts: dict) -> str:
    lines = [f"Profile of {facts['name']}: {facts['rows']:,} rows x {facts['columns']:,} "
             f"columns, computed in {facts['engine']} ({_estimates(facts)})"]
    lines += [f"ALERT: {a['message']}" for a in facts["alerts"]]
    for v in facts["variables"]:
        lines.append(f"\n{v['name']} ({v['kind']}, {v['dtype']})")
        lines.extend("  " + x for x in _lines(v))
    return "\n".join(lines)


def bundle(frame, name: str, columns: list[str] | None = None) -> dict:
    facts = profile_facts(frame, name, columns)
    return {"text/html": to_html(facts), "application/vnd.anyviz.profile+json": facts,
            "text/plain": to_text(facts)}
