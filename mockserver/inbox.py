"""The bounded inbox of a WebSocket connection: backpressure on a client that will not wait.

A connection's reader takes the client's messages and its worker answers them in order. With an
unbounded inbox, a client that sends without waiting for answers (200,000 messages of 1 KB)
made the server hold all of them (490 MB) and answer them long after the client had left. Here
the inbox holds :data:`LIMIT` messages, as ``websockets`` holds 16 by default: when it is full
the reader stops reading, Hypercorn's own queue fills and it stops reading the socket, and TCP
makes the client wait. The reader still wakes the moment the connection closes (see
``mockserver/hyperfix.py``), so the worker is cancelled at once rather than after the backlog.

The inbox is a list and one waiter future, not an :class:`asyncio.Queue` (a deque, two deques of
waiters, a count and an :class:`asyncio.Event` each): one reader puts and one worker gets, and
the two never wait at once (one waits for a message in an empty inbox, the other for room in a
full one), so one future serves both. A thousand open connections each keep one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

__all__ = ["LIMIT", "Inbox", "offer"]

#: Messages a connection's inbox holds before the server stops reading from the client.
LIMIT = 16


class Inbox:
    """A connection's bounded inbox, for one reader and one worker; :meth:`heed` shows a
    message to whoever answers the connection as soon as it is read, before it waits its turn
    (a cancel must not wait behind the reply it cancels)."""

    __slots__ = ("_items", "_waiter", "listener")

    def __init__(self) -> None:
        self._items: list[str] = []
        #: The one side waiting (the worker for a message, the reader for room), if either is.
        self._waiter: asyncio.Future[None] | None = None
        #: Told of every message as it is read (set once the connection has a responder).
        self.listener: Callable[[str], None] | None = None

    def heed(self, text: str) -> None:
        if self.listener is not None:
            self.listener(text)

    def full(self) -> bool:
        return len(self._items) >= LIMIT

    def put_nowait(self, text: str) -> None:
        self._items.append(text)
        self._wake()

    async def put(self, text: str) -> None:
        """Put ``text`` in, waiting while the inbox is full."""
        while self.full():
            await self._wait()
        self.put_nowait(text)

    async def get(self) -> str:
        """The oldest message, waiting for one while the inbox is empty."""
        while not self._items:
            await self._wait()
        text = self._items.pop(0)  # at most LIMIT long: cheaper than a deque to keep
        self._wake()
        return text

    async def _wait(self) -> None:
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def offer(
    inbox: Inbox, text: str, worker: asyncio.Future[None], closed: asyncio.Event
) -> None:
    """Put ``text`` in ``inbox``, waiting while it is full; ``text`` is dropped when the
    connection closes or the worker ends first (nobody would answer it)."""
    if not inbox.full():
        inbox.put_nowait(text)
        return
    putting = asyncio.ensure_future(inbox.put(text))
    closing = asyncio.ensure_future(closed.wait())
    try:
        await asyncio.wait((putting, closing, worker), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in (putting, closing):
            if not waiter.done():
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
