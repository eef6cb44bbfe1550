"""Less work per connection and per chunk in Hypercorn (0.17-0.18), the same bytes on the wire.

Under a thousand paced SSE streams (``scripts/bench_targets.py``, issue #21) the mock on
Hypercorn used 28 µs of CPU per token and 360-380 µs of user CPU per one-token request, against
20 µs and 105 µs on Uvicorn with the same app; the server saturates its core and tokens wait.
Three changes take Hypercorn's own share down without touching what it sends:

1. **An idle connection is watched by a timer, not by two tasks.** Hypercorn starts a task per
   idle spell of every connection (``_idle_timeout``, which starts a second one in
   ``asyncio.wait_for``) and cancels and awaits it when a request arrives: four tasks and two
   cancellations for a one-request connection. Here an idle spell arms one ``call_later``
   timer; when it fires, the connection is closed as Hypercorn does it
   (``_initiate_server_close``). Server shutdown still closes idle connections at once: one task
   per server waits for its ``terminated`` event and fires every armed timer. A closed
   connection no longer lingers until its idle timeout either (Hypercorn's task group waited for
   the idle task).
2. **A chunk of a chunked response is framed directly.** Sending a body chunk went through an
   h11 ``Data`` event, h11's state machine (which a ``Data`` event in ``SEND_BODY`` does not
   change) and its chunked writer, for ``b"%x\\r\\n" + data + b"\\r\\n"``. While h11 is sending
   a chunked body, that frame is written as is; anything else (headers, the end of the body,
   content-length bodies, any other state) still goes through h11. An app's body chunk is
   framed as soon as Hypercorn's ``HTTPStream`` gets it, without the ``Body`` event between.
3. **A write nobody is waiting behind does not take the lock.** Every write took the
   connection's send lock and awaited ``drain()``. When the lock is free the bytes are written
   at once, and the lock and ``drain()`` are used only when the transport buffered some of them
   or is closing: backpressure and noticing a closed connection work as before.

``scripts/bench_targets.py --phases sse-paced`` measures the effect (figures in issue #21's
closing note). :func:`install` applies the three once per process, and only where Hypercorn
still has the internals they replace; ``create_app`` and the proxy call it.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import h11
from h11._writers import ChunkedWriter
from hypercorn.asyncio import tcp_server
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.events import Closed, Event, RawData
from hypercorn.protocol.events import Body
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.http_stream import ASGIHTTPState, HTTPStream
from hypercorn.utils import suppress_body

__all__ = ["IdleTimer", "install", "installed"]

#: Armed idle timers by the worker context whose shutdown must fire them.
_ARMED: weakref.WeakKeyDictionary[Any, set[IdleTimer]] = weakref.WeakKeyDictionary()
#: Tasks closing idle connections (kept referenced until they are done).
_CLOSING: set[asyncio.Task[None]] = set()


class IdleTimer:
    """Hypercorn's ``AsyncioSingleTask`` for a connection's idle watch, as one timer."""

    def __init__(self) -> None:
        self._handle: asyncio.TimerHandle | None = None
        self._server: TCPServer | None = None

    async def restart(self, task_group: Any, action: Callable[[], Awaitable[None]]) -> None:
        """Arm the watch; ``action`` is the connection's ``_idle_timeout`` (the only use
        ``TCPServer`` makes of it), replaced by the timer."""
        self._disarm()
        server: TCPServer = action.__self__  # type: ignore[attr-defined]
        self._server = server
        if server.context.terminated.is_set():
            self.fire()
            return
        armed = _ARMED.get(server.context)
        if armed is None:
            armed = _ARMED[server.context] = set()
            _spawn(_close_all_at_shutdown(server.context, armed))
        self._handle = server.loop.call_later(server.config.keep_alive_timeout, self.fire)
        armed.add(self)

    async def stop(self) -> None:
        self._disarm()

    def fire(self) -> None:
        """The connection has been idle too long, or the server is stopping: close it."""
        self._disarm()
        if self._server is not None:
            _spawn(_close_idle(self._server))

    def _disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            if self._server is not None:
                _ARMED.get(self._server.context, set()).discard(self)


def _spawn(coroutine: Awaitable[None]) -> None:
    task = asyncio.ensure_future(coroutine)
    _CLOSING.add(task)
    task.add_done_callback(_CLOSING.discard)


async def _close_idle(server: TCPServer) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):  # the connection was already gone
        await server._initiate_server_close()


async def _close_all_at_shutdown(context: Any, armed: set[IdleTimer]) -> None:
    await context.terminated.wait()
    for timer in list(armed):
        timer.fire()


def _chunking(protocol: H11Protocol) -> bool:
    """Whether ``protocol`` is sending a chunked body, where a chunk can be framed directly."""
    connection = protocol.connection
    return (
        isinstance(connection, h11.Connection)
        and connection.our_state is h11.SEND_BODY
        and type(connection._writer) is ChunkedWriter
    )


async def _send_chunk(protocol: H11Protocol, data: bytes) -> None:
    """Write ``data`` as one chunk of the body ``protocol`` is sending (see :func:`_chunking`)."""
    await protocol.send(RawData(data=b"%x\r\n%b\r\n" % (len(data), data)))


def _stream_send(original: Callable[[H11Protocol, Any], Awaitable[None]]) -> Any:
    async def stream_send(self: H11Protocol, event: Any) -> None:
        if type(event) is Body and event.data and _chunking(self):
            await _send_chunk(self, event.data)
            return
        await original(self, event)

    return stream_send


def _app_send(original: Callable[[HTTPStream, Any], Awaitable[None]]) -> Any:
    """An app's body chunk (more to follow) on HTTP/1.1, framed where Hypercorn would make a
    ``Body`` event for :func:`_stream_send` to frame: the same bytes, one call instead of
    three, and no event object."""

    async def app_send(self: HTTPStream, message: Any) -> None:
        if (
            message is not None
            and message["type"] == "http.response.body"
            and self.state is ASGIHTTPState.RESPONSE
            and message.get("more_body", False)
        ):
            data, protocol = message.get("body", b""), getattr(self.send, "__self__", None)
            if (
                data
                and type(protocol) is H11Protocol
                and _chunking(protocol)
                and not suppress_body(self.scope["method"], int(self.response["status"]))
            ):
                await _send_chunk(protocol, data)
                return
        await original(self, message)

    return app_send


def _protocol_send(original: Callable[[TCPServer, Event], Awaitable[None]]) -> Any:
    async def protocol_send(self: TCPServer, event: Event) -> None:
        if type(event) is not RawData or self.send_lock.locked():
            await original(self, event)
            return
        writer = self.writer
        try:
            writer.write(event.data)
            transport = writer.transport
            if transport.get_write_buffer_size() or transport.is_closing():
                async with self.send_lock:
                    await writer.drain()
        except (ConnectionError, RuntimeError):
            await self.protocol.handle(Closed())

    return protocol_send


def _replaceable() -> bool:
    """Whether this Hypercorn has the internals the three changes replace."""
    return (
        getattr(tcp_server, "AsyncioSingleTask", None) is not None
        and callable(getattr(TCPServer, "_idle_timeout", None))
        and callable(getattr(TCPServer, "_initiate_server_close", None))
        and callable(getattr(TCPServer, "protocol_send", None))
        and callable(getattr(H11Protocol, "stream_send", None))
        and callable(getattr(HTTPStream, "app_send", None))
    )


def installed() -> bool:
    """Whether :func:`install` has applied the changes in this process."""
    return getattr(tcp_server, "AsyncioSingleTask", None) is IdleTimer


def install() -> None:
    """Apply the three changes (once per process; nothing if Hypercorn's internals differ)."""
    if installed() or not _replaceable():
        return
    tcp_server.AsyncioSingleTask = IdleTimer  # type: ignore[attr-defined,assignment]
    H11Protocol.stream_send = _stream_send(H11Protocol.stream_send)  # type: ignore[method-assign]
    HTTPStream.app_send = _app_send(HTTPStream.app_send)  # type: ignore[method-assign]
    TCPServer.protocol_send = _protocol_send(TCPServer.protocol_send)  # type: ignore[method-assign]
