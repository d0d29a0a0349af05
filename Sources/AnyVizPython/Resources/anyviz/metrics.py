"""Operator counters of the chart pipeline, kept in Python until the cell's reply carries them.

The Prometheus endpoint is served by the kernel's native side. Sending each increment there
would add a Swift/Python crossing per event; instead the counts of a request accumulate here
and `anyviz.runtime.execute` hands them over with the execute reply it returns anyway
(`drain`), so an offline `%viz` costs no extra crossing. LLM latency and prompt size are
recorded natively by the `llm_complete` service, which times the HTTP call itself.

Labels never carry data values or keys: only fixed names and a level or error kind. Under
`%load_ext` in another kernel nothing drains the counts; they stay bounded (one entry per
name and label).
"""
from __future__ import annotations

import threading

#: Counter names the native side accepts (it drops any other).
REQUESTS = "anyviz_viz_requests_total"
CACHE_HITS = "anyviz_viz_cache_hits_total"
CACHE_MISSES = "anyviz_viz_cache_misses_total"
RESULTS = "anyviz_viz_results_total"
ERRORS = "anyviz_errors_total"

_lock = threading.Lock()
_counts: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}


def count(name: str, by: int = 1, **labels: str) -> None:
    """Add `by` to counter `name` with `labels` (e.g. `count(RESULTS, level="planner")`)."""
    key = (name, tuple(sorted((k, str(v)) for k, v in labels.items())))
    with _lock:
        _counts[key] = _counts.get(key, 0) + by


def drain() -> list[dict]:
    """The counts since the last drain, as `[{"name", "labels", "value"}]`, and reset."""
    with _lock:
        items = list(_counts.items())
        _counts.clear()
    return [{"name": name, "labels": dict(labels), "value": value}
            for (name, labels), value in items]
