"""What the planner knows about a frame's columns: kind, cardinality and a few flags.

The planner decides chart types from these facts (temporal + quantitative -> line, ...), so they
are computed once per plan, vectorised, and on a strided sample for very large frames (distinct
counts only steer thresholds; they need not be exact).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from anyviz import columns
from anyviz.data.dates import is_date_text

#: Rows above which cardinality is estimated from an evenly strided sample.
SAMPLE_ROWS = 200_000
#: Nominal columns with at most this many distinct values are searched for filter values.
VALUE_INDEX_MAX_DISTINCT = 1000

#: Column-name words of quantities that are naturally summed (totals) rather than averaged.
ADDITIVE_WORDS = {
    "pop", "population", "count", "counts", "sales", "revenue", "amount", "total", "quantity",
    "qty", "volume", "generation", "votes", "vote", "medals", "deaths", "cases", "sum", "units",
    "orders", "profit", "cost", "costs", "spend", "spending", "hours", "bill", "income",
    "frequency", "number", "visits", "clicks", "downloads", "sold", "emissions", "nonfarm",
}

_ID_WORDS = {"id", "iso", "num", "code", "key", "index", "uuid", "zip", "postal"}


def words_of(name: str) -> list[str]:
    """Split a column name into lower-case words: camelCase, snake_case, spaces, dots."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", s)
    s = re.sub(r"[^A-Za-z0-9]+", " ", s)
    return s.lower().split()


@dataclass
class ColumnInfo:
    name: str
    kind: str  # a chart encoding from anyviz.columns: quantitative | temporal | nominal | boolean
    distinct: int
    dtype: str
    #: for temporal columns: "datetime", "string" (ISO dates stored as text) or "year" (ints)
    temporal: str | None = None
    additive: bool = False
    idlike: bool = False
    integer: bool = False
    values: list = field(default_factory=list)  # distinct values of small nominal columns

    @property
    def discrete(self) -> bool:
        """A number with few distinct values (cylinders, party size) reads well as a category."""
        return self.kind == "quantitative" and self.integer and self.distinct <= 25


@dataclass
class FrameInfo:
    rows: int
    columns: dict  # name -> ColumnInfo, in frame order

    def of_kind(self, *kinds: str) -> list[ColumnInfo]:
        return [c for c in self.columns.values() if c.kind in kinds]

    def first_temporal(self) -> ColumnInfo | None:
        order = {"datetime": 0, "string": 1, "year": 2}
        temporals = sorted(self.of_kind("temporal"), key=lambda c: order.get(c.temporal, 3))
        return temporals[0] if temporals else None


def _sample(df: pd.DataFrame) -> pd.DataFrame:
    if len(df) <= SAMPLE_ROWS:
        return df
    step = max(1, len(df) // SAMPLE_ROWS)
    return df.iloc[::step]


def profile(df: pd.DataFrame) -> FrameInfo:
    """Classify every column of `df` (see ColumnInfo)."""
    sample = _sample(df)
    cols: dict = {}
    for name in df.columns:
        s = sample[name]
        words = set(words_of(name))
        dtype = str(s.dtype)
        try:
            distinct = int(s.nunique(dropna=True))
        except TypeError:  # unhashable cells (lists, dicts)
            distinct = len(s)
        info = ColumnInfo(name=str(name), kind=columns.NOMINAL, distinct=distinct, dtype=dtype)
        stored = columns.kind(s)
        if stored == columns.BOOLEAN:
            info.kind = columns.BOOLEAN
        elif stored == columns.DATETIME:
            info.kind, info.temporal = columns.TEMPORAL, "datetime"
        elif stored == columns.NUMERIC:
            info.kind = columns.QUANTITATIVE
            info.integer = pd.api.types.is_integer_dtype(s)
            nonnull = s.dropna()
            if words & {"year", "yr", "years"} and len(nonnull) and (
                    nonnull.between(1000, 2300).all() and (nonnull % 1 == 0).all()):
                info.kind, info.temporal = columns.TEMPORAL, "year"
            elif words & _ID_WORDS and info.integer:
                info.idlike = True
            info.additive = bool(words & ADDITIVE_WORDS)
        elif stored != columns.CATEGORICAL:
            head = s.dropna().head(50)
            if len(head) and is_date_text(head.astype(str)):
                info.kind, info.temporal = columns.TEMPORAL, "string"
        if info.kind in ("nominal", "boolean") and 0 < distinct <= VALUE_INDEX_MAX_DISTINCT or \
                info.kind == columns.QUANTITATIVE and info.integer and distinct == 2:  # 0/1 flags
            try:
                info.values = list(s.dropna().unique())
            except TypeError:
                info.values = []
        if info.kind == "nominal" and distinct > 0.9 * max(1, len(sample)) and len(sample) > 20:
            info.idlike = True  # names, ids: one value per row
        cols[str(name)] = info
    return FrameInfo(rows=len(df), columns=cols)


_LAT = {"lat", "latitude"}
_LON = {"lon", "lng", "long", "longitude"}


def _codes_of_length(values, n: int) -> bool:
    """Upper-case codes of length n (ISO country codes: FR, FRA)."""
    return bool(values) and all(isinstance(v, str) and len(v) == n and v.isupper()
                                for v in values[:50])


def geo_columns(frame: FrameInfo) -> dict:
    """{"lat", "lon", "country", "iso3", "iso2"} -> column, from names and values, for maps."""
    out: dict = {}
    for c in frame.columns.values():
        words = set(words_of(c.name))
        if c.kind == "quantitative" and words & _LAT and "lat" not in out:
            out["lat"] = c.name
        elif c.kind == "quantitative" and words & _LON and "lon" not in out:
            out["lon"] = c.name
        elif c.kind == "nominal" and ("iso" in words or "alpha" in words) and \
                _codes_of_length(c.values, 3):
            out.setdefault("iso3", c.name)
        elif c.kind == "nominal" and words & {"country", "countries", "nation", "nations"}:
            out.setdefault("iso2" if _codes_of_length(c.values, 2) else "country", c.name)
    return out


def check_frame(df, frame_name: str) -> None:
    """%viz plots non-empty DataFrames; anything else gets a message saying what to do."""
    from anyviz.errors import AnyVizError
    if not isinstance(df, pd.DataFrame):
        raise AnyVizError(f"{frame_name} is a {type(df).__name__}, not a pandas DataFrame; "
                          "%viz plots DataFrames (load one with %load, or build one with pandas).")
    if df.shape[1] == 0 or len(df) == 0:
        raise AnyVizError(f"{frame_name} is empty ({df.shape[0]} rows, {df.shape[1]} columns): "
                          "there is nothing to plot. Load or filter data with rows first.")
