"""Progress of long engine queries, without a kernel (the fake bridge records the displays): a
slow DuckDB query shows one progress line with DuckDB's own percentage, updated in place and
cleared when the query ends; the connection answers normally afterwards."""
import re

import pytest


@pytest.fixture
def slow(bridge):
    """A LazyFrame over a DuckDB view whose aggregate takes seconds (no files needed)."""
    from anyviz.engines.frame import LazyFrame, duckdb_backend

    backend = duckdb_backend()
    # DuckDB starts estimating after progress_bar_time; at 0 a fast machine still shows one.
    backend.con.execute("SET progress_bar_time = 0")
    backend.con.execute("CREATE OR REPLACE TEMP VIEW progress_test AS SELECT i % 7 AS g, "
                        "hash(i) % 1000 AS x FROM range(150000000) t(i)")
    table = backend.table("progress_test")
    yield LazyFrame(table, engine="duckdb", source="range(150000000)", backend=backend)
    backend.con.execute("SET progress_bar_time = 1000")


def test_slow_query_shows_a_percentage_then_clears_the_line(slow, bridge, monkeypatch):
    from anyviz.engines import run

    monkeypatch.setattr(run, "PROGRESS_AFTER_S", 0.0)
    t = slow.table
    result = run.execute(slow, t.group_by("g").agg(total=t.x.sum()).order_by("g"))
    assert list(result["g"]) == list(range(7))

    shown = bridge.of_type("display_data") + bridge.of_type("update_display_data")
    lines = [m["data"]["text/plain"] for m in shown]
    ids = {m["transient"]["display_id"] for m in shown}
    assert len(ids) == 1, "one progress display, updated in place"
    with_percent = [line for line in lines
                    if re.fullmatch(r"duckdb: \d+% scanning range\(150000000\) \(\d+ s\)", line)]
    assert with_percent, lines
    html = [m["data"].get("text/html", "") for m in shown]
    assert any("<progress value=" in h for h in html)
    cleared = bridge.of_type("update_display_data")[-1]["data"]
    assert cleared == {"text/plain": ""}  # the line is gone once the query is over
    assert int(run.execute(slow, t.limit(3).count())) == 3  # the connection is not stuck


def test_fast_query_shows_no_progress_line(slow, bridge):
    from anyviz.engines import run

    assert int(run.execute(slow, slow.table.limit(10).count())) == 10
    assert bridge.of_type("display_data") == [] and bridge.of_type("update_display_data") == []


def test_progress_text_is_escaped_and_capped(bridge, monkeypatch):
    from anyviz.engines import run

    class Frame:
        engine = "duckdb"
        source = "<img src=x onerror=alert(1)>" + "a" * 1000

    monkeypatch.setattr(run, "_progress", lambda frame: 42.0)
    line = run._ProgressLine(Frame())
    line.show(3.0)
    data = bridge.of_type("display_data")[-1]["data"]
    assert "<img" not in data["text/html"] and "&lt;img" in data["text/html"]
    assert len(data["text/plain"]) < 300 and data["text/plain"].startswith("duckdb: 42% ")
