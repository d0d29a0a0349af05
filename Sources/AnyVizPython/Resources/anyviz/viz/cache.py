"""Cache of LLM chart answers, so the same request on the same data never pays an LLM call twice.

The key is computed by Swift (sha256 of provider, model, prompt version, request, schema and
data fingerprint); values are strings (the LLM's answer). Two stores:

* disk (default): one small JSON file per key under ANYVIZ_CACHE_DIR (default
  ~/.cache/anyviz/viz), written atomically (tmp + rename), so it survives kernel restarts and
  concurrent kernels never read half a file;
* Redis when ANYVIZ_REDIS_URL is set (shared by several kernels/machines), with SETEX so Redis
  expires entries itself. If Redis cannot be reached the disk store is used and stats say why.

A slow cache must never make %viz slow: Redis calls time out after REDIS_TIMEOUT_S (0.5 s, no
retries), and after a failure a circuit breaker skips Redis for ANYVIZ_REDIS_RETRY_S (default
30 s), using the disk store meanwhile; `%cache` reports that as a sentence, never a raw
exception. A disk entry whose timestamp is not a finite, past, positive time is expired.

TTL: ANYVIZ_CACHE_TTL_S (default 3600 s). Hits/misses are counted per kernel session.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import time

_PREFIX = "anyviz:viz:"
_KEY_OK = re.compile(r"^[0-9a-fA-F]{16,128}$")
DEFAULT_TTL_S = 3600.0
#: Connect and read timeout of every Redis call (a cache lookup must be cheap or skipped).
REDIS_TIMEOUT_S = 0.5
#: How long Redis is skipped after it failed or stalled.
DEFAULT_RETRY_S = 30.0
#: Clock skew tolerated for a timestamp in the future.
_FUTURE_SLACK_S = 300.0


def _positive_env(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, "") or default)
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= 0 else default


def ttl_s() -> float:
    return _positive_env("ANYVIZ_CACHE_TTL_S", DEFAULT_TTL_S)


def retry_s() -> float:
    return _positive_env("ANYVIZ_REDIS_RETRY_S", DEFAULT_RETRY_S)


def expired(stamp, ttl: float, now: float | None = None) -> bool:
    """Whether an entry written at `stamp` is past its TTL. A timestamp that is not a finite
    positive number, or lies in the future, is expired (a hand-edited or corrupted entry must
    not live forever)."""
    now = time.time() if now is None else now
    try:
        t = float(stamp)
    except (TypeError, ValueError, OverflowError):
        return True
    if not math.isfinite(t) or t <= 0 or t > now + _FUTURE_SLACK_S:
        return True
    return now - t > ttl


def _safe_key(key: str) -> str:
    """Keys are hex digests; anything else is hashed so it can never escape the directory."""
    key = str(key)
    return key.lower() if _KEY_OK.match(key) else hashlib.sha256(key.encode()).hexdigest()


class DiskStore:
    kind = "disk"

    def __init__(self, path: str | None = None, ttl: float | None = None):
        self.path = os.path.expanduser(path or os.environ.get("ANYVIZ_CACHE_DIR")
                                       or "~/.cache/anyviz/viz")
        self.ttl = ttl_s() if ttl is None else float(ttl)
        self.hits = self.misses = 0

    def _file(self, key: str) -> str:
        return os.path.join(self.path, _safe_key(key) + ".json")

    def get(self, key: str) -> str | None:
        f = self._file(key)
        try:
            with open(f, encoding="utf-8") as fh:
                entry = json.load(fh)
            if not isinstance(entry, dict) or expired(entry.get("t"), self.ttl) \
                    or not isinstance(entry.get("value"), str):
                os.unlink(f)
                raise FileNotFoundError
            self.hits += 1
            return entry["value"]
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            return None

    def put(self, key: str, value: str) -> None:
        os.makedirs(self.path, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"t": time.time(), "value": str(value)}, fh)
            os.replace(tmp, self._file(key))
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def _entries(self):
        try:
            names = os.listdir(self.path)
        except OSError:
            return []
        return [os.path.join(self.path, n) for n in names
                if n.endswith(".json") and not n.startswith(".")]

    def entries(self) -> int:
        now = time.time()
        count = 0
        for f in self._entries():
            try:
                if now - os.path.getmtime(f) <= self.ttl:
                    count += 1
            except OSError:
                pass
        return count

    def clear(self) -> int:
        removed = 0
        for f in self._entries():
            try:
                os.unlink(f)
                removed += 1
            except OSError:
                pass
        return removed

    def stats(self) -> dict:
        return {"store": "disk", "entries": self.entries(), "hits": self.hits,
                "misses": self.misses, "path": self.path, "ttl_s": self.ttl}


class RedisStore:
    kind = "redis"

    def __init__(self, url: str, ttl: float | None = None):
        import redis

        self.url = url
        self.ttl = ttl_s() if ttl is None else float(ttl)
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_S,
                                           socket_timeout=REDIS_TIMEOUT_S,
                                           retry=Retry(NoBackoff(), 0), retry_on_timeout=False)
        self.client.ping()
        self.hits = self.misses = 0

    def get(self, key: str) -> str | None:
        value = self.client.get(_PREFIX + _safe_key(key))
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        return value.decode("utf-8", "replace")

    def put(self, key: str, value: str) -> None:
        self.client.set(_PREFIX + _safe_key(key), str(value).encode("utf-8"),
                        ex=max(1, int(self.ttl)))

    def _keys(self):
        return list(self.client.scan_iter(match=_PREFIX + "*", count=500))

    def entries(self) -> int:
        return len(self._keys())

    def clear(self) -> int:
        keys = self._keys()
        if keys:
            self.client.delete(*keys)
        return len(keys)

    def stats(self) -> dict:
        return {"store": "redis", "entries": self.entries(), "hits": self.hits,
                "misses": self.misses, "url": _redact(self.url), "ttl_s": self.ttl}


def _redact(url: str) -> str:
    """Never show a password from the URL in stats."""
    return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)


_disk: DiskStore | None = None
_redis: RedisStore | None = None
_config = None
_skip_redis_until = 0.0  # time.monotonic() before which Redis is not tried
_redis_problem: str | None = None


def _configure() -> str | None:
    """Re-create the stores when the environment changed; returns the Redis URL (or None)."""
    global _disk, _redis, _config, _skip_redis_until, _redis_problem
    config = (os.environ.get("ANYVIZ_REDIS_URL"), os.environ.get("ANYVIZ_CACHE_DIR"),
              os.environ.get("ANYVIZ_CACHE_TTL_S"))
    if _disk is None or config != _config:
        _disk, _redis, _config = DiskStore(), None, config
        _skip_redis_until, _redis_problem = 0.0, None
    return config[0] or None


def _trip(url: str, exc: BaseException) -> None:
    """Redis failed or stalled: skip it for retry_s() seconds and remember why, in words."""
    global _redis, _skip_redis_until, _redis_problem
    _redis = None
    wait = retry_s()
    _skip_redis_until = time.monotonic() + wait
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        what = f"did not answer within {REDIS_TIMEOUT_S:g} s"
    else:
        what = f"is not usable ({type(exc).__name__}: {str(exc)[:200]})"
    _redis_problem = (f"Redis at {_redact(url)} {what}; using the disk cache and trying Redis "
                      f"again in {wait:g} s")


def store():
    """The store in use now: Redis when configured and healthy, else the disk store."""
    global _redis
    url = _configure()
    if not url or time.monotonic() < _skip_redis_until:
        return _disk
    if _redis is None:
        try:
            _redis = RedisStore(url)
        except Exception as exc:  # noqa: BLE001 - fall back, and say why in stats
            _trip(url, exc)
            return _disk
    return _redis


def _run(op: str, *args):
    """`op` on the store in use; a Redis failure trips the breaker and the disk store answers."""
    s = store()
    if s is _disk:
        return getattr(s, op)(*args)
    try:
        return getattr(s, op)(*args)
    except Exception as exc:  # noqa: BLE001 - any Redis failure means "use the disk now"
        _trip(s.url, exc)
        return getattr(_disk, op)(*args)


def get(key: str) -> str | None:
    return _run("get", key)


def put(key: str, value: str) -> None:
    _run("put", key, value)


def stats() -> dict:
    s = _run("stats")
    if _redis_problem and store() is _disk:
        s["warning"] = _redis_problem
    return s


def clear() -> int:
    return _run("clear")
