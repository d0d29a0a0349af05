"""The %viz cache is untrusted storage and may stall: through a real kernel, a hung Redis never
makes %viz wait on every call (a short timeout, then a circuit breaker), and %cache says what is
wrong in a sentence instead of raising."""
from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading

import pytest

from fakellm import FakeLLM
from kernel_harness import IS_ANYVIZ
from test_untrusted_text import SETUP, Kernel, llm_env

pytestmark = pytest.mark.skipif(not IS_ANYVIZ, reason="AnyViz-specific: %viz cache")


class StalledRedis:
    """Accepts TCP connections and never answers: a hung Redis."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def stalled():
    server = StalledRedis()
    yield server
    server.close()


def test_stalled_redis_is_tried_once_and_reported_in_words(stalled):
    cache_dir = tempfile.mkdtemp(prefix="anyviz-redis-")
    with FakeLLM() as llm:
        env = llm_env(llm, cache_dir)
        env.update(ANYVIZ_REDIS_URL=f"redis://:hunter2@127.0.0.1:{stalled.port}/0",
                   ANYVIZ_REDIS_RETRY_S="600")
        k = Kernel(**env)
        try:
            k.ok(SETUP)
            llm.script([{"reply": json.dumps({
                "code": "fig = px.bar(df, x='region', y='sales')", "explanation": "ok",
                "alternatives": []})}])
            for i in range(3):
                res = k.ok(f"%viz --df df --explain sales by region {i}")
                assert "How this chart was made: llm" in res.stream("stdout")
            tried = len(stalled.accepted)
            assert 1 <= tried <= 2  # one timeout, then the breaker skips Redis
            res = k.ok("%cache")
            out = res.stream("stdout")
            assert "did not answer within 0.5 s" in out and "disk cache" in out, out
            assert "hunter2" not in out and "Traceback" not in out
            assert len(stalled.accepted) == tried
            # The answers went to the disk store meanwhile: the same request is a cache hit.
            res = k.ok("%viz --df df --explain sales by region 0")
            assert "How this chart was made: cache" in res.stream("stdout")
        finally:
            k.stop()
            shutil.rmtree(cache_dir, ignore_errors=True)
