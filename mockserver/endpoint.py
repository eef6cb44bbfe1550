"""What the SSE and the WebSocket routes share: one protocol's endpoint, from a request's asks
to a reply's outcome, with no ASGI in it.

A route (``http_stream``, ``ws_stream``) translates ASGI in and out and calls these in order:

* :meth:`Endpoint.open`: the request's journal entry;
* :meth:`Endpoint.asked`: the mock's asks read off the request (:mod:`mockserver.directives`)
  and steps 1 and 2 of :mod:`streamctl.engine.reply` (a bad fault spec, an unknown scenario,
  a refusal fault): :class:`~streamctl.engine.reply.Refused`, or what was asked;
* :meth:`Endpoint.accept`, for SSE: the protocol's ``accept()`` (step 3), then
  :meth:`Endpoint.reply` (a WebSocket's responder calls it per turn:
  :mod:`mockserver.ws_responders`);
* :meth:`Endpoint.reply`, per turn: the scenario (step 4) and the journal's record of the reply,
  then :meth:`~streamctl.engine.reply.Replies.prepare` (steps 5 to 7);
* :meth:`Endpoint.play`: the reply as an open stream the admin API lists (and may hold);
* :meth:`Endpoint.settle`: the record's writes and outcome, and the protocol's ``finish()``.

How a reply ends on the wire (an SSE body ended or left open, a close frame) is the route's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mockserver.asgi import query_map
from mockserver.directives import Asks, read
from mockserver.journal import Entry
from mockserver.state import ServerState
from streamctl.core.protocols.exchange import HttpRequest, HttpResponse, Turn
from streamctl.core.protocols.protocol import ChatProtocol, SSEProtocol
from streamctl.core.script import Script
from streamctl.core.transcript import Headers
from streamctl.engine.fault_parsing import Fault
from streamctl.engine.pacing import Progress
from streamctl.engine.reply import (
    Refused,
    Renderer,
    Replies,
    Reply,
    Resume,
    SSERenderer,
    Writer,
    admit,
    send,
)
from streamctl.engine.scenarios import Scenario

__all__ = ["Asked", "Endpoint", "Finish", "failed"]

log = logging.getLogger("mockserver")

#: The protocol's ``finish()`` for one reply: the turn, what was sent of it, whether all was.
Finish = Callable[[Turn, Script, bool], None]


@dataclass(frozen=True, slots=True)
class Asked:
    """What a request asked of the mock, admitted: its query without the mock's parameters (as
    the protocol sees it), the asks, and the scenario it names."""

    query: dict[str, str]
    asks: Asks
    scenario: Scenario | None

    @property
    def faults(self) -> tuple[Fault, ...]:
        return self.asks.faults


class Endpoint:
    """One protocol's stream endpoint on one server, whatever its transport."""

    def __init__(self, server: ServerState, protocol: ChatProtocol) -> None:
        self.server = server
        self.protocol = protocol
        self.name = protocol.name
        self.replies = Replies(protocol)

    def open(
        self, method: str, path: str, query_string: bytes, headers: Sequence[tuple[str, str]]
    ) -> Entry:
        """The journal entry of a request (the route seals it)."""
        query = query_string.decode("latin-1")
        return self.server.journal.open(self.name, method, path, query=query, headers=headers)

    def asked(self, query_string: bytes, headers: Mapping[str, str]) -> Asked:
        """Steps 1 and 2: what the request asks, or :class:`Refused`."""
        query = query_map(query_string)
        asks = read(query_string, query, headers)
        requested = admit(self.server.scenarios, self.name, asks.scenario, asks.faults)
        return Asked(query, asks, requested)

    def reply(
        self,
        entry: Entry,
        turn: Turn,
        asked: Asked,
        renderer: Renderer,
        *,
        head: tuple[int, Headers] = (200, ()),
        resume: Resume | None = None,
    ) -> tuple[Reply, dict[str, Any]]:
        """Steps 4 to 7 for ``turn``: the reply and its record in ``entry``, or
        :class:`Refused` (recorded as such)."""
        server = self.server
        choice = server.choose(self.name, turn, asked.scenario)
        record = entry.reply(choice.name, choice.how, turn.user_text)
        try:
            reply = self.replies.prepare(
                choice,
                turn,
                renderer,
                head=head,
                faults=asked.faults,
                server_faults=server.faults.draw(),
                resume=resume,
            )
        except Refused:
            record["outcome"] = "refused"
            raise
        return reply, record

    def accept(
        self, request: HttpRequest, asked: Asked, entry: Entry
    ) -> tuple[Reply, dict[str, Any], Finish]:
        """Step 3 for an SSE request (the protocol's ``accept()`` may refuse it:
        :class:`Refused`), then :meth:`reply`, with ids and resume where asked; and the
        protocol's ``finish()`` for the reply."""
        protocol = self.protocol
        assert isinstance(protocol, SSEProtocol)
        state = self.server.state_of(self.name)
        accepted = protocol.accept(request, state)
        if isinstance(accepted, HttpResponse):
            raise Refused(accepted, "refused")
        ids = asked.asks.ids or self.name in self.server.config.sse_ids
        resume = Resume(request.headers.get("last-event-id")) if ids else None
        renderer = SSERenderer(protocol, state)
        head = (200, accepted.headers)
        reply, record = self.reply(entry, accepted.turn, asked, renderer, head=head, resume=resume)

        def finish(turn: Turn, sent: Script, completed: bool) -> None:
            protocol.finish(turn, sent, state, completed)

        return reply, record, finish

    def play(
        self, reply: Reply, writer: Writer[Any], entry: Entry, progress: Progress
    ) -> Coroutine[Any, Any, Progress]:
        """Send ``reply`` as an open stream the admin API lists and may hold (a ``Cut`` ends it
        where it was held)."""
        config = self.server.config
        streams = self.server.streams
        return streams.play(reply, writer, entry, progress, clock=config.clock, speed=config.speed)

    def send(
        self, reply: Reply, writer: Writer[Any], progress: Progress
    ) -> Coroutine[Any, Any, Progress]:
        """Send ``reply`` unlisted (a recorded connection's segment)."""
        config = self.server.config
        return send(reply, writer, config.clock, speed=config.speed, progress=progress)

    def settle(
        self,
        reply: Reply,
        record: dict[str, Any],
        progress: Progress,
        outcome: str,
        finish: Finish,
    ) -> None:
        """Record how the reply went (``complete`` only when all of it went out as it should)
        and tell the protocol what the client got; a failing ``finish()`` is logged."""
        completed = outcome == "complete"
        record["writes"] = progress.writes
        record["outcome"] = outcome
        try:
            finish(reply.turn, reply.sent(progress, completed), completed)
        except Exception:
            log.exception("%s: finish() failed", self.name)


def failed(entry: Entry) -> None:
    """Mark a request, and the reply it was streaming, as failed on an unexpected error."""
    entry.outcome = "error"
    for reply in entry.replies:
        if reply["outcome"] == "streaming":
            reply["outcome"] = "error"
