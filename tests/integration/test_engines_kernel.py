"""Engine tables end to end in the real kernel (jupyter_client over the wire): %load of a
Parquet folder into DuckDB and Spark (local[2]), %viz and %profile computed in the engine,
interrupts that cancel a long DuckDB query and a long Spark job, and bad input that leaves the
session as it was."""
import json
import os
import re
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


def _interrupt_cell(km, client, code, running_s=3.0):
    """Start `code`, interrupt it once it runs; seconds from interrupt to reply, the reply
    and the cell's outputs."""
    msg_id = client.execute(code)
    wait_for_busy(client, msg_id)
    time.sleep(running_s)  # planning done, the engine query running
    t0 = time.monotonic()
    km.interrupt_kernel()
    events = []
    outputs = collect_iopub(client, msg_id, timeout=30, on_message=lambda m: events.append(
        (m["msg_type"], round(time.monotonic() - t0, 3))))
    reply = shell_reply(client, msg_id, timeout=30)
    elapsed = time.monotonic() - t0
    print("events after the interrupt:", events)
    return elapsed, reply, outputs


def test_interrupt_cancels_a_long_duckdb_query(kc, data):
    km, client = kc
    run_ok(client, "keep = {'still': 'here'}")
    run_ok(client, f"%load duckdb://{data['db']}/big as big")
    elapsed, reply, outputs = _interrupt_cell(km, client, "%viz big total x by g",
                                              running_s=6.0)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert elapsed < 2.0, f"the kernel took {elapsed:.2f}s to stop"
    # While it ran, one line in the cell showed DuckDB's progress; the interrupt cleared it.
    shown = [m for m in outputs if m["msg_type"] in ("display_data", "update_display_data")]
    lines = [m["content"]["data"].get("text/plain", "") for m in shown]
    assert any(re.match(r"duckdb: \d+% scanning ", line) for line in lines), lines
    assert shown[-1]["msg_type"] == "update_display_data" and lines[-1] == ""
    assert not [m for m in outputs if m["msg_type"].startswith("comm_")]
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
    elapsed, reply, _ = _interrupt_cell(km, client, "%viz huge total x by g")
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


@pytest.fixture
def llm_kernel(data, tmp_path):
    """A kernel whose LLM is the scripted loopback fake (OpenAI wire format), with the sales
    folder loaded into DuckDB as `sales`; yields (client, fake LLM)."""
    from jupyter_client.manager import KernelManager

    from fakellm import FakeLLM

    with FakeLLM() as llm:
        env = dict(os.environ, ANYVIZ_LLM_PROVIDER="openai", ANYVIZ_LLM_BASE_URL=llm.base_url,
                   ANYVIZ_LLM_API_KEY="sk-test", ANYVIZ_LLM_MODEL="fake-model",
                   ANYVIZ_LLM_TIMEOUT_S="5", ANYVIZ_CACHE_DIR=str(tmp_path))
        for name in ("ANYVIZ_REDIS_URL", "GEMINI_API_KEY", "OPENAI_API_KEY"):
            env.pop(name, None)
        km = KernelManager(kernel_name="anyviz")
        km.start_kernel(env=env)
        client = km.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            run_ok(client, f"%load --engine duckdb {data['folder']} as sales")
            yield client, llm
        finally:
            stop_kernel(km, client)


def _prompt(request) -> str:
    return "\n".join(m["content"] for m in request["body"]["messages"])


def test_llm_answers_an_engine_table_with_a_spec_the_engine_computes(llm_kernel, data):
    """With an LLM configured, %viz on an engine table asks it for a chart specification
    (the schema in the prompt, no rows) and DuckDB computes that chart over every row."""
    client, llm = llm_kernel
    llm.script([{"reply": json.dumps({
        "chart": "bar", "x": "product", "y": "qty", "agg": "sum",
        "top": {"n": 3, "order": "desc"}, "title": "Top products by quantity",
        "explanation": "Total qty per product, the three largest."})}])
    r = run_ok(client, "%viz the products that sell the most units")
    (figure,) = figures(r)
    expected = data["df"].groupby("product")["qty"].sum().nlargest(3)
    trace = figure["data"][0]
    got = dict(zip(trace["x"] if isinstance(trace["x"], list) else _numbers(trace["x"]),
                   _numbers(trace["y"])))
    assert got == {k: float(v) for k, v in expected.items()}
    assert "Total qty per product, the three largest." in texts(r)
    assert "computed in duckdb over all 30,000 rows" in texts(r)
    (request,) = llm.requests
    prompt = _prompt(request)
    assert "'product': text" in prompt and "'qty': number" in prompt
    assert "Request: the products that sell the most units" in prompt
    assert "North" not in prompt and "P1" not in prompt  # no values from the rows


def test_unusable_llm_specs_end_in_the_planner_chart_with_the_reason(llm_kernel):
    """Two unusable answers (an unknown column, then no JSON): the planner's engine chart is
    shown with a note that says why; the LLM was asked twice, the second time with the
    reason."""
    client, llm = llm_kernel
    llm.script([{"reply": json.dumps({"chart": "bar", "x": "country", "agg": "count"})},
                {"reply": "I would draw a bar chart of revenue."}])
    r = run_ok(client, "%viz total revenue by region")
    (figure,) = figures(r)
    assert figure["data"][0]["type"] == "bar"
    note = texts(r)
    assert "unusable twice" in note and "holds no JSON object" in note
    assert "planner" in note
    assert len(llm.requests) == 2
    assert "names no column of the table: 'country'" in _prompt(llm.requests[1])


def test_the_same_request_again_is_drawn_from_the_chart_cache(llm_kernel, data):
    """The LLM's specification for an engine table is kept in the chart cache: the same
    %viz again draws the same chart, computed by DuckDB, without an LLM request; --no-cache
    asks again."""
    client, llm = llm_kernel
    llm.script([{"reply": json.dumps({
        "chart": "bar", "x": "region", "y": "revenue", "agg": "sum",
        "explanation": "Revenue summed per region."})}])
    first = figures(run_ok(client, "%viz revenue per region"))
    assert len(llm.requests) == 1
    again = run_ok(client, "%viz --explain revenue per region")
    assert len(llm.requests) == 1  # no second LLM request
    assert "How this chart was made: cache" in again.stream()
    (figure,) = figures(again)
    assert figure["data"][0]["x"] == first[0]["data"][0]["x"]
    expected = data["df"].groupby("region")["revenue"].sum()
    got = dict(zip(figure["data"][0]["x"], _numbers(figure["data"][0]["y"])))
    assert got == pytest.approx({k: float(v) for k, v in expected.items()})
    assert "Revenue summed per region." in texts(again)
    run_ok(client, "%viz --no-cache revenue per region")
    assert len(llm.requests) == 2
