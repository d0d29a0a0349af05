"""anyviz.startup: which first cells run before IPython's shell is built, and how they are
written into the shell afterwards (the kernel test tests/integration/test_kernel_first_cells.py
checks the same against ipykernel through the wire)."""
import json
import os
import subprocess
import sys
import threading

import pytest

from anyviz import jsonutil, runtime, session, startup, streams


@pytest.mark.parametrize("code", [
    "1+1", "x_early = 5", "def f(a):\n    return a * 2", "print('hello')",
    "[n * n for n in range(3)]", "class Point:\n    pass", "(lambda v: v + 1)(2)",
])
def test_plain_cells_qualify(code):
    assert startup._compile(code, 1) is not None


@pytest.mark.parametrize("code", [
    "%time 1", "!ls", "len?", "import os", "from math import pi", "await thing()",
    "undefined_name + 1", "display(1)", "get_ipython()", "_ + 1", "Out[1]", "_i1", "_3",
    "open('data.csv')", "exec('1')", "__import__('os')", "(1).__class__.__subclasses__()",
    "  indented = 1", "\nx = 1", ">>> 1 + 1", "print('50%')", "x = (", "exit",
])
def test_cells_that_need_the_shell_wait_for_it(code):
    assert startup._compile(code, 1) is None


@pytest.fixture
def shell_still_building(monkeypatch):
    """The state right after start: a builder exists and the shell is not ready yet (the
    shell object itself already exists in this process and is used once 'ready')."""
    shell = runtime._shell()  # make sure the shell exists before pretending it does not
    ready = threading.Event()
    monkeypatch.setattr(startup, "_ready", ready)
    monkeypatch.setattr(startup, "_builder", object())
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = streams.stdout, streams.stderr
    # Cells are numbered past what this process's shell has run (the kernel only counts up).
    yield ready, len(shell.history_manager.input_hist_parsed) + 10
    sys.stdout, sys.stderr = saved


def _run(code, n):
    request = {"code": code, "silent": False, "store_history": True, "execution_count": n,
               "user_expressions": {}}
    return json.loads(runtime.execute(json.dumps(request)))


def test_early_cells_run_at_once_and_read_as_ipython_cells_afterwards(bridge,
                                                                       shell_still_building):
    ready, n = shell_still_building
    assert _run("early_value = 20", n)["status"] == "ok"
    assert _run("early_value + 1", n + 1)["status"] == "ok"
    assert _run("early_value;", n + 2)["status"] == "ok"
    assert not ready.is_set() and len(startup._pending) == 3
    assert bridge.of_type("execute_result") == [
        {"execution_count": n + 1, "data": {"text/plain": "21"}, "metadata": {}}]

    ready.set()
    shell = startup.shell()
    assert startup._pending == []
    ns = session.user_ns
    assert ns["In"][n:n + 3] == ["early_value = 20", "early_value + 1", "early_value;"]
    assert ns["Out"][n + 1] == 21 and ns[f"_{n + 1}"] == 21 and ns["_"] == 21
    assert n + 2 not in ns["Out"] and ns[f"_i{n + 2}"] == "early_value;"
    assert shell.execution_count == n + 3
    history = shell.history_manager.get_range(0, n, n + 3, raw=True, output=True)
    assert [(line, source, out) for _, line, (source, out) in history] == [
        (n, "early_value = 20", None), (n + 1, "early_value + 1", "21"),
        (n + 2, "early_value;", None)]


def test_an_early_error_waits_for_the_shell_and_names_the_cell(bridge, shell_still_building):
    ready, n = shell_still_building
    assert _run("def early_div(a, b):\n    return a / b", n)["status"] == "ok"
    threading.Timer(0.2, ready.set).start()
    reply = _run("early_div(1, 0)", n + 1)
    assert reply["status"] == "error" and reply["ename"] == "ZeroDivisionError"
    (error,) = bridge.of_type("error")
    text = "\n".join(error["traceback"])
    assert f"In[{n + 1}]" in text and f"In[{n}]" in text and "startup" not in text


#: Modules a first cell must not wait for: IPython and its asyncio (the builder's), the fast JSON
#: encoder (dataclasses, inspect, uuid), tempfile (the builder imports it first), data libraries.
_HEAVY = ("IPython", "asyncio", "orjson", "dataclasses", "uuid", "tempfile", "numpy", "pandas",
          "plotly", "datetime", "decimal")


def test_the_kernel_start_imports_no_heavy_module():
    """What the kernel imports before its first cell (the runtime, JSON for the first outputs)
    stays light: every module added here is waited for by the first `1+1`."""
    resources = os.path.dirname(os.path.dirname(startup.__file__))
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import signal; "
            "import anyviz.runtime, anyviz.jsonutil; "
            "print(json.dumps(sorted(set(sys.argv[2:]) & set(sys.modules))))")
    result = subprocess.run([sys.executable, "-I", "-c", code, resources, *_HEAVY],
                            capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout) == []


@pytest.fixture
def deferred_encoder(monkeypatch):
    """jsonutil as the kernel's start leaves it: the fast encoder deferred, not loaded yet."""
    monkeypatch.setattr(jsonutil, "_orjson", None)
    monkeypatch.setattr(jsonutil, "_fast_encoder_wanted", True)
    jsonutil.defer_fast_encoder()


def test_early_outputs_are_the_same_json_without_the_fast_encoder(deferred_encoder):
    value = {"data": {"text/plain": "2"}, "n": float("nan"), "inf": [float("inf"), 1.5], 3: "x"}
    expected = {"data": {"text/plain": "2"}, "n": None, "inf": [None, 1.5], "3": "x"}
    assert json.loads(jsonutil.dumps(value)) == expected
    assert jsonutil._orjson is None  # still deferred: nothing imported it on the way

    jsonutil.load_fast_encoder()
    assert jsonutil._orjson is not None
    assert json.loads(jsonutil.dumps(value)) == expected


def test_the_fast_encoder_loads_on_first_use_outside_the_kernel(monkeypatch):
    monkeypatch.setattr(jsonutil, "_orjson", None)
    monkeypatch.setattr(jsonutil, "_fast_encoder_wanted", True)
    assert json.loads(jsonutil.dumps({"x": [1, float("nan")]})) == {"x": [1, None]}
    assert jsonutil._orjson is not None


def test_garbage_collection_is_on_once_the_shell_is_built(monkeypatch):
    """The kernel starts Python with the collector off (its start makes little garbage); the
    builder turns it on with the shell."""
    monkeypatch.setattr(startup, "_ready", threading.Event())
    import gc

    gc.disable()
    try:
        startup._build()
        assert gc.isenabled() and startup.ready()
        assert gc.get_freeze_count() > 0  # the start's objects are left out of collections
    finally:
        gc.unfreeze()
        gc.enable()


def test_plain_python_keeps_its_collector_as_it_is(monkeypatch):
    """Outside the kernel (tests, `%load_ext anyviz`) building the shell leaves gc alone."""
    import gc

    monkeypatch.setattr(startup, "_ready", threading.Event())
    frozen = gc.get_freeze_count()
    startup._build()
    assert gc.isenabled() and gc.get_freeze_count() == frozen
