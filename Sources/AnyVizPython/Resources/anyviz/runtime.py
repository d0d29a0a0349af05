"""Entry points the Swift kernel calls: configure, execute, complete, inspect, is_complete,
history, comm, comm_info.

Every entry point takes and returns a JSON string (see docs/ARCHITECTURE.md). They run on the
interpreter's main thread, one at a time, and hand the work to IPython's InteractiveShell
(`anyviz.shell`), as ipykernel's `ipkernel.py` does.
"""
from __future__ import annotations

import json
import os
import sys

from . import fdcapture, hooks, iopub, metrics, startup, streams


def _jsonutil():
    """anyviz.jsonutil on first use: its orjson import stays off the kernel's start (the shell
    builder imports it in the background, see anyviz.startup)."""
    from . import jsonutil

    return jsonutil


def _shell():
    """IPython's shell (built in the background at start: see anyviz.startup)."""
    return startup.shell()


def _begin(request: dict) -> None:
    iopub.begin_request(request.get("parent_token") or 0, request.get("parent_header"))


def configure(config_json: str = "{}") -> str:
    """Called once at start, off the critical path of kernel_info: starts building the shell
    (in the background; the first plain cells need not wait for it)."""
    iopub.install_thread_parents()
    _use_kernel_command_line()
    startup.begin()
    return _jsonutil().dumps({"status": "ok"})


def _use_kernel_command_line() -> None:
    """`sys.argv` is the kernel's command line (program, `-f`, connection file), as under
    ipykernel: notebooks that call `parser.parse_known_args()` or strip `-f` from `sys.argv`
    see what they see there."""
    try:
        with open("/proc/self/cmdline", "rb") as handle:
            argv = [os.fsdecode(arg) for arg in handle.read().split(b"\0")[:-1]]
    except OSError:
        return
    if argv:
        sys.argv = argv


# --- execution ---------------------------------------------------------------------------------

def _drain_pending_interrupt() -> None:
    """Let a KeyboardInterrupt that arrived after the previous cell fire here, harmlessly."""
    try:
        for _ in range(2):
            _noop()
    except KeyboardInterrupt:
        pass


def _noop():
    return None


def _execute(request: dict) -> dict:
    _drain_pending_interrupt()
    early = startup.try_execute(request)
    if early is not None:
        return early
    shell = _shell()
    from . import cell_loop, shell as shell_module  # both import IPython: after the shell is up

    code = str(request.get("code", ""))
    silent = bool(request.get("silent", False))
    store_history = bool(request.get("store_history", not silent)) and not silent
    count = int(request.get("execution_count") or 0)
    if count > 0 and store_history:
        shell_module.follow_kernel_count(shell, count)
    allow_stdin = bool(request.get("allow_stdin", False))
    if shell.allow_stdin != allow_stdin:  # a trait: setting it costs more than comparing
        shell.allow_stdin = allow_stdin
    shell_module.reset_error()
    streams.start_cell()
    result = None
    try:
        result = cell_loop.run_cell(shell, code, store_history=store_history, silent=silent)
    except BaseException as exc:  # noqa: B902 - an interrupt landing in IPython's own code
        shell.showtraceback((type(exc), exc, exc.__traceback__))
    finally:
        # What child processes and C code wrote comes last, as under ipykernel (whose
        # descriptor output reaches the stream after the result is published).
        fdcapture.drain()
        streams.flush_all()
    error = None
    if result is None:
        error = shell_module.last_error() or {"ename": "KeyboardInterrupt", "evalue": "",
                                              "traceback": []}
    elif not result.success:
        err = result.error_before_exec if result.error_before_exec is not None \
            else result.error_in_exec
        last = shell_module.last_error()
        error = {"ename": type(err).__name__, "evalue": shell_module.safe_str(err),
                 "traceback": (last or {}).get("traceback", [])}
    reply = {"status": "ok", "user_expressions": {}, "error_published": True}
    if error is not None:
        reply.update(status="error", **error)
    else:
        reply["user_expressions"] = shell.user_expressions(request.get("user_expressions") or {})
    reply["payload"] = shell.payload_manager.read_payload()
    if reply["payload"]:
        shell.payload_manager.clear_payload()
    return reply


def execute(request_json: str) -> str:
    """Run one cell; returns the execute_reply content as JSON (errors never escape)."""
    request = json.loads(request_json)
    _begin(request)
    try:
        reply = _execute(request)
    except BaseException as exc:  # noqa: B902 - the kernel must always get a reply
        reply = {"status": "error", "ename": type(exc).__name__, "evalue": str(exc),
                 "traceback": [f"{type(exc).__name__}: {exc}"], "user_expressions": {},
                 "payload": []}
    hooks.after_cell()  # e.g. the chart sandbox warms up once data is in (anyviz.hooks)
    # The cell's counters (anyviz.metrics) ride on the reply: no crossing of their own.
    counts = metrics.drain()
    if counts:
        reply["metrics"] = counts
    if _background_work():
        reply["background"] = True
    return _jsonutil().dumps(reply)


def _background_work() -> bool:
    """Whether the cells' event loop has tasks or timers to run while the kernel is idle; the
    kernel then calls `idle` (and otherwise makes no call between requests)."""
    cell_loop = sys.modules.get("anyviz.cell_loop")
    return cell_loop is not None and cell_loop.has_work()


def idle(request_json: str) -> str:
    """Between requests, when the last reply said there was background work: runs what the
    cells left on their event loop until the kernel's wake descriptor is readable; "false"
    when there was nothing (left) to run."""
    if not startup.ready():
        return "false"
    from . import cell_loop

    wake_fd = int(json.loads(request_json)["wake_fd"])
    return "true" if cell_loop.idle(wake_fd) else "false"


# --- completion, inspection, is_complete, history ------------------------------------------------

def _complete(code: str, cursor_pos: int) -> dict:
    from IPython.core.completer import provisionalcompleter, rectify_completions

    shell = _shell()
    with provisionalcompleter():
        completions = list(rectify_completions(
            code, shell.Completer.completions(code, cursor_pos)))
    types = [{"start": c.start, "end": c.end, "text": c.text, "type": c.type,
              "signature": c.signature} for c in completions]
    if completions:
        start, end = completions[0].start, completions[0].end
    else:
        start = end = cursor_pos
    return {"matches": [c.text for c in completions], "cursor_start": start,
            "cursor_end": end, "metadata": {"_jupyter_types_experimental": types}}


def complete(request_json: str) -> str:
    """complete_request -> complete_reply content (JSON), like ipykernel's jedi completions."""
    request = json.loads(request_json)
    code = str(request.get("code", ""))
    pos = int(request.get("cursor_pos", len(code)))
    try:
        reply = _complete(code, pos)
    except Exception:  # completion must never fail loudly while the user types
        reply = {"matches": [], "cursor_start": pos, "cursor_end": pos, "metadata": {}}
    reply["status"] = "ok"
    return _jsonutil().dumps(reply)


def inspect(request_json: str) -> str:
    """inspect_request -> inspect_reply content (JSON) from IPython's inspector."""
    from IPython.utils.tokenutil import token_at_cursor

    request = json.loads(request_json)
    code = str(request.get("code", ""))
    pos = int(request.get("cursor_pos", len(code)))
    reply = {"status": "ok", "data": {}, "metadata": {}, "found": False}
    try:
        name = token_at_cursor(code, pos)
        bundle = _shell().object_inspect_mime(name, detail_level=int(
            request.get("detail_level", 0) or 0))
        bundle.pop("text/html", None)  # like ipykernel without its HTML pager
        reply["data"] = bundle
        reply["found"] = True
    except KeyError:
        pass
    except Exception:  # inspection of a broken object must not fail the request
        pass
    return _jsonutil().dumps(reply)


def is_complete(request_json: str) -> str:
    """is_complete_request -> {"status": "complete"|"incomplete"|"invalid", "indent"?}."""
    request = json.loads(request_json)
    try:
        status, indent = _shell().input_transformer_manager.check_complete(
            str(request.get("code", "")))
        reply = {"status": status}
        if status == "incomplete":
            reply["indent"] = " " * (indent or 0)
    except Exception:
        reply = {"status": "unknown"}
    return _jsonutil().dumps(reply)


def history(request_json: str) -> str:
    """history_request -> history_reply content from IPython's history manager."""
    request = json.loads(request_json)
    manager = _shell().history_manager
    raw = bool(request.get("raw", True))
    output = bool(request.get("output", False))
    kind = request.get("hist_access_type")
    if kind == "tail":
        items = manager.get_tail(int(request.get("n") or 10), raw=raw, output=output,
                                 include_latest=True)
    elif kind == "range":
        stop = request.get("stop")
        items = manager.get_range(int(request.get("session") or 0),
                                  int(request.get("start") or 0),
                                  None if stop is None else int(stop), raw=raw, output=output)
    elif kind == "search":
        n = request.get("n")
        items = manager.search(str(request.get("pattern") or "*"), raw=raw, output=output,
                               n=None if n is None else int(n),
                               unique=bool(request.get("unique", False)))
    else:
        items = []
    # IPython numbers the running session 0 in range replies; clients compare sessions across
    # tail and range replies, so every entry carries the real number.
    current = manager.session_number
    return _jsonutil().dumps({"status": "ok", "history": [[item[0] or current, *item[1:]]
                                                       for item in items]})


# --- comms -----------------------------------------------------------------------------------------

def comm(request_json: str) -> str:
    """comm_open / comm_msg / comm_close from the front end."""
    from . import comms

    request = json.loads(request_json)
    _begin(request)
    _shell()
    try:
        comms.handle(str(request.get("msg_type")), request.get("content") or {},
                     request.get("parent_header"), iopub.take_buffers())
    except BaseException as exc:  # noqa: B902 - a widget callback must not stop the kernel
        print(f"comm {request.get('msg_type')} failed: {type(exc).__name__}: {exc}",
              file=sys.stderr)
    finally:
        streams.flush_all()
    return _jsonutil().dumps({"status": "ok", "background": _background_work()})


def comm_info(request_json: str) -> str:
    from . import comms

    request = json.loads(request_json)
    return _jsonutil().dumps({"status": "ok", "comms": comms.info(request.get("target_name"))})
