"""`%profile` output: the facts dict (anyviz.data.profile) as static HTML and plain text.

One number format everywhere: integers (counts, whole values) with thousands separators,
other numbers to 4 significant digits (separators above 1,000, never 2.96e+07), years as plain
integers (2007, not 2,007), memory in binary units (36 KiB). Every column name and value is
escaped for HTML (anyviz.safety, the project's one escaping rule).
"""
from __future__ import annotations

import math

from .. import safety

SIGNIFICANT = 4


def fmt_int(n) -> str:
    """1,234,567 (every integer count or whole value)."""
    return f"{int(n):,}"


def fmt_float(x: float, digits: int = SIGNIFICANT) -> str:
    """`digits` significant digits without an exponent between 1e-4 and 1e15:
    29,601,234.5 -> 29,600,000; 0.012345 -> 0.01235; 3.0 -> 3."""
    if not math.isfinite(x):
        return "–" if math.isnan(x) else ("∞" if x > 0 else "-∞")
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    if magnitude >= 15 or magnitude < -4:
        return f"{x:.{digits - 1}e}"
    if magnitude >= digits - 1:  # no decimals left: round to the significant digits
        return fmt_int(round(x, -(magnitude - digits + 1)))
    text = f"{x:,.{digits - 1 - magnitude}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_num(x, *, year: bool = False, exact: bool = False) -> str:
    """A statistic of a column. `year` columns print without separators (2007, a median of
    1965.75 as 1966); `exact` prints whole values in full (the min and max of an integer
    column: 1,318,683,096, not 1,319,000,000)."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return str(x)
    if year and isinstance(x, (int, float)) and math.isfinite(x):
        return str(int(x)) if float(x) == round(x) else f"{x:.{SIGNIFICANT}g}"
    if exact and isinstance(x, float) and math.isfinite(x) and x == round(x) and abs(x) < 2 ** 53:
        return fmt_int(int(x))
    if isinstance(x, int):
        return fmt_int(x)
    if isinstance(x, float):
        return fmt_float(x)
    return str(x)


def fmt_bytes(n: int) -> str:
    """Memory in binary units with 3 significant digits: 512 B, 36 KiB, 1.25 GiB."""
    n = int(n)
    if n < 1024:
        return f"{n} B"
    value, unit = float(n), "B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024:
            break
    return f"{value:.3g} {unit}" if value < 1000 else f"{value:.0f} {unit}"


def fmt_pct(p) -> str:
    """Percentages: one decimal, 0 and 100 exact."""
    if p is None:
        return "–"
    return "0%" if p == 0 else "100%" if p == 100 else f"{p:.1f}%"


def _value(v, year: bool) -> str:
    """A top value: numbers in the column's format (whole ones in full), text as it is
    (capped)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return fmt_num(v, year=year, exact=True)
    text = str(v)
    return text if len(text) <= 30 else text[:29] + "…"


def stats_lines(v: dict) -> list[str]:
    """The facts of one column as short lines (plain text; HTML escapes them)."""
    year = bool(v.get("year_like"))
    out = [f"count {fmt_int(v['count'])}",
           f"missing {fmt_int(v['missing'])} ({fmt_pct(v['missing_pct'])})",
           f"distinct ≈{fmt_int(v['distinct'])} (estimated)" if v.get("distinct_approx")
           else f"distinct {fmt_int(v['distinct'])}"]
    n = lambda x: fmt_num(x, year=year)  # noqa: E731
    whole = lambda x: fmt_num(x, year=year, exact=bool(v.get("integer")))  # noqa: E731
    if v["kind"] == "numeric" and "mean" in v:
        q = v["quantiles"]
        out += [f"min {whole(v['min'])}  max {whole(v['max'])}",
                f"mean {n(v['mean'])}  std {fmt_num(v['std'])}",
                f"5% {n(q['5%'])}  25% {n(q['25%'])}  50% {n(q['50%'])}  "
                f"75% {n(q['75%'])}  95% {n(q['95%'])}"]
    elif v["kind"] == "datetime" and "min" in v:
        out += [f"from {v['min']}", f"to {v['max']} ({fmt_num(v['range_days'])} days)"]
    elif "length_min" in v:
        out += [f"length {fmt_int(v['length_min'])}–{fmt_int(v['length_max'])} "
                f"(mean {fmt_num(v['length_mean'])})"]
    if v["top"] and v["kind"] != "numeric" or (v["kind"] == "numeric" and v["distinct"] <= 10):
        out.append("top: " + ", ".join(f"{_value(t['value'], year)} ({fmt_int(t['count'])})"
                                       for t in v["top"]))
    return out


def _svg_bars(counts, width=120, height=28, color="#4c78a8") -> str:
    counts = [c or 0 for c in counts]
    if not counts or max(counts) <= 0:
        return ""
    n, peak = len(counts), max(counts)
    bw = width / n
    rects = "".join(
        f"<rect x='{i * bw:.1f}' y='{height - h:.1f}' width='{max(bw - 1, 0.5):.1f}' "
        f"height='{h:.1f}' fill='{color}'/>"
        for i, h in ((i, height * c / peak) for i, c in enumerate(counts)) if h > 0)
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' role='img'>{rects}</svg>")


_CSS_TD = "border-top:1px solid #e5e5e5;padding:4px 8px;vertical-align:top;font-size:12px;text-align:left"


def _headline(facts: dict) -> str:
    return (f"{fmt_int(facts['rows'])} rows × {fmt_int(facts['columns'])} columns, "
            f"{fmt_bytes(facts['memory_bytes'])} in memory, "
            f"{fmt_int(facts['duplicate_rows'])} duplicate rows")


def to_html(facts: dict) -> str:
    """Static HTML: inline styles and SVG only, no scripts (safe in untrusted notebooks)."""
    e = safety.html_text
    parts = ["<div style='font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif'>",
             f"<div style='font-size:14px;margin-bottom:4px'><b>Profile of {e(facts['name'])}</b>: "
             f"{e(_headline(facts))} "
             f"<span style='color:#888'>({facts['seconds']:.2f} s)</span></div>"]
    if facts["alerts"]:
        parts.append("<div style='background:#fff4e5;border-left:4px solid #f0a020;padding:4px 8px;"
                     "margin:4px 0;font-size:12px'><b>Alerts</b><ul style='margin:2px 0'>"
                     + "".join(f"<li>{e(a['message'])}</li>" for a in facts["alerts"])
                     + "</ul></div>")
    if facts["correlations"]:
        note = (f" (on a sample of {fmt_int(facts['correlation_sample_rows'])} rows)"
                if facts["correlation_sample_rows"] else "")
        parts.append(f"<div style='font-size:12px;margin:4px 0'><b>Strongest correlations{note}</b>: "
                     + "; ".join(f"{e(c['a'])} ~ {e(c['b'])}: r = {c['r']:.2f}"
                                 for c in facts["correlations"]) + "</div>")
    parts.append("<table style='border-collapse:collapse'><tbody>")
    for v in facts["variables"]:
        chart = ""
        if "histogram" in v:
            chart = _svg_bars(v["histogram"]["counts"])
        elif v["top"]:
            chart = _svg_bars([t["count"] for t in v["top"]], color="#72b7b2")
        parts.append(
            f"<tr><td style='{_CSS_TD}'><b>{e(v['name'])}</b><br>"
            f"<span style='color:#888'>{e(v['kind'])} · {e(v['dtype'])}</span></td>"
            f"<td style='{_CSS_TD}'>" + "<br>".join(e(x) for x in stats_lines(v)) + "</td>"
            f"<td style='{_CSS_TD}'>{chart}</td></tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def to_text(facts: dict) -> str:
    lines = [f"Profile of {facts['name']}: {_headline(facts)}"]
    for a in facts["alerts"]:
        lines.append(f"ALERT: {a['message']}")
    if facts["correlations"]:
        lines.append("Strongest correlations: " + "; ".join(
            f"{c['a']} ~ {c['b']}: r={c['r']:.2f}" for c in facts["correlations"]))
    for v in facts["variables"]:
        lines.append(f"\n{v['name']} ({v['kind']}, {v['dtype']})")
        lines.extend("  " + x for x in stats_lines(v))
    return safety.plain("\n".join(lines), 200_000)
