"""A hostile HTTP server for download tests (Swift unit tests and kernel tests).

Routes (GET):
  /data.csv                 a small CSV
  /bomb.csv?mb=N            `Content-Encoding: gzip`, ~N/1000 MB on the wire, N MiB decoded
  /slow.csv                 headers, one line, then nothing for 120 s
  /redirect?to=URL          302 to URL
  /hits                     how many requests each path got (JSON), to see what was fetched

Run as a script it binds `--host` (default 127.0.0.1) on a free port, prints the port and
serves until stdin closes (so a test that dies leaves no server behind).
"""
import argparse
import json
import struct
import sys
import threading
import time
import urllib.parse
import zlib
from collections import Counter
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CSV = b"city,population\nOslo,709000\nBergen,286000\n"
LINE = b"1,2\n"


@lru_cache(maxsize=4)
def gzip_bomb(mib):
    """A CSV of `mib` MiB (header `a,b`, then `1,2` rows) as one gzip stream (about 1000:1),
    built without compressing every MiB: after a full flush deflate starts afresh, so each
    further MiB of rows is the same compressed block."""
    first = b"a,b\n" + LINE * ((1 << 20) // len(LINE) - 1)
    rest = LINE * ((1 << 20) // len(LINE))
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = deflate.compress(first) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(rest) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(first)
    for _ in range(mib - 1):
        crc = zlib.crc32(rest, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF)
    return header + head + block * (mib - 1) + deflate.flush() + trailer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits = Counter()

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        Handler.hits[url.path] += 1
        if url.path == "/data.csv":
            self._send(200, CSV, "text/csv")
        elif url.path == "/bomb.csv":
            body = gzip_bomb(int(query.get("mb", "1024")))
            self._send(200, body, "text/csv", {"Content-Encoding": "gzip"})
        elif url.path == "/slow.csv":
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"a,b\n")
            self.wfile.flush()
            time.sleep(120)
        elif url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query["to"])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path == "/hits":
            self._send(200, json.dumps(dict(Handler.hits)).encode(), "application/json")
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (download cap, interrupt): expected


class DownloadServer:
    """The server on a thread, for Python tests: `with DownloadServer("0.0.0.0") as s: s.port`."""

    def __init__(self, host="127.0.0.1"):
        ThreadingHTTPServer.daemon_threads = True
        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    @staticmethod
    def hits():
        return dict(Handler.hits)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    with DownloadServer(args.host) as server:
        print(server.port, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
