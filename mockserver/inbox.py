"""The bounded inbox of a WebSocket connection: backpressure on a client that will not wait.

A connection's reader takes the client's messages and its worker answers them in order. With an
unbounded inbox, a client that sends without waiting for answers (200,000 messages of 1 KB)
made the server hold all of them (490 MB) and answer them long after the client had left. Here
the inbox holds :data:`LIMIT` messages, as ``websockets`` holds 16 by default: when it is full
the reader stops reading, Hypercorn's own queue fills and it stops reading the socket, and TCP
makes the client wait. The reader still wakes the moment the connection closes (see
``mockserver/hyperfix.py``), so the worker is cancelled at once rather than after the backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

__all__ = ["LIMIT", "Inbox", "offer"]

#: Messages a connection's inbox holds before the server stops reading from the client.
LIMIT = 16


class Inbox(asyncio.Queue[str]):
    """A connection's bounded inbox; :meth:`heed` shows a message to whoever answers the
    connection as soon as it is read, before it waits its turn (a cancel must not wait behind
    the reply it cancels)."""

    def __init__(self) -> None:
        super().__init__(LIMIT)
        #: Told of every message as it is read (set once the connection has a responder).
        self.listener: Callable[[str], None] | None = None

    def heed(self, text: str) -> None:
        if self.listener is not None:
            self.listener(text)


async def offer(
    inbox: asyncio.Queue[str], text: str, worker: asyncio.Future[None], closed: asyncio.Event
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
