"""Output written to file descriptors 1 and 2 shows in the notebook, as under ipykernel.

`print` goes through `sys.stdout`, but a child process (`os.system`, `subprocess.run` without
capture), a C extension's `printf`, or a library logging to fd 2 (TensorFlow, LightGBM, the
JVM under pyspark) writes to the process's descriptors, which the front end never sees.
ipykernel (6 and later) points descriptors 1 and 2 at pipes and forwards what arrives to the
cell's streams and to the original descriptors (the terminal or log of the Jupyter server);
this module does the same.

What arrives is drained when the cell ends, before its streams are flushed, so a
child's output that was written before `os.system` returned is shown under that cell. Output
that arrives later belongs to the cell running at that moment.

`sys.stdout.fileno()` answers a copy of the original descriptor, as ipykernel's does:
`faulthandler.enable()` and libraries that write to `fileno()` directly work and write to the
kernel's terminal.
"""
from __future__ import annotations

import codecs
import fcntl
import os
import select
import sys
import threading

_READ_SIZE = 64 * 1024
_PIPE_SIZE = 1024 * 1024


class DescriptorForwarder:
    """Points descriptor `fd` at a pipe and forwards its bytes to `stream` and to a copy of
    the original descriptor."""

    def __init__(self, fd: int, stream):
        self.fd = fd
        self.stream = stream
        self.original = os.dup(fd)
        self._read, write = os.pipe()
        os.set_blocking(self._read, False)
        try:  # room for C code that writes a lot while holding the GIL the forwarder needs
            fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        except (AttributeError, OSError):
            pass
        os.dup2(write, fd)
        os.close(write)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._lock = threading.Lock()
        thread = threading.Thread(target=self._watch, name=f"anyviz-fd{fd}", daemon=True)
        # Descriptor output belongs to the cell running when it arrives, not to the cell
        # (none) that was running when this thread started.
        thread._anyviz_parent = None
        thread.start()

    def _watch(self) -> None:
        while True:
            try:
                select.select([self._read], [], [])
            except (OSError, ValueError):
                return
            if not self.drain():
                return

    def drain(self) -> bool:
        """Forward every byte waiting in the pipe; False once the pipe is closed."""
        with self._lock:
            while True:
                try:
                    data = os.read(self._read, _READ_SIZE)
                except BlockingIOError:
                    return True
                except OSError:
                    return False
                if not data:
                    return False
                self._forward(data)

    def _forward(self, data: bytes) -> None:
        try:
            os.write(self.original, data)
        except OSError:  # the terminal went away; the notebook still gets the text
            pass
        text = self._decoder.decode(data)
        if text:
            self.stream.write(text)


_forwarders: list[DescriptorForwarder] = []


def install(stdout, stderr) -> None:
    """Forward descriptors 1 and 2 to `stdout` and `stderr` (once per process).

    ANYVIZ_CAPTURE_FD=0 leaves the descriptors alone.
    """
    if _forwarders or os.environ.get("ANYVIZ_CAPTURE_FD", "1") == "0":
        return
    for fd, stream in ((1, stdout), (2, stderr)):
        forwarder = DescriptorForwarder(fd, stream)
        stream.original_fileno = forwarder.original
        _forwarders.append(forwarder)


def drain() -> None:
    """Forward what child processes and C code wrote so far (called when a cell ends).

    Text a cell wrote to `sys.__stdout__`/`sys.__stderr__` (Python's own buffered streams on
    descriptors 1 and 2) is flushed into the pipes first, so it shows under that cell.
    """
    if not _forwarders:
        return
    for original in (sys.__stdout__, sys.__stderr__):
        try:
            original.flush()
        except (AttributeError, OSError, ValueError):
            pass
    for forwarder in _forwarders:
        forwarder.drain()
