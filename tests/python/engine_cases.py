"""Shared by the engine tests: a sales data set written as a folder of Parquet parts, the five
typical %viz requests, and what a drawn figure shows (trace by trace, x and y values)."""
import os

import numpy as np
import pandas as pd
import pytest

#: Five typical requests: a filter, a time bin, a count, a weekday bin, a colour split.
REQUESTS = [
    "total revenue by region where product is P1",
    "average revenue by month",
    "number of rows by product",
    "total qty by weekday",
    "average revenue by region colored by product",
]


def sales_frame(n: int = 30_000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "ts": pd.date_range("2023-01-01", periods=n, freq="17min"),
        "region": rng.choice(["North", "South", "East", "West"], n),
        "product": rng.choice([f"P{i}" for i in range(12)], n),
        "revenue": rng.gamma(2.0, 50.0, n).round(2),
        "qty": rng.integers(1, 20, n),
    })
    df.loc[::97, "revenue"] = np.nan
    return df


def write_parts(df: pd.DataFrame, folder: str, parts: int = 3) -> str:
    os.makedirs(folder, exist_ok=True)
    size = -(-len(df) // parts)
    for i in range(parts):
        df.iloc[i * size:(i + 1) * size].to_parquet(os.path.join(folder, f"part-{i}.parquet"),
                                                     index=False)
    return folder


def _as_text(values) -> list[str]:
    s = pd.Series(np.asarray(values))
    if pd.api.types.is_datetime64_any_dtype(s):
        return [str(v) for v in pd.to_datetime(s).astype("datetime64[ns]")]
    return [str(v) for v in s]


def drawn(fig) -> list[tuple]:
    """Every trace as (name, [(x as text, y)]) sorted: the numbers a reader sees."""
    out = []
    for trace in fig.data:
        xs = _as_text(trace.x) if trace.x is not None else []
        ys = np.asarray(trace.y, dtype=float) if trace.y is not None else np.array([])
        out.append((str(trace.name or ""), sorted(zip(xs, ys.tolist()))))
    return sorted(out)


def assert_same_drawing(a, b, what: str) -> None:
    da, db = drawn(a), drawn(b)
    assert [(n, [x for x, _ in pts]) for n, pts in da] == \
        [(n, [x for x, _ in pts]) for n, pts in db], f"{what}: different marks"
    for (name, pa), (_, pb) in zip(da, db):
        ya, yb = np.array([y for _, y in pa]), np.array([y for _, y in pb])
        assert np.allclose(ya, yb, rtol=1e-9, atol=1e-9, equal_nan=True), \
            f"{what} trace {name!r}: {ya[:5]} != {yb[:5]}"
        assert len(ya) > 0, f"{what}: nothing drawn"


def pandas_figure(df: pd.DataFrame, code: str):
    """The planner's pandas code run on the whole frame in memory (the reference)."""
    import plotly.express as px
    import plotly.graph_objects as go

    scope = {"df": df, "px": px, "go": go, "pd": pd, "np": np}
    exec(compile(code, "<planner>", "exec"), scope)  # noqa: S102 - the planner's own code
    return scope["fig"]


# Fixtures shared by the engine test modules (import them by name into a module to use them).
@pytest.fixture(scope="module")
def sales_df():
    return sales_frame()


@pytest.fixture(scope="module")
def folder(sales_df, tmp_path_factory):
    return write_parts(sales_df, str(tmp_path_factory.mktemp("sales") / "sales"))


@pytest.fixture
def sales(folder, bridge, clean_data_session):
    from anyviz import session
    from anyviz.data import magics

    magics.load(f"--engine duckdb {folder} as sales")
    return session.user_ns["sales"]
