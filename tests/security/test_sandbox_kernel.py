"""The chart sandbox through a real AnyViz kernel: the scripted fake LLM answers `%viz` with
code that tries to leave the sandbox, then (as the repair) with good code. For every escape:
nothing ran (no marker file, no shell output, no connection), the kernel is alive, its frame
unchanged, no secret reached an output or the LLM, every process the chart started is gone,
and a normal chart is still shown.

Processes are traced by a marker word put into ANYVIZ_SANDBOX_SIMULATE_MISSING (unknown words
are ignored): the kernel passes it to the sandbox worker, and every process forked from there
carries it in /proc/<pid>/environ, whatever session or parent it ends up with.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid

import pytest

from fakellm import FakeLLM
from kernel_harness import execute, requires_anyviz

pytestmark = requires_anyviz

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Sources", "AnyVizPython", "Resources"))
from anyviz.viz import sandbox  # noqa: E402

PLOTLY = "application/vnd.plotly.v1+json"
API_KEY = "sk-test-SANDBOX-5e1d-do-not-leak"
OPT = "pd.compat._optional.import_optional_dependency"
GOOD_CODE = ("totals = df.groupby('continent', as_index=False)['pop'].sum()\n"
             "fig = px.bar(totals, x='continent', y='pop', title='Population by continent')")
SETUP = ("import plotly.data\ndf = plotly.data.gapminder()\ndf_copy = df.copy(deep=True)")


def reply(code):
    return json.dumps({"code": code, "explanation": "A chart.", "alternatives": []})


class Kernel:
    """An AnyViz kernel with its own environment and a marker to find its processes by."""

    def __init__(self, llm, *simulate, **env):
        from jupyter_client.manager import KernelManager

        self.marker = f"anyvizmark{uuid.uuid4().hex[:12]}"
        self.cache = tempfile.mkdtemp(prefix="anyviz-sandbox-cache-")
        full = {**os.environ, "ANYVIZ_LLM_PROVIDER": "openai",
                "ANYVIZ_LLM_BASE_URL": llm.base_url, "ANYVIZ_LLM_API_KEY": API_KEY,
                "ANYVIZ_LLM_MODEL": "fake-model", "ANYVIZ_LLM_TIMEOUT_S": "2",
                "ANYVIZ_LLM_RETRIES": "1", "ANYVIZ_CACHE_DIR": self.cache,
                "ANYVIZ_GUARD_TIMEOUT_S": "5", "ANYVIZ_REDIS_URL": "",
                "GEMINI_API_KEY": API_KEY, "OPENAI_API_KEY": API_KEY,
                "ANYVIZ_SANDBOX_SIMULATE_MISSING": ",".join((*simulate, self.marker))}
        full.update(env)
        self.km = KernelManager(kernel_name="anyviz")
        self.km.start_kernel(env=full)
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=60)
        except Exception:
            self.stop()
            raise
        self.ok(SETUP)

    @property
    def pid(self):
        return self.km.provisioner.process.pid

    def run(self, code, timeout=90):
        return execute(self.kc, code, timeout=timeout)

    def ok(self, code):
        res = self.run(code)
        assert res.status == "ok", res.content
        return res

    def value(self, expr):
        return self.ok(expr).result_text()

    def stop(self, now=True):
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=now)
            shutil.rmtree(self.cache, ignore_errors=True)


def marked(marker):
    """(pid, ppid, cmdline) of every process whose environment carries the marker."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker.encode() not in f.read():
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/status") as f:
                ppid = int(next(line for line in f if line.startswith("PPid:")).split()[1])
        except (OSError, StopIteration, ValueError):
            continue
        found.append((int(entry), ppid, cmd))
    return found


def workers(k):
    return [p for p in marked(k.marker) if "guard_worker.py" in p[2]]


def assert_only_zygote_left(k):
    """Only the kernel's one sandbox worker is left: no chart process, no grandchild."""
    deadline = time.monotonic() + 3
    while True:
        left = workers(k)
        if len(left) == 1 and left[0][1] == k.pid:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"processes outlived the chart: {left}")
        time.sleep(0.05)


def charts(res):
    return [m["content"]["data"][PLOTLY] for m in res.outputs
            if m["msg_type"] in ("display_data", "update_display_data")
            and PLOTLY in m["content"]["data"]]


def info(res):
    return "\n".join(m["content"]["data"].get("text/plain", "") for m in res.outputs
                     if m["msg_type"] in ("display_data", "update_display_data")
                     and PLOTLY not in m["content"]["data"])


def assert_kernel_fine(k, res, llm):
    assert k.km.is_alive(), "the kernel died"
    assert res.status == "ok", res.content
    assert charts(res), f"no chart shown: {info(res)}"
    assert k.value("df.equals(df_copy) and list(df.columns) == list(df_copy.columns)") == "True"
    everything = json.dumps([m["content"] for m in res.outputs])
    assert API_KEY not in everything
    assert all(API_KEY not in json.dumps(r["body"]) for r in llm.requests
               if r["kind"] in ("openai", "gemini"))
    assert_only_zygote_left(k)


def viz(k, llm, hostile, label, repairs=1):
    llm.reset()
    llm.script([{"reply": reply(hostile)}] + [{"reply": reply(GOOD_CODE)}] * repairs)
    return k.run(f"%viz --df df --no-cache population by continent ({label})")


@pytest.fixture(scope="module")
def llm():
    with FakeLLM() as server:
        yield server


@pytest.fixture
def mark_path():
    path = os.path.join(tempfile.gettempdir(), f"anyviz-kescape-{uuid.uuid4().hex}")
    yield path
    if os.path.exists(path):
        os.unlink(path)


def _exec_hidden(code: str) -> str:
    """Chart code that runs `code` through builtins.exec; dunders are spelled `@x@` so the
    text passes the static check (which is advice, not the boundary)."""
    return (f"b = {OPT}('builtins')\n"
            f"b.exec({code!r}.replace('@', '_' * 2))")


ESCAPES = {
    "optional_dependency_os": f"{OPT}('os').system('touch {{mark}}')",
    "optional_dependency_posixsubprocess":
        f"ps = {OPT}('_posixsubprocess')\nps.fork_exec(['/bin/sh', '-c', 'touch {{mark}}'])",
    "import_module_subprocess": f"{OPT}('subprocess').run(['touch', '{{mark}}'])",
    "sys_modules_subprocess": f"{OPT}('sys').modules['subprocess'].run(['touch', '{{mark}}'])",
    "sys_modules_posix": f"{OPT}('sys').modules['posix'].system('touch {{mark}}')",
    "optional_dependency_gc": f"objs = {OPT}('gc').get_referrers(df)",
    "importlib_import_module": _exec_hidden(
        "pd.compat._optional.importlib.import_module('subprocess').run(['touch', '{mark}'])"),
    "dunder_import_via_catch_warnings": _exec_hidden(
        "b2 = pd.compat._optional.warnings.catch_warnings()._module.@builtins@\n"
        "b2['@import@']('os').system('touch {mark}')"),
    "subclasses_walk_wrap_close": _exec_hidden(
        "w = [c for c in ().@class@.@base@.@subclasses@() if c.@name@ == '_wrap_close'][0]\n"
        "w.@init@.@globals@['system']('touch {mark}')"),
}


@pytest.fixture(scope="module")
def sandboxed(llm):
    k = Kernel(llm)
    yield k
    k.stop()


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_escape_is_stopped_and_a_chart_still_shown(sandboxed, llm, mark_path, name):
    code = ESCAPES[name].format(mark=mark_path) + "\nfig = px.bar(x=['a'], y=[1])"
    res = viz(sandboxed, llm, code, name)
    assert not os.path.exists(mark_path), f"{name}: a process ran"
    assert_kernel_fine(sandboxed, res, llm)
    assert len([r for r in llm.requests if r["kind"] == "openai"]) == 2, \
        f"{name}: the hostile code was accepted as a chart"


def test_environment_read_holds_no_key(sandboxed, llm):
    code = (f"env = dict({OPT}('os').environ)\n"
            "fig = px.bar(x=list(env) or ['none'], y=[1] * max(1, len(env)), title=repr(env))")
    res = viz(sandboxed, llm, code, "environ")
    assert_kernel_fine(sandboxed, res, llm)
    assert "ANYVIZ_LLM" not in json.dumps([m["content"] for m in res.outputs])


def test_killed_chart_process_is_reported_as_killed(sandboxed, llm):
    k = sandboxed

    def kill_chart_when_it_runs():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            zygotes = [p for p in workers(k) if p[1] == k.pid]
            charts_ = [p for p in workers(k) if zygotes and p[1] == zygotes[0][0]]
            if charts_:
                time.sleep(0.3)
                os.kill(charts_[0][0], signal.SIGKILL)  # what the OOM killer does
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_chart_when_it_runs)
    killer.start()
    res = viz(k, llm, "while True:\n    pass", "killed")
    killer.join()
    assert_kernel_fine(k, res, llm)
    repair = [r for r in llm.requests if r["kind"] == "openai"][1]
    text = json.dumps(repair["body"]) + info(res)
    assert "killed (signal 9; likely memory limit)" in text
    assert "longer than" not in text


@pytest.fixture(scope="module")
def kernel_layers_only(llm):
    """Python layers (audit hook, import blocks) off: only the OS stops the code."""
    k = Kernel(llm, "python")
    yield k
    k.stop()


def test_fork_exec_of_a_shell_runs_nothing(kernel_layers_only, llm, mark_path):
    k = kernel_layers_only
    for label, code in (
            ("sh", f"{OPT}('subprocess').run(['/bin/sh', '-c', 'touch {mark_path}'])"),
            ("id", f"out = {OPT}('subprocess').check_output(['/usr/bin/id'])\n"
                   "fig = px.bar(x=['id'], y=[1], title=out.decode())"),
            ("fork", f"pid = {OPT}('os').fork()")):
        res = viz(k, llm, code + "\nfig = px.bar(x=['a'], y=[1])", label)
        assert not os.path.exists(mark_path)
        # `id` prints e.g. "uid=0(root)"; plotly.js itself contains "uid=" (no digits).
        assert not re.search(r"uid=\d+\(", json.dumps([m["content"] for m in res.outputs]))
        assert_kernel_fine(k, res, llm)
        assert len([r for r in llm.requests if r["kind"] == "openai"]) == 2, label


def test_local_unix_socket_is_unreachable(kernel_layers_only, llm):
    path = os.path.join(tempfile.gettempdir(), f"anyviz-{uuid.uuid4().hex[:8]}.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    os.chmod(path, 0o777)  # only the sandbox may say no, not file permissions
    server.listen(1)
    server.settimeout(0.3)
    try:
        code = (f"sk = {OPT}('socket')\ns = sk.socket(sk.AF_UNIX)\ns.connect({path!r})\n"
                "s.sendall(b'hello')\nfig = px.bar(x=['a'], y=[1])")
        res = viz(kernel_layers_only, llm, code, "unix")
        assert_kernel_fine(kernel_layers_only, res, llm)
        with pytest.raises(socket.timeout):
            server.accept()
    finally:
        server.close()
        os.unlink(path)


@pytest.fixture(scope="module")
def without_seccomp(llm):
    """Seccomp and the Python layers off, the user opted out of the requirement: what is left
    (pid namespace, RLIMIT_NPROC, session kill) must still bound and clean up processes."""
    k = Kernel(llm, "python", "seccomp", ANYVIZ_SANDBOX="off")
    yield k
    k.stop()


FORK_BOMB = (f"o = {OPT}('os')\nt = {OPT}('time')\nn = 0\n"
             "try:\n"
             "    for i in range(2000):\n"
             "        pid = o.fork()\n"
             "        if pid == 0:\n"
             "            o.setsid()\n"
             "            t.sleep(120)\n"
             "            o._exit(0)\n"
             "        n += 1\n"
             "except OSError:\n"
             "    pass\n"
             "fig = px.bar(x=['forks'], y=[n], title='forks ' + str(n))")


def test_fork_bomb_is_bounded_and_gone_after_the_chart(without_seccomp, llm):
    llm.reset()
    llm.script([{"reply": reply(FORK_BOMB)}])
    res = without_seccomp.run("%viz --df df --no-cache fork bomb")
    assert res.status == "ok"
    (fig,) = charts(res)
    n = int(fig["layout"]["title"]["text"].split()[-1])
    assert 0 < n < sandbox.nproc_limit()
    assert_only_zygote_left(without_seccomp)
    res = viz(without_seccomp, llm, "fig = None", "after the bomb")
    assert_kernel_fine(without_seccomp, res, llm)


def test_setsid_sleeper_is_gone_after_the_chart(without_seccomp, llm):
    code = (f"o = {OPT}('os')\nt = {OPT}('time')\npid = o.fork()\n"
            "if pid == 0:\n    o.setsid()\n    if o.fork() == 0:\n        t.sleep(120)\n"
            "    o._exit(0)\nt.sleep(0.3)\n"
            "fig = px.bar(x=['child'], y=[1], title='forked ' + str(pid > 0))")
    llm.reset()
    llm.script([{"reply": reply(code)}])
    res = without_seccomp.run("%viz --df df --no-cache setsid")
    (fig,) = charts(res)
    assert fig["layout"]["title"]["text"] == "forked True"  # the sleeper did exist
    assert_only_zygote_left(without_seccomp)


def test_missing_landlock_refuses_llm_code_and_the_planner_draws(llm, mark_path):
    k = Kernel(llm, "landlock")
    try:
        code = f"{OPT}('os').system('touch {mark_path}')\n" + GOOD_CODE
        res = viz(k, llm, code, "no landlock", repairs=3)
        assert k.km.is_alive() and res.status == "ok"
        assert charts(res), "the planner should have drawn the chart"
        note = info(res)
        assert "Landlock" in note and "ANYVIZ_SANDBOX=off" in note
        assert len(llm.requests) == 1, "no repair round can help without a sandbox"
        assert not os.path.exists(mark_path)
        assert k.value("df.equals(df_copy)") == "True"
        # Changing the planner's chart offline is planner code too: it is not refused.
        llm.reset()
        res = k.run("%customize dark theme")
        assert res.status == "ok" and charts(res), info(res)
        assert "not run" not in info(res)
    finally:
        k.stop()


@pytest.mark.parametrize("now", [True, False], ids=["killed", "shutdown"])
def test_no_chart_process_outlives_the_kernel(llm, now):
    k = Kernel(llm, "python", "seccomp", ANYVIZ_SANDBOX="off", ANYVIZ_GUARD_TIMEOUT_S="60")
    try:
        llm.reset()
        llm.script([{"reply": reply("while True:\n    pass")}])
        k.kc.execute("%viz --df df --no-cache forever")
        deadline = time.monotonic() + 30
        while len(workers(k)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # the worker and its running chart
        assert len(workers(k)) >= 2
    finally:
        k.stop(now=now)
    deadline = time.monotonic() + 10
    while marked(k.marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marked(k.marker) == []
