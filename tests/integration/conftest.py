"""Fixtures shared by the integration tests."""
import pytest

from kernel_harness import start_kernel, stop_kernel


@pytest.fixture(scope="module")
def kernel():
    """One kernel (manager, client) for every test of a module."""
    km, kc = start_kernel()
    yield km, kc
    stop_kernel(km, kc)
