"""WebSocket endpoints: ASGI in, ASGI out (the hot path, in front of Quart).

The route only translates. The upgrade's asks go to the :class:`~mockserver.endpoint.Endpoint`
the SSE route uses too, which decides in the order :mod:`streamctl.engine.reply` documents: a
refusal refuses the upgrade with its HTTP answer. Once accepted, one reader loop takes the
client's messages as they come (so a disconnect is seen at once, even mid-reply); one worker
hands them in order to the connection's responder (:mod:`mockserver.ws_responders`: the
protocol's session, or a recording). When the client goes away the worker is cancelled: the
reply stops and the session's ``finish()`` learns it was cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

from mockserver.asgi import (
    WS_FRAMES,
    Message,
    Receive,
    Scope,
    Send,
    Writer,
    header_map,
    header_pairs,
    ws_message,
)
from mockserver.endpoint import Asked, Endpoint, failed
from mockserver.hyperfix import closed_event
from mockserver.inbox import Inbox, offer
from mockserver.journal import Entry
from mockserver.state import ServerState
from mockserver.ws_responders import INTERNAL_ERROR, responder
from mockserver.wsframes import joined
from streamctl.core.protocols.exchange import Out
from streamctl.core.protocols.protocol import WSProtocol
from streamctl.engine.reply import Refused

__all__ = ["JoiningSocket", "Socket", "WSStream", "socket_for"]

log = logging.getLogger("mockserver")


class Socket(Writer):
    """The sending half of an accepted connection."""

    @staticmethod
    def message(payload: bytes | str) -> Message:
        """The ASGI message that sends ``payload`` (text or binary, as it is)."""
        return ws_message(payload)

    async def close(self, code: int | None, reason: str = "") -> None:
        await self.send({"type": "websocket.close", "code": code or 1000, "reason": reason})


class JoiningSocket(Socket):
    """A socket on a server that takes several messages per ``websocket.send``
    (:data:`~mockserver.asgi.WS_FRAMES`): messages due together go out in one write."""

    joins = True

    def run_message(self, outs: Sequence[Out]) -> Message:
        """One ``websocket.send`` sending each of ``outs`` as a message of its own."""
        return joined([out.payload for out in outs])


def socket_for(scope: Scope, send: Send) -> Socket:
    """The sending half of the connection ``scope`` describes."""
    extensions = scope.get("extensions") or {}
    return (JoiningSocket if WS_FRAMES in extensions else Socket)(send)


class WSStream:
    """The ASGI handler for one protocol's WebSocket endpoint."""

    def __init__(self, server: ServerState, protocol: WSProtocol) -> None:
        self.server = server
        self.protocol = protocol
        self.endpoint = Endpoint(server, protocol)

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, path_params: Mapping[str, str]
    ) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        headers = header_pairs(scope)
        query_string = scope["query_string"]
        entry = self.endpoint.open("WS", scope["path"], query_string, headers)
        try:
            asked = self.endpoint.asked(query_string, header_map(headers))
        except Refused as refused:
            await _refuse(scope, send, entry, refused)
        else:
            self.server.begin()
            try:
                socket = socket_for(scope, send)
                await self._connected(receive, socket, entry, asked, closed_event(scope))
            finally:
                self.server.end()
        finally:
            self.server.journal.seal(entry)

    async def _connected(
        self, receive: Receive, socket: Socket, entry: Entry, asked: Asked, closed: asyncio.Event
    ) -> None:
        await socket.send({"type": "websocket.accept"})
        entry.status = 101
        inbox = Inbox()
        worker = asyncio.create_task(self._work(inbox, socket, entry, asked))
        try:
            outcome = await _read(receive, inbox, entry, worker, closed)
            if entry.outcome not in ("error", "cut"):
                entry.outcome = outcome
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _work(self, inbox: Inbox, socket: Socket, entry: Entry, asked: Asked) -> None:
        """Answer the client's messages in order (what answers: :mod:`mockserver.ws_responders`)."""
        try:
            answering = responder(self.endpoint, socket, entry, asked)
            inbox.listener = answering.interrupt
            await answering.opened()
            while True:
                await answering.message(await inbox.get())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: unexpected error on a WebSocket connection", self.protocol.name)
            failed(entry)
            with contextlib.suppress(Exception):
                await socket.close(INTERNAL_ERROR, "internal error")


async def _refuse(scope: Scope, send: Send, entry: Entry, refused: Refused) -> None:
    """Refuse the upgrade with an HTTP response (a 1008 close where that is impossible)."""
    response = refused.response
    entry.status, entry.outcome = response.status, refused.outcome
    if "websocket.http.response" not in scope.get("extensions", {}):
        reason = refused.outcome.replace("-", " ")
        await send({"type": "websocket.close", "code": 1008, "reason": reason})
        return
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    status = response.status
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": response.body})


async def _read(
    receive: Receive,
    inbox: Inbox,
    entry: Entry,
    worker: asyncio.Task[None],
    closed: asyncio.Event,
) -> str:
    """Pass the client's messages to the worker until the client leaves; how it ended."""
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.receive":
            text = message.get("text")
            if text is None:
                text = (message.get("bytes") or b"").decode("utf-8", errors="replace")
            entry.message(text)
            inbox.heed(text)
            await offer(inbox, text, worker, closed)  # waits while the inbox is full
        elif kind == "websocket.disconnect":
            busy = not worker.done() and any(r["outcome"] == "streaming" for r in entry.replies)
            return "disconnected mid-reply" if busy else "closed"
