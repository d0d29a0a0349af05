"""One vocabulary for what a column holds, used by %profile, the %viz planner, the LLM prompt and
the DuckDB/Spark engines.

Two words describe a column, and both come from here:

* its storage *kind* (what the values are): boolean, numeric, datetime, timedelta, categorical
  or text. %profile shows it and picks its statistics by it.
* its chart *encoding* (how a chart treats it, Vega-Lite's measurement types): quantitative,
  temporal, nominal or boolean. The planner and the LLM prompt reason in these.

`encoding` maps one to the other, so a column is never a number to one part and a category to
another.
"""
from __future__ import annotations

BOOLEAN = "boolean"
NUMERIC = "numeric"
DATETIME = "datetime"
TIMEDELTA = "timedelta"
CATEGORICAL = "categorical"
TEXT = "text"

QUANTITATIVE = "quantitative"
TEMPORAL = "temporal"
NOMINAL = "nominal"

_ENCODING_OF_KIND = {BOOLEAN: BOOLEAN, NUMERIC: QUANTITATIVE, DATETIME: TEMPORAL,
                     CATEGORICAL: NOMINAL, TIMEDELTA: NOMINAL, TEXT: NOMINAL}


def kind_of_dtype(dtype) -> str:
    """The storage kind of a pandas/numpy dtype. Booleans are tested first (pandas counts them
    as numeric); a period (pandas Period) is text here: %profile summarises its labels."""
    import pandas as pd

    types = pd.api.types
    if types.is_bool_dtype(dtype):
        return BOOLEAN
    if types.is_numeric_dtype(dtype):
        return NUMERIC
    if types.is_datetime64_any_dtype(dtype):
        return DATETIME
    if isinstance(dtype, pd.CategoricalDtype):
        return CATEGORICAL
    if types.is_timedelta64_dtype(dtype):
        return TIMEDELTA
    return TEXT


def kind(series) -> str:
    """The storage kind of a pandas Series (see kind_of_dtype)."""
    return kind_of_dtype(series.dtype)


def engine_kind(dtype) -> str:
    """The storage kind of an engine column type (a polars-style dtype with is_boolean /
    is_numeric / is_temporal, as the DuckDB and Spark engines report their schemas)."""
    if dtype.is_boolean():
        return BOOLEAN
    if dtype.is_numeric():
        return NUMERIC
    if dtype.is_temporal():
        return DATETIME
    return TEXT


def encoding_of_kind(storage_kind: str) -> str:
    """How a chart treats a column of this storage kind."""
    return _ENCODING_OF_KIND[storage_kind]


def encoding(series) -> str:
    """How a chart treats a pandas Series: periods (months, quarters) are temporal even though
    their storage kind is text."""
    import pandas as pd

    if isinstance(series.dtype, pd.PeriodDtype):
        return TEMPORAL
    return encoding_of_kind(kind(series))
