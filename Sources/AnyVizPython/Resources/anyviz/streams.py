"""stdout/stderr replacements that publish `stream` messages promptly but not one per write.

The timing is ipykernel's, because notebooks written for it expect its grouping: text is
buffered and sent
  * by a daemon flusher thread `INTERVAL` (0.2 s, ipykernel's flush interval) after the first
    text arrived in that stream's empty buffer, so a line printed before a long computation
    shows while it runs, and a quick cell's prints arrive as one output; each stream keeps its
    own deadline, as each of ipykernel's streams has its own timer (stderr that started first
    is sent first);
  * when the buffer holds more than `MAX_BUFFER` characters;
  * on `flush()`, before every display, and at the end of every cell (stdout, then stderr: a
    quick cell's warnings come after its prints, as under ipykernel).
Writes from any thread are accepted; a lock keeps them whole and in order. Text is kept apart
by parent (see `anyviz.iopub`): a thread that prints after its cell ended publishes under that
cell, not under the one running now.
A forked child (`multiprocessing.Pool` on Linux) inherits these objects but not the kernel's
threads or sockets: there a write goes straight to descriptor 1 or 2, which `anyviz.fdcapture`
forwards to the notebook from the kernel process, as ipykernel shows a child's prints.
"""
from __future__ import annotations

import io
import os
import threading
import time

INTERVAL = 0.2
MAX_BUFFER = 64 * 1024


def _cell_limit() -> int:
    """Characters one stream may publish per cell (ANYVIZ_MAX_STREAM_MB, default 16): beyond
    that the browser and jupyter_server's IOPub rate limit would drop or choke on it anyway."""
    try:
        return max(1, int(float(os.environ.get("ANYVIZ_MAX_STREAM_MB", "16")) * 2**20))
    except ValueError:
        return 16 * 2**20


CELL_LIMIT = _cell_limit()


class StreamWriter(io.TextIOBase):
    """A text stream whose output becomes IOPub `stream` messages named `name`."""

    def __init__(self, name: str, flusher: "Flusher"):
        super().__init__()
        self.name = name
        self._fd = 1 if name == "stdout" else 2
        self._pid = os.getpid()  # the kernel's process; a fork has another
        self._flusher = flusher
        self._parts: dict[int, list[str]] = {}  # parent token -> text, in arrival order
        self._size = 0
        self.since: float | None = None     # when the buffer last became non-empty
        self._cell_chars = 0                # published or buffered in this cell
        self._truncated = False
        self._lock = threading.Lock()       # guards the buffer
        self._send_lock = threading.Lock()  # keeps sends in order when threads flush together

    # -- io.TextIOBase surface -------------------------------------------------------------
    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "strict"

    def readable(self):
        return False

    def writable(self):
        return True

    def isatty(self):
        return False

    #: A copy of the process's original descriptor, set when descriptor output is forwarded
    #: to the notebook (`anyviz.fdcapture`).
    original_fileno: int | None = None

    def fileno(self):
        """The original descriptor's copy, as ipykernel answers (for `faulthandler` and
        libraries that write to the descriptor directly)."""
        if self.original_fileno is None:
            raise io.UnsupportedOperation("AnyViz output streams have no file descriptor")
        return self.original_fileno

    def write(self, text) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text:
            return 0
        if os.getpid() != self._pid:
            return self._write_from_child(text)
        from . import iopub

        accepted = len(text)
        token = iopub.thread_token()
        with self._lock:
            if self._truncated:
                return accepted
            room = CELL_LIMIT - self._cell_chars
            if len(text) > room:
                self._truncated = True
                text = text[:max(room, 0)] + (
                    f"\n[AnyViz: output truncated after {CELL_LIMIT / 2**20:g} MB in this cell; "
                    f"write large output to a file, or print a summary such as df.head()]\n")
            self._cell_chars += len(text)
            was_empty = not self._parts
            if was_empty:
                self.since = time.monotonic()
            self._parts.setdefault(token, []).append(text)
            self._size += len(text)
            send_now = self._size > MAX_BUFFER
        if send_now:
            self.flush()
        elif was_empty:
            self._flusher.wake()
        return accepted

    def _write_from_child(self, text: str) -> int:
        data = text.encode("utf-8", errors="replace")
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError:  # the descriptor is gone (closed by the child): nowhere to write
            pass
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Send everything buffered now (also what `print(..., flush=True)` calls)."""
        if not self._parts:  # the common case at cell boundaries: nothing to send, no locks
            return
        if os.getpid() != self._pid:  # a fork's copy of the kernel's buffer: the kernel sends it
            self._parts.clear()
            self.since = None
            return
        from . import iopub

        with self._send_lock:
            with self._lock:
                if not self._parts:
                    return
                texts = [(token, "".join(parts)) for token, parts in self._parts.items()]
                self._parts.clear()
                self._size = 0
                self.since = None
            for token, text in texts:
                iopub.stream(self.name, text, token)

    @property
    def pending(self) -> bool:
        return bool(self._parts)


class Flusher(threading.Thread):
    """Daemon that sends each stream's buffered text `INTERVAL` seconds after it arrived, the
    earliest first; idle costs nothing."""

    def __init__(self):
        super().__init__(name="anyviz-stream-flusher", daemon=True)
        self._event = threading.Event()
        self.writers: list[StreamWriter] = []
        self._start_lock = threading.Lock()

    def wake(self) -> None:
        if not self.is_alive():
            with self._start_lock:
                if not self.is_alive() and self.ident is None:
                    self.start()
        self._event.set()

    def run(self) -> None:
        while True:
            self._event.wait()
            self._event.clear()
            while self._flush_next():
                pass

    def _flush_next(self) -> bool:
        """Wait for the earliest deadline and flush that stream; False when nothing waits."""
        pending = [(w.since, i) for i, w in enumerate(self.writers) if w.since is not None]
        if not pending:
            return False
        since, index = min(pending)
        delay = since + INTERVAL - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # then look again: the stream may have been flushed meanwhile
            return True
        try:
            self.writers[index].flush()
        except Exception:  # a failing send must not kill later output
            self.writers[index].since = None
        return True


_flusher = Flusher()
stdout = StreamWriter("stdout", _flusher)
stderr = StreamWriter("stderr", _flusher)
_flusher.writers.extend([stdout, stderr])


def start_cell() -> None:
    """Send leftovers and start the new cell's output budget."""
    flush_all()
    for writer in (stdout, stderr):
        writer._cell_chars = 0
        writer._truncated = False


def flush_all() -> None:
    """Send buffered output of both streams; called before displays and at the end of a cell."""
    stdout.flush()
    stderr.flush()
