"""Cache of LLM chart answers, so the same request on the same data never pays an LLM call twice.

The key is computed by Swift (sha256 of provider, model, prompt version, request, schema and
data fingerprint); values are strings (the LLM's answer). Two stores:

* disk (default): one small JSON file per key under ANYVIZ_CACHE_DIR (default
  ~/.cache/anyviz/viz), written atomically (tmp + rename), so it survives kernel restarts and
  concurrent kernels never read half a file;
* Redis when ANYVIZ_REDIS_URL is set (shared by several kernels/machines), with SETEX so Redis
  expires entries itself. If Redis cannot be reached the disk store is used and stats say why.

TTL: ANYVIZ_CACHE_TTL_S (default 3600 s). Hits/misses are counted per kernel session.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time

_PREFIX = "anyviz:viz:"
_KEY_OK = re.compile(r"^[0-9a-fA-F]{16,128}$")


def ttl_s() -> float:
    return float(os.environ.get("ANYVIZ_CACHE_TTL_S", "3600") or 3600)


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
            if time.time() - float(entry["t"]) > self.ttl:
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
        self.client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self.client.ping()
        self.hits = self.misses = 0

    def get(self, key: str) -> str | None:
        value = self.client.get(_PREFIX + _safe_key(key))
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        return value.decode("utf-8")

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


_store = None
_store_config = None
_fallback_reason: str | None = None


def store():
    """The configured store (re-created when the environment changes)."""
    global _store, _store_config, _fallback_reason
    config = (os.environ.get("ANYVIZ_REDIS_URL"), os.environ.get("ANYVIZ_CACHE_DIR"),
              os.environ.get("ANYVIZ_CACHE_TTL_S"))
    if _store is None or config != _store_config:
        _fallback_reason = None
        if config[0]:
            try:
                _store = RedisStore(config[0])
            except Exception as exc:  # noqa: BLE001 - fall back, but say why in stats
                _fallback_reason = (f"Redis at {_redact(config[0])} is not usable "
                                    f"({exc.__class__.__name__}: {exc}); using the disk cache")
                _store = DiskStore()
        else:
            _store = DiskStore()
        _store_config = config
    return _store


def get(key: str) -> str | None:
    return store().get(key)


def put(key: str, value: str) -> None:
    store().put(key, value)


def stats() -> dict:
    s = store().stats()
    if _fallback_reason:
        s["warning"] = _fallback_reason
    return s


def clear() -> int:
    return store().clear()
