"""HTML and plain-text previews of loaded frames (name, shape, dtypes, first rows, warnings).

Self-contained HTML with inline styles only (no JavaScript, no external CSS), so it renders the
same in JupyterLab, untrusted notebooks and nbconvert output. Wide frames are cut to a fixed
number of columns: 10,000 columns would otherwise make a multi-megabyte output.

Names, values, sources (paths/URLs) and messages come from the file: every one goes through
`anyviz.safety` (escaped for HTML, capped, direction controls removed), in the text/plain
version too.
"""
from __future__ import annotations

import pandas as pd

from .. import safety

MAX_COLS = 20
MAX_CELL = 60

TABLE_STYLE = "border-collapse:collapse;font-size:12px;margin:4px 0"
CELL_STYLE = "border:1px solid #ddd;padding:2px 6px;text-align:left;white-space:nowrap"
HEADER_STYLE = CELL_STYLE + ";background:#f5f5f5"
_WARN = ("background:#fff4e5;border-left:4px solid #f0a020;padding:4px 8px;margin:4px 0;"
         "font-size:12px")
_NOTE = "color:#555;font-size:12px;margin:2px 0"


#: Longest name (frame or column) or source shown.
MAX_NAME = 200
#: Longest warning or notice shown.
MAX_MESSAGE = 2000


def esc(value, limit: int = MAX_NAME) -> str:
    """Untrusted text for the HTML preview: escaped, capped, no direction controls."""
    return safety.html_text(value, limit)


def plain(value, limit: int = MAX_NAME) -> str:
    """The same text for text/plain."""
    return safety.plain(value, limit)


def fmt_bytes(n) -> str:
    if n is None:
        return "?"
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GB"


def _cell(v) -> str:
    s = "" if v is None or (isinstance(v, float) and v != v) else str(v)
    if s in ("nan", "NaT", "<NA>", "None"):
        s = ""
    s = safety.strip_bidi(s)
    return s if len(s) <= MAX_CELL else s[: MAX_CELL - 1] + "…"


def frame_table_html(df: pd.DataFrame, rows: int = 5) -> tuple[str, str | None]:
    """First `rows` rows as an HTML table with dtypes under the names; note if truncated."""
    cols = list(df.columns[:MAX_COLS])
    note = None
    if df.shape[1] > MAX_COLS:
        note = f"showing {MAX_COLS} of {df.shape[1]:,} columns"
    head = df.iloc[:rows, :MAX_COLS]
    parts = [f"<table style='{TABLE_STYLE}'><thead><tr><th style='{HEADER_STYLE}'></th>"]
    for c in cols:
        parts.append(f"<th style='{HEADER_STYLE}'>{esc(c)}<br><span style='font-weight:normal;color:#888'>"
                     f"{esc(df[c].dtype if df.columns.is_unique else '')}</span></th>")
    parts.append("</tr></thead><tbody>")
    values = head.astype(object).values.tolist()
    for idx, row in zip(head.index, values):
        parts.append(f"<tr><th style='{HEADER_STYLE}'>{esc(idx)}</th>")
        parts.extend(f"<td style='{CELL_STYLE}'>{esc(_cell(v))}</td>" for v in row)
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts), note


def frame_table_text(df: pd.DataFrame, rows: int = 5) -> str:
    head = df.iloc[:rows, :MAX_COLS].copy()
    head.columns = [plain(c, 60) for c in head.columns]
    head = head.apply(lambda col: col.map(lambda v: plain(v, MAX_CELL) if isinstance(v, str)
                                          else v) if col.dtype == object else col)
    with pd.option_context("display.max_columns", MAX_COLS, "display.width", 120,
                           "display.max_colwidth", 30):
        text = head.to_string(na_rep="")
    if df.shape[1] > MAX_COLS:
        text += f"\n... showing {MAX_COLS} of {df.shape[1]:,} columns"
    return text


def messages_html(warnings: list, notices: list) -> str:
    out = [f"<div style='{_WARN}'>⚠ {esc(w, MAX_MESSAGE)}</div>" for w in warnings]
    out += [f"<div style='{_NOTE}'>ℹ {esc(n, MAX_MESSAGE)}</div>" for n in notices]
    return "".join(out)


def messages_text(warnings: list, notices: list) -> str:
    return ("".join(f"WARNING: {plain(w, MAX_MESSAGE)}\n" for w in warnings)
            + "".join(f"note: {plain(n, MAX_MESSAGE)}\n" for n in notices))


def loaded_bundle(entries: list[dict], relationships: list[str], warnings: list,
                  notices: list) -> dict:
    """One bundle for a whole %load: a section per frame, then relationships and messages.

    Each entry: {name, df, source, size_bytes, seconds, replaced}.
    """
    html_parts = ["<div style='font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif'>",
                  messages_html(warnings, [])]
    text_parts = [messages_text(warnings, [])]
    for e in entries:
        df = e["df"]
        title = (f"{plain(e['name'])}: {df.shape[0]:,} rows × {df.shape[1]:,} columns from "
                 f"{plain(e['source'])} ({fmt_bytes(e['size_bytes'])}, {e['seconds']:.2f} s, "
                 f"{fmt_bytes(df.memory_usage(deep=False).sum())} in memory)")
        replaced = " — replaced the previous value of this name" if e.get("replaced") else ""
        table, note = frame_table_html(df)
        dtypes = ", ".join(f"{plain(c, 60)}: {t}" for c, t in list(df.dtypes.astype(str).items())[:MAX_COLS])
        if df.shape[1] > MAX_COLS:
            dtypes += ", …"
        html_parts.append(
            f"<div style='margin:6px 0'><b>{esc(e['name'])}</b>: {df.shape[0]:,} rows × "
            f"{df.shape[1]:,} columns <span style='color:#666'>from {esc(e['source'])} "
            f"({fmt_bytes(e['size_bytes'])}, {e['seconds']:.2f} s)</span>{esc(replaced)}</div>"
            + table + (f"<div style='{_NOTE}'>{esc(note)}</div>" if note else ""))
        text_parts.append(f"{title}{replaced}\n  dtypes: {dtypes}\n{frame_table_text(df)}\n")
    if relationships:
        html_parts.append("<div style='margin:6px 0'><b>Possible joins</b><ul style='margin:2px 0'>"
                          + "".join(f"<li>{esc(r, MAX_MESSAGE)}</li>" for r in relationships)
                          + "</ul></div>")
        text_parts.append("Possible joins:\n" + "".join(f"  {plain(r, MAX_MESSAGE)}\n"
                                                         for r in relationships))
    html_parts.append(messages_html([], notices))
    text_parts.append(messages_text([], notices))
    html_parts.append("</div>")
    return {"text/html": "".join(html_parts), "text/plain": "\n".join(p for p in text_parts if p).rstrip()}
