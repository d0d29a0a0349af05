"""The Python download policy used by `%load_ext anyviz` (no native libcurl service)."""
import http.server
import os
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Sources", "AnyVizPython",
                                "Resources"))
from anyviz import download  # noqa: E402


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path == "/big":
            self.send_response(200)
            self.end_headers()
            for _ in range(4):
                self.wfile.write(b"x" * (1 << 20))
        elif self.path.startswith("/to/"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/to/"):])
            self.end_headers()
        else:
            body = b"a,b\n1,2\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_small_file_downloads(server, tmp_path):
    out = tmp_path / "a.csv"
    reply = download.fetch(server + "/a.csv", str(out), 5)
    assert reply["status"] == "ok" and out.read_bytes() == b"a,b\n1,2\n"


def test_cap_stops_the_download_and_leaves_no_file(server, tmp_path, monkeypatch):
    monkeypatch.setenv("ANYVIZ_MAX_DOWNLOAD_MB", "2")
    out = tmp_path / "big"
    reply = download.fetch(server + "/big", str(out), 5)
    assert reply["status"] == "error" and "ANYVIZ_MAX_DOWNLOAD_MB" in reply["message"]
    assert not out.exists()


def test_only_http_schemes(tmp_path):
    reply = download.fetch("file:///etc/passwd", str(tmp_path / "p"), 5)
    assert reply["status"] == "error" and "http://" in reply["message"]


def test_redirect_to_another_scheme_refused(server, tmp_path):
    reply = download.fetch(server + "/to/file:///etc/passwd", str(tmp_path / "p"), 5)
    assert reply["status"] == "error" and "http://" in reply["message"]
    assert not (tmp_path / "p").exists()


def test_loopback_to_loopback_redirect_is_followed(server, tmp_path):
    reply = download.fetch(server + "/to/" + server + "/a.csv", str(tmp_path / "a"), 5)
    assert reply["status"] == "ok"


def test_public_host_may_not_redirect_inside(monkeypatch):
    """A public origin's redirect into loopback space is refused at the hop."""
    policy = download._RedirectPolicy(internal_allowed=False)
    with pytest.raises(download.DownloadRefused, match="loopback or private"):
        policy.redirect_request(None, None, 302, "Found", {}, "http://127.0.0.1:9/secret")
    with pytest.raises(download.DownloadRefused, match="loopback or private"):
        policy.redirect_request(None, None, 302, "Found", {}, "http://169.254.169.254/meta")
