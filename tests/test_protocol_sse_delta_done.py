"""sse-delta-done: the seed's stream passes; each rule has a transcript that breaks only it."""

from __future__ import annotations

import json

import pytest

from streamctl.core.check import check
from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import ClientOptions, HttpRequest, Settings
from streamctl.core.protocols.protocol import SSEProtocol
from streamctl.core.protocols.sse_delta_done.server import delta_event
from streamctl.core.script import FailurePoint, Script, Token, ToolCall, default_reply
from streamctl.core.sse import SSEDecoder, SSEEvent, encode_comment
from tests.builders import SSE_HEADERS, rendered_sse, sse_transcript

NAME = "sse-delta-done"
PROTO = get(NAME)
REQUEST = HttpRequest("GET", "/api/chat/stream", {"message": "test", "file_path": "x.csv"})


def ev(obj: object, event: str | None = "message", eol: str = "\r\n") -> bytes:
    lines = ([f"event: {event}"] if event else []) + [f"data: {json.dumps(obj)}"]
    return (eol.join(lines) + eol + eol).encode()


GOOD = [ev({"delta": "Hel"}), ev({"delta": "lo"}), ev({"done": True})]


def rules_of(chunks: list[bytes], **kw: object) -> list[str]:
    return [f.rule for f in check(sse_transcript(NAME, chunks, **kw))]  # type: ignore[arg-type]


def test_the_seeds_stream_has_no_findings() -> None:
    # Exactly what seed 002's generator yields through sse-starlette, with a ping comment.
    assert rules_of([GOOD[0], b": ping\r\n\r\n", *GOOD[1:]]) == []


def test_the_seeds_stream_split_into_single_bytes_has_no_findings() -> None:
    data = b"".join(GOOD)
    assert rules_of([data[i : i + 1] for i in range(len(data))]) == []


@pytest.mark.parametrize(
    ("script", "text"),
    [
        (default_reply("hello there"), default_reply("hello there").text),
        (Script((Token("a"), Token("b")), tool=ToolCall("lookup", after=1)), "ab"),
        (Script((Token("a"), Token("b")), error=FailurePoint("boom", after=1)), "a"),
        (Script((Token("a"),), tool=ToolCall("late", after=5)), "a"),
    ],
)
def test_every_rendered_script_passes_and_reassembles(script: Script, text: str) -> None:
    transcript = rendered_sse(NAME, script, REQUEST)
    assert check(transcript) == []
    client = PROTO.client(ClientOptions("m"))
    decoder = SSEDecoder()
    got, errors, done = "", [], False
    for _, frame in transcript.frames():
        assert isinstance(frame.payload, bytes)
        for event in decoder.feed(frame.payload):
            update = client.on_event(event)
            got += update.text
            errors += [update.error] if update.error else []
            done = done or update.done
    assert (got, done) == (text, True)
    assert errors == ([script.error.message] if script.error else [])


BREAKS: dict[str, list[bytes] | tuple[list[bytes], dict[str, object]]] = {
    "sse.http.status": ([], {"status": 500}),
    "sse.http.content-type": (
        GOOD,
        {"headers": (("content-type", "application/json"), ("cache-control", "no-cache"))},
    ),
    "sse.http.no-content-length": (GOOD, {"headers": (*SSE_HEADERS, ("content-length", "99"))}),
    "sse.http.cache-control": (GOOD, {"headers": (("content-type", "text/event-stream"),)}),
    "sse.utf8": [GOOD[0], b'event: message\r\ndata: {"delta": "\xff"}\r\n\r\n', GOOD[2]],
    "sse.incomplete-event": [*GOOD, b"data: {}"],
    "sse.retry-digits": [b"retry: soon\r\n" + GOOD[0], *GOOD[1:]],
    "sse.id-nul": [b"id: a\x00b\r\n" + GOOD[0], *GOOD[1:]],
    "sse.unknown-field": [b"foo: bar\r\n" + GOOD[0], *GOOD[1:]],
    "sse.event-without-data": [GOOD[0], b"event: message\r\n\r\n", *GOOD[1:]],
    "sse-delta-done.event-name": [GOOD[0], ev({"delta": "x"}, event="delta"), *GOOD[1:]],
    "sse-delta-done.json": [GOOD[0], b"data: {not json\r\n\r\n", *GOOD[1:]],
    "sse-delta-done.type.unknown": [GOOD[0], ev({"text": "x"}), *GOOD[1:]],
    "sse-delta-done.schema.delta": [GOOD[0], ev({"delta": 5}), *GOOD[1:]],
    "sse-delta-done.schema.done": [*GOOD[:2], ev({"done": "yes"})],
    "sse-delta-done.schema.error": [GOOD[0], ev({"error": None}), GOOD[2]],
    "sse-delta-done.schema.tool": [GOOD[0], ev({"tool": "x"}, event="tool"), *GOOD[1:]],
    "sse-delta-done.delta.nonempty": [GOOD[0], ev({"delta": ""}), *GOOD[1:]],
    "sse-delta-done.done.missing": GOOD[:2],
    "sse-delta-done.done.not-last": [*GOOD, ev({"delta": "late"})],
    "sse-delta-done.order": [GOOD[0], ev({"error": "x"}), GOOD[1], GOOD[2]],
}


def test_every_rule_has_a_breaking_transcript() -> None:
    assert sorted(BREAKS) == sorted(rule.id for rule in PROTO.spec.rules)


@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_breaking_one_rule_yields_exactly_that_finding(rule: str) -> None:
    case = BREAKS[rule]
    chunks, kw = case if isinstance(case, tuple) else (case, {})
    assert rules_of(list(chunks), **kw) == [rule]


def test_the_server_refuses_a_missing_message_like_fastapi() -> None:
    assert isinstance(PROTO, SSEProtocol)
    answer = PROTO.accept(HttpRequest("GET", "/api/chat/stream"), PROTO.new_state(Settings()))
    assert answer.status == 422  # type: ignore[union-attr]
    assert json.loads(answer.body)["detail"][0]["loc"] == ["query", "message"]  # type: ignore[union-attr]


def test_heartbeat_is_an_sse_starlette_ping_comment() -> None:
    assert isinstance(PROTO, SSEProtocol)
    assert PROTO.heartbeat == encode_comment("ping", eol="\r\n")


@pytest.mark.parametrize("data", ["not json", "[1, 2]"])
def test_the_client_ignores_events_that_are_not_json_objects(data: str) -> None:
    update = PROTO.client(ClientOptions("m")).on_event(SSEEvent(data))
    assert update.text == ""
    assert update.info is not None
    assert update.info.startswith("ignored a non-")


@pytest.mark.parametrize("text", ["Hello", ' "quoted" \\ back', "токен", "\x00\u2028 é 😀", ""])
def test_deltas_are_exactly_what_the_seeds_json_dumps_writes(text: str) -> None:
    expected = f"event: message\r\ndata: {json.dumps({'delta': text})}\r\n\r\n".encode()
    assert delta_event(text) == expected
