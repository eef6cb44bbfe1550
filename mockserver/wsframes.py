"""WebSocket messages framed without wsproto, where nothing but framing is asked of it.

Hypercorn frames each ``websocket.send`` through wsproto (an event object, the frame protocol's
extension hooks, then the header): measured 6.1 us a message, against 0.4 us to write the
header here, and the mock sends one message per token. A server's frames are unmasked and
sent whole (RFC 6455 §5.2), so the header is the opcode and the length. Only connections
that negotiated no extension in an open state take this path; permessage-deflate (which a
browser offers) and every other message (accept, close, refusals) go through Hypercorn as before.

:func:`install` applies it, once; ``create_app`` calls it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hypercorn.protocol.events import Data
from hypercorn.protocol.ws_stream import ASGIWebsocketState, WSStream
from wsproto.connection import ConnectionState

__all__ = ["frame", "install"]

TEXT, BINARY = 0x1, 0x2


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame carrying ``payload``."""
    size = len(payload)
    if size < 126:
        return bytes((0x80 | opcode, size)) + payload
    if size < 1 << 16:
        return bytes((0x80 | opcode, 126)) + size.to_bytes(2, "big") + payload
    return bytes((0x80 | opcode, 127)) + size.to_bytes(8, "big") + payload


def _plain(stream: WSStream) -> bool:
    """The connection is open and frames its messages as they are (no extension in use)."""
    connection = stream.connection
    if connection is None or connection.state is not ConnectionState.OPEN:
        return False
    return not any(extension.enabled() for extension in connection._proto.extensions)


def _app_send(original: Callable[[WSStream, Any], Awaitable[None]]) -> Any:
    async def app_send(self: WSStream, message: Any) -> None:
        if (
            message is not None
            and message["type"] == "websocket.send"
            and not self.closed
            and self.state is ASGIWebsocketState.CONNECTED
            and _plain(self)
        ):
            data = message.get("bytes")
            if data is not None:
                await self.send(Data(stream_id=self.stream_id, data=frame(BINARY, bytes(data))))
                return
            text = message.get("text")
            if isinstance(text, str):
                await self.send(Data(stream_id=self.stream_id, data=frame(TEXT, text.encode())))
                return
        await original(self, message)  # anything else, errors included, as Hypercorn does it

    app_send._streamctl = True  # type: ignore[attr-defined]
    return app_send


def install() -> None:
    """Frame plain messages here (once per process)."""
    if getattr(WSStream.app_send, "_streamctl", False):
        return
    WSStream.app_send = _app_send(WSStream.app_send)  # type: ignore[method-assign]
