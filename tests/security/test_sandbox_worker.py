"""The chart sandbox, driven directly through `anyviz.viz.guard.Guard` (a real worker process,
real forked chart children, no kernel): every known escape ends in a refusal, the kernel
layers hold even with the Python layers switched off, every process chart code starts is gone
when the chart ends, and a machine without Landlock refuses LLM code unless the user opts in.

Processes are found by a unique marker put into the worker's environment (through
ANYVIZ_SANDBOX_SIMULATE_MISSING, whose unknown words are ignored): every process the worker
forks carries it in /proc/<pid>/environ, whatever session or parent it ends up with.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import numpy as np
import pandas as pd
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESOURCES = os.path.join(ROOT, "Sources", "AnyVizPython", "Resources")
sys.path.insert(0, RESOURCES)

from anyviz.viz import guard, sandbox  # noqa: E402

OPT = "pd.compat._optional.import_optional_dependency"
PLOT = "\nfig = px.bar(df, x='c', y='a')"
SECRET = "sk-sandbox-test-SECRET-91c2"


@pytest.fixture(scope="module")
def df():
    return pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 7,
                         "c": list("xyzuv") * 10})


def marked_processes(marker: str) -> list[int]:
    """Pids whose environment carries `marker` (the worker and everything it forked)."""
    found = []
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


@contextlib.contextmanager
def worker(*simulate: str, **env):
    """A Guard whose worker runs with ANYVIZ_SANDBOX_SIMULATE_MISSING=<simulate + marker>."""
    marker = f"anyvizmark{uuid.uuid4().hex[:12]}"
    saved = dict(os.environ)
    os.environ["ANYVIZ_SANDBOX_SIMULATE_MISSING"] = ",".join((*simulate, marker))
    os.environ["GEMINI_API_KEY"] = SECRET
    os.environ["ANYVIZ_LLM_API_KEY"] = SECRET
    os.environ.update(env)
    g = guard.Guard()
    try:
        g.start()
        g._ensure_ready()
        g.marker = marker
        yield g
    finally:
        g.stop()
        os.environ.clear()
        os.environ.update(saved)
    deadline = time.monotonic() + 5
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marked_processes(marker) == [], "a worker process outlived Guard.stop()"


def run(g, df, code, **kw):
    before = df.copy(deep=True)
    r = g.run(code, {"df": df}, static=False, **kw)
    pd.testing.assert_frame_equal(df, before)  # the session's frame never changes
    return r


def only_zygote_left(g) -> None:
    """After a chart, the zygote is the only marked process (its chart children are gone)."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        left = marked_processes(g.marker)
        if left == [g.pid]:
            return
        time.sleep(0.05)
    assert marked_processes(g.marker) == [g.pid], "chart processes outlived the chart"


def assert_plotting_works(g, df, untrusted=True):
    r = g.run("agg = df.groupby('c', as_index=False)['a'].sum()\n"
              "fig = px.bar(agg, x='c', y='a', title='after')", {"df": df}, untrusted=untrusted)
    assert r.status == "ok", r.message
    assert r.figure["layout"]["title"]["text"] == "after"


@pytest.fixture
def mark_path():
    path = os.path.join(tempfile.gettempdir(), f"anyviz-escape-{uuid.uuid4().hex}")
    yield path
    if os.path.exists(path):
        os.unlink(path)


# ------------------------------------------------------------------ Python-level escapes
def _subclass_walk(call: str) -> str:
    """Code that finds os._wrap_close through object.__subclasses__() and calls os via its
    function globals (the classic escape from restricted builtins)."""
    return ("w = [c for c in ().__class__.__base__.__subclasses__() "
            "if c.__name__ == '_wrap_close'][0]\n"
            f"w.__init__.__globals__{call}")


ESCAPES = {
    "optional_dependency_os": f"{OPT}('os').system('touch {{mark}}')",
    "optional_dependency_posixsubprocess":
        f"ps = {OPT}('_posixsubprocess')\nps.fork_exec(['/bin/sh', '-c', 'touch {{mark}}'])",
    "optional_dependency_subprocess": f"{OPT}('subprocess').run(['touch', '{{mark}}'])",
    "optional_dependency_gc": f"objs = {OPT}('gc').get_objects()",
    "import_module_subprocess":
        "pd.compat._optional.importlib.import_module('subprocess').run(['touch', '{mark}'])",
    "import_module_posix_fork": "pd.compat._optional.importlib.import_module('posix').fork()",
    "dunder_import_subprocess":
        "b = pd.compat._optional.warnings.catch_warnings()._module.__builtins__\n"
        "b['__import__']('subprocess').call(['touch', '{mark}'])",
    "dunder_import_os_spawn":
        "b = pd.compat._optional.warnings.catch_warnings()._module.__builtins__\n"
        "b['__import__']('os').posix_spawn('/usr/bin/touch', ['touch', '{mark}'], dict())",
    "sys_modules_posixsubprocess":
        f"m = {OPT}('sys').modules\nm['_posixsubprocess'].fork_exec(['/bin/sh'])",
    "sys_modules_posix_system": f"{OPT}('sys').modules['posix'].system('touch {{mark}}')",
    "subclasses_wrap_close_system": _subclass_walk("['system']('touch {mark}')"),
    "subclasses_wrap_close_fork": _subclass_walk("['fork']()"),
    "builtin_importer_fresh_posixsubprocess":
        "il = pd.compat._optional.importlib\n"
        "spec = il.machinery.BuiltinImporter.find_spec('_posixsubprocess')\n"
        "ps = il.util.module_from_spec(spec)\nps.fork_exec(['/bin/sh'])",
    "ctypes_via_sys_modules": f"{OPT}('sys').modules['ctypes'].CDLL('libc.so.6').system(b'id')",
    "unix_socket_via_optional": f"s = {OPT}('socket').socket(1)\ns.connect('/run/x.sock')",
    "signal_via_optional": f"{OPT}('signal').signal(15, print)",
}


@pytest.fixture(scope="module")
def full():
    with worker() as g:
        yield g


def test_optional_dependency_escape_passes_the_static_check():
    # The reason the runtime is the boundary: this is what the review used.
    assert guard.check_code(ESCAPES["optional_dependency_os"].format(mark="/tmp/x") + PLOT) == []


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_python_escape_is_refused_at_run_time(full, df, mark_path, name):
    r = run(full, df, ESCAPES[name].format(mark=mark_path) + PLOT)
    assert r.status == "blocked", (name, r.status, r.message)
    assert "may not" in r.message
    assert not os.path.exists(mark_path), f"{name} ran a process"
    only_zygote_left(full)
    assert_plotting_works(full, df)


def test_environment_holds_no_secret(full, df):
    code = (f"env = {OPT}('os').environ\n"
            "fig = px.bar(x=list(env) or ['none'], y=[1] * max(1, len(env)), "
            "title=repr(dict(env)))")
    r = run(full, df, code)
    assert r.status == "ok", r.message
    text = repr(r.figure)
    assert SECRET not in text and "API_KEY" not in text
    assert "ANYVIZ" not in r.figure["layout"]["title"]["text"]


def test_other_processes_environment_is_unreadable(full, df):
    for pid in (os.getpid(), full.pid, 1):
        r = run(full, df, f"t = {OPT}('builtins').open('/proc/{pid}/environ', 'rb').read()"
                + PLOT)
        assert r.status == "blocked", r.message
        assert SECRET not in r.message


def test_all_layers_are_active_on_this_machine(full, df):
    r = full.run("fig = px.bar(df, x='c', y='a')", {"df": df})
    assert r.status == "ok", r.message
    for layer in ("landlock", "netns", "seccomp", "pidns", "session", "nproc",
                  "import-block", "audit-hook"):
        assert layer in r.layers, (layer, r.layers)
    assert full.probe() == r.layers


def test_plotting_still_works_with_every_block(full, df):
    charts = ["px.line(df, x='a', y='b', color='c')", "px.scatter(df, x='a', y='b', size='b')",
              "px.histogram(df, x='a')", "px.box(df, x='c', y='a')", "px.pie(df, names='c')",
              "px.density_heatmap(df, x='a', y='b')", "px.violin(df, y='a')",
              "px.scatter_matrix(df, dimensions=['a', 'b'])", "px.imshow(np.eye(3))",
              "go.Figure(go.Bar(x=df['c'], y=df['a']))"]
    for chart in charts:
        r = full.run(f"fig = {chart}\nfig.update_layout(title='t')", {"df": df})
        assert r.status == "ok", (chart, r.message)
        assert r.figure["data"], chart


# ------------------------------------------------------------------ kernel layers alone
@pytest.fixture(scope="module")
def kernel_layers_only():
    """Python layers (audit hook, import blocks) off: only the OS stops the code."""
    with worker("python") as g:
        yield g


def test_fork_exec_of_a_shell_runs_nothing(kernel_layers_only, df, mark_path):
    g = kernel_layers_only
    for code in (f"{OPT}('subprocess').run(['/bin/sh', '-c', 'touch {mark_path}'])",
                 f"out = {OPT}('subprocess').check_output(['/usr/bin/id'])\n"
                 "fig = px.bar(x=['id'], y=[1], title=out.decode())",
                 f"{OPT}('os').execv('/bin/sh', ['sh', '-c', 'touch {mark_path}'])"):
        r = run(g, df, code + PLOT)
        assert r.status != "ok", (code, r.message)
        assert not re.search(r"uid=\d+\(", r.message)
        assert not os.path.exists(mark_path), code
    # os.system reports a failed fork as its return value instead of raising.
    r = run(g, df, f"rc = {OPT}('os').system('touch {mark_path}')\n"
                   "fig = px.bar(x=['rc'], y=[1], title=str(rc))")
    assert r.status == "ok" and r.figure["layout"]["title"]["text"] != "0"
    assert not os.path.exists(mark_path)
    only_zygote_left(g)
    assert_plotting_works(g, df)


def test_fork_is_refused_by_seccomp(kernel_layers_only, df):
    code = (f"os = {OPT}('os')\ntry:\n    pid = os.fork()\n    if pid == 0:\n"
            "        os._exit(0)\n    err = 'forked'\nexcept OSError as e:\n"
            "    err = type(e).__name__ + str(e.errno)\n"
            "fig = px.bar(x=['fork'], y=[1], title=err)")
    r = run(kernel_layers_only, df, code)
    assert r.status == "ok", r.message
    assert r.figure["layout"]["title"]["text"] == "PermissionError1"  # EPERM
    assert "seccomp" in r.layers and "import-block" not in r.layers


def test_unix_socket_of_the_host_is_unreachable(kernel_layers_only, df):
    path = os.path.join(tempfile.gettempdir(), f"anyviz-{uuid.uuid4().hex[:8]}.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    os.chmod(path, 0o777)  # only the sandbox may say no, not file permissions
    server.listen(1)
    server.settimeout(0.3)
    try:
        code = (f"sk = {OPT}('socket')\ns = sk.socket(sk.AF_UNIX)\ns.connect({path!r})\n"
                "s.sendall(b'hello')")
        r = run(kernel_layers_only, df, code + PLOT)
        assert r.status != "ok"
        assert "Operation not permitted" in r.message or "may not" in r.message
        with pytest.raises(socket.timeout):
            server.accept()
    finally:
        server.close()
        os.unlink(path)


FORK_BOMB = (f"os = {OPT}('os')\ntime = {OPT}('time')\nn = 0\nerr = ''\n"
             "try:\n"
             "    for i in range(2000):\n"
             "        pid = os.fork()\n"
             "        if pid == 0:\n"
             "            os.setsid()\n"
             "            time.sleep(120)\n"
             "            os._exit(0)\n"
             "        n += 1\n"
             "except OSError as e:\n"
             "    err = type(e).__name__\n"
             "fig = px.bar(x=['forks'], y=[n], title=str(n) + ' ' + err)")

SETSID_SLEEPER = (f"os = {OPT}('os')\ntime = {OPT}('time')\n"
                  "pid = os.fork()\n"
                  "if pid == 0:\n"
                  "    os.setsid()\n"
                  "    if os.fork() == 0:\n"
                  "        time.sleep(120)\n"
                  "    os._exit(0)\n"
                  "time.sleep(0.3)\n"
                  "fig = px.bar(x=['child'], y=[pid], title='forked ' + str(pid > 0))")


@pytest.mark.parametrize("simulate", [("python", "seccomp"), ("python", "seccomp", "pidns")],
                         ids=["pid-namespace", "subreaper-sweep"])
def test_fork_bomb_is_bounded_and_cleaned_up(df, simulate):
    with worker(*simulate) as g:
        r = run(g, df, FORK_BOMB, untrusted=False)
        assert r.status == "ok", r.message
        n, err = r.figure["layout"]["title"]["text"].split(" ")
        assert 0 < int(n) < sandbox.nproc_limit() and err == "BlockingIOError"
        assert "nproc" in r.layers and "seccomp" not in r.layers
        only_zygote_left(g)
        assert_plotting_works(g, df, untrusted=False)


@pytest.mark.parametrize("simulate", [("python", "seccomp"), ("python", "seccomp", "pidns")],
                         ids=["pid-namespace", "subreaper-sweep"])
def test_setsid_grandchild_is_gone_after_the_chart(df, simulate):
    with worker(*simulate) as g:
        r = run(g, df, SETSID_SLEEPER, untrusted=False)
        assert r.status == "ok", r.message
        assert r.figure["layout"]["title"]["text"] == "forked True"  # it did exist
        only_zygote_left(g)


def test_setsid_grandchild_is_gone_after_a_timeout(df):
    with worker("python", "seccomp") as g:
        code = SETSID_SLEEPER.replace("fig = ", "while True:\n    pass\nfig = ")
        r = run(g, df, code, untrusted=False, timeout=2)
        assert r.status == "timeout"
        only_zygote_left(g)


# ------------------------------------------------------------------ missing layers
def test_missing_landlock_refuses_llm_code_with_a_clear_note(df, mark_path):
    with worker("landlock") as g:
        r = run(g, df, f"{OPT}('os').system('touch {mark_path}')" + PLOT)
        assert r.status == "unsandboxed"
        assert "Landlock" in r.message and "ANYVIZ_SANDBOX=off" in r.message
        assert not os.path.exists(mark_path)  # nothing ran
        planner = g.run("fig = px.bar(df, x='c', y='a')", {"df": df}, untrusted=False)
        assert planner.status == "ok" and "landlock" not in planner.layers


def test_missing_namespaces_and_seccomp_are_named(df):
    with worker("netns", "seccomp") as g:
        r = run(g, df, "fig = px.bar(df, x='c', y='a')")
        assert r.status == "unsandboxed"
        assert "netns" in r.message and "seccomp" in r.message


def test_opting_out_runs_llm_code_with_the_remaining_layers(df, monkeypatch):
    monkeypatch.setenv("ANYVIZ_SANDBOX", "off")
    with worker("landlock") as g:
        r = run(g, df, "fig = px.bar(df, x='c', y='a')")
        assert r.status == "ok", r.message
        assert "landlock" not in r.layers and "seccomp" in r.layers


def test_unknown_sandbox_setting_is_explained(df, monkeypatch, full):
    monkeypatch.setenv("ANYVIZ_SANDBOX", "maybe")
    r = full.run("fig = px.bar(df, x='c', y='a')", {"df": df})
    assert r.status == "unsandboxed" and "`require`" in r.message and "`off`" in r.message


# ------------------------------------------------------------------ killed, not timed out
def _chart_child(g) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for pid in marked_processes(g.marker):
            try:
                with open(f"/proc/{pid}/status") as f:
                    ppid = int(next(line for line in f if line.startswith("PPid:")).split()[1])
            except (OSError, StopIteration):
                continue
            if ppid == g.pid:
                return pid
        time.sleep(0.05)
    raise AssertionError("no chart process appeared")


def _run_in_thread(g, df, code, **kw):
    box = {}
    t = threading.Thread(target=lambda: box.update(r=g.run(code, {"df": df}, **kw)))
    t.start()
    return t, box


def test_killed_chart_process_is_reported_as_killed(full, df):
    t, box = _run_in_thread(full, df, "while True:\n    pass", timeout=30)
    time.sleep(0.5)
    os.kill(_chart_child(full), signal.SIGKILL)  # what the OOM killer does
    t.join(30)
    r = box["r"]
    assert r.status == "killed", r.message
    assert "killed (signal 9; likely memory limit)" in r.message
    assert "longer than" not in r.message and "timeout" not in r.message
    assert_plotting_works(full, df)


def test_killed_worker_is_reported_as_killed_and_restarted(full, df):
    t, box = _run_in_thread(full, df, "while True:\n    pass", timeout=30)
    time.sleep(0.5)
    old = full.pid
    os.kill(old, signal.SIGKILL)
    t.join(30)
    r = box["r"]
    assert r.status == "killed", r.message
    assert "killed (signal 9; likely memory limit)" in r.message
    assert full.pid != old
    assert_plotting_works(full, df)
    only_zygote_left(full)  # the orphaned chart child went with the dead worker's namespace


def test_worker_and_charts_die_with_their_kernel(df, tmp_path):
    """A 'kernel' (a Python process owning a Guard) is SIGKILLed mid-chart: the worker sees
    its stdin close, kills the chart, and exits."""
    marker = f"anyvizmark{uuid.uuid4().hex[:12]}"
    script = tmp_path / "owner.py"
    script.write_text(
        "import sys, pandas as pd\n"
        f"sys.path.insert(0, {RESOURCES!r})\n"
        "from anyviz.viz import guard\n"
        "g = guard.Guard(); g.start()\n"
        "print(g.probe(), flush=True)\n"
        "g.run('while True:\\n    pass', {'df': pd.DataFrame({'a': [1]})}, timeout=120)\n")
    env = {**os.environ, "ANYVIZ_SANDBOX_SIMULATE_MISSING": marker}
    owner = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE)
    try:
        owner.stdout.readline()
        deadline = time.monotonic() + 10
        while len(marked_processes(marker)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)  # owner, worker and the running chart
        assert len(marked_processes(marker)) >= 3
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 5
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marked_processes(marker) == []


# ------------------------------------------------------------------ a kernel that is not root
NON_ROOT_SCRIPT = f"""
import json, sys
sys.path.insert(0, {RESOURCES!r})
import numpy as np, pandas as pd
from anyviz.viz import guard
g = guard.Guard()
g.start()
df = pd.DataFrame({{"a": np.arange(5.0), "c": list("xyzuv")}})
out = {{"layers": g.probe()}}
r = g.run({FORK_BOMB!r}, {{"df": df}}, static=False, untrusted=False)

def children():
    import os, time
    time.sleep(0.2)
    found = []
    for tid in os.listdir(f"/proc/{{g.pid}}/task"):
        with open(f"/proc/{{g.pid}}/task/{{tid}}/children") as f:
            found += f.read().split()
    return found


title = (r.figure or {{}}).get("layout", {{}}).get("title", {{}}).get("text")
out["bomb"] = [r.status, r.message, title, children()]
r = g.run({SETSID_SLEEPER!r}, {{"df": df}}, static=False, untrusted=False)
out["sleeper"] = [r.status, r.message, children()]
g.stop()
print(json.dumps(out))
"""


def test_non_root_kernel_gets_namespaces_landlock_seccomp_and_cleanup(tmp_path):
    """Run as `nobody` (a normal user's kernel): no pid namespace there, so the worker's
    subreaper sweep must remove what a chart started; the other layers are the same."""
    if os.geteuid() != 0:
        pytest.fail("this test switches to `nobody` and needs to start as root")
    marker = f"anyvizmark{uuid.uuid4().hex[:12]}"
    fd, script = tempfile.mkstemp(suffix=".py", prefix="anyviz-nonroot-")
    with os.fdopen(fd, "w") as f:
        f.write(NON_ROOT_SCRIPT)
    os.chmod(script, 0o644)
    try:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": "/tmp",
               "ANYVIZ_SANDBOX_SIMULATE_MISSING": f"python,seccomp,{marker}"}
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               sys.executable, script], env=env, capture_output=True,
                              text=True, timeout=180, cwd="/")
        assert done.returncode == 0, done.stderr[-2000:]
        out = __import__("json").loads(done.stdout.strip().splitlines()[-1])
    finally:
        os.unlink(script)
    layers = out["layers"]
    for layer in ("netns", "userns", "landlock", "nproc", "session"):
        assert layer in layers, (layer, layers)
    assert "nobody" not in layers and "pidns" not in layers
    status, message, title, left = out["bomb"]
    assert status == "ok", message
    n, err = title.split(" ")
    assert 0 < int(n) < sandbox.nproc_limit() and err == "BlockingIOError"
    assert left == [], "forked processes outlived the chart"
    status, message, left = out["sleeper"]
    assert status == "ok", message
    assert left == [], "the setsid'd sleeper outlived the chart"
    assert marked_processes(marker) == []
