"""Checking goosed's ``/reply`` stream: typing events, framing, and rules across events.

Schemas and the order table live in :mod:`.rules`; this module holds the rules that need code.
Rules that look inside an event skip events whose schema already failed, so one defect yields
one finding.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from streamctl.core.jsontext import json_object
from streamctl.core.protocols.goose.rules import EVENT_TYPES, ITEM_SHAPES, SPEC, TEXT_CONTENT
from streamctl.core.spec import Finding, Msg, validate
from streamctl.core.sse import SSEDecoder, SSEEvent
from streamctl.core.transcript import Transcript

if TYPE_CHECKING:
    from streamctl.core.protocols.protocol import ChatProtocol

__all__ = ["classify", "content_findings", "event_findings", "stream_findings"]

#: goosed pings every 500 ms; twice that leaves room for a slow network or a busy server.
PING_GAP_MS = 1000.0


def _finding(proto: ChatProtocol, rule: str, message: str, msg: Msg) -> Finding:
    return proto.finding(rule, message, msg.frame, msg.raw)


def classify(
    proto: ChatProtocol, obj: dict[str, Any], raw: str, frame: int, t: float
) -> Msg | list[Finding]:
    """A parsed event object -> a Msg named by its ``type``, or why it is not one."""
    kind = obj.get("type")
    if not isinstance(kind, str):
        return [proto.finding("goose.type.missing", "event has no string 'type'", frame, raw)]
    if kind not in EVENT_TYPES:
        return [proto.finding("goose.type.unknown", f"unknown type {kind!r}", frame, raw)]
    return Msg(kind, obj, frame, t, raw)


def event_findings(proto: ChatProtocol, event: SSEEvent, frame: int) -> Sequence[Finding]:
    """goose framing for one dispatched event: one data line and nothing else."""
    if event.fields == ("data",):
        return ()  # nearly every event: nothing to look into
    return list(_framing_findings(proto, event, frame))


def _framing_findings(proto: ChatProtocol, event: SSEEvent, frame: int) -> Iterator[Finding]:
    # Invalid retry and NUL ids are already the shared sse.* rules' findings: count only the
    # fields a client would act on.
    extra = [
        name
        for name in event.fields
        if name == "event"
        or (name == "retry" and event.retry is not None)
        or (name == "id" and event.id != "")
    ]
    if extra:
        lines = ", ".join(sorted(set(extra)))
        yield proto.finding("goose.frame.fields", f"event has {lines} line(s)", frame, event.data)
    count = event.fields.count("data")
    if count != 1:
        yield proto.finding(
            "goose.frame.one-line", f"event has {count} data lines", frame, event.data
        )


def stream_findings(proto: ChatProtocol, decoder: SSEDecoder) -> Iterator[Finding]:
    """One finding for all SSE comments (a comment heartbeat would give one per tick)."""
    if decoder.comment_count:
        yield proto.finding(
            "goose.frame.comment", f"the stream has {decoder.comment_count} SSE comment line(s)"
        )


def content_findings(
    proto: ChatProtocol, msgs: Sequence[Msg], transcript: Transcript
) -> Iterator[Finding]:
    """Every rule that looks across events or inside them beyond their schema."""
    # Nearly every Message is a text delta: one compiled shape says so, and the rules about
    # content items and tool calls skip it.
    plain = [msg.type == "Message" and TEXT_CONTENT.fits(msg.body) for msg in msgs]
    yield from _key_order(proto, msgs)
    yield from _ping_first(proto, msgs)
    yield from _ping_gaps(proto, msgs, transcript)
    yield from _finish_reason(proto, msgs)
    yield from _content_items(proto, msgs, plain)
    yield from _tool_calls(proto, msgs, plain)
    yield from _round_ids(proto, msgs, plain)
    if _user_message_request(transcript):
        yield from _variant_e_fields(proto, msgs)


def _key_order(proto: ChatProtocol, msgs: Sequence[Msg]) -> Iterator[Finding]:
    for msg in msgs:
        first = next(iter(msg.body))
        if first != "type":
            yield _finding(proto, "goose.type.first", f"first key is {first!r}, not 'type'", msg)


def _ping_first(proto: ChatProtocol, msgs: Sequence[Msg]) -> Iterator[Finding]:
    if msgs and msgs[0].type not in ("Ping", "Error"):
        yield _finding(proto, "goose.ping.first", f"the stream starts with {msgs[0].type}", msgs[0])


def _ended(msgs: Sequence[Msg]) -> bool:
    return msgs[0].type == "Error" or any(m.type == "Finish" for m in msgs)


def _ping_gaps(
    proto: ChatProtocol, msgs: Sequence[Msg], transcript: Transcript
) -> Iterator[Finding]:
    for before, after in itertools.pairwise(msgs):
        gap = after.t - before.t
        if gap > PING_GAP_MS:
            yield _finding(proto, "goose.ping.interval", f"{gap:.0f} ms without a Ping", after)
    if msgs and not _ended(msgs):
        # A stream left hanging: the heartbeat should have kept it alive until it stopped.
        gap = transcript.records[-1].t - msgs[-1].t
        if gap > PING_GAP_MS:
            yield proto.finding(
                "goose.ping.interval",
                f"{gap:.0f} ms without a Ping before the recording stopped",
                len(transcript.records) - 1,
            )


# The rules below skip a message whose schema failed (that is already its finding). Validating
# every message again would double the cost of checking it, so each rule reads what it needs
# without trusting the shape (the helpers below never raise) and asks ``_fits`` only before it
# acts: nearly every message (a text delta) gives no rule anything to do.


def _fits(msg: Msg) -> bool:
    return SPEC.schemas[msg.type].fits(msg.body)


def _message(msg: Msg) -> Mapping[str, Any]:
    """A Message's ``message``, or ``{}`` when it is not an object."""
    message = msg.body.get("message")
    return message if isinstance(message, dict) else {}


def _content(message: Mapping[str, Any]) -> list[Any]:
    content = message.get("content")
    return content if isinstance(content, list) else []


def _item_type(item: Any) -> str:
    """A content item's ``type``, or ``""`` when it has no string type."""
    kind = item.get("type") if isinstance(item, dict) else None
    return kind if isinstance(kind, str) else ""


def _finish_reason(proto: ChatProtocol, msgs: Sequence[Msg]) -> Iterator[Finding]:
    for msg in msgs:
        if msg.type == "Finish" and msg.body.get("reason") != "stop" and _fits(msg):
            yield _finding(proto, "goose.finish.reason", f"reason is {msg.body['reason']!r}", msg)


def _content_items(
    proto: ChatProtocol, msgs: Sequence[Msg], plain: Sequence[bool]
) -> Iterator[Finding]:
    for msg, text_delta in zip(msgs, plain, strict=True):
        if msg.type != "Message" or text_delta:
            continue
        for index, item in enumerate(_content(_message(msg))):
            shape = ITEM_SHAPES.get(_item_type(item))
            if shape is not None and not shape.fits(item) and _fits(msg):
                for problem in validate(item, shape, f"message.content[{index}]"):
                    yield _finding(proto, "goose.content.item", f"{item['type']}: {problem}", msg)


def _text_only(content: list[Any]) -> bool:
    """Whether every item is text (nearly every Message: a delta has one text item)."""
    return all(_item_type(item) == "text" for item in content)


def _valid_items(msg: Msg, kind: str) -> Iterator[Mapping[str, Any]]:
    """The items of ``kind`` that have that kind's fields, in a message that fits."""
    for item in msg.body["message"]["content"]:
        if item["type"] == kind and ITEM_SHAPES[kind].fits(item):
            yield item


def _tool_calls(
    proto: ChatProtocol, msgs: Sequence[Msg], plain: Sequence[bool]
) -> Iterator[Finding]:
    pending: set[str] = set()
    for msg, text_delta in zip(msgs, plain, strict=True):
        if text_delta:
            continue
        if msg.type == "Notification":
            rid = msg.body.get("request_id")
            if not (isinstance(rid, str) and rid in pending) and _fits(msg):
                yield _finding(
                    proto, "goose.notification.pending", f"no pending tool call {rid!r}", msg
                )
        elif msg.type == "Message" and not _text_only(_content(_message(msg))) and _fits(msg):
            yield from _tool_items(proto, msg, pending)


def _tool_items(proto: ChatProtocol, msg: Msg, pending: set[str]) -> Iterator[Finding]:
    role = msg.body["message"]["role"]
    for item in _valid_items(msg, "toolRequest"):
        pending.add(item["id"])
        if role != "assistant":
            yield _finding(proto, "goose.tool.role", f"toolRequest in a {role} message", msg)
    for item in _valid_items(msg, "toolResponse"):
        if item["id"] not in pending:
            text = f"toolResponse {item['id']!r} answers no pending toolRequest"
            yield _finding(proto, "goose.tool.response-without-request", text, msg)
        pending.discard(item["id"])
        if role != "user":
            yield _finding(proto, "goose.tool.role", f"toolResponse in a {role} message", msg)


def _round_ids(
    proto: ChatProtocol, msgs: Sequence[Msg], plain: Sequence[bool]
) -> Iterator[Finding]:
    round_id: object = None
    started = False
    for msg, text_delta in zip(msgs, plain, strict=True):
        if msg.type != "Message":
            continue
        message = _message(msg)
        content = _content(message)
        if not (text_delta or _text_only(content)):
            if _fits(msg) and any(True for _ in _valid_items(msg, "toolResponse")):
                started = False  # the tool results end the model round
        elif message.get("role") == "assistant" and content:
            message_id = message.get("id")
            if (started and message_id == round_id) or not _fits(msg):
                continue  # the round goes on (or the message is already a schema finding)
            if not started:
                round_id, started = message_id, True
            else:
                text = f"text delta has id {message_id!r}; this round's id is {round_id!r}"
                yield _finding(proto, "goose.message.round-id", text, msg)


def _user_message_request(transcript: Transcript) -> bool:
    body = transcript.header.request.body
    try:
        return "user_message" in json_object(body or b"")
    except ValueError:
        return False


def _variant_e_fields(proto: ChatProtocol, msgs: Sequence[Msg]) -> Iterator[Finding]:
    for msg in msgs:
        if msg.type in ("Message", "Finish") and "token_state" not in msg.body and _fits(msg):
            yield _finding(
                proto, "goose.token-state.required", f"{msg.type} has no token_state", msg
            )
        if msg.type == "Message" and "metadata" not in _message(msg) and _fits(msg):
            yield _finding(proto, "goose.metadata.required", "message has no metadata", msg)
