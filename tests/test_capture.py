"""Captures in (core): raw SSE and NDJSON bodies, HAR files, and what they cannot tell.

The goose byte streams are those goose's own client tests feed its SSE parser: a ``Ping`` then
``Finish``, an ``Error`` alone, and a payload that is not JSON.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mockserver.bundled import bundled_dir
from streamctl.core.capture import CaptureError, detect, read_capture, split_events, split_lines
from streamctl.core.check import check, unjudged
from streamctl.core.protocols import names
from streamctl.core.spec import Level
from streamctl.core.transcript import Frame, Transcript, TranscriptError, dump, load

PING_FINISH = b'data: {"type":"Ping"}\n\ndata: {"type":"Finish","reason":"stop"}\n\n'
ERROR_ALONE = b'data: {"type":"Error","error":"Provider not set"}\n\n'
NOT_JSON = b"data: {not json}\n\n"


def recorded(protocol: str) -> Transcript:
    return load((bundled_dir() / f"recorded-{protocol}.jsonl").read_text(encoding="utf-8"))


def body_of(transcript: Transcript) -> bytes:
    """What ``curl -sN`` would have saved (SSE), or ``websocat`` printed (WebSocket)."""
    frames = [frame.payload for _, frame in transcript.frames("server")]
    if transcript.header.transport == "ws":
        return b"".join(f"{payload}\n".encode() for payload in frames if isinstance(payload, str))
    return b"".join(p if isinstance(p, bytes) else p.encode() for p in frames)


def rules(transcript: Transcript) -> list[str]:
    return [f.rule for f in check(transcript)]


# --- goose's own client-test streams ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [(PING_FINISH, []), (ERROR_ALONE, []), (NOT_JSON, ["goose.json", "goose.finish.missing"])],
)
def test_goose_client_streams_check_as_goose_expects(body: bytes, expected: list[str]) -> None:
    (transcript,) = read_capture(body, "goose")
    assert sorted(rules(transcript)) == sorted(expected)
    assert transcript.header.unknown == ("timing", "chunks", "request", "response")
    skipped = {rule.id for rule in unjudged(transcript)}
    assert {"sse.http.content-type", "goose.ping.interval", "goose.token-state.required"} <= skipped


def test_a_long_pause_is_not_judged_in_a_capture_but_is_in_a_recording() -> None:
    (capture,) = read_capture(PING_FINISH, "goose")
    ping, finish = split_events(PING_FINISH)
    timed = Transcript(
        replace(capture.header, unknown=()),
        (Frame(0.0, "server", ping), Frame(5000.0, "server", finish)),
    )
    assert "goose.ping.interval" in rules(timed)
    assert "goose.ping.interval" not in rules(capture)


# --- every protocol: a raw body checks like its recording -----------------------------------


@pytest.mark.parametrize("protocol", names())
def test_a_raw_body_of_every_protocol_checks_clean(protocol: str) -> None:
    original = recorded(protocol)
    (capture,) = read_capture(body_of(original), protocol)
    assert check(original) == []
    assert check(capture) == []
    assert capture.header.transport == original.header.transport
    assert unjudged(capture)  # the head and timing rules are said to be unjudged
    assert load(dump(capture)) == capture


def test_a_raw_sse_body_is_cut_at_event_boundaries_whatever_the_line_ends() -> None:
    body = b"data: a\r\n\r\n: c\r\rdata: b\n\ndata: tail"
    assert split_events(body) == [b"data: a\r\n\r\n", b": c\r\r", b"data: b\n\n", b"data: tail"]
    assert b"".join(split_events(body)) == body
    assert split_events(b"\n\ndata: x\n\n") == [b"\n", b"\n", b"data: x\n\n"]


def test_ndjson_lines_keep_their_ends() -> None:
    assert split_lines(b'{"a":1}\n\n{"b":2}') == [b'{"a":1}\n', b"\n", b'{"b":2}']
    assert split_lines(b"") == []


def test_message_stream_ndjson_capture_is_decoded_as_ndjson() -> None:
    lines = [
        line[6:]
        for line in body_of(recorded("message-stream")).decode().splitlines()
        if line.startswith("data: ")
    ]
    (capture,) = read_capture("\n".join(lines) + "\n", "message-stream")
    assert capture.header.response is not None
    assert capture.header.response.header("content-type") == "application/x-ndjson"
    assert check(capture) == []
    broken = read_capture("\n".join(lines[:-1]) + "\n", "message-stream")[0]
    assert [f.level for f in check(broken)] == [Level.MUST]


def test_websocket_messages_one_per_line_skip_blank_lines() -> None:
    body = body_of(recorded("ws-events")).replace(b"\n", b"\r\n\n", 1)
    (capture,) = read_capture(body, "ws-events")
    assert all(isinstance(f.payload, str) for _, f in capture.frames("server"))
    assert check(capture) == []
    assert "client" in capture.header.unknown


@pytest.mark.parametrize(
    ("body", "protocol", "message"),
    [
        (PING_FINISH, None, "does not say which protocol"),
        (PING_FINISH, "ws-events", "speaks WebSocket, not SSE"),
        (b'{"type":"Ping"}\n', "goose", "goose streams SSE, and this body is NDJSON"),
        (b'{"type":"x"}\n\xff\n', "chunk-complete", "line 2 is not UTF-8"),
        (b"", None, "empty input"),
        (b"  \n\n", "goose", "empty input"),
        (b"hello world\n", "goose", "cannot tell what this is"),
        (b'{\n  "a": 1\n}\n', None, "not a HAR file"),
        (b'{\n  "a": \n', None, "not complete JSON"),
        (b'{"format":"streamctl-transcript","version":1}\n', None, "not a valid transcript"),
        (b'{"format":"streamctl-transcript"}\n\xff\n', None, "not UTF-8"),
    ],
)
def test_unreadable_input_says_why(body: bytes, protocol: str | None, message: str) -> None:
    with pytest.raises(CaptureError, match=message):
        read_capture(body, protocol)


def test_detection() -> None:
    assert detect(b"\xef\xbb\xbf\n: comment\n") == "sse"
    assert detect(b"retry\n") == "sse"
    assert detect(b"event: x\ndata: 1\n\n") == "sse"
    assert detect(b"[1, 2]\n") == "ndjson"
    assert detect(dump(recorded("goose")).encode()) == "transcript"
    assert detect(json.dumps(har([])).encode()) == "har"
    assert detect(json.dumps(har([]), indent=2).encode()) == "har"


def test_a_transcript_is_read_as_itself_and_must_be_of_the_protocol_named() -> None:
    text = dump(recorded("goose"))
    assert read_capture(text) == [recorded("goose")]
    assert read_capture(text, "goose") == [recorded("goose")]
    with pytest.raises(CaptureError, match="a goose transcript, not ws-events"):
        read_capture(text, "ws-events")


# --- HAR files ----------------------------------------------------------------------------

STARTED = "2026-01-01T00:00:00.000Z"
T0 = 1767225600.0  # STARTED as Unix seconds


def har(entries: list[Any]) -> dict[str, Any]:
    return {"log": {"version": "1.2", "creator": {"name": "test"}, "entries": entries}}


def headers(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


def sse_entry(
    url: str, body: bytes, method: str = "GET", mime: str = "text/event-stream", **extra: Any
) -> dict[str, Any]:
    content: dict[str, Any] = {"size": len(body), "mimeType": mime, "text": body.decode()}
    content.update(extra.pop("content", {}))
    return {
        "startedDateTime": STARTED,
        "request": {
            "method": method,
            "url": url,
            "headers": headers(("Authorization", "Bearer s3cret"), (":authority", "x")),
            **extra.pop("request", {}),
        },
        "response": {
            "status": 200,
            "headers": headers(
                ("Content-Type", mime), ("Cache-Control", "no-cache"), ("Content-Encoding", "br")
            ),
            "content": content,
        },
        **extra,
    }


def ws_entry(url: str, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "startedDateTime": STARTED,
        "request": {"method": "GET", "url": url, "headers": []},
        "response": {"status": 101, "headers": [], "content": {"size": 0, "mimeType": "x-unknown"}},
        "_webSocketMessages": messages,
        **extra,
    }


def page_entry() -> dict[str, Any]:
    return {
        "request": {"method": "GET", "url": "http://h/", "headers": []},
        "response": {"status": 200, "headers": [], "content": {"mimeType": "text/html"}},
    }


def har_bytes(*entries: Any) -> bytes:
    return json.dumps(har(list(entries)), indent=1).encode()


def test_har_sse_exchanges_keep_the_head_and_lose_timing_and_chunks() -> None:
    goose = body_of(recorded("goose"))
    data = har_bytes(
        page_entry(),
        sse_entry("http://h:1/reply", goose, "POST", request={"postData": {"text": "{}"}}),
    )
    (transcript,) = read_capture(data)
    assert transcript.protocol == "goose"
    assert transcript.header.unknown == ("timing", "chunks")
    assert transcript.header.request.target == "/reply"
    assert transcript.header.request.body == b"{}"
    assert ("Authorization", "<redacted>") in transcript.header.request.headers
    assert all(not name.startswith(":") for name, _ in transcript.header.request.headers)
    response = transcript.header.response
    assert response is not None
    assert response.header("content-encoding") is None
    assert check(transcript) == []
    assert [r.id for r in unjudged(transcript)] == ["goose.ping.interval"]


def test_har_finds_the_protocol_by_endpoint_and_reads_every_stream() -> None:
    sse = body_of(recorded("sse-delta-done"))
    ms = body_of(recorded("message-stream"))
    data = har_bytes(
        sse_entry("http://h/api/chat/stream?message=hi", sse),
        sse_entry("http://h/api/web/v1/chats/7/messages/stream", ms, "POST"),
        sse_entry("http://h/elsewhere", sse),
    )
    found = read_capture(data)
    assert [t.protocol for t in found] == ["sse-delta-done", "message-stream"]
    assert found[0].header.request.target == "/api/chat/stream?message=hi"
    assert len(read_capture(data, "sse-delta-done")) == 1
    # Named, a protocol with no exchange on its endpoint takes those on unknown paths of its
    # transport (a backend that mounts it elsewhere).
    elsewhere = har_bytes(sse_entry("http://h/elsewhere", sse), ws_entry("ws://h/other", []))
    assert [t.header.request.target for t in read_capture(elsewhere, "goose")] == ["/elsewhere"]


def test_har_bodies_in_base64_and_ndjson() -> None:
    line = b'{"type":"message_start"}\n'
    encoded = base64.b64encode(line).decode()
    entry = sse_entry(
        "http://h/api/web/v1/chats/1/messages/stream",
        b"",
        "POST",
        mime="application/x-ndjson; charset=utf-8",
        content={"text": encoded, "encoding": "base64"},
    )
    (transcript,) = read_capture(har_bytes(entry))
    assert [f.payload for _, f in transcript.frames()] == [line]


def test_har_content_type_from_the_header_when_the_content_has_no_mime_type() -> None:
    entry = sse_entry("http://h/api/chat/stream", b"data: x\n\n", content={"mimeType": ""})
    assert read_capture(har_bytes(entry), "sse-delta-done")[0].protocol == "sse-delta-done"


def test_har_websocket_messages_keep_direction_time_and_secrets_out() -> None:
    text = body_of(recorded("ws-events")).decode().splitlines()
    messages = [
        {"type": "send", "time": T0 + 0.010, "opcode": 1, "data": '{"token":"eyJa.eyJb.c"}'},
        *(
            {"type": "receive", "time": T0 + 0.020 + i / 1000, "opcode": 1, "data": m}
            for i, m in enumerate(text)
        ),
        {
            "type": "receive",
            "time": T0 - 5,
            "opcode": 2,
            "data": base64.b64encode(b"\x00").decode(),
        },
    ]
    (transcript,) = read_capture(har_bytes(ws_entry("ws://h/ws/chat?token=abc", messages)))
    assert transcript.protocol == "ws-events"
    assert transcript.header.unknown == ()
    assert transcript.header.request.target == "/ws/chat?token=<redacted>"
    first, second = transcript.records[0], transcript.records[1]
    assert isinstance(first, Frame)
    assert first.sender == "client"
    assert first.t == 10.0
    assert "eyJ" not in str(first.payload)
    assert isinstance(second, Frame)
    assert second.sender == "server"
    assert second.t == 20.0
    last = transcript.records[-1]
    assert isinstance(last, Frame)
    assert last.payload == b"\x00"
    assert last.t == 0.0
    # The client's side is in the HAR file, so the echo rule is judged (and this one fails it).
    assert [f.rule for f in check(transcript)] == ["ws-events.content.user-echo", "ws.text"]


def test_har_websocket_times_in_milliseconds_as_playwright_writes_them() -> None:
    message = {"type": "receive", "time": T0 * 1000 + 42.5, "opcode": 1, "data": "{}"}
    (transcript,) = read_capture(har_bytes(ws_entry("ws://h/chat/ws", [message])))
    assert [r.t for r in transcript.records] == [42.5]


def test_har_websocket_without_a_start_time_has_unknown_timing() -> None:
    message = {"type": "receive", "time": T0, "opcode": 1, "data": "{}"}
    for started in (None, "not a date"):
        entry = ws_entry("ws://h/chat/ws", [message], startedDateTime=started)
        (transcript,) = read_capture(har_bytes(entry))
        assert transcript.header.unknown == ("timing",)
        assert transcript.protocol == "chunk-complete"


@pytest.mark.parametrize(
    ("entries", "protocol", "message"),
    [
        ([page_entry()], None, "no event-stream, NDJSON or WebSocket exchange among 1"),
        ([sse_entry("http://h/x", b"data: 1\n\n")], None, "GET /x matches no protocol"),
        ([sse_entry("http://h/reply", b"", "POST", content={"text": None})], None, "no body"),
        ([ws_entry("ws://h/ws/chat", [])], "goose", "exchange of goose among 1"),
        (["x"], None, r"log.entries\[0\] is not an object"),
        ([{"request": {}}], None, "'response' must be an object"),
        ([{"request": {"url": "x"}, "response": {}}], None, "'method' must be a string"),
        ([{**page_entry(), "response": {"status": "200"}}], None, "'status' must be a number"),
        ([sse_entry("http://h/reply", b"", "POST", request={"headers": {}})], None, "a list"),
        (
            [sse_entry("http://h/reply", b"", "POST", request={"headers": [{"name": 1}]})],
            None,
            "every header is",
        ),
        (
            [sse_entry("http://h/reply", b"", "POST", content={"text": "!", "encoding": "base64"})],
            None,
            "not base64",
        ),
        ([ws_entry("ws://h/ws/chat", {})], None, "_webSocketMessages must be a list"),  # type: ignore[arg-type]
        ([ws_entry("ws://h/ws/chat", [{"type": "ping"}])], None, "a message is"),
        ([ws_entry("ws://h/ws/chat", [{"type": "send", "data": 1}])], None, "'data' must be"),
        (
            [ws_entry("ws://h/ws/chat", [{"type": "send", "opcode": 2, "data": "!"}])],
            None,
            "binary message's data is not base64",
        ),
    ],
)
def test_har_problems_are_named(entries: list[Any], protocol: str | None, message: str) -> None:
    with pytest.raises(CaptureError, match=message):
        read_capture(har_bytes(*entries), protocol)


@pytest.mark.parametrize(
    ("data", "message"),
    [(b'{"log": {"entries": {}}}', "no 'log.entries' list")],
)
def test_har_structure_problems(data: bytes, message: str) -> None:
    with pytest.raises(CaptureError, match=message):
        read_capture(data)


def test_a_har_file_that_is_not_json_after_all() -> None:
    from streamctl.core.har import exchanges

    with pytest.raises(CaptureError, match="not JSON"):
        exchanges(b"{")


def test_goose_streams_from_files(tmp_path: Path) -> None:
    path = tmp_path / "reply.sse"
    path.write_bytes(PING_FINISH)
    assert check(read_capture(path.read_bytes(), "goose")[0]) == []


def test_unknown_facts_round_trip_and_a_bad_list_is_named() -> None:
    (capture,) = read_capture(PING_FINISH, "goose")
    text = dump(capture)
    assert '"unknown":["timing","chunks","request","response"]' in text
    assert load(text).header.unknown == capture.header.unknown
    assert '"unknown"' not in dump(recorded("goose"))  # recordings are unchanged
    with pytest.raises(TranscriptError, match="'unknown' must be a list of fact names"):
        load(text.replace('"unknown":["timing"', '"unknown":[1'))
