"""The event loop a server runs on: uvloop where it is installed, else asyncio's own.

With a thousand paced streams the server's loop is busy most of the time. On asyncio's own loop
a burst of socket events (new connections, say) holds back the tokens due meanwhile; uvloop
keeps them on time, for a little less CPU per token. ``scripts/bench_server.py --only paced
--loop …``, seven runs of each alternated on a 2-CPU VM: token lateness p99 on uvloop 6.0, 6.5,
16.3, 12.2, 7.2, 8.6 and 91.3 ms (one busy spell of the machine); on asyncio's loop 9.9, 28.6,
52.7, 21.6, 54.9, 44.2 and 74.8 ms. Neither changes what goes on the wire, and the server's
tests of streaming, timing and disconnects run on both (``streamctl serve --loop``).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import threading
from collections.abc import Callable

__all__ = ["LOOPS", "LoopError", "loop_factory", "loop_name", "new_loop"]

#: What ``streamctl serve --loop`` accepts; ``auto`` is uvloop where it is installed.
LOOPS = ("auto", "uvloop", "asyncio")


class LoopError(Exception):
    """A loop that cannot be had here (a readable message for the CLI)."""


def _has_uvloop() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def loop_name(choice: str) -> str:
    """The loop ``choice`` means here: ``uvloop`` or ``asyncio``. Raises LoopError."""
    if choice not in LOOPS:
        raise LoopError(f"unknown event loop {choice!r}: choose one of {', '.join(LOOPS)}")
    if choice == "auto":
        return "uvloop" if _has_uvloop() else "asyncio"
    if choice == "uvloop" and not _has_uvloop():
        raise LoopError(
            "uvloop is not installed (it is not available on Windows): "
            "install it with `pip install uvloop`, or use --loop asyncio"
        )
    return choice


def new_loop(choice: str) -> asyncio.AbstractEventLoop:
    """A new event loop of the kind ``choice`` means (see :func:`loop_name`)."""
    return loop_factory(choice)()


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """What makes a new loop of the kind ``choice`` means (for ``asyncio.Runner``)."""
    if loop_name(choice) == "uvloop":
        return _uvloop_class()
    return asyncio.new_event_loop


@functools.cache
def _uvloop_class() -> type[asyncio.AbstractEventLoop]:
    import uvloop  # noqa: PLC0415 (optional: not on Windows)

    class ServerLoop(uvloop.Loop):
        """uvloop's loop, recording the thread it runs in as asyncio's own loops do.

        :func:`streamctl.engine.clock.running_loop` trusts the loop it found last in a thread
        while the loop's ``_thread_id`` is that thread; uvloop keeps its own out of Python's
        reach, so without this record every lookup is a system call.
        """

        _thread_id: int | None = None

        def run_forever(self) -> None:
            self._thread_id = threading.get_ident()
            try:
                super().run_forever()
            finally:
                self._thread_id = None

    return ServerLoop
