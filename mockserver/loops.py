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
import errno
import functools
import importlib.util
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["LOOPS", "Acceptor", "LoopError", "loop_factory", "loop_name", "new_loop"]

log = logging.getLogger("mockserver")

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

        async def create_server(
            self, protocol_factory: Callable[[], asyncio.BaseProtocol], *args: Any, **kwargs: Any
        ) -> Any:
            sock = kwargs.get("sock")
            # asyncio.start_server (Hypercorn) passes host and port as None, positionally.
            addressed = any(a is not None for a in args[:2]) or len(args) > 2
            if addressed or kwargs.get("ssl") is not None or not isinstance(sock, socket.socket):
                return await super().create_server(protocol_factory, *args, **kwargs)
            return Acceptor(self, protocol_factory, sock, kwargs.get("backlog", 100))

        def run_forever(self) -> None:
            self._thread_id = threading.get_ident()
            try:
                super().run_forever()
            finally:
                self._thread_id = None

    return ServerLoop


class Acceptor:
    """Accepts a listening socket's connections on uvloop, every pending one at each wake-up.

    uvloop's own servers accept through libuv's listener, which falls behind when the loop is
    busy: with a thousand paced streams keeping the CPU busy, a burst of new clients waited
    seconds in the kernel's accept queue (measured: 711 waiting, accept p99 3-8 s; a minimal
    asyncio.Protocol server showed the same, so neither Hypercorn nor the app is the cause),
    while asyncio's loop, which accepts up to ``backlog`` connections whenever the socket is
    readable, took them all within 0.2 s. Here the socket is watched like any other reader
    and each pending connection handed to ``connect_accepted_socket``, as asyncio does. Only
    plain TCP sockets passed by the caller (``sock=``) take this path: what the mock serves.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        factory: Callable[[], asyncio.BaseProtocol],
        sock: socket.socket,
        backlog: int,
    ) -> None:
        self._loop = loop
        self._factory = factory
        self._sock = sock
        self._backlog = backlog
        self._pending: set[asyncio.Task[Any]] = set()
        self.sockets = (sock,)
        sock.setblocking(False)
        sock.listen(backlog)
        loop.add_reader(sock.fileno(), self._accept)
        self._serving = True

    def _accept(self) -> None:
        for _ in range(self._backlog):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno == errno.ECONNABORTED:
                    continue
                log.warning("accepting a connection failed: %s", exc)
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._connect(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn)
        except OSError:
            conn.close()  # the client left before it was set up

    def is_serving(self) -> bool:
        return self._serving

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def close(self) -> None:
        if self._serving:
            self._serving = False
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()

    async def start_serving(self) -> None:
        pass

    async def wait_closed(self) -> None:
        pass

    async def __aenter__(self) -> Acceptor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
