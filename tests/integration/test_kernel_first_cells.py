"""The first cells of a fresh kernel, sent the moment it answers kernel_info (as a notebook that
runs all cells on open does): AnyViz runs plain cells while IPython's shell is still being
built, and afterwards the session must read exactly as under ipykernel: results, In/Out,
`_`/`_<n>`/`_i<n>`, tracebacks naming `Cell In[n]`, %history and history_request.

Runs against ipykernel too (ANYVIZ_TEST_KERNEL=python3) to show the expectations are IPython's.
"""
import re

from kernel_harness import collect_iopub, shell_reply, start_kernel, stop_kernel

ANSI = re.compile(r"\x1b\[[0-9;]*m")

CELLS = [
    "1+1",
    "x = 5",
    "x * 2.5",
    "def divide(a, b):\n    return a / b",
    "divide(x, 2);",
    "divide(x, 0)",
    "print('printed', x)",
    "y = [1, 2]\ny",
    "'a;b'",
]


def test_cells_sent_at_once_after_kernel_info_read_as_under_ipython():
    km, kc = start_kernel()
    try:
        # All cells queued at once, right after the kernel answered kernel_info.
        ids = [kc.execute(code, stop_on_error=False) for code in CELLS]
        runs = [(collect_iopub(kc, i, timeout=60), shell_reply(kc, i, timeout=60)) for i in ids]

        def results(n):
            outputs, _ = runs[n - 1]
            return [m["content"]["data"]["text/plain"] for m in outputs
                    if m["msg_type"] == "execute_result"]

        assert [reply["content"]["execution_count"] for _, reply in runs] == list(range(1, 10))
        assert results(1) == ["2"] and results(2) == [] and results(3) == ["12.5"]
        assert results(4) == [] and results(5) == []
        outputs, reply = runs[5]
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "ZeroDivisionError"
        (error,) = [m for m in outputs if m["msg_type"] == "error"]
        trace = ANSI.sub("", "\n".join(error["content"]["traceback"]))
        assert "Cell In[6], line 1" in trace and "----> 1 divide(x, 0)" in trace
        assert "Cell In[4], line 2, in divide(a, b)" in trace
        assert "anyviz" not in trace and "hidden" not in trace  # only the user's frames
        (printed,) = [m for m in runs[6][0] if m["msg_type"] == "stream"]
        assert printed["content"] == {"name": "stdout", "text": "printed 5\n"}
        assert results(8) == ["[1, 2]"] and results(9) == ["'a;b'"]

        check = kc.execute("print(In[1:10], sorted(Out.items()), _, __, _3, _i2, _8)")
        (line,) = [m["content"]["text"] for m in collect_iopub(kc, check, timeout=30)
                   if m["msg_type"] == "stream"]
        shell_reply(kc, check, timeout=30)
        assert line == (f"{CELLS!r} [(1, 2), (3, 12.5), (8, [1, 2]), (9, 'a;b')] "
                        "a;b [1, 2] 12.5 x = 5 [1, 2]\n")

        # The kernel starts Python without garbage collection; it is on once the shell is up.
        collector = kc.execute("import gc; gc.isenabled()")
        assert [m["content"]["data"]["text/plain"] for m in collect_iopub(kc, collector, timeout=30)
                if m["msg_type"] == "execute_result"] == ["True"]
        shell_reply(kc, collector, timeout=30)

        tail = kc.history(hist_access_type="range", session=0, start=1, stop=10, raw=True,
                          output=True)
        entries = shell_reply(kc, tail, timeout=30)["content"]["history"]
        assert [(line, source) for _, line, (source, _) in entries] == list(
            enumerate(CELLS, start=1))
        assert {line: out for _, line, (_, out) in entries if out} == {
            1: "2", 3: "12.5", 8: "[1, 2]", 9: "'a;b'"}
    finally:
        stop_kernel(km, kc)
