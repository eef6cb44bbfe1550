"""A test server on a pre-bound ``127.0.0.1:0`` socket, run by its own event loop in a
background thread (tests/broken_servers.py and tests/conformant_servers.py build on it)."""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType
from typing import Self


class ThreadedServer:
    """Subclasses define :meth:`_serve`: serve on ``self._sock``, call ``self._ready.set()``
    once listening, and return when ``stop`` is set."""

    #: What the server is, for the message when it does not start.
    what = "the test server"

    def __init__(self) -> None:
        self.stop_event: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        assert self._ready.wait(10), f"{self.what} did not start"
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stop = self.stop_event
        assert stop is not None
        self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self.stop_event = asyncio.Event()
        await self._serve(self.stop_event)

    async def _serve(self, stop: asyncio.Event) -> None:
        raise NotImplementedError


async def cancel_the_rest() -> None:
    """Cancel every task of the running loop but this one, and wait for them to end."""
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
