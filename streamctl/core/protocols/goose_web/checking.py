"""goose-web's checker: classify server messages, and the rules that span several of them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from streamctl.core.jsontext import json_object
from streamctl.core.protocols.asks import Asks
from streamctl.core.protocols.goose_web.rules import MACHINE, SCHEMAS
from streamctl.core.spec import Finding, Msg
from streamctl.core.transcript import Transcript

if TYPE_CHECKING:
    from streamctl.core.protocols.protocol import ChatProtocol

__all__ = ["classify", "content_findings"]


def classify(
    proto: ChatProtocol, obj: dict[str, Any], raw: str, frame: int, t: float
) -> Msg | list[Finding]:
    kind = obj.get("type")
    if isinstance(kind, str) and kind in SCHEMAS:
        return Msg(kind, obj, frame, t, raw)
    return [proto.finding("type.unknown", f"unknown message type {kind!r}", frame, raw)]


def _asks(transcript: Transcript) -> list[int]:
    """Record indices of the client's ``message`` messages (the ones that want a reply)."""
    asked = []
    for index, frame in transcript.frames("client"):
        try:
            obj = json_object(frame.payload)
        except ValueError:
            continue
        if obj.get("type") == "message":
            asked.append(index)
    return asked


def content_findings(
    proto: ChatProtocol, msgs: Sequence[Msg], transcript: Transcript
) -> Iterator[Finding]:
    walk = _Walk(proto, Asks(_asks(transcript)))
    for msg in msgs:
        yield from walk.step(msg)
    yield from walk.end(transcript)


@dataclass
class _Walk:
    """One pass over a connection's messages for the rules that span several of them."""

    proto: ChatProtocol
    asks: Asks  # the client's 'message' messages
    state: str = MACHINE.initial
    tools: set[str] = field(default_factory=set)  # tool_request ids of the open reply

    def step(self, msg: Msg) -> Iterator[Finding]:
        before = self.state
        self.state = MACHINE.next_state(before, msg.type) or before
        if before != "replying" and self.state == "replying":
            self.tools.clear()
            if not self.asks.answer(msg.frame):
                yield self._finding(
                    "reply.unsolicited", "a reply with no client message waiting", msg
                )
        elif before == "idle" and msg.type == "error":
            self.asks.answer(msg.frame)  # the agent failed at once, or a refused message
        yield from self._content(msg)

    def _content(self, msg: Msg) -> Iterator[Finding]:
        ident = msg.body.get("id")
        if msg.type == "tool_request" and isinstance(ident, str):
            self.tools.add(ident)
        elif msg.type == "tool_response" and isinstance(ident, str) and ident not in self.tools:
            yield self._finding(
                "tool.unmatched", f"tool_response {ident!r} answers no tool_request", msg
            )
        elif msg.type == "response" and msg.body.get("role", "assistant") != "assistant":
            yield self._finding("response.role", f"role is {msg.body.get('role')!r}", msg)

    def end(self, transcript: Transcript) -> Iterator[Finding]:
        return self.asks.missing(self.proto, transcript)

    def _finding(self, suffix: str, message: str, msg: Msg) -> Finding:
        return self.proto.finding(suffix, message, msg.frame, msg.raw)
