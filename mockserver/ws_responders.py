"""Who answers an accepted WebSocket connection: the protocol's session turn by turn, or a
recording of a whole connection (:func:`responder` picks, as the connection opens).

No ASGI here: a responder writes through the route's socket (:class:`Socket`: a
:class:`~streamctl.engine.reply.Writer` that can also close the connection) and takes the
decisions through the :class:`~mockserver.endpoint.Endpoint` the SSE route uses too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from mockserver.endpoint import Asked, Endpoint
from mockserver.journal import Entry
from streamctl.core.protocols.protocol import WSProtocol
from streamctl.core.protocols.server import ServerSession
from streamctl.engine.choice import Choice
from streamctl.engine.hold import Cut
from streamctl.engine.pacing import Progress
from streamctl.engine.replay import ws_replay
from streamctl.engine.reply import Closing, Reply, Writer, replay_segment

__all__ = ["INTERNAL_ERROR", "Conversation", "Recorded", "Socket", "responder"]

log = logging.getLogger("mockserver")

#: Close code for a server-side failure (RFC 6455 §7.4.1).
INTERNAL_ERROR = 1011


class Socket(Writer[Any], Protocol):
    """The sending half of an accepted connection, as a responder uses it."""

    def close(self, code: int | None, reason: str = "") -> Awaitable[None]: ...


def responder(
    endpoint: Endpoint, socket: Socket, entry: Entry, asked: Asked
) -> Conversation | Recorded:
    """A recording that answers the whole connection (step 4), else the protocol's session."""
    server = endpoint.server
    recorded = server.choose_recording(endpoint.name, asked.scenario)
    if recorded is not None:
        entry.reply(recorded.name, recorded.how, "")
        return Recorded(endpoint, recorded, socket)
    protocol = endpoint.protocol
    assert isinstance(protocol, WSProtocol)
    session = protocol.open(server.state_of(endpoint.name))
    return Conversation(endpoint, session, socket, entry, asked)


class Conversation:
    """Answers a connection turn by turn through the protocol's session."""

    def __init__(
        self, endpoint: Endpoint, session: ServerSession, socket: Socket, entry: Entry, asked: Asked
    ) -> None:
        self.endpoint = endpoint
        self.session = session
        self.socket = socket
        self.entry = entry
        #: The scenario and the faults the upgrade asked for.
        self.asked = asked
        #: A drop fault closed the connection: later messages get no answer.
        self.dropped = False
        #: The reply being sent, while one is (a cancel stops it: ``interrupt``).
        self.sending: asyncio.Task[Progress] | None = None

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
        if reaction.turn is not None:
            reply, record = self.endpoint.reply(self.entry, reaction.turn, self.asked, self.session)
            await self._send(reply, record)

    async def _send(self, reply: Reply, record: dict[str, Any]) -> None:
        progress = Progress()
        try:
            self.sending = asyncio.ensure_future(
                self.endpoint.play(reply, self.socket, self.entry, progress)
            )
            await self.sending
        except Cut:  # dropped where it was held: the connection ends as after a server failure
            self.entry.outcome = "cut"
            await self._close(reply, record, progress, "cut", (INTERNAL_ERROR, "stream cut"))
            return
        except asyncio.CancelledError:
            task = asyncio.current_task()
            gone = task is not None and task.cancelling() > 0
            self._settle(reply, record, progress, "disconnected" if gone else "cancelled")
            if gone:
                raise
            return  # the client cancelled the reply; the connection goes on
        finally:
            self.sending = None
        if reply.ending is not None:
            await self._close(
                reply, record, progress, "dropped", (reply.ending.code, "fault injected")
            )
            return
        self._settle(reply, record, progress, "complete")

    async def _close(
        self,
        reply: Reply,
        record: dict[str, Any],
        progress: Progress,
        outcome: str,
        close: tuple[int | None, str],
    ) -> None:
        """The reply ended the connection: no more answers, then the close frame."""
        self.dropped = True
        self._settle(reply, record, progress, outcome)
        await self.socket.close(*close)

    def _settle(
        self, reply: Reply, record: dict[str, Any], progress: Progress, outcome: str
    ) -> None:
        self.endpoint.settle(reply, record, progress, outcome, self.session.finish)


class Recorded:
    """Replays a recorded connection: segment ``k`` after the client's ``k``-th message."""

    def __init__(self, endpoint: Endpoint, choice: Choice, socket: Socket) -> None:
        assert choice.scenario is not None
        assert choice.scenario.recording is not None
        self.endpoint = endpoint
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
        await self.endpoint.send(reply, self.socket, Progress())
        if isinstance(reply.ending, Closing):
            await self.socket.close(reply.ending.code, reply.ending.reason)
