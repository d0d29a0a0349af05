"""Output from threads the user starts: printed while cells come and go, the kernel stays up and
later cells still get their own output."""
import time

from kernel_harness import execute, start_kernel, stop_kernel


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
