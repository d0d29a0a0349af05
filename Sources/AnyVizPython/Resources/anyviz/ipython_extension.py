"""`%load_ext anyviz`: AnyViz's magics in any IPython kernel (ipykernel in JupyterLab, VS Code,
Colab).

In the AnyViz kernel the magics reach the native side through the `_anyviz` builtin module:
outputs are published by Swift, and downloads and LLM calls go through libcurl there. In a
plain IPython kernel there is no `_anyviz`, so this module supplies the same three calls in
Python (`PythonBridge`):

- `emit`: outputs go through IPython's own display publisher and streams, so the kernel
  (ipykernel or another) publishes them under the running cell;
- `input`: Python's `input()` / `getpass`, which the kernel wires to the front end;
- `call`: the `fetch` service (downloads, `anyviz.download`). LLM calls do not come here:
  `anyviz.llm` sees `native = False` and uses urllib (`anyviz.llm_http`).

The magics and the chart pipeline (`anyviz.magics`, `anyviz.viz.pipeline`) are the same code
in both kernels.
"""
from __future__ import annotations

import sys

from . import download, jsonutil

#: Set by `load_ipython_extension` when it supplied the Python bridge (not in the AnyViz kernel).
_python_bridge = None


def load_ipython_extension(shell) -> None:
    """Called by `%load_ext anyviz`: register the magics, and where AnyViz's native side is
    absent, the Python bridge they publish and call through."""
    global _python_bridge
    from . import iopub, session

    if not _native_bridge_present():
        _python_bridge = PythonBridge()
        iopub._anyviz = _python_bridge
    # The magics find the user's DataFrames in the shell's namespace.
    session.main_module = shell.user_module
    session.user_ns = shell.user_ns
    from . import errors, magics

    magics.install(shell)
    if not shell.custom_exceptions:
        shell.set_custom_exc((errors.AnyVizError,), _show_anyviz_error)
    if "google.colab" in sys.modules:
        shell.events.register("pre_run_cell", _plotlyjs_in_every_cell)


def _plotlyjs_in_every_cell(info=None) -> None:
    """Colab shows each cell's outputs in its own frame, so plotly.js sent with an earlier
    cell's chart is not there for this one: every cell's first chart carries it again."""
    from .viz import output

    output.reset_session()


def unload_ipython_extension(shell) -> None:
    """`%unload_ext anyviz`: the magics stay registered (IPython has no unregister), but AnyViz
    errors are shown with tracebacks again."""
    from . import errors

    if shell.custom_exceptions == (errors.AnyVizError,):
        shell.set_custom_exc((), None)


def _native_bridge_present() -> bool:
    try:
        import _anyviz  # noqa: F401 - provided by the AnyViz kernel only
    except ImportError:
        return False
    return not isinstance(_anyviz, PythonBridge)


def _show_anyviz_error(shell, etype, value, tb, tb_offset=None):
    """AnyViz's errors say what to do: shown as their message, without Python internals."""
    try:
        lines = str(value).split("\n")
    except Exception:
        lines = [f"<unprintable {etype.__name__}>"]
    stb = [f"{etype.__name__}: {lines[0]}"] + lines[1:]
    shell._showtraceback(etype, value, stb)
    return stb


# ------------------------------------------------------------------------------- the bridge
class PythonBridge:
    """`_anyviz` in Python: publishing through IPython, services answered in this process."""

    #: Tells `anyviz.llm` to reach the LLM with urllib rather than through `call`.
    native = False

    def __init__(self, services=None):
        self.services = services or Services()

    def emit(self, msg_type: str, content_json: str, token: int | None = None) -> None:
        content = jsonutil.loads(content_json)
        if msg_type == "stream":
            stream = sys.stderr if content.get("name") == "stderr" else sys.stdout
            stream.write(content.get("text", ""))
            stream.flush()
        elif msg_type in ("display_data", "update_display_data", "execute_result"):
            from IPython.display import publish_display_data

            transient = content.get("transient") or None
            kwargs = {"update": True} if msg_type == "update_display_data" else {}
            publish_display_data(content.get("data") or {}, content.get("metadata") or {},
                                 transient=transient, **kwargs)
        elif msg_type == "clear_output":
            from IPython.display import clear_output

            clear_output(wait=bool(content.get("wait")))
        # comm messages: the host kernel's comm manager owns comms; AnyViz sends none here.

    def input(self, prompt: str, password: bool) -> str:
        if password:
            import getpass

            return getpass.getpass(prompt)
        return input(prompt)

    def call(self, service: str, payload_json: str) -> str:
        return jsonutil.dumps(self.services.call(service, jsonutil.loads(payload_json or "{}")))


# ------------------------------------------------------------------------------- services
class Services:
    """The native kernel services that have a Python stand-in."""

    def call(self, service: str, payload: dict) -> dict:
        handler = getattr(self, f"service_{service}", None)
        if handler is None:
            raise RuntimeError(f"unknown kernel service {service}")
        return handler(payload or {})

    def service_fetch(self, p: dict) -> dict:
        """`%load https://...`: download to a file under the same policy as the native client."""
        url, path = p.get("url"), p.get("path")
        if not url or not path:
            return {"status": "error", "message": "fetch needs url and path"}
        return download.fetch(url, path, float(p.get("timeout_s") or 120))
