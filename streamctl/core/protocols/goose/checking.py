"""Checking goosed's ``/reply`` stream: typing events, framing, and rules across events.

Schemas and the order table live in :mod:`.rules`; this module holds the rules that need code.
Rules that look inside an event skip events whose schema already failed, so one defect yields
one finding.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from streamctl.core.protocols.base import excerpt
from streamctl.core.protocols.goose.rules import EVENT_TYPES, ITEM_SHAPES, SPEC
from streamctl.core.spec import Finding, Msg, validate
from streamctl.core.sse import SSEDecoder, SSEEvent
from streamctl.core.transcript import Transcript

__all__ = ["classify", "content_findings", "event_findings", "stream_findings"]

#: goosed pings every 500 ms; twice that leaves room for a slow network or a busy server.
PING_GAP_MS = 1000.0


def _finding(rule: str, message: str, msg: Msg) -> Finding:
    return SPEC.finding(rule, message, msg.frame, excerpt(msg.raw))


def classify(obj: dict[str, Any], raw: str, frame: int, t: float) -> Msg | list[Finding]:
    """A parsed event object -> a Msg named by its ``type``, or why it is not one."""
    kind = obj.get("type")
    if not isinstance(kind, str):
        return [
            SPEC.finding("goose.type.missing", "event has no string 'type'", frame, excerpt(raw))
        ]
    if kind not in EVENT_TYPES:
        return [SPEC.finding("goose.type.unknown", f"unknown type {kind!r}", frame, excerpt(raw))]
    return Msg(kind, obj, frame, t, raw)


def event_findings(event: SSEEvent, frame: int) -> Iterator[Finding]:
    """goose framing for one dispatched event: one data line and nothing else."""
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
        yield SPEC.finding("goose.frame.fields", f"event has {lines} line(s)", frame, event.data)
    count = event.fields.count("data")
    if count != 1:
        yield SPEC.finding(
            "goose.frame.one-line", f"event has {count} data lines", frame, excerpt(event.data)
        )


def stream_findings(decoder: SSEDecoder) -> Iterator[Finding]:
    """One finding for all SSE comments (a comment heartbeat would give one per tick)."""
    if decoder.comment_count:
        yield SPEC.finding(
            "goose.frame.comment", f"the stream has {decoder.comment_count} SSE comment line(s)"
        )


def _fits(msg: Msg) -> bool:
    return not validate(msg.body, SPEC.schemas[msg.type])


def content_findings(msgs: Sequence[Msg], transcript: Transcript) -> Iterator[Finding]:
    """Every rule that looks across events or inside them beyond their schema."""
    yield from _key_order(msgs)
    yield from _ping_first(msgs)
    yield from _ping_gaps(msgs, transcript)
    fitting = [m for m in msgs if _fits(m)]
    yield from _finish_reason(fitting)
    yield from _content_items(fitting)
    yield from _tool_calls(fitting)
    yield from _round_ids(fitting)
    if _user_message_request(transcript):
        yield from _variant_e_fields(fitting)


def _key_order(msgs: Sequence[Msg]) -> Iterator[Finding]:
    for msg in msgs:
        first = next(iter(msg.body))
        if first != "type":
            yield _finding("goose.type.first", f"first key is {first!r}, not 'type'", msg)


def _ping_first(msgs: Sequence[Msg]) -> Iterator[Finding]:
    if msgs and msgs[0].type not in ("Ping", "Error"):
        yield _finding("goose.ping.first", f"the stream starts with {msgs[0].type}", msgs[0])


def _ended(msgs: Sequence[Msg]) -> bool:
    return msgs[0].type == "Error" or any(m.type == "Finish" for m in msgs)


def _ping_gaps(msgs: Sequence[Msg], transcript: Transcript) -> Iterator[Finding]:
    for before, after in itertools.pairwise(msgs):
        gap = after.t - before.t
        if gap > PING_GAP_MS:
            yield _finding("goose.ping.interval", f"{gap:.0f} ms without a Ping", after)
    if msgs and not _ended(msgs):
        # A stream left hanging: the heartbeat should have kept it alive until it stopped.
        gap = transcript.records[-1].t - msgs[-1].t
        if gap > PING_GAP_MS:
            yield SPEC.finding(
                "goose.ping.interval",
                f"{gap:.0f} ms without a Ping before the recording stopped",
                len(transcript.records) - 1,
            )


def _finish_reason(msgs: Sequence[Msg]) -> Iterator[Finding]:
    for msg in msgs:
        if msg.type == "Finish" and msg.body["reason"] != "stop":
            yield _finding("goose.finish.reason", f"reason is {msg.body['reason']!r}", msg)


def _items(msg: Msg) -> Iterator[tuple[int, Mapping[str, Any]]]:
    if msg.type == "Message":
        yield from enumerate(msg.body["message"]["content"])


def _content_items(msgs: Sequence[Msg]) -> Iterator[Finding]:
    for msg in msgs:
        for index, item in _items(msg):
            shape = ITEM_SHAPES.get(item["type"])
            if shape is not None:
                for problem in validate(item, shape, f"message.content[{index}]"):
                    yield _finding("goose.content.item", f"{item['type']}: {problem}", msg)


def _valid_items(msg: Msg, kind: str) -> Iterator[Mapping[str, Any]]:
    for _, item in _items(msg):
        if item["type"] == kind and not validate(item, ITEM_SHAPES[kind]):
            yield item


def _tool_calls(msgs: Sequence[Msg]) -> Iterator[Finding]:
    pending: set[str] = set()
    for msg in msgs:
        if msg.type == "Notification" and msg.body["request_id"] not in pending:
            rid = msg.body["request_id"]
            yield _finding("goose.notification.pending", f"no pending tool call {rid!r}", msg)
        role = msg.body["message"]["role"] if msg.type == "Message" else None
        for item in _valid_items(msg, "toolRequest"):
            pending.add(item["id"])
            if role != "assistant":
                yield _finding("goose.tool.role", f"toolRequest in a {role} message", msg)
        for item in _valid_items(msg, "toolResponse"):
            if item["id"] not in pending:
                text = f"toolResponse {item['id']!r} answers no pending toolRequest"
                yield _finding("goose.tool.response-without-request", text, msg)
            pending.discard(item["id"])
            if role != "user":
                yield _finding("goose.tool.role", f"toolResponse in a {role} message", msg)


def _round_ids(msgs: Sequence[Msg]) -> Iterator[Finding]:
    round_id: object = None
    started = False
    for msg in msgs:
        if any(True for _ in _valid_items(msg, "toolResponse")):
            started = False  # the tool results end the model round
        elif msg.type == "Message" and _is_assistant_text(msg.body["message"]):
            message_id = msg.body["message"]["id"]
            if not started:
                round_id, started = message_id, True
            elif message_id != round_id:
                text = f"text delta has id {message_id!r}; this round's id is {round_id!r}"
                yield _finding("goose.message.round-id", text, msg)


def _is_assistant_text(message: Mapping[str, Any]) -> bool:
    content = message["content"]
    return (
        message["role"] == "assistant"
        and bool(content)
        and all(item["type"] == "text" for item in content)
    )


def _user_message_request(transcript: Transcript) -> bool:
    body = transcript.header.request.body
    try:
        obj = json.loads(body or b"")
    except (ValueError, RecursionError):
        return False
    return isinstance(obj, dict) and "user_message" in obj


def _variant_e_fields(msgs: Sequence[Msg]) -> Iterator[Finding]:
    for msg in msgs:
        if msg.type in ("Message", "Finish") and "token_state" not in msg.body:
            yield _finding("goose.token-state.required", f"{msg.type} has no token_state", msg)
        if msg.type == "Message" and "metadata" not in msg.body["message"]:
            yield _finding("goose.metadata.required", "message has no metadata", msg)
