"""Dates written as text: which columns hold them, in which format, and turning them into dates.

The CSV reader only recognises ISO dates (2012-01-01). Exports often write 2012/01/01,
01/31/2012, 31.01.2012 or Jan 1 2000, which would stay text: a chart then draws one bar per
day instead of a time axis. `%load` calls `parse_text_dates` (unless --no-dates), the planner
calls `is_date_text` to treat such text as time. One explicit format per column is chosen from
a sample (every sampled value must parse), so a column is never parsed half one way, half another.
"""
from __future__ import annotations

import re
import warnings

import pandas as pd

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
ISO_DATE = re.compile(r"^\d{4}-\d{1,2}(-\d{1,2})?([ T]\d{1,2}:\d{2}(:\d{2})?(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
DATE_LIKE = re.compile(
    r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|"
    rf"{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}\s+{_MONTH},?\s+\d{{4}}|{_MONTH}\s+\d{{4}})"
    r"([ T]\d{1,2}:\d{2}(:\d{2})?(\.\d+)?\s*(am|pm)?)?$", re.IGNORECASE)

#: Formats tried in order; the first that parses every sampled value wins. Month-first before
#: day-first for slashes (US exports), day-first for dots (European exports).
FORMATS = [
    "%Y/%m/%d", "%Y.%m.%d", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S",
    "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d/%m/%y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M", "%d.%m.%Y", "%d.%m.%y", "%d.%m.%Y %H:%M", "%d-%m-%Y", "%m-%d-%Y",
    "%b %d %Y", "%b %d, %Y", "%B %d %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%b %Y", "%B %Y",
    "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
]
SAMPLE = 200


def is_date_text(values) -> bool:
    """Whether every value reads as a date (ISO or a common non-ISO form)."""
    vals = [str(v).strip() for v in values]
    return bool(vals) and all(ISO_DATE.match(v) or DATE_LIKE.match(v) for v in vals)


def date_format(values) -> str | None:
    """The first format of FORMATS that parses every value, or None."""
    vals = [str(v).strip() for v in values]
    if not vals or not is_date_text(vals):
        return None
    s = pd.Series(vals)
    for fmt in FORMATS:
        parsed = pd.to_datetime(s, format=fmt, errors="coerce")
        if parsed.notna().all():
            return fmt
    return None


def _text_columns(df: pd.DataFrame) -> list:
    return [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c].dtype)]


def parse_text_dates(df: pd.DataFrame, columns=None, notices: list | None = None) -> pd.DataFrame:
    """Turn date text into datetime64: every text column whose sample is all dates (columns=None),
    or exactly `columns` (a clear error names a column that is missing or not dates)."""
    from ..errors import DataError

    notices = notices if notices is not None else []
    wanted = list(columns) if columns else None
    if wanted:
        missing = [c for c in wanted if c not in df.columns]
        if missing:
            raise DataError(f"--dates names {', '.join(map(repr, missing))}, which the file does not "
                            f"have. Its columns are: {', '.join(map(str, df.columns))}.")
    for col in wanted or _text_columns(df):
        s = df[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            continue
        sample = s.head(50 * SAMPLE).dropna().astype(str).head(SAMPLE)  # bounded work on big frames
        fmt = date_format(sample) if len(sample) else None
        if fmt is None and wanted:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(s, errors="coerce", format="mixed")
            if parsed.notna().sum() < s.notna().sum():
                bad = s[parsed.isna() & s.notna()].astype(str).head(3).tolist()
                raise DataError(f"--dates {col}: {', '.join(map(repr, bad))} cannot be read as dates. "
                                f"Fix those values or leave {col} out of --dates.")
            df[col] = parsed
            notices.append(f"{col}: read as dates (--dates).")
            continue
        if fmt is None or (not wanted and fmt.startswith("%Y-%m-%d")):
            continue  # ISO text the reader left as text has a value that is not a date
        parsed = pd.to_datetime(s, format=fmt, errors="coerce")
        if parsed.notna().sum() < s.notna().sum():
            if wanted:
                bad = s[parsed.isna() & s.notna()].astype(str).head(3).tolist()
                raise DataError(f"--dates {col}: {', '.join(map(repr, bad))} do not match the format "
                                f"of the other values ({fmt}). Fix them or leave {col} out of --dates.")
            continue  # the sample was dates but the column is not: keep the text
        df[col] = parsed
        if not fmt.startswith("%Y-%m-%d"):
            notices.append(f"{col}: dates written like {sample.iloc[0]!r} read as dates ({fmt}); "
                           f"--no-dates keeps them as text.")
    return df
