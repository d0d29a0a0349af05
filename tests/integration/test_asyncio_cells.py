"""Cells run inside a running asyncio loop, as under ipykernel: tasks a cell creates keep running
while the kernel is idle and publish under the cell that created them; interrupts end an
awaiting cell without leaving it to resume later."""
import time

from kernel_harness import collect_iopub, execute, shell_reply, wait_for_busy


def test_the_loop_is_running_in_a_plain_cell(kernel):
    _, kc = kernel
    res = execute(kc, "import asyncio\n"
                      "loop = asyncio.get_running_loop()\n"
                      "loop.is_running(), asyncio.get_event_loop() is loop")
    assert res.status == "ok", res.content
    assert res.result_text() == "(True, True)"


def test_asyncio_run_fails_as_under_ipykernel(kernel):
    _, kc = kernel
    res = execute(kc, "import asyncio\nasyncio.run(asyncio.sleep(0))")
    assert res.status == "error"
    assert "running event loop" in res.content["evalue"]


def test_a_task_runs_while_the_kernel_is_idle_and_prints_under_its_cell(kernel):
    _, kc = kernel
    first = kc.execute("import asyncio\n"
                       "async def later():\n"
                       "    await asyncio.sleep(0.2)\n"
                       "    print('from the task')\n"
                       "    return 42\n"
                       "task = asyncio.create_task(later())")
    assert not [m for m in collect_iopub(kc, first) if m["msg_type"] == "error"]
    assert shell_reply(kc, first)["content"]["status"] == "ok"
    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not seen:
        try:
            msg = kc.get_iopub_msg(timeout=0.5)
        except Exception:  # noqa: BLE001 - queue.Empty: keep waiting
            continue
        if msg["msg_type"] == "stream":
            seen.append(msg)
    assert seen, "the task printed nothing while the kernel was idle"
    assert seen[0]["content"]["text"] == "from the task\n"
    assert seen[0]["parent_header"]["msg_id"] == first
    # Done before any other cell ran the loop.
    assert execute(kc, "task.done(), task.result()").result_text() == "(True, 42)"


def test_a_timer_set_in_a_cell_fires_while_idle(kernel):
    _, kc = kernel
    assert execute(kc, "fired = []\n"
                       "asyncio.get_running_loop().call_later(0.1, fired.append, 1)").status == "ok"
    time.sleep(0.5)
    assert execute(kc, "fired").result_text() == "[1]"


def test_a_task_that_never_ends_does_not_slow_cells_down(kernel):
    _, kc = kernel
    assert execute(kc, "async def forever():\n"
                       "    while True:\n"
                       "        await asyncio.sleep(0.01)\n"
                       "spinner = asyncio.ensure_future(forever())").status == "ok"
    for n in range(10):
        assert execute(kc, f"{n} + 1", timeout=5).result_text() == str(n + 1)
    assert execute(kc, "spinner.cancel()").status == "ok"


def test_top_level_await_sees_tasks_from_earlier_cells(kernel):
    _, kc = kernel
    assert execute(kc, "slow = asyncio.ensure_future(asyncio.sleep(0.3, 'slept'))").status == "ok"
    res = execute(kc, "await slow")
    assert res.result_text() == "'slept'"


def test_an_interrupted_await_does_not_resume_in_a_later_cell(kernel):
    km, kc = kernel
    msg_id = kc.execute("import asyncio\nawait asyncio.sleep(30)\nprint('resumed')")
    wait_for_busy(kc, msg_id)
    time.sleep(0.3)
    km.interrupt_kernel()
    outputs = collect_iopub(kc, msg_id, timeout=10)
    reply = shell_reply(kc, msg_id, timeout=10)["content"]
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert not [m for m in outputs if m["msg_type"] == "stream"]
    res = execute(kc, "import time\nawait asyncio.sleep(0.1)\ntime.sleep(0.2)\n'later'")
    assert res.result_text() == "'later'"
    assert "resumed" not in (res.stream() or "")
    pending = execute(kc, "sorted(t.get_coro().__name__ for t in asyncio.all_tasks() "
                          "if t is not asyncio.current_task())")
    assert "run_cell_async" not in pending.result_text()
