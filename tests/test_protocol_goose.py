"""goose: the reference's streams pass; each rule has a transcript that breaks only it; the mock
streams every script shape like goosed, refuses like goosed, and keeps session history."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from streamctl.core.check import check
from streamctl.core.protocols import get, names
from streamctl.core.protocols.exchange import (
    Accepted,
    ClientOptions,
    HttpRequest,
    HttpResponse,
    Settings,
    Turn,
)
from streamctl.core.protocols.goose import PROTOCOL, Goose
from streamctl.core.protocols.goose.client import GooseClient
from streamctl.core.protocols.goose.state import GooseSettings, GooseState
from streamctl.core.script import FailurePoint, Script, Token, ToolCall, default_reply
from streamctl.core.sse import SSEEvent
from streamctl.core.transcript import End, Frame, Header, Record, Request, Response, Transcript
from tests.builders import SSE_HEADERS, sse_transcript

NAME = "goose"
NOW = 1754402400.0
SETTINGS = Settings(clock=lambda: NOW)
SETTINGS_E = Settings(clock=lambda: NOW, protocols={"goose": GooseSettings(variant="e")})
STREAM = (("content-type", "text/event-stream"), ("cache-control", "no-cache"))
JSON_HEADERS = {"content-type": "application/json", "x-secret-key": "test"}


def ev(obj: object) -> bytes:
    return f"data: {json.dumps(obj, separators=(',', ':'))}\n\n".encode()


def message(content: list[Any], id: str | None = "chatcmpl-1", role: str = "assistant") -> dict:  # type: ignore[type-arg]
    return {"id": id, "role": role, "created": 1754402401, "content": content}


def text(t: str, id: str = "chatcmpl-1") -> bytes:
    return ev({"type": "Message", "message": message([{"type": "text", "text": t}], id)})


def tool_request(call: str, role: str = "assistant") -> bytes:
    value = {"name": "developer__shell", "arguments": {"command": "ls"}}
    item = {"type": "toolRequest", "id": call, "toolCall": {"status": "success", "value": value}}
    return ev({"type": "Message", "message": message([item], role=role)})


def tool_response(call: str, role: str = "user") -> bytes:
    result = {"status": "success", "value": [{"type": "text", "text": "README.md\n"}]}
    item = {"type": "toolResponse", "id": call, "toolResult": result}
    return ev({"type": "Message", "message": message([item], "msg_1", role)})


def notification(call: str) -> bytes:
    params = {"level": "info", "data": {"type": "shell", "stream": "stdout", "output": "x\n"}}
    body = {"method": "notifications/message", "params": params}
    return ev({"type": "Notification", "request_id": call, "message": body})


PING = ev({"type": "Ping"})
FINISH = ev({"type": "Finish", "reason": "stop"})
ERROR = ev({"type": "Error", "error": "boom"})
GOOD = [PING, text("Hel"), text("lo"), FINISH]

# --- variant e (v1.18+): token_state and metadata ----------------------------------------------

TOKENS = dict.fromkeys(
    (
        "inputTokens",
        "outputTokens",
        "totalTokens",
        "accumulatedInputTokens",
        "accumulatedOutputTokens",
        "accumulatedTotalTokens",
    ),
    0,
)
VISIBLE = {"userVisible": True, "agentVisible": True}
E_BODY = json.dumps(
    {
        "session_id": "20260115_1",
        "user_message": {
            "id": "0194f0b2",
            "role": "user",
            "created": 1768471200,
            "content": [{"type": "text", "text": "List the files here"}],
            "metadata": VISIBLE,
        },
    }
).encode()
E_REQUEST = Request("POST", "/reply", (("content-type", "application/json"),), E_BODY)
E_TEXT = ev(
    {
        "type": "Message",
        "message": {**message([{"type": "text", "text": "Hi"}]), "metadata": VISIBLE},
        "token_state": TOKENS,
    }
)
E_FINISH = ev({"type": "Finish", "reason": "stop", "token_state": TOKENS})


def rules_of(transcript: Transcript) -> list[str]:
    return [f.rule for f in check(transcript)]


def chunks_of(*chunks: bytes, **kw: Any) -> Transcript:
    return sse_transcript(NAME, list(chunks), **kw)


# --- the reference's streams ------------------------------------------------------------------

# goose-protocol.md §10.1: era B (≈v1.3-v1.7), a tool call, verbatim.
REF_TOOL_ROUND = b"".join(
    b"data: " + line + b"\n\n"
    for line in (
        b'{"type":"Ping"}',
        b'{"type":"Message","message":{"id":"chatcmpl-C7kQ","role":"assistant",'
        b'"created":1754402401,"content":[{"type":"text","text":"Let me"}]}}',
        b'{"type":"Message","message":{"id":"chatcmpl-C7kQ","role":"assistant",'
        b'"created":1754402401,"content":[{"type":"text","text":" check."}]}}',
        b'{"type":"Message","message":{"id":"chatcmpl-C7kQ","role":"assistant",'
        b'"created":1754402401,"content":[{"type":"toolRequest","id":"call_Q2fT1",'
        b'"toolCall":{"status":"success","value":{"name":"developer__shell",'
        b'"arguments":{"command":"ls"}}}}]}}',
        b'{"type":"Ping"}',
        b'{"type":"Notification","request_id":"call_Q2fT1","message":{'
        b'"method":"notifications/message","params":{"level":"info","data":{"type":"shell",'
        b'"stream":"stdout","output":"README.md\\n"}}}}',
        b'{"type":"Message","message":{"id":"msg_5b1d0e7a-2f7c-4c61-9a57-0c8c1c7b8f21",'
        b'"role":"user","created":1754402402,"content":[{"type":"toolResponse",'
        b'"id":"call_Q2fT1","toolResult":{"status":"success","value":[{"type":"text",'
        b'"text":"README.md\\nsrc\\n","annotations":{"audience":["assistant"]}},'
        b'{"type":"text","text":"README.md\\nsrc\\n","annotations":{"audience":["user"],'
        b'"priority":0.0}}]}}]}}',
        b'{"type":"Ping"}',
        b'{"type":"Message","message":{"id":"chatcmpl-C7kR","role":"assistant",'
        b'"created":1754402403,"content":[{"type":"text",'
        b'"text":"There is a README.md and a src/ directory."}]}}',
        b'{"type":"Finish","reason":"stop"}',
    )
)
REF_TOOL_REQUEST = Request(
    "POST",
    "/reply",
    (("content-type", "application/json"), ("x-secret-key", "test")),
    b'{"messages":[{"role":"user","created":1754402400,"content":[{"type":"text",'
    b'"text":"What files are here?"}]}],"session_id":"atlas-demo",'
    b'"session_working_dir":"/home/me/project"}',
)
# §10.3: era D/E, a provider error turned into text, with token_state and metadata.
REF_PROVIDER_ERROR = (
    b'data: {"type":"Ping"}\n\n'
    b'data: {"type":"Message","message":{"id":null,"role":"assistant","created":1765000000,'
    b'"content":[{"type":"text","text":"Ran into this error: Authentication error: invalid '
    b'x-api-key.\\n\\nPlease retry if you think this is a transient or recoverable error."}],'
    b'"metadata":{"userVisible":true,"agentVisible":true}},"token_state":{"inputTokens":0,'
    b'"outputTokens":0,"totalTokens":0,"accumulatedInputTokens":0,"accumulatedOutputTokens":0,'
    b'"accumulatedTotalTokens":0}}\n\n'
    b'data: {"type":"Finish","reason":"stop","token_state":{"inputTokens":0,"outputTokens":0,'
    b'"totalTokens":0,"accumulatedInputTokens":0,"accumulatedOutputTokens":0,'
    b'"accumulatedTotalTokens":0}}\n\n'
)
REFERENCE = {
    "§10.1 tool round": chunks_of(REF_TOOL_ROUND, request=REF_TOOL_REQUEST),
    "§10.2 no provider": chunks_of(b'data: {"type":"Error","error":"Provider not set"}\n\n'),
    "§10.3 provider error as text": chunks_of(REF_PROVIDER_ERROR, request=E_REQUEST),
    "§10.4 unknown session": chunks_of(
        b'data: {"type":"Error","error":"Failed to read session: Session not found"}\n\n'
    ),
    "§6.3 ModelChange, UpdateConversation": chunks_of(
        PING,
        ev({"type": "ModelChange", "model": "gpt-4o-mini", "mode": "worker"}),
        ev({"type": "UpdateConversation", "conversation": [message([], "msg_1", "user")]}),
        *GOOD[1:],
    ),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_the_references_streams_have_no_findings(name: str) -> None:
    assert check(REFERENCE[name]) == []


def test_the_tool_round_split_into_single_bytes_has_no_findings() -> None:
    data = REF_TOOL_ROUND
    pieces = [data[i : i + 1] for i in range(len(data))]
    assert check(chunks_of(*pieces)) == []


def test_goose_is_registered_first() -> None:
    assert get(NAME) is PROTOCOL
    assert isinstance(PROTOCOL, Goose)
    assert names()[0] == NAME


# --- every rule broken alone ------------------------------------------------------------------


def _timed(*frames: tuple[float, bytes]) -> Transcript:
    records: list[Record] = [Frame(t, "server", data) for t, data in frames]
    records.append(End(frames[-1][0], "complete"))
    return Transcript(
        Header(NAME, "sse", Request("POST", "/reply"), Response(200, STREAM)), tuple(records)
    )


BREAKS: dict[str, Transcript] = {
    "sse.http.status": chunks_of(status=500),
    "sse.http.content-type": chunks_of(
        *GOOD, headers=(("content-type", "application/json"), ("cache-control", "no-cache"))
    ),
    "sse.http.no-content-length": chunks_of(*GOOD, headers=(*SSE_HEADERS, ("content-length", "9"))),
    "sse.http.cache-control": chunks_of(*GOOD, headers=(("content-type", "text/event-stream"),)),
    "sse.utf8": chunks_of(PING, text("Hel").replace(b"Hel", b"\xff"), FINISH),
    "sse.incomplete-event": chunks_of(*GOOD, b'data: {"type":"Ping"}'),
    "sse.retry-digits": chunks_of(b"retry: soon\n" + PING, *GOOD[1:]),
    "sse.id-nul": chunks_of(b"id: a\x00b\n" + PING, *GOOD[1:]),
    "sse.unknown-field": chunks_of(b"foo: bar\n" + PING, *GOOD[1:]),
    "sse.event-without-data": chunks_of(PING, b"event: x\n\n", *GOOD[1:]),
    "goose.frame.fields": chunks_of(PING, b"event: Message\n" + text("Hel"), *GOOD[2:]),
    "goose.frame.one-line": chunks_of(b'data: {"type":\ndata: "Ping"}\n\n', *GOOD[1:]),
    "goose.frame.comment": chunks_of(PING, b": keep-alive\n\n", *GOOD[1:]),
    "goose.json": chunks_of(PING, b"data: {nope\n\n", *GOOD[1:]),
    "goose.type.missing": chunks_of(PING, ev({"kind": "Ping"}), *GOOD[1:]),
    "goose.type.unknown": chunks_of(PING, ev({"type": "Pong"}), *GOOD[1:]),
    "goose.type.first": chunks_of(*GOOD[:3], ev({"reason": "stop", "type": "Finish"})),
    "goose.schema.Message": chunks_of(
        PING, ev({"type": "Message", "message": {**message([]), "role": "robot"}}), *GOOD[1:]
    ),
    "goose.schema.Notification": chunks_of(
        PING, ev({"type": "Notification", "request_id": 5, "message": {"method": "m"}}), *GOOD[1:]
    ),
    "goose.schema.ModelChange": chunks_of(
        PING, ev({"type": "ModelChange", "model": "gpt-4o", "mode": "boss"}), *GOOD[1:]
    ),
    "goose.schema.Error": chunks_of(*GOOD[:2], ev({"type": "Error", "error": None}), FINISH),
    "goose.schema.Finish": chunks_of(*GOOD[:3], ev({"type": "Finish"})),
    "goose.schema.UpdateConversation": chunks_of(
        PING, ev({"type": "UpdateConversation", "conversation": "all"}), *GOOD[1:]
    ),
    "goose.content.item": chunks_of(
        PING, ev({"type": "Message", "message": message([{"type": "text"}])}), *GOOD[1:]
    ),
    "goose.order": chunks_of(*GOOD[:2], ERROR, text("lo"), FINISH),
    "goose.finish.missing": chunks_of(*GOOD[:3]),
    "goose.finish.last": chunks_of(*GOOD, PING),
    "goose.finish.reason": chunks_of(*GOOD[:3], ev({"type": "Finish", "reason": "error"})),
    "goose.ping.first": chunks_of(*GOOD[1:]),
    "goose.ping.interval": _timed((0.0, b"".join(GOOD[:3])), (1500.0, FINISH)),
    "goose.message.round-id": chunks_of(PING, text("Hel"), text("lo", "chatcmpl-2"), FINISH),
    "goose.tool.response-without-request": chunks_of(PING, tool_response("call_9"), FINISH),
    "goose.tool.role": chunks_of(
        PING, tool_request("call_1"), tool_response("call_1", role="assistant"), FINISH
    ),
    "goose.notification.pending": chunks_of(PING, notification("call_1"), FINISH),
    "goose.token-state.required": chunks_of(PING, E_TEXT, FINISH, request=E_REQUEST),
    "goose.metadata.required": chunks_of(
        PING,
        ev({"type": "Message", "message": message([]), "token_state": TOKENS}),
        E_FINISH,
        request=E_REQUEST,
    ),
}


def test_every_rule_has_a_breaking_transcript() -> None:
    assert sorted(BREAKS) == sorted(rule.id for rule in PROTOCOL.spec.rules)


@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_breaking_one_rule_yields_exactly_that_finding(rule: str) -> None:
    assert rules_of(BREAKS[rule]) == [rule]


def test_every_schema_with_fields_has_its_rule() -> None:
    for kind, shape in PROTOCOL.spec.schemas.items():
        assert (f"goose.schema.{kind}" in BREAKS) == bool(shape.fields), kind


# --- the checker, beyond one rule at a time ---------------------------------------------------


def test_a_variant_e_stream_with_all_its_fields_passes() -> None:
    assert check(chunks_of(PING, E_TEXT, E_FINISH, request=E_REQUEST)) == []


@pytest.mark.parametrize(
    "body", [None, b"{not json", b"[1]", b'{"messages":[]}', b"[" * 5000 + b"]" * 5000]
)
def test_token_state_is_only_required_for_user_message_requests(body: bytes | None) -> None:
    request = Request("POST", "/reply", (), body)
    assert check(chunks_of(*GOOD, request=request)) == []


def test_a_valid_id_or_retry_line_is_a_framing_finding() -> None:
    transcript = chunks_of(b"id: 7\n" + PING, b"retry: 10\n" + text("Hel"), *GOOD[2:])
    assert rules_of(transcript) == ["goose.frame.fields", "goose.frame.fields"]


def test_comments_are_one_finding_however_many_and_wherever() -> None:
    transcript = chunks_of(b": a\n\n", *GOOD[:2], b": b\n: c\n\n", *GOOD[2:], b": d\n\n")
    (finding,) = check(transcript)
    assert (finding.rule, finding.message) == (
        "goose.frame.comment",
        "the stream has 4 SSE comment line(s)",
    )


def test_a_stream_left_hanging_without_pings_is_reported() -> None:
    hanging = _timed((0.0, b"".join(GOOD[:3])), (5000.0, b""))
    assert rules_of(hanging) == ["goose.finish.missing", "goose.ping.interval"]
    alive = _timed((0.0, b"".join(GOOD[:3])), (900.0, b""))
    assert rules_of(alive) == ["goose.finish.missing"]


def test_an_empty_stream_is_only_incomplete() -> None:
    assert rules_of(chunks_of()) == ["goose.finish.missing"]


def test_an_early_error_needs_no_pings_however_long_the_wait() -> None:
    assert check(_timed((3000.0, ERROR))) == []


def test_tool_rules_follow_calls_through_the_stream() -> None:
    answered_twice = chunks_of(
        PING, tool_request("call_1"), tool_response("call_1"), tool_response("call_1"), FINISH
    )
    assert rules_of(answered_twice) == ["goose.tool.response-without-request"]
    late_notice = chunks_of(
        PING, tool_request("call_1"), tool_response("call_1"), notification("call_1"), FINISH
    )
    assert rules_of(late_notice) == ["goose.notification.pending"]
    asked_by_user = chunks_of(
        PING, tool_request("call_1", role="user"), tool_response("call_1"), FINISH
    )
    assert rules_of(asked_by_user) == ["goose.tool.role"]


def test_round_ids_reset_after_tool_results_and_ignore_non_text_messages() -> None:
    thinking = {"type": "thinking", "thinking": "hm", "signature": "s"}
    transcript = chunks_of(
        PING,
        text("a", "r1"),
        ev({"type": "Message", "message": message([thinking], "other")}),
        ev({"type": "Message", "message": message([], "empty")}),
        ev(
            {
                "type": "Message",
                "message": message([{"type": "text", "text": "x"}, thinking], "mix"),
            }
        ),
        tool_request("call_1"),
        tool_response("call_1"),
        text("b", "r2"),
        FINISH,
    )
    assert check(transcript) == []


def test_a_message_that_breaks_its_schema_is_not_checked_further() -> None:
    broken = ev({"type": "Message", "message": {**message([{"type": "text"}]), "role": "x"}})
    assert rules_of(chunks_of(PING, broken, FINISH)) == ["goose.schema.Message"]


def _broken_message(**changes: Any) -> bytes:
    return ev({"type": "Message", "message": {**message([]), **changes}})


_BAD_FINISH = ev({"type": "Finish", "reason": 3})
_BAD_NOTIFICATION = ev({"type": "Notification", "request_id": ["c"], "message": {}})
_NEXT_ROUND = [{"type": "text", "text": "b"}]
_OK = {"status": "success", "value": 1}
_CALL = {"type": "toolRequest", "id": "c", "toolCall": _OK}
_ANSWER = {"type": "toolResponse", "id": "c", "toolResult": _OK}


# Each event would break a content rule if its schema held; it does not, so only the schema rule
# speaks (and nothing raises on the odd shapes).
@pytest.mark.parametrize(
    ("chunks", "variant_e", "rule"),
    [
        ((PING, text("a"), _BAD_FINISH), False, "Finish"),
        ((PING, _BAD_NOTIFICATION, FINISH), False, "Notification"),
        ((PING, _broken_message(role="system", content=[_CALL]), FINISH), False, "Message"),
        ((PING, _broken_message(role="x", content=[_ANSWER]), FINISH), False, "Message"),
        (
            (PING, text("a"), _broken_message(id="b", created="x", content=_NEXT_ROUND), FINISH),
            False,
            "Message",
        ),
        (
            (PING, _broken_message(created="x", content=[{"type": "image"}]), FINISH),
            False,
            "Message",
        ),
        ((PING, _broken_message(content=[1, {"type": 2}]), FINISH), False, "Message"),
        ((PING, _broken_message(content="text"), FINISH), False, "Message"),
        ((PING, ev({"type": "Message", "message": "hi"}), E_FINISH), True, "Message"),
        ((PING, E_TEXT, ev({"type": "Finish", "reason": None})), True, "Finish"),
    ],
)
def test_content_rules_skip_an_event_whose_schema_failed(
    chunks: tuple[bytes, ...], variant_e: bool, rule: str
) -> None:
    transcript = chunks_of(*chunks, request=E_REQUEST if variant_e else None)
    assert set(rules_of(transcript)) == {f"goose.schema.{rule}"}


# --- the mock: rendering every script shape ---------------------------------------------------


def request_b(
    text: str = "What files are here?",
    *,
    session: str | None = "atlas-demo",
    key: str | None = "test",
    extra: dict[str, Any] | None = None,
    messages: list[dict[str, Any]] | None = None,
) -> HttpRequest:
    user = {"role": "user", "created": 1754402400, "content": [{"type": "text", "text": text}]}
    body: dict[str, Any] = {"messages": [*(messages or []), user], "session_working_dir": "/w"}
    if session is not None:
        body["session_id"] = session
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["x-secret-key"] = key
    return HttpRequest(
        "POST", "/reply", headers=headers, body=json.dumps({**body, **(extra or {})}).encode()
    )


def request_e(text: str = "List the files here", key: str = "test") -> HttpRequest:
    body = json.loads(E_BODY)
    body["user_message"]["content"][0]["text"] = text
    headers = {"content-type": "application/json", "x-secret-key": key}
    return HttpRequest("POST", "/reply", headers=headers, body=json.dumps(body).encode())


def accepted(request: HttpRequest, state: GooseState) -> Accepted:
    answer = PROTOCOL.accept(request, state)
    assert isinstance(answer, Accepted), answer
    return answer


def serve(script: Script, request: HttpRequest, state: GooseState) -> Transcript:
    """Accept, render and record like the server engine (the request kept for the checker)."""
    answer = accepted(request, state)
    outs = PROTOCOL.render(script, answer.turn, state)
    head = Request(request.method, request.path, tuple(request.headers.items()), request.body)
    header = Header(NAME, "sse", head, Response(200, answer.headers))
    records = [Frame(float(i), "server", o.payload) for i, o in enumerate(outs)]
    return Transcript(header, (*records, End(float(len(outs)), "complete")))


def reassemble(transcript: Transcript) -> tuple[str, list[str], bool, list[str]]:
    client = PROTOCOL.client(ClientOptions("m"))
    got, errors, done, infos = "", [], False, []
    for _, frame in transcript.frames():
        assert isinstance(frame.payload, bytes)
        for update in client.feed(frame.payload):
            got += update.text
            errors += [update.error] if update.error else []
            infos += [update.info] if update.info else []
            done = done or update.done
    return got, errors, done, infos


TOOL = ToolCall("developer__shell", {"command": "ls"}, "README.md\n", after=2, id="call_Q2fT1")
AB = (Token("Let"), Token(" me"), Token(" check."))
SCRIPTS = {
    "default reply": default_reply("What files are here?"),
    "tool round mid-reply": Script(AB, tool=TOOL),
    "tool round first": Script(AB, tool=ToolCall("t", after=0)),
    "tool round last": Script(AB, tool=ToolCall("t", after=99)),
    "error before start": Script(AB, tool=TOOL, error=FailurePoint("Provider not set", 0)),
    "error mid-stream": Script(AB, error=FailurePoint("boom", 2)),
    "error after the tool round": Script(
        AB, tool=ToolCall("t", after=1), error=FailurePoint("x", 2)
    ),
    "error where the tool round is": Script(AB, tool=TOOL, error=FailurePoint("x", 2)),
    "error before the tool round": Script(AB, tool=TOOL, error=FailurePoint("x", 1)),
    "no tokens": Script(()),
}


@pytest.mark.parametrize("settings", [SETTINGS, SETTINGS_E], ids=["era-b", "variant-e"])
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_rendered_script_passes_and_reassembles(name: str, settings: Settings) -> None:
    script = SCRIPTS[name]
    state = PROTOCOL.new_state(settings)
    request = request_e() if state.variant_e else request_b()
    transcript = serve(script, request, state)
    assert check(transcript) == []
    got, errors, done, infos = reassemble(transcript)
    early = script.error is not None and script.error.after == 0
    assert (got, done) == (script.text, not early)
    assert errors == ([script.error.message] if script.error else [])
    tool_at = 0 if script.tool is None else min(script.tool.after, len(script.tokens))
    ran = script.tool is not None and not early and tool_at <= len(script.sent_tokens)
    assert any(i.startswith("tool call: ") for i in infos) == ran


def test_the_tool_round_is_goosed_s_shape() -> None:
    state = PROTOCOL.new_state(SETTINGS)
    outs = PROTOCOL.render(Script(AB, tool=TOOL), accepted(request_b(), state).turn, state)
    events = [json.loads(o.payload[len(b"data: ") :]) for o in outs]
    assert [e["type"] for e in events] == [
        "Ping", "Message", "Message", "Message", "Notification", "Message", "Message", "Finish",
    ]  # fmt: skip
    ids = [e["message"]["id"] for e in events if e["type"] == "Message"]
    assert ids[:3] == ["chatcmpl-1-1"] * 3
    assert ids[4] == "chatcmpl-1-2"
    assert ids[3].startswith("msg_")
    assert len(ids[3]) == len("msg_") + 36
    assert events[3]["message"]["content"][0] == {
        "type": "toolRequest",
        "id": "call_Q2fT1",
        "toolCall": {
            "status": "success",
            "value": {"name": "developer__shell", "arguments": {"command": "ls"}},
        },
    }
    assert events[4] == {
        "type": "Notification",
        "request_id": "call_Q2fT1",
        "message": {
            "method": "notifications/message",
            "params": {
                "level": "info",
                "data": {"type": "shell", "stream": "stdout", "output": "README.md\n"},
            },
        },
    }
    assert events[5]["message"]["role"] == "user"
    assert events[5]["message"]["content"][0]["toolResult"] == {
        "status": "success",
        "value": [{"type": "text", "text": "README.md\n"}],
    }
    assert all(e["message"]["created"] == int(NOW) for e in events if e["type"] == "Message")


def test_outs_carry_delays_token_indexes_and_the_terminal_mark() -> None:
    state = PROTOCOL.new_state(SETTINGS)
    script = Script((Token("a", 0), Token("b", 120.0)), error=FailurePoint("x", 2))
    outs = PROTOCOL.render(script, accepted(request_b(), state).turn, state)
    assert [(o.delay_ms, o.token, o.terminal) for o in outs] == [
        (0.0, None, False),
        (0.0, 0, False),
        (120.0, 1, False),
        (0.0, None, False),
        (0.0, None, True),
    ]
    assert outs[0].payload == PROTOCOL.heartbeat == b'data: {"type":"Ping"}\n\n'
    assert PROTOCOL.heartbeat_ms == 500.0


def test_compact_json_keeps_unicode_and_puts_type_first() -> None:
    state = PROTOCOL.new_state(SETTINGS)
    outs = PROTOCOL.render(Script((Token("héllo\n"),)), accepted(request_b(), state).turn, state)
    assert (
        outs[1].payload
        == (
            'data: {"type":"Message","message":{"id":"chatcmpl-1-1","role":"assistant",'
            '"created":1754402400,"content":[{"type":"text","text":"héllo\\n"}]}}\n\n'
        ).encode()
    )


def test_variant_e_events_carry_token_state_metadata_and_a_call_tool_result() -> None:
    state = PROTOCOL.new_state(SETTINGS_E)
    outs = PROTOCOL.render(Script(AB, tool=TOOL), accepted(request_e(), state).turn, state)
    events = [json.loads(o.payload[len(b"data: ") :]) for o in outs]
    messages = [e for e in events if e["type"] == "Message"]
    assert all(e["token_state"] == TOKENS and e["message"]["metadata"] == VISIBLE for e in messages)
    assert events[-1] == {"type": "Finish", "reason": "stop", "token_state": TOKENS}
    result = messages[3]["message"]["content"][0]["toolResult"]["value"]
    assert result == {"content": [{"type": "text", "text": "README.md\n"}], "isError": False}


def test_a_turn_the_mock_did_not_accept_still_renders() -> None:
    state = PROTOCOL.new_state(SETTINGS)
    outs = PROTOCOL.render(Script((Token("a"),)), Turn("hi"), state)
    assert b'"id":"chatcmpl-0-1"' in outs[1].payload
    PROTOCOL.finish(Turn("hi"), Script((Token("a"),)), state, completed=True)
    stored = state.sessions[""]
    assert (stored.working_dir, [m["role"] for m in stored.messages]) == ("/tmp", ["assistant"])


# --- the mock: accepting and refusing like goosed ---------------------------------------------


def answer_to(request: HttpRequest, settings: Settings = SETTINGS) -> HttpResponse | Accepted:
    return PROTOCOL.accept(request, PROTOCOL.new_state(settings))


def refusal(
    body: bytes, settings: Settings = SETTINGS, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    request = HttpRequest("POST", "/reply", headers={**JSON_HEADERS, **(headers or {})}, body=body)
    answer = answer_to(request, settings)
    assert isinstance(answer, HttpResponse), answer
    return answer.status, answer.body.decode()


def test_an_accepted_reply_has_goosed_s_stream_headers() -> None:
    answer = answer_to(request_b())
    assert isinstance(answer, Accepted)
    assert dict(answer.headers) == {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "connection": "keep-alive",
    }
    assert (answer.turn.user_text, answer.turn.index, answer.turn.conversation) == (
        "What files are here?",
        0,
        "atlas-demo",
    )


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml", "json"])
def test_a_body_that_is_not_declared_json_is_415(content_type: str | None) -> None:
    headers = {"x-secret-key": "test"} | ({"content-type": content_type} if content_type else {})
    answer = answer_to(HttpRequest("POST", "/reply", headers=headers, body=b"{}"))
    assert isinstance(answer, HttpResponse)
    assert (answer.status, answer.body) == (
        415,
        b"Expected request with `Content-Type: application/json`",
    )
    assert dict(answer.headers)["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "Application/JSON", "application/vnd.goose+json"],
)
def test_json_content_types_axum_accepts(content_type: str) -> None:
    assert refusal(b"{}", headers={"content-type": content_type})[0] == 422


def test_a_body_over_50_mib_is_413() -> None:
    assert refusal(b" " * (50 * 1024 * 1024 + 1)) == (
        413,
        "Failed to buffer the request body: length limit exceeded",
    )


SYNTAX = "Failed to parse the request body as JSON: "


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "EOF while parsing a value at line 1 column 0"),
        (b'{"messages":', "EOF while parsing a value at line 1 column 12"),
        (b'{"messages":"ab', "EOF while parsing a value at line 1 column 15"),
        (b"{x}", "key must be a string at line 1 column 2"),
        (b'{"a" 1}', "expected `:` at line 1 column 6"),
        (b'{"a":1 "b":2}', "expected `,` or `}` at line 1 column 8"),
        (b'{"a":}', "expected value at line 1 column 6"),
        (b'{"a":1,}', "trailing comma at line 1 column 8"),
        (b"[1, ]", "trailing comma at line 1 column 5"),
        (b'{"a":1}\n x', "trailing characters at line 2 column 2"),
        (
            b'{"a":"\x01"}',
            "control character (\\u0000-\\u001F) found while parsing a string at line 1 column 7",
        ),
        (b'{"a":"\\q"}', "Invalid \\escape at line 1 column 7"),
        (b'{"a":"\xc3\xa9\xff"}', "invalid unicode code point at line 1 column 9"),
        (b"[" * 129 + b"]" * 129, "recursion limit exceeded at line 1 column 129"),
    ],
)
def test_a_body_that_is_not_json_is_400_in_serde_s_words(body: bytes, words: str) -> None:
    assert refusal(body) == (400, SYNTAX + words)


def test_nesting_within_serde_s_limit_is_parsed() -> None:
    body = b'{"x":' + b"[" * 127 + b'"]"' + b"]" * 127 + b', "messages":[]}'
    assert refusal(body)[1].endswith("missing field `session_working_dir` at line 1 column 278")


SHAPE = "Failed to deserialize the JSON body into the target type: "
USER = {"role": "user", "content": [{"type": "text", "text": "hi"}]}


def b_body(**fields: Any) -> bytes:
    return json.dumps(
        {"messages": [USER], "session_working_dir": "/w", **fields}, separators=(",", ":")
    ).encode()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{}", "missing field `messages` at line 1 column 2"),
        (b'{\n  "messages": []\n}', "missing field `session_working_dir` at line 3 column 1"),
        (
            b'{"x":"\xc3\xa9","messages":[]}',
            "missing field `session_working_dir` at line 1 column 24",
        ),
        (b"[]", "invalid type: sequence, expected struct ChatRequest at line 1 column 0"),
        (
            b'{"messages":"x"}',
            'messages: invalid type: string "x", expected a sequence at line 1 column 15',
        ),
        (
            b'{"messages":{}}',
            "messages: invalid type: map, expected a sequence at line 1 column 12",
        ),
        (
            b'{"messages":[7]}',
            "messages[0]: invalid type: integer `7`, expected struct Message at line 1 column 14",
        ),
        (b'{"messages":[{"content":[]}]}', "messages[0]: missing field `role` at line 1 column 27"),
        (
            b'{"messages":[{"role":"system"}]}',
            "messages[0].role: unknown variant `system`, expected `user` or `assistant` "
            "at line 1 column 29",
        ),
        (
            b'{"messages":[{"role":null}]}',
            "messages[0].role: invalid type: null, expected enum Role at line 1 column 25",
        ),
        (
            b'{"messages":[{"role":"user","created":1.5}]}',
            "messages[0].created: invalid type: floating point `1.5`, expected i64 "
            "at line 1 column 41",
        ),
        (
            b'{"messages":[{"role":"user","created":true}]}',
            "messages[0].created: invalid type: boolean `true`, expected i64 at line 1 column 42",
        ),
        (
            b'{"messages":[{"role":"user","id":false}]}',
            "messages[0].id: invalid type: boolean `false`, expected a string at line 1 column 38",
        ),
        (
            b'{"messages":[{"role":"user","content":["x"]}]}',
            'messages[0].content[0]: invalid type: string "x", expected internally tagged enum '
            "MessageContent at line 1 column 42",
        ),
        (
            b'{"messages":[{"role":"user","content":[{}]}]}',
            "messages[0].content[0]: missing field `type` at line 1 column 41",
        ),
        (
            b'{"messages":[{"role":"user","content":[{"type":"video"}]}]}',
            "messages[0].content[0]: unknown variant `video`, expected one of `text`, `image`, "
            "`toolRequest`, `toolResponse`, `toolConfirmationRequest`, `frontendToolRequest`, "
            "`thinking`, `redactedThinking`, `contextLengthExceeded`, `summarizationRequested` "
            "at line 1 column 55",
        ),
        (
            b'{"messages":[{"role":"user","content":[{"type":"text"}]}]}',
            "messages[0].content[0]: missing field `text` at line 1 column 54",
        ),
        (
            b'{"messages":[{"role":"user","content":[{"type":"text","text":[]}]}]}',
            "messages[0].content[0]: invalid type: sequence, expected a string at line 1 column 64",
        ),
        (
            b'{"messages":[],"session_id":5}',
            "session_id: invalid type: integer `5`, expected a string at line 1 column 29",
        ),
        (
            b'{"messages":[],"session_working_dir":null}',
            "session_working_dir: invalid type: null, expected a string at line 1 column 41",
        ),
    ],
)
def test_a_body_of_the_wrong_shape_is_422_naming_the_field(body: bytes, words: str) -> None:
    assert refusal(body) == (422, SHAPE + words)


def test_unknown_fields_and_optional_nulls_are_accepted() -> None:
    thinking = {"type": "thinking", "thinking": "…", "signature": "s"}
    body = b_body(session_id=None, recipe_name=None, future={"x": [1, 2.5, True, None]})
    body = body.replace(b'"hi"}]', b'"hi"},' + json.dumps(thinking).encode() + b"]")
    answer = answer_to(HttpRequest("POST", "/reply", headers=JSON_HEADERS, body=body))
    assert isinstance(answer, Accepted)
    # §4.1: with no session_id "the server invents one from local time".
    assert answer.turn.conversation == datetime.fromtimestamp(NOW).strftime("%Y%m%d_%H%M%S")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{}", "missing field `user_message` at line 1 column 2"),
        (
            b'{"user_message":{"role":"user","created":1,"content":[],"metadata":{}}}',
            "missing field `session_id` at line 1 column 71",
        ),
        (
            b'{"user_message":{"role":"user","content":[],"metadata":{}}}',
            "user_message: missing field `created` at line 1 column 58",
        ),
        (
            b'{"user_message":{"role":"user","created":1,"content":[]}}',
            "user_message: missing field `metadata` at line 1 column 56",
        ),
        (
            b'{"user_message":{"role":"user","created":1,"content":[],"metadata":{"userVisible":1}}}',
            "user_message.metadata.userVisible: invalid type: integer `1`, expected a boolean "
            "at line 1 column 83",
        ),
        (
            b'{"conversation_so_far":[{}]}',
            "conversation_so_far[0]: missing field `role` at line 1 column 26",
        ),
    ],
)
def test_variant_e_requires_user_message_session_id_and_metadata(body: bytes, words: str) -> None:
    assert refusal(body, SETTINGS_E) == (422, SHAPE + words)


def test_a_wrong_or_missing_key_is_401_with_an_empty_body() -> None:
    for key in ("wrong", None):
        answer = answer_to(request_b(key=key))
        assert isinstance(answer, HttpResponse)
        assert (answer.status, answer.body, answer.headers) == (401, b"", ())
    custom = Settings(clock=lambda: NOW, protocols={"goose": GooseSettings(secret="s3cret")})
    assert isinstance(answer_to(request_b(key="s3cret"), custom), Accepted)


def test_era_b_parses_the_body_before_it_checks_the_key() -> None:
    assert refusal(b"{", headers={"x-secret-key": "wrong"})[0] == 400
    assert refusal(b"{}", headers={"x-secret-key": "wrong"})[0] == 422
    assert refusal(b"{}", headers={"content-type": "text/plain", "x-secret-key": "wrong"})[0] == 415


def test_variant_e_checks_the_key_before_the_body() -> None:
    assert refusal(b"{", SETTINGS_E, {"x-secret-key": "wrong"}) == (401, "")
    assert isinstance(answer_to(request_e(), SETTINGS_E), Accepted)


@pytest.mark.parametrize(
    ("session", "problem"),
    [
        ("../etc", "Invalid characters in session name"),
        ("a/b", "Invalid characters in session name"),
        ("a\\b", "Invalid characters in session name"),
        ("", "Invalid session name length"),
        ("x" * 256, "Invalid session name length"),
        ("é" * 128, "Invalid session name length"),  # 256 bytes: goosed counts bytes
    ],
)
def test_an_invalid_session_name_fails_in_stream_before_the_run(session: str, problem: str) -> None:
    state = PROTOCOL.new_state(SETTINGS)
    script = default_reply("hi")
    transcript = serve(script, request_b(session=session), state)
    assert check(transcript) == []
    error = {"type": "Error", "error": f"Failed to get session path: {problem}"}
    assert [f.payload for _, f in transcript.frames()] == [ev(error)]
    PROTOCOL.finish(accepted(request_b(session=session), state).turn, script, state, completed=True)
    assert state.sessions == {}


def test_the_longest_valid_session_name_is_accepted() -> None:
    state = PROTOCOL.new_state(SETTINGS)
    transcript = serve(default_reply("hi"), request_b(session="x" * 255), state)
    assert check(transcript) == []
    assert all(b"Error" not in f.payload for _, f in transcript.frames())


# --- sessions: history, turns, and GET /sessions/{session_id} ---------------------------------


def route(path: str) -> Callable[[HttpRequest, Any], HttpResponse]:
    return next(r.handle for r in PROTOCOL.routes() if r.endpoint.path == path)


def get_session(state: GooseState, name: str, key: str | None = "test") -> HttpResponse:
    headers = {} if key is None else {"x-secret-key": key}
    request = HttpRequest(
        "GET", f"/sessions/{name}", headers=headers, path_params={"session_id": name}
    )
    return route("/sessions/{session_id}")(request, state)


def converse(
    state: GooseState, request: HttpRequest, script: Script, completed: bool = True
) -> Turn:
    turn = accepted(request, state).turn
    assert check(serve(script, request, PROTOCOL.new_state(state.settings))) == []
    PROTOCOL.finish(turn, script, state, completed)
    return turn


def test_turns_advance_through_a_session_and_history_is_merged() -> None:
    state = PROTOCOL.new_state(SETTINGS)
    first = converse(state, request_b("one"), Script(AB, tool=TOOL))
    second = converse(state, request_b("two"), Script((Token("Done"), Token("."))))
    assert (first.index, second.index) == (0, 1)
    assert (first.ids["reply"], second.ids["reply"]) == (1, 2)
    body = json.loads(get_session(state, "atlas-demo").body)
    assert body["sessionId"] == "atlas-demo"
    assert body["metadata"]["working_dir"] == "/w"
    assert body["metadata"]["message_count"] == 6
    shapes = [(m["role"], [i["type"] for i in m["content"]]) for m in body["messages"]]
    assert shapes == [
        ("user", ["text"]),
        ("assistant", ["text", "toolRequest"]),
        ("user", ["toolResponse"]),
        ("assistant", ["text"]),
        ("user", ["text"]),
        ("assistant", ["text"]),
    ]
    texts = [m["content"][0].get("text") for m in body["messages"]]
    assert texts == ["one", "Let me", None, " check.", "two", "Done."]
    assert body["messages"][0] == {
        "id": None,
        "role": "user",
        "created": 1754402400,
        "content": [{"type": "text", "text": "one"}],
    }


def test_a_client_that_resends_the_conversation_replaces_the_history() -> None:
    state = PROTOCOL.new_state(SETTINGS)
    converse(state, request_b("lost"), Script((Token("x"),)))
    earlier = [
        {"role": "user", "content": [{"type": "text", "text": "a"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "b"}]},
        {"role": "user", "content": [{"type": "text", "text": "c"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "d"}]},
    ]
    turn = converse(state, request_b("e", messages=earlier), Script((Token("f"),)))
    assert turn.index == 2
    texts = [m["content"][0]["text"] for m in state.sessions["atlas-demo"].messages]
    assert texts == ["a", "b", "c", "d", "e", "f"]


def test_a_conversation_without_a_user_message_has_empty_user_text() -> None:
    body = b'{"messages":[{"role":"assistant","content":[]}],"session_working_dir":"/w"}'
    answer = answer_to(HttpRequest("POST", "/reply", headers=JSON_HEADERS, body=body))
    assert isinstance(answer, Accepted)
    assert (answer.turn.user_text, answer.turn.index) == ("", 0)


def test_a_reply_the_client_left_keeps_what_was_sent() -> None:
    # The server engine passes the part of the script that went out (pacing.sent_script).
    state = PROTOCOL.new_state(SETTINGS)
    converse(state, request_b("one"), Script(AB[:1]), completed=False)
    messages = state.sessions["atlas-demo"].messages
    assert [m["content"][0]["text"] for m in messages] == ["one", "Let"]
    converse(state, request_b("two"), Script(()), completed=False)
    messages = state.sessions["atlas-demo"].messages
    assert [m["content"][0]["text"] for m in messages] == ["one", "Let", "two"]


def test_a_failed_start_stores_nothing_and_a_mid_stream_error_stores_what_was_sent() -> None:
    state = PROTOCOL.new_state(SETTINGS)
    converse(state, request_b("one"), Script(AB, error=FailurePoint("x", 0)))
    assert state.sessions == {}
    converse(state, request_b("two"), Script(AB, error=FailurePoint("x", 2)))
    messages = state.sessions["atlas-demo"].messages
    assert [m["content"][0]["text"] for m in messages] == ["two", "Let me"]


def test_variant_e_history_keeps_metadata_and_override_conversation() -> None:
    state = PROTOCOL.new_state(SETTINGS_E)
    converse(state, request_e("one"), Script((Token("x"),)))
    stored = state.sessions["20260115_1"].messages
    assert [m["metadata"] for m in stored] == [VISIBLE, VISIBLE]
    body = json.loads(request_e("two").body)
    body["override_conversation"] = [
        {**body["user_message"], "content": [{"type": "text", "text": "z"}]}
    ]
    request = HttpRequest("POST", "/reply", headers=JSON_HEADERS, body=json.dumps(body).encode())
    turn = converse(state, request, Script((Token("y"),)))
    assert turn.index == 1
    assert [m["content"][0]["text"] for m in state.sessions["20260115_1"].messages] == [
        "z",
        "two",
        "y",
    ]


def test_get_session_needs_the_key_and_a_valid_name() -> None:
    state = PROTOCOL.new_state(SETTINGS)
    assert (get_session(state, "x", key=None).status, get_session(state, "x", key=None).body) == (
        401,
        b"",
    )
    assert get_session(state, "x", key="nope").status == 401
    for bad in ("..", "a/b", "a\\b", "x" * 256):
        answer = get_session(state, bad)
        assert (answer.status, answer.body) == (400, b"")


def test_a_never_used_session_is_200_with_default_metadata() -> None:
    answer = get_session(PROTOCOL.new_state(SETTINGS), "fresh")
    assert answer.status == 200
    assert json.loads(answer.body) == {
        "sessionId": "fresh",
        "metadata": {
            "working_dir": "/tmp",
            "description": "",
            "schedule_id": None,
            "project_id": None,
            "message_count": 0,
            "total_tokens": None,
            "input_tokens": None,
            "output_tokens": None,
            "accumulated_total_tokens": None,
            "accumulated_input_tokens": None,
            "accumulated_output_tokens": None,
        },
        "messages": [],
    }


def test_status_needs_no_key() -> None:
    status = route("/status")
    request = HttpRequest("GET", "/status")
    answer = status(request, PROTOCOL.new_state(SETTINGS))
    assert (answer.status, json.loads(answer.body)) == (200, {"status": "ok"})
    answer = status(request, PROTOCOL.new_state(SETTINGS_E))  # v1.8+ answers plain text
    assert (answer.status, answer.body, dict(answer.headers)["content-type"]) == (
        200,
        b"ok",
        "text/plain; charset=utf-8",
    )


def test_endpoints_are_goosed_s_paths() -> None:
    assert [(e.method, e.path, e.stream) for e in PROTOCOL.endpoints] == [
        ("POST", "/reply", True),
        ("GET", "/status", False),
        ("GET", "/sessions/{session_id}", False),
    ]
    assert [r.endpoint.path for r in PROTOCOL.routes()] == ["/status", "/sessions/{session_id}"]


# --- the client ------------------------------------------------------------------------------


def test_the_client_posts_the_atlas_era_b_body() -> None:
    client = GooseClient(ClientOptions("Привіт", session="test-session"), clock=lambda: 5.9)
    request = client.request()
    assert (request.method, request.target) == ("POST", "/reply")
    assert request.headers == (
        ("accept", "text/event-stream"),
        ("cache-control", "no-cache"),
        ("content-type", "application/json"),
        ("x-secret-key", "test"),
    )
    assert (
        request.body
        == json.dumps(
            {
                "messages": [
                    {"role": "user", "created": 5, "content": [{"type": "text", "text": "Привіт"}]}
                ],
                "session_id": "test-session",
                "session_working_dir": "/tmp",
            }
        ).encode()
    )
    answer = answer_to(
        HttpRequest("POST", "/reply", headers=dict(request.headers), body=request.body or b"")
    )
    assert isinstance(answer, Accepted)
    assert answer.turn.user_text == "Привіт"


def test_the_client_uses_the_given_key_session_default_and_extra_headers() -> None:
    options = ClientOptions("hi", secret_key="k", headers=(("x-extra", "1"),))
    request = PROTOCOL.client(options).request()
    assert ("x-secret-key", "k") in request.headers
    assert request.headers[-1] == ("x-extra", "1")
    assert json.loads(request.body or b"")["session_id"] == "streamctl"
    assert isinstance(json.loads(request.body or b"")["messages"][0]["created"], int)


def on(data: str) -> tuple[str, str | None, bool, str | None]:
    update = PROTOCOL.client(ClientOptions("m")).on_event(SSEEvent(data))
    return update.text, update.error, update.done, update.info


def msg_data(content: Any, role: str = "assistant") -> str:
    return json.dumps({"type": "Message", "message": {"role": role, "content": content}})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('{"type":"Ping"}', ("", None, False, None)),
        ('{"type":"Finish","reason":"stop"}', ("", None, True, None)),
        ('{"type":"Error","error":"Provider not set"}', ("", "Provider not set", False, None)),
        (
            msg_data([{"type": "text", "text": "Hi"}, {"type": "text", "text": "!"}]),
            ("Hi!", None, False, None),
        ),
        (msg_data([{"type": "text", "text": "/compact"}], role="user"), ("", None, False, None)),
        (msg_data("not a list"), ("", None, False, None)),
        (msg_data(["not an item", {"type": "thinking"}]), ("", None, False, None)),
        (
            msg_data(
                [
                    {
                        "type": "toolRequest",
                        "id": "c",
                        "toolCall": {
                            "status": "success",
                            "value": {"name": "developer__shell", "arguments": {"command": "ls"}},
                        },
                    }
                ]
            ),
            ("", None, False, 'tool call: developer__shell({"command":"ls"})'),
        ),
        (
            msg_data(
                [
                    {
                        "type": "toolRequest",
                        "id": "c",
                        "toolCall": {"status": "error", "error": "bad json"},
                    }
                ]
            ),
            ("", None, False, 'tool call failed: {"status":"error","error":"bad json"}'),
        ),
        (
            msg_data(
                [
                    {
                        "type": "toolResponse",
                        "id": "c",
                        "toolResult": {
                            "status": "success",
                            "value": [{"type": "image"}, {"type": "text", "text": "out"}],
                        },
                    }
                ],
                "user",
            ),
            ("", None, False, "tool result c: out"),
        ),
        (
            msg_data(
                [
                    {
                        "type": "toolResponse",
                        "id": "c",
                        "toolResult": {
                            "status": "success",
                            "value": {
                                "content": [{"type": "text", "text": "v17"}],
                                "isError": False,
                            },
                        },
                    }
                ],
                "user",
            ),
            ("", None, False, "tool result c: v17"),
        ),
        (
            msg_data(
                [
                    {
                        "type": "toolResponse",
                        "id": "c",
                        "toolResult": {"status": "error", "error": "denied"},
                    }
                ],
                "user",
            ),
            ("", None, False, 'tool result c: {"status":"error","error":"denied"}'),
        ),
        (
            msg_data(
                [
                    {"type": "text", "text": "a"},
                    {"type": "toolRequest", "toolCall": None},
                    {"type": "toolResponse", "id": "c", "toolResult": {"value": ["x"]}},
                ]
            ),
            ("a", None, False, 'tool call failed: null; tool result c: {"value":["x"]}'),
        ),
        (notification("call_1").decode()[6:-2], ("", None, False, "tool call_1: x\n")),
        (
            '{"type":"Notification","request_id":"c","message":{"method":"notifications/progress","params":{"progress":3,"total":10}}}',
            ("", None, False, 'tool c: {"progress":3,"total":10}'),
        ),
        (
            '{"type":"Notification","request_id":"c","message":"odd"}',
            ("", None, False, "tool c: null"),
        ),
        (
            '{"type":"ModelChange","model":"gpt-4o-mini","mode":"worker"}',
            ("", None, False, "model: gpt-4o-mini (worker)"),
        ),
        (
            '{"type":"UpdateConversation","conversation":[{},{}]}',
            ("", None, False, "conversation replaced (2 messages)"),
        ),
        ('{"type":"UpdateConversation"}', ("", None, False, "conversation replaced (0 messages)")),
        (
            '{"type":"Message","message":"odd"}',
            ("", None, False, "ignored an event of type 'Message'"),
        ),
        (
            '{"type":"ActiveRequests","request_ids":[]}',
            ("", None, False, "ignored an event of type 'ActiveRequests'"),
        ),
        ("{nope", ("", None, False, "ignored a non-JSON event: '{nope'")),
        ("[1]", ("", None, False, "ignored a non-object event: '[1]'")),
    ],
)
def test_the_client_turns_each_event_into_an_update(data: str, expected: tuple[Any, ...]) -> None:
    assert on(data) == expected


def test_tool_output_streamed_while_the_tool_ran_is_not_shown_again_as_its_result() -> None:
    client = GooseClient(ClientOptions("hi"))
    result = [{"type": "text", "text": "x\nx\n"}]
    response = {"type": "toolResponse", "id": "call_1", "toolResult": {"value": result}}
    other = {**response, "id": "call_2"}
    infos = [
        client.on_event(SSEEvent(data=data)).info
        for data in (
            notification("call_1").decode()[6:-2],
            notification("call_1").decode()[6:-2],
            msg_data([response, other], "user"),
        )
    ]
    assert infos == [
        "tool call_1: x\n",
        "tool call_1: x\n",
        "tool result call_1: the output above; tool result call_2: x\nx\n",
    ]


def test_a_framing_finding_shows_its_event_on_one_short_line() -> None:
    # An event with an id line and a long multi-line payload: its excerpt is still one line.
    event = SSEEvent("\n".join(["x" * 100] * 3), id="7", fields=("id", "data", "data", "data"))
    findings = list(PROTOCOL.event_rules(event, 0))
    assert [f.rule for f in findings] == ["goose.frame.fields", "goose.frame.one-line"]
    for finding in findings:
        assert finding.excerpt is not None
        assert "\n" not in finding.excerpt
        assert len(finding.excerpt) <= 120
