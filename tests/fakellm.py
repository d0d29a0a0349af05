#!/usr/bin/env python3
"""A loopback fake LLM server speaking the real Gemini and OpenAI wire formats.

Tests need an LLM that is fast, deterministic, offline and able to misbehave on cue (rate
limits, server errors, hangs, garbage, empty answers). This server answers
``POST .../models/MODEL:generateContent`` in Gemini's format and ``POST .../chat/completions`` in
OpenAI's, following a script of steps shared by both endpoints.

In-process (pytest)::

    with FakeLLM() as llm:
        llm.script([{"status": 429}, {"reply": "fig = ..."}])
        ...  # point a client at llm.base_url (OpenAI) or llm.gemini_base_url (Gemini)
        llm.requests  # [{"method", "path", "headers", "body", "kind", "step"}, ...]

As a command (Swift tests, kernel tests)::

    python tests/fakellm.py --port 0 --script script.json --log log.jsonl

prints its port alone on the first stdout line, then serves until SIGTERM/SIGINT or until stdin
reaches EOF when ``--exit-on-stdin-eof`` is given (so a crashed parent never leaks a server).

Script steps (a JSON list; when the script runs out the last step repeats; no script means
``{"reply": "ok"}``):

``{"reply": TEXT}``
    200 with TEXT wrapped in the wire format of the endpoint that was hit.
``{"status": 429|500|..., "body": ANY, "headers": {...}}``
    that status; ``body`` is sent as JSON if it is not a string; without ``body`` a realistic
    ``{"error": {"code", "message", "status"}}`` object is sent.
``{"hang": SECONDS}``
    wait (interruptibly, the server can still shut down) then answer with ``reply`` from the
    same step if given, else the text ``late reply``.
``{"garbage": TEXT}``
    200 with ``Content-Type: application/json`` and TEXT as the raw body.
``{"empty": true}``
    200 in the right wire format but with no text (Gemini: no parts; OpenAI: empty content).

Every request is logged with method, path, all headers (names lower-cased, since clients differ
in capitalisation; nothing redacted: tests check that the
API key travels only in a header and never inside the prompt), the parsed JSON body (or the
raw text under ``raw_body`` when it is not JSON) and which step answered it.

Besides the LLM endpoints:

``GET /bytes/N``
    N bytes of a fixed repeating pattern (for download tests); ``GET /status/N`` answers N.
``POST /_fake/script`` (JSON list)
    replace the script and restart it; ``GET /_fake/requests`` returns the log;
    ``POST /_fake/reset`` clears the log and the script.
"""
from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATTERN = b"anyviz-download-0123456789\n"
GEMINI_PATH = re.compile(r"^/(?P<prefix>[^?]*?)/models/(?P<model>[^/:?]+):generateContent(\?.*)?$")
OPENAI_PATH = re.compile(r"^/(?P<prefix>[^?]*?)/?chat/completions(\?.*)?$")
MAX_BYTES = 64 * 1024 * 1024

STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "BAD_GATEWAY", 503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def pattern_bytes(n: int) -> bytes:
    """The deterministic download payload: PATTERN repeated and cut to n bytes."""
    reps = n // len(PATTERN) + 1
    return (PATTERN * reps)[:n]


def gemini_reply(text: str | None, model: str) -> dict:
    parts = [] if text is None else [{"text": text}]
    return {
        "candidates": [{
            "content": {"role": "model", "parts": parts},
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2},
        "modelVersion": model,
    }


def openai_reply(text: str | None, model: str) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "" if text is None else text},
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def error_body(kind: str, status: int) -> dict:
    """What the real services send with an error status (both use an "error" object)."""
    message = f"fake {STATUS_NAMES.get(status, 'ERROR').lower()} (HTTP {status})"
    if kind == "openai":
        return {"error": {"message": message, "type": "fake_error", "code": status}}
    return {"error": {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN")}}


class FakeLLM:
    """The server plus its script and request log; thread-safe, usable as a context manager."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", log_path: str | None = None,
                 require_key: str | None = None):
        self._lock = threading.Lock()
        self._steps: list[dict] = []
        self._next = 0
        self._requests: list[dict] = []
        self._stopping = threading.Event()
        self._log_path = log_path
        self._log_file = open(log_path, "a", encoding="utf-8") if log_path else None
        self.require_key = require_key
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Base URL for an OpenAI-compatible client (it appends /chat/completions)."""
        return f"{self.url}/v1"

    @property
    def gemini_base_url(self) -> str:
        """Base URL for a Gemini client (it appends /models/MODEL:generateContent)."""
        return f"{self.url}/v1beta"

    def start(self) -> "FakeLLM":
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fakellm", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging handlers
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> "FakeLLM":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- script and log --------------------------------------------------------------------
    def script(self, steps: list[dict]) -> None:
        """Replace the script; the next LLM request gets steps[0]."""
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            raise ValueError("a script is a list of step objects, e.g. [{\"reply\": \"...\"}]")
        for step in steps:
            _validate_step(step)
        with self._lock:
            self._steps = list(steps)
            self._next = 0

    def reset(self) -> None:
        with self._lock:
            self._steps = []
            self._next = 0
            self._requests = []

    @property
    def requests(self) -> list[dict]:
        with self._lock:
            return list(self._requests)

    def _take_step(self) -> tuple[int, dict]:
        with self._lock:
            if not self._steps:
                return -1, {"reply": "ok"}
            index = min(self._next, len(self._steps) - 1)
            self._next += 1
            return index, self._steps[index]

    def _record(self, entry: dict) -> None:
        with self._lock:
            self._requests.append(entry)
            if self._log_file is not None:
                self._log_file.write(json.dumps(entry) + "\n")
                self._log_file.flush()

    def _wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if the server is shutting down instead."""
        return self._stopping.wait(seconds)


def _validate_step(step: dict) -> None:
    known = {"reply", "status", "hang", "garbage", "empty"}
    if not known & step.keys():
        raise ValueError(f"unknown script step {step!r}: use one of reply/status/hang/garbage/empty")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeLLM/1.0"

    @property
    def fake(self) -> FakeLLM:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format, *args):  # noqa: A002 - quiet: the request log is the record
        pass

    # -- helpers ---------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, str(value))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout/cancel): nothing to answer

    def _send_json(self, status: int, obj, headers: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers=headers)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _entry(self, raw: bytes, kind: str) -> dict:
        entry = {"method": self.command, "path": self.path, "kind": kind,
                 "headers": {k.lower(): v for k, v in self.headers.items()}, "time": time.time()}
        if raw:
            try:
                entry["body"] = json.loads(raw)
            except ValueError:
                entry["raw_body"] = raw.decode("utf-8", "replace")
        else:
            entry["body"] = None
        return entry

    # -- verbs -----------------------------------------------------------------------------
    def do_GET(self):  # noqa: N802
        if self.path == "/_fake/requests":
            self._send_json(200, self.fake.requests)
            return
        self.fake._record(self._entry(b"", "get"))
        match = re.match(r"^/bytes/(\d+)$", self.path)
        if match and int(match.group(1)) <= MAX_BYTES:
            self._send(200, pattern_bytes(int(match.group(1))), "application/octet-stream")
            return
        match = re.match(r"^/status/(\d{3})$", self.path)
        if match:
            code = int(match.group(1))
            self._send_json(code, error_body("gemini", code) if code >= 400 else {"status": code})
            return
        self._send_json(404, {"error": {"code": 404, "message": f"no such path {self.path}"}})

    def do_POST(self):  # noqa: N802
        raw = self._read_body()
        if self.path.startswith("/_fake/"):
            self._control(raw)
            return
        gemini = GEMINI_PATH.match(self.path)
        openai = OPENAI_PATH.match(self.path)
        kind = "gemini" if gemini else "openai" if openai else "unknown"
        entry = self._entry(raw, kind)
        if kind == "unknown":
            self.fake._record(entry)
            self._send_json(404, {"error": {"code": 404, "message": f"no LLM endpoint at {self.path}"}})
            return
        if self.fake.require_key is not None:
            sent = (self.headers.get("x-goog-api-key") if kind == "gemini"
                    else (self.headers.get("Authorization") or "").removeprefix("Bearer "))
            if sent != self.fake.require_key:
                entry["step"] = "auth"
                self.fake._record(entry)
                self._send_json(401 if kind == "openai" else 403, error_body(kind, 401 if kind == "openai" else 403))
                return
        index, step = self.fake._take_step()
        entry["step"] = index
        self.fake._record(entry)
        model = gemini.group("model") if gemini else (entry.get("body") or {}).get("model", "fake")
        self._answer(kind, model, step)

    def _answer(self, kind: str, model: str, step: dict) -> None:
        wrap = gemini_reply if kind == "gemini" else openai_reply
        if "hang" in step:
            if self.fake._wait(float(step["hang"])):
                return  # shutting down
            self._send_json(200, wrap(step.get("reply", "late reply"), model))
        elif "status" in step:
            status = int(step["status"])
            body = step.get("body", error_body(kind, status))
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self._send(status, data, headers=step.get("headers"))
        elif "garbage" in step:
            self._send(200, str(step["garbage"]).encode())
        elif step.get("empty"):
            self._send_json(200, wrap(None, model))
        else:
            self._send_json(200, wrap(str(step["reply"]), model))

    def _control(self, raw: bytes) -> None:
        try:
            if self.path == "/_fake/script":
                self.fake.script(json.loads(raw or b"[]"))
            elif self.path == "/_fake/reset":
                self.fake.reset()
            else:
                self._send_json(404, {"error": {"message": f"no control endpoint {self.path}"}})
                return
        except ValueError as exc:
            self._send_json(400, {"error": {"message": str(exc)}})
            return
        self._send_json(200, {"ok": True})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Loopback fake Gemini/OpenAI server for tests.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed first)")
    parser.add_argument("--script", help="JSON file with a list of steps")
    parser.add_argument("--log", help="append one JSON line per request to this file")
    parser.add_argument("--require-key", help="answer 401/403 unless this API key is sent")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="stop when stdin closes (the parent process died)")
    args = parser.parse_args(argv)

    fake = FakeLLM(port=args.port, log_path=args.log, require_key=args.require_key)
    if args.script:
        with open(args.script, encoding="utf-8") as fh:
            fake.script(json.load(fh))
    done = threading.Event()

    def stop(*_):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    fake.start()
    print(fake.port, flush=True)
    if args.exit_on_stdin_eof:
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    while not done.wait(0.2):
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
