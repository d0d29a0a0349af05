"""anyviz.startup: which first cells run before IPython's shell is built, and how they are
written into the shell afterwards (the kernel test tests/integration/test_kernel_first_cells.py
checks the same against ipykernel through the wire)."""
import json
import sys
import threading

import pytest

from anyviz import runtime, session, startup, streams


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
