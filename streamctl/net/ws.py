"""WebSocket conversations over websockets: the only client-side module that imports it.

One connection carries every turn of a conversation and is recorded as one transcript: the
handshake as the header, each message in both directions as a frame, close frames as they
cross. websockets' exceptions become :mod:`streamctl.errors` here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)
from websockets.frames import CloseCode
from websockets.protocol import State

from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import ClientOptions, Update
from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.redact import redact_target
from streamctl.core.transcript import Request, Response
from streamctl.engine.recorder import Recorder, outcome_of
from streamctl.errors import (
    ConnectionLost,
    StreamctlError,
    StreamTimeout,
    Unreachable,
    UpgradeRefused,
    UsageError,
)
from streamctl.net import urls
from streamctl.net.base import (
    Deadline,
    Limits,
    Observer,
    Pump,
    Result,
    WireEvent,
    excerpt,
    next_session,
)

__all__ = ["WSConversation"]

MAX_MESSAGE = 16 * 1024 * 1024
#: Messages received and not yet read, at most (with ``MAX_MESSAGE``: 256 MiB at worst).
MAX_QUEUE = 16
CLOSE_TIMEOUT = 2.0


async def _drain(ws: ClientConnection) -> None:
    """Read and drop what is still unread (a stop at --max-events leaves some), so that
    reading goes on up to the server's close frame; the queue stays within its bound."""
    try:
        while True:
            await ws.recv()
    except ConnectionClosed:
        pass


def _target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path or '/'}{'?' if parts.query else ''}{parts.query}"


class _Closed(Exception):
    """The connection is gone (the reason is already recorded)."""


class WSConversation:
    """One WebSocket connection carrying the turns of a conversation."""

    def __init__(
        self,
        protocol: ChatProtocol,
        options: ClientOptions,
        base_url: str,
        *,
        recorders: Callable[[], Recorder],
        observer: Observer,
        limits: Limits,
    ) -> None:
        self.protocol = protocol
        self.options = options
        self.url = urls.join(base_url, protocol.stream_endpoint.path, websocket=True)
        self.recorder = recorders()
        self.observer = observer
        self.limits = limits
        self.ws: ClientConnection | None = None
        self.session: ClientSession | None = None
        self.response: Response | None = None
        self.last: Result | None = None
        self.closed = False

    async def turn(self, message: str) -> Result:
        """Send ``message`` (connecting first if needed) and receive the reply."""
        if self.closed and (self.last is None or self.last.response is None):
            raise RuntimeError("this conversation is over; open a new one")
        if self.closed:
            # The server closed the connection after the last turn (often after an error).
            lost = ConnectionLost("the server closed the connection before this message")
            return Result(self.response, "error", str(lost), lost)
        self.session = next_session(self.protocol, self.options, self.session, message)
        turn = _Turn(self, self.session, Pump(self.observer, self.limits))
        try:
            self.last = await turn.run()
        except BaseException as exc:  # Ctrl-C, SIGTERM or cancellation: the transcript ends
            self.closed = True
            self._abort()
            self.recorder.end(outcome_of(exc), str(exc) or type(exc).__name__)
            raise
        if self.last.outcome in ("error", "timeout") or self.ws is None:
            await self._finish()
        return self.last

    async def aclose(self) -> None:
        """Close the connection (a normal close, 1000) and end the transcript."""
        if not self.closed:
            await self._finish()

    def _abort(self) -> None:
        """Leave at once: there is no time for a closing handshake, but the server is told
        why (RFC 6455 §7.4.1: 1001, "an endpoint is going away") before the socket closes."""
        ws, self.ws = self.ws, None
        if ws is None:
            return
        if ws.protocol.state is State.OPEN:
            ws.protocol.send_close(CloseCode.GOING_AWAY)
            for data in ws.protocol.data_to_send():
                ws.transport.write(data)
            self.recorder.close("client", CloseCode.GOING_AWAY)
        ws.transport.close()  # unlike abort(), it writes what is buffered first

    async def _finish(self) -> None:
        self.closed = True
        ws, self.ws = self.ws, None
        if ws is not None:
            await self._close(ws)
        last = self.last
        if last is None:
            self.recorder.end("complete", "no message was sent")
        else:
            self.recorder.end(last.outcome, last.detail)

    async def _close(self, ws: ClientConnection) -> None:
        self.recorder.close("client", 1000)
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                closing = asyncio.ensure_future(ws.close())
                await _drain(ws)
                await closing
        except (TimeoutError, OSError, WebSocketException):
            pass
        self._note_close(ws)

    def _note_close(self, ws: ClientConnection) -> None:
        """Record how the server closed, if it sent a close frame."""
        rcvd = ws.protocol.close_rcvd
        if rcvd is not None:
            self.recorder.close("server", rcvd.code, rcvd.reason)

    async def connect(self) -> ClientConnection:
        """Open the connection; the handshake becomes the transcript's header."""
        headers = list(self.options.headers)
        self.recorder.start(Request("GET", _target(self.url), tuple(headers)))
        try:
            ws = await connect(
                self.url,
                additional_headers=headers,
                open_timeout=None,
                ping_interval=None,
                close_timeout=CLOSE_TIMEOUT,
                max_size=MAX_MESSAGE,
                # Read-side flow control: at most this many messages wait unread (a server
                # sending faster than the terminal prints filled the memory, 2.7 GB in 25 s of
                # 15 MB messages); closing drains them to reach the server's close frame.
                max_queue=MAX_QUEUE,
                # No permessage-deflate: compressed, one read of the socket can hold thousands
                # of messages (8 KB of repeated text is 30 bytes), all decompressed at once
                # before the queue's bound applies (26 MB in one read of a test stream). The
                # frames stay what a debugging user expects to see on the wire, too.
                compression=None,
            )
        except InvalidStatus as exc:
            raise self._refused(exc) from exc
        except InvalidURI as exc:
            raise UsageError(f"invalid WebSocket URL {self.url}: {exc}") from exc
        except InvalidHandshake as exc:
            raise UpgradeRefused(f"WebSocket upgrade to {self.url} failed: {exc}") from exc
        except OSError as exc:
            raise Unreachable(f"cannot connect to {self.url}: {exc}") from exc
        sent, response = ws.request, ws.response
        # Both are set once the handshake succeeded.
        assert sent is not None
        assert response is not None
        request = Request("GET", sent.path, tuple(sent.headers.raw_items()))
        self.response = Response(response.status_code, tuple(response.headers.raw_items()))
        self.recorder.head(self.response, request)
        self.observer.on_head(self.recorder.request or request, self.response)
        self.ws = ws
        return ws

    def _refused(self, exc: InvalidStatus) -> UpgradeRefused:
        raw = exc.response
        self.response = Response(raw.status_code, tuple(raw.headers.raw_items()))
        self.recorder.head(self.response)
        self.observer.on_head(self.recorder.request or Request("GET", "/"), self.response)
        body = bytes(raw.body or b"")
        if body:
            self.observer.on_frame(self.recorder.frame("server", body))
        text = excerpt(body)
        where = redact_target(self.url)
        return UpgradeRefused(
            f"WebSocket upgrade to {where} refused: HTTP {raw.status_code} {text}".strip()
        )


class _Turn:
    """One user message and the reply to it, on a conversation's connection."""

    def __init__(self, conv: WSConversation, session: ClientSession, pump: Pump) -> None:
        self.conv = conv
        self.session = session
        self.pump = pump
        self.lingering = False
        self.scope: asyncio.Timeout | None = None
        self.deadline = Deadline(conv.limits)

    async def run(self) -> Result:
        limits = self.conv.limits
        try:
            async with self.deadline.scope() as self.scope:
                return await self._exchange()
        except TimeoutError:
            if self.lingering:
                return self.pump.ending(self.conv.response)
            if self.deadline.stalled():
                stalled = StreamTimeout(self.deadline.stall_detail())
                return self.pump.failed(self.conv.response, "timeout", stalled)
            error = StreamTimeout(f"no end of the reply within {limits.timeout:g} s")
            return self.pump.failed(self.conv.response, "timeout", error)
        except StreamctlError as exc:
            return self.pump.failed(self.conv.response, "error", exc)
        except _Closed as exc:
            if self.pump.done:
                return self.pump.ending(self.conv.response)
            return self.pump.failed(self.conv.response, "error", ConnectionLost(str(exc)))

    async def _exchange(self) -> Result:
        ws = self.conv.ws or await self.conv.connect()
        for text in self.session.opening():
            await self._send(ws, text)
        while not self.pump.full and (not self.pump.done or self._linger()):
            await self._receive(ws)
        return self.pump.ending(self.conv.response)

    async def _send(self, ws: ClientConnection, text: str) -> None:
        try:
            await ws.send(text)
        except ConnectionClosed as exc:
            raise self._closed(ws, exc) from exc
        self.conv.observer.on_frame(self.conv.recorder.frame("client", text))

    async def _receive(self, ws: ClientConnection) -> None:
        try:
            message = await ws.recv()
        except ConnectionClosed as exc:
            raise self._closed(ws, exc) from exc
        self.deadline.alive()
        payload = message if isinstance(message, str) else bytes(message)
        frame = self.conv.recorder.frame("server", payload)
        self.conv.observer.on_frame(frame)
        self.pump.count(len(payload))
        if isinstance(payload, str):
            update = self.session.on_message(payload)
        else:
            update = Update(info=f"ignored a binary message of {len(payload)} bytes")
        self.pump.take(WireEvent(frame.t, update, message=payload))
        for text in update.send:
            await self._send(ws, text)

    def _closed(self, ws: ClientConnection, exc: ConnectionClosed) -> _Closed:
        self.conv.ws = None
        rcvd = ws.protocol.close_rcvd
        if rcvd is not None:
            self.conv.recorder.close("server", rcvd.code, rcvd.reason)
            return _Closed(f"the server closed the connection ({rcvd.code} {rcvd.reason})".strip())
        self.conv.recorder.disconnect(str(exc))
        return _Closed(f"the connection dropped: {exc}")

    def _linger(self) -> bool:
        """After the terminator: keep receiving for ``linger`` seconds (False: stop now)."""
        if self.lingering:
            return True
        if self.conv.limits.linger <= 0 or self.scope is None:
            return False
        self.lingering = self.deadline.frozen = True
        deadline = asyncio.get_running_loop().time() + self.conv.limits.linger
        current = self.scope.when()
        self.scope.reschedule(deadline if current is None else min(current, deadline))
        return True
