"""Write the small, deterministic data files the example notebooks load.

    .venv/bin/python notebooks/data/make_data.py        # writes next to this script

Files (each well under 200 KB, so they can live in git and the notebooks run offline):
  customers.csv  120 customers: id, name, country, segment, signup_date
  products.csv    24 products: product_id (P01..), title, category, unit_price
  orders.csv    1500 orders: order_id, customer_id -> customers.id,
                product_id -> products.product_id, quantity, order_date, discount
  gapminder.csv  plotly.data.gapminder() as shipped with plotly (1704 rows)

Everything comes from a seeded generator, so re-running gives byte-identical files: the
notebooks' outputs (and tests/integration/test_notebooks_repro.py) depend on that.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd

SEED = 20240601
HERE = os.path.dirname(os.path.abspath(__file__))

FIRST = np.array(["Ann", "Bob", "Cyd", "Dan", "Eve", "Fay", "Gus", "Hal", "Ida", "Jon",
                  "Kim", "Lea", "Max", "Nia", "Oli", "Pam"])
LAST = np.array(["Lee", "Stone", "Park", "Moss", "Kim", "Berg", "Costa", "Novak", "Silva",
                 "Weber", "Rossi", "Dubois"])
COUNTRIES = np.array(["DE", "FR", "US", "GB", "IT", "ES", "NL", "PL"])
COUNTRY_WEIGHTS = np.array([0.22, 0.15, 0.25, 0.12, 0.08, 0.08, 0.05, 0.05])
SEGMENTS = np.array(["consumer", "small business", "enterprise"])
CATEGORIES = np.array(["tools", "toys", "garden", "kitchen"])


def customers(rng: np.random.Generator, n: int = 120) -> pd.DataFrame:
    ids = np.arange(1, n + 1)
    names = (pd.Series(FIRST[rng.integers(0, len(FIRST), n)])
             + " " + pd.Series(LAST[rng.integers(0, len(LAST), n)]))
    signup = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    return pd.DataFrame({
        "id": ids,
        "name": names,
        "country": COUNTRIES[rng.choice(len(COUNTRIES), n, p=COUNTRY_WEIGHTS)],
        "segment": SEGMENTS[rng.choice(3, n, p=[0.6, 0.3, 0.1])],
        "signup_date": signup.strftime("%Y-%m-%d"),
    })


def products(rng: np.random.Generator, n: int = 24) -> pd.DataFrame:
    return pd.DataFrame({
        "product_id": [f"P{i:02d}" for i in range(1, n + 1)],
        "title": [f"{c.title()} item {i}" for i, c in
                  enumerate(np.resize(CATEGORIES, n), start=1)],
        "category": np.resize(CATEGORIES, n),
        "unit_price": np.round(rng.lognormal(3.0, 0.8, n), 2),
    })


def orders(rng: np.random.Generator, cust: pd.DataFrame, prod: pd.DataFrame,
           n: int = 1500) -> pd.DataFrame:
    # A few customers buy a lot (Zipf-like weights), and sales grow over 2024 with a
    # December peak, so the notebooks' trend and top-N charts have something to show.
    weights = 1.0 / np.arange(1, len(cust) + 1) ** 0.8
    weights = rng.permutation(weights / weights.sum())
    day = np.arange(366)
    day_weights = (1.0 + day / 366) * np.where(day >= 334, 1.8, 1.0)
    days = rng.choice(day, n, p=day_weights / day_weights.sum())
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(days), unit="D")
    return pd.DataFrame({
        "order_id": np.arange(10001, 10001 + n),
        "customer_id": cust["id"].to_numpy()[rng.choice(len(cust), n, p=weights)],
        "product_id": prod["product_id"].to_numpy()[rng.integers(0, len(prod), n)],
        "quantity": rng.integers(1, 8, n),
        "order_date": dates.strftime("%Y-%m-%d"),
        "discount": rng.choice([0.0, 0.0, 0.0, 0.05, 0.1, 0.2], n),
    })


def write_all(folder: str = HERE) -> dict[str, str]:
    """Write every file into `folder`; returns {name: path}."""
    rng = np.random.default_rng(SEED)
    cust = customers(rng)
    prod = products(rng)
    frames = {"customers": cust, "products": prod, "orders": orders(rng, cust, prod)}
    import plotly.data
    frames["gapminder"] = plotly.data.gapminder()
    paths = {}
    for name, frame in frames.items():
        path = os.path.join(folder, f"{name}.csv")
        frame.to_csv(path, index=False, lineterminator="\n")
        size = os.path.getsize(path)
        assert size < 200_000, f"{path} is {size} bytes; keep data files under 200 KB"
        paths[name] = path
    return paths


if __name__ == "__main__":
    for name, path in write_all(sys.argv[1] if len(sys.argv) > 1 else HERE).items():
        print(f"{name:10s} {os.path.getsize(path):>7,d} B  {path}")
