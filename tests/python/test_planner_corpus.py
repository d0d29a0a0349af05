"""Planner corpus: requests an analyst types, each with the chart specification it must produce.

Data: the tour's CSVs (notebooks/data, loaded with AnyViz's own loader), plotly's bundled data
sets, and a few small frames shaped like the issue's examples (a wide frame, non-ISO dates,
airports, visits). Every case checks the parsed specification field by field (chart type, x, y,
aggregate, colour, time bin, sort, top-N, filters), and then runs the generated code, so a right
specification that draws nothing still fails. Together the cases cover every miss listed for the
offline planner: row counts under another noun, entities as series, dependent/independent
variables, wide frames, time bins in calendar order, stacked/grouped bars, order/filters/top-N,
explicit chart words, non-ISO dates, empty periods, maps, derived measures and requests that are
not understood.
"""
import os

import numpy as np
import pandas as pd
import plotly.data as pdata
import plotly.express as px
import plotly.graph_objects as go
import pytest

from anyviz.errors import AnyVizError
from anyviz.viz import planner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOUR = os.path.join(ROOT, "notebooks", "data")
_FRAMES: dict = {}


def _tour(name):
    from anyviz.data import loader
    return loader.read_file(os.path.join(TOUR, f"{name}.csv"), progress=False).df


def _wide():
    days = pd.date_range("2024-01-01", periods=60, freq="D")
    rng = np.random.default_rng(1)
    return pd.DataFrame({"day": days, "north": rng.normal(10, 2, 60), "south": rng.normal(12, 2, 60),
                         "east": rng.normal(8, 1, 60)})


def _weather():
    """Dates written 2012/01/01 (not ISO), as in the issue."""
    days = pd.date_range("2012-01-01", periods=400, freq="D")
    rng = np.random.default_rng(2)
    kinds = np.where(np.arange(400) % 90 < 30, "rain", "sun")
    return pd.DataFrame({"date": days.strftime("%Y/%m/%d"), "temp_max": rng.normal(15, 5, 400),
                         "weather": kinds})


def _visits():
    rng = np.random.default_rng(3)
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 200, 500), "D")
    return pd.DataFrame({"visit_date": when, "page": rng.choice(["home", "shop", "blog"], 500),
                         "duration": rng.gamma(2, 30, 500)})


def _airports():
    return pd.DataFrame({"name": ["A", "B", "C"], "latitude": [47.4, 51.5, 40.6],
                         "longitude": [8.5, -0.45, -73.8], "passengers": [31, 80, 62]})


def _houses():
    rng = np.random.default_rng(4)
    area = rng.uniform(40, 200, 80)
    return pd.DataFrame({"floor_area": area, "price": area * 3000 + rng.normal(0, 1e4, 80),
                         "rooms": rng.integers(1, 6, 80), "city": rng.choice(["Bern", "Basel"], 80)})


def _sales():
    rng = np.random.default_rng(5)
    return pd.DataFrame({"region": rng.choice(["north", "south", "west"], 90),
                         "product": rng.choice(["alpha", "beta"], 90),
                         "revenue": rng.uniform(100, 500, 90), "profit": rng.uniform(5, 80, 90),
                         "month": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, 90), "D")})


LOADERS = {
    "tips": pdata.tips, "gap": pdata.gapminder, "iris": pdata.iris, "stocks": pdata.stocks,
    "wind": pdata.wind, "election": pdata.election, "carshare": pdata.carshare,
    "medals": pdata.medals_long, "experiment": pdata.experiment,
    "orders": lambda: _tour("orders"), "customers": lambda: _tour("customers"),
    "products": lambda: _tour("products"), "tgap": lambda: _tour("gapminder"),
    "wide": _wide, "weather": _weather, "visits": _visits, "airports": _airports,
    "houses": _houses, "sales": _sales,
}


def frame(name):
    if name not in _FRAMES:
        _FRAMES[name] = LOADERS[name]()
    return _FRAMES[name]


def spec_of(plan) -> dict:
    s = plan.spec
    return {"chart": s.chart, "x": s.x, "y": s.y, "agg": s.agg, "color": s.color,
            "bin": s.bin[1] if s.bin else None, "sort": s.sort, "top": s.top,
            "filters": [f.describe() for f in s.filters], "derived": s.derived[0] if s.derived else None}


# (frame, request, expected fields). Fields not listed are not checked.
C = []


def case(df, request, **expected):
    C.append((df, request, expected))


# --- counting rows under another noun
case("tips", "how many tables per day", chart="bar", x="day", y=None, agg="count")
case("tips", "number of parties by time", chart="bar", x="time", agg="count")
case("tips", "count of rows by sex", chart="bar", x="sex", agg="count")
case("tips", "pie chart of visits by day", chart="pie", x="day", agg="count")
case("orders", "number of orders per product", chart="bar", x="product_id", agg="count")
case("orders", "how many orders are there for each product", chart="bar", x="product_id", agg="count")
case("customers", "number of customers per country", chart="bar", x="country", agg="count")
case("customers", "how many customers in each segment", chart="bar", x="segment", agg="count")
case("customers", "pie chart of customers by segment", chart="pie", x="segment", agg="count")
case("customers", "records by country", chart="bar", x="country", agg="count")
case("products", "number of products per category", chart="bar", x="category", agg="count")
case("products", "how many items in each category", chart="bar", x="category", agg="count")
case("visits", "pie chart of visits by weekday", chart="pie", x="weekday", bin="weekday", agg="count")
case("visits", "visits per page", chart="bar", x="page", agg="count")
case("visits", "number of visits per month", chart="line", x="month", bin="month", agg="count")
case("medals", "count of entries by medal", chart="bar", x="medal", agg="count")
case("iris", "count by species", chart="bar", x="species", agg="count")
case("election", "number of districts per winner", chart="bar", x="winner", agg="count")
case("gap", "how many countries per continent", chart="bar", x="continent", agg="nunique", y="country")
case("wind", "number of entries per direction", chart="bar", x="direction", agg="count")
# --- measures by category, aggregate words
case("tips", "average tip by day", chart="bar", x="day", y="tip", agg="mean")
case("tips", "total bill by day", chart="bar", x="day", y="total_bill", agg="sum")
case("tips", "total of total bill by time", chart="bar", x="time", y="total_bill", agg="sum")
case("tips", "median tip by size", chart="bar", x="size", y="tip", agg="median")
case("tips", "maximum tip per day", chart="bar", x="day", y="tip", agg="max")
case("tips", "minimum total bill by sex", chart="bar", x="sex", y="total_bill", agg="min")
case("tips", "mean tip by smoker", chart="bar", x="smoker", y="tip", agg="mean")
case("gap", "average life expectancy by continent", chart="bar", x="continent", y="lifeExp", agg="mean")
case("gap", "pop by continent", chart="bar", x="continent", y="pop", agg="sum")
case("gap", "lifeExp by continent", chart="bar", x="continent", y="lifeExp", agg="mean")
case("gap", "average gdp per capita by continent", chart="bar", x="continent", y="gdpPercap", agg="mean")
case("iris", "average petal length by species", chart="bar", x="species", y="petal_length", agg="mean")
case("iris", "max sepal width per species", chart="bar", x="species", y="sepal_width", agg="max")
case("orders", "total quantity by product", chart="bar", x="product_id", y="quantity", agg="sum")
case("orders", "average discount by product", chart="bar", x="product_id", y="discount", agg="mean")
case("products", "average unit price by category", chart="bar", x="category", y="unit_price", agg="mean")
case("products", "most expensive unit price per category", chart="bar", x="category", y="unit_price")
case("medals", "total count by nation", chart="bar", x="nation", y="count", agg="sum")
case("election", "total votes by winner", chart="bar", x="winner", y="total", agg="sum")
case("election", "average Joly by result", chart="bar", x="result", y="Joly", agg="mean")
case("wind", "total frequency by direction", chart="bar", x="direction", y="frequency", agg="sum")
case("sales", "total revenue by region", chart="bar", x="region", y="revenue", agg="sum")
case("sales", "average profit per product", chart="bar", x="product", y="profit", agg="mean")
case("experiment", "average experiment_1 by group", chart="bar", x="group", y="experiment_1", agg="mean")
case("carshare", "average car hours by peak hour", chart="bar", x="peak_hour", y="car_hours", agg="mean")
# --- ranking: a category by a number
case("gap", "countries by population in 2007", chart="bar", x="country", y="pop", filters=["year = 2007"])
case("gap", "top 10 countries by population in 2007", chart="bar", x="country", y="pop", top=(10, "desc"),
     filters=["year = 2007"])
case("gap", "bottom 5 countries by life expectancy in 2007", x="country", y="lifeExp", top=(5, "asc"))
case("tips", "top 3 days by total bill", chart="bar", x="day", y="total_bill", top=(3, "desc"))
case("election", "top 5 districts by total", chart="bar", x="district", y="total", top=(5, "desc"))
case("products", "top 5 products by unit price", chart="bar", x="title", y="unit_price", top=(5, "desc"))
# --- order
case("tips", "average tip by day in descending order", x="day", y="tip", sort="desc")
case("tips", "average tip by day in ascending order", x="day", y="tip", sort="asc")
case("tips", "average tip by day, sort by the x axis", x="day", sort="x")
case("tips", "count by day sorted from high to low", x="day", agg="count", sort="desc")
case("customers", "count by country, order the x axis descending", x="country", sort="x_desc")
case("products", "average unit price by category from low to high", x="category", sort="asc")
case("tips", "total bill by day, sort by the y axis ascending", x="day", y="total_bill", sort="asc")
case("gap", "average pop by continent sorted alphabetically", x="continent", sort="x")
# --- filters
case("tips", "average tip by day where total bill above 20", x="day", y="tip",
     filters=["total_bill > 20"])
case("tips", "average tip by day where tip > 5", x="day", y="tip", filters=["tip > 5"])
case("tips", "number of tables per day where tip > 5", x="day", agg="count", filters=["tip > 5"])
case("tips", "average tip by day for smokers only", x="day", y="tip")
case("tips", "total bill by day for Dinner", x="day", y="total_bill", filters=["time = Dinner"])
case("tips", "total bill by day excluding Dinner", x="day", filters=["time ≠ Dinner"])
case("gap", "average life expectancy by continent only for the year 2007", x="continent",
     filters=["year = 2007"])
case("gap", "population of Oceania over time", chart="line", x="year", y="pop",
     filters=["continent = Oceania"])
case("gap", "life expectancy in Europe by year", x="year", y="lifeExp", filters=["continent = Europe"])
case("gap", "average gdp per capita by continent between 1990 and 2000", x="continent",
     filters=["year in 1990..2000"])
case("gap", "average life expectancy by continent since 1990", x="continent", filters=["year >= 1990"])
case("orders", "total quantity by product where discount at least 0.1", x="product_id",
     filters=["discount >= 0.1"])
case("products", "unit price by title where unit price below 10", x="title",
     filters=["unit_price < 10"])
case("customers", "count by segment where country is 'FR'", x="segment", filters=["country = FR"])
case("sales", "total revenue by product in the north", x="product", y="revenue",
     filters=["region = north"])
case("tips", "average tip by day where size more than 2", x="day", filters=["size > 2"])
case("iris", "average sepal length by species where petal width under 1", x="species",
     filters=["petal_width < 1"])
case("customers", "customers by segment whose name contains the letter a", x="segment",
     filters=["name contains 'a'"])
case("wind", "total frequency by direction where strength is '0-1'", x="direction",
     filters=["strength = 0-1"])
case("tips", "average tip by day where total bill between 10 and 20", x="day",
     filters=["total_bill in 10..20"])
case("tips", "compare tips between lunch and dinner", chart="bar", x="time", y="tip", agg="mean")
# --- entities as series, time
case("gap", "population of the countries in Oceania over the years", chart="line", x="year", y="pop",
     color="country", filters=["continent = Oceania"])
case("gap", "life expectancy over time by continent", chart="line", x="year", y="lifeExp", color="continent")
case("gap", "population over time by continent", chart="line", x="year", y="pop", color="continent",
     agg="sum")
case("gap", "gdp per capita of China and India over time", chart="line", x="year", color="country",
     filters=["country in China, India"])
case("sales", "revenue of each product by month", chart="line", x="month", y="revenue", color="product")
case("tgap", "population of the countries in Asia over the years", chart="line", x="year", color="country")
case("tgap", "average life expectancy per year", chart="line", x="year", y="lifeExp", agg="mean")
case("orders", "number of orders per month", chart="line", bin="month", agg="count")
case("orders", "total quantity per week", chart="line", bin="week", y="quantity", agg="sum")
case("orders", "orders by weekday", chart="bar", bin="weekday", agg="count")
case("orders", "total quantity by month of year", bin="monthname", y="quantity")
case("customers", "signups per year", chart="line", bin="year", agg="count")
case("customers", "number of customers by signup date binned by month", bin="monthname")
case("visits", "average duration per weekday", chart="bar", bin="weekday", y="duration", agg="mean")
case("visits", "bin the visit date by weekday and count them", bin="weekday", agg="count")
case("visits", "bin visit date by month", bin="monthname", agg="count")
case("visits", "daily number of visits", chart="line", bin="day", agg="count")
case("visits", "visits per month by page", chart="line", bin="month", color="page", agg="count")
case("stocks", "GOOG over time", chart="line", x="date", y="GOOG")
case("stocks", "GOOG and AAPL over time", chart="line", x="date", y=["GOOG", "AAPL"])
case("stocks", "trend of MSFT", chart="line", x="date", y="MSFT")
# --- wide frames
case("wide", "plot north over time", chart="line", x="day", y="north")
case("wide", "north and south over time", chart="line", x="day", y=["north", "south"])
case("wide", "east by day", x="day", y="east")
case("wide", "weekly average of south", bin="week", y="south", agg="mean")
# --- non-ISO dates are time
case("weather", "temperature over time", chart="line", x="date", y="temp_max")
case("weather", "temp_max by date", chart="line", x="date", y="temp_max")
case("weather", "average temp_max per month", chart="line", bin="month", y="temp_max", agg="mean")
case("weather", "count of weather types per month", chart="line", bin="month", agg="count", color="weather")
case("weather", "number of rain days per month", chart="line", bin="month", agg="count",
     filters=["weather = rain"])
# --- relationships: dependent and independent variables
case("houses", "how does the price relate to the floor area", chart="scatter", x="floor_area", y="price")
case("houses", "price vs floor area", chart="scatter", x="floor_area", y="price")
case("houses", "price against floor area by city", chart="scatter", x="floor_area", y="price", color="city")
case("houses", "relationship between floor area and price", chart="scatter", x="floor_area", y="price")
case("houses", "how does price depend on floor area", chart="scatter", x="floor_area", y="price")
case("tips", "tip vs total bill", chart="scatter", x="total_bill", y="tip")
case("tips", "tip against total bill colored by sex", chart="scatter", x="total_bill", y="tip", color="sex")
case("iris", "petal width vs petal length by species", chart="scatter", x="petal_length", y="petal_width",
     color="species")
case("gap", "life expectancy vs gdp per capita", chart="scatter", x="gdpPercap", y="lifeExp")
case("iris", "scatter of sepal length and sepal width", chart="scatter", x="sepal_length", y="sepal_width")
case("carshare", "correlation between car hours and peak hour", chart="scatter")
case("experiment", "experiment_2 vs experiment_1", chart="scatter", x="experiment_1", y="experiment_2")
# --- stacked and grouped bars
case("tips", "stacked bar of count by day and sex", chart="bar", x="day", color="sex", agg="count")
case("tips", "count by day stacked by time", chart="bar", x="day", color="time", agg="count")
case("tips", "total bill by day and time", chart="bar", x="day", color="time", y="total_bill")
case("tips", "grouped bar of average tip by day and sex", chart="bar", x="day", color="sex", agg="mean")
case("tips", "smokers by day", chart="bar", x="day", color="smoker", agg="count")
case("medals", "stacked bar of count by nation and medal", chart="bar", x="nation", color="medal")
case("customers", "stacked bar of customers by country and segment", x="country", color="segment",
     agg="count")
case("sales", "revenue by region split by product", x="region", color="product", y="revenue")
case("wind", "frequency by direction colored by strength", x="direction", color="strength", y="frequency")
# --- explicit chart words
case("tips", "pie chart of total bill by day", chart="pie", x="day", y="total_bill")
case("tips", "line chart of average tip by size", chart="line", x="size", y="tip", agg="mean")
case("tips", "bar chart of tip by sex", chart="bar", x="sex", y="tip")
case("gap", "pie chart of population by continent in 2007", chart="pie", x="continent", y="pop")
case("medals", "pie of count by medal", chart="pie", x="medal")
case("tips", "scatter of total bill and tip", chart="scatter", x="total_bill", y="tip")
case("products", "pie chart of products by category", chart="pie", x="category", agg="count")
case("customers", "line chart of signups per month", chart="line", bin="month")
case("election", "bar chart of Coderre by district", chart="bar", x="district", y="Coderre")
case("tips", "share of total bill by day", chart="pie", x="day", y="total_bill")
case("tips", "horizontal bar chart of average tip by day", chart="bar", x="day", y="tip")
case("gap", "area chart of population by continent over time", chart="area", x="year", color="continent")
case("tips", "histogram of total bill", chart="histogram", x="total_bill")
case("tips", "distribution of tip by day", chart="box", x="day", y="tip")
case("tips", "box plot of tip by day", chart="box", x="day", y="tip")
case("iris", "histogram of petal length colored by species", chart="histogram", x="petal_length",
     color="species")
case("tips", "violin of tip by sex", chart="violin", x="sex", y="tip")
case("tips", "heatmap of average tip by day and time", chart="heatmap")
case("iris", "correlation matrix", chart="corr")
# --- maps
case("airports", "map of airports", chart="scatter_geo", x="longitude", y="latitude")
case("airports", "map of passengers by airport", chart="scatter_geo", color="passengers")
case("carshare", "map of car hours", chart="scatter_geo", x="centroid_lon", y="centroid_lat")
case("gap", "map of population by country in 2007", chart="choropleth", x="iso_alpha", y="pop")
case("tgap", "world map of life expectancy in 2007", chart="choropleth", x="iso_alpha", y="lifeExp")
case("customers", "map of customers by country", chart="choropleth", x="country", agg="count")
# --- derived measures
case("tips", "tip percentage by party size", chart="bar", x="size", derived="tip percentage")
case("tips", "tip percentage by day", chart="bar", x="day", derived="tip percentage")
case("sales", "profit margin by region", chart="bar", x="region", derived="profit margin")
case("sales", "ratio of profit to revenue by product", x="product", derived="profit / revenue")
case("tips", "ratio of tip to total bill by sex", x="sex", derived="tip / total_bill")
case("gap", "growth of population per year", chart="line", x="year", derived="growth of pop (%)")
case("visits", "duration growth per month", chart="line", bin="month", derived="growth of duration (%)")
case("tips", "average tip by day excluding missing", x="day", y="tip", filters=["day is not missing",
                                                                               "tip is not missing"])
case("houses", "price by city excluding missing values of rooms", x="city", filters=["rooms is not missing"])
# --- nvBench-style phrasing
case("tips", "Show the day and the number of tables in each day with a bar chart", x="day", agg="count")
case("tips", "Show me about the distribution of day and the sum of tip in a bar chart", x="day",
     y="tip", agg="sum")
case("tips", "Give me the comparison about the average of tip over the day, and group by attribute day",
     x="day", y="tip", agg="mean")
case("tips", "Bar chart x axis day y axis the average of total bill", x="day", y="total_bill", agg="mean")
case("tips", "A pie chart for how many tables in each time", chart="pie", x="time", agg="count")
case("iris", "Draw a scatter chart about the correlation between petal length and petal width",
     chart="scatter", x="petal_length", y="petal_width")
case("iris", "What is the relationship between sepal length and petal length, group by attribute species",
     chart="scatter", color="species")
case("customers", "Return a bar chart on how many customers does each segment have, list in desc by the y axis",
     x="segment", agg="count", sort="desc")
case("products", "Show the category and the highest unit price for each category, order by the x-axis",
     x="category", y="unit_price", agg="max", sort="x")
case("orders", "Bin the order date into the weekday interval and count them, sort Y ascending",
     x="weekday", bin="weekday", agg="count", sort="asc")
case("orders", "For orders with quantity above 2, show the number of orders for each product in a bar chart",
     x="product_id", agg="count", filters=["quantity > 2"])


IDS = [f"{d}: {r}" for d, r, _ in C]


def _check(df_name, request, expected):
    df = frame(df_name)
    plan = planner.plan_chart(df, request, frame_name=df_name)
    got = spec_of(plan)
    diffs = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    return plan, diffs


@pytest.mark.parametrize("df_name,request_text,expected", C, ids=IDS)
def test_corpus_request(df_name, request_text, expected):
    plan, diffs = _check(df_name, request_text, expected)
    assert not diffs, f"{request_text!r}: (got, expected) {diffs}\n{plan.explanation}"
    df = frame(df_name)
    ns = {"df": df, "px": px, "pd": pd, "np": np, "go": go}
    exec(plan.code, ns)
    assert ns["fig"].data, "the chart draws no trace"


def test_corpus_size():
    assert len(C) >= 150


@pytest.mark.parametrize("request_text,labels", [
    ("average duration per weekday", ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                                      "Sunday"]),
    ("bin visit date by month", ["January", "February", "March", "April", "May", "June", "July"]),
])
def test_weekday_and_month_bins_are_drawn_in_calendar_order(request_text, labels):
    df = frame("visits")
    plan = planner.plan_chart(df, request_text, frame_name="visits")
    ns = {"df": df, "px": px, "pd": pd, "np": np, "go": go}
    exec(plan.code, ns)
    assert list(ns["fig"].data[0].x) == labels


def test_stacked_bar_stacks_the_second_column_within_the_first():
    df = frame("tips")
    plan = planner.plan_chart(df, "stacked bar of count by day and sex", frame_name="tips")
    ns = {"df": df, "px": px, "pd": pd, "np": np, "go": go}
    exec(plan.code, ns)
    fig = ns["fig"]
    assert fig.layout.barmode == "stack"
    assert sorted(t.name for t in fig.data) == ["Female", "Male"]
    assert {x for t in fig.data for x in t.x} == set(df["day"])


def test_map_over_iso2_country_codes_shades_the_countries():
    """The tour's customers carry ISO-2 codes (FR, IT …): the map draws them as ISO-3."""
    df = frame("customers")
    plan = planner.plan_chart(df, "map of customers by country", frame_name="customers")
    ns = {"df": df, "px": px, "pd": pd, "np": np, "go": go}
    exec(plan.code, ns)
    (trace,) = ns["fig"].data
    assert trace.type == "choropleth" and ns["fig"].data[0].locationmode == "ISO-3"
    counts = df["country"].value_counts()
    drawn = dict(zip(trace.locations, trace.z))
    assert drawn["FRA"] == counts["FR"] and drawn["ITA"] == counts["IT"]
    assert "import" not in plan.code  # the codes are written into the chart code
