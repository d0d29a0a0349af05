"""`%viz` with no request: a few informative charts for a frame, chosen from its profile.

Picks (in order): a trend of the main measure over the date column, a breakdown of a measure
by a low-cardinality category, the relationship between the most correlated pair of numeric
columns, and distributions of the most informative numeric columns (most distinct values,
fewest missing, not ids). Each is a normal ChartPlan, so it renders through the same path.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .plan_schema import check_frame, profile


def _informative_numbers(df: pd.DataFrame, frame) -> list[str]:
    qs = [c for c in frame.of_kind("quantitative") if not c.idlike and c.distinct > 1]
    if not qs:
        return []
    missing = df[[c.name for c in qs]].isna().mean()
    # many distinct values and few missing values: a histogram has something to show
    return [c.name for c in sorted(qs, key=lambda c: (-(1 - missing[c.name]) * min(c.distinct, 1000)))]


def _correlated_pair(df: pd.DataFrame, numbers: list[str]):
    if len(numbers) < 2:
        return None
    cols = numbers[:12]
    sample = df[cols] if len(df) <= 100_000 else df[cols].iloc[:: len(df) // 100_000]
    corr = sample.corr().abs().to_numpy(copy=True)
    np.fill_diagonal(corr, np.nan)
    corr[corr > 0.999] = np.nan  # the same quantity in two units tells nothing
    if np.all(np.isnan(corr)):
        return None
    i, j = np.unravel_index(np.nanargmax(corr), corr.shape)
    return cols[i], cols[j], float(corr[i, j])


def recommend(df, frame_name: str = "df", limit: int = 5, *, plan_chart) -> list:
    """3-5 ChartPlans that together give an overview of `df`; `plan_chart` plans each request
    (passed in by the planner, so this module does not import it back)."""
    check_frame(df, frame_name)
    frame = profile(df)
    numbers = _informative_numbers(df, frame)
    cats = [c for c in frame.columns.values() if c.kind in ("nominal", "boolean")
            and 2 <= c.distinct <= 20 and not c.idlike]
    cats.sort(key=lambda c: abs(c.distinct - 5))
    temporal = frame.first_temporal()
    requests: list[tuple[str, str]] = []

    def q(c):
        return f"'{c}'"

    if temporal is not None and numbers:
        requests.append((f"{q(numbers[0])} over time", f"trend of {numbers[0]} over {temporal.name}"))
    if cats and numbers:
        requests.append((f"{q(numbers[0])} by {q(cats[0].name)}",
                         f"{numbers[0]} compared across {cats[0].name}"))
    elif cats:
        requests.append((f"count by {q(cats[0].name)}", f"how rows split by {cats[0].name}"))
    pair = _correlated_pair(df, [n for n in numbers if not frame.columns[n].discrete])
    if pair:
        a, b, r = pair
        color = f" colored by {q(cats[0].name)}" if cats and cats[0].distinct <= 10 else ""
        requests.append((f"{q(b)} vs {q(a)}{color}", f"{a} and {b} are correlated (|r| = {r:.2f})"))
    for col in numbers[:3]:
        requests.append((f"histogram of {q(col)}", f"distribution of {col}"))
    if len(cats) > 1 and len(requests) < 5:
        requests.append((f"count by {q(cats[1].name)}", f"how rows split by {cats[1].name}"))
    plans = []
    seen = set()
    for req, why in requests:
        if len(plans) >= limit:
            break
        try:
            plan = plan_chart(df, req, frame_name=frame_name)
        except Exception:  # a suggestion that cannot be planned is simply skipped
            continue
        key = plan.code
        if key in seen:
            continue
        seen.add(key)
        plan.explanation = f"Suggested: {why}. " + plan.explanation
        df_opt = f"--df {frame_name} " if frame_name.isidentifier() else ""
        plan.alternatives = [f"%viz {df_opt}{r}" for r, _ in requests if r != req][:3]
        plans.append(plan)
    if not plans:
        from anyviz.errors import AnyVizError
        raise AnyVizError(f"No chart could be suggested for {frame_name}: it has no numeric, "
                          "date or low-cardinality category column. Try %viz with a request.")
    return plans
