"""A third-party backend for the recording proxy: FastAPI, sse-starlette and Starlette WebSockets.

What each protocol says comes from streamctl's core (its ``accept``/``render`` and WebSocket
sessions), but how it reaches the wire is the third-party stack's: sse-starlette frames the
events itself (its own line ends, headers and pings), Starlette runs the WebSockets, and the
tokens are paced by ``asyncio.sleep`` between writes. So the proxy is tested against framing,
chunking and timing that are not the mock server's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from streamctl.core.protocols import REGISTRY
from streamctl.core.protocols.exchange import HttpRequest, HttpResponse, Settings, Turn
from streamctl.core.protocols.protocol import ChatProtocol, SSEProtocol, WSProtocol
from streamctl.core.script import Script, default_reply
from streamctl.core.sse import SSEDecoder

__all__ = ["DELAY_MS", "create_app"]

#: The gap between tokens (ms): each write then reaches the client as a chunk of its own.
DELAY_MS = 25.0


def _script(turn: Turn) -> Script:
    return default_reply(turn.user_text, DELAY_MS)


def _events(payload: bytes | str) -> list[ServerSentEvent]:
    data = payload if isinstance(payload, bytes) else payload.encode()
    return [
        ServerSentEvent(data=e.data, event=None if e.type == "message" else e.type)
        for e in SSEDecoder().feed(data)
    ]


def _refusal(answer: HttpResponse) -> Response:
    return Response(answer.body, answer.status, dict(answer.headers))


def _sse_route(app: FastAPI, proto: SSEProtocol, state: Any) -> None:
    endpoint = proto.stream_endpoint

    async def stream(request: Request) -> Response:
        parsed = HttpRequest(
            request.method,
            request.url.path,
            dict(request.query_params),
            {k.lower(): v for k, v in request.headers.items()},
            await request.body(),
            dict(request.path_params),
        )
        accepted = proto.accept(parsed, state)
        if isinstance(accepted, HttpResponse):
            return _refusal(accepted)
        outs = proto.render(_script(accepted.turn), accepted.turn, state)

        async def events() -> AsyncIterator[ServerSentEvent]:
            for out in outs:
                await asyncio.sleep(out.delay_ms / 1000.0)
                for event in _events(out.payload):
                    yield event

        # goose forbids SSE comments (its heartbeat is an event): no sse-starlette pings then.
        ping = 3600 if proto.name == "goose" else 15
        return EventSourceResponse(events(), ping=ping, sep="\n" if proto.name == "goose" else None)

    app.add_api_route(endpoint.path, stream, methods=[endpoint.method])


def _ws_route(app: FastAPI, proto: WSProtocol, state: Any) -> None:
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        session = proto.open(state)
        for message in session.greeting():
            await websocket.send_text(message)
        try:
            while True:
                reaction = session.receive(await websocket.receive_text())
                for message in reaction.send:
                    await websocket.send_text(message)
                if reaction.turn is not None:
                    script = _script(reaction.turn)
                    for out in session.render(script, reaction.turn):
                        await asyncio.sleep(out.delay_ms / 1000.0)
                        await websocket.send_text(str(out.payload))
                    session.finish(reaction.turn, script, True)
        except WebSocketDisconnect:
            return

    app.add_api_websocket_route(proto.stream_endpoint.path, chat)


def create_app(protocols: tuple[ChatProtocol, ...] = tuple(REGISTRY.values())) -> FastAPI:
    """A FastAPI app serving every protocol's stream endpoint."""
    app = FastAPI()
    for proto in protocols:
        state = proto.new_state(Settings())
        if isinstance(proto, SSEProtocol):
            _sse_route(app, proto, state)
        elif isinstance(proto, WSProtocol):
            _ws_route(app, proto, state)
    return app
