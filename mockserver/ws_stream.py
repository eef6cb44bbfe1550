"""WebSocket endpoints: ASGI in, ASGI out (the hot path, in front of Quart).

The route only translates. It reads the upgrade's asks (:mod:`mockserver.directives`) and lets
:mod:`streamctl.engine.reply` decide in its documented order: a refusal refuses the upgrade with
its HTTP answer. Once accepted, one reader loop takes the client's messages as they come (so a
disconnect is seen at once, even mid-reply); one worker answers them in order, through the
protocol's :class:`~streamctl.core.protocols.server.ServerSession` or from a recording. When the
client goes away the worker is cancelled: the reply stops and the session's ``finish()`` learns
it was cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from mockserver.asgi import (
    Message,
    Receive,
    Scope,
    Send,
    Writer,
    header_map,
    header_pairs,
    query_map,
)
from mockserver.directives import read
from mockserver.hyperfix import closed_event
from mockserver.inbox import Inbox, offer
from mockserver.journal import Entry
from mockserver.state import ServerState
from streamctl.core.protocols.protocol import WSProtocol
from streamctl.core.protocols.server import ServerSession
from streamctl.engine.choice import Choice
from streamctl.engine.fault_parsing import Fault
from streamctl.engine.hold import Cut
from streamctl.engine.pacing import Progress
from streamctl.engine.replay import ws_replay
from streamctl.engine.reply import Closing, Refused, Replies, Reply, admit, replay_segment, send
from streamctl.engine.scenarios import Scenario

__all__ = ["Socket", "WSStream"]

log = logging.getLogger("mockserver")

#: Close code for a server-side failure (RFC 6455 §7.4.1).
INTERNAL_ERROR = 1011


class Socket(Writer):
    """The sending half of an accepted connection."""

    @staticmethod
    def message(payload: bytes | str) -> Message:
        """The ASGI message that sends ``payload`` (text or binary, as it is)."""
        if isinstance(payload, str):
            return {"type": "websocket.send", "text": payload}
        return {"type": "websocket.send", "bytes": payload}

    async def close(self, code: int | None, reason: str = "") -> None:
        await self.send({"type": "websocket.close", "code": code or 1000, "reason": reason})


class _Session:
    """Answers a connection turn by turn through the protocol's session."""

    def __init__(
        self,
        handler: WSStream,
        session: ServerSession,
        socket: Socket,
        entry: Entry,
        asked: tuple[Scenario | None, tuple[Fault, ...]],
    ) -> None:
        self.handler = handler
        self.session = session
        self.socket = socket
        self.entry = entry
        #: The scenario and the faults the upgrade asked for.
        self.requested, self.faults = asked
        #: A drop fault closed the connection: later messages get no answer.
        self.dropped = False
        #: The reply being sent, while one is (a cancel stops it: ``interrupt``).
        self.sending: asyncio.Task[None] | None = None

    def interrupt(self, text: str) -> None:
        if self.sending is not None and self.session.interrupts(text):
            self.sending.cancel()

    async def opened(self) -> None:
        for text in self.session.greeting():
            await self.socket.write(text)

    async def message(self, text: str) -> None:
        if self.dropped:
            return
        reaction = self.session.receive(text)
        for answer in reaction.send:
            await self.socket.write(answer)
        turn = reaction.turn
        if turn is not None:
            server = self.handler.server
            choice = server.choose(self.handler.protocol.name, turn, self.requested)
            reply = self.handler.replies.prepare(
                choice, turn, self.session, faults=self.faults, server_faults=server.faults.draw()
            )
            await self._send(reply)

    async def _send(self, reply: Reply) -> None:
        record = self.entry.reply(reply.choice.name, reply.choice.how, reply.turn.user_text)
        progress = Progress()
        try:
            sending = asyncio.ensure_future(
                self.handler.play(reply, self.socket, self.entry, progress)
            )
            self.sending = sending
            await sending
        except Cut:  # dropped where it was held: the connection ends as after a server failure
            record["outcome"] = self.entry.outcome = "cut"
            self.dropped = True
            self._finish(reply, progress, False)
            await self.socket.close(INTERNAL_ERROR, "stream cut")
            return
        except asyncio.CancelledError:
            task = asyncio.current_task()
            gone = task is not None and task.cancelling() > 0
            record["outcome"] = "disconnected" if gone else "cancelled"
            self._finish(reply, progress, False)
            if gone:
                raise
            return  # the client cancelled the reply; the connection goes on
        finally:
            self.sending = None
            record["writes"] = progress.writes
        if reply.ending is not None:
            record["outcome"] = "dropped"
            self.dropped = True
            self._finish(reply, progress, False)
            await self.socket.close(reply.ending.code, "fault injected")
            return
        record["outcome"] = "complete"
        self._finish(reply, progress, True)

    def _finish(self, reply: Reply, progress: Progress, completed: bool) -> None:
        try:
            self.session.finish(reply.turn, reply.sent(progress, completed), completed)
        except Exception:
            log.exception("%s: finish() failed", self.handler.protocol.name)


class _Replay:
    """Replays a recorded connection: segment ``k`` after the client's ``k``-th message."""

    def __init__(self, handler: WSStream, choice: Choice, socket: Socket) -> None:
        assert choice.scenario is not None
        assert choice.scenario.recording is not None
        self.handler = handler
        self.choice = choice
        self.socket = socket
        self.replay = ws_replay(choice.scenario.recording)
        self.segment = 0

    def interrupt(self, text: str) -> None:
        """A recording plays on whatever the client sends."""

    async def opened(self) -> None:
        await self._play()

    async def message(self, text: str) -> None:
        self.segment += 1
        await self._play()

    async def _play(self) -> None:
        reply = replay_segment(self.choice, self.replay, self.segment)
        await self.handler.send(reply, self.socket, Progress())
        if isinstance(reply.ending, Closing):
            await self.socket.close(reply.ending.code, reply.ending.reason)


class WSStream:
    """The ASGI handler for one protocol's WebSocket endpoint."""

    def __init__(self, server: ServerState, protocol: WSProtocol) -> None:
        self.server = server
        self.protocol = protocol
        self.replies = Replies(protocol)

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, path_params: Mapping[str, str]
    ) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        headers = header_pairs(scope)
        query_string = scope["query_string"]
        entry = self.server.journal.open(
            self.protocol.name,
            "WS",
            scope["path"],
            query=query_string.decode("latin-1"),
            headers=headers,
        )
        try:
            asks = read(query_string, query_map(query_string), header_map(headers))
            requested = admit(self.server.scenarios, self.protocol.name, asks.scenario, asks.faults)
        except Refused as refused:
            await _refuse(scope, send, entry, refused)
        else:
            self.server.begin()
            try:
                closed = closed_event(scope)
                await self._connected(receive, send, entry, (requested, asks.faults), closed)
            finally:
                self.server.end()
        finally:
            self.server.journal.seal(entry)

    async def send(self, reply: Reply, socket: Socket, progress: Progress) -> None:
        config = self.server.config
        await send(reply, socket, config.clock, speed=config.speed, progress=progress)

    async def play(self, reply: Reply, socket: Socket, entry: Entry, progress: Progress) -> None:
        """Send a turn's reply as an open stream the admin API lists (and may hold)."""
        config = self.server.config
        streams = self.server.streams
        await streams.play(reply, socket, entry, progress, clock=config.clock, speed=config.speed)

    async def _connected(
        self,
        receive: Receive,
        send: Send,
        entry: Entry,
        asked: tuple[Scenario | None, tuple[Fault, ...]],
        closed: asyncio.Event,
    ) -> None:
        await send({"type": "websocket.accept"})
        entry.status = 101
        socket = Socket(send)
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

    def _responder(
        self, socket: Socket, entry: Entry, asked: tuple[Scenario | None, tuple[Fault, ...]]
    ) -> _Session | _Replay:
        """A recording that answers the whole connection (step 4), else the protocol."""
        recorded = self.server.choose_recording(self.protocol.name, asked[0])
        if recorded is not None:
            entry.reply(recorded.name, recorded.how, "")
            return _Replay(self, recorded, socket)
        session = self.protocol.open(self.server.state_of(self.protocol.name))
        return _Session(self, session, socket, entry, asked)

    async def _work(
        self,
        inbox: Inbox,
        socket: Socket,
        entry: Entry,
        asked: tuple[Scenario | None, tuple[Fault, ...]],
    ) -> None:
        try:
            responder = self._responder(socket, entry, asked)
            inbox.listener = responder.interrupt
            await responder.opened()
            while True:
                await responder.message(await inbox.get())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: unexpected error on a WebSocket connection", self.protocol.name)
            entry.outcome = "error"
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
