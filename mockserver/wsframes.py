"""WebSocket messages framed without wsproto, where nothing but framing is asked of it.

Hypercorn frames each ``websocket.send`` through wsproto (an event object, the frame protocol's
extension hooks, then the header): measured 6.1 us a message, against 0.4 us to write the
header here, and the mock sends one message per token. A server's frames are unmasked and
sent whole (RFC 6455 §5.2), so the header is the opcode and the length. Only connections
that negotiated no extension in an open state take this path; permessage-deflate (which a
browser offers) and every other message (accept, close, refusals) go through Hypercorn as before.

**Messages due together, in one write.** Hypercorn's scope lists the
:data:`~mockserver.asgi.WS_FRAMES` extension, so the app may send several messages in one
``websocket.send`` (:func:`joined`: the frames of all, and each payload): at speed 0 a reply of a
thousand tokens is one socket write, not a thousand trips through the server, and the client
reads the same messages (frame boundaries are the messages; TCP never kept write boundaries).
Where frames cannot be written as they are (an extension in use), each message goes through
Hypercorn on its own.

:func:`install` applies it, once; ``create_app`` calls it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from hypercorn.protocol.events import Data, Request
from hypercorn.protocol.ws_stream import ASGIWebsocketState, WSStream
from wsproto.connection import ConnectionState

from mockserver.asgi import WS_FRAMES, WS_PAYLOADS, Message, ws_message

__all__ = ["frame", "install", "joined"]

TEXT, BINARY = 0x1, 0x2


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame carrying ``payload``."""
    size = len(payload)
    if size < 126:
        return bytes((0x80 | opcode, size)) + payload
    if size < 1 << 16:
        return bytes((0x80 | opcode, 126)) + size.to_bytes(2, "big") + payload
    return bytes((0x80 | opcode, 127)) + size.to_bytes(8, "big") + payload


def joined(payloads: Sequence[bytes | str]) -> Message:
    """One ``websocket.send`` sending each of ``payloads`` as a message of its own."""
    frames = b"".join(
        frame(TEXT, p.encode()) if isinstance(p, str) else frame(BINARY, p) for p in payloads
    )
    return {"type": "websocket.send", WS_FRAMES: frames, WS_PAYLOADS: tuple(payloads)}


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
            frames = message.get(WS_FRAMES)
            if frames is not None:
                await self.send(Data(stream_id=self.stream_id, data=frames))
                return
            data = message.get("bytes")
            if data is not None:
                await self.send(Data(stream_id=self.stream_id, data=frame(BINARY, bytes(data))))
                return
            text = message.get("text")
            if isinstance(text, str):
                await self.send(Data(stream_id=self.stream_id, data=frame(TEXT, text.encode())))
                return
        if message is not None and WS_PAYLOADS in message:  # one by one, as Hypercorn does it
            for payload in message[WS_PAYLOADS]:
                await original(self, ws_message(payload))
            return
        await original(self, message)  # anything else, errors included, as Hypercorn does it

    app_send._streamctl = True  # type: ignore[attr-defined]
    return app_send


def _handle(original: Callable[[WSStream, Any], Awaitable[None]]) -> Any:
    async def handle(self: WSStream, event: Any) -> None:
        await original(self, event)
        if isinstance(event, Request):  # the scope is made; the app has not run yet
            self.scope["extensions"][WS_FRAMES] = {}

    return handle


def install() -> None:
    """Frame plain messages here (once per process)."""
    if getattr(WSStream.app_send, "_streamctl", False):
        return
    WSStream.app_send = _app_send(WSStream.app_send)  # type: ignore[method-assign]
    WSStream.handle = _handle(WSStream.handle)  # type: ignore[method-assign]
