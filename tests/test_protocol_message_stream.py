"""message-stream: seed 004's streams pass; each rule has a transcript that breaks only it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamctl.core.check import check
from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import (
    Accepted,
    ClientOptions,
    HttpRequest,
    HttpResponse,
    Settings,
    Update,
)
from streamctl.core.protocols.message_stream import PROTOCOL, MessageStream
from streamctl.core.protocols.message_stream.checking import is_iso_datetime
from streamctl.core.protocols.message_stream.server import ChatStore, iso
from streamctl.core.protocols.message_stream.validation import parse_int
from streamctl.core.protocols.message_stream.wire import NDJSONDecoder, wants_ndjson
from streamctl.core.script import FailurePoint, Script, Token, ToolCall, default_reply, from_text
from streamctl.core.sse import SSEEvent
from streamctl.core.transcript import Frame, Header, Headers, Request, Response, Transcript
from tests.builders import SSE_HEADERS, sse_transcript

NAME = "message-stream"
TARGET = "/api/web/v1/chats/7/messages/stream"
NDJSON_HEADERS: Headers = (("content-type", "application/x-ndjson"), ("cache-control", "no-cache"))
CLOCK = 1_735_732_800.0  # 2025-01-01T12:00:00Z
STAMP = "2025-01-01T12:00:00Z"


def post(accept: str = "text/event-stream", target: str = TARGET) -> Request:
    headers = (("content-type", "application/json"), ("accept", accept))
    return Request("POST", target, headers, b'{"content":"Hi"}')


SSE_REQUEST = post()
NDJSON_REQUEST = post("application/x-ndjson")


def message(content: str = "", **extra: Any) -> dict[str, Any]:
    base = {"id": 12, "chat_id": 7, "role": "assistant", "content": content, "created_at": STAMP}
    return {**base, **extra}


METADATA = {"model": "gpt-4o", "tokens": 2, "processingTime": 850.5, "thinkingExpanded": False}
START = {"type": "message_start", "message": message()}
D1 = {"type": "message_delta", "message_id": 12, "delta": "Hel"}
D2 = {"type": "message_delta", "message_id": 12, "delta": "lo"}
END = {"type": "message_end", "message": message("Hello", metadata=METADATA)}
ERROR = {"type": "error", "error": {"message": "model overloaded", "code": "stream_error"}}


def sse(obj: object, event: str | None = "") -> bytes:
    """An SSE event; ``event`` defaults to the JSON type, ``None`` leaves the line out."""
    name = obj["type"] if event == "" and isinstance(obj, dict) else event
    head = f"event: {name}\n" if name is not None else ""
    return f"{head}data: {json.dumps(obj)}\n\n".encode()


def nd(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


GOOD = [sse(START), sse(D1), sse(D2), sse(END)]
ND_GOOD = [nd(START), nd(D1), nd(D2), nd(END)]


def sse_of(chunks: Sequence[bytes], **kw: Any) -> Transcript:
    return sse_transcript(NAME, chunks, **{"request": SSE_REQUEST, **kw})


def nd_of(chunks: Sequence[bytes], **kw: Any) -> Transcript:
    return sse_transcript(
        NAME, chunks, **{"request": NDJSON_REQUEST, "headers": NDJSON_HEADERS, **kw}
    )


def rules(transcript: Transcript) -> list[str]:
    return [f.rule for f in check(transcript)]


def with_message(obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**obj, "message": {**obj["message"], **changes}}


# --- the seed's streams -------------------------------------------------------------------


def test_the_protocol_is_registered_with_its_endpoints() -> None:
    assert get(NAME) is PROTOCOL
    assert isinstance(PROTOCOL, MessageStream)
    assert PROTOCOL.stream_endpoint.path == "/api/web/v1/chats/{chat_id}/messages/stream"
    assert [(e.method, e.path) for e in PROTOCOL.endpoints[1:]] == [
        ("GET", "/api/web/v1/chats/{chat_id}/messages"),
        ("DELETE", "/api/web/v1/chats/{chat_id}/messages/{message_id}"),
    ]
    assert [r.endpoint for r in PROTOCOL.routes()] == list(PROTOCOL.endpoints[1:])


def test_a_seed_stream_over_sse_has_no_findings() -> None:
    assert rules(sse_of(GOOD)) == []


def test_a_seed_stream_over_ndjson_has_no_findings() -> None:
    assert rules(nd_of(ND_GOOD)) == []


def test_an_error_before_the_reply_starts_has_no_findings() -> None:
    assert rules(sse_of([sse(ERROR)])) == []
    assert rules(nd_of([nd(START), nd(D1), nd(ERROR)])) == []


def test_null_metadata_and_crlf_ndjson_lines_and_blank_lines_are_accepted() -> None:
    # FastAPI writes an unset Optional as null; NDJSON readers accept \r\n and skip blank lines.
    end = with_message(END, metadata={"model": None, "hasThinkingProcess": None})
    assert rules(sse_of([*GOOD[:3], sse(end)])) == []
    lines = [nd(START).replace(b"\n", b"\r\n"), b"\n", nd(D1), b"  \n", nd(D2), nd(END)]
    assert rules(nd_of(lines)) == []


@pytest.mark.parametrize("make", [sse_of, nd_of])
def test_a_seed_stream_split_into_single_bytes_has_no_findings(make: Any) -> None:
    data = b"".join(GOOD if make is sse_of else ND_GOOD)
    assert rules(make([data[i : i + 1] for i in range(len(data))])) == []


def test_ndjson_frames_recorded_as_text_are_read_too() -> None:
    header = Header(NAME, "sse", NDJSON_REQUEST, Response(200, NDJSON_HEADERS))
    frames = tuple(Frame(float(i), "server", c.decode()) for i, c in enumerate(ND_GOOD))
    assert rules(Transcript(header, frames)) == []


# --- one transcript per rule --------------------------------------------------------------

BAD_UTF8_END = sse(END).replace(b"gpt-4o", b"gpt\xff")
BREAKS: dict[str, Transcript] = {
    "sse.http.status": sse_of([], status=500),
    "sse.http.content-type": sse_of(
        GOOD, headers=(("content-type", "application/json"), ("cache-control", "no-cache"))
    ),
    "sse.http.no-content-length": sse_of(GOOD, headers=(*SSE_HEADERS, ("content-length", "9"))),
    "sse.http.cache-control": sse_of(GOOD, headers=(("content-type", "text/event-stream"),)),
    "sse.utf8": sse_of([*GOOD[:3], BAD_UTF8_END]),
    "sse.incomplete-event": sse_of([*GOOD, b"data: {}"]),
    "sse.retry-digits": sse_of([b"retry: soon\n" + GOOD[0], *GOOD[1:]]),
    "sse.id-nul": sse_of([b"id: a\x00b\n" + GOOD[0], *GOOD[1:]]),
    "sse.unknown-field": sse_of([b"foo: bar\n" + GOOD[0], *GOOD[1:]]),
    "sse.event-without-data": sse_of([GOOD[0], b"event: message_delta\n\n", *GOOD[1:]]),
    "message-stream.http.negotiation": sse_of(ND_GOOD, headers=NDJSON_HEADERS),
    "message-stream.ndjson.no-content-length": nd_of(
        ND_GOOD, headers=(*NDJSON_HEADERS, ("content-length", "9"))
    ),
    "message-stream.ndjson.utf8": nd_of([*ND_GOOD[:3], nd(END).replace(b"gpt-4o", b"gpt\xff")]),
    "message-stream.ndjson.line-end": nd_of([*ND_GOOD, b'{"type": "message_delta"']),
    "message-stream.event-name": sse_of([GOOD[0], sse(D1, event="delta"), *GOOD[2:]]),
    "message-stream.event-line": sse_of([GOOD[0], sse(D1, event=None), *GOOD[2:]]),
    "message-stream.json": sse_of([GOOD[0], b"data: {not json\n\n", *GOOD[1:]]),
    "message-stream.type.unknown": sse_of([GOOD[0], sse({"type": "ping"}), *GOOD[1:]]),
    "message-stream.schema.message_start": sse_of(
        [sse({"type": "message_start", "message": message(created_at=None)}), *GOOD[1:]]
    ),
    "message-stream.schema.message_delta": sse_of(
        [GOOD[0], sse({**D1, "message_id": "12"}), *GOOD[2:]]
    ),
    "message-stream.schema.message_end": sse_of(
        [*GOOD[:3], sse(with_message(END, metadata={**METADATA, "tokens": "2"}))]
    ),
    "message-stream.schema.error": sse_of(
        [*GOOD[:3], sse({"type": "error", "error": {"message": "x"}})]
    ),
    "message-stream.order": sse_of([GOOD[0], GOOD[1], GOOD[0], *GOOD[2:]]),
    "message-stream.terminal.missing": sse_of(GOOD[:3]),
    "message-stream.terminal.not-last": sse_of([*GOOD, sse(D1)]),
    "message-stream.content": sse_of([*GOOD[:3], sse(with_message(END, content="Hello!"))]),
    "message-stream.message-id": sse_of([GOOD[0], sse({**D1, "message_id": 13}), *GOOD[2:]]),
    "message-stream.chat-id": sse_of([*GOOD[:3], sse(with_message(END, chat_id=8))]),
    "message-stream.role": sse_of([*GOOD[:3], sse(with_message(END, role="user"))]),
    "message-stream.start.empty": sse_of([sse(with_message(START, content="Hi")), *GOOD[1:]]),
    "message-stream.created-at": sse_of(
        [sse(with_message(START, created_at="yesterday")), *GOOD[1:]]
    ),
}


def test_every_rule_has_a_breaking_transcript() -> None:
    assert sorted(BREAKS) == sorted(rule.id for rule in PROTOCOL.spec.rules)


@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_breaking_one_rule_yields_exactly_that_finding(rule: str) -> None:
    assert rules(BREAKS[rule]) == [rule]


def test_every_message_type_has_a_schema_rule() -> None:
    assert sorted(PROTOCOL.spec.schemas) == sorted(
        ["message_start", "message_delta", "message_end", "error"]
    )
    for kind in PROTOCOL.spec.schemas:
        PROTOCOL.spec.rule(f"{NAME}.schema.{kind}")


def test_an_sse_stream_to_a_client_that_asked_for_ndjson_breaks_negotiation() -> None:
    assert rules(sse_of(GOOD, request=NDJSON_REQUEST)) == ["message-stream.http.negotiation"]


def test_an_ndjson_error_status_is_reported_like_a_refused_stream() -> None:
    assert rules(nd_of([], status=500)) == ["sse.http.status"]


def test_ndjson_lines_are_held_to_the_same_message_rules() -> None:
    lines = [nd(START), b"[1]\n", nd({"type": "ping"}), nd({**D1, "delta": 5}), nd(D2), nd(END)]
    found = check(nd_of(lines))
    assert [(f.rule, f.frame) for f in found] == [
        ("message-stream.json", 1),
        ("message-stream.type.unknown", 2),
        ("message-stream.schema.message_delta", 3),
        ("message-stream.content", 5),
    ]


def test_a_non_object_sse_payload_is_a_json_finding_only() -> None:
    assert rules(sse_of([GOOD[0], b"data: [1]\n\n", *GOOD[1:]])) == ["message-stream.json"]


def test_an_unknown_type_under_another_event_name_breaks_both_rules() -> None:
    transcript = sse_of([GOOD[0], sse({"type": "ping"}, event="pong"), *GOOD[1:]])
    assert sorted(rules(transcript)) == ["message-stream.event-name", "message-stream.type.unknown"]


def test_a_message_end_naming_another_message_breaks_the_message_id_rule() -> None:
    transcript = sse_of([*GOOD[:3], sse(with_message(END, id=13))])
    (finding,) = check(transcript)
    assert finding.rule == "message-stream.message-id"
    assert finding.frame == 3
    assert "message_end names message 13, message_start opened 12" in finding.message


def test_absurdly_deep_json_is_a_json_finding_not_a_crash() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    transcript = sse_of([GOOD[0], b"event: message_delta\ndata: " + deep + b"\n\n", *GOOD[1:]])
    assert rules(transcript) == ["message-stream.json"]


def test_the_same_event_is_classified_alike_at_another_frame() -> None:
    event = SSEEvent(json.dumps(D1), "message_delta")
    assert list(PROTOCOL.event_rules(event, 1)) == []
    msg = PROTOCOL.classify(event, 2, 0.0)
    assert not isinstance(msg, list)
    assert msg.frame == 2
    broken = SSEEvent("{", "message_delta")
    assert list(PROTOCOL.event_rules(broken, 1)) == []
    findings = PROTOCOL.classify(broken, 4, 0.0)
    assert isinstance(findings, list)
    assert [f.frame for f in findings] == [4]


def test_consistency_rules_skip_what_they_cannot_compare() -> None:
    # No chat id in the URL, an end before any start, a message that is not an object.
    bare = sse_of(
        [sse(with_message(END, id=99, content="")), sse({"type": "message_start", "message": 5})],
        request=Request("POST", "/elsewhere"),
    )
    assert rules(bare) == [
        "message-stream.order",
        "message-stream.schema.message_start",
        "message-stream.terminal.missing",
    ]


def test_findings_name_the_frame_and_quote_the_excerpt() -> None:
    (finding,) = check(BREAKS["message-stream.message-id"])
    assert finding.frame == 1
    assert "names message 13, message_start opened 12" in finding.message
    assert finding.excerpt is not None
    assert '"message_id": 13' in finding.excerpt


def test_no_response_means_no_negotiation_finding() -> None:
    header = Header(NAME, "sse", NDJSON_REQUEST)
    assert list(PROTOCOL.http_rules(Transcript(header))) == []


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2025-01-01T12:00:00Z", True),
        ("2025-01-01T12:00:00.123456", True),
        ("2025-01-01T12:00:00,5+05:30", True),
        ("2025-01-01T12:00", True),
        ("2025-13-01T12:00:00Z", False),
        ("2025-01-01 12:00:00", False),
        ("2025-01-01", False),
        ("1735732800", False),
    ],
)
def test_created_at_must_be_an_iso_8601_date_time(text: str, ok: bool) -> None:
    assert is_iso_datetime(text) is ok


# --- the server side ----------------------------------------------------------------------


def store() -> ChatStore:
    state = PROTOCOL.new_state(Settings(clock=lambda: CLOCK))
    assert isinstance(state, ChatStore)
    return state


def stream_request(
    chat: str = "7", body: bytes = b'{"content":"Hi"}', accept: str = "text/event-stream"
) -> HttpRequest:
    path = f"/api/web/v1/chats/{chat}/messages/stream"
    headers = {"content-type": "application/json", "accept": accept}
    return HttpRequest("POST", path, headers=headers, body=body, path_params={"chat_id": chat})


def accepted(request: HttpRequest, state: ChatStore) -> Accepted:
    answer = PROTOCOL.accept(request, state)
    assert isinstance(answer, Accepted), answer
    return answer


def rendered(script: Script, ndjson: bool, state: ChatStore, chat: str = "7") -> Transcript:
    """What the server streams for ``script``, recorded as the transcript a client would make."""
    accept = "application/x-ndjson" if ndjson else "text/event-stream"
    request = stream_request(chat, accept=accept)
    answer = accepted(request, state)
    outs = PROTOCOL.render(script, answer.turn, state)
    assert [o.terminal for o in outs] == [False] * (len(outs) - 1) + [True]
    PROTOCOL.finish(answer.turn, script, state, completed=True)
    wire = Request("POST", request.path, tuple(request.headers.items()), request.body)
    return sse_transcript(
        NAME,
        [o.payload for o in outs if isinstance(o.payload, bytes)],
        request=wire,
        headers=answer.headers,
    )


def body_of(transcript: Transcript) -> bytes:
    return b"".join(f.payload for _, f in transcript.frames() if isinstance(f.payload, bytes))


def events_of(transcript: Transcript) -> list[Any]:
    """The JSON of every SSE data line."""
    lines = body_of(transcript).decode().splitlines()
    return [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data: ")]


def rechunked(transcript: Transcript, size: int) -> Transcript:
    """The same exchange with the body cut into ``size``-byte chunks."""
    data = body_of(transcript)
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    assert transcript.header.response is not None
    headers = transcript.header.response.headers
    return sse_transcript(NAME, chunks, request=transcript.header.request, headers=headers)


def reassemble(transcript: Transcript, ndjson: bool, whole: bool = False) -> list[Update]:
    client = PROTOCOL.client(ClientOptions("Hi", chat="7", ndjson=ndjson))
    data = body_of(transcript)
    chunks = [data] if whole else [data[i : i + 1] for i in range(len(data))]
    return [update for chunk in chunks for update in client.feed(chunk)]


TOOL = ToolCall("lookup", {"q": "x"}, output="42", after=1)
SCRIPTS = {
    "default": default_reply("hello there"),
    "tool": Script((Token("a"), Token("b")), tool=TOOL),
    "error-before-start": Script((Token("a"),), error=FailurePoint("no model", after=0)),
    "error-mid-stream": Script((Token("a"), Token("b")), error=FailurePoint("boom", after=1)),
    "empty": Script(()),
}


@pytest.mark.parametrize("ndjson", [False, True], ids=["sse", "ndjson"])
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_rendered_script_passes_and_reassembles(name: str, ndjson: bool) -> None:
    script = SCRIPTS[name]
    transcript = rendered(script, ndjson, store())
    assert check(transcript) == []
    updates = reassemble(transcript, ndjson)
    assert "".join(u.text for u in updates) == script.text
    assert [u.done for u in updates].count(True) == 1
    assert updates[-1].done
    errors = [u.error for u in updates if u.error]
    assert errors == ([script.error.message] if script.error else [])


@settings(max_examples=40, deadline=None)
@given(
    tokens=st.lists(st.text(min_size=1, max_size=6), max_size=6),
    ndjson=st.booleans(),
    cut=st.integers(min_value=1, max_value=7),
)
def test_any_reply_passes_and_reassembles_however_it_is_chunked(
    tokens: list[str], ndjson: bool, cut: int
) -> None:
    script = Script(tuple(Token(t) for t in tokens))
    transcript = rendered(script, ndjson, store())
    assert check(rechunked(transcript, cut)) == []
    assert "".join(u.text for u in reassemble(transcript, ndjson)) == script.text


def test_the_stream_carries_fastapi_style_messages() -> None:
    state = store()
    script = Script((Token("Hel", 10.0), Token("lo", 15.4)), tool=TOOL)
    events = events_of(rendered(script, False, state))
    assert [e["type"] for e in events] == [
        "message_start",
        "message_delta",
        "message_delta",
        "message_end",
    ]
    assert events[0]["message"] == {
        "id": 2,
        "chat_id": 7,
        "role": "assistant",
        "content": "",
        "created_at": STAMP,
    }
    assert events[1] == {"type": "message_delta", "message_id": 2, "delta": "Hel"}
    assert events[3]["message"]["metadata"] == {
        "model": "streamctl-mock",
        "tokens": 2,
        "processingTime": 25,
        "thinkingText": 'Called lookup({"q":"x"}) -> 42',
        "hasThinkingProcess": True,
    }


def test_a_script_error_ends_the_stream_with_a_stream_error() -> None:
    state = store()
    failure = {"type": "error", "error": {"message": "no model", "code": "stream_error"}}
    # Before the reply starts there is no message to open: the error is the only event.
    assert events_of(rendered(SCRIPTS["error-before-start"], False, state)) == [failure]
    mid = events_of(rendered(SCRIPTS["error-mid-stream"], False, state))
    assert [e["type"] for e in mid] == ["message_start", "message_delta", "error"]
    assert mid[-1]["error"] == {"message": "boom", "code": "stream_error"}


def test_render_paces_deltas_and_numbers_their_tokens() -> None:
    state = store()
    turn = accepted(stream_request(), state).turn
    outs = PROTOCOL.render(Script((Token("a", 5.0), Token("b", 7.0))), turn, state)
    assert [(o.delay_ms, o.token, o.terminal) for o in outs] == [
        (0.0, None, False),
        (5.0, 0, False),
        (7.0, 1, False),
        (0.0, None, True),
    ]


def test_accept_answers_sse_or_ndjson_by_the_accept_header() -> None:
    state = store()
    sse_headers = dict(accepted(stream_request(), state).headers)
    assert sse_headers["content-type"] == "text/event-stream; charset=utf-8"
    assert sse_headers["cache-control"] == "no-cache"
    assert "content-length" not in sse_headers
    nd_headers = dict(accepted(stream_request(accept="application/x-ndjson"), state).headers)
    assert nd_headers == {"content-type": "application/x-ndjson", "cache-control": "no-cache"}


@pytest.mark.parametrize(
    ("accept", "ndjson"),
    [
        (None, False),
        ("*/*", False),
        ("text/event-stream", False),
        ("application/x-ndjson", True),
        ("Application/X-NDJSON; charset=utf-8", True),
        ("text/event-stream, application/x-ndjson", False),
        ("application/x-ndjson, text/event-stream", True),
        ("application/x-ndjson;q=0.5, text/event-stream", False),
        ("text/event-stream;q=0.1, application/x-ndjson", True),
        ("application/x-ndjson;q=0", False),
        ("application/x-ndjson;q=high", False),
    ],
)
def test_accept_negotiation_follows_rfc_9110_weights(accept: str | None, ndjson: bool) -> None:
    assert wants_ndjson(accept) is ndjson


def test_the_user_message_is_stored_at_once_and_the_reply_when_it_ends() -> None:
    state = store()
    answer = accepted(stream_request(body='{"content":"Привет"}'.encode()), state)
    assert answer.turn.user_text == "Привет"
    assert (answer.turn.index, answer.turn.conversation) == (0, "7")
    assert answer.turn.ids["message_id"] == 2
    user = {"id": 1, "chat_id": 7, "role": "user", "content": "Привет", "created_at": STAMP}
    assert history(state, "7") == (200, [user])
    script = from_text("Hi there")
    PROTOCOL.finish(answer.turn, script, state, completed=True)
    _, messages = history(state, "7")
    assert [m["id"] for m in messages] == [1, 2]
    assert messages[1]["content"] == "Hi there"
    assert messages[1]["metadata"]["tokens"] == 2


@pytest.mark.parametrize(
    "script", [from_text("cut short"), Script((Token("a"),), error=FailurePoint("x", 1))]
)
def test_no_assistant_message_is_stored_when_the_reply_did_not_end(script: Script) -> None:
    state = store()
    turn = accepted(stream_request(), state).turn
    PROTOCOL.finish(turn, script, state, completed=script.error is not None)
    assert [m["role"] for m in history(state, "7")[1]] == ["user"]


def test_turns_count_earlier_user_messages_per_chat() -> None:
    state = store()
    for reply in ("one", "two"):
        assert check(rendered(from_text(reply), False, state)) == []
    third = accepted(stream_request(), state).turn
    other = accepted(stream_request("8"), state).turn
    assert (third.index, other.index) == (2, 0)
    roles = [(m["id"], m["role"], m["content"]) for m in history(state, "7")[1]]
    assert roles == [
        (1, "user", "Hi"),
        (2, "assistant", "one"),
        (3, "user", "Hi"),
        (4, "assistant", "two"),
        (5, "user", "Hi"),
    ]


def test_a_request_built_without_path_params_reads_the_path() -> None:
    state = store()
    request = HttpRequest("POST", "/api/web/v1/chats/42/messages/stream", body=b'{"content":"x"}')
    assert accepted(request, state).turn.conversation == "42"


INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"


def refusal(answer: HttpResponse | Accepted, status: int = 422) -> Any:
    assert isinstance(answer, HttpResponse), answer
    assert answer.status == status
    assert dict(answer.headers)["content-type"] == "application/json"
    return json.loads(answer.body)


def test_a_non_integer_chat_id_is_refused_like_fastapi() -> None:
    body = refusal(PROTOCOL.accept(stream_request("abc"), store()))
    assert body == {
        "detail": [
            {"type": "int_parsing", "loc": ["path", "chat_id"], "msg": INT_PARSING, "input": "abc"}
        ]
    }


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}),
        (
            b"[1]",
            {
                "type": "model_attributes_type",
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": [1],
            },
        ),
        (
            b'{"text":"hi"}',
            {
                "type": "missing",
                "loc": ["body", "content"],
                "msg": "Field required",
                "input": {"text": "hi"},
            },
        ),
        (
            b'{"content":5}',
            {
                "type": "string_type",
                "loc": ["body", "content"],
                "msg": "Input should be a valid string",
                "input": 5,
            },
        ),
        (
            b'{"content":""}',
            {
                "type": "string_too_short",
                "loc": ["body", "content"],
                "msg": "String should have at least 1 character",
                "input": "",
                "ctx": {"min_length": 1},
            },
        ),
        (
            b'{"content":',
            {
                "type": "json_invalid",
                "loc": ["body", 11],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": "Expecting value"},
            },
        ),
    ],
)
def test_a_bad_body_is_refused_like_fastapi(body: bytes, error: dict[str, Any]) -> None:
    state = store()
    assert refusal(PROTOCOL.accept(stream_request(body=body), state)) == {"detail": [error]}
    assert state.chats == {}  # nothing was stored


def test_path_and_body_errors_are_reported_together_path_first() -> None:
    answer = refusal(PROTOCOL.accept(stream_request("x", b'{"content":""}'), store()))
    assert [e["loc"] for e in answer["detail"]] == [["path", "chat_id"], ["body", "content"]]


def test_a_json_syntax_error_is_reported_before_the_path() -> None:
    answer = refusal(PROTOCOL.accept(stream_request("x", b"{"), store()))
    assert [e["type"] for e in answer["detail"]] == ["json_invalid"]


def test_a_body_that_is_not_utf8_is_a_400_like_fastapi() -> None:
    answer = refusal(PROTOCOL.accept(stream_request(body=b'{"content":"\xff"}'), store()), 400)
    assert answer == {"detail": "There was an error parsing the body"}


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12", 12),
        (" 12 ", 12),
        ("+3", 3),
        ("-4", -4),
        ("1_000", 1000),
        ("3.00", 3),
        ("1.5", None),
        ("1__0", None),
        ("١٢", None),
        ("", None),
        ("abc", None),
    ],
)
def test_integers_are_read_like_pydantic_lax_mode(text: str, number: int | None) -> None:
    assert parse_int(text) == number


# --- history routes -----------------------------------------------------------------------


def call(method: str, path: str, state: ChatStore, **params: str) -> HttpResponse:
    route = next(r for r in PROTOCOL.routes() if r.endpoint.method == method)
    return route.handle(HttpRequest(method, path, path_params=params), state)


def history(state: ChatStore, chat: str) -> tuple[int, Any]:
    answer = call("GET", f"/api/web/v1/chats/{chat}/messages", state, chat_id=chat)
    return answer.status, json.loads(answer.body)


def delete(state: ChatStore, chat: str, message_id: str) -> HttpResponse:
    path = f"/api/web/v1/chats/{chat}/messages/{message_id}"
    return call("DELETE", path, state, chat_id=chat, message_id=message_id)


def test_history_lists_what_the_stream_sent_oldest_first() -> None:
    state = store()
    transcript = rendered(from_text("Hello there"), False, state)
    end = events_of(transcript)[-1]
    status, messages = history(state, "7")
    assert status == 200
    assert messages[1] == end["message"]
    assert [m["role"] for m in messages] == ["user", "assistant"]


def test_a_chat_never_used_has_an_empty_history() -> None:
    assert history(store(), "99") == (200, [])


def test_history_of_a_non_integer_chat_is_422() -> None:
    status, body = history(store(), "abc")
    assert status == 422
    assert body["detail"][0]["loc"] == ["path", "chat_id"]


def test_delete_removes_a_message_and_answers_204_empty() -> None:
    state = store()
    rendered(from_text("Hello"), False, state)
    answer = delete(state, "7", "1")
    assert (answer.status, answer.body) == (204, b"")
    assert [m["id"] for m in history(state, "7")[1]] == [2]
    # The next turn counts the user messages that are left.
    assert accepted(stream_request(), state).turn.index == 0


@pytest.mark.parametrize(("chat", "message_id"), [("7", "5"), ("8", "1"), ("9", "1")])
def test_delete_of_an_unknown_message_is_404(chat: str, message_id: str) -> None:
    state = store()
    rendered(from_text("Hello"), False, state)
    accepted(stream_request("8"), state)
    answer = delete(state, chat, message_id)
    assert answer.status == 404
    assert json.loads(answer.body) == {"detail": "Message not found"}
    assert 9 not in state.chats


def test_delete_with_non_integer_ids_is_422_for_each() -> None:
    answer = delete(store(), "a", "b")
    assert answer.status == 422
    assert [(e["loc"], e["input"]) for e in json.loads(answer.body)["detail"]] == [
        (["path", "chat_id"], "a"),
        (["path", "message_id"], "b"),
    ]


def test_timestamps_come_from_the_injected_clock() -> None:
    assert iso(CLOCK) == STAMP
    assert iso(CLOCK + 0.25) == "2025-01-01T12:00:00.250000Z"


# --- the client side ----------------------------------------------------------------------


def test_the_client_posts_the_content_as_json_to_the_chat() -> None:
    request = PROTOCOL.client(ClientOptions("Hi", headers=(("x-trace", "1"),))).request()
    assert (request.method, request.target) == ("POST", "/api/web/v1/chats/1/messages/stream")
    assert request.headers == (
        ("content-type", "application/json"),
        ("accept", "text/event-stream"),
        ("x-trace", "1"),
    )
    assert json.loads(request.body or b"") == {"content": "Hi"}


def test_the_client_asks_for_ndjson_and_quotes_the_chat_id() -> None:
    request = PROTOCOL.client(ClientOptions("Hi", chat="a/b", ndjson=True)).request()
    assert request.target == "/api/web/v1/chats/a%2Fb/messages/stream"
    assert ("accept", "application/x-ndjson") in request.headers


@pytest.mark.parametrize(
    ("data", "update"),
    [
        ("not json", Update(info="ignored a non-JSON message: 'not json'")),
        ("[1]", Update(info="ignored a non-object message: '[1]'")),
        ('{"type":"ping"}', Update(info="ignored a message of type 'ping'")),
        ('{"type":"message_delta","delta":5}', Update()),
        (json.dumps(START), Update(info="assistant message 12 started")),
        ('{"type":"message_start","message":null}', Update(info="assistant message None started")),
        (json.dumps(END), Update(done=True)),
        ('{"type":"error","error":"boom"}', Update(done=True, error="boom")),
        (json.dumps(ERROR), Update(done=True, error="model overloaded")),
    ],
)
def test_the_client_never_raises_on_what_it_reads(data: str, update: Update) -> None:
    client = PROTOCOL.client(ClientOptions("Hi"))
    assert client.on_event(SSEEvent(data)) == update


def test_the_client_shows_thinking_text_from_a_tool_round() -> None:
    updates = reassemble(rendered(SCRIPTS["tool"], True, store()), True, whole=True)
    assert updates[-1] == Update(done=True, info='thinking: Called lookup({"q":"x"}) -> 42')


def test_the_ndjson_decoder_reports_what_it_drops_or_repairs() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a":1}\r\n\n{"b":"\xff"}\n{"c"') == ['{"a":1}', '{"b":"\ufffd"}']
    decoder.close()
    assert [(p.code, p.line) for p in decoder.problems] == [
        ("invalid-utf8", 3),
        ("incomplete-line", 4),
    ]
    decoder.close()  # nothing left: nothing more to report
    assert len(decoder.problems) == 2
