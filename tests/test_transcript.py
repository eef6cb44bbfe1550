"""The JSON Lines transcript format: round trips, errors with line numbers, torn files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamctl.core.transcript import (
    FORMAT_VERSION,
    Close,
    Disconnect,
    End,
    Frame,
    Header,
    Record,
    Request,
    Response,
    Transcript,
    TranscriptError,
    dump,
    dump_header,
    dump_record,
    load,
    load_lines,
)

SSE_HEADER = Header(
    protocol="openai-chat",
    transport="sse",
    request=Request(
        "POST",
        "/v1/chat/completions?stream=true",
        (("content-type", "application/json"), ("authorization", "<redacted>")),
        b'{"model":"m","stream":true}',
    ),
    response=Response(200, (("content-type", "text/event-stream"), ("cache-control", "no-cache"))),
    meta={"recorded_by": "streamctl 0.1.0", "tags": ["a", "b"], "n": 1},
)

ALL_RECORDS: tuple[Record, ...] = (
    Frame(0.5, "client", '{"type":"hello"}'),
    Frame(12.25, "server", "data: h€llo\n\n".encode()),
    Frame(13.0, "server", b"data: \xe2\x82"),  # a chunk cut inside a character: not UTF-8
    Frame(14.125, "server", b"\xac\n\n"),
    Frame(15, "server", b""),
    Frame(16.0, "server", "text with \u2028 line \u2029 separators \x85 and \x1c"),
    Close(20.0, "server", 1000, "bye"),
    Close(21.0, "client", None),
    Disconnect(22.0, "connection reset"),
    End(23.0, "interrupted", "Ctrl-C"),
)


def sse_transcript(records: tuple[Record, ...] = ALL_RECORDS) -> Transcript:
    return Transcript(SSE_HEADER, records)


def header_obj() -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(dump_header(SSE_HEADER))
    return obj


def with_header(*lines: str) -> str:
    return "\n".join([dump_header(SSE_HEADER), *lines]) + "\n"


# --- round trips ---------------------------------------------------------------------------


def test_round_trip_every_record_type() -> None:
    transcript = sse_transcript()
    text = dump(transcript)
    assert text.endswith("\n")
    # One line per record: JSON escapes LF, so U+2028 & co. are the only raw separators left.
    assert text.count("\n") == len(ALL_RECORDS) + 1
    assert load(text) == transcript


def test_record_encodings() -> None:
    lines = [json.loads(dump_record(r)) for r in ALL_RECORDS]
    assert lines[0] == {"t": 0.5, "from": "client", "text": '{"type":"hello"}'}
    assert lines[1] == {"t": 12.25, "from": "server", "data": "data: h€llo\n\n"}
    assert lines[2] == {"t": 13.0, "from": "server", "b64": "ZGF0YTog4oI="}
    assert lines[6] == {"t": 20.0, "from": "server", "close": {"code": 1000, "reason": "bye"}}
    assert lines[7] == {"t": 21.0, "from": "client", "close": {"code": None, "reason": ""}}
    assert lines[8] == {"t": 22.0, "disconnect": "connection reset"}
    assert lines[9] == {"t": 23.0, "end": "interrupted", "detail": "Ctrl-C"}
    # Non-ASCII stays readable in the file.
    assert "h€llo" in dump_record(ALL_RECORDS[1])


def test_loaded_payload_types() -> None:
    records = load(dump(sse_transcript())).records
    assert records[0] == Frame(0.5, "client", '{"type":"hello"}')
    assert isinstance(records[1], Frame)
    assert records[1].payload == "data: h€llo\n\n".encode()
    assert isinstance(records[2], Frame)
    assert records[2].payload == b"data: \xe2\x82"


def test_time_is_rounded_to_microsecond_precision_in_ms() -> None:
    record = load(with_header(dump_record(End(1.23456789, "complete")))).records[0]
    assert record == End(1.235, "complete")


@pytest.mark.parametrize(
    "request_",
    [
        Request("GET", "/stream"),
        Request("POST", "/chat", (("x-a", "1"), ("x-a", "2")), b'{"q":"h\xc3\xa9"}'),
        Request("POST", "/chat", (), b""),
        Request("POST", "/upload", (), b"\x00\xff\xfe binary"),
    ],
)
@pytest.mark.parametrize(
    "response", [None, Response(101, (("upgrade", "websocket"),)), Response(500)]
)
def test_header_round_trips(request_: Request, response: Response | None) -> None:
    header = Header("generic", "ws", request_, response, {"k": {"nested": [1, None]}})
    transcript = Transcript(header)
    assert load(dump(transcript)) == transcript
    body = json.loads(dump_header(header))["request"]["body"]
    if request_.body is None:
        assert body is None
    elif request_.body == b"\x00\xff\xfe binary":
        assert set(body) == {"b64"}
    else:
        assert body == {"data": request_.body.decode()}


def test_header_line_fields() -> None:
    obj = header_obj()
    assert obj == {
        "format": "streamctl-transcript",
        "version": FORMAT_VERSION,
        "protocol": "openai-chat",
        "transport": "sse",
        "request": {
            "method": "POST",
            "target": "/v1/chat/completions?stream=true",
            "headers": [["content-type", "application/json"], ["authorization", "<redacted>"]],
            "body": {"data": '{"model":"m","stream":true}'},
        },
        "response": {
            "status": 200,
            "headers": [["content-type", "text/event-stream"], ["cache-control", "no-cache"]],
        },
        "meta": {"recorded_by": "streamctl 0.1.0", "tags": ["a", "b"], "n": 1},
    }


def test_optional_header_fields_have_defaults() -> None:
    minimal = {
        "format": "streamctl-transcript",
        "version": 1,
        "protocol": "p",
        "transport": "ws",
        "request": {"method": "GET", "target": "/"},
        "meta": None,
    }
    header = load(json.dumps(minimal)).header
    assert header == Header("p", "ws", Request("GET", "/"), None, {}, 1)


def test_older_version_is_read_and_kept() -> None:
    obj = header_obj() | {"version": 0}
    assert load(json.dumps(obj)).header.version == 0


texts = st.text(max_size=20)
times = st.integers(0, 10**9).map(lambda n: n / 1000)
senders = st.sampled_from(["server", "client"])
records = st.one_of(
    st.builds(Frame, times, senders, texts),
    st.builds(Frame, times, senders, st.binary(max_size=20)),
    st.builds(Close, times, senders, st.none() | st.integers(0, 4999), texts),
    st.builds(Disconnect, times, texts),
    st.builds(End, times, st.sampled_from(["complete", "timeout", "error"]), texts),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(records, max_size=10), st.binary(max_size=10) | st.none(), texts)
def test_round_trip_property(recs: list[Record], body: bytes | None, target: str) -> None:
    header = Header("p", "sse", Request("POST", target, (("h", target),), body), Response(200))
    transcript = Transcript(header, tuple(recs))
    assert load(dump(transcript)) == transcript


def test_load_lines_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(dump(sse_transcript()), encoding="utf-8")
    with path.open(encoding="utf-8") as f:
        assert load_lines(f) == sse_transcript()


def test_blank_lines_and_crlf_are_tolerated() -> None:
    text = dump(sse_transcript()).replace("\n", "\r\n\n  \n")
    assert load(text) == sse_transcript()


# --- helpers on the model ------------------------------------------------------------------


def test_end_property() -> None:
    assert sse_transcript().end == End(23.0, "interrupted", "Ctrl-C")
    assert sse_transcript(ALL_RECORDS[:-1]).end is None
    assert sse_transcript(()).end is None
    assert sse_transcript().protocol == "openai-chat"


def test_frames_by_sender_with_record_index() -> None:
    transcript = sse_transcript()
    assert [i for i, _ in transcript.frames()] == [1, 2, 3, 4, 5]
    assert list(transcript.frames("client")) == [(0, ALL_RECORDS[0])]


def test_response_header_lookup_is_case_insensitive() -> None:
    response = Response(200, (("Content-Type", "text/event-stream"), ("X-A", "1"), ("x-a", "2")))
    assert response.header("content-type") == "text/event-stream"
    assert response.header("X-a") == "1"
    assert response.header("content-length") is None


# --- errors --------------------------------------------------------------------------------


def replace_header(**changes: object) -> str:
    return json.dumps(header_obj() | changes) + "\n"


def replace_request(**changes: object) -> str:
    obj = header_obj()
    obj["request"] = obj["request"] | changes
    return json.dumps(obj) + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty transcript: no header line"),
        ("\n  \n", "empty transcript: no header line"),
        ("{not json\n", "line 1: not JSON"),
        ("[1, 2]\n", "line 1: expected a JSON object"),
        ('{"format": "other", "version": 1}\n', "line 1: not a streamctl transcript"),
        ("{}\n", "line 1: not a streamctl transcript"),
        (replace_header(version=FORMAT_VERSION + 1), "line 1: format version 2 is newer"),
        (replace_header(version="1"), "line 1: 'version' is missing or has the wrong type"),
        (replace_header(version=True), "line 1: 'version' is missing or has the wrong type"),
        (replace_header(transport="http"), "line 1: transport must be 'sse' or 'ws', not 'http'"),
        (replace_header(transport=None), "line 1: 'transport' is missing or has the wrong type"),
        (replace_header(protocol=3), "line 1: 'protocol' is missing or has the wrong type"),
        (replace_header(request="GET /"), "line 1: 'request' is missing or has the wrong type"),
        (replace_header(meta=[1]), "line 1: 'meta' must be an object"),
        (replace_header(response={"headers": []}), "line 1: 'status' is missing"),
        (
            replace_header(response={"status": 200, "headers": {"a": "b"}}),
            "line 1: headers must be a list of [name, value] pairs",
        ),
        (replace_request(method=None), "line 1: 'method' is missing or has the wrong type"),
        (replace_request(headers=[["a"]]), "line 1: headers must be a list of [name, value]"),
        (replace_request(headers=[["a", 1]]), "line 1: headers must be a list of [name, value]"),
        (replace_request(headers=[("a", "b", "c")]), "line 1: headers must be a list"),
        (replace_request(body="text"), "line 1: 'body' is missing or has the wrong type"),
        (replace_request(body={"b64": "!!"}), "line 1: 'b64' is not valid base64"),
        (replace_request(body={"b64": "abc"}), "line 1: 'b64' is not valid base64"),
        (replace_request(body={"data": 5}), "line 1: 'data' is missing or has the wrong type"),
        (replace_request(body={}), "line 1: 'b64' is missing or has the wrong type"),
        (with_header('{"t": 1, "from": "server", "b64": "%%%"}'), "line 2: 'b64' is not valid"),
        (with_header('{"t": 1, "from": "nobody", "data": "x"}'), "line 2: 'from' must be"),
        (with_header('{"t": 1, "text": "x"}'), "line 2: 'from' must be 'server' or 'client'"),
        (with_header('{"t": 1, "from": "client", "text": 5}'), "line 2: 'text' is missing"),
        (with_header('{"t": "1", "end": "complete"}'), "line 2: 't' is missing or has the wrong"),
        (with_header('{"t": false, "end": "complete"}'), "line 2: 't' is missing"),
        (with_header('{"end": "complete"}'), "line 2: 't' is missing or has the wrong type"),
        (
            with_header('{"t": 1, "from": "server", "close": {"code": "1000"}}'),
            "line 2: close code must be an integer or null",
        ),
        (
            with_header('{"t": 1, "from": "server", "close": {"code": true}}'),
            "line 2: close code must be an integer or null",
        ),
        (
            with_header('{"t": 1, "from": "server", "close": {"code": 1000.5}}'),
            "line 2: close code must be an integer or null",
        ),
        (with_header('{"t": 1, "from": "server", "close": 1000}'), "line 2: 'close' is missing"),
        (with_header('{"t": 1, "disconnect": null}'), "line 2: 'disconnect' is missing"),
        (with_header('{"t": 1, "end": 3}'), "line 2: 'end' is missing or has the wrong type"),
        (with_header('{"t": 1, "from": "server"}'), "line 2: unknown record (no text, data"),
        (with_header('{"t": 1, "end": "complete"}', "[]"), "line 3: expected a JSON object"),
        (with_header("", "", "{oops", '{"t": 1, "end": "complete"}'), "line 4: not JSON"),
    ],
)
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(TranscriptError) as info:
        load(text)
    assert str(info.value).startswith(message)
    assert "Traceback" not in str(info.value)


def test_transcript_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="line 1"):
        load("nope\n")


def test_not_json_message_says_why() -> None:
    with pytest.raises(TranscriptError, match=r"^line 2: not JSON \(Expecting value\)$"):
        load(with_header("nope", '{"t": 1, "end": "complete"}'))


# --- torn files ----------------------------------------------------------------------------


def test_torn_last_line_is_dropped() -> None:
    full = dump(sse_transcript())
    torn = full + '{"t": 30.0, "from": "server", "data": "data: cut'
    assert load(torn) == sse_transcript()


def test_torn_last_line_after_blank_lines_is_dropped() -> None:
    text = with_header(dump_record(ALL_RECORDS[0]), "") + '{"t"'
    assert load(text).records == ALL_RECORDS[:1]


def test_complete_last_line_without_newline_is_kept() -> None:
    text = dump(sse_transcript()).removesuffix("\n")
    assert load(text) == sse_transcript()


def test_wrong_last_line_without_newline_is_still_an_error() -> None:
    # Valid JSON cannot be a torn line: a complete but wrong record is not silently dropped.
    with pytest.raises(TranscriptError, match=r"^line 2: 'from' must be"):
        load(with_header() + '{"t": 1, "from": "sevrer", "data": "x"}')


def test_torn_first_line_raises() -> None:
    with pytest.raises(TranscriptError, match=r"^line 1: not JSON"):
        load(dump_header(SSE_HEADER)[:40])


def test_torn_middle_line_raises() -> None:
    lines = dump(sse_transcript()).splitlines(keepends=True)
    lines[3] = lines[3][:10] + "\n"
    with pytest.raises(TranscriptError, match=r"^line 4: not JSON"):
        load("".join(lines))


# --- the documented examples ---------------------------------------------------------------

README = Path(__file__).resolve().parent.parent / "fixtures" / "README.md"


def test_readme_transcript_examples_load() -> None:
    blocks = re.findall(r"```jsonl\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 3
    sse, ws, capture = (load(block) for block in blocks)
    assert capture.header.unknown == ("timing", "chunks", "request", "response")
    assert capture.end is None
    assert sse.header.transport == "sse"
    assert sse.header.request.headers[-1] == ("cookie", "<redacted>")
    assert sse.end == End(15042.0, "complete")
    chunks = [frame.payload for _, frame in sse.frames()]
    assert all(isinstance(c, bytes) for c in chunks)
    assert b"".join(c for c in chunks if isinstance(c, bytes)).count("€".encode()) == 1
    assert ws.header.transport == "ws"
    assert ws.header.response is not None
    assert ws.header.response.status == 101
    assert [type(r).__name__ for r in ws.records[-3:]] == ["Close", "Close", "End"]
    assert all(isinstance(f.payload, str) for _, f in ws.frames("client"))
