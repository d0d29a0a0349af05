"""`%load https://...` against a hostile server, through a real kernel: a gzip bomb stops at the
download cap with no big file left, an interrupt cancels a stalled download at once (both
interrupt modes), and redirects from a non-local host into loopback are refused while
loopback-to-loopback redirects still work.
"""
import os
import threading
import time

import pytest
from jupyter_client.manager import KernelManager

from download_server import DownloadServer
from kernel_harness import collect_iopub, execute, requires_anyviz, shell_reply, wait_for_busy

pytestmark = requires_anyviz

CAP_MB = 64


def _start(tmp_path, mode="signal", **env):
    tmpdir = tmp_path / "kernel-tmp"
    tmpdir.mkdir(exist_ok=True)
    km = KernelManager(kernel_name="anyviz")
    km.kernel_spec.interrupt_mode = mode
    km.start_kernel(env={**os.environ, "TMPDIR": str(tmpdir), "ANYVIZ_LLM_PROVIDER": "offline",
                         "ANYVIZ_MAX_DOWNLOAD_MB": str(CAP_MB), **env})
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc, tmpdir


def _stop(km, kc):
    kc.stop_channels()
    km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def server():
    with DownloadServer("0.0.0.0") as s:
        yield s


@pytest.fixture
def kernel(tmp_path):
    km, kc, tmpdir = _start(tmp_path)
    yield km, kc, tmpdir
    _stop(km, kc)


def _wait_until(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def _error_text(result):
    errors = result.of_type("error")
    assert errors, f"expected an error, got {result.outputs}"
    return errors[0]["content"]["evalue"]


def _largest_file_mb(folder):
    sizes = [f.stat().st_size for f in folder.rglob("*") if f.is_file()]
    return max(sizes, default=0) / (1 << 20)


def test_gzip_bomb_stops_at_the_cap_with_no_big_file_left(server, kernel):
    km, kc, tmpdir = kernel
    largest = [0.0]
    stop = threading.Event()

    def watch_disk():
        while not stop.is_set():
            largest[0] = max(largest[0], _largest_file_mb(tmpdir))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch_disk)
    watcher.start()
    try:
        # 1 GiB of CSV sent as ~1 MB of gzip (Content-Encoding), decoded by libcurl.
        result = execute(kc, f"%load http://127.0.0.1:{server.port}/bomb.csv?mb=1024 as bomb", timeout=60)
    finally:
        stop.set()
        watcher.join()
    message = _error_text(result)
    assert f"limit of {CAP_MB} MB" in message and "ANYVIZ_MAX_DOWNLOAD_MB" in message, message
    assert message.count("yourself") == 1, f"advice said once: {message}"
    print(f"largest file on disk during the download: {largest[0]:.1f} MB (cap {CAP_MB} MB)")
    assert largest[0] <= CAP_MB + 1
    assert _largest_file_mb(tmpdir) == 0, "nothing is left behind"
    assert execute(kc, "'bomb' in dir()").result_text() == "False"


def test_under_the_cap_a_compressed_download_loads(server, kernel):
    _, kc, _ = kernel
    result = execute(kc, f"%load http://127.0.0.1:{server.port}/bomb.csv?mb=2 as small", timeout=60)
    assert result.status == "ok", result.outputs
    assert execute(kc, "len(small)").result_text() == str((2 << 20) // 4 - 1)


@pytest.mark.parametrize("mode", ["signal", "message"])
def test_interrupt_cancels_a_stalled_download(server, tmp_path, mode):
    """The transfer stops at once (timed inside the cell, where the KeyboardInterrupt arrives);
    the cell's reply, traceback included, comes long before the 60 s fetch timeout."""
    km, kc, tmpdir = _start(tmp_path, mode)
    try:
        assert execute(kc, "kept = 'still here'").status == "ok"
        # pandas is imported by the first %load; the interrupts below must land in the transfer.
        assert execute(kc, f"%load http://127.0.0.1:{server.port}/data.csv as warm", timeout=60).status == "ok"
        url = f"http://127.0.0.1:{server.port}/slow.csv"
        cells = [
            "import time\ntry:\n    get_ipython().run_line_magic('load', %r)\n"
            "except KeyboardInterrupt:\n    caught = time.monotonic()\n" % f"{url} as slow",
            f"%load {url} as slow",
        ] * 3
        stopped, replied = [], []
        for cell in cells:
            requested = DownloadServer.hits().get("/slow.csv", 0)
            msg_id = kc.execute(cell)
            wait_for_busy(kc, msg_id)
            _wait_until(lambda: DownloadServer.hits().get("/slow.csv", 0) > requested)
            time.sleep(0.3)  # the transfer has started and stalls
            t0 = time.monotonic()
            if mode == "signal":
                km.interrupt_kernel()
            else:
                kc.control_channel.send(kc.session.msg("interrupt_request", content={}))
            reply = shell_reply(kc, msg_id, timeout=65)
            replied.append(time.monotonic() - t0)
            collect_iopub(kc, msg_id, timeout=10)
            if cell.startswith("%load"):
                assert reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
            else:
                assert reply["content"]["status"] == "ok", reply["content"]
                stopped.append(float(execute(kc, "caught").result_text()) - t0)
        print(f"{mode}: download stopped after {[round(x * 1000) for x in stopped]} ms; "
              f"%load reply after {[round(x * 1000) for x in replied]} ms")
        assert max(stopped) < 0.5, stopped
        assert max(replied) < 5, replied
        assert execute(kc, "print(kept)").stream().strip() == "still here"
        assert execute(kc, "'slow' in dir()").result_text() == "False"
        assert _largest_file_mb(tmpdir) == 0
    finally:
        _stop(km, kc)


def test_a_caught_interrupt_does_not_cancel_the_next_download(server, tmp_path):
    km, kc, _ = _start(tmp_path, "message")
    try:
        assert execute(kc, f"%load http://127.0.0.1:{server.port}/data.csv as warm", timeout=60).status == "ok"
        requested = DownloadServer.hits().get("/slow.csv", 0)
        msg_id = kc.execute(
            f"try:\n    %load http://127.0.0.1:{server.port}/slow.csv as slow\n"
            f"except KeyboardInterrupt:\n    print('interrupted')\n"
            f"%load http://127.0.0.1:{server.port}/data.csv as after\n")
        wait_for_busy(kc, msg_id)
        _wait_until(lambda: DownloadServer.hits().get("/slow.csv", 0) > requested)
        time.sleep(0.3)
        kc.control_channel.send(kc.session.msg("interrupt_request", content={}))
        reply = shell_reply(kc, msg_id, timeout=65)
        outputs = collect_iopub(kc, msg_id, timeout=10)
        assert reply["content"]["status"] == "ok", reply["content"]
        assert "interrupted" in "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
        assert execute(kc, "len(after)").result_text() == "2"
    finally:
        _stop(km, kc)


def test_loopback_to_loopback_redirect_is_followed(server, kernel):
    _, kc, _ = kernel
    target = f"http://127.0.0.1:{server.port}/data.csv"
    result = execute(kc, f"%load http://127.0.0.1:{server.port}/redirect?to={target} as cities", timeout=60)
    assert result.status == "ok", result.outputs
    assert execute(kc, "list(cities['city'])").result_text() == "['Oslo', 'Bergen']"


def _public_looking_local_address():
    """An address of this machine outside the refused ranges (e.g. 192.0.2.x), if any."""
    import ipaddress
    import subprocess

    try:
        words = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout.split()
    except OSError:
        return None
    refused = [ipaddress.ip_network(n) for n in ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
                                                 "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16")]
    for word in words:
        try:
            address = ipaddress.ip_address(word)
        except ValueError:
            continue
        if address.version == 4 and not any(address in net for net in refused):
            return str(address)
    return None


PUBLIC_HOST = _public_looking_local_address()
# A proxy on 127.0.0.2 answers for a made-up public host: works on any machine. Where this
# machine has an address outside the private ranges, the redirect is also tested without a proxy.
ORIGINS = ["proxy"] + (["direct"] if PUBLIC_HOST else [])


@pytest.mark.parametrize("origin", ORIGINS)
def test_redirect_from_a_public_host_into_loopback_is_refused(server, tmp_path, origin):
    target = f"http://127.0.0.1:{server.port}/data.csv"
    before = DownloadServer.hits().get("/data.csv", 0)
    # The download server on 127.0.0.2 also serves as an HTTP proxy (absolute-form requests).
    with DownloadServer("127.0.0.2") as proxy:
        env = {}
        if origin == "proxy":
            env = {"http_proxy": f"http://127.0.0.2:{proxy.port}"}
            host = "data.example.com"
        else:
            host = f"{PUBLIC_HOST}:{server.port}"
        km, kc, _ = _start(tmp_path, **env)
        try:
            if origin == "direct":
                # The public-looking host itself is reachable: only the redirect is refused.
                ok = execute(kc, f"%load http://{host}/data.csv as direct", timeout=60)
                assert ok.status == "ok", ok.outputs
                before = DownloadServer.hits().get("/data.csv", 0)
            result = execute(kc, f"%load http://{host}/redirect?to={target} as stolen", timeout=60)
        finally:
            _stop(km, kc)
    message = _error_text(result)
    assert "refused" in message and "127.0.0.1" in message, message
    assert "ANYVIZ_ALLOW_PRIVATE_REDIRECTS" in message
    assert DownloadServer.hits().get("/data.csv", 0) == before, "the loopback resource was never requested"


def test_only_web_schemes_are_fetched(server, kernel):
    _, kc, _ = kernel
    result = execute(kc, "%load ftp://127.0.0.1/data.csv as f", timeout=30)
    assert "Only http:// and https://" in _error_text(result)
    result = execute(kc, f"%load http://127.0.0.1:{server.port}/redirect?to=file:///etc/passwd as f", timeout=30)
    assert "Only http:// and https://" in _error_text(result)
