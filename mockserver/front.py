"""The ASGI layer in front of Quart: stream endpoints, CORS preflight, CORS headers.

Every protocol's streaming endpoints (SSE and WebSocket) are served here directly — a Quart
route costs more per message than the stream itself — and everything else (non-streaming
protocol routes, the admin API, the index) goes on to Quart with CORS headers added.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from mockserver.asgi import ASGIApp, Message, Receive, Scope, Send, send_response
from mockserver.deadline import BodyDeadline
from mockserver.guard import Guard, refuse_websocket
from mockserver.http_stream import SSEStream
from mockserver.state import ServerState
from mockserver.tap import Tap
from mockserver.ws_stream import WSStream
from streamctl.core.protocols.exchange import HttpResponse
from streamctl.core.protocols.protocol import SSEProtocol, WSProtocol
from streamctl.core.transcript import Transport

__all__ = ["Front", "path_pattern"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


_Handler = Callable[[Scope, Receive, Send, Mapping[str, str]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    handler: _Handler
    protocol: str
    transport: Transport


def path_pattern(path: str) -> re.Pattern[str]:
    """``/chats/{chat_id}/x`` -> a regex with one named group per placeholder (no slashes)."""
    parts = _PLACEHOLDER.split(path)
    regex = "".join(
        f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts)
    )
    return re.compile(regex)


class _Table:
    """Routes of one scope type: exact paths in a dict, templated ones as regexes."""

    def __init__(self) -> None:
        self.exact: dict[str, list[_Route]] = {}
        self.templated: list[tuple[re.Pattern[str], list[_Route]]] = []

    def add(self, path: str, route: _Route) -> None:
        if _PLACEHOLDER.search(path) is None:
            self.exact.setdefault(path, []).append(route)
            return
        pattern = path_pattern(path)
        for existing, routes in self.templated:
            if existing.pattern == pattern.pattern:
                routes.append(route)
                return
        self.templated.append((pattern, [route]))

    def find(self, path: str) -> tuple[list[_Route], dict[str, str]] | None:
        routes = self.exact.get(path)
        if routes is not None:
            return routes, {}
        for pattern, candidates in self.templated:
            found = pattern.fullmatch(path)
            if found is not None:
                return candidates, found.groupdict()
        return None


class Front:
    """The ASGI app Hypercorn calls; ``inner`` is Quart's own ASGI entry point."""

    def __init__(self, server: ServerState, inner: ASGIApp) -> None:
        self.server = server
        self.inner = inner
        self.guard = Guard(server.config, server.cors)
        self.http = _Table()
        self.ws = _Table()
        for proto in server.protocols:
            for endpoint in proto.endpoints:
                if not endpoint.stream:
                    continue
                if isinstance(proto, WSProtocol):
                    route = _Route("WS", WSStream(server, proto), proto.name, "ws")
                    self.ws.add(endpoint.path, route)
                elif isinstance(proto, SSEProtocol):
                    route = _Route(endpoint.method, SSEStream(server, proto), proto.name, "sse")
                    self.http.add(endpoint.path, route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        refused = self.guard.refusal(scope) if kind != "lifespan" else None
        if refused is not None:
            await self._refuse(scope, receive, send, refused)
        elif kind == "http":
            seconds = self.server.config.body_timeout_s
            if BodyDeadline.wanted(scope, seconds):
                await self._bounded(scope, receive, send, seconds)
            else:
                await self._http(scope, receive, send)
        elif kind == "websocket":
            found = self.ws.find(scope["path"])
            if found is None:
                await self.inner(scope, receive, send)
            else:
                await self._run(found[0][0], scope, receive, send, found[1])
        else:
            await self.inner(scope, receive, send)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, seconds: float) -> None:
        deadline = BodyDeadline(receive, send, seconds)
        try:
            await self._http(scope, deadline.receive, deadline.send)
        finally:
            deadline.close()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        origin = _header(scope, b"origin")
        if method == "OPTIONS" and origin is not None:
            wanted = _header(scope, b"access-control-request-method")
            if wanted is not None:
                await self._preflight(
                    send, origin, _header(scope, b"access-control-request-headers")
                )
                return
        found = self.http.find(scope["path"])
        if found is None:
            await self.inner(scope, receive, _with_headers(send, self.server.cors.headers(origin)))
            return
        routes, params = found
        route = next((r for r in routes if r.method == method), None)
        if route is None:
            allowed = ", ".join(sorted({r.method for r in routes}))
            response = HttpResponse.json(405, {"detail": "Method Not Allowed"})
            extra = [(b"allow", allowed.encode()), *self.server.cors.headers(origin)]
            await send_response(send, response, extra)
            return
        await self._run(route, scope, receive, send, params)

    async def _run(
        self, route: _Route, scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
    ) -> None:
        if not self.server.recording:
            await route.handler(scope, receive, send, params)
            return
        tap = Tap(route.protocol, route.transport, scope, self.server.config.clock.now)
        outcome = "error"
        try:
            await route.handler(scope, tap.receive(receive), tap.send(send), params)
            outcome = "complete"
        finally:
            self.server.keep(tap.transcript(outcome))

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, response: HttpResponse
    ) -> None:
        if scope["type"] == "websocket":
            await refuse_websocket(scope, receive, send, response)
            return
        origin = _header(scope, b"origin")
        await send_response(send, response, self.server.cors.headers(origin))

    async def _preflight(self, send: Send, origin: str, requested: str | None) -> None:
        status, headers = self.server.cors.preflight(origin, requested)
        body = b"" if status == 204 else b"Disallowed CORS origin"
        await send_response(send, HttpResponse(status, body), headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    if not extra:
        return send

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return wrapped
