"""Checking chunk-complete: typing server messages, and the rules that look across messages.

Schemas and the order table live in :mod:`.rules`, typing a message in the protocol class (it
runs once per message); this module holds the rules that need code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from streamctl.core.protocols.asks import Asks
from streamctl.core.protocols.chunk_complete.rules import MACHINE
from streamctl.core.spec import Finding, Msg
from streamctl.core.transcript import Transcript

if TYPE_CHECKING:
    from streamctl.core.protocols.protocol import ChatProtocol

__all__ = ["content_findings"]

_BOT_ID = re.compile(r"bot_([1-9][0-9]*)")


def content_findings(
    proto: ChatProtocol, msgs: Sequence[Msg], transcript: Transcript
) -> Iterator[Finding]:
    """Every rule that looks across messages: order, answers and reply ids."""
    walk = _Walk(proto, Asks([index for index, _ in transcript.frames("client")]))
    for msg in msgs:
        yield from walk.step(msg)
    yield from walk.end(transcript)


@dataclass
class _Walk:
    """One pass over a connection's messages for the rules that span several of them."""

    proto: ChatProtocol
    asks: Asks  # every client message wants an answer
    state: str = MACHINE.initial
    current: str | None = None  # the open reply's message_id
    used: set[str] = field(default_factory=set)
    last: int = 0  # the highest bot_N number seen

    def step(self, msg: Msg) -> Iterator[Finding]:
        before = self.state
        self.state = MACHINE.next_state(before, msg.type) or before
        if before == "idle" and msg.type == "error":
            self.asks.answer(msg.frame)  # invalid input (or a reply that failed at once)
        elif before == "idle" and msg.type == "chunk":
            yield from self._start(msg)
        elif before == "streaming" and msg.type != "error":
            yield from self._same(msg)

    def end(self, transcript: Transcript) -> Iterator[Finding]:
        return self.asks.missing(self.proto, transcript)

    def _start(self, msg: Msg) -> Iterator[Finding]:
        if not self.asks.answer(msg.frame):
            yield self._finding("reply.unsolicited", "a reply with no client message waiting", msg)
        reply_id = msg.body.get("message_id")
        # A non-string id already broke the schema rule; the reply has no usable id.
        self.current = reply_id if isinstance(reply_id, str) else None
        if self.current is None:
            return
        if self.current in self.used:
            yield self._finding("message-id.new", f"{self.current!r} names an earlier reply", msg)
            return
        self.used.add(self.current)
        yield from self._pattern(self.current, msg)

    def _pattern(self, reply_id: str, msg: Msg) -> Iterator[Finding]:
        match = _BOT_ID.fullmatch(reply_id)
        if match is None:
            yield self._finding("message-id.pattern", f"{reply_id!r} is not bot_<N>", msg)
        elif int(match[1]) <= self.last:
            text = f"{reply_id!r} after bot_{self.last}: the numbers should grow"
            yield self._finding("message-id.pattern", text, msg)
        else:
            self.last = int(match[1])

    def _same(self, msg: Msg) -> Iterator[Finding]:
        reply_id = msg.body.get("message_id")
        if isinstance(reply_id, str) and self.current not in (None, reply_id):
            text = f"{msg.type} carries {reply_id!r} inside reply {self.current!r}"
            yield self._finding("message-id.same", text, msg)

    def _finding(self, suffix: str, message: str, msg: Msg) -> Finding:
        return self.proto.finding(suffix, message, msg.frame, msg.raw)
