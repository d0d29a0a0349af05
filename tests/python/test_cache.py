"""LLM answer cache: disk store (TTL, restarts, clear, stats) and Redis store on a real server."""
import os
import shutil
import socket
import subprocess
import time

import pytest

from anyviz.viz import cache

KEY = "a" * 64


@pytest.fixture
def disk(tmp_path, monkeypatch):
    monkeypatch.delenv("ANYVIZ_REDIS_URL", raising=False)
    monkeypatch.setenv("ANYVIZ_CACHE_DIR", str(tmp_path / "viz"))
    return tmp_path / "viz"


def test_disk_put_get_and_stats(disk):
    assert cache.get(KEY) is None
    cache.put(KEY, "fig = px.line(df)")
    assert cache.get(KEY) == "fig = px.line(df)"
    s = cache.stats()
    assert s["store"] == "disk" and s["path"] == str(disk)
    assert (s["entries"], s["hits"], s["misses"]) == (1, 1, 1)


def test_disk_survives_restart(disk):
    cache.DiskStore().put(KEY, "value")
    assert cache.DiskStore().get(KEY) == "value"  # a new store object = a new kernel


def test_disk_ttl_expires(disk):
    store = cache.DiskStore(ttl=0.2)
    store.put(KEY, "old")
    assert store.get(KEY) == "old"
    time.sleep(0.3)
    assert store.get(KEY) is None
    assert store.entries() == 0


def test_disk_clear_and_hostile_keys_stay_inside(disk):
    cache.put("../../etc/passwd", "x")
    assert cache.get("../../etc/passwd") == "x"
    assert all(p.parent == disk for p in disk.iterdir())
    assert cache.clear() == 1
    assert cache.stats()["entries"] == 0


def test_unreachable_redis_falls_back_to_disk_with_warning(disk, monkeypatch):
    monkeypatch.setenv("ANYVIZ_REDIS_URL", "redis://:pw@127.0.0.1:1/0")
    cache.put(KEY, "v")
    s = cache.stats()
    assert s["store"] == "disk" and "not usable" in s["warning"]
    assert "pw" not in s["warning"]


@pytest.fixture(scope="module")
def redis_url():
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(exe):
        pytest.fail("redis-server is not installed: apt-get install redis-server (needed to "
                    "test the Redis cache store)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("redis-server did not start")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(5)


def test_redis_store_roundtrip_ttl_stats_clear(redis_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ANYVIZ_REDIS_URL", redis_url)
    monkeypatch.setenv("ANYVIZ_CACHE_DIR", str(tmp_path / "unused"))
    monkeypatch.setenv("ANYVIZ_CACHE_TTL_S", "60")
    cache.clear()
    assert cache.get(KEY) is None
    cache.put(KEY, "fig = px.bar(df)")
    cache.put("b" * 64, "other")
    assert cache.get(KEY) == "fig = px.bar(df)"
    s = cache.stats()
    assert s["store"] == "redis" and s["url"] == redis_url
    assert (s["entries"], s["hits"], s["misses"]) == (2, 1, 1)
    import redis

    ttl = redis.Redis.from_url(redis_url).ttl("anyviz:viz:" + KEY)
    assert 0 < ttl <= 60
    assert cache.clear() == 2
    assert cache.stats()["entries"] == 0
    assert not (tmp_path / "unused").exists()  # nothing went to disk


def test_redis_entries_expire(redis_url, monkeypatch):
    monkeypatch.setenv("ANYVIZ_REDIS_URL", redis_url)
    monkeypatch.setenv("ANYVIZ_CACHE_TTL_S", "1")
    cache.put(KEY, "short-lived")
    assert cache.get(KEY) == "short-lived"
    time.sleep(2.1)
    assert cache.get(KEY) is None


@pytest.mark.parametrize("stamp", ["nan", "inf", "-inf", 1e300, -5, 0, "soon", None,
                                   "future"])
def test_disk_entries_with_bad_timestamps_are_expired(disk, stamp):
    import json

    store = cache.DiskStore(ttl=3600)
    store.put(KEY, "value")
    path = disk / (KEY + ".json")
    t = time.time() + 86_400 if stamp == "future" else stamp
    # json.dumps writes NaN/Infinity, which json.load reads back: what a corrupted file holds.
    path.write_text(json.dumps({"t": float(t) if t in ("nan", "inf", "-inf") else t,
                                "value": "value"}))
    assert store.get(KEY) is None
    assert not path.exists()


class _StalledRedis:
    """A TCP server that accepts connections and never answers: a hung Redis."""

    def __init__(self):
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for c in self.accepted:
            c.close()


def test_stalled_redis_is_skipped_by_the_breaker_and_reported_in_words(disk, monkeypatch):
    server = _StalledRedis()
    try:
        monkeypatch.setenv("ANYVIZ_REDIS_URL", f"redis://:pw@127.0.0.1:{server.port}/0")
        monkeypatch.setenv("ANYVIZ_REDIS_RETRY_S", "600")
        assert cache.get(KEY) is None  # the first call waits one timeout, then uses the disk
        tried = len(server.accepted)
        assert tried >= 1
        cache.put(KEY, "v")
        for _ in range(20):
            assert cache.get(KEY) == "v"
        assert len(server.accepted) == tried  # the breaker: no new attempt for 600 s
        s = cache.stats()
        assert s["store"] == "disk"
        assert "did not answer within 0.5 s" in s["warning"] and "pw" not in s["warning"]
        assert cache.clear() == 1
    finally:
        server.close()


def test_redis_failing_mid_session_falls_back_without_raising(redis_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ANYVIZ_REDIS_URL", redis_url)
    monkeypatch.setenv("ANYVIZ_CACHE_DIR", str(tmp_path / "disk"))
    cache.put(KEY, "in redis")
    assert cache.stats()["store"] == "redis"

    def stall(*args, **kwargs):
        raise TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(cache.store().client, "get", stall)
    assert cache.get(KEY) is None  # answered by the (empty) disk store
    assert "did not answer" in cache.stats()["warning"]
