"""Entry points the Swift kernel calls: execute, complete, inspect, is_complete, configure.

Every entry point takes and returns a JSON string (see docs/ARCHITECTURE.md). They run on the
interpreter's main thread, one at a time. Cells run in `anyviz.session.user_ns` with IPython's
conventions: the last expression is displayed, `_`/`Out[N]` hold results, `%magic` lines call the
Swift magic registry, `obj?` pages help, tracebacks say "Cell In[N], line X".

This module is imported when the kernel starts, so it imports only small standard modules; the
rest (completion, inspection, traceback formatting, pandas) loads on first use.
"""
from __future__ import annotations

import builtins
import itertools
import json
import linecache
import os
import re
import sys

from . import display as _display
from . import iopub, jsonutil, session, streams
from .errors import AnyVizError

_HERE = os.path.dirname(os.path.abspath(__file__))
_RUNTIME_FILES = {os.path.join(_HERE, f) for f in
                  ("runtime.py", "display.py", "transform.py", "streams.py")}
_CELL_FILE = re.compile(r"<anyviz-cell-(\d+)-\d+>")
_serial = itertools.count(1)

_magics: list[str] = []
_installed = False


class StdinNotImplementedError(NotImplementedError):
    """input() in a cell whose front end cannot answer input requests (ipykernel's name)."""


class _State:
    """What the cell being run needs from its request."""
    payload: list = []
    allow_stdin: bool = False


_state = _State()


# --- helpers the transformed cell source calls --------------------------------------------------

class ShellEscapeError(AnyVizError):
    """`!cmd` is IPython syntax this kernel does not run."""


class CellMagicError(AnyVizError):
    """`%%name` cell magics do not exist in AnyViz."""


class _CellHelpers:
    """Installed in builtins as `__anyviz__`; see anyviz.transform."""

    @staticmethod
    def magic(name: str, line: str):
        streams.flush_all()
        iopub.call("magic", {"name": name, "line": line})
        return None

    @staticmethod
    def cell_magic(name: str, line: str):
        raise CellMagicError(
            f"%%{name}: cell magics are not supported by AnyViz, only line magics (%name). "
            "Run %lsmagic to list them.")

    @staticmethod
    def shell(command: str):
        raise ShellEscapeError(
            f"Shell commands (!{command}) are not supported by the AnyViz kernel. Use Python "
            f"instead, e.g. import subprocess; print(subprocess.run({command!r}, shell=True, "
            "capture_output=True, text=True).stdout)")

    @staticmethod
    def help(name: str, detail_level: int = 0):
        from . import inspection

        obj = inspection.resolve(name, session.user_ns)
        if obj is inspection._MISSING:
            print(f"Object `{name}` not found.")
            return None
        text = inspection.info_text(obj, name, detail_level)
        _state.payload.append({"source": "page", "data": {"text/plain": text}, "start": 0})
        return None


class _Exit:
    """`exit`/`quit` in builtins: calling it ends the cell with SystemExit, not the kernel."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return (f"Use {self.name}() to stop the current cell; the kernel keeps running. "
                "To stop the kernel use Kernel > Shut Down.")

    def __call__(self, code=None, *args, **kwargs):
        raise SystemExit(code)


def _input(prompt=""):
    streams.flush_all()
    if not _state.allow_stdin:
        raise StdinNotImplementedError(
            "raw_input was called, but this frontend does not support input requests.")
    return iopub.input_line(str(prompt), False)


def _getpass(prompt="Password: ", stream=None):
    streams.flush_all()
    if not _state.allow_stdin:
        raise StdinNotImplementedError(
            "getpass was called, but this frontend does not support input requests.")
    return iopub.input_line(str(prompt), True)


def _install() -> None:
    """Put display/exit/quit/__anyviz__ in builtins and In/Out in the namespace (idempotent)."""
    global _installed
    if _installed:
        return
    builtins.display = _display.display
    builtins.exit = _Exit("exit")
    builtins.quit = _Exit("quit")
    setattr(builtins, "__anyviz__", _CellHelpers)
    ns = session.user_ns
    ns.setdefault("In", [""])
    ns.setdefault("Out", {})
    ns.setdefault("_ih", ns["In"])
    ns.setdefault("_oh", ns["Out"])
    for name in ("_", "__", "___", "_i", "_ii", "_iii"):
        ns.setdefault(name, "")
    _display.install_ipython_hook()
    _installed = True


def configure(config_json: str) -> str:
    """Called once at start: `{"magics": [names]}` (used for `%` completion)."""
    config = json.loads(config_json or "{}")
    _magics[:] = sorted({str(m).lstrip("%") for m in config.get("magics", [])})
    # matplotlib figures appear as PNG outputs, like IPython's inline backend (a user's own
    # MPLBACKEND wins).
    os.environ.setdefault("MPLBACKEND", "module://anyviz.mpl_inline")
    _install()
    return jsonutil.dumps({"status": "ok"})


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


def _register_source(code: str, count: int) -> str:
    filename = f"<anyviz-cell-{count}-{next(_serial)}>"
    lines = code.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    linecache.cache[filename] = (len(code), None, lines, filename)
    return filename


def _store_input(code: str, count: int) -> None:
    ns = session.user_ns
    history = ns.get("In")
    if isinstance(history, list):
        while len(history) < count:
            history.append("")
        if len(history) == count:
            history.append(code)
        else:
            history[count] = code
    ns["_iii"], ns["_ii"], ns["_i"] = ns.get("_ii", ""), ns.get("_i", ""), code
    ns[f"_i{count}"] = code


def _display_result(value, count: int, store_history: bool) -> None:
    """The display hook for the cell's last expression."""
    if value is None:
        return
    data, metadata = _display.format_bundle(value)
    streams.flush_all()
    iopub.emit("execute_result", {"execution_count": count, "data": data, "metadata": metadata})
    ns = session.user_ns
    if value is not ns.get("_"):
        ns["___"], ns["__"], ns["_"] = ns.get("__", ""), ns.get("_", ""), value
    if store_history:
        ns[f"_{count}"] = value
        out = ns.get("Out")
        if isinstance(out, dict):
            out[count] = value


_TOP_LEVEL_AWAIT = 0x2000  # ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, without importing ast at start
_CO_COROUTINE = 0x0080
_loop = None


def _eval(code, ns):
    """Run compiled cell code; code using top-level `await` compiles to a coroutine, which runs
    to completion on one persistent event loop (so loop-bound objects survive between cells)."""
    global _loop
    if not code.co_flags & _CO_COROUTINE:
        return eval(code, ns)
    import asyncio

    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop.run_until_complete(eval(code, ns))


def _run(code: str, filename: str, count: int, silent: bool, store_history: bool) -> None:
    import ast

    from . import transform

    source = transform.transform_cell(code)
    try:
        tree = ast.parse(source, filename, "exec")
    except SyntaxError as exc:  # show the line the user wrote, not its transformed form
        lines = code.split("\n")
        if exc.lineno and 0 < exc.lineno <= len(lines) and exc.text is not None:
            original = lines[exc.lineno - 1]
            if original != exc.text.rstrip("\n"):
                exc.text, exc.offset, exc.end_offset = original + "\n", None, None
        raise
    ns = session.user_ns
    body = tree.body
    last = body[-1] if body and isinstance(body[-1], ast.Expr) else None
    if last is not None:
        body = body[:-1]
    if body:
        _eval(compile(ast.Module(body=body, type_ignores=[]), filename, "exec",
                      flags=_TOP_LEVEL_AWAIT, dont_inherit=True), ns)
    if last is not None:
        value = _eval(compile(ast.Expression(body=last.value), filename, "eval",
                              flags=_TOP_LEVEL_AWAIT, dont_inherit=True), ns)
        if not silent and not transform.ends_with_semicolon(source):
            _display_result(value, count, store_history)


def _drop_runtime_frames(te) -> None:
    """Remove the runtime's own frames (exec, display hook, input...) from every exception in
    the chain: users should see their code, not ours. Keep them if nothing else is left."""
    seen = set()
    while te is not None and id(te) not in seen:
        seen.add(id(te))
        kept = [f for f in te.stack if f.filename not in _RUNTIME_FILES]
        if kept:
            te.stack[:] = kept
        te = te.__cause__ or te.__context__


def _cell_names(text: str) -> str:
    """`File "<anyviz-cell-3-7>", line 2, in <module>` -> `Cell In[3], line 2`."""
    text = re.sub(r'File "<anyviz-cell-(\d+)-\d+>", line (\d+), in <module>',
                  r"Cell In[\1], line \2", text)
    return re.sub(r'File "<anyviz-cell-(\d+)-\d+>", line (\d+)', r"Cell In[\1], line \2", text)


def _error_reply(exc: BaseException) -> dict:
    ename = type(exc).__name__
    if isinstance(exc, SystemExit):
        evalue = str(exc.code)
        traceback = [f"SystemExit: {evalue}",
                     "The kernel keeps running: sys.exit(), exit() and quit() only stop this "
                     "cell. To stop the kernel use Kernel > Shut Down."]
    elif isinstance(exc, AnyVizError):
        evalue = _safe_str(exc)
        lines = evalue.split("\n") or [""]
        traceback = [f"{ename}: {lines[0]}"] + lines[1:]
    else:
        import traceback as tb_module

        evalue = _safe_str(exc)
        te = tb_module.TracebackException(type(exc), exc, exc.__traceback__)
        if isinstance(exc, SyntaxError) and _CELL_FILE.fullmatch(str(exc.filename or "")):
            # the cell did not compile: only the error and the offending line
            text = _cell_names("".join(te.format_exception_only()))
        else:
            _drop_runtime_frames(te)
            text = _cell_names("".join(te.format()))
        traceback = text.rstrip("\n").split("\n")
    return {"status": "error", "ename": ename, "evalue": evalue, "traceback": traceback,
            "user_expressions": {}, "payload": []}


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<unprintable {type(exc).__name__} object>"


def _user_expressions(expressions: dict) -> dict:
    results = {}
    for key, expr in (expressions or {}).items():
        try:
            value = eval(compile(str(expr), "<user_expression>", "eval", dont_inherit=True),
                         session.user_ns)
            data, metadata = _display.format_bundle(value)
            results[key] = {"status": "ok", "data": data, "metadata": metadata}
        except Exception as exc:
            err = _error_reply(exc)
            results[key] = {"status": "error", "ename": err["ename"], "evalue": err["evalue"],
                            "traceback": err["traceback"]}
    return results


class _Redirected:
    """stdout/stderr/input/getpass swapped in for the duration of a cell."""

    def __enter__(self):
        import getpass

        self.saved = (sys.stdout, sys.stderr, builtins.input, getpass.getpass)
        sys.stdout, sys.stderr = streams.stdout, streams.stderr
        builtins.input = _input
        getpass.getpass = _getpass
        return self

    def __exit__(self, *exc):
        import getpass

        try:
            streams.flush_all()
        finally:
            sys.stdout, sys.stderr, builtins.input, getpass.getpass = self.saved
        return False


def _execute(request: dict) -> dict:
    _install()
    _drain_pending_interrupt()
    code = str(request.get("code", ""))
    count = int(request.get("execution_count") or 0)
    silent = bool(request.get("silent", False))
    store_history = bool(request.get("store_history", not silent)) and not silent
    _state.payload = []
    _state.allow_stdin = bool(request.get("allow_stdin", False))
    if store_history:
        _store_input(code, count)
    filename = _register_source(code, count)
    reply = {"status": "ok", "user_expressions": {}, "payload": _state.payload}
    streams.start_cell()  # output from background threads belongs before this cell's
    with _Redirected():
        try:
            _run(code, filename, count, silent, store_history)
        except BaseException as exc:  # noqa: B902 - SystemExit/KeyboardInterrupt are cell errors
            reply = _error_reply(exc)
            reply["payload"] = _state.payload
    if reply["status"] == "ok":
        reply["user_expressions"] = _user_expressions(request.get("user_expressions") or {})
    return reply


def execute(request_json: str) -> str:
    """Run one cell; returns the execute_reply content as JSON (errors never escape)."""
    try:
        reply = _execute(json.loads(request_json))
    except BaseException as exc:  # e.g. an interrupt landing in the runtime itself
        reply = _error_reply(exc)
    _show_open_figures()
    _warm_chart_sandbox()
    return jsonutil.dumps(reply)


def _show_open_figures() -> None:
    """Figures the cell drew but did not show are displayed at its end (inline backend)."""
    inline = sys.modules.get("anyviz.mpl_inline")
    if inline is None:
        return
    try:
        inline.flush()
    except Exception as exc:  # a figure that cannot render must not break the reply
        from . import iopub

        iopub.stream("stderr", f"matplotlib figure could not be shown: {exc}\n")


_sandbox_started = False


def _warm_chart_sandbox() -> None:
    """Once the session works with pandas, start the chart sandbox's worker process in the
    background (it imports pandas and plotly, ~1.5 s), so the first %viz does not wait for it.
    Before that, nothing is started: a kernel used without data stays light."""
    global _sandbox_started
    if _sandbox_started or "pandas" not in sys.modules:
        return
    _sandbox_started = True
    try:
        from .viz import guard

        guard.get_guard().start()
    except Exception:  # never let warming up disturb a cell; %viz starts it when needed
        pass


# --- completion, inspection, is_complete -------------------------------------------------------

def complete(request_json: str) -> str:
    """complete_request -> complete_reply content (JSON)."""
    from . import completion

    request = json.loads(request_json)
    code = str(request.get("code", ""))
    try:
        reply = completion.complete(code, int(request.get("cursor_pos", len(code))),
                                    session.user_ns, _magics)
    except Exception:  # completion must never fail loudly while the user types
        pos = int(request.get("cursor_pos", len(code)))
        reply = {"matches": [], "cursor_start": pos, "cursor_end": pos, "metadata": {}}
    reply["status"] = "ok"
    return jsonutil.dumps(reply)


def inspect(request_json: str) -> str:
    """inspect_request -> inspect_reply content (JSON)."""
    from . import inspection

    request = json.loads(request_json)
    code = str(request.get("code", ""))
    reply = inspection.inspect_request(code, int(request.get("cursor_pos", len(code))),
                                       int(request.get("detail_level", 0) or 0), session.user_ns)
    reply["status"] = "ok"
    return jsonutil.dumps(reply)


_DEDENT_AFTER = re.compile(r"^\s*(return|pass|break|continue|raise)\b")


def _is_complete(code: str) -> dict:
    import codeop
    import warnings

    from . import transform

    if not code.strip():
        return {"status": "complete"}
    source = transform.transform_cell(code)
    if source.rstrip(" \t").endswith("\\"):
        return {"status": "incomplete", "indent": _indent_of(source, extra=False)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compiled = codeop.compile_command(source, "<input>", "exec")
        except (SyntaxError, OverflowError, ValueError):
            return {"status": "invalid"}
    if compiled is None:
        return {"status": "incomplete", "indent": _indent_of(source, extra=True)}
    last = source.rstrip("\n").split("\n")[-1]
    # Like IPython: a block (def, for, if ...) whose last line is still indented may continue
    # until a blank line; an indented continuation inside brackets is complete.
    if last[:1] in (" ", "\t") and not source.endswith("\n") and _ends_in_block(source):
        return {"status": "incomplete", "indent": _indent_of(source, extra=False)}
    return {"status": "complete"}


def _ends_in_block(source: str) -> bool:
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return bool(tree.body) and hasattr(tree.body[-1], "body")


def _indent_of(source: str, extra: bool) -> str:
    last = source.rstrip("\n").split("\n")[-1]
    indent = last[: len(last) - len(last.lstrip())]
    stripped = last.split("#", 1)[0].rstrip()
    if extra and stripped.endswith(":"):
        return indent + "    "
    if _DEDENT_AFTER.match(last):
        return indent[:-4] if len(indent) >= 4 else ""
    return indent


def is_complete(request_json: str) -> str:
    """is_complete_request -> {"status": "complete"|"incomplete"|"invalid", "indent"?}."""
    request = json.loads(request_json)
    try:
        reply = _is_complete(str(request.get("code", "")))
    except Exception:
        reply = {"status": "unknown"}
    return jsonutil.dumps(reply)
