"""Conversations under Locust: blocking httpx and websockets clients that gevent makes
cooperative.

Locust monkey-patches the standard library (sockets, threads, ``select``) before it imports a
locustfile, so a blocking client waits in gevent's hub instead of blocking the process. We use
the same two libraries as ``streamctl send`` and ``check`` (httpx's synchronous client,
websockets' ``sync`` client) rather than Locust's geventhttpclient: the body is read raw, chunk
by chunk as it arrived (what the checker needs), header handling and refusals are the ones the
rest of streamctl sees, and there is no third HTTP stack to keep apart.

A turn never raises for what the server does: every way it can go wrong becomes the
:class:`~streamctl.locust.measure.Meter`'s outcome. Sampled conversations also go to a
:class:`~streamctl.engine.recorder.Recorder`, whose transcripts the checker reads.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import gevent
import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.sse import SSEDecoder
from streamctl.core.transcript import Request, Response
from streamctl.engine.recorder import Recorder
from streamctl.locust.measure import Meter, Outcome, Watch, malformed
from streamctl.net import urls
from streamctl.net.base import merge_headers, next_session
from streamctl.net.http import EVENT_STREAM, MAX_REFUSAL_BODY, media_type, refusal

__all__ = ["Bounds", "Conversation", "HttpConversation", "WSConversation", "http_client"]

MAX_MESSAGE = 16 * 1024 * 1024
CLOSE_TIMEOUT = 2.0

# httpx logs every request at INFO: thousands of lines a second under load.
logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class Bounds:
    """``stall``: seconds without a byte before a turn is stalled; ``timeout``: seconds for
    a whole turn (connecting included)."""

    stall: float = 10.0
    timeout: float = 60.0


class Conversation(Protocol):
    """The turns of one conversation; ``recorders`` holds what was recorded (if sampled)."""

    recorders: list[Recorder]

    def turn(self, message: str) -> Meter: ...

    def close(self) -> None: ...


def http_client(bounds: Bounds) -> httpx.Client:
    """A user's HTTP client: connections kept between turns, reads bounded by the stall.

    Every client of the process shares one TLS context: httpx makes one per client by
    default, even with ``verify=False``, about 2 ms of CPU per user spent while spawning
    (0.1 ms with a shared one).
    """
    timeout = httpx.Timeout(bounds.stall, connect=bounds.timeout)
    return httpx.Client(timeout=timeout, verify=_tls(), follow_redirects=False)


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


@contextmanager
def _deadline(meter: Meter, seconds: float) -> Iterator[None]:
    """Fail ``meter`` as a timeout when the block runs past ``seconds``."""
    timer = gevent.Timeout(seconds)
    timer.start()
    try:
        yield
    except gevent.Timeout as exc:
        if exc is not timer:
            raise
        meter.fail(Outcome.TIMEOUT, f"no end of the turn within {seconds:g} s")
    finally:
        timer.close()


class HttpConversation:
    """One request per turn over a user's client (same session or chat all along)."""

    def __init__(
        self,
        protocol: ChatProtocol,
        options: ClientOptions,
        base_url: str,
        client: httpx.Client,
        *,
        bounds: Bounds,
        record: Callable[[], Recorder] | None = None,
    ) -> None:
        self.protocol = protocol
        self.options = options
        self.base_url = base_url
        self.client = client
        self.bounds = bounds
        self.record = record
        self.recorders: list[Recorder] = []
        self.session: ClientSession | None = None

    def turn(self, message: str) -> Meter:
        self.session = next_session(self.protocol, self.options, self.session, message)
        sent = self.session.request()
        request = Request(
            sent.method, sent.target, merge_headers(sent.headers, self.options.headers), sent.body
        )
        recorder = self._recorder()
        meter = Meter()
        meter.start()
        if recorder is not None:
            recorder.start(request)
        with _deadline(meter, self.bounds.timeout):
            self._send(self.session, request, meter, recorder)
        meter.end()
        if recorder is not None:
            recorder.end(*_ending(meter))
        return meter

    def _recorder(self) -> Recorder | None:
        if self.record is None:
            return None
        self.recorders.append(self.record())
        return self.recorders[-1]

    def _send(
        self, session: ClientSession, request: Request, meter: Meter, recorder: Recorder | None
    ) -> None:
        url = urls.join(self.base_url, request.target)
        try:
            with self.client.stream(
                request.method, url, headers=list(request.headers), content=request.body
            ) as raw:
                self._receive(session, request, raw, meter, recorder)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
                meter.fail(Outcome.UNREACHABLE, "no connection within the stall bound")
            else:
                meter.fail(Outcome.STALLED, f"no byte for {self.bounds.stall:g} s")
        except httpx.ConnectError:
            meter.fail(Outcome.UNREACHABLE, "cannot connect")
        except httpx.HTTPError:
            meter.fail(Outcome.TRUNCATED, "the connection dropped before the end of the stream")
            if recorder is not None:
                recorder.disconnect("the connection dropped")

    def _receive(
        self,
        session: ClientSession,
        request: Request,
        raw: httpx.Response,
        meter: Meter,
        recorder: Recorder | None,
    ) -> None:
        response = Response(raw.status_code, tuple(raw.headers.multi_items()))
        if recorder is not None:
            recorder.head(response)
        if refusal(request, response) is not None:
            meter.fail(Outcome.REFUSED, _refused(response))
            _drain(raw, meter, recorder)
            return
        read = _reader(self.protocol, session, response, meter)
        for chunk in raw.iter_raw():
            meter.received(len(chunk))
            if recorder is not None:
                recorder.frame("server", chunk)
            read(chunk)
            if meter.done:
                break

    def close(self) -> None:
        """Nothing stays open between HTTP conversations but the user's pooled connections."""


def _refused(response: Response) -> str:
    if response.status != 200:
        return f"HTTP {response.status}"
    return f"Content-Type {media_type(response.header('content-type')) or 'missing'}"


def _drain(raw: httpx.Response, meter: Meter, recorder: Recorder | None) -> None:
    size = 0
    for chunk in raw.iter_raw():
        meter.received(len(chunk))
        if recorder is not None:
            recorder.frame("server", chunk)
        size += len(chunk)
        if size >= MAX_REFUSAL_BODY:
            return


def _reader(
    protocol: ChatProtocol, session: ClientSession, response: Response, meter: Meter
) -> Callable[[bytes], None]:
    """What reads one body chunk: SSE events through the watch and the session, or the
    session's own decoder (NDJSON, left to the sampled checker)."""
    if media_type(response.header("content-type")) != EVENT_STREAM:

        def feed(chunk: bytes) -> None:
            for update in session.feed(chunk):
                meter.update(update)

        return feed
    decoder = SSEDecoder()
    watch = Watch(protocol)

    def read(chunk: bytes) -> None:
        for event in decoder.feed(chunk):
            malformed(meter, watch.sse(event))
            meter.update(session.on_event(event))

    return read


def _ending(meter: Meter) -> tuple[str, str]:
    """The transcript's End record for ``meter``'s turn."""
    if meter.outcome is Outcome.TIMEOUT:
        return "timeout", meter.detail
    if meter.outcome in (Outcome.STALLED, Outcome.UNREACHABLE, Outcome.TRUNCATED):
        return "error", meter.detail
    return "complete", meter.detail


def _target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path or '/'}{'?' if parts.query else ''}{parts.query}"


class WSConversation:
    """One connection for every turn of a conversation, recorded as one transcript."""

    def __init__(
        self,
        protocol: ChatProtocol,
        options: ClientOptions,
        base_url: str,
        bounds: Bounds,
        record: Callable[[], Recorder] | None = None,
    ) -> None:
        self.protocol = protocol
        self.options = options
        self.url = urls.join(base_url, protocol.stream_endpoint.path, websocket=True)
        self.bounds = bounds
        self.recorders: list[Recorder] = [] if record is None else [record()]
        self.ws: ClientConnection | None = None
        self.session: ClientSession | None = None
        self.last: Meter | None = None

    @property
    def recorder(self) -> Recorder | None:
        return self.recorders[0] if self.recorders else None

    def turn(self, message: str) -> Meter:
        self.session = next_session(self.protocol, self.options, self.session, message)
        meter = Meter()
        meter.start()
        with _deadline(meter, self.bounds.timeout):
            self._exchange(self.session, meter)
        meter.end()
        if meter.failure() is not None:
            self._drop()
        self.last = meter
        return meter

    def _exchange(self, session: ClientSession, meter: Meter) -> None:
        try:
            ws = self.ws or self._connect()
            watch = Watch(self.protocol)
            for text in session.opening():
                self._send(ws, text)
            while not meter.done:
                self._receive(ws, session, watch, meter)
        except InvalidStatus as exc:
            self._refused(exc.response.status_code, tuple(exc.response.headers.raw_items()))
            meter.fail(Outcome.REFUSED, f"HTTP {exc.response.status_code}")
        except (InvalidHandshake, InvalidURI):
            meter.fail(Outcome.REFUSED, "the WebSocket upgrade failed")
        except TimeoutError:
            meter.fail(Outcome.STALLED, f"no message for {self.bounds.stall:g} s")
        except ConnectionClosed as exc:
            self._closed(exc)
            if not meter.done:
                meter.fail(Outcome.TRUNCATED, "the connection closed before the end of the reply")
        except OSError:
            meter.fail(Outcome.UNREACHABLE, "cannot connect")

    def _connect(self) -> ClientConnection:
        headers = list(self.options.headers)
        if self.recorder is not None:
            self.recorder.start(Request("GET", _target(self.url), tuple(headers)))
        ws = connect(
            self.url,
            additional_headers=headers,
            open_timeout=self.bounds.timeout,
            ping_interval=None,
            close_timeout=CLOSE_TIMEOUT,
            max_size=MAX_MESSAGE,
        )
        if self.recorder is not None and ws.request is not None and ws.response is not None:
            request = Request("GET", ws.request.path, tuple(ws.request.headers.raw_items()))
            response = ws.response
            head = Response(response.status_code, tuple(response.headers.raw_items()))
            self.recorder.head(head, request)
        self.ws = ws
        return ws

    def _refused(self, status: int, headers: tuple[tuple[str, str], ...]) -> None:
        if self.recorder is not None:
            self.recorder.head(Response(status, headers))

    def _send(self, ws: ClientConnection, text: str) -> None:
        ws.send(text)
        if self.recorder is not None:
            self.recorder.frame("client", text)

    def _receive(
        self, ws: ClientConnection, session: ClientSession, watch: Watch, meter: Meter
    ) -> None:
        message = ws.recv(timeout=self.bounds.stall)
        payload = message if isinstance(message, str) else bytes(message)
        meter.received(len(payload.encode() if isinstance(payload, str) else payload))
        if self.recorder is not None:
            self.recorder.frame("server", payload)
        if isinstance(payload, bytes):
            malformed(meter, [self.protocol.finding("ws.text", "binary frame")])
            return
        malformed(meter, watch.message(payload))
        update = session.on_message(payload)
        meter.update(update)
        for text in update.send:
            self._send(ws, text)

    def _closed(self, exc: ConnectionClosed) -> None:
        self.ws = None
        if self.recorder is None:
            return
        if exc.rcvd is not None:
            self.recorder.close("server", exc.rcvd.code, exc.rcvd.reason)
        else:
            self.recorder.disconnect(str(exc))

    def _drop(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            ws.close_socket()

    def close(self) -> None:
        """Close the connection (1000) and end the transcript."""
        ws, self.ws = self.ws, None
        if ws is not None:
            if self.recorder is not None:
                self.recorder.close("client", 1000)
            with suppress(OSError, ConnectionClosed):
                ws.close()
        if self.recorder is not None:
            last = self.last
            self.recorder.end(*(_ending(last) if last is not None else ("complete", "")))
