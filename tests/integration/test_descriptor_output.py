"""Output written to descriptors 1 and 2 (child processes, C code) reaches the notebook, and the
kernel's own log never does, even at its most talkative level."""
import os

import pytest
from jupyter_client.manager import KernelManager

from kernel_harness import KERNEL, execute, stop_kernel


@pytest.fixture(scope="module")
def debug_logging_kernel():
    km = KernelManager(kernel_name=KERNEL)
    env = {**os.environ, "ANYVIZ_LOG_LEVEL": "trace"}
    env.pop("PYTEST_CURRENT_TEST", None)  # ipykernel forwards descriptors only outside pytest
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    yield kc
    stop_kernel(km, kc)


def test_child_process_output_shows_under_its_cell(debug_logging_kernel):
    result = execute(debug_logging_kernel, "import os\nstatus = os.system('echo from a child')")
    assert result.status == "ok"
    assert result.stream("stdout") == "from a child\n"
    assert result.stream("stderr") == ""


def test_child_stderr_is_a_stderr_stream(debug_logging_kernel):
    code = "import subprocess\ndone = subprocess.run('echo oops 1>&2', shell=True)"
    result = execute(debug_logging_kernel, code)
    assert result.stream("stderr") == "oops\n"
    assert result.stream("stdout") == ""


def test_c_level_printf_shows(debug_logging_kernel):
    code = "import ctypes\nlibc = ctypes.CDLL(None)\nlibc.printf(b'from C\\n')\nlibc.fflush(None);"
    assert execute(debug_logging_kernel, code).stream("stdout") == "from C\n"


def test_faulthandler_can_enable(debug_logging_kernel):
    code = "import faulthandler\nfaulthandler.enable()\nprint(faulthandler.is_enabled())"
    assert execute(debug_logging_kernel, code).stream("stdout") == "True\n"


def test_kernel_log_stays_out_of_cells(debug_logging_kernel):
    """At trace level the kernel logs every execute request (and Python's start) to its
    stderr; none of it may reach a cell."""
    for _ in range(3):
        result = execute(debug_logging_kernel, "import time\ntime.sleep(0.05)")
        assert (result.stream("stdout"), result.stream("stderr")) == ("", "")
