"""Log lines leave the server through a thread of their own: a stderr nobody reads cannot stop it.

The request log wrote each line to stderr on the event loop. When stderr is a pipe that the
parent does not read (``subprocess.Popen(..., stderr=PIPE)`` read only at exit, as many test
harnesses and this project's own tests do), the pipe fills after 64 KiB, some 600 requests, and
the next write blocks the loop: every stream stalls, no socket is closed, a health check times
out, and even SIGTERM waits, because the write is retried after the signal. (Measured before
this module: 400 sequential early leavers and one burst of 200 streams, then the second burst
hung with the main thread in ``anon_pipe_write``.)

Here the loop only appends the line to a queue in memory and returns. One daemon thread writes
the queue out, and it alone waits when the pipe is full. The queue holds at most
:data:`LIMIT` characters: lines that do not fit are dropped and counted, and a note saying how
many follows the lines that were kept, once stderr drains. At exit the thread gets
:data:`EXIT_WAIT_S` to write what is queued, so a server that stops normally loses nothing.

On Linux the thread also leaves :data:`RESERVE` bytes of a stderr pipe free, so that the
server's few other messages, which are still written where they happen, find room: with the
pipe full, SIGTERM stopped the server and then its "stopped" line blocked the exit.

Writing to the process's real stderr goes straight to its file descriptor (``os.write``): a
thread blocked inside ``sys.stderr``'s buffered writer holds its lock, and the interpreter,
flushing stderr at exit, would then abort instead of exiting. Any other ``sys.stderr`` (pytest's
capture) is written through as it is.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import stat
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

try:  # POSIX only: elsewhere a full pipe blocks the writer thread, not the server
    import fcntl
    import termios
except ImportError:  # pragma: no cover - Windows
    pass

__all__ = ["EXIT_WAIT_S", "LIMIT", "LineHandler", "LineWriter", "write_stderr"]

#: Characters of log lines the queue holds while stderr is not being read.
LIMIT = 1 << 20
#: Bytes of a stderr pipe the writer leaves free for everyone else: the server's other messages
#: (Hypercorn's, an error's traceback, "stopped" at SIGTERM) write on the loop or at exit, and
#: would block there if the log had filled the pipe.
RESERVE = 16 << 10
#: A pipe holding less than this may take a line longer than the room left.
PIPE_EMPTY = 4096
#: Seconds between looks at a full pipe.
POLL_S = 0.05
#: Seconds the writer gets at exit to write out what is queued.
EXIT_WAIT_S = 1.0


def _stderr() -> TextIO:
    return sys.stderr


class LineWriter:
    """Writes lines to ``stream()`` (looked up at each write) from a thread, never blocking the
    caller; at most ``limit`` characters wait, the rest are dropped and counted."""

    def __init__(self, stream: Callable[[], TextIO] = _stderr, limit: int = LIMIT) -> None:
        self.stream = stream
        self.limit = limit
        self._lines: deque[str] = deque()
        self._size = 0  # characters queued or being written
        self._dropped = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        #: Lines dropped so far because the queue was full (for tests and reports).
        self.dropped_total = 0

    def __call__(self, line: str) -> None:
        size = len(line) + 1
        with self._lock:
            if self._size + size > self.limit:
                self._dropped += 1
                self.dropped_total += 1
                return
            self._lines.append(line)
            self._size += size
            if self._thread is None or not self._thread.is_alive():
                self._start()
            self._wake.notify()

    def _start(self) -> None:
        first = self._thread is None
        self._thread = threading.Thread(target=self._run, name="streamctl-log", daemon=True)
        self._thread.start()
        if first:
            atexit.register(self.flush, EXIT_WAIT_S)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued has been written (at most ``timeout`` seconds); false
        when it has not."""
        with self._lock:
            return self._idle.wait_for(lambda: self._size == 0 and not self._dropped, timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._wake.wait_for(lambda: bool(self._lines or self._dropped))
                batch = list(self._lines)
                self._lines.clear()
                dropped, self._dropped = self._dropped, 0
            text = "".join(f"{line}\n" for line in batch)
            if dropped:
                text += (
                    f"streamctl: {dropped} log line{'s' if dropped != 1 else ''} dropped "
                    f"(stderr was not being read)\n"
                )
            self._write(text)
            with self._lock:
                self._size -= sum(len(line) + 1 for line in batch)
                if self._size == 0 and not self._dropped:
                    self._idle.notify_all()

    def _write(self, text: str) -> None:
        stream = self.stream()
        with contextlib.suppress(OSError, ValueError):
            if stream is sys.__stderr__ and stream is not None:
                # Flush what others wrote through the buffer first, so lines keep their order.
                stream.flush()
                _write_fd(stream.fileno(), text.encode(stream.encoding or "utf-8", "replace"))
            else:
                stream.write(text)
                stream.flush()


def _write_fd(fd: int, data: bytes) -> None:
    """Write ``data``, whole lines at a time, leaving :data:`RESERVE` bytes of a pipe free."""
    while data:
        room = _pipe_room(fd)
        cut = len(data) if room is None else data.rfind(b"\n", 0, room) + 1
        if cut == 0 and room is not None and room < PIPE_EMPTY:
            time.sleep(POLL_S)  # the pipe is full (up to the reserve): wait for the reader
            continue
        data = data[os.write(fd, data[: cut or room]) :]


def _pipe_room(fd: int) -> int | None:
    """Bytes that may go into the pipe ``fd`` now, keeping :data:`RESERVE` free; None when
    ``fd`` is no pipe, or the system cannot tell (not Linux)."""
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return None
        size = fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)  # type: ignore[attr-defined,unused-ignore]
        unread = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
    except (OSError, AttributeError, NameError):
        return None
    return max(0, int(size - RESERVE - unread))


#: The process's one writer to stderr (the request log's).
write_stderr = LineWriter()


class LineHandler(logging.Handler):
    """A :mod:`logging` handler that writes through a :class:`LineWriter` (default: stderr's),
    so the server's own error messages cannot block its loop either."""

    def __init__(self, writer: LineWriter | None = None) -> None:
        super().__init__()
        self.writer = writer or write_stderr

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer(self.format(record))
        except Exception:  # as logging.StreamHandler does
            self.handleError(record)
