"""goose-web (goose web's WebSocket, reference §12): the server session, the client, the checker.

Each of §12's message types has a test here; the live ones are in test_server_goose_web.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from streamctl.core.check import check
from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import ClientOptions, HttpRequest, Settings, Turn, Update
from streamctl.core.protocols.goose_web import PROTOCOL
from streamctl.core.protocols.goose_web.client import GooseWebClient
from streamctl.core.protocols.goose_web.page import PAGES, html
from streamctl.core.protocols.goose_web.server import Session, State
from streamctl.core.script import FailurePoint, Script, Token, ToolCall, script_from_dict
from streamctl.core.transcript import Sender
from tests.builders import ws_transcript

NAME = "goose-web"
CLOCK = 1_765_000_000.25
Message = tuple[Sender, str | bytes]


def compact(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def ask(content: str = "Hello", session: str = "test-session") -> Message:
    body = {"type": "message", "content": content, "session_id": session, "timestamp": 1}
    return ("client", compact(body))


def cancel(session: str = "test-session") -> Message:
    return ("client", compact({"type": "cancel", "session_id": session}))


def server(kind: str, **fields: Any) -> Message:
    return ("server", compact({"type": kind, **fields}))


def response(content: str = "Hi", role: str = "assistant") -> Message:
    return server("response", content=content, role=role, timestamp=1765000000250)


def complete() -> Message:
    return server("complete", message="Response complete")


def rules_of(messages: list[Message], **kw: Any) -> list[str]:
    return [f.rule for f in check(ws_transcript(NAME, messages, **kw))]


def session() -> Session:
    return Session(State(Settings(clock=lambda: CLOCK)))


def rendered(script: Script, turn: Turn | None = None) -> list[dict[str, Any]]:
    outs = session().render(script, turn or Turn("Hello", 0, "s"))
    return [json.loads(out.payload) for out in outs]  # type: ignore[arg-type]


# --- the server session: one test per message type of §12 --------------------------------


def test_a_reply_is_responses_then_complete() -> None:
    msgs = rendered(Script((Token("Hel"), Token("lo"))))
    assert msgs == [
        {"type": "response", "content": "Hel", "role": "assistant", "timestamp": 1765000000250},
        {"type": "response", "content": "lo", "role": "assistant", "timestamp": 1765000000250},
        {"type": "complete", "message": "Response complete"},
    ]


def test_serde_puts_the_type_tag_first_in_compact_json() -> None:
    out = session().render(Script((Token("a"),)), Turn("x"))[0].payload
    assert isinstance(out, str)
    assert out.startswith('{"type":"response","content":"a"')


def test_a_tool_call_is_a_tool_request_and_a_tool_response_where_the_script_puts_it() -> None:
    tool = ToolCall("weather", {"city": "Kyiv"}, "sunny", after=1, id="t1")
    msgs = rendered(Script((Token("a"), Token("b")), tool))
    assert [m["type"] for m in msgs] == [
        "response",
        "tool_request",
        "tool_response",
        "response",
        "complete",
    ]
    assert msgs[1] == {
        "type": "tool_request",
        "id": "t1",
        "tool_name": "weather",
        "arguments": {"city": "Kyiv"},
    }
    assert msgs[2] == {"type": "tool_response", "id": "t1", "result": "sunny", "is_error": False}


def test_a_tool_call_after_the_last_token_comes_before_complete() -> None:
    msgs = rendered(Script((Token("a"),), ToolCall("t", after=1)))
    assert [m["type"] for m in msgs] == ["response", "tool_request", "tool_response", "complete"]


def test_thinking_comes_first() -> None:
    msgs = rendered(script_from_dict({"reply": "Yes", "thinking": "Let me see"}))
    assert msgs[0] == {"type": "thinking", "message": "Let me see"}
    assert [m["type"] for m in msgs[1:]] == ["response", "complete"]


def test_an_error_is_followed_by_complete_as_web_rs_does() -> None:
    msgs = rendered(Script((Token("a"), Token("b")), error=FailurePoint("boom", after=1)))
    assert [m["type"] for m in msgs] == ["response", "error", "complete"]
    assert msgs[1] == {"type": "error", "message": "Error: boom"}


def test_a_full_context_is_context_exceeded_then_complete() -> None:
    script = script_from_dict(
        {"reply": "a", "error": {"message": "Too long", "kind": "context_exceeded"}}
    )
    msgs = rendered(script)
    assert msgs == [
        {"type": "context_exceeded", "message": "Too long"},
        {"type": "complete", "message": "Response complete"},
    ]


def test_a_message_starts_a_turn_per_session() -> None:
    live = session()
    first = live.receive(ask("one")[1])  # type: ignore[arg-type]
    second = live.receive(ask("two", session="other")[1])  # type: ignore[arg-type]
    third = live.receive(ask("three")[1])  # type: ignore[arg-type]
    assert first.send == ()
    assert first.turn == Turn("one", 0, "test-session")
    assert second.turn == Turn("two", 0, "other")
    assert third.turn == Turn("three", 1, "test-session")
    assert live.render_key(Turn("x")) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "not JSON"),
        ("[1]", "unknown type None"),
        ('{"type": "response", "content": "x"}', "unknown type 'response'"),
        ('{"type": "message", "content": "x", "session_id": "s"}', "'timestamp'"),
        ('{"type": "message", "content": 1, "session_id": "s", "timestamp": 1}', "'content'"),
    ],
)
def test_a_malformed_message_gets_an_error_and_no_reply(text: str, problem: str) -> None:
    reaction = session().receive(text)
    assert reaction.turn is None
    (sent,) = reaction.send
    obj = json.loads(sent)
    assert obj["type"] == "error"
    assert problem in obj["message"]


def test_a_cancel_with_no_reply_running_is_ignored() -> None:
    assert session().receive(cancel()[1]).send == ()  # type: ignore[arg-type]


def test_a_cancel_that_cut_a_reply_is_answered_cancelled() -> None:
    live = session()
    turn = live.receive(ask()[1]).turn  # type: ignore[arg-type]
    assert turn is not None
    assert live.interrupts(cancel()[1])  # type: ignore[arg-type]
    live.finish(turn, Script((Token("par"),)), completed=False)
    (sent,) = live.receive(cancel()[1]).send  # type: ignore[arg-type]
    assert json.loads(sent) == {"type": "cancelled", "message": "Operation cancelled"}
    assert live.receive(cancel()[1]).send == ()  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["nope", "[]", '{"type": "message"}'])
def test_only_a_cancel_interrupts(text: str) -> None:
    assert not session().interrupts(text)


def test_a_new_message_forgets_an_earlier_cut() -> None:
    live = session()
    turn = live.receive(ask()[1]).turn  # type: ignore[arg-type]
    assert turn is not None
    live.finish(turn, Script(()), completed=False)
    live.receive(ask()[1])  # type: ignore[arg-type]
    assert live.receive(cancel()[1]).send == ()  # type: ignore[arg-type]


# --- history and the HTTP routes -----------------------------------------------------------


def _call(path: str, state: State, **params: str) -> tuple[int, Any]:
    route = next(r for r in PROTOCOL.routes() if r.endpoint.path == path)
    answer = route.handle(HttpRequest("GET", path, path_params=params), state)
    return answer.status, json.loads(answer.body)


def test_health_and_sessions_answer_as_goose_web() -> None:
    state = PROTOCOL.new_state(Settings(clock=lambda: CLOCK))
    live = PROTOCOL.open(state)
    assert live.greeting() == ()
    turn = live.receive(ask("Hello")[1]).turn  # type: ignore[arg-type]
    assert turn is not None
    live.finish(turn, Script((Token("Hi"),)), completed=True)
    assert _call("/api/health", state) == (200, {"status": "ok", "service": "goose-web"})
    status, listed = _call("/api/sessions", state)
    assert status == 200
    assert listed["sessions"][0]["name"] == "test-session"
    assert listed["sessions"][0]["message_count"] == 2
    status, one = _call("/api/sessions/{session_id}", state, session_id="test-session")
    assert [m["role"] for m in one["messages"]] == ["user", "assistant"]
    assert one["messages"][1]["content"] == [{"type": "text", "text": "Hi"}]
    assert one["metadata"]["id"] == "test-session"
    assert _call("/api/sessions/{session_id}", state, session_id="x") == (
        200,
        {"error": "Session not found: x"},
    )


def test_a_reply_cut_before_any_text_adds_no_assistant_message() -> None:
    state = PROTOCOL.new_state(Settings())
    live = PROTOCOL.open(state)
    turn = live.receive(ask()[1]).turn  # type: ignore[arg-type]
    assert turn is not None
    live.finish(turn, Script(()), completed=False)
    assert len(state.sessions["test-session"].messages) == 1


def test_the_page_is_goose_chat_and_keeps_a_hostile_session_name_inside_its_string() -> None:
    assert "<title>Goose Chat</title>" in html(None)
    assert "window.GOOSE_SESSION_NAME = null;" in html(None)
    page = html("</script><script>alert(1)</script>")
    assert "</script><script>alert(1)" not in page
    assert '"\\u003c/script>\\u003cscript>alert(1)\\u003c/script>"' in page
    root, named = PAGES
    answer = named.handle(HttpRequest("GET", "/session/s", path_params={"session_name": "s"}), None)
    assert answer.status == 200
    assert dict(answer.headers)["content-type"].startswith("text/html")
    assert b'GOOSE_SESSION_NAME = "s"' in answer.body
    assert root.endpoint.path == "/"
    assert PROTOCOL.pages() == PAGES


# --- the client ----------------------------------------------------------------------------


def test_the_client_sends_what_the_seed_sends() -> None:
    client = GooseWebClient(ClientOptions("Привіт", session="atlas"), clock=lambda: CLOCK)
    (opening,) = client.opening()
    assert json.loads(opening) == {
        "type": "message",
        "content": "Привіт",
        "session_id": "atlas",
        "timestamp": 1765000000250,
    }
    default = PROTOCOL.client(ClientOptions("x"))
    assert json.loads(default.opening()[0])["session_id"] == "test-session"


@pytest.mark.parametrize(
    ("message", "update"),
    [
        (response("Hi")[1], Update(text="Hi")),
        ('{"type":"response"}', Update(text="")),
        (complete()[1], Update(done=True)),
        (server("cancelled", message="x")[1], Update(done=True, info="the reply was cancelled")),
        (server("error", message="Error: x")[1], Update(error="Error: x")),
        ('{"type":"error"}', Update(error='malformed error: \'{"type":"error"}\'')),
        (
            server("tool_request", id="t", tool_name="w", arguments={})[1],
            Update(info="tool call 'w' (t)"),
        ),
        (
            server("tool_response", id="t", result=1, is_error=False)[1],
            Update(info="tool result for t"),
        ),
        (server("thinking", message="hm")[1], Update(info="thinking: hm")),
        (server("context_exceeded", message="full")[1], Update(info="context_exceeded: full")),
        (
            server(
                "tool_confirmation", id="t", tool_name="w", arguments={}, needs_confirmation=True
            )[1],
            Update(info="tool_confirmation: w"),
        ),
        ('{"type":"odd"}', Update(info="ignored a message of type 'odd'")),
        ("nope", Update(info="ignored a non-JSON message: 'nope'")),
        ("[1]", Update(info="ignored a non-object message: '[1]'")),
    ],
)
def test_the_client_reads_every_message_type(message: str, update: Update) -> None:
    assert PROTOCOL.client(ClientOptions("x")).on_message(message) == update


# --- the checker ---------------------------------------------------------------------------


def test_a_conforming_connection_has_no_findings() -> None:
    messages = [
        ask(),
        server("thinking", message="hm"),
        response("Hel"),
        server("tool_request", id="t1", tool_name="w", arguments={"a": 1}),
        server("tool_confirmation", id="t1", tool_name="w", arguments={}, needs_confirmation=True),
        server("tool_response", id="t1", result=[1], is_error=False),
        response("lo"),
        server("context_exceeded", message="full"),
        complete(),
        ask("again"),
        response("x"),
        server("error", message="Error: x"),
        complete(),
        ask("third"),
        server("error", message="Error: at once"),
        complete(),
        ask("fourth"),
        response("y"),
        cancel(),
        server("cancelled", message="Operation cancelled"),
        server("cancelled", message="Operation cancelled by user"),
        ("client", "garbage"),
        server("error", message="Failed to parse WebSocket message"),
    ]
    assert rules_of(messages) == []


def test_what_the_mock_renders_passes_the_checker() -> None:
    live = session()
    script = Script(
        (Token("a"), Token("b")), ToolCall("t", after=1), FailurePoint("x", after=2), "think"
    )
    turn = live.receive(ask()[1]).turn  # type: ignore[arg-type]
    assert turn is not None
    outs = [("server", out.payload) for out in live.render(script, turn)]
    assert rules_of([ask(), *outs]) == []  # type: ignore[list-item]


GOOD: list[Message] = [ask(), response("Hel"), response("lo"), complete()]


def _broken(kind: str, **fields: Any) -> list[Message]:
    return [ask(), server(kind, **fields), complete()]


#: For every rule, a connection that breaks it and nothing else (test_cli_check uses them too).
BREAKS: dict[str, list[Message] | tuple[list[Message], dict[str, object]]] = {
    "ws.handshake": ([], {"status": 403}),
    "ws.text": [*GOOD[:2], ("server", b'{"type":"response"}'), *GOOD[2:]],
    "goose-web.json": [*GOOD[:2], ("server", "{not json"), *GOOD[2:]],
    "goose-web.type.unknown": [*GOOD[:2], server("typing"), *GOOD[2:]],
    "goose-web.schema.response": [
        ask(),
        server("response", content=1, role="assistant", timestamp=1),
        complete(),
    ],
    "goose-web.schema.tool_request": _broken("tool_request", id="t", arguments={}),
    "goose-web.schema.tool_response": [
        ask(),
        server("tool_request", id="t", tool_name="w", arguments={}),
        server("tool_response", id="t", result=1, is_error="no"),
        complete(),
    ],
    "goose-web.schema.tool_confirmation": _broken(
        "tool_confirmation", id="t", tool_name="w", arguments={}
    ),
    "goose-web.schema.thinking": _broken("thinking", text="hm"),
    "goose-web.schema.context_exceeded": _broken("context_exceeded", message=None),
    "goose-web.schema.error": [ask(), server("error", error="x"), complete()],
    "goose-web.schema.cancelled": [*GOOD[:2], cancel(), server("cancelled")],
    "goose-web.schema.complete": [*GOOD[:3], server("complete")],
    "goose-web.order": [*GOOD, complete()],
    "goose-web.complete.missing": GOOD[:3],
    "goose-web.reply.unsolicited": GOOD[1:],
    "goose-web.reply.missing": [ask(), *GOOD],
    "goose-web.tool.unmatched": [
        *GOOD[:2],
        server("tool_response", id="t9", result="x", is_error=True),
        *GOOD[2:],
    ],
    "goose-web.response.role": [ask(), response(role="user"), complete()],
}


def test_every_rule_has_a_breaking_transcript() -> None:
    assert sorted(BREAKS) == sorted(rule.id for rule in PROTOCOL.spec.rules)


@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_breaking_one_rule_yields_exactly_that_finding(rule: str) -> None:
    case = BREAKS[rule]
    messages, kw = case if isinstance(case, tuple) else (case, {})
    assert rules_of(list(messages), **kw) == [rule]


def test_an_error_ends_the_reply_so_more_text_is_a_reply_nobody_asked_for() -> None:
    messages = [ask(), response(), server("error", message="x"), response(), complete()]
    assert rules_of(messages) == ["goose-web.reply.unsolicited"]


def test_a_cancel_or_garbage_from_the_client_asks_for_nothing() -> None:
    assert rules_of([cancel(), ("client", "not json"), ("client", "[1]")]) == []


def test_the_registry_knows_goose_web() -> None:
    proto = get(NAME)
    assert proto is PROTOCOL
    assert proto.stream_endpoint.path == "/ws"
    assert [e.path for e in proto.endpoints[1:]] == [
        "/api/health",
        "/api/sessions",
        "/api/sessions/{session_id}",
    ]


def test_other_protocols_sessions_let_every_message_wait_its_turn() -> None:
    other = get("chunk-complete").open(get("chunk-complete").new_state(Settings()))  # type: ignore[attr-defined]
    assert not other.interrupts('{"type": "cancel", "session_id": "s"}')


def test_a_reply_counts_as_one_and_an_error_first_as_none() -> None:
    from streamctl.core.check import no_reply

    assert no_reply(ws_transcript(NAME, GOOD)) is None
    refused = no_reply(ws_transcript(NAME, [ask(), server("error", message="Error: no provider")]))
    assert refused is not None
    assert "no provider" in refused.message
