"""Output from threads the user starts: printed while cells come and go, the kernel stays up and
later cells still get their own output."""
import time

from kernel_harness import collect_iopub, execute, start_kernel, stop_kernel


def test_background_thread_printing_across_cells():
    km, kc = start_kernel()
    try:
        code = ("import threading, time\n"
                "def chatter():\n"
                "    end = time.time() + 3\n"
                "    while time.time() < end:\n"
                "        print('tick', flush=True)\n"
                "        time.sleep(0.001)\n"
                "threading.Thread(target=chatter, daemon=True).start()")
        assert execute(kc, code).status == "ok"
        deadline = time.time() + 3.5
        count = 0
        while time.time() < deadline:
            res = execute(kc, f"{count} * 2")
            assert res.status == "ok" and res.result_text() == str(count * 2)
            count += 1
        assert count > 20
        assert km.is_alive()
        assert execute(kc, "print('mine')").stream() == "mine\n"
    finally:
        stop_kernel(km, kc)


def test_output_after_a_cell_ended_belongs_to_the_cell_that_started_the_thread():
    """A threading.Timer that prints and displays after its cell finished publishes under that
    cell (ipykernel 6+ behaviour), not under the cell that happens to be running."""
    km, kc = start_kernel()
    try:
        first = kc.execute("import threading\nfrom IPython.display import display, HTML\n"
                           "def late():\n    print('late line')\n"
                           "    display(HTML('<b>late display</b>'))\n"
                           "threading.Timer(0.5, late).start()")
        collect_iopub(kc, first)
        second = kc.execute("import time\ntime.sleep(1.5)\nprint('second cell')")
        seen = []
        while True:  # everything IOPub delivers until the second cell is idle
            msg = kc.get_iopub_msg(timeout=10)
            seen.append(msg)
            if (msg["parent_header"].get("msg_id") == second and msg["msg_type"] == "status"
                    and msg["content"]["execution_state"] == "idle"):
                break
        outputs = [(m["msg_type"], m["parent_header"].get("msg_id"),
                    m["content"].get("text") or m["content"].get("data", {}).get("text/html"))
                   for m in seen if m["msg_type"] in ("stream", "display_data")]
        assert ("stream", first, "late line\n") in outputs, outputs
        assert ("display_data", first, "<b>late display</b>") in outputs, outputs
        assert [o for o in outputs if o[1] == second] == [("stream", second, "second cell\n")]
    finally:
        stop_kernel(km, kc)
