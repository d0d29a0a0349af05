"""Engine tables in Spark local mode (local[2], one Spark session for the module: the JVM start
is slow): the five typical requests draw the same numbers in Spark, in DuckDB and in pandas on
the whole frame in memory; %profile runs in Spark; a dead cluster URL fails fast and clearly."""
import time

import pytest

from engine_cases import REQUESTS, assert_same_drawing, pandas_figure, sales_frame, write_parts


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    df = sales_frame()
    return df, write_parts(df, str(tmp_path_factory.mktemp("spark") / "sales"))


@pytest.fixture(scope="module")
def frames(data):
    """The same Parquet folder as a Spark table and as a DuckDB table."""
    from anyviz import session
    from anyviz.data import magics

    _, folder = data
    magics.load(f"--engine spark {folder} as spark_sales")
    magics.load(f"--engine duckdb {folder} as duck_sales")
    yield session.user_ns["spark_sales"], session.user_ns["duck_sales"]
    for name in ("spark_sales", "duck_sales"):
        session.user_ns.pop(name, None)
    session.set_current_frame(None)


def _figure(frame, spec):
    from anyviz.engines import compile as compiler
    from anyviz.engines import run, viz

    return viz.draw(compiler.compile_chart(frame, spec, run.execute))


@pytest.mark.parametrize("request_text", REQUESTS)
def test_spark_duckdb_and_pandas_draw_the_same_numbers(frames, data, request_text):
    from anyviz.viz import planner

    spark, duck = frames
    df, _ = data
    plan = planner.plan_chart(df, request_text, frame_name="df")
    in_spark = _figure(spark, plan.to_dict())
    assert_same_drawing(in_spark, pandas_figure(df, plan.code), f"spark vs pandas: {request_text}")
    assert_same_drawing(in_spark, _figure(duck, plan.to_dict()), f"spark vs duckdb: {request_text}")


def test_spark_table_preview_and_profile(frames, data, bridge):
    from anyviz.data import magics

    spark, _ = frames
    df, _ = data
    assert spark.engine == "spark" and spark.count() == len(df)
    magics.profile("spark_sales")
    facts = bridge.of_type("display_data")[-1]["data"]["application/vnd.anyviz.profile+json"]
    assert facts["engine"] == "spark" and facts["rows"] == len(df)
    qty = {v["name"]: v for v in facts["variables"]}["qty"]
    assert (qty["min"], qty["max"]) == (df["qty"].min(), df["qty"].max())
    assert qty["missing"] == 0


def test_dead_cluster_url_fails_fast_and_keeps_the_session(frames):
    from anyviz import session
    from anyviz.data import magics
    from anyviz.errors import DataError

    spark, _ = frames
    t0 = time.monotonic()
    with pytest.raises(DataError) as err:
        magics.load("spark://127.0.0.1:9/sales")  # port 9 (discard): nothing listens
    assert time.monotonic() - t0 < 10
    message = str(err.value)
    assert "does not answer" in message and "127.0.0.1:9" in message
    assert session.user_ns["spark_sales"] is spark


def test_missing_spark_table_names_the_problem(frames, bridge):
    from anyviz.engines import loading
    from anyviz.errors import DataError

    spark, _ = frames
    with pytest.raises(DataError) as err:
        loading._table(spark.backend, "no_such_table", "spark", "spark://local/no_such_table")
    assert "no table 'no_such_table'" in str(err.value)


def test_long_line_is_reduced_in_spark_like_in_duckdb(frames, data, monkeypatch):
    import numpy as np

    from anyviz.engines import compile as compiler

    spark, duck = frames
    df, _ = data
    monkeypatch.setattr(compiler, "RAW_ROWS", 1_000)
    spec = {"chart": "line", "x": "ts", "y": "revenue", "reduce_points": 200}
    in_spark, in_duck = _figure(spark, spec), _figure(duck, spec)
    y = np.asarray(in_spark.data[0].y, dtype=float)
    assert len(y) <= 800 and y.max() == df["revenue"].max() and y.min() == df["revenue"].min()
    assert sorted(y) == sorted(np.asarray(in_duck.data[0].y, dtype=float))


def test_an_llm_spec_draws_the_same_numbers_in_spark_and_duckdb(frames, bridge, monkeypatch):
    """The LLM's chart specification goes through the one compiler: the same answer charts
    the Spark table and the DuckDB table alike, and the Spark prompt has the same schema."""
    import json

    from anyviz.engines import viz
    from anyviz.viz import api

    drawn = []
    real_draw = viz.draw
    monkeypatch.setattr(viz, "draw", lambda compiled: drawn.append(real_draw(compiled))
                        or drawn[-1])
    answer = json.dumps({"chart": "line", "x": "ts", "y": "revenue", "agg": "sum",
                         "bin": {"column": "ts", "unit": "month"}, "color": "region",
                         "filters": [{"column": "qty", "op": ">=", "value": 5}]})
    prompts = []
    for name in ("spark_sales", "duck_sales"):
        def complete(messages):
            prompts.append(messages[-1]["content"])
            return answer

        shown = viz.chart_from_llm(name, "monthly revenue by region", {}, complete,
                                   render=api.render)
        assert shown["status"] == "ok", shown
    assert len(drawn) == 2 and len(drawn[0].data) == 4  # a line per region
    assert_same_drawing(drawn[0], drawn[1], "LLM spec: spark vs duckdb")
    assert prompts[0].split("\n")[1:] == prompts[1].split("\n")[1:]  # same columns and types


class _SlowToSubmit:
    """An Ibis expression that is still being prepared (as Ibis compiles, before Spark has a
    job) when the interrupt lands, then submits its long job."""

    def __init__(self, expr, delay_s):
        self.expr, self.delay_s = expr, delay_s

    def execute(self):
        time.sleep(self.delay_s)
        return self.expr.execute()


def test_an_interrupt_before_the_job_starts_still_cancels_it(frames):
    import _thread
    import threading

    from anyviz.engines import run
    from anyviz.engines.frame import LazyFrame

    spark, _ = frames
    huge = LazyFrame(spark.backend.sql("SELECT id % 7 AS g, id AS x FROM range(1000000000000)"),
                     engine="spark", source="range", backend=spark.backend)
    threading.Timer(0.3, _thread.interrupt_main).start()
    with pytest.raises(KeyboardInterrupt):
        run.execute(huge, _SlowToSubmit(huge.table.x.max(), delay_s=1.0), progress=False)
    # The job Spark got after the interrupt was cancelled too (uncancelled, it runs for days).
    assert not [t for t in threading.enumerate() if t.name == "anyviz-engine" and (t.join(60) or t.is_alive())]
    assert int(run.execute(spark, spark.table.count(), progress=False)) == 30_000
