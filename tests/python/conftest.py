"""Plain-Python tests of the runtime package: a fake `_anyviz` records what would be published."""
import json
import os
import sys
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Sources", "AnyVizPython", "Resources"))


def _reject_constant(name):
    raise AssertionError(f"JSON constant {name} is not valid for Jupyter")


class FakeBridge(types.ModuleType):
    """Stands in for the kernel's builtin module; records messages instead of sending them."""

    def __init__(self):
        super().__init__("_anyviz")
        self.messages = []
        self.inputs = []
        self.magics = []

    def emit(self, msg_type, content_json):
        # Jupyter clients reject the NaN/Infinity JSON constants (text in strings is fine).
        self.messages.append((msg_type, json.loads(content_json, parse_constant=_reject_constant)))

    def input(self, prompt, password):
        if not self.inputs:
            raise RuntimeError("stdin is not allowed for this request")
        return self.inputs.pop(0)

    def call(self, service, payload_json):
        self.magics.append((service, json.loads(payload_json)))
        return "{}"

    def of_type(self, msg_type):
        return [c for t, c in self.messages if t == msg_type]


_bridge = FakeBridge()
sys.modules["_anyviz"] = _bridge


@pytest.fixture
def bridge():
    _bridge.messages.clear()
    _bridge.inputs.clear()
    _bridge.magics.clear()
    return _bridge


@pytest.fixture
def clean_data_session():
    """Each data test starts and ends with no frames, relationships or current frame, and
    removes the names it added to the user namespace."""
    from anyviz import session
    from anyviz.data import registry

    before = set(session.user_ns)
    registry.clear()
    session.set_current_frame(None)
    yield
    for name in set(session.user_ns) - before:
        del session.user_ns[name]
    registry.clear()
    session.set_current_frame(None)


@pytest.fixture(scope="module")
def g():
    """A chart sandbox (guard worker process) shared by one test module, stopped after it."""
    from anyviz.viz import guard

    sandbox = guard.Guard()
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def chart_worker():
    """The chart sandbox's warm worker, started once for a test module and stopped after it."""
    from anyviz.viz import guard

    worker = guard.get_guard()
    worker.start()
    yield worker
    worker.stop()
