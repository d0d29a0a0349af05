"""IPython's InteractiveShell inside the kernel, with its outputs wired to the Swift kernel.

The design follows xeus-python's `xeus-python-shell` and ipykernel's `zmqshell`: a shell subclass
whose display publisher and display hook publish through `anyviz.iopub` (so every message carries
the parent header of the request that caused it), help pages go into the execute reply's
payload, tracebacks are published as `error` messages, and `!cmd` output streams into the cell.
Everything a Python user touches (magics, `%history`, completion, `?`) is IPython's own.
"""
from __future__ import annotations

import builtins
import os
import re
import sys
import tempfile
import threading

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError
from IPython.core.formatters import DisplayFormatter
from IPython.core.interactiveshell import InteractiveShell, InteractiveShellABC
from IPython.core.autocall import ExitAutocall, IPyAutocall
from IPython.core.compilerop import CachingCompiler
from IPython.core.macro import Macro
from traitlets import Any, CBool, Instance, Type, default

from . import cellnames, fdcapture, hooks, iopub, jsonutil, streams
from .errors import AnyVizError

PLOTLY_MIME = "application/vnd.plotly.v1+json"


def _with_plotly_html(data: dict, metadata: dict) -> tuple[dict, dict]:
    """A bundle from plotly's own renderers (fig.show(), pio.show) carries only the plotly MIME
    type; add the HTML form (plotly.js once per session) so exported notebooks show the chart."""
    if PLOTLY_MIME not in data or "text/html" in data:
        return data, metadata
    try:
        spec = data[PLOTLY_MIME]
        made = hooks.figure_bundle({"data": spec.get("data") or [],
                                    "layout": spec.get("layout") or {}})
    except Exception:  # a malformed bundle: plotly's MIME type stays as it is
        return data, metadata
    if made is None:  # no chart package registered (or it failed): plotly's MIME type stays
        return data, metadata
    bundle, extra = made
    bundle[PLOTLY_MIME] = spec
    return bundle, {**(metadata or {}), **extra}


class KernelDisplayPublisher(DisplayPublisher):
    """display(), update_display() and clear_output() become IOPub messages."""

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False,
                **kwargs) -> None:
        data, metadata = _with_plotly_html(data, metadata or {})
        content = {"data": data, "metadata": metadata or {}, "transient": transient or {}}
        iopub.emit("update_display_data" if update else "display_data", content)

    def clear_output(self, wait=False) -> None:
        streams.flush_all()
        iopub.emit("clear_output", {"wait": bool(wait)})


#: Builtin types without rich representations of their own: unless a printer is registered
#: for them, only the plain-text formatter has anything to say about their instances.
_PLAIN_TYPES = frozenset({int, float, complex, bool, str, bytes, list, tuple, dict, set,
                          frozenset, range})


class KernelDisplayFormatter(DisplayFormatter):
    """IPython's formatter, without asking ten rich formatters about a plain `int` or `str`.

    Each of IPython's formatters looks the object's type up through its registry and its
    `_repr_*_` methods; for the builtin types above that always comes back empty, and asking
    costs more than the rest of a `1+1` cell. The answer is unchanged: when any formatter has
    a printer registered for the type (or its bases, or the object itself), IPython's full
    path runs as before."""

    def format(self, obj, include=None, exclude=None):
        cls = type(obj)
        if cls in _PLAIN_TYPES and not include and not exclude:
            formatters = self.formatters
            plain = formatters.get("text/plain")
            if plain is not None and not self._has_rich_printer(obj, cls, formatters):
                data = plain(obj)
                md = None
                if isinstance(data, tuple) and len(data) == 2:
                    data, md = data
                return ({} if data is None else {"text/plain": data},
                        {} if md is None else {"text/plain": md})
        return super().format(obj, include=include, exclude=exclude)

    def _has_rich_printer(self, obj, cls, formatters) -> bool:
        others = [f for t, f in formatters.items() if t != "text/plain"]
        others += [self.ipython_display_formatter, self.mimebundle_formatter]
        mro = cls.__mro__
        for formatter in others:
            if not formatter.enabled:
                continue
            if formatter.singleton_printers and id(obj) in formatter.singleton_printers:
                return True
            printers = formatter.type_printers
            if printers and any(c in printers for c in mro):
                return True
            deferred = formatter.deferred_printers
            if deferred and any((c.__module__, c.__name__) in deferred for c in mro):
                return True
        return False


class KernelDisplayHook(DisplayHook):
    """The value of a cell's last expression becomes `execute_result` with the cell's count."""

    #: IPython's run_cell sets this twice per cell; as a plain attribute instead of a trait
    #: (nothing observes it) that costs nothing.
    exec_result = None

    def quiet(self):
        """A trailing `;` silences the result; a cell without any `;` needs no tokenizing."""
        history = self.shell.history_manager.input_hist_parsed
        if history and ";" not in history[-1]:
            return False
        return super().quiet()

    def start_displayhook(self):
        self.content = {"execution_count": self.prompt_count, "data": {}, "metadata": {}}

    def write_output_prompt(self):
        self.content["execution_count"] = self.prompt_count

    def write_format_data(self, format_dict, md_dict=None):
        self.content["data"] = format_dict
        self.content["metadata"] = md_dict or {}

    def finish_displayhook(self):
        content, self.content = getattr(self, "content", None), None
        # What a child process wrote before the cell's last line returned (`os.system(...)`)
        # is shown before the result, as ipykernel's forwarding thread has usually sent it by
        # then; draining here makes that order certain however fast the result is formatted.
        fdcapture.drain()
        streams.flush_all()
        if content and content["data"]:
            iopub.emit("execute_result", content)


class CellCompiler(CachingCompiler):
    """Cells get the file names ipykernel gives them (`<tmp>/ipykernel_<pid>/<hash>.py`), so
    warnings, `obj?` and SyntaxError messages read as they do under ipykernel; tracebacks
    still say `Cell In[n]`."""

    def get_code_name(self, raw_code, transformed_code, number):
        return cellnames.cell_file_name(raw_code, os.getpid())


class KernelExitAutocall(ExitAutocall):
    """`exit`/`quit` ask the front end to close the notebook (ipykernel's `ask_exit` payload);
    the kernel keeps running until the front end shuts it down."""

    def __call__(self, keep_kernel=False):
        self._ip.keepkernel_on_exit = keep_kernel
        self._ip.ask_exit()


class ZMQInteractiveShell(InteractiveShell):
    """The interactive shell of the AnyViz kernel.

    Named like ipykernel's shell on purpose: libraries (rich, tqdm, halo, user helpers) decide
    "am I in a notebook?" by `get_ipython().__class__.__name__ == "ZMQInteractiveShell"`.
    """

    displayhook_class = Type(KernelDisplayHook)
    display_pub_class = Type(KernelDisplayPublisher)
    readline_use = CBool(False)
    autoindent = CBool(False)
    exiter = Instance(ExitAutocall)
    keepkernel_on_exit = Any(None)
    allow_stdin = CBool(False)
    #: What ipywidgets' Output widget asks for the running request (`kernel.get_parent()`).
    kernel = Any(None)

    @default("exiter")
    def _exiter_default(self):
        return KernelExitAutocall(self)

    def init_display_formatter(self):
        self.display_formatter = KernelDisplayFormatter(parent=self)
        self.configurables.append(self.display_formatter)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last_error: dict | None = None
        self.set_custom_exc((AnyVizError,), _show_anyviz_error)

    # -- parent request (ipywidgets' Output widget captures outputs by its msg_id) -----------
    def get_parent(self):
        return {"header": dict(iopub.current_header)} if iopub.current_header else {}

    def set_parent(self, parent):
        """Parents are kept by the kernel per request and per thread (see anyviz.iopub)."""

    # -- environment ---------------------------------------------------------------------------
    def init_environment(self):
        """Subprocesses have no terminal: no pagers, but colours like ipykernel."""
        env = os.environ
        env["TERM"] = "xterm-color"
        env["CLICOLOR"] = "1"
        env["FORCE_COLOR"] = "1"
        env["CLICOLOR_FORCE"] = "1"
        env["PAGER"] = "cat"
        env["GIT_PAGER"] = "cat"

    def init_virtualenv(self):
        """The kernel already runs inside the venv it embeds."""

    def enable_gui(self, gui=None):
        """Inline figures need no event loop; GUI toolkits have no screen in a kernel."""
        if gui in (None, "inline"):
            return
        raise UsageError(f"GUI event loops ({gui}) are not available in a notebook kernel; "
                         "use %matplotlib inline (the default) or interactive Plotly charts.")

    # -- pager, payloads, exit -----------------------------------------------------------------
    def init_hooks(self):
        super().init_hooks()
        from IPython.core import page

        self.set_hook("show_in_pager", page.as_hook(self._page_payload), 99)

    def _page_payload(self, strg, start=0, screen_lines=0, pager_cmd=None):
        data = strg if isinstance(strg, dict) else {"text/plain": strg}
        self.payload_manager.write_payload({"source": "page", "data": data,
                                           "start": max(0, int(start or 0))})

    def ask_exit(self):
        self.payload_manager.write_payload({"source": "ask_exit",
                                           "keepkernel": self.keepkernel_on_exit})

    def set_next_input(self, text, replace=False):
        self.payload_manager.write_payload({"source": "set_next_input", "text": text,
                                           "replace": replace})

    # -- errors --------------------------------------------------------------------------------
    def _showtraceback(self, etype, evalue, stb):
        """Publish the error at once (as ipykernel does) and keep it for the execute reply."""
        streams.flush_all()
        content = {"traceback": list(stb), "ename": str(etype.__name__),
                   "evalue": safe_str(evalue)}
        self._last_error = content
        iopub.emit("error", content)

    def showtraceback(self, exc_tuple=None, *args, **kwargs):
        """An interrupt that lands in library code only says where it landed: it is formatted
        in IPython's plain mode, which takes milliseconds where the verbose one parses every
        library file on the stack (seconds on a first pandas or DuckDB traceback). One that
        stops the cell's own code (`raise KeyboardInterrupt`, a loop of `time.sleep`) reads as
        under ipykernel: it is cheap to format."""
        etype, _, traceback = exc_tuple or sys.exc_info()
        tb = self.InteractiveTB
        if (etype is None or not issubclass(etype, KeyboardInterrupt) or tb.mode == "Plain"
                or self._only_cell_frames(traceback)):
            return super().showtraceback(exc_tuple, *args, **kwargs)
        mode = tb.mode
        tb.set_mode("Plain")
        try:
            return super().showtraceback(exc_tuple, *args, **kwargs)
        finally:
            tb.set_mode(mode)

    def _only_cell_frames(self, traceback) -> bool:
        """Whether every frame after the first (IPython's `run_code`, never shown) runs a
        cell's code."""
        cells = self.compile._filename_map
        frame = traceback.tb_next if traceback is not None else None
        while frame is not None:
            if frame.tb_frame.f_code.co_filename not in cells:
                return False
            frame = frame.tb_next
        return True

    def show_usage_error(self, exc):
        """UsageError: one line on stderr, like IPython, without a traceback; an unknown magic's
        message also names the close ones (the reply's evalue carries it too)."""
        found = _MAGIC_NOT_FOUND.fullmatch(str(exc))
        if found:
            exc.args = (_unknown_magic(self, found.group(3), found.group(2)),)
        print(f"UsageError: {exc}", file=sys.stderr)

    # -- the hot path ----------------------------------------------------------------------------
    def transform_cell(self, raw_cell):
        """IPython's transformation, skipped for plain Python: most cells contain none of the
        syntax IPython rewrites, and the token passes cost more than running `x = 1` does."""
        question = _PLAIN_LANGUAGE_MAGIC.fullmatch(raw_cell)
        if question and question.group(2).strip() not in ("", "?", "??"):
            # "%viz how many orders per region?" is a question, not IPython's `name?` help
            return f"get_ipython().run_line_magic({question.group(1)!r}, {question.group(2).strip()!r})\n"
        if not _is_plain_python(self, raw_cell):
            return super().transform_cell(raw_cell)
        return raw_cell if raw_cell.endswith("\n") else raw_cell + "\n"

    def should_run_async(self, raw_cell, *, transformed_cell=None, preprocessing_exc_tuple=None):
        """Only code that mentions await/async can need the coroutine runner (skips a compile)."""
        if "await" not in raw_cell and "async" not in raw_cell:
            return False
        return super().should_run_async(raw_cell, transformed_cell=transformed_cell,
                                        preprocessing_exc_tuple=preprocessing_exc_tuple)

    # -- shell commands ------------------------------------------------------------------------
    def system_piped(self, cmd):
        """`!cmd`: run in a shell, its output streamed into the cell; `_exit_code` keeps the
        status (a return value would be displayed)."""
        if cmd.rstrip().endswith("&"):
            raise OSError("Background processes are not supported; use subprocess.Popen.")
        from IPython.utils.process import system

        exit_code = system(self.var_expand(cmd, depth=1))
        self.user_ns["_exit_code"] = exit_code
        if getattr(self, "system_raise_on_error", False) and exit_code != 0:
            from subprocess import CalledProcessError

            raise CalledProcessError(exit_code, cmd)

    system = system_piped


AnyVizShell = ZMQInteractiveShell
InteractiveShellABC.register(ZMQInteractiveShell)


# Anything IPython's input transformers or prefilter could rewrite: magics, shell escapes, help,
# autocall escapes, pasted prompts, a first line that is indented or blank, Emacs mode lines.
_SPECIAL = re.compile(r"[%!?]|^[ \t]*[,;/]|^[ \t]*(>>>|\.\.\.|In \[)|\A\s|-\*-", re.M)
_FIRST_NAME = re.compile(r"[A-Za-z_][\w.]*")
#: One-line %viz/%customize requests ending in "?": plain language, passed to the magic as typed.
_PLAIN_LANGUAGE_MAGIC = re.compile(r"[ \t]*%(viz|customize)[ \t]+([^\n]*\?)[ \t]*\n?")


def _is_plain_python(shell, cell: str) -> bool:
    """True when IPython's transform_cell would return the cell unchanged (plus a newline)."""
    if not cell or _SPECIAL.search(cell) or shell.input_transformers_post:
        return False
    if "\n" in cell.rstrip("\n"):
        return True  # the prefilter (automagic, autocall) only rewrites single-line cells
    first = _FIRST_NAME.match(cell)
    if first is None:
        return True
    name = first.group(0).split(".")[0]
    if name in shell.magics_manager.magics["line"] and shell.automagic:
        return False
    value = shell.user_ns.get(name, getattr(builtins, name, None))
    return not isinstance(value, (IPyAutocall, Macro))


def safe_str(value) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__} object>"


def _show_anyviz_error(shell, etype, value, tb, tb_offset=None):
    """AnyViz's own errors say what to do: shown as their message, without Python internals."""
    lines = safe_str(value).split("\n") or [""]
    stb = [f"{etype.__name__}: {lines[0]}"] + lines[1:]
    shell._showtraceback(etype, value, stb)
    return stb


_MAGIC_NOT_FOUND = re.compile(r"(Line|Cell) magic function `(%%?)([^`]+)` not found\.")


def _unknown_magic(shell, name: str, prefix: str) -> str:
    import difflib

    known = set(shell.magics_manager.magics["line"]) | set(shell.magics_manager.magics["cell"])
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    kind = "Cell" if prefix == "%%" else "Line"
    hint = f" Did you mean {', '.join('%' + c for c in close)}?" if close else ""
    return (f"{kind} magic function `{prefix}{name}` not found.{hint} "
            "Run %lsmagic to list the magics.")


# --- input() and getpass --------------------------------------------------------------------

class StdinNotImplementedError(NotImplementedError):
    """input() in a cell whose front end cannot answer input requests (ipykernel's name)."""


def _input(prompt=""):
    streams.flush_all()
    if not _shell().allow_stdin:
        raise StdinNotImplementedError(
            "raw_input was called, but this frontend does not support input requests.")
    return iopub.input_line(str(prompt), False)


def _getpass(prompt="Password: ", stream=None):
    streams.flush_all()
    if not _shell().allow_stdin:
        raise StdinNotImplementedError(
            "getpass was called, but this frontend does not support input requests.")
    return iopub.input_line(str(prompt), True)


# --- the one shell ----------------------------------------------------------------------------

_instance: AnyVizShell | None = None


def _shell() -> AnyVizShell:
    return _instance if _instance is not None else get()


def _ipython_dir() -> str:
    """IPython keeps its profile under ~/.ipython; a read-only or missing HOME gets a private
    temporary folder instead of a warning on every start."""
    if os.environ.get("IPYTHONDIR"):
        return os.environ["IPYTHONDIR"]
    home = os.path.expanduser("~")
    target = os.path.join(home, ".ipython")
    if os.access(target if os.path.isdir(target) else home, os.W_OK):
        return target
    return tempfile.mkdtemp(prefix="anyviz-ipython-")


_build_lock = threading.RLock()


def get() -> AnyVizShell:
    """The shell, created on first use (the kernel builds it on a background thread right after
    start, see anyviz.startup; a caller that comes first waits for that build)."""
    if _instance is not None:
        return _instance
    with _build_lock:
        return _instance if _instance is not None else _create()


def _create() -> AnyVizShell:
    global _instance
    from traitlets.config import Config

    from . import session

    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.environ["IPYTHONDIR"] = _ipython_dir()
    config = Config()
    # History lives in memory: no sqlite file (HOME may be read-only) and no fsync per cell.
    config.HistoryManager.hist_file = ":memory:"
    config.HistoryManager.db_log_output = True
    # tqdm picks its notebook progress bars when it sees this section (as under ipykernel).
    config.IPKernelApp.anyviz = True
    shell = AnyVizShell.instance(config=config, user_module=session.main_module,
                                 user_ns=session.user_ns, compiler_class=CellCompiler)
    _instance = shell
    shell.kernel = _Kernel(shell)
    # Installed once for the kernel's life (the shell's per-cell traps then only count nesting):
    # get_ipython/exit/quit in builtins and IPython's display hook as sys.displayhook.
    shell.builtin_trap.__enter__()
    shell.display_trap.__enter__()
    _redirect_streams()
    from . import comms, display, kernel_magics, magics

    display.install(shell)
    magics.install(shell)
    kernel_magics.install(shell)
    comms.install()
    sys.meta_path.insert(0, _IpykernelProbeFinder())
    return shell


class _IpykernelProbeFinder:
    """Imports `ipykernel.zmqshell` just before a library that decides from its presence in
    `sys.modules` whether it runs in a notebook (`tqdm.auto` picks its widget progress bar so),
    so the library chooses what it chooses under ipykernel. Only then: the import costs about
    0.1 s. Without ipykernel installed the library falls back to its console look."""

    WATCHED = frozenset({"tqdm.autonotebook"})

    def __init__(self):
        self._done = False

    def find_spec(self, name, path=None, target=None):
        if name in self.WATCHED and not self._done:
            self._done = True
            try:
                import ipykernel.zmqshell  # noqa: F401
            except Exception:
                pass
        return None  # the ordinary finders load the module itself


class _Kernel:
    """`get_ipython().kernel`: the little of ipykernel's Kernel object libraries look at."""

    implementation = "anyviz"

    def __init__(self, shell):
        self.shell = shell

    def get_parent(self, channel=None):
        return self.shell.get_parent()

    @property
    def _parent_header(self):
        return self.shell.get_parent()


def _redirect_streams() -> None:
    """stdout/stderr publish to the cell that is running, or to the cell that started the
    writing thread (threads keep their cell, as in ipykernel)."""
    sys.stdout, sys.stderr = streams.stdout, streams.stderr
    fdcapture.install(streams.stdout, streams.stderr)
    builtins.input = _input
    import getpass

    getpass.getpass = _getpass


def follow_kernel_count(shell, count: int) -> None:
    """The kernel numbers cells; IPython follows, and In[n] stays the cell shown as In [n]."""
    shell.execution_count = count
    history = shell.history_manager
    while len(history.input_hist_parsed) < count:
        history.input_hist_parsed.append("")
        history.input_hist_raw.append("")


def reset_error() -> None:
    _shell()._last_error = None


def last_error() -> dict | None:
    return _shell()._last_error


def dumps(value) -> str:
    return jsonutil.dumps(value)
