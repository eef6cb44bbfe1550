"""HTTP streaming exchanges over httpx: the only client-side module that imports httpx.

The body is read with ``aiter_raw()`` so every chunk is recorded exactly as it arrived (chunk
boundaries kept, no content decoding). An ``text/event-stream`` body is decoded here, event by
event, and each event handed to the client session; any other body goes to the session's own
``feed()`` (NDJSON, for example). httpx's exceptions become :mod:`streamctl.errors` here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

import anyio
import httpx

from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import ClientOptions, Update
from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.redact import redact_target
from streamctl.core.sse import SSEDecoder, SSEEvent
from streamctl.core.transcript import Request, Response, header_value
from streamctl.engine.recorder import Recorder, outcome_of
from streamctl.errors import (
    ConnectionLost,
    HttpStatusError,
    StreamctlError,
    StreamTimeout,
    Unreachable,
    UsageError,
    WrongContentType,
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
    merge_headers,
    next_session,
)

__all__ = ["HttpConversation", "exchange"]

#: How much of a refusal's body is kept (an error page, a JSON error); the rest is not read.
MAX_REFUSAL_BODY = 64 * 1024
EVENT_STREAM = "text/event-stream"


async def _load_transport() -> None:
    """Load now what httpx would load on its first connection, before the exchange's clock
    starts.

    httpcore imports anyio's backend for the running loop when it first connects: about 40 ms
    here, which a transcript would otherwise count as the server's time to its first byte (and
    ``send`` as time to first token, and a replay of the recording would wait it out again).
    """
    await anyio.sleep(0)


def media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def accepted_types(request: Request) -> list[str]:
    """The media types the request asked for (an event stream when it did not say)."""
    accept = header_value(request.headers, "accept")
    types = [media_type(part) for part in (accept or EVENT_STREAM).split(",")]
    return [t for t in types if t]


def _acceptable(ctype: str, wanted: list[str]) -> bool:
    return any(
        w in ("*/*", ctype) or (w.endswith("/*") and ctype.startswith(w[:-1])) for w in wanted
    )


def refusal(
    request: Request, response: Response, body: bytes = b"", url: str = ""
) -> StreamctlError | None:
    """Why ``response`` is not the stream ``request`` asked for, or ``None`` when it is."""
    if response.status != 200:
        tail = f": {excerpt(body)}" if body.strip() else ""
        where = f" from {request.method} {redact_target(url)}" if url else ""
        return HttpStatusError(f"HTTP {response.status}{where}{tail}")
    ctype = media_type(response.header("content-type"))
    wanted = accepted_types(request)
    if _acceptable(ctype, wanted):
        return None
    tail = f": {excerpt(body, as_is=True)}" if body.strip() else ""
    got = ctype or "no Content-Type"
    return WrongContentType(f"expected {' or '.join(wanted)}, got {got}{tail}")


class _Exchange:
    """One request and its streamed response."""

    def __init__(
        self,
        session: ClientSession,
        url: str,
        request: Request,
        *,
        recorder: Recorder,
        observer: Observer,
        limits: Limits,
    ) -> None:
        self.session = session
        self.url = url
        self.request = request
        self.recorder = recorder
        self.observer = observer
        self.limits = limits
        self.pump = Pump(observer, limits)
        self.response: Response | None = None
        self.lingering = False
        self.refused: StreamctlError | None = None
        self.scope: asyncio.Timeout | None = None
        self.deadline = Deadline(limits)

    async def run(self) -> Result:
        # TLS settings are only used for https: a plain-http exchange need not pay for loading
        # the CA bundle (about 100 ms) before its first byte.
        https = self.url.lower().startswith("https:")
        client = httpx.AsyncClient(timeout=None, follow_redirects=False, verify=https)
        await _load_transport()
        self.recorder.start(self.request)
        try:
            async with client:
                result = await self._bounded(client)
        except BaseException as exc:  # Ctrl-C or cancellation: the transcript still ends
            self.recorder.end(outcome_of(exc), str(exc) or type(exc).__name__)
            raise
        self.recorder.end(result.outcome, result.detail)
        return result

    async def _bounded(self, client: httpx.AsyncClient) -> Result:
        try:
            async with self.deadline.scope() as self.scope:
                return await self._send(client)
        except TimeoutError:
            if self.lingering:
                return self.pump.ending(self.response)
            if self.deadline.stalled():
                stalled = StreamTimeout(self.deadline.stall_detail())
                return self.pump.failed(self.response, "timeout", stalled)
            if self.refused is not None:
                return self.pump.failed(self.response, "timeout", self.refused)
            error = StreamTimeout(f"no end of stream within {self.limits.timeout:g} s")
            return self.pump.failed(self.response, "timeout", error)
        except httpx.HTTPError as exc:
            failure = self._translate(exc)
            if isinstance(failure, ConnectionLost) and self.response is not None:
                self.recorder.disconnect(str(exc) or type(exc).__name__)
            return self.pump.failed(self.response, "error", failure)

    def _translate(self, exc: httpx.HTTPError) -> StreamctlError:
        if isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol):
            return UsageError(f"cannot send this request: {exc}")
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return Unreachable(f"cannot connect to {self.url}: {exc or type(exc).__name__}")
        what = "the response" if self.response is None else "the stream"
        return ConnectionLost(f"connection dropped before the end of {what}: {exc}")

    async def _send(self, client: httpx.AsyncClient) -> Result:
        request = self.request
        try:
            outgoing = client.build_request(
                request.method, self.url, headers=list(request.headers), content=request.body
            )
        except UnicodeEncodeError as exc:  # httpx sends header values as ASCII
            raise UsageError(f"a request header is not ASCII: {exc.object!r}") from exc
        response = await client.send(outgoing, stream=True)
        try:
            return await self._receive(response)
        finally:
            await response.aclose()

    async def _receive(self, raw: httpx.Response) -> Result:
        self.response = Response(raw.status_code, tuple(raw.headers.multi_items()))
        self.recorder.head(self.response)
        self.observer.on_head(self.recorder.request or self.request, self.response)
        self.refused = refusal(self.request, self.response, url=self.url)
        if self.refused is not None:
            body = await self._drain(raw)
            self.refused = refusal(self.request, self.response, body, self.url) or self.refused
            return self.pump.failed(self.response, "complete", self.refused)
        return await self._stream(raw)

    async def _drain(self, raw: httpx.Response) -> bytes:
        body = b""
        async for chunk in raw.aiter_raw():
            self.observer.on_frame(self.recorder.frame("server", chunk))
            body += chunk
            if len(body) >= MAX_REFUSAL_BODY:
                break
        return body

    async def _stream(self, raw: httpx.Response) -> Result:
        decode = self._decoder()
        async for chunk in raw.aiter_raw():
            self.deadline.alive()
            frame = self.recorder.frame("server", chunk)
            self.observer.on_frame(frame)
            for event in decode(chunk, frame.t):
                self.pump.take(event)
                if self.pump.full:
                    return self.pump.ending(self.response)
            self.pump.count(len(chunk))
            if self.pump.full:  # the byte bound: this chunk's events were the last
                return self.pump.ending(self.response)
            if self.pump.done and not self._linger():
                break
        return self.pump.ending(self.response)

    def _decoder(self) -> Callable[[bytes, float], list[WireEvent]]:
        assert self.response is not None
        if media_type(self.response.header("content-type")) != EVENT_STREAM:
            session = self.session
            return lambda chunk, t: [WireEvent(t, u) for u in session.feed(chunk)]
        decoder = SSEDecoder()
        return lambda chunk, t: [
            WireEvent(t, self._on_event(e), sse=e.as_dict()) for e in decoder.feed(chunk)
        ]

    def _on_event(self, event: SSEEvent) -> Update:
        return self.session.on_event(event)

    def _linger(self) -> bool:
        """After the terminator: keep reading for ``linger`` seconds (False: stop now)."""
        if self.lingering:
            return True
        if self.limits.linger <= 0 or self.scope is None:
            return False
        self.lingering = self.deadline.frozen = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.linger
        current = self.scope.when()
        self.scope.reschedule(deadline if current is None else min(current, deadline))
        return True


def _request(session: ClientSession, extra: tuple[tuple[str, str], ...]) -> Request:
    request = session.request()
    headers = merge_headers(request.headers, extra)
    return Request(request.method, request.target, headers, request.body)


async def exchange(
    session: ClientSession,
    base_url: str,
    headers: tuple[tuple[str, str], ...],
    *,
    recorder: Recorder,
    observer: Observer,
    limits: Limits,
) -> Result:
    """Send ``session``'s request to ``base_url`` and stream the response through it."""
    request = _request(session, headers)
    url = urls.join(base_url, request.target)
    # What goes on the wire (and into --debug and the transcript) is the joined URL's target.
    parts = urlsplit(url)
    request = replace(request, target=parts.path + (f"?{parts.query}" if parts.query else ""))
    run = _Exchange(session, url, request, recorder=recorder, observer=observer, limits=limits)
    return await run.run()


class HttpConversation:
    """Turns over HTTP: one request per user message, one transcript per request."""

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
        self.base_url = base_url
        self.recorders = recorders
        self.observer = observer
        self.limits = limits
        self.session: ClientSession | None = None

    async def turn(self, message: str) -> Result:
        self.session = next_session(self.protocol, self.options, self.session, message)
        return await exchange(
            self.session,
            self.base_url,
            self.options.headers,
            recorder=self.recorders(),
            observer=self.observer,
            limits=self.limits,
        )

    async def aclose(self) -> None:
        """Nothing stays open between HTTP turns."""
