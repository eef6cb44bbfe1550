"""Two fixes to how Hypercorn (0.17-0.18) and wsproto end a WebSocket connection, and a choice.

1. **Close frames for the peer's protocol errors.** When a client breaks RFC 6455 (a text
   message that is not UTF-8, RSV bits without an extension, an unknown opcode), wsproto reports
   a ``CloseConnection`` with the right code (1007, 1002) but leaves the connection ``OPEN``;
   Hypercorn answers a close only in ``REMOTE_CLOSING``, so it dropped TCP without one. RFC 6455
   §7.1.7: an endpoint that must *Fail the WebSocket Connection* "MAY" skip the close frame, but
   §7.4.1 gives these failures their codes so the peer can tell what it did wrong; the
   connection is marked ``REMOTE_CLOSING`` so Hypercorn sends the close with wsproto's code.

2. **A closed connection is noticed at once, even by an app that stopped reading.** Hypercorn
   hands the app each message through a bounded queue and puts the disconnect at its end: an
   app that stops reading when it is behind (backpressure, see ``mockserver/inbox.py``) never
   sees the disconnect, and when it is the app's own write that found the socket dead, that
   write waits for room in the queue for ever. When the stream closes, the messages nobody will
   answer are dropped from the queue (so the disconnect always fits), later ones are not
   queued at all, and the
   :data:`CLOSED` event in the connection's scope is set (so an app waiting for room in its own
   inbox wakes up).

3. **permessage-deflate only when asked for.** Hypercorn accepts permessage-deflate whenever a
   client offers it (browsers and most libraries do), and wsproto then keeps a zlib compressor
   per connection, with context takeover: about 130 KB more per open WebSocket, five times what
   the rest of a connection costs here, to compress token messages of a few dozen bytes that
   deflate cannot shrink. Node's ``ws`` server leaves it off by default for the same reasons.
   Unless the Hypercorn config says :func:`allow_ws_deflate`, the offer is declined (the
   handshake answers without ``Sec-WebSocket-Extensions``, which RFC 7692 §5 allows: the
   client then speaks plain frames). ``streamctl serve --ws-deflate`` turns it back on.

:func:`install` applies all three, once; ``create_app`` calls it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from hypercorn.config import Config
from hypercorn.protocol.events import Request, StreamClosed
from hypercorn.protocol.ws_stream import WSStream
from wsproto.connection import Connection, ConnectionState
from wsproto.events import CloseConnection, Event

__all__ = ["CLOSED", "allow_ws_deflate", "closed_event", "install"]

#: Scope key of the :class:`asyncio.Event` set when the connection closes.
CLOSED = "streamctl.closed"
#: Attribute of a Hypercorn ``Config``: true when permessage-deflate offers are accepted.
_DEFLATE = "streamctl_ws_deflate"


def allow_ws_deflate(config: Config, allowed: bool) -> None:
    """Accept (``allowed``) or decline clients' permessage-deflate offers on ``config``."""
    setattr(config, _DEFLATE, allowed)


def closed_event(scope: dict[str, Any] | Any) -> asyncio.Event:
    """The event set when this WebSocket connection closes (made on first use)."""
    event = scope.get(CLOSED)
    if not isinstance(event, asyncio.Event):
        event = scope[CLOSED] = asyncio.Event()
    return event


def _events(original: Any) -> Any:
    def events(self: Connection) -> Generator[Event]:
        for event in original(self):
            if isinstance(event, CloseConnection) and self._state is ConnectionState.OPEN:
                self._state = ConnectionState.REMOTE_CLOSING  # the peer failed the connection
            yield event

    return events


def _handle(original: Any) -> Any:
    async def handle(self: WSStream, event: Any) -> None:
        closing = isinstance(event, StreamClosed) and not self.closed
        if closing and self.app_put is not None:
            _unqueue_messages(getattr(self.app_put, "__self__", None))
            closed = self.scope.get(CLOSED)
            if isinstance(closed, asyncio.Event):
                closed.set()
        await original(self, event)
        if isinstance(event, Request) and not getattr(self.config, _DEFLATE, False):
            # The handshake is answered later, when the app accepts (the app has not run yet:
            # Hypercorn only scheduled it): forget the client's extension offers.
            self.handshake.extensions = None
        if closing and self.app_put is not None:
            # Messages wsproto had already parsed still come after the disconnect: nobody
            # reads them, and putting them in a full queue would wait for ever.
            self.app_put = _discard

    handle._streamctl = True  # type: ignore[attr-defined]
    return handle


async def _discard(message: object) -> None:
    pass


def _unqueue_messages(queue: object) -> None:
    """Drop the client's messages still waiting for the app; keep anything else, in order."""
    if not isinstance(queue, asyncio.Queue):
        return
    kept = []
    while not queue.empty():
        message = queue.get_nowait()
        if message.get("type") != "websocket.receive":
            kept.append(message)
    for message in kept:
        queue.put_nowait(message)


def install() -> None:
    """Apply the two fixes and the deflate choice (once per process)."""
    if getattr(WSStream.handle, "_streamctl", False):
        return
    Connection.events = _events(Connection.events)  # type: ignore[method-assign]
    WSStream.handle = _handle(WSStream.handle)  # type: ignore[method-assign]
