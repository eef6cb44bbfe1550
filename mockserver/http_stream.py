"""SSE stream endpoints: ASGI in, ASGI out (the hot path, in front of Quart).

The route only translates. It reads the request, lets the :class:`~mockserver.endpoint.Endpoint`
the WebSocket route uses too take the decisions in the order :mod:`streamctl.engine.reply`
documents (a refusal is sent as it was built), and writes the reply: its head, its body on the
pacing clock, and the end the reply asks for (a ``drop`` fault leaves the body unended, a held
reply cut is ended without its terminator). A client that goes away stops the stream at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from mockserver.asgi import (
    BodyTooLarge,
    Disconnected,
    Message,
    Receive,
    Scope,
    Send,
    Writer,
    header_map,
    header_pairs,
    read_body,
    send_response,
)
from mockserver.endpoint import Asked, Endpoint, failed
from mockserver.journal import Entry
from mockserver.state import ServerState
from streamctl.core.protocols.exchange import HttpRequest, HttpResponse
from streamctl.core.protocols.protocol import SSEProtocol
from streamctl.core.transcript import Headers
from streamctl.engine.clock import running_loop
from streamctl.engine.hold import Cut
from streamctl.engine.pacing import Progress
from streamctl.engine.reply import Refused, Reply

__all__ = ["Body", "SSEStream"]

log = logging.getLogger("mockserver")


class Body(Writer):
    """The response of one SSE stream: its head, then its body write by write (writes due
    together, as one)."""

    joins = True

    def __init__(self, send: Send, extra: list[tuple[bytes, bytes]]) -> None:
        super().__init__(send)
        self.extra = extra  # CORS headers
        self.started = False

    @staticmethod
    def message(payload: bytes | str) -> Message:
        """The ASGI message that writes ``payload`` (and more will follow)."""
        body = payload.encode() if isinstance(payload, str) else payload
        return {"type": "http.response.body", "body": body, "more_body": True}

    async def start(self, status: int, headers: Headers) -> None:
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        raw.extend(self.extra)
        self.started = True
        await self.send({"type": "http.response.start", "status": status, "headers": raw})

    async def respond(self, response: HttpResponse) -> None:
        """A whole response instead of a stream."""
        self.started = True
        await send_response(self.send, response, self.extra)

    async def end(self) -> None:
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})


class SSEStream:
    """The ASGI handler for one protocol's stream endpoint."""

    def __init__(self, server: ServerState, protocol: SSEProtocol) -> None:
        self.server = server
        self.protocol = protocol
        self.endpoint = Endpoint(server, protocol)

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, path_params: Mapping[str, str]
    ) -> None:
        method, path, headers = scope["method"], scope["path"], header_pairs(scope)
        by_name = header_map(headers)
        entry = self.endpoint.open(method, path, scope["query_string"], headers)
        body = Body(send, self.server.cors.headers(by_name.get("origin")))
        self.server.begin()
        try:
            content = await read_body(receive)
            entry.set_body(content)
            asked = self.endpoint.asked(scope["query_string"], by_name)
            request = HttpRequest(method, path, asked.query, by_name, content, path_params)
            await self._serve(request, asked, receive, body, entry)
        except Refused as refused:
            entry.status, entry.outcome = refused.response.status, refused.outcome
            await body.respond(refused.response)
        except Disconnected:
            entry.outcome = "disconnected"
        except BodyTooLarge:
            entry.status, entry.outcome = 413, "refused"
            await body.respond(HttpResponse.json(413, {"detail": "Too Large"}))
        except Exception:
            log.exception("%s: unexpected error serving %s", self.protocol.name, path)
            failed(entry)
            if not body.started:  # else ending nothing lets Hypercorn drop the connection
                await body.respond(HttpResponse.json(500, {"detail": "Internal Server Error"}))
        finally:
            self.server.journal.seal(entry)
            self.server.end()

    async def _serve(
        self, request: HttpRequest, asked: Asked, receive: Receive, body: Body, entry: Entry
    ) -> None:
        """The reply the endpoint decides (step 3, the protocol's ``accept()``, included), as
        a stream."""
        reply, record, finish = self.endpoint.accept(request, asked, entry)
        await body.start(reply.status, reply.headers)
        entry.status = reply.status
        progress = Progress()
        try:
            completed = await self._play(reply, receive, body, entry, progress)
            outcome = "complete" if completed else "disconnected"
        except Cut:  # the reply stops where it was held, without its terminator
            await body.end()
            completed, outcome = False, "cut"
        if completed and reply.ending is not None:
            outcome = "dropped"
        entry.outcome = outcome
        self.endpoint.settle(reply, record, progress, outcome, finish)

    async def _play(
        self, reply: Reply, receive: Receive, body: Body, entry: Entry, progress: Progress
    ) -> bool:
        """Write the reply; false when the client went away first (the writes then stop).

        The writes run in a task of their own, which this one awaits: each time a write waits
        for the socket, only that task's few frames are suspended and resumed, not the dozen of
        the whole request (measured under load: 1.3 % of the CPU per event). Cancelling this
        task (the watcher does when the client leaves) cancels that one."""
        loop = running_loop()
        task = asyncio.current_task(loop)
        assert task is not None
        ended = _Ended()
        watcher = loop.create_task(_watch(receive, task, ended))
        try:
            await loop.create_task(self.endpoint.play(reply, body, entry, progress))
        except asyncio.CancelledError:
            if not ended.by_client:
                raise
            task.uncancel()
            return False
        finally:
            ended.by_stream = True  # from here on the watcher must not cancel this task
            watcher.cancel()
        if reply.ending is None:
            await body.end()
        return True


class _Ended:
    """Which side ended a stream first (flags nothing waits on: an ``asyncio.Event`` per stream
    cost ~700 bytes of deque)."""

    __slots__ = ("by_client", "by_stream")

    def __init__(self) -> None:
        self.by_client = self.by_stream = False


async def _watch(receive: Receive, task: asyncio.Task[Any], ended: _Ended) -> None:
    """Cancel ``task`` when the client disconnects (unless the stream already ended)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
    if not ended.by_stream:
        ended.by_client = True
        task.cancel()
