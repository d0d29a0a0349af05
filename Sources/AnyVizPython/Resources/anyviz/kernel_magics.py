"""The magics a notebook kernel adds to IPython's own, with ipykernel's meaning.

A terminal's `%edit`, `%less`, `%man` and `%clear` would start an editor or a pager on the
kernel's terminal, which nobody sees (an editor would even block the cell). In a notebook the
file or page goes to the front end as a payload, as ipykernel does; `%autosave`,
`%connect_info`, `%qtconsole` and `%subshell` exist because notebooks written for ipykernel
call them.
"""
from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

from IPython.core import page
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magics import CodeMagics, MacroToEdit
from IPython.display import Javascript, display
from IPython.utils import openpy


def connection_file() -> str | None:
    """The connection file the kernel was started with (`-f FILE` on its command line, which
    is `sys.argv` in the kernel, as under ipykernel)."""
    argv = sys.argv
    for flag, value in zip(argv, argv[1:]):
        if flag in ("-f", "--connection-file"):
            return value
    for arg in argv:
        if arg.startswith("--connection-file="):
            return arg.split("=", 1)[1]
    return None


@magics_class
class KernelMagics(Magics):
    """Magics that behave as they do under ipykernel."""

    @line_magic
    def edit(self, parameter_s="", last_call=None):
        """Open a file, function or history range in the front end's editor.

        Usage: %edit [-n LINE] [-p] [-r] TARGET (a file name, an object or a history range).
        The front end opens the file; the kernel does not wait for it and does not run it
        when it is saved. Also available as %ed.
        """
        opts, args = self.parse_options(parameter_s, "prn:")
        try:
            filename, lineno, _ = CodeMagics._find_edit_target(self.shell, args, opts,
                                                               last_call or ["", ""])
        except MacroToEdit:
            print("Macro editing is not available in a notebook kernel.")
            return
        payload = {"source": "edit_magic", "filename": str(Path(filename).resolve()),
                   "line_number": lineno}
        self.shell.payload_manager.write_payload(payload)

    @line_magic
    def clear(self, arg_s):
        """Clear the terminal (what `clear` prints; in a notebook, use clear_output)."""
        self.shell.system("clear")

    @line_magic
    def less(self, arg_s):
        """Show a file through the pager. Files ending in .py are syntax-highlighted."""
        if not arg_s:
            raise UsageError("Missing filename.")
        if arg_s.endswith(".py"):
            text = self.shell.pycolorize(openpy.read_py_file(arg_s, skip_encoding_cookie=False))
        else:
            with open(arg_s) as handle:
                text = handle.read()
        page.page(text)

    more = line_magic("more")(less)

    @line_magic
    def man(self, arg_s):
        """Find the man page for the given command and show it in the pager."""
        page.page(self.shell.getoutput(f"man {arg_s} | col -b", split=False))

    @line_magic
    def connect_info(self, arg_s):
        """Print the connection file of this kernel, for connecting another client to it
        (`jupyter console --existing FILE`)."""
        path = connection_file()
        try:
            with open(path) as handle:
                info = json.dumps(json.load(handle), indent=2)
        except (OSError, TypeError, ValueError) as exc:
            warnings.warn(f"Could not get connection info: {exc!r}", stacklevel=2)
            return
        print(info + "\n")
        print("Paste the above JSON into a file, and connect with:\n"
              "    $> jupyter <app> --existing <file>\n"
              "or, if you are local, you can connect with just:\n"
              f"    $> jupyter <app> --existing {path}")

    @line_magic
    def qtconsole(self, arg_s):
        """Open a Qt console connected to this kernel (needs the `qtconsole` package)."""
        path = connection_file()
        try:
            subprocess.Popen(["jupyter", "qtconsole", "--existing", str(path), *arg_s.split()],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, ValueError) as exc:
            warnings.warn(f"Could not start qtconsole: {exc!r}", stacklevel=2)

    @line_magic
    def autosave(self, arg_s):
        """Set the notebook's autosave interval in seconds (`%autosave 0` disables it).

        Only the classic notebook front end acts on it; others ignore it.
        """
        try:
            interval = int(arg_s)
        except ValueError:
            raise UsageError(f"%autosave requires an integer, got {arg_s!r}") from None
        display(Javascript(f"IPython.notebook.set_autosave_interval({1000 * interval})"),
                include=["application/javascript"])
        print(f"Autosaving every {interval} seconds" if interval else "Autosave disabled")

    @line_magic
    def subshell(self, arg_s):
        """List the kernel's subshells (this kernel has none)."""
        print("Kernel does not support subshells")


def install(shell) -> None:
    """Register the notebook kernel's magics and IPython's default `storemagic` extension
    (`%store`), as an IPython kernel application does."""
    shell.register_magics(KernelMagics)
    shell.extension_manager.load_extension("storemagic")
