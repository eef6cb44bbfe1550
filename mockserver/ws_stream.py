"""WebSocket endpoints, served at the ASGI level (the hot path, in front of Quart).

One reader loop takes the client's messages as they come (so a disconnect is seen at once, even
mid-reply); one worker answers them in order, through the protocol's
:class:`~streamctl.core.protocols.base.ServerSession` or from a recording. When the client goes
away the worker is cancelled: the reply stops and the session's ``finish()`` learns it was cut
short.

An unknown scenario named in the upgrade URL (``?scenario=``) or the ``X-Streamctl-Scenario``
header refuses the upgrade with the same 404 JSON as the HTTP endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from mockserver.asgi import Message, Receive, Scope, Send, header_map, header_pairs, query_map
from mockserver.faults import bad_fault, requested_faults
from mockserver.http_stream import requested_scenario, unknown_scenario
from mockserver.journal import Entry
from mockserver.renders import Ready, Renders
from mockserver.state import ServerState
from streamctl.core.protocols.base import HttpResponse, Out, ServerSession, Turn, WSProtocol
from streamctl.core.transcript import Transcript
from streamctl.engine.fault_plan import Plan, apply, perform, refusal
from streamctl.engine.faults import Fault, FaultError
from streamctl.engine.pacing import Progress, play, sent_script, ws_replay
from streamctl.engine.scenarios import Choice, Scenario, UnknownScenarioError

__all__ = ["WSStream"]

log = logging.getLogger("mockserver")

#: Close code for a server-side failure (RFC 6455 §7.4.1).
INTERNAL_ERROR = 1011


class _Socket:
    """The sending half of an accepted connection."""

    def __init__(self, send: Send) -> None:
        self.send = send

    @staticmethod
    def message(payload: bytes | str) -> Message:
        """The ASGI message that sends ``payload`` (text or binary, as it is)."""
        if isinstance(payload, str):
            return {"type": "websocket.send", "text": payload}
        return {"type": "websocket.send", "bytes": payload}

    def write(self, payload: bytes | str) -> Awaitable[None]:
        # Not a coroutine itself: it hands back the send, one coroutine less per message.
        return self.send(self.message(payload))

    async def close(self, code: int | None, reason: str = "") -> None:
        await self.send({"type": "websocket.close", "code": code or 1000, "reason": reason})


class _Responder:
    """What answers a connection: a protocol session or a recording."""

    def interrupt(self, text: str) -> None:
        """A client message just arrived (before it waits its turn in the inbox)."""

    async def opened(self) -> None:
        raise NotImplementedError

    async def message(self, text: str) -> None:
        raise NotImplementedError


class _SessionResponder(_Responder):
    def __init__(
        self,
        handler: WSStream,
        session: ServerSession,
        socket: _Socket,
        entry: Entry,
        requested: Scenario | None,
        *,
        faults: tuple[Fault, ...] = (),
    ) -> None:
        self.handler = handler
        self.session = session
        self.socket = socket
        self.entry = entry
        self.requested = requested
        self.faults = faults
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
        if turn is None:
            return
        server, name = self.handler.server, self.handler.protocol.name
        choice = server.choose(name, turn, self.requested)
        record = self.entry.reply(choice.name, choice.how, turn.user_text)
        ready = self._render(choice, turn)
        scenario_faults = choice.scenario.faults if choice.scenario is not None else ()
        faults = (*server.faults.draw(), *scenario_faults, *self.faults)
        plan = apply(faults, ready.outs, self.handler.protocol)
        progress = Progress()
        if ready.sent_as_is(plan):
            sending = self.handler.send_ready(ready, self.socket, progress)
        else:
            sending = self.handler.perform(plan, self.socket, progress)
        self.sending = asyncio.ensure_future(sending)
        try:
            await self.sending
        except asyncio.CancelledError:
            cancelled = asyncio.current_task().cancelling()  # type: ignore[union-attr]
            record["outcome"] = "disconnected" if cancelled else "cancelled"
            self._finish(turn, sent_script(choice.script, progress), False)
            if cancelled:
                raise
            return  # the client cancelled the reply; the connection goes on
        finally:
            self.sending = None
            record["writes"] = progress.writes
        if plan.drop is not None:
            record["outcome"] = "dropped"
            self.dropped = True
            self._finish(turn, sent_script(choice.script, progress), False)
            await self.socket.close(plan.drop.code, "fault injected")
            return
        record["outcome"] = "complete"
        self._finish(turn, choice.script, True)

    def _render(self, choice: Choice, turn: Turn) -> Ready:
        """The protocol's writes; a scenario's once per key where the protocol allows it."""
        script = choice.script
        key = self.session.render_key(turn) if choice.scenario is not None else None

        def render() -> Ready:
            return Ready.made(self.session.render(script, turn), _Socket.message)

        return self.handler.renders.get(script, key, render)

    def _finish(self, turn: Any, script: Any, completed: bool) -> None:
        try:
            self.session.finish(turn, script, completed)
        except Exception:
            log.exception("%s: finish() failed", self.handler.protocol.name)


class _ReplayResponder(_Responder):
    """Replays a recorded connection: segment ``k`` after the client's ``k``-th message."""

    def __init__(
        self, handler: WSStream, scenario: Scenario, recording: Transcript, socket: _Socket
    ) -> None:
        self.handler = handler
        self.socket = socket
        self.replay = ws_replay(recording)
        self.scenario = scenario
        self.segment = 0

    async def opened(self) -> None:
        await self._play_segment()

    async def message(self, text: str) -> None:
        self.segment += 1
        await self._play_segment()

    async def _play_segment(self) -> None:
        segments, close = self.replay.segments, self.replay.close
        if self.segment < len(segments):
            await self.handler.play(segments[self.segment], self.socket, Progress())
        if close is not None and close.segment == self.segment:
            clock, speed = self.handler.server.config.clock, self.handler.server.config.speed
            await clock.sleep(close.delay_ms * speed / 1000.0)
            await self.socket.close(close.code, close.reason)


class WSStream:
    """The ASGI handler for one protocol's WebSocket endpoint."""

    def __init__(self, server: ServerState, protocol: WSProtocol) -> None:
        self.server = server
        self.protocol = protocol
        self.renders: Renders[Ready] = Renders()

    async def play(self, outs: Sequence[Out], socket: _Socket, progress: Progress) -> None:
        config = self.server.config
        await play(outs, socket.write, config.clock, speed=config.speed, progress=progress)

    async def send_ready(self, ready: Ready, socket: _Socket, progress: Progress) -> None:
        config = self.server.config
        await play(
            ready.outs,
            socket.send,
            config.clock,
            speed=config.speed,
            progress=progress,
            payloads=ready.messages,
        )

    async def perform(self, plan: Plan, socket: _Socket, progress: Progress) -> None:
        config = self.server.config
        await perform(plan, socket.write, config.clock, speed=config.speed, progress=progress)

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
            await self._session(scope, receive, send, entry, header_map(headers))
        finally:
            self.server.journal.seal(entry)

    async def _session(
        self, scope: Scope, receive: Receive, send: Send, entry: Entry, by_name: dict[str, str]
    ) -> None:
        """Refuse the connection as asked, or accept it and serve it until it closes."""
        query_string = scope["query_string"]
        query = query_map(query_string)
        name = requested_scenario(query, by_name)
        try:
            faults = requested_faults(query_string, query, by_name)
        except FaultError as exc:
            await self._refuse(scope, send, entry, bad_fault(exc), "bad-fault")
            return
        refused = refusal(faults)
        if refused is not None:
            await self._refuse(scope, send, entry, refused, "fault")
            return
        requested: Scenario | None = None
        if name is not None:
            try:
                requested = self.server.scenarios.get(name, self.protocol.name)
            except UnknownScenarioError as exc:
                await self._reject(scope, send, entry, exc)
                return
        self.server.begin()
        try:
            await self._connected(receive, send, entry, requested, faults)
        finally:
            self.server.end()

    async def _connected(
        self,
        receive: Receive,
        send: Send,
        entry: Entry,
        requested: Scenario | None,
        faults: tuple[Fault, ...] = (),
    ) -> None:
        await send({"type": "websocket.accept"})
        entry.status = 101
        socket = _Socket(send)
        inbox = _Inbox()
        worker = asyncio.create_task(self._work(requested, inbox, socket, entry, faults))
        try:
            outcome = await _read(receive, inbox, entry, worker)
            if entry.outcome != "error":
                entry.outcome = outcome
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    def _responder(
        self,
        socket: _Socket,
        entry: Entry,
        requested: Scenario | None,
        faults: tuple[Fault, ...] = (),
    ) -> _Responder:
        recorded = requested
        if recorded is None:
            queued = self.server.queues.peek(self.protocol.name)
            head = self.server.scenarios.by_name.get(queued) if queued else None
            if head is not None and head.recording is not None:
                self.server.queues.take(self.protocol.name)
                recorded = head
        if recorded is not None and recorded.recording is not None:
            entry.reply(recorded.name, "request" if requested else "queue", "")
            return _ReplayResponder(self, recorded, recorded.recording, socket)
        session = self.protocol.open(self.server.state_of(self.protocol.name))
        return _SessionResponder(self, session, socket, entry, requested, faults=faults)

    async def _work(
        self,
        requested: Scenario | None,
        inbox: _Inbox,
        socket: _Socket,
        entry: Entry,
        faults: tuple[Fault, ...] = (),
    ) -> None:
        try:
            responder = self._responder(socket, entry, requested, faults)
            inbox.responder = responder
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

    async def _reject(
        self, scope: Scope, send: Send, entry: Entry, exc: UnknownScenarioError
    ) -> None:
        await self._refuse(scope, send, entry, unknown_scenario(exc), "unknown-scenario")

    async def _refuse(
        self, scope: Scope, send: Send, entry: Entry, response: HttpResponse, outcome: str
    ) -> None:
        """Refuse the upgrade with an HTTP response (a 1008 close where that is impossible)."""
        entry.status, entry.outcome = response.status, outcome
        if "websocket.http.response" not in scope.get("extensions", {}):
            reason = outcome.replace("-", " ")
            await send({"type": "websocket.close", "code": 1008, "reason": reason})
            return
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        status = response.status
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": response.body})


class _Inbox(asyncio.Queue[str]):
    """The client's messages waiting for the worker; each is first shown to the responder,
    which may stop the reply in progress for it (a cancel)."""

    responder: _Responder | None = None

    def put_nowait(self, item: str) -> None:
        if self.responder is not None:
            self.responder.interrupt(item)
        super().put_nowait(item)


async def _read(receive: Receive, inbox: _Inbox, entry: Entry, worker: asyncio.Task[None]) -> str:
    """Pass the client's messages to the worker until the client leaves; how it ended."""
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.receive":
            text = message.get("text")
            if text is None:
                text = (message.get("bytes") or b"").decode("utf-8", errors="replace")
            entry.message(text)
            inbox.put_nowait(text)
        elif kind == "websocket.disconnect":
            busy = not worker.done() and any(r["outcome"] == "streaming" for r in entry.replies)
            return "disconnected mid-reply" if busy else "closed"
