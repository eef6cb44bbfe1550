"""SSE stream endpoints: ASGI in, ASGI out (the hot path, in front of Quart).

The route only translates. It reads the request and the mock's asks (:mod:`mockserver.directives`),
lets :mod:`streamctl.engine.reply` take the decisions in its documented order (a refusal is sent
as it was built), and writes the reply: its head, its body on the pacing clock, and the end the
reply asks for (a ``drop`` fault leaves the body unended). A client that goes away stops the
stream at once.
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
    query_map,
    read_body,
    send_response,
)
from mockserver.directives import Asks, read
from mockserver.journal import Entry
from mockserver.state import ServerState
from streamctl.core.protocols.exchange import HttpRequest, HttpResponse
from streamctl.core.protocols.protocol import SSEProtocol
from streamctl.core.transcript import Headers
from streamctl.engine.clock import running_loop
from streamctl.engine.hold import Cut
from streamctl.engine.pacing import Progress
from streamctl.engine.reply import Refused, Replies, Reply, Resume, SSERenderer, admit

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
        self.replies = Replies(protocol)

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, path_params: Mapping[str, str]
    ) -> None:
        headers = header_pairs(scope)
        by_name = header_map(headers)
        query = scope["query_string"].decode("latin-1")
        entry = self.server.journal.open(
            self.protocol.name, scope["method"], scope["path"], query=query, headers=headers
        )
        body = Body(send, self.server.cors.headers(by_name.get("origin")))
        self.server.begin()
        try:
            request, asks = await self._request(scope, receive, by_name, path_params, entry)
            await self._serve(request, asks, receive, body, entry)
        except Refused as refused:
            entry.status, entry.outcome = refused.response.status, refused.outcome
            await body.respond(refused.response)
        except Disconnected:
            entry.outcome = "disconnected"
        except BodyTooLarge:
            entry.status, entry.outcome = 413, "refused"
            await body.respond(HttpResponse.json(413, {"detail": "Too Large"}))
        except Exception:
            log.exception("%s: unexpected error serving %s", self.protocol.name, scope["path"])
            _failed(entry)
            if not body.started:  # else ending nothing lets Hypercorn drop the connection
                await body.respond(HttpResponse.json(500, {"detail": "Internal Server Error"}))
        finally:
            self.server.journal.seal(entry)
            self.server.end()

    async def _request(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        path_params: Mapping[str, str],
        entry: Entry,
    ) -> tuple[HttpRequest, Asks]:
        """The request as the protocol sees it (the mock's asks taken out), and the asks."""
        content = await read_body(receive)
        entry.set_body(content)
        query = query_map(scope["query_string"])
        asks = read(scope["query_string"], query, headers)
        request = HttpRequest(scope["method"], scope["path"], query, headers, content, path_params)
        return request, asks

    async def _serve(
        self, request: HttpRequest, asks: Asks, receive: Receive, body: Body, entry: Entry
    ) -> None:
        """The decisions of :mod:`streamctl.engine.reply`, in its order, then the reply."""
        name, server = self.protocol.name, self.server
        requested = admit(server.scenarios, name, asks.scenario, asks.faults)
        state = server.state_of(name)
        accepted = self.protocol.accept(request, state)
        if isinstance(accepted, HttpResponse):
            raise Refused(accepted, "refused")
        choice = server.choose(name, accepted.turn, requested)
        record = entry.reply(choice.name, choice.how, accepted.turn.user_text)
        ids = asks.ids or name in server.config.sse_ids
        try:
            reply = self.replies.prepare(
                choice,
                accepted.turn,
                SSERenderer(self.protocol, state),
                head=(200, accepted.headers),
                faults=asks.faults,
                server_faults=server.faults.draw(),
                resume=Resume(request.headers.get("last-event-id")) if ids else None,
            )
        except Refused:
            record["outcome"] = "refused"
            raise
        await self._stream(reply, receive, body, entry, record=record, state=state)

    async def _stream(
        self,
        reply: Reply,
        receive: Receive,
        body: Body,
        entry: Entry,
        *,
        record: dict[str, Any],
        state: Any,
    ) -> None:
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
            completed, outcome = False, "dropped"
        record["writes"] = progress.writes
        record["outcome"] = entry.outcome = outcome
        try:
            self.protocol.finish(reply.turn, reply.sent(progress, completed), state, completed)
        except Exception:
            log.exception("%s: finish() failed", self.protocol.name)

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
        gone = asyncio.Event()
        watcher = loop.create_task(_watch(receive, task, gone))
        config = self.server.config
        try:
            streams = self.server.streams
            await loop.create_task(
                streams.play(reply, body, entry, progress, clock=config.clock, speed=config.speed)
            )
        except asyncio.CancelledError:
            if not gone.is_set():
                raise
            task.uncancel()
            return False
        finally:
            gone.set()  # from here on the watcher must not cancel this task
            watcher.cancel()
        if reply.ending is None:
            await body.end()
        return True


def _failed(entry: Entry) -> None:
    entry.outcome = "error"
    for reply in entry.replies:
        if reply["outcome"] == "streaming":
            reply["outcome"] = "error"


async def _watch(receive: Receive, task: asyncio.Task[Any], gone: asyncio.Event) -> None:
    """Cancel ``task`` when the client disconnects (unless the stream already ended)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
    if not gone.is_set():
        gone.set()
        task.cancel()
