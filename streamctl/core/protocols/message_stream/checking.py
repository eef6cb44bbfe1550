"""Checking message-stream: the rules that look across a reply's messages.

Schemas and the order table live in :mod:`.rules`; framing (SSE or NDJSON) and typing a message
are the protocol class's (they run once per event); this module holds the rules that need code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from streamctl.core.protocols.message_stream.validation import parse_int
from streamctl.core.spec import Finding, Msg
from streamctl.core.transcript import Transcript

if TYPE_CHECKING:
    from streamctl.core.protocols.protocol import ChatProtocol

__all__ = ["content_findings", "is_iso_datetime"]

_STREAM_TARGET = re.compile(r"/api/web/v1/chats/([^/]+)/messages/stream")
# An ISO 8601 extended date-time (what pydantic writes for a datetime); ranges are left to
# datetime.fromisoformat.
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"
)


def _url_chat_id(target: str) -> int | None:
    match = _STREAM_TARGET.fullmatch(target.partition("?")[0])
    return parse_int(unquote(match.group(1))) if match else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_iso_datetime(text: str) -> bool:
    """Whether ``text`` is an ISO 8601 date-time with valid fields."""
    if not _ISO_DATETIME.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text.replace(",", "."))
    except ValueError:
        return False
    return True


def content_findings(
    proto: ChatProtocol, msgs: Sequence[Msg], transcript: Transcript
) -> list[Finding]:
    """Ids, chat, role, content and timestamps across a reply's messages."""
    # One pass, and a delta (nearly every message) costs no more than a comparison and an
    # append: a generator or a string per delta would be most of this rule's time.
    chat_id = _url_chat_id(transcript.header.request.target)
    start_id: int | None = None
    deltas: list[str] = []
    found: list[Finding] = []
    for msg in msgs:
        if msg.type == "message_delta":
            got = msg.body.get("message_id")
            if got != start_id and _int(got) is not None and start_id is not None:
                found.append(_id_finding(proto, msg, got, start_id))
            delta = msg.body.get("delta")
            deltas.append(delta if isinstance(delta, str) else "")
            continue
        message = msg.body.get("message")
        if not isinstance(message, dict):
            continue  # an error, or a message the schema rule already reported
        found += _message_rules(proto, msg, message, chat_id)
        if msg.type == "message_start":
            start_id = _int(message.get("id"))
        else:
            found += _end_rules(proto, msg, message, start_id, "".join(deltas))
    return found


def _id_finding(proto: ChatProtocol, msg: Msg, got: object, start_id: int) -> Finding:
    text = f"{msg.type} names message {got}, message_start opened {start_id}"
    return proto.finding("message-id", text, msg.frame, msg.raw)


def _end_rules(
    proto: ChatProtocol, msg: Msg, message: Mapping[str, Any], start_id: int | None, deltas: str
) -> Iterator[Finding]:
    got = _int(message.get("id"))
    if got is not None and start_id is not None and got != start_id:
        yield _id_finding(proto, msg, got, start_id)
    content = message.get("content")
    if isinstance(content, str) and content != deltas:
        text = f"message_end content {content!r} is not the deltas' {deltas!r}"
        yield proto.finding("content", text, msg.frame, msg.raw)


def _message_rules(
    proto: ChatProtocol, msg: Msg, message: Mapping[str, Any], chat_id: int | None
) -> Iterator[Finding]:
    got_chat = _int(message.get("chat_id"))
    if chat_id is not None and got_chat is not None and got_chat != chat_id:
        text = f"{msg.type} is in chat {got_chat}, the request was for chat {chat_id}"
        yield proto.finding("chat-id", text, msg.frame, msg.raw)
    if message.get("role") in ("user", "system"):
        text = f"{msg.type} carries a {message['role']} message, not the assistant's"
        yield proto.finding("role", text, msg.frame, msg.raw)
    content = message.get("content")
    if msg.type == "message_start" and isinstance(content, str) and content:
        yield proto.finding("start.empty", "message_start has content", msg.frame, msg.raw)
    created = message.get("created_at")
    if isinstance(created, str) and not is_iso_datetime(created):
        text = f"created_at {created!r} is not an ISO 8601 date-time"
        yield proto.finding("created-at", text, msg.frame, msg.raw)
