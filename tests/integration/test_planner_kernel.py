"""The offline planner through the real kernel: what a notebook user sees for requests the
planner used to get wrong (non-ISO dates, counts under another noun, the frame used last,
--explain) and for a request it does not understand."""
import json

import pytest

from kernel_harness import execute, requires_anyviz, start_kernel, stop_kernel

pytestmark = requires_anyviz

PLOTLY = "application/vnd.plotly.v1+json"


@pytest.fixture(scope="module")
def kc():
    km, client = start_kernel()
    try:
        yield client
    finally:
        stop_kernel(km, client)


def figure_of(r):
    figs = [m["content"]["data"][PLOTLY] for m in r.outputs
            if m["msg_type"] in ("display_data", "update_display_data", "execute_result")
            and PLOTLY in m["content"].get("data", {})]
    assert figs, f"no chart; outputs: {[m['msg_type'] for m in r.outputs]}"
    return figs[-1]


def text_of(r):
    out = []
    for m in r.outputs:
        c = m["content"]
        if m["msg_type"] == "stream":
            out.append(c["text"])
        elif m["msg_type"] in ("display_data", "execute_result"):
            out.append(c["data"].get("text/plain", ""))
        elif m["msg_type"] == "error":
            out.append(c["evalue"])
    return "\n".join(out)


@pytest.fixture(scope="module")
def weather(kc, tmp_path_factory):
    path = tmp_path_factory.mktemp("planner") / "weather.csv"
    rows = ["date,temp_max,weather"] + [f"2012/{1 + i // 28:02d}/{1 + i % 28:02d},{10 + i % 9},"
                                        f"{'rain' if i % 4 else 'sun'}" for i in range(112)]
    path.write_text("\n".join(rows) + "\n")
    r = execute(kc, f"%load {path} as weather", timeout=60)
    assert r.status == "ok", r.content
    return path


def test_non_iso_dates_load_as_dates_and_draw_a_time_axis(kc, weather):
    r = execute(kc, "print(str(weather['date'].dtype))")
    assert r.stream().startswith("datetime64")
    r = execute(kc, "%viz --df weather temp_max by date", timeout=60)
    fig = figure_of(r)
    assert {t.get("type") for t in fig["data"]} == {"scatter"}
    assert "lines" in fig["data"][0].get("mode", "lines")
    assert len(fig["data"][0]["x"]) == 112  # one point per day, not 112 bars


def test_counts_under_another_noun_per_month(kc, weather):
    r = execute(kc, "%viz --df weather number of sun days per month", timeout=60)
    fig = figure_of(r)
    assert len(fig["data"][0]["x"]) == 4  # January..April, none skipped


def test_no_dates_keeps_text(kc, weather):
    r = execute(kc, f"%load {weather} as raw --no-dates\nprint(str(raw['date'].dtype))", timeout=60)
    assert r.status == "ok", r.content
    r = execute(kc, "print(str(raw['date'].dtype))")
    assert not r.stream().startswith("datetime64")


def test_explain_shows_the_parsed_specification(kc, weather):
    r = execute(kc, "%viz --df weather --explain average temp_max per weekday", timeout=60)
    text = text_of(r)
    assert "Read as: chart bar, x weekday (weekday of date), y temp_max (average)" in text, text
    fig = figure_of(r)
    assert [str(x)[:3] for x in fig["data"][0]["x"]] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def test_request_goes_to_the_frame_used_last(kc, weather, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("kind,n\na,1\nb,2\n")
    assert execute(kc, f"%load {other} as other", timeout=60).status == "ok"
    r = execute(kc, "%viz --df weather count by weather", timeout=60)
    figure_of(r)
    r = execute(kc, "%viz average temp_max by weather", timeout=60)  # no --df: weather was used last
    fig = figure_of(r)
    assert sorted(fig["data"][0]["x"]) == ["rain", "sun"]


def test_not_understood_names_the_words_and_working_requests(kc, weather):
    r = execute(kc, "%viz --df weather average salary", timeout=60)
    text = text_of(r) + json.dumps(r.content)
    assert "Not understood: 'salary'" in text
    assert "%viz --df weather" in text
    assert not any("application/vnd.plotly.v1+json" in m["content"].get("data", {})
                   for m in r.of_type("display_data")), "a guessed chart follows the message"


def test_a_request_ending_in_a_question_mark_is_a_request_not_help(kc, weather):
    r = execute(kc, "%viz --df weather how many days are there for each weather?", timeout=60)
    fig = figure_of(r)
    assert sorted(fig["data"][0]["x"]) == ["rain", "sun"]
    r = execute(kc, "%viz?", timeout=60)  # help on the magic itself still works (a pager payload)
    pages = [p.get("data", {}).get("text/plain", "") for p in r.content.get("payload", [])]
    assert r.status == "ok" and any("%viz" in p or "viz" in p.lower() for p in pages + [text_of(r)])
