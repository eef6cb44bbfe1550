"""The recording proxy's HTTP/1.1 client to its upstream: h11 on asyncio streams, nothing else.

httpx's layers (anyio streams, httpcore's pool, the response wrappers) cost the proxy 350 to 820 µs
of CPU per relayed token where this costs 110 to 170 µs (``scripts/bench_proxy.py --baseline``, 200
paced streams, 2 CPUs), and that CPU is what the proxy adds to time to first token and what
makes paced streams late when hundreds run at once. It does only what a reverse proxy needs:
one origin, a request whose body is already read, the response head, then the body as the
upstream's own chunks (``Transfer-Encoding`` and ``Content-Length`` framing undone, nothing
decoded), and idle connections kept for the next request.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from urllib.parse import urlsplit

import h11

__all__ = ["Upstream", "UpstreamError", "UpstreamResponse"]

READ_SIZE = 64 * 1024
CONNECT_TIMEOUT = 30.0
MAX_IDLE = 100


class UpstreamError(Exception):
    """The upstream could not be reached, or broke the HTTP exchange (its message says how)."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.reused = False

    def close(self) -> None:
        self.writer.close()

    async def event(self) -> object:
        """The next thing the upstream said (an h11 event), reading from the socket as needed."""
        try:
            event = self.h11.next_event()
            while event is h11.NEED_DATA:
                self.h11.receive_data(await self.reader.read(READ_SIZE))
                event = self.h11.next_event()
        except (h11.RemoteProtocolError, OSError) as exc:
            raise UpstreamError(str(exc) or type(exc).__name__) from exc
        return event


class UpstreamResponse:
    """A response head, and its body to read with :meth:`chunks`; :meth:`aclose` after."""

    def __init__(self, upstream: Upstream, connection: _Connection, head: h11.Response) -> None:
        self.status = head.status_code
        #: The header fields as the upstream spelled them.
        self.headers: list[tuple[bytes, bytes]] = list(head.headers.raw_items())
        self._upstream, self._connection = upstream, connection
        self._done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, a piece per chunk the upstream sent; :class:`UpstreamError` if it was cut."""
        connection = self._connection
        while True:
            event = await connection.event()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._done = True
                return
            else:  # ConnectionClosed or PAUSED: h11 says so only after a complete body
                raise UpstreamError(f"unexpected {type(event).__name__} in the body")

    async def aclose(self) -> None:
        """Give the connection back for the next request if it can be, else close it."""
        connection = self._connection
        machine = connection.h11
        if self._done and machine.our_state is h11.DONE and machine.their_state is h11.DONE:
            machine.start_next_cycle()
            self._upstream.release(connection)
        else:
            connection.close()


class Upstream:
    """HTTP/1.1 to one origin (``http://`` or ``https://``), idle connections kept."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.tls else 80)
        self.authority = parts.netloc.rsplit("@", 1)[-1].encode("latin-1")
        self._idle: list[_Connection] = []
        self._context: ssl.SSLContext | None = None

    async def _connect(self) -> _Connection:
        context = None
        if self.tls:
            context = self._context = self._context or ssl.create_default_context()
        try:
            opening = asyncio.open_connection(self.host, self.port, ssl=context, limit=READ_SIZE)
            reader, writer = await asyncio.wait_for(opening, CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise UpstreamError(str(exc) or type(exc).__name__) from exc
        return _Connection(reader, writer)

    def _take(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.reader.at_eof() and not connection.writer.is_closing():
                connection.reused = True
                return connection
            connection.close()
        return None

    def release(self, connection: _Connection) -> None:
        if len(self._idle) < MAX_IDLE and not connection.reader.at_eof():
            self._idle.append(connection)
        else:
            connection.close()

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        *,
        sent: Callable[[], None] | None = None,
    ) -> UpstreamResponse:
        """Send the request, return once the response head is in (informational ones skipped).

        ``sent`` is called once the request is on its way, before its response is awaited (the
        caller's own work then overlaps the upstream's). A kept connection the upstream closed
        meanwhile is retried once on a new one (nothing of the response was read, so the
        upstream did not act on it).
        """
        connection = self._take()
        if connection is not None:
            try:
                return await self._exchange(connection, method, target, headers, body, sent=sent)
            except UpstreamError:
                connection.close()
        connection = await self._connect()
        try:
            return await self._exchange(connection, method, target, headers, body, sent=sent)
        except BaseException:
            connection.close()
            raise

    async def _exchange(
        self,
        connection: _Connection,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        *,
        sent: Callable[[], None] | None,
    ) -> UpstreamResponse:
        fields: list[tuple[bytes, bytes]] = [(b"host", self.authority)]
        fields += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            fields.append((b"content-length", str(len(body)).encode("ascii")))
        machine = connection.h11
        try:
            head = h11.Request(method=method, target=target.encode("latin-1"), headers=fields)
            data = machine.send(head) or b""
            if body:
                data += machine.send(h11.Data(data=body)) or b""
            data += machine.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            raise UpstreamError(f"cannot send the request: {exc}") from exc
        try:
            connection.writer.write(data)
            if sent is not None:
                sent()
            await connection.writer.drain()
        except OSError as exc:
            raise UpstreamError(str(exc) or type(exc).__name__) from exc
        while True:
            event = await connection.event()
            if isinstance(event, h11.Response):
                return UpstreamResponse(self, connection, event)
            if not isinstance(event, h11.InformationalResponse):
                raise UpstreamError("the upstream closed the connection without a response")

    async def aclose(self) -> None:
        """Close the kept connections."""
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
