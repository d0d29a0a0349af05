"""Huge px.line / px.area calls in a chart process draw only the rows the figure's reduction
keeps anyway.

px copies and validates every row (~0.3 s per 10M) before the reduction (anyviz.viz.reduce)
throws all but a few thousand points away. For the plain, common call the same min/max rule
(reduce.slice_extremes) is applied to whole rows first. The patch is installed only in the
throwaway chart child (see chart_child), which exits after one chart.
"""
from __future__ import annotations

from .reduce import slice_extremes

# px.line / px.area arguments that only style or group rows: with nothing else given, keeping a
# subset of whole rows draws the same lines (per group, in row order).
_ROW_SAFE_KW = {
    "color", "line_dash", "line_group", "symbol", "facet_row", "facet_col", "facet_col_wrap",
    "facet_row_spacing", "facet_col_spacing", "hover_name", "hover_data", "custom_data", "text",
    "title", "subtitle", "labels", "template", "width", "height", "markers", "line_shape",
    "render_mode", "category_orders", "color_discrete_map", "color_discrete_sequence",
    "line_dash_map", "line_dash_sequence", "symbol_map", "symbol_sequence", "log_x", "log_y",
    "range_x", "range_y", "pattern_shape", "pattern_shape_map", "pattern_shape_sequence",
}
_GROUP_KW = ("color", "line_dash", "line_group", "symbol", "facet_row", "facet_col",
             "pattern_shape")


def rows_to_draw(df, x, y, kw: dict, reduce_rows: int, parts: int):
    """The rows of a huge px.line/px.area call worth drawing, or None to leave the call alone.

    px copies and validates every row (~0.3 s per 10M) before the figure's own reduction
    throws all but a few thousand points away. For the plain, common call (column names,
    numeric y without gaps, only styling/grouping options) the same M4 rule is applied to
    whole rows first, per line and in row order, so px draws every slice's extremes only.
    Anything unusual (arrays instead of names, missing values, options that aggregate or
    animate) returns None and px sees all rows as before.
    """
    import numpy as np
    import pandas as pd

    if not isinstance(df, pd.DataFrame) or len(df) <= max(reduce_rows, 4 * parts) or \
            not set(kw) <= _ROW_SAFE_KW or not df.columns.is_unique:
        return None
    ys = [y] if isinstance(y, str) else list(y) if isinstance(y, (list, tuple)) else None
    if not ys or not all(isinstance(c, str) and c in df.columns for c in ys):
        return None
    if x is not None and not (isinstance(x, str) and x in df.columns and df[x].notna().all()):
        return None
    keys = [kw[k] for k in _GROUP_KW if kw.get(k) is not None]
    if not all(isinstance(k, str) and k in df.columns for k in keys):
        return None
    values = []
    for c in ys:
        if df[c].dtype.kind not in "iuf":
            return None
        v = df[c].to_numpy(dtype=np.float64)
        if np.isnan(v).any():  # NaN draws a gap: keep the exact picture, no pre-reduction
            return None
        values.append(v)
    groups = list(df.groupby(keys, sort=False, observed=True, dropna=False).indices.values()) \
        if keys else [np.arange(len(df))]
    rows = [idx[slice_extremes(v[idx], parts)] for idx in groups for v in values]
    return np.unique(np.concatenate(rows))


def reduce_rows_before_px(px, reduce_rows: int, parts: int) -> None:
    """Make px.line / px.area in this throwaway child draw only the rows that survive the
    figure's reduction anyway (see rows_to_draw). The child exits after one chart."""
    for name in ("line", "area"):
        original = getattr(px, name)

        def wrapped(data_frame=None, x=None, y=None, *args, _original=original, **kw):
            if not args:
                try:
                    rows = rows_to_draw(data_frame, x, y, kw, reduce_rows, parts)
                except Exception:  # noqa: BLE001 - never make a chart fail over an optimisation
                    rows = None
                if rows is not None:
                    data_frame = data_frame.iloc[rows]
            return _original(data_frame, x, y, *args, **kw)

        wrapped.__doc__ = original.__doc__
        wrapped.__name__ = name
        setattr(px, name, wrapped)
