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

__all__ = ["LIMIT", "new_inbox", "offer"]

#: Messages a connection's inbox holds before the server stops reading from the client.
LIMIT = 16


def new_inbox() -> asyncio.Queue[str]:
    return asyncio.Queue(LIMIT)


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
