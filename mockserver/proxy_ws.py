"""The recording proxy's WebSocket bridge: messages both ways, each side gets the other's close.

Split out of :mod:`mockserver.proxy` (which opens the upstream connection and accepts the
client) so neither module outgrows the project's 400 lines.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from mockserver.asgi import Receive, Send

if TYPE_CHECKING:
    from mockserver.proxy_record import Exchange

__all__ = ["bridge"]


async def bridge(
    upstream: ClientConnection, exchange: Exchange | None, receive: Receive, send: Send
) -> None:
    """Messages both ways until either side closes; the other side gets the same close."""
    gone = asyncio.Event()  # the client closed first: nothing more is sent to it
    from_client = asyncio.ensure_future(_client_to_upstream(upstream, exchange, receive, gone))
    from_upstream = asyncio.ensure_future(_upstream_to_client(upstream, exchange, send, gone))
    done, _ = await asyncio.wait((from_client, from_upstream), return_when=asyncio.FIRST_COMPLETED)
    if from_client in done:
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await from_upstream  # ends: the upstream answers the close we passed on
    else:
        from_client.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await from_client
    if exchange is not None:
        closed = upstream.protocol.close_rcvd is not None or from_client in done
        exchange.end("complete" if closed else "error", "" if closed else "upstream lost")


async def _client_to_upstream(
    upstream: ClientConnection, exchange: Exchange | None, receive: Receive, gone: asyncio.Event
) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            gone.set()
            code, reason = message.get("code", 1005), message.get("reason") or ""
            if exchange is not None:
                # Hypercorn reports every client close as 1006: the code is not known.
                exchange.recorder.close("client", None if code in (1005, 1006) else code, reason)
            if code in (1005, 1006):
                await upstream.close()
            else:
                await upstream.close(code, reason)
            return
        data = message.get("text")
        payload: str | bytes = data if data is not None else message.get("bytes") or b""
        if exchange is not None:
            exchange.recorder.frame("client", payload)
        with contextlib.suppress(ConnectionClosed):
            await upstream.send(payload)


async def _upstream_to_client(
    upstream: ClientConnection, exchange: Exchange | None, send: Send, gone: asyncio.Event
) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for data in upstream:
            if exchange is not None:
                exchange.recorder.frame("server", data)
            key = "text" if isinstance(data, str) else "bytes"
            if not gone.is_set():
                await send({"type": "websocket.send", key: data})
    rcvd = upstream.protocol.close_rcvd
    if exchange is not None:
        if rcvd is not None:
            code = None if rcvd.code == 1005 else rcvd.code
            exchange.recorder.close("server", code, rcvd.reason)
        else:
            exchange.recorder.disconnect("the upstream connection was lost")
    if gone.is_set():
        return
    # 1005 (no code) cannot be sent; a lost upstream is an error on our side (1011).
    code = 1011 if rcvd is None else 1000 if rcvd.code == 1005 else rcvd.code
    reason = "" if rcvd is None else rcvd.reason
    await send({"type": "websocket.close", "code": code, "reason": reason})
