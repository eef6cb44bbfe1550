"""Checking ws-events: typing server messages, and the rules that look across messages.

Schemas and the order table live in :mod:`.rules`; this module holds the rules that need code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from streamctl.core.jsontext import json_object
from streamctl.core.protocols.ws_events.rules import SCHEMAS
from streamctl.core.spec import Finding, Msg
from streamctl.core.transcript import Transcript

if TYPE_CHECKING:
    from streamctl.core.protocols.protocol import ChatProtocol

__all__ = ["classify", "content_findings"]

_ISO_8601 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_SAID = ("user_message", "assistant_message_complete")


def classify(
    proto: ChatProtocol, obj: dict[str, Any], raw: str, frame: int, t: float
) -> Msg | list[Finding]:
    """A parsed server message -> a Msg named by its ``type`` carrying its ``data``, or why it
    is not one."""
    kind, data = obj.get("type"), obj.get("data")
    if not isinstance(kind, str):
        return [proto.finding("envelope", "the message has no string 'type'", frame, raw)]
    if kind not in SCHEMAS:
        return [proto.finding("type.unknown", f"unknown message type {kind!r}", frame, raw)]
    if not isinstance(data, dict):
        return [proto.finding("envelope", f"{kind}: 'data' must be an object", frame, raw)]
    return Msg(kind, data, frame, t, raw)


def content_findings(
    proto: ChatProtocol, msgs: Sequence[Msg], transcript: Transcript
) -> Iterator[Finding]:
    """Every rule that looks across messages: tokens, the user's echo, ids and timestamps."""
    yield from _tokens_rule(proto, msgs)
    yield from _auth_first_rule(proto, msgs)
    yield from _echo_rule(proto, msgs, transcript)
    yield from _said_rules(proto, msgs)


def _auth_first_rule(proto: ChatProtocol, msgs: Sequence[Msg]) -> Iterator[Finding]:
    for msg in msgs:
        if msg.type == "authenticated":
            return
        if msg.type in ("chat_joined", "chat_created"):
            text = f"{msg.type} before authenticated"
            yield proto.finding("order.authenticated", text, msg.frame, msg.raw)
            return


def _tokens_rule(proto: ChatProtocol, msgs: Sequence[Msg]) -> Iterator[Finding]:
    tokens: list[str] = []
    for msg in msgs:
        if msg.type == "assistant_message_start":
            tokens = []
        elif msg.type == "assistant_message_token":
            token = msg.body.get("token")
            tokens.append(token if isinstance(token, str) else "")
        elif msg.type == "assistant_message_complete":
            content, joined = msg.body.get("content"), "".join(tokens)
            if content != joined:
                text = f"content {content!r} is not the concatenated tokens {joined!r}"
                yield proto.finding("content.tokens", text, msg.frame, msg.raw)


def _echo_rule(
    proto: ChatProtocol, msgs: Sequence[Msg], transcript: Transcript
) -> Iterator[Finding]:
    if next(transcript.frames("client"), None) is None:
        return  # only the server's side was recorded: nothing to compare with
    sent = list(_client_messages(transcript))
    for msg in (m for m in msgs if m.type == "user_message"):
        content = msg.body.get("content")
        match = next(
            (i for i, (f, text) in enumerate(sent) if f < msg.frame and text == content), None
        )
        if match is None:
            text = f"content {content!r} is no message the client sent before it"
            yield proto.finding("content.user-echo", text, msg.frame, msg.raw)
        else:
            del sent[match]


def _said_rules(proto: ChatProtocol, msgs: Sequence[Msg]) -> Iterator[Finding]:
    seen: set[str] = set()
    for msg in (m for m in msgs if m.type in _SAID):
        message_id, stamp = msg.body.get("messageId"), msg.body.get("timestamp")
        if isinstance(message_id, str) and message_id in seen:
            text = f"messageId {message_id!r} was already used"
            yield proto.finding("message-id.unique", text, msg.frame, msg.raw)
        if isinstance(message_id, str):
            seen.add(message_id)
        if isinstance(stamp, str) and not _is_iso_8601(stamp):
            text = f"timestamp {stamp!r} is not an ISO 8601 date-time with a zone"
            yield proto.finding("timestamp", text, msg.frame, msg.raw)


def _client_messages(transcript: Transcript) -> Iterator[tuple[int, str]]:
    """``(record index, text)`` of every well-formed ``message`` the client sent."""
    for index, sent in transcript.frames("client"):
        try:
            obj = json_object(sent.payload)
        except ValueError:
            continue
        data = obj.get("data") if obj.get("type") == "message" else None
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            yield index, data["message"]


def _is_iso_8601(text: str) -> bool:
    if _ISO_8601.fullmatch(text) is None:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:  # the right shape, but no such date or time
        return False
    return True
