"""Engine tables end to end in the real kernel (jupyter_client over the wire): %load of a
Parquet folder into DuckDB and Spark (local[2]), %viz and %profile computed in the engine,
interrupts that cancel a long DuckDB query and a long Spark job, and bad input that leaves the
session as it was."""
import json
import os
import sys
import time

import pytest

from kernel_harness import (ROOT, collect_iopub, execute, requires_anyviz, shell_reply,
                            start_kernel, stop_kernel, wait_for_busy)

pytestmark = requires_anyviz

sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from engine_cases import sales_frame, write_parts  # noqa: E402

PLOTLY = "application/vnd.plotly.v1+json"


@pytest.fixture(scope="module")
def kc():
    km, client = start_kernel()
    try:
        yield km, client
    finally:
        stop_kernel(km, client)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    import duckdb

    root = tmp_path_factory.mktemp("engines")
    df = sales_frame()
    folder = write_parts(df, str(root / "sales"))
    db = str(root / "big.duckdb")
    con = duckdb.connect(db)
    # A view whose aggregate takes minutes: something long-running to interrupt.
    con.execute("CREATE VIEW big AS SELECT i % 7 AS g, i AS x FROM range(1000000000000) t(i)")
    con.close()
    bad = root / "bad"
    bad.mkdir()
    (bad / "part-0.parquet").write_bytes(b"PAR1 but not really parquet" * 20)
    return {"df": df, "folder": folder, "db": db, "bad": str(bad)}


def run_ok(kc, code, timeout=180):
    r = execute(kc, code, timeout=timeout)
    assert r.status == "ok", f"{code!r}: {r.content.get('ename')}: {r.content.get('evalue')}"
    return r


def value(kc, expr):
    return json.loads(run_ok(kc, f"import json as _j\nprint(_j.dumps({expr}))").stream())


def figures(result):
    return [m["content"]["data"][PLOTLY] for m in result.outputs
            if m["msg_type"] == "display_data" and PLOTLY in m["content"].get("data", {})]


def texts(result):
    return "\n".join(m["content"].get("data", {}).get("text/plain", "")
                     for m in result.outputs if m["msg_type"] == "display_data")


def test_duckdb_table_loads_charts_and_profiles_in_the_engine(kc, data):
    _, client = kc
    r = run_ok(client, f"%load --engine duckdb {data['folder']} as sales")
    assert "sales: 30,000 rows × 5 columns in duckdb" in texts(r)
    assert value(client, "type(sales).__name__") == "LazyFrame"

    r = run_ok(client, "%viz total revenue by region")
    [fig] = figures(r)
    bar = fig["data"][0]
    assert bar["type"] == "bar"
    expected = data["df"].groupby("region")["revenue"].sum()
    drawn = dict(zip(bar["x"], _numbers(bar["y"])))
    assert set(drawn) == set(expected.index)
    for region, total in expected.items():
        assert drawn[region] == pytest.approx(total, rel=1e-9)
    assert "computed in duckdb over all 30,000 rows" in texts(r)

    r = run_ok(client, "%profile sales")
    assert "computed in duckdb" in texts(r) and "30,000 rows" in texts(r)

    r = run_ok(client, "%customize title Revenue by region")
    assert "Revenue by region" in json.dumps(figures(r)[-1]["layout"]["title"])


def _numbers(values):
    """Plotly's typed arrays ({"dtype", "bdata"}) or plain lists, as floats."""
    import base64

    import numpy as np

    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return [float(v) for v in values]


def _interrupt_cell(km, client, code):
    """Start `code`, interrupt it once it runs; seconds from interrupt to reply, and reply."""
    msg_id = client.execute(code)
    wait_for_busy(client, msg_id)
    time.sleep(3.0)  # planning done, the engine query running
    t0 = time.monotonic()
    km.interrupt_kernel()
    events = []
    collect_iopub(client, msg_id, timeout=30, on_message=lambda m: events.append(
        (m["msg_type"], round(time.monotonic() - t0, 3))))
    reply = shell_reply(client, msg_id, timeout=30)
    elapsed = time.monotonic() - t0
    print("events after the interrupt:", events)
    return elapsed, reply


def test_interrupt_cancels_a_long_duckdb_query(kc, data):
    km, client = kc
    run_ok(client, "keep = {'still': 'here'}")
    run_ok(client, f"%load duckdb://{data['db']}/big as big")
    elapsed, reply = _interrupt_cell(km, client, "%viz big total x by g")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert elapsed < 2.0, f"the kernel took {elapsed:.2f}s to stop"
    assert value(client, "keep") == {"still": "here"}
    r = run_ok(client, "%viz sales number of rows by product")  # the engine is usable again
    assert figures(r)


def test_spark_table_charts_and_interrupt_cancels_a_long_job(kc, data):
    km, client = kc
    r = run_ok(client, f"%load --engine spark {data['folder']} as spark_sales", timeout=300)
    assert "in spark" in texts(r)
    r = run_ok(client, "%viz spark_sales total revenue by region", timeout=300)
    bar = figures(r)[0]["data"][0]
    expected = data["df"].groupby("region")["revenue"].sum()
    for region, total in zip(bar["x"], _numbers(bar["y"])):
        assert total == pytest.approx(expected[region], rel=1e-9)

    run_ok(client, "from anyviz.engines.frame import LazyFrame\n"
                   "huge = LazyFrame(spark_sales.backend.sql('SELECT id % 7 AS g, id AS x "
                   "FROM range(1000000000000)'), engine='spark', source='range', "
                   "backend=spark_sales.backend)")
    elapsed, reply = _interrupt_cell(km, client, "%viz huge total x by g")
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert elapsed < 2.0, f"the kernel took {elapsed:.2f}s to stop"
    r = run_ok(client, "%viz spark_sales number of rows by region", timeout=300)
    assert figures(r)  # the job was cancelled: Spark runs the next one


@pytest.mark.parametrize("case", ["corrupt parquet", "missing table", "dead spark url"])
def test_bad_input_is_a_clear_message_and_nothing_is_lost(kc, data, case):
    _, client = kc
    run_ok(client, f"%load --engine duckdb {data['folder']} as sales")
    line, words = {
        "corrupt parquet": (f"%load --engine duckdb {data['bad']} as broken", "valid Parquet"),
        "missing table": (f"%load duckdb://{data['db']}/nope", "no table 'nope'"),
        "dead spark url": ("%load spark://127.0.0.1:9/sales", "does not answer"),
    }[case]
    t0 = time.monotonic()
    r = execute(client, line, timeout=60)
    assert time.monotonic() - t0 < 30
    assert r.status == "error"
    assert words in r.content["evalue"], r.content["evalue"]
    assert value(client, "sales.count()") == 30_000
    assert value(client, "'broken' in globals()") is False


def test_llm_provider_on_an_engine_table_uses_the_planner_with_a_note(data, tmp_path):
    """With an LLM configured, an engine table is charted from the planner's spec (LLM code
    would need every row in pandas): no request reaches the LLM, and the cell says why."""
    from jupyter_client.manager import KernelManager

    from fakellm import FakeLLM

    with FakeLLM() as llm:
        env = dict(os.environ, ANYVIZ_LLM_PROVIDER="openai", ANYVIZ_LLM_BASE_URL=llm.base_url,
                   ANYVIZ_LLM_API_KEY="sk-test", ANYVIZ_LLM_MODEL="fake-model",
                   ANYVIZ_LLM_TIMEOUT_S="1", ANYVIZ_CACHE_DIR=str(tmp_path))
        for name in ("ANYVIZ_REDIS_URL", "GEMINI_API_KEY", "OPENAI_API_KEY"):
            env.pop(name, None)
        km = KernelManager(kernel_name="anyviz")
        km.start_kernel(env=env)
        client = km.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            run_ok(client, f"%load --engine duckdb {data['folder']} as sales")
            r = run_ok(client, "%viz total revenue by region")
            assert figures(r)
            assert "the built-in planner chose this chart" in texts(r)
            assert llm.requests == []
        finally:
            stop_kernel(km, client)
