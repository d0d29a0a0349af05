"""The %viz / %customize fallback ladder without a kernel: the real steps (planner, chart
sandbox, output, cache on disk) with a scripted fake LLM service in place of the network.

Each test names the rung it reaches and checks what the user would see (the chart or table
published through the fake bridge, the note), what the LLM was sent, and the counters."""
import json

import numpy as np
import pandas as pd
import plotly.data
import pytest

from anyviz import llm_http, metrics, session
from anyviz.errors import LLMError, NotUnderstood, VizError
from anyviz.viz import api, guard, output, pipeline

PLOTLY = "application/vnd.plotly.v1+json"
GOOD_CODE = ("totals = df.groupby('continent', as_index=False)['pop'].sum()\n"
             "fig = px.bar(totals, x='continent', y='pop', title='Population by continent')")


def answer(code, explanation="Total population per continent."):
    return json.dumps({"code": code, "explanation": explanation, "alternatives": ["a line"]})


class FakeLLM:
    """An LLM service following a script: each step is reply text or an exception."""

    def __init__(self, *steps):
        self.steps = list(steps)
        self.calls = []

    def complete(self, messages, config):
        self.calls.append(messages)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, BaseException):
            raise step
        return step


ONLINE = llm_http.LLMConfig(provider="openai", base_url="http://127.0.0.1:9/v1", model="fake")
OFFLINE = llm_http.LLMConfig()


def make(*steps, config=ONLINE):
    fake = FakeLLM(*steps)
    return pipeline.Pipeline(service=fake, settings=lambda: config), fake


pytestmark = pytest.mark.usefixtures("chart_worker")  # one warm sandbox per module


@pytest.fixture
def gap(bridge, tmp_path, monkeypatch):
    monkeypatch.setenv("ANYVIZ_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ANYVIZ_REDIS_URL", raising=False)
    frame = plotly.data.gapminder()
    session.user_ns["gap"] = frame
    session.set_current_frame("gap")
    api._last.clear()
    output.reset_session()
    metrics.drain()
    yield frame
    session.user_ns.pop("gap", None)
    session.user_ns.pop("empty", None)
    session.set_current_frame(None)


def request(text="population by continent", **kw):
    return pipeline.VizRequest.of(frame="gap", text=text, **kw)


def charts(bridge):
    return [m["data"][PLOTLY] for m in bridge.of_type("display_data") if PLOTLY in m["data"]]


def notes(bridge):
    return "\n".join(m["data"].get("text/plain", "") for m in bridge.of_type("display_data")
                     if (m.get("transient") or {}).get("display_id", "").endswith("-info"))


def tables(bridge):
    return [m["data"]["text/html"] for m in bridge.of_type("display_data")
            if "<table" in m["data"].get("text/html", "")]


def assert_population_bars(fig, frame):
    (trace,) = fig["data"]
    assert trace["type"] == "bar"
    y = trace["y"]
    if isinstance(y, dict):
        import base64

        y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"]))
    assert sorted(np.asarray(y).astype("int64")) == sorted(
        frame.groupby("continent")["pop"].sum().astype("int64"))


def counts():
    return {(c["name"], tuple(sorted(c["labels"].items()))): c["value"] for c in metrics.drain()}


# ------------------------------------------------------------------ LLM rungs
def test_llm_answer_is_shown_and_the_prompt_has_the_schema_not_the_data(gap, bridge):
    p, fake = make(answer(GOOD_CODE))
    outcome = p.viz(request())
    assert (outcome.level, outcome.llm_calls, outcome.code) == ("llm", 1, GOOD_CODE)
    assert_population_bars(charts(bridge)[-1], gap)
    prompt = json.dumps(fake.calls[0])
    assert "'continent'" in prompt and "population by continent" in prompt
    assert str(gap["pop"].iloc[100]) not in prompt  # a raw value of the data is not sent
    assert counts() == {("anyviz_viz_requests_total", ()): 1,
                        ("anyviz_viz_cache_misses_total", ()): 1,
                        ("anyviz_viz_results_total", (("level", "llm"),)): 1}


def test_cache_hit_shows_the_same_chart_without_asking_again(gap, bridge, monkeypatch):
    p, fake = make(answer(GOOD_CODE))
    assert p.viz(request()).level == "llm"
    summaries = []
    real_context = api.context
    monkeypatch.setattr(api, "context", lambda args: summaries.append(args) or real_context(args))
    runs = []
    real_run = guard.run
    monkeypatch.setattr(guard, "run", lambda *a, **kw: runs.append(a) or real_run(*a, **kw))
    again = p.viz(request())
    assert summaries == []  # a hit does not pay for the prompt's data summary
    assert runs == []  # nor for a sandbox run: the figure drawn on this exact data is reused
    assert (again.level, again.llm_calls, len(fake.calls)) == ("cache", 0, 1)
    assert_population_bars(charts(bridge)[-1], gap)
    assert p.viz(request(use_cache=False)).level == "llm" and len(fake.calls) == 2
    # Different data is a different key: the LLM is asked again and its code runs.
    session.user_ns["gap"] = gap.iloc[:-1]
    assert p.viz(request()).level == "llm" and len(fake.calls) == 3 and len(runs) == 1
    assert counts()[("anyviz_viz_cache_hits_total", ())] == 1


def test_failing_code_is_repaired_with_the_masked_error_sent_back(gap, bridge):
    bad = "fig = px.bar(df, x='continent', y='population')"
    p, fake = make(answer(bad), answer(GOOD_CODE))
    outcome = p.viz(request())
    assert (outcome.level, outcome.llm_calls) == ("llm", 2)
    repair = fake.calls[1][-1]["content"]
    assert repair.startswith("That code failed:") and "population" in repair
    assert fake.calls[1][-2] == {"role": "assistant", "content": answer(bad)}
    assert "Repaired after 1 failed attempt(s)" in notes(bridge)
    assert counts()[("anyviz_errors_total", (("type", "code_error"),))] == 1


def test_garbage_three_times_falls_back_to_the_planner_with_a_note(gap, bridge):
    p, fake = make("I'm sorry, I cannot help with that.")
    outcome = p.viz(request())
    assert (outcome.level, outcome.llm_calls, len(fake.calls)) == ("planner", 3, 3)
    assert_population_bars(charts(bridge)[-1], gap)
    note = notes(bridge)
    assert "unusable 3 time(s)" in note and "no code" in note and "planner" in note


@pytest.mark.parametrize("error", [
    LLMError("The LLM service is rate limiting this key (HTTP 429).", kind="http_429",
             retryable=True),
    LLMError("The LLM service kept failing (HTTP 503).", kind="http_503", retryable=True),
    LLMError("The LLM did not answer within 1 s.", kind="timeout"),
], ids=["429", "5xx", "timeout"])
def test_llm_failures_fall_back_to_the_planner_with_the_reason(gap, bridge, error):
    p, fake = make(error)
    outcome = p.viz(request())
    assert (outcome.level, outcome.llm_calls, len(fake.calls)) == ("planner", 0, 1)
    assert_population_bars(charts(bridge)[-1], gap)
    assert str(error) in notes(bridge) and "built-in planner made this chart" in notes(bridge)
    assert counts()[("anyviz_errors_total", (("type", f"llm_{error.kind}"),))] == 1


def test_an_interrupt_during_the_llm_call_stops_the_ladder(gap, bridge):
    p, _ = make(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        p.viz(request())
    assert not charts(bridge)


# ------------------------------------------------------------------ fallback rungs
def test_offline_goes_straight_to_the_planner_without_the_llm(gap, bridge):
    p, fake = make(answer(GOOD_CODE), config=OFFLINE)
    outcome = p.viz(request())
    assert (outcome.level, fake.calls) == ("planner", [])
    assert_population_bars(charts(bridge)[-1], gap)
    assert counts()[("anyviz_viz_results_total", (("level", "planner"),))] == 1


def test_planner_chart_failing_falls_to_a_simpler_chart(gap, bridge, monkeypatch):
    monkeypatch.setattr(api, "plan", lambda args: {"code": "fig = px.bar(df, x='nope')",
                                                   "explanation": "broken"})
    p, _ = make(LLMError("HTTP 500", kind="http_500"))
    outcome = p.viz(request())
    assert outcome.level == "simple"
    assert charts(bridge)[-1]["data"][0]["type"] in ("histogram", "bar")
    note = notes(bridge)
    # Both reasons are kept: the LLM failure, then the planner's.
    assert "The LLM could not be used (HTTP 500)." in note
    assert "The planned chart failed" in note and "simpler chart" in note


def test_simpler_chart_failing_falls_to_a_table(gap, bridge, monkeypatch):
    monkeypatch.setattr(api, "plan", lambda args: {"code": "fig = None", "explanation": "x"})
    monkeypatch.setattr(api, "simple", lambda args: {"status": "error", "message": "no"})
    outcome = pipeline.Pipeline(FakeLLM("unused"), lambda: OFFLINE).viz(request())
    assert outcome.level == "table"
    assert "continent" in tables(bridge)[-1] and "The planned chart failed" in tables(bridge)[-1]


def test_nothing_at_all_ends_in_one_message_with_every_reason(gap, bridge, monkeypatch):
    monkeypatch.setattr(api, "plan", lambda args: {"code": "fig = None", "explanation": "x"})

    def fails(args):
        raise RuntimeError("broken rung")

    monkeypatch.setattr(api, "simple", fails)
    monkeypatch.setattr(api, "table", fails)
    p, _ = make(LLMError("The LLM did not answer within 1 s.", kind="timeout"))
    with pytest.raises(VizError) as raised:
        p.viz(request())
    message = str(raised.value)
    assert "did not answer within 1 s" in message and "The planned chart failed" in message
    assert counts()[("anyviz_viz_results_total", (("level", "message"),))] == 1


def test_a_request_the_planner_cannot_read_ends_with_its_message(gap, bridge, monkeypatch):
    def not_understood(args):
        raise NotUnderstood("I could not match 'frobnicate' to a column; try: pop by year.")

    monkeypatch.setattr(api, "plan", not_understood)
    p, _ = make(LLMError("HTTP 503", kind="http_503"))
    with pytest.raises(NotUnderstood) as raised:
        p.viz(request("frobnicate"))
    assert "HTTP 503" in str(raised.value) and "frobnicate" in str(raised.value)
    assert not charts(bridge) and not tables(bridge)  # no guessed chart


def test_a_missing_frame_is_the_users_error_before_any_rung(gap, bridge):
    p, fake = make(answer(GOOD_CODE))
    with pytest.raises(Exception, match="no DataFrame named 'nosuch'"):
        p.viz(pipeline.VizRequest.of(frame="nosuch", text="anything"))
    assert fake.calls == []


def test_engine_tables_use_the_engine_llm_hook_or_the_planner(gap, bridge, monkeypatch):
    from anyviz.engines import viz as engine_viz

    real_context, real_identity = api.context, api.identity
    monkeypatch.setattr(api, "identity", lambda args: {**real_identity(args), "engine": True})
    monkeypatch.setattr(api, "context", lambda args: {**real_context(args),
                                                      "engine_note": "An engine table."})
    seen = []

    def chart_from_llm(name, text, hints, complete, *, render, cache=None):
        seen.append(complete([{"role": "user", "content": text}]))
        return {"status": "ok", "display_id": "d1", "code": "chart(gap)", "explanation": "E"}

    monkeypatch.setattr(engine_viz, "chart_from_llm", chart_from_llm, raising=False)
    p, _ = make("a spec")
    outcome = p.viz(request())
    assert (outcome.level, outcome.code, outcome.llm_calls, seen) == ("llm", "chart(gap)", 1,
                                                                     ["a spec"])

    def refuses(name, text, hints, complete, *, render, cache=None):
        raise ValueError("unknown column 'x'")

    monkeypatch.setattr(engine_viz, "chart_from_llm", refuses)
    outcome = p.viz(request())
    assert outcome.level == "planner"
    assert "unknown column 'x'" in notes(bridge)

    monkeypatch.delattr(engine_viz, "chart_from_llm")
    outcome = p.viz(request())
    assert outcome.level == "planner" and "An engine table." in notes(bridge)


# ------------------------------------------------------------------ %customize
def _first_chart():
    p, _ = make(answer(GOOD_CODE), config=OFFLINE)
    return p.viz(request())


def test_customize_with_the_llm_sends_the_current_code_and_updates_the_chart(gap, bridge):
    first = _first_chart()
    new_code = GOOD_CODE + "\nfig.update_yaxes(type='log')"
    p, fake = make(answer(new_code, "Log scale."))
    outcome = p.customize("log scale y")
    assert (outcome.level, outcome.code, outcome.llm_calls) == ("llm", new_code, 1)
    assert first.code in fake.calls[0][-1]["content"] and "log scale y" in fake.calls[0][-1]["content"]
    updated = [m for m in bridge.of_type("update_display_data") if PLOTLY in m["data"]]
    assert updated[-1]["transient"]["display_id"] == first.display_id
    assert updated[-1]["data"][PLOTLY]["layout"]["yaxis"]["type"] == "log"


def test_customize_offline_and_after_an_llm_failure_uses_the_rules(gap, bridge):
    _first_chart()
    p, fake = make(answer("unused"), config=OFFLINE)
    assert p.customize("title 'Offline title'").level == "planner" and fake.calls == []
    p, fake = make(LLMError("HTTP 429", kind="http_429"))
    outcome = p.customize("log scale y")
    assert outcome.level == "planner" and len(fake.calls) == 1
    updated = [m for m in bridge.of_type("update_display_data") if PLOTLY in m["data"]]
    assert updated[-1]["data"][PLOTLY]["layout"]["yaxis"]["type"] == "log"
    assert "applied the change offline" in json.dumps(bridge.messages)


def test_customize_without_a_chart_says_to_make_one(gap, bridge):
    p, _ = make(answer(GOOD_CODE))
    with pytest.raises(VizError, match="make one with %viz first"):
        p.customize("dark theme")


def test_request_refuses_unknown_hints_and_drops_empty_ones():
    assert pipeline.VizRequest.of(text="t", x="a", y=None).hints == {"x": "a"}
    with pytest.raises(TypeError):
        pipeline.VizRequest.of(colour="red")


def test_cache_key_changes_with_model_prompt_request_and_data():
    context = {"columns": [{"name": "a"}], "fingerprint": "f1"}
    base = pipeline.cache_key(ONLINE, request(), context)
    assert base == pipeline.cache_key(ONLINE, request(), dict(context))
    other_model = llm_http.LLMConfig(provider="openai", base_url="x", model="other")
    assert base != pipeline.cache_key(other_model, request(), context)
    assert base != pipeline.cache_key(ONLINE, request("other words"), context)
    assert base != pipeline.cache_key(ONLINE, request(), {**context, "fingerprint": "f2"})



def test_figure_memo_keeps_only_exact_small_frames_and_forgets_the_oldest():
    from anyviz.viz.figure_memo import FigureMemo
    from anyviz.viz.guard import RunResult

    memo = FigureMemo(limit=2, max_rows=100)
    small = pd.DataFrame({"a": range(10)})
    slot = memo.slot("k", "fig = 1", {"df": small})
    assert slot == memo.slot("k", "fig = 1", {"df": small.copy()})
    changed = small.copy()
    changed.loc[9, "a"] = 99
    assert memo.slot("k", "fig = 1", {"df": changed}) != slot
    assert memo.slot("k", "fig = 2", {"df": small}) != slot
    assert memo.slot("k", "fig = 1", {"df": pd.DataFrame({"a": range(101)})}) is None
    assert memo.slot("k", "fig = 1", {"df": small, "other": small}) is None
    assert memo.slot(None, "fig = 1", {"df": small}) is None
    # A key that already hashes every row is not hashed again, but code still counts.
    covered = memo.slot("k", "fig = 1", {"df": small}, key_covers_data=True)
    assert covered == memo.slot("k", "fig = 1", {"df": changed}, key_covers_data=True)
    assert covered != memo.slot("k", "fig = 2", {"df": small}, key_covers_data=True)
    memo.put(slot, RunResult("error", "failed"))
    assert memo.get(slot) is None  # only charts that were drawn are kept
    memo.put(slot, RunResult("ok", figure={"data": [{"y": [1]}]}))
    kept = memo.get(slot)
    kept.figure["data"].clear()
    assert memo.get(slot).figure == {"data": [{"y": [1]}]}  # callers get copies
    for code in ("fig = 2", "fig = 3"):
        memo.put(memo.slot("k", code, {"df": small}), RunResult("ok", figure={}))
    assert memo.get(slot) is None


def test_llm_settings_have_one_home_that_percent_llm_changes(monkeypatch):
    from anyviz import llm
    from anyviz.errors import UsageError

    monkeypatch.setenv("ANYVIZ_LLM_PROVIDER", "offline")
    monkeypatch.setenv("BENCH_KEY", "sk-secret-5555")
    llm.reset()
    try:
        assert llm.settings().provider == "offline"
        changed = llm.configure(provider="openai", model="m2", base_url="http://127.0.0.1:9/v1",
                                key_env="BENCH_KEY", timeout=3)
        assert llm.settings() is changed and changed.api_key == "sk-secret-5555"
        assert "model: m2" in changed.summary and "sk-secret-5555" not in changed.summary
        for bad, words in (({"key_env": "NOT_SET_ANYWHERE"}, "NOT_SET_ANYWHERE"),
                           ({"provider": "claude"}, "gemini, openai or offline"),
                           ({"timeout": -1}, "positive"), ({"base_url": "ftp://x"}, "http")):
            with pytest.raises(UsageError, match=words):
                llm.configure(**bad)
        assert llm.settings() is changed  # a refused change leaves the settings as they were
    finally:
        llm.reset()
