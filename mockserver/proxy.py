"""A recording reverse proxy: every request passed to a real backend, each stream written down.

Everything is forwarded unbuffered: an HTTP response body chunk by chunk as the upstream sends
it, a WebSocket message by message in both directions, close codes and reasons kept, routes that
are not streams (history, status) and paths no protocol knows too. The exchanges on the stream
endpoints of the protocols asked for (the core registry says which those are) are written to a
directory as transcripts while they flow, by the same crash-safe writer as ``streamctl record``
(secrets redacted), each named after the request's ``X-Streamctl-Test`` header, or numbered.
``streamctl serve --scenarios DIR`` replays them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from mockserver.asgi import (
    BodyTooLarge,
    Disconnected,
    Receive,
    Scope,
    Send,
    header_pairs,
    read_body,
    send_response,
)
from mockserver.proxy_record import Exchange
from mockserver.proxy_ws import bridge
from mockserver.upstream import Upstream, UpstreamError, UpstreamResponse
from streamctl.core.check import check
from streamctl.core.endpoints import endpoint_for
from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import HttpResponse
from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.spec import Finding
from streamctl.core.transcript import Request, Response, Transcript

__all__ = ["TEST_HEADER", "Proxy", "ProxyConfig", "names_for"]

#: The request header that names an exchange's transcript (a test's name).
TEST_HEADER = "x-streamctl-test"
# RFC 9110 §7.6.1: connection-specific fields are not forwarded; host and length are the
# client library's to set; accept-encoding is dropped so recordings hold plain bytes.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "accept-encoding",
        TEST_HEADER,
    }
)
_WS_HANDSHAKE = frozenset(
    {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"}
) | {"sec-websocket-protocol"}
_RESPONSE_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "trailer", "upgrade"})
_RESPONSE_HOP_RAW = frozenset(name.encode("ascii") for name in _RESPONSE_HOP)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_MESSAGE = 64 * 1024 * 1024


@dataclass(frozen=True)
class ProxyConfig:
    """What ``streamctl proxy`` was asked for."""

    upstream: str
    protocols: tuple[str, ...]
    out_dir: Path | None = None
    check: bool = False
    #: Where people's messages go (one line each): notes and, with ``check``, findings.
    note: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))


def names_for(test: str | None, sequence: int, protocol: str) -> str:
    """A transcript's file stem: the test's name made file-safe, else a sequence number."""
    safe = _UNSAFE.sub("-", test or "").strip("-.")[:90]
    return safe or f"{sequence:04d}-{protocol}"


class _Names:
    """Stems handed out once per run (a test's second exchange gets ``NAME-2``)."""

    def __init__(self) -> None:
        self.sequence = 0
        self.used: set[str] = set()

    def take(self, test: str | None, protocol: str) -> str:
        self.sequence += 1
        base = name = names_for(test, self.sequence, protocol)
        count = 1
        while name in self.used:
            count += 1
            name = f"{base}-{count}"
        self.used.add(name)
        return name


class Proxy:
    """The ASGI app: a reverse proxy to ``config.upstream`` that records stream exchanges."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        parts = urlsplit(config.upstream)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"the upstream must be an http:// or https:// URL, not {config.upstream!r}"
            )
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.ws_base = ("wss" if parts.scheme == "https" else "ws") + self.base[len(parts.scheme) :]
        self.protocols = tuple(get(name) for name in config.protocols)
        self.names = _Names()
        self.upstream = Upstream(self.base)
        # Request targets go to the upstream under its URL's path.
        self.prefix = parts.path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        await self.upstream.aclose()

    def report(self, name: str, transcript: Transcript, proto: ChatProtocol) -> None:
        """With ``--check``: one line per exchange, and one per finding."""
        findings = check(transcript, proto)
        musts = sum(1 for f in findings if f.level.value == "MUST")
        verdict = "FAIL" if musts else "ok"
        self.config.note(
            f"proxy: {name} ({proto.name}): {verdict}, {musts} MUST, {len(findings) - musts} SHOULD"
        )
        for finding in findings:
            self.config.note(f"  {_finding_line(finding)}")

    def _exchange(
        self, method: str, target: str, pairs: Sequence[tuple[str, str]], body: bytes | None
    ) -> Exchange | None:
        found = endpoint_for(method, target, self.protocols)
        if found is None or not found[1].stream:
            return None
        test = next((v for k, v in pairs if k == TEST_HEADER), None)
        name = self.names.take(test, found[0].name)
        request = Request(
            "GET" if method == "WS" else method,
            target,
            tuple((k, v) for k, v in pairs if k != TEST_HEADER),
            body,
        )
        config = self.config
        return Exchange(
            found[0],
            name,
            request,
            out_dir=config.out_dir,
            check=config.check,
            meta={"proxy": config.upstream},
            note=config.note,
            report=self.report,
        )

    # --- HTTP -----------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, target = scope["method"], _target(scope)
        pairs = header_pairs(scope)
        try:
            body = await read_body(receive)
        except Disconnected:
            return
        except BodyTooLarge:
            await send_response(send, HttpResponse.text(413, "request body too large\n"))
            return
        # No timeouts (a stream may pause for minutes), no bound on connections (every client
        # gets one of its own, as without the proxy).
        forward = [(k, v) for k, v in pairs if k not in _HOP]
        forward.append(("accept-encoding", "identity"))
        exchanges: list[Exchange | None] = []

        def sent() -> None:
            # The transcript's file is opened while the upstream works on the request, not
            # after its answer (the opening then costs the first token nothing).
            if not exchanges:
                exchanges.append(self._exchange(method, target, pairs, body or None))

        try:
            upstream = await self.upstream.request(
                method, self.prefix + target, forward, body, sent=sent
            )
        except BaseException as exc:
            exchange = exchanges[0] if exchanges else None
            await self._unanswered(exc, exchange, f"{method} {target}", send)
            return
        try:
            await self._relay(upstream, exchanges[0] if exchanges else None, receive, send)
        finally:
            await upstream.aclose()

    async def _unanswered(
        self, exc: BaseException, exchange: Exchange | None, request: str, send: Send
    ) -> None:
        """The upstream gave no answer: the recording ends, and the client gets a 502 (or, when
        the proxy itself is stopping, the exception goes on)."""
        if exchange is not None:
            interrupted = not isinstance(exc, UpstreamError)
            exchange.recorder.disconnect(f"upstream: {exc}")
            exchange.end("interrupted" if interrupted else "error", f"upstream: {exc}")
        if not isinstance(exc, UpstreamError):
            raise exc
        self.config.note(f"proxy: {request}: upstream unreachable: {exc}")
        message = f"streamctl proxy: cannot reach {self.config.upstream}: {exc}\n"
        await send_response(send, HttpResponse.text(502, message))

    async def _relay(
        self,
        upstream: UpstreamResponse,
        exchange: Exchange | None,
        receive: Receive,
        send: Send,
    ) -> None:
        head = upstream.headers
        if exchange is not None:
            text = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in head]
            exchange.recorder.head(Response(upstream.status, tuple(text)))
        forward = [(k, v) for k, v in head if k.lower() not in _RESPONSE_HOP_RAW]
        start = {"type": "http.response.start", "status": upstream.status, "headers": forward}
        await send(start)
        pump = asyncio.ensure_future(_pump(upstream, exchange, send))
        watch = asyncio.ensure_future(_disconnect(receive))
        done, _ = await asyncio.wait((pump, watch), return_when=asyncio.FIRST_COMPLETED)
        if pump not in done:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            if exchange is not None:
                exchange.end("interrupted", "the client went away")
            return
        watch.cancel()
        problem = pump.result()
        if exchange is not None:
            if problem is not None:
                exchange.recorder.disconnect(problem)
            exchange.end("complete" if problem is None else "error", problem or "")

    # --- WebSocket ------------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        target, pairs = _target(scope), header_pairs(scope)
        forward = [(k, v) for k, v in pairs if k not in _HOP and k not in _WS_HANDSHAKE]
        try:
            upstream = await connect(
                self.ws_base + target,
                additional_headers=forward,
                subprotocols=scope.get("subprotocols") or None,
                open_timeout=30,
                ping_interval=None,
                max_size=MAX_MESSAGE,
                max_queue=None,
                compression=None,
                user_agent_header=None,
            )
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            await self._refuse(scope, send, exc)
            return
        exchange = self._exchange("WS", target, pairs, None)
        if exchange is not None and upstream.response is not None:
            headers = tuple(upstream.response.headers.raw_items())
            exchange.recorder.head(Response(101, headers))
        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
        await bridge(upstream, exchange, receive, send)

    async def _refuse(self, scope: Scope, send: Send, exc: Exception) -> None:
        """Pass an upstream's refusal on (its status, with Hypercorn's extension), or close."""
        self.config.note(f"proxy: WebSocket {_target(scope)}: upstream refused: {exc}")
        extensions = scope.get("extensions") or {}
        if isinstance(exc, InvalidStatus) and "websocket.http.response" in extensions:
            response = exc.response
            headers = [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, v in response.headers.raw_items()
                if k.lower() not in _RESPONSE_HOP
            ]
            start = {"type": "websocket.http.response.start", "status": response.status_code}
            await send({**start, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": response.body or b""})
            return
        await send({"type": "websocket.close", "code": 1011})


def _target(scope: Scope) -> str:
    raw = scope.get("raw_path") or scope["path"].encode("latin-1")
    query = scope.get("query_string", b"")
    target: bytes = raw + (b"?" + query if query else b"")
    return target.decode("latin-1")


def _finding_line(finding: Finding) -> str:
    where = "" if finding.frame is None else f" frame {finding.frame}:"
    return f"{finding.level.value} {finding.rule}{where} {finding.message}"


async def _pump(upstream: UpstreamResponse, exchange: Exchange | None, send: Send) -> str | None:
    """Copy the body chunk by chunk; the problem that cut it short, if one did."""
    try:
        async for chunk in upstream.chunks():
            if exchange is not None:
                exchange.recorder.frame("server", chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except UpstreamError as exc:
        # The upstream cut the body: leave ours unended too, so Hypercorn cuts the connection.
        return f"upstream: {exc}"
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return None


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def serve_proxy(
    config: ProxyConfig,
    sock: socket.socket,
    *,
    loop: str = "auto",
    ready: Callable[[], None] = lambda: None,
) -> None:
    """Serve the proxy on ``sock`` with Hypercorn, as the mock server is served, until
    SIGINT or SIGTERM; ``ready`` is called once the server stack is loaded (the banner goes
    there: a client that waits for it is served at once, not after the imports)."""
    from hypercorn.asyncio import serve  # noqa: PLC0415
    from hypercorn.config import Config  # noqa: PLC0415

    from mockserver.hyperlean import install  # noqa: PLC0415
    from mockserver.loops import loop_factory  # noqa: PLC0415
    from mockserver.run import GRACEFUL_TIMEOUT, quiet_lost_writes, tune_runtime  # noqa: PLC0415
    from mockserver.startup import BACKLOG  # noqa: PLC0415

    hyper = Config()
    hyper.bind = [f"fd://{os.dup(sock.fileno())}"]
    hyper.graceful_timeout = GRACEFUL_TIMEOUT
    hyper.backlog = BACKLOG
    hyper.accesslog = None
    # The upstream's Date and Server headers are passed on; Hypercorn adds none of its own.
    hyper.include_date_header = False
    hyper.include_server_header = False
    quiet_lost_writes()
    install()
    tune_runtime()
    ready()
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        runner.run(serve(Proxy(config), hyper))  # type: ignore[arg-type]
