"""Deliberately broken servers for the CLI's tests: each sends one kind of broken stream.

A :class:`BrokenServer` runs an asyncio server on a pre-bound ``127.0.0.1:0`` socket in a
background thread. HTTP behaviours are written at the byte level (status line, headers,
chunked framing) so nothing "fixes" them on the way; WebSocket behaviours run on
``websockets``' server, whose frames are what a real peer would send.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from websockets.asyncio.server import Server as WSServer
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request as WSRequest
from websockets.http11 import Response as WSResponse

from tests.threaded_server import ThreadedServer, cancel_the_rest

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
WSHandler = Callable[[ServerConnection], Awaitable[None]]
Ending = Literal["close", "hang", "drop"]

SSE_HEAD = (("content-type", "text/event-stream"), ("cache-control", "no-cache"))


class BrokenServer(ThreadedServer):
    """A background-thread asyncio server running one handler (raw TCP or WebSocket)."""

    what = "the broken server"

    def __init__(self, handler: Handler | None = None, ws: WSHandler | None = None) -> None:
        super().__init__()
        self.handler = handler
        self.ws = ws
        self.refuse: int | None = None
        self.requests: list[bytes] = []

    async def _serve(self, stop: asyncio.Event) -> None:
        server: WSServer | asyncio.Server
        if self.ws is not None:
            server = await serve(self._ws_handler, sock=self._sock, process_request=self._gate)
        else:
            server = await asyncio.start_server(self._tcp_handler, sock=self._sock)
        self._ready.set()
        await stop.wait()
        server.close()
        try:
            await asyncio.wait_for(server.wait_closed(), 5)
        finally:
            await cancel_the_rest()

    async def _tcp_handler(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        assert self.handler is not None
        try:
            self.requests.append(await read_request(reader))
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _ws_handler(self, conn: ServerConnection) -> None:
        assert self.ws is not None
        # A client that went away is fine for a broken server.
        with contextlib.suppress(Exception):
            await self.ws(conn)

    def _gate(self, conn: ServerConnection, request: WSRequest) -> WSResponse | None:
        if self.refuse is None:
            return None
        return WSResponse(self.refuse, "Refused", Headers([("Content-Length", "8")]), b"refused\n")

    async def hang(self) -> None:
        """Wait until the server stops (an endless, silent stream)."""
        assert self.stop_event is not None
        await self.stop_event.wait()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One HTTP/1.1 request: its head and (Content-Length) body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return head + body


def _head(status: int, headers: Sequence[tuple[str, str]], chunked: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} X", *(f"{k}: {v}" for k, v in headers)]
    if chunked:
        lines.append("transfer-encoding: chunked")
    lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def http_stream(
    chunks: Sequence[bytes],
    *,
    status: int = 200,
    headers: Sequence[tuple[str, str]] = SSE_HEAD,
    end: Ending = "close",
    chunked: bool = True,
    server: list[BrokenServer] | None = None,
) -> Handler:
    """A handler answering with ``chunks`` (each written and drained on its own), then
    ending cleanly (``close``), never (``hang``) or abruptly without the chunked terminator
    (``drop``)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(status, headers, chunked))
        for chunk in chunks:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await writer.drain()
        if end == "hang":
            assert server is not None
            await server[0].hang()
        elif end == "drop":
            writer.transport.abort()
        elif chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    return handle


def http_server(chunks: Sequence[bytes], **kwargs: object) -> BrokenServer:
    """A :class:`BrokenServer` running :func:`http_stream` (``hang`` works too)."""
    holder: list[BrokenServer] = []
    server = BrokenServer(http_stream(chunks, server=holder, **kwargs))  # type: ignore[arg-type]
    holder.append(server)
    return server


def ws_server(
    replies: Sequence[str | bytes],
    *,
    wait_for: int = 1,
    end: Ending = "close",
    close_code: int = 1000,
    refuse: int | None = None,
) -> BrokenServer:
    """A WebSocket server that reads ``wait_for`` client messages, sends ``replies``, then
    closes (``close_code``), never answers again (``hang``) or drops the TCP connection."""
    holder: list[BrokenServer] = []

    async def handle(conn: ServerConnection) -> None:
        for _ in range(wait_for):
            await conn.recv()
        for reply in replies:
            await conn.send(reply)
        if end == "hang":
            await holder[0].hang()
        elif end == "drop":
            conn.transport.abort()
        else:
            await conn.close(close_code)

    server = BrokenServer(ws=handle)
    server.refuse = refuse
    holder.append(server)
    return server
