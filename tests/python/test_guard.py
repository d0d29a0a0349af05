"""The guard: hostile chart code is refused statically AND stopped at runtime in the worker."""
import os
import socket
import time

import numpy as np
import pandas as pd
import pytest

from anyviz import settings
from anyviz.viz import guard


@pytest.fixture
def df():
    return pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 7,
                         "c": list("xyzuv") * 10})


def _snapshot(df):
    return df.copy(deep=True)


# ------------------------------------------------------------------ static
@pytest.mark.parametrize("code, needle", [
    ("import os\nfig = None", "`import os`"),
    ("import subprocess", "`import subprocess`"),
    ("from os import system", "`from os import ...`"),
    ("from pandas.io.common import os", "importing `os`"),
    ("x = df.__class__.__mro__", "`.__class__`"),
    ("f = (lambda: 0).__globals__", "`.__globals__`"),
    ("exec('1')", "`exec`"),
    ("eval('1')", "`eval`"),
    ("open('/etc/passwd').read()", "`open`"),
    ("getattr(pd, 'io')", "`getattr`"),
    ("__import__('os')", "`__import__`"),
    ("pd.io.common.os.system('id')", "`.os`"),
    ("np.ctypeslib.ctypes.CDLL('x')", "`.ctypes`"),
    ("df.to_csv('x.csv')", "`.to_csv(...)`"),
    ("pd.read_csv('http://example.com/a.csv')", "`.read_csv(...)`"),
    ("np.load('x.npy')", "`.load(...)`"),
    ("import plotly.io as pio\npio.write_html(fig, 'x.html')", "`.write_html(...)`"),
    ("class A:\n    pass", "class definitions"),
    ("def f():\n    global x", "`global`"),
    ("async def f():\n    pass", "async"),
    ("with open('x', 'w') as fh:\n    pass", "`with` blocks"),
    ("def g():\n    yield 1\nx = g().gi_frame", "generators"),
    ("'{0.__class__}'.format(df)", "dunder names"),
    ("fig = px.line(df\n", "syntax error"),
])
def test_static_check_names_construct_and_line(code, needle):
    problems = guard.check_code(code)
    assert problems, f"not rejected: {code!r}"
    text = "; ".join(problems)
    assert needle in text
    assert "line " in text


def test_static_check_accepts_normal_chart_code():
    code = ("import plotly.express as px\nimport numpy as np\n"
            "agg = df.groupby('c', as_index=False)['a'].sum()\n"
            "with pd.option_context('mode.copy_on_write', True):\n    agg = agg.sort_values('a')\n"
            "fig = px.bar(agg, x='c', y='a', title='Sum of a')\n"
            "fig.update_layout(template='plotly_white')")
    assert guard.check_code(code) == []


def test_run_rejects_statically_without_running(g, df, tmp_path):
    target = tmp_path / "out.csv"
    r = g.run(f"df.to_csv({str(target)!r})\nfig = px.line(df, x='a', y='b')", {"df": df})
    assert r.status == "rejected"
    assert "to_csv" in r.message and "line 1" in r.message
    assert not target.exists()


# ------------------------------------------------------------------ runtime (static check off)
OS = "pd.io.common.os"
SYS = f"{OS}.sys"


def _runtime(g, df, code, **kw):
    before = _snapshot(df)
    r = g.run(code, {"df": df}, static=False, **kw)
    pd.testing.assert_frame_equal(df, before)  # the session frame never changes
    return r


@pytest.mark.parametrize("template, what", [
    ("df.to_csv({p!r})", "write files"),
    ("df.to_parquet({p!r})", ""),  # pyarrow's C++ I/O: stopped by Landlock / RLIMIT_FSIZE
    ("import plotly.io as pio\npio.write_html(px.line(df, x='a', y='b'), {p!r})", "write files"),
    ("np.save({p!r}, df['a'].to_numpy())", "write files"),
    ("df['a'].to_numpy().tofile({p!r})", ""),
    (f"{OS}.system('touch ' + {{p!r}})", "start processes"),
    (f"{OS}.popen('touch ' + {{p!r}})", ""),
    (f"{SYS}.modules['subprocess'].run(['touch', {{p!r}}])", "start processes"),
    (f"{OS}.fork()", "start processes"),
    (f"{OS}.posix_spawn('/usr/bin/touch', ['touch', {{p!r}}], dict())", "start processes"),
    (f"{OS}.mkdir({{p!r}})", "change files"),
])
def test_runtime_blocks_writes_and_processes(g, df, tmp_path, template, what):
    p = str(tmp_path / "pwned")
    r = _runtime(g, df, template.format(p=p) + "\nfig = px.line(df, x='a', y='b')")
    assert r.status == ("blocked" if what else r.status) != "ok", r.message
    # Which layer says no first depends on the machine (audit hook, module stub, or the
    # kernel's answer as `nobody` under Landlock); each is a clear refusal.
    assert not what or "may not" in r.message
    assert not os.path.exists(p)
    assert r.figure is None


def test_runtime_blocks_reads_outside_python(g, df, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("a,b\n1,2\n")
    for code in (f"x = pd.read_csv({str(secret)!r})", "x = np.loadtxt('/etc/passwd')",
                 f"x = np.load({str(secret)!r}, allow_pickle=True)",
                 f"x = {OS}.listdir('/')"):
        r = _runtime(g, df, code + "\nfig = px.line(df, x='a', y='b')")
        assert r.status == "blocked", (code, r.message)
        assert "may not" in r.message


def test_runtime_blocks_url_reads_and_sockets(g, df):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    try:
        for code in (f"pd.read_csv('http://127.0.0.1:{port}/x.csv')",
                     f"s = {SYS}.modules['socket'].socket()\ns.connect(('127.0.0.1', {port}))"):
            r = _runtime(g, df, code + "\nfig = px.line(df, x='a', y='b')")
            assert r.status == "blocked", (code, r.message)
            assert "network" in r.message or "socket" in r.message
        with pytest.raises(socket.timeout):
            server.accept()  # nobody ever connected
    finally:
        server.close()


def test_runtime_blocks_native_libraries_signals_and_threads(g, df):
    cases = {
        f"{SYS}.modules['ctypes'].CDLL('libc.so.6')": "the ctypes module",
        f"{OS}.kill({OS}.getppid(), 9)": "send signals",
        f"{SYS}.modules['threading'].Thread(target=print).start()": "start threads",
        f"{SYS}.modules['resource'].setrlimit(0, (-1, -1))": "resource",
    }
    zygote = g.pid
    for code, what in cases.items():
        r = _runtime(g, df, code + "\nfig = px.line(df, x='a', y='b')")
        assert r.status == "blocked", (code, r.message)
        assert what in r.message
    assert g.pid == zygote  # the worker survived os.kill(parent); no restart was needed
    os.kill(zygote, 0)


def test_swallowed_violation_is_still_reported(g, df):
    # /tmp: the chart process (as `nobody` when the kernel runs as root) may look there, so
    # the write reaches the audit hook rather than failing on directory permissions first.
    p = f"/tmp/anyviz-swallowed-{os.getpid()}.csv"
    code = f"try:\n    df.to_csv({p!r})\nexcept Exception:\n    pass\nfig = px.line(df, x='a', y='b')"
    r = _runtime(g, df, code)
    assert r.status == "blocked" and "write files" in r.message
    assert not os.path.exists(p)


def test_exit_and_import_of_os_are_errors_not_crashes(g, df):
    r = _runtime(g, df, "raise SystemExit(3)")
    assert r.status == "error" and "exit" in r.message
    r = _runtime(g, df, "import os")
    assert r.status == "error" and "only import pandas, numpy and plotly" in r.message
    r = _runtime(g, df, f"{OS}._exit(0)")  # no audit event: the child dies, nothing else
    assert r.status == "error" and "without a result" in r.message
    assert g.run("fig = px.line(df, x='a', y='b')", {"df": df}).status == "ok"


def test_mutating_df_in_chart_code_leaves_session_frame_unchanged(g, df):
    r = _runtime(g, df, "df['a'] = -1\ndf.drop(columns=['b'], inplace=True)\n"
                        "fig = px.bar(df, x='c', y='a')")
    assert r.status == "ok"
    assert df["a"].sum() == sum(range(50)) and "b" in df.columns


def test_runaway_loop_is_stopped_within_limit_and_next_render_works(g, df):
    t = time.monotonic()
    r = g.run("while True:\n    pass", {"df": df}, timeout=2)
    elapsed = time.monotonic() - t
    assert r.status == "timeout" and "2 s" in r.message
    assert elapsed < 4
    r = g.run("fig = px.scatter(df, x='a', y='b')", {"df": df})
    assert r.status == "ok" and r.figure["data"][0]["type"] == "scatter"


def test_memory_bomb_is_stopped(g, df):
    for code in ("x = np.ones(10**11)",
                 "keep = []\nwhile True:\n    keep.append(np.ones(10**7))"):
        t = time.monotonic()
        r = g.run(code, {"df": df}, memory=400, timeout=20)
        assert r.status == "memory", r.message
        assert "400 MB" in r.message
        assert time.monotonic() - t < 10
    assert g.run("fig = px.line(df, x='a', y='b')", {"df": df}).status == "ok"


def test_error_message_names_line(g, df):
    r = g.run("x = 1\nfig = px.line(df, x='nope', y='b')", {"df": df})
    assert r.status == "error"
    assert "line 2" in r.message and "nope" in r.message


def test_missing_fig_is_a_clear_error(g, df):
    r = g.run("x = df['a'].sum()", {"df": df})
    assert r.status == "error" and "`fig`" in r.message


def test_good_code_produces_expected_figure(g, df):
    code = ("agg = df.groupby('c', as_index=False)['a'].sum()\n"
            "fig = px.bar(agg, x='c', y='a', title='Sum of a by c')")
    r = g.run(code, {"df": df})
    assert r.status == "ok", r.message
    trace = r.figure["data"][0]
    assert trace["type"] == "bar"
    assert list(trace["x"]) == ["u", "v", "x", "y", "z"]
    import base64

    y = trace["y"]
    values = (np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"])
              if isinstance(y, dict) else np.asarray(y))
    expected = df.groupby("c")["a"].sum()
    assert values.tolist() == expected.tolist()
    assert r.figure["layout"]["title"]["text"] == "Sum of a by c"


def test_other_session_frames_are_available_by_name(g, df):
    other = pd.DataFrame({"c": list("xyzuv"), "label": list("ABCDE")})
    r = g.run("m = df.merge(lookup, on='c')\nfig = px.histogram(m, x='label')",
              {"df": df, "lookup": other})
    assert r.status == "ok", r.message


def test_kernel_level_layers_are_active_where_supported(g, df):
    r = g.run("fig = px.line(df, x='a', y='b')", {"df": df})
    assert r.status == "ok"
    assert {"audit-hook", "rlimits"} <= set(r.layers)
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1)) >= 1:  # Landlock ABI
        assert "landlock" in r.layers
    assert "netns" in r.layers or os.geteuid() != 0


def test_kernel_process_has_no_audit_hook(g, df, tmp_path):
    g.run("fig = px.line(df, x='a', y='b')", {"df": df})
    p = tmp_path / "kernel-can-write.txt"
    p.write_text("ok")  # the hooks live only in the worker's children
    assert p.read_text() == "ok"


def test_worker_env_has_no_secrets(monkeypatch):
    for name in ("GEMINI_API_KEY", "OPENAI_API_KEY", "ANYVIZ_LLM_API_KEY", "ANYVIZ_REDIS_URL",
                 "ANYVIZ_LLM_BASE_URL", "JPY_SESSION_TOKEN", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "secret")
    monkeypatch.setenv("PYTHONPATH", "/opt/lib")
    env = guard._worker_env()
    assert "secret" not in env.values()
    assert env["PYTHONPATH"] == "/opt/lib"  # what Python needs is kept
    assert not [k for k in env if "KEY" in k or "TOKEN" in k or k.startswith("ANYVIZ_LLM")]


def test_sandbox_setting_is_validated(monkeypatch):
    monkeypatch.delenv("ANYVIZ_SANDBOX", raising=False)
    assert settings.sandbox_mode() == "require"
    monkeypatch.setenv("ANYVIZ_SANDBOX", " OFF ")
    assert settings.sandbox_mode() == "off"
    monkeypatch.setenv("ANYVIZ_SANDBOX", "disabled")
    with pytest.raises(guard.AnyVizError, match="`require`.*`off`"):
        settings.sandbox_mode()
