"""Checking sse-delta-done: typing events by the member they carry, and the rules across them.

Schemas and the order table live in :mod:`.rules`; this module holds the rules that need code.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from streamctl.core.spec import Finding, Msg
from streamctl.core.sse import SSEEvent

if TYPE_CHECKING:
    from streamctl.core.protocols.protocol import ChatProtocol

__all__ = ["classify", "content_findings"]


def classify(proto: ChatProtocol, event: SSEEvent, frame: int, t: float) -> Msg | list[Finding]:
    """A dispatched event -> a Msg named by the member its data holds, or why it is not one."""
    obj = proto.parse_json(event.data, frame)
    if isinstance(obj, Finding):
        return [obj]
    if event.type == "tool":
        return Msg("tool", obj, frame, t, event.data)
    if event.type != "message":
        return [
            proto.finding(
                "event-name",
                f"event type {event.type!r} is invisible to onmessage",
                frame,
                event.data,
            )
        ]
    kind = "done" if "done" in obj else "error" if "error" in obj else "delta"
    if kind not in obj:
        return [
            proto.finding(
                "type.unknown", "data has none of 'delta', 'done', 'error'", frame, event.data
            )
        ]
    return Msg(kind, obj, frame, t, event.data)


def content_findings(proto: ChatProtocol, msgs: Sequence[Msg]) -> Iterator[Finding]:
    """The rule no schema can say: a delta is not empty."""
    for msg in msgs:
        if msg.type == "delta" and msg.body.get("delta") == "":
            yield proto.finding("delta.nonempty", "empty delta", msg.frame, msg.raw)
