"""The kernel's start: IPython's shell is built on a background thread, and the first plain cells
run at once instead of waiting ~0.1-0.2 s for it.

Importing IPython and building its InteractiveShell is most of the kernel's start. Python's
interpreter and the user namespace are up within milliseconds, so a first cell that needs nothing
of IPython (`1+1`, `x = 5`, `print("hi")`, a function definition) runs while the shell is still
being built, with IPython's meaning kept:

* Only plain Python qualifies: no IPython syntax (magics, `!`, `?`, escapes, pasted prompts), no
  imports, no top-level await, and every name it reads is already defined (a builtin, or a name
  an earlier cell bound). `display`, `get_ipython`, `In`/`Out`/`_`, `exit`, `input`, `open`
  (IPython's own versions) and anything that could import make a cell wait for the shell.
* A result of a builtin scalar type (int, float, bool, complex, str) is shown as IPython shows it
  (its repr); a cell ending in `;` shows none. Any other result, and any exception, waits for the
  shell, which then displays it or formats its traceback (with `Cell In[n]`) exactly as usual.
* Once the shell is ready, the early cells are written into it in order: `In`, `_i<n>`, the
  history (for `%history` and history_request), `Out`, `_`, `_<n>`, the execution count.

ANYVIZ_EARLY_CELLS=0 turns this off: every cell then waits for the shell.
"""
from __future__ import annotations

import ast
import builtins
import gc
import io
import linecache
import os
import sys
import threading
import tokenize

from . import cellnames, iopub, session, streams

_ready = threading.Event()
_failure: BaseException | None = None
_builder: threading.Thread | None = None
#: Early cells not yet written into the shell: (count, code, has_value, value, text).
_pending: list[tuple[int, str, bool, object, str | None]] = []

#: What IPython would treat as its own syntax (magics, shell escapes, help, autocall escapes,
#: pasted prompts, a first line that is indented or blank, Emacs mode lines) or run as a
#: coroutine.
_SPECIAL = ("%", "!", "?", "await", "async", "-*-")
#: Names whose meaning IPython changes or provides, or that reach code the screen cannot see.
_WAIT_FOR_SHELL = frozenset({
    "__import__", "exec", "eval", "compile", "breakpoint", "help", "input", "open", "globals",
    "locals", "vars", "exit", "quit", "display", "get_ipython", "reload", "__builtins__",
    "__IPYTHON__", "In", "Out",
})
_SHOWN_AT_ONCE = (int, float, bool, complex, str)


def _enabled() -> bool:
    return os.environ.get("ANYVIZ_EARLY_CELLS", "1") != "0"


def begin() -> None:
    """Called once at start on Python's main thread: streams publish from now on, and the
    shell is built in the background (or here, when early cells are turned off)."""
    global _builder
    sys.stdout, sys.stderr = streams.stdout, streams.stderr
    if not _enabled():
        _build()
        return
    import tempfile

    from . import jsonutil

    # What the first cells need beyond the runtime's imports: the temporary folder their file
    # names are in (tempfile: ~3 ms, taken here before the builder competes for the
    # interpreter). Their small outputs do without the fast JSON encoder (~5 ms to import),
    # which the builder loads before IPython.
    tempfile.gettempdir()
    jsonutil.defer_fast_encoder()
    # While the builder imports, a cell waits for the GIL up to the switch interval at each
    # crossing from the kernel; 1 ms instead of 5 until the shell is built.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.001))
    begun = threading.Event()
    _builder = threading.Thread(target=_build, args=(interval, begun),
                                name="anyviz-shell-builder", daemon=True)
    _builder.start()
    begun.set()


def _build(switch_interval: float | None = None, begun: threading.Event | None = None) -> None:
    global _failure
    if begun is not None:
        # The kernel's thread finishes its start (it needs the interpreter for a moment after
        # starting this thread) before the builder's imports take the interpreter.
        begun.wait()
    try:
        from . import jsonutil

        jsonutil.load_fast_encoder()  # before IPython: the first large output needs it
        from . import shell

        instance = shell.get()
        # What the first cell IPython runs would load, loaded here instead: the cells' asyncio
        # loop (asyncio: ~20 ms), the debugger base IPython's run_code imports and the session
        # logger it builds on first use.
        import bdb  # noqa: F401

        from . import cell_loop  # noqa: F401

        _ = instance.logger
    except BaseException as exc:  # noqa: B902 - reported to every request that needs the shell
        _failure = exc
    finally:
        if switch_interval is not None:
            sys.setswitchinterval(switch_interval)
        _start_collecting()
        _ready.set()


def _start_collecting() -> None:
    """The kernel starts Python with garbage collection off (PythonRuntime.start): the start's
    imports make almost no garbage. What is alive now is the kernel's and IPython's long-lived
    state: frozen, so no collection walks it, neither now (one would cost ~10-20 ms just as the
    first cells run) nor later. Plain Python (collection on) is left alone."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def ready() -> bool:
    return _ready.is_set()


def shell():
    """IPython's shell, waiting for it to be built; early cells are written into it first."""
    if not _ready.is_set():
        if _builder is None:  # begin() never ran (plain Python, tests): build here
            _build()
        _ready.wait()
    if _failure is not None:
        raise RuntimeError(f"IPython's shell could not start: {type(_failure).__name__}: "
                           f"{_failure}. Check the kernel's venv (pip install -r "
                           "requirements.txt).") from _failure
    from . import shell as shell_module

    instance = shell_module.get()
    while _pending:
        _record(instance, *_pending.pop(0))
    return instance


def _record(instance, count, code, has_value, value, text) -> None:
    """Write one early cell into the shell as run_cell would have: input history, In/_i<n>,
    and for a shown result Out/_/_<n> and its history output."""
    from . import shell as shell_module

    instance.compile.cache(code, count, raw_code=code)
    shell_module.follow_kernel_count(instance, count)
    instance.history_manager.store_inputs(count, code, code)
    instance.execution_count = count + 1  # as run_cell leaves it (the display hook shows n - 1)
    if has_value:
        hook = instance.displayhook
        hook.update_user_ns(value)
        if text is not None:
            hook.log_output({"text/plain": text})


# --- early cells ----------------------------------------------------------------------------------

def try_execute(request: dict) -> dict | None:
    """Run the cell at once if the shell is not ready and the cell qualifies (see the module
    docstring); None when the shell must run it."""
    if _ready.is_set() or _builder is None:
        return None
    code = request.get("code")
    count = int(request.get("execution_count") or 0)
    if (not isinstance(code, str) or count <= 0 or request.get("silent")
            or not request.get("store_history", True) or request.get("user_expressions")):
        return None
    compiled = _compile(code, count)
    if compiled is None:
        return None
    body, last = compiled
    streams.start_cell()
    try:
        exec(body, session.user_ns)
        value = eval(last, session.user_ns) if last is not None else None
    except BaseException as exc:  # noqa: B902 - shown by IPython's traceback formatter
        # From the cell's own frame on, as IPython shows it (this frame is ours, not the user's).
        tb = exc.__traceback__.tb_next or exc.__traceback__
        return _finish_with_shell(count, code, error=(type(exc), exc, tb))
    finally:
        streams.flush_all()
    if value is None or _ends_with_semicolon(code):
        _pending.append((count, code, False, None, None))
        return _ok()
    text = _plain_text(value)
    if text is None:
        return _finish_with_shell(count, code, value=value)
    _pending.append((count, code, True, value, text))
    iopub.emit("execute_result", {"execution_count": count, "data": {"text/plain": text},
                                  "metadata": {}})
    return _ok()


def _ok() -> dict:
    return {"status": "ok", "user_expressions": {}, "payload": [], "error_published": True}


def _finish_with_shell(count, code, *, value=None, error=None) -> dict:
    """A result only IPython can format, or an exception: wait for the shell, then let it show
    them for this cell."""
    from . import shell as shell_module

    _pending.append((count, code, False, None, None))
    instance = shell()
    if error is None:
        instance.displayhook(value)
        return _ok()
    shell_module.reset_error()
    instance.showtraceback(error, tb_offset=0)
    last = shell_module.last_error() or {}
    return {"status": "error", "ename": error[0].__name__,
            "evalue": shell_module.safe_str(error[1]),
            "traceback": last.get("traceback", []), "user_expressions": {}, "payload": [],
            "error_published": True}


def _plain_text(value) -> str | None:
    """IPython's text/plain for builtin scalars is their repr; None for anything else."""
    if type(value) not in _SHOWN_AT_ONCE:
        return None
    try:
        return repr(value)
    except Exception:  # e.g. an int past the digit limit: IPython reports it
        return None


def _compile(code: str, count: int):
    """(body, last expression or None) compiled under the cell's file name, or None when the
    cell must wait for the shell."""
    if not code.strip() or code[0].isspace() or any(s in code for s in _SPECIAL):
        return None
    first = code.lstrip().split("\n", 1)[0].lstrip()
    if first[:1] in (",", ";", "/") or first.startswith((">>>", "...", "In [")):
        return None
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None  # IPython's own message
    if not tree.body or not _reads_only_known_names(tree):
        return None
    name = cellnames.cell_file_name(code, os.getpid())
    linecache.cache[name] = (len(code), None, code.splitlines(keepends=True), name)
    last = None
    if isinstance(tree.body[-1], ast.Expr):
        last = compile(ast.Expression(tree.body.pop().value), name, "eval")
    return compile(tree, name, "exec"), last


def _reads_only_known_names(tree) -> bool:
    bound = set()
    read = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Await, ast.AsyncFunctionDef,
                             ast.AsyncFor, ast.AsyncWith, ast.Global, ast.Nonlocal)):
            return False
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            return False  # dunder walks (obj.__class__.__subclasses__()) reach anything
    if read & _WAIT_FOR_SHELL or bound & _WAIT_FOR_SHELL:
        return False
    known = session.user_ns.keys() | vars(builtins).keys() | bound
    return all(n in known and not _is_ipython_name(n) for n in read)


def _is_ipython_name(name: str) -> bool:
    """`_`, `__`, `___`, `_5`, `_i`, `_ii`, `_i5`, `_ih`, `_oh`, `_dh`: IPython's output and
    input caches."""
    if name in ("_", "__", "___", "_ih", "_oh", "_dh", "_i", "_ii", "_iii"):
        return True
    return name.startswith("_") and (name[1:].isdigit() or
                                     (name.startswith("_i") and name[2:].isdigit()))


def _ends_with_semicolon(code: str) -> bool:
    """IPython's rule: the last token of the cell (comments aside) is `;`."""
    if ";" not in code:
        return False
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return False
    for token in reversed(tokens):
        if token[0] in (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            continue
        return token[0] == tokenize.OP and token[1] == ";"
    return False
