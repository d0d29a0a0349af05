"""Shared harness for the kernel-level suites (integration, conformance, browser).

The kernel under test is a setting, not a constant: ANYVIZ_TEST_KERNEL (default "anyviz").
Running the same suites against ipykernel (`ANYVIZ_TEST_KERNEL=python3`) validates the harness
itself; tests of AnyViz-only behaviour use `requires_anyviz` and are skipped only in that mode.
The conformance suite must never skip anything, and with the real kernel nothing in these
suites may skip: a skip there would hide a missing feature, so the session fails instead.
"""
import os
import sys

import pytest

# Test modules import the shared helpers as `kernel_harness` (a unique name: several
# conftest.py files live under tests/, so `from conftest import` would be ambiguous).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernel_harness import IS_ANYVIZ, KERNEL  # noqa: E402

_KERNEL_SUITES = ("integration", "conformance", "browser", "security", "notebooks")
_skipped_kernel_tests = []


def _suite_of(nodeid):
    parts = nodeid.replace("\\", "/").split("/")
    if len(parts) >= 2 and parts[0] == "tests" and parts[1] in _KERNEL_SUITES:
        return parts[1]
    return None


def pytest_runtest_logreport(report):
    suite = _suite_of(report.nodeid)
    if suite and report.skipped and (suite == "conformance" or IS_ANYVIZ):
        _skipped_kernel_tests.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _skipped_kernel_tests and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if _skipped_kernel_tests:
        terminalreporter.write_line(
            f"FAILED: {len(_skipped_kernel_tests)} kernel test(s) were skipped "
            f"(kernel {KERNEL!r}); skips are not allowed here:", red=True)
        for nodeid in _skipped_kernel_tests:
            terminalreporter.write_line(f"  skipped: {nodeid}")


def _kernelspec_or_fail():
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        pytest.fail(
            f"kernelspec {KERNEL!r} is not installed; run `bash scripts/setup.sh` "
            "(or set ANYVIZ_TEST_KERNEL=python3 to check the harness against ipykernel)")


@pytest.fixture(scope="session")
def kernel_name():
    """Name of the kernelspec under test, checked to exist."""
    _kernelspec_or_fail()
    return KERNEL
