"""Interrupts land even when the kernel inherits SIGINT ignored (and blocked).

A Jupyter server started in the background (`nohup jupyter lab &`) hands its kernels SIGINT
with the disposition SIG_IGN; exec keeps an ignored disposition and the blocked-signal mask.
The kernel is started here through a small wrapper that does exactly that, then a
`time.sleep(30)` is interrupted 20 times in a row in each interrupt mode.
"""
import os
import sys
import time

import pytest

from kernel_harness import collect_iopub, execute, shell_reply, wait_for_busy

# Ignore SIGINT, block it too, then exec the real kernel command line.
WRAPPER = (
    "import os, signal, sys\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)
ROUNDS = 20


def _start_with_sigint_ignored(mode):
    from jupyter_client.manager import KernelManager

    from kernel_harness import KERNEL

    km = KernelManager(kernel_name=KERNEL)
    km.kernel_spec.interrupt_mode = mode
    km.kernel_spec.argv = [sys.executable, "-c", WRAPPER] + list(km.kernel_spec.argv)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def _inherited_sigint(km):
    """SigIgn/SigBlk of the kernel process: proof that the wrapper did what it says."""
    fields = {}
    with open(f"/proc/{km.provisioner.pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


@pytest.fixture(params=["signal", "message"])
def kernel(request):
    km, kc = _start_with_sigint_ignored(request.param)
    yield request.param, km, kc
    kc.stop_channels()
    km.shutdown_kernel(now=False)


def _interrupt(mode, km, kc):
    if mode == "signal":
        km.interrupt_kernel()
        return None
    msg = kc.session.msg("interrupt_request", content={})
    kc.control_channel.send(msg)
    return msg["header"]["msg_id"]


def test_sleep_interrupted_20_times_with_sigint_ignored(kernel):
    mode, km, kc = kernel
    assert execute(kc, "kept = 'state survives'").status == "ok"
    latencies = []
    for _ in range(ROUNDS):
        msg_id = kc.execute("import time\ntime.sleep(30)")
        wait_for_busy(kc, msg_id)
        time.sleep(0.2)  # the sleep has started inside Python
        t0 = time.monotonic()
        interrupt_id = _interrupt(mode, km, kc)
        reply = shell_reply(kc, msg_id, timeout=35)
        latencies.append(time.monotonic() - t0)
        collect_iopub(kc, msg_id, timeout=10)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        if interrupt_id is not None:
            ctrl = kc.get_control_msg(timeout=5)
            assert ctrl["msg_type"] == "interrupt_reply"
            assert ctrl["parent_header"]["msg_id"] == interrupt_id
    assert max(latencies) <= 1.0, f"{mode}: slowest interrupt {max(latencies):.2f}s of {latencies}"
    print(f"{mode}: interrupt latency max {max(latencies) * 1000:.0f} ms, "
          f"median {sorted(latencies)[ROUNDS // 2] * 1000:.0f} ms")
    after = execute(kc, "print(kept)")
    assert after.status == "ok"
    assert after.stream().strip() == "state survives"


def test_kernel_catches_sigint_it_inherited_ignored():
    """The kernel replaced the inherited SIG_IGN: Python's handler is the one that raises."""
    km, kc = _start_with_sigint_ignored("message")
    try:
        result = execute(kc, "import signal\nprint(signal.getsignal(signal.SIGINT) is signal.default_int_handler)")
        assert result.stream().strip() == "True"
        # SIGINT is signal 2: bit 1 of the kernel process's SigCgt/SigIgn masks.
        status = _inherited_sigint(km)
        assert int(status["SigCgt"], 16) & 0b10, f"kernel does not catch SIGINT: {status}"
        assert not int(status["SigIgn"], 16) & 0b10, f"kernel still ignores SIGINT: {status}"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


@pytest.mark.parametrize("inherited", ["ignored", "default"])
def test_sigint_storm_during_startup_does_not_kill_the_kernel(inherited):
    """SIGINT every few ms from the moment the kernel's main() has blocked SIGINT until the
    kernel answers (Python starts and its handler is swapped in meanwhile): the kernel must
    come up and run cells. Before main() a process with SIGINT at its default dies like any
    program; that instant is outside the kernel's control and the storm waits it out."""
    import signal
    import threading

    from jupyter_client.manager import KernelManager

    from kernel_harness import KERNEL

    km = KernelManager(kernel_name=KERNEL)
    km.kernel_spec.interrupt_mode = "signal"
    if inherited == "ignored":
        km.kernel_spec.argv = [sys.executable, "-c", WRAPPER] + list(km.kernel_spec.argv)
    km.start_kernel()
    ready = threading.Event()
    sent = [0]

    def storm():
        while not ready.is_set():
            try:
                km.provisioner.process.send_signal(signal.SIGINT)
                sent[0] += 1
            except (ProcessLookupError, OSError):
                return
            time.sleep(0.003)

    pid = km.provisioner.pid
    kernel_binary = os.path.realpath(km.kernel_spec.argv[-3] if inherited == "ignored" else km.kernel_spec.argv[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            exe = os.path.realpath(f"/proc/{pid}/exe")
            status = _inherited_sigint(km)
        except OSError:
            continue
        if exe == kernel_binary and int(status["SigBlk"], 16) & 0b10:
            break
        time.sleep(0.001)
    thread = threading.Thread(target=storm)
    thread.start()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        ready.set()
        thread.join()
        time.sleep(0.2)
        assert km.is_alive(), f"kernel died after {sent[0]} SIGINTs during startup"
        assert execute(kc, "1 + 1").result_text() == "2"
        print(f"{inherited}: kernel came up through {sent[0]} SIGINTs")
        assert sent[0] > 10, "the storm did overlap the startup"
    finally:
        ready.set()
        thread.join()
        kc.stop_channels()
        km.shutdown_kernel(now=True)
