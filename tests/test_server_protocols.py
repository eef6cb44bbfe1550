"""Each protocol's real-system behaviour reaches the wire unchanged through the live server.

Where a protocol refuses a request or answers a bad frame, the test compares what a real client
received with what the protocol module itself builds for the same input: the server adds
nothing and loses nothing.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from mockserver.testing import LiveServer
from streamctl.core.check import check
from streamctl.core.jwt import mint_dev_token
from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import HttpRequest, HttpResponse
from streamctl.core.protocols.protocol import SSEProtocol, WSProtocol
from streamctl.core.script import default_reply
from tests.live import Talk, after_first_text, converse, reconfigured

#: A reply that stalls for a minute after its first token (for clients that leave mid-reply).
GAP = {"tokens": [{"text": "a", "delay_ms": 0}, {"text": " b", "delay_ms": 60000}, " c"]}
GOOSE_BODY = {
    "messages": [{"role": "user", "created": 1, "content": [{"type": "text", "text": "hi"}]}],
    "session_id": "s1",
    "session_working_dir": "/tmp",
}


def refusal(
    server: LiveServer, protocol: str, request: HttpRequest
) -> tuple[httpx.Response, HttpResponse]:
    """The live answer to ``request`` and the protocol's own refusal of it."""
    proto = get(protocol)
    assert isinstance(proto, SSEProtocol)
    expected = proto.accept(request, proto.new_state(server.config.settings()))
    assert isinstance(expected, HttpResponse), expected
    live = httpx.request(
        request.method,
        server.url(request.path),
        params=dict(request.query),
        headers=dict(request.headers),
        content=request.body,
    )
    return live, expected


def same(live: httpx.Response, expected: HttpResponse) -> None:
    assert live.status_code == expected.status
    assert live.content == expected.body
    for name, value in expected.headers:
        assert live.headers[name] == value


# --- goose ------------------------------------------------------------------------------------


def goose_request(
    body: Any = GOOSE_BODY, content_type: str = "application/json", key: str | None = "test"
) -> HttpRequest:
    headers = {"content-type": content_type}
    if key is not None:
        headers["x-secret-key"] = key
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpRequest("POST", "/reply", headers=headers, body=raw)


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        (goose_request(key="wrong"), 401),
        (goose_request(key=None), 401),
        (goose_request(content_type="text/plain"), 415),
        (goose_request(b"{not json"), 400),
        (goose_request({"session_id": "s1", "session_working_dir": "/tmp"}), 422),
        (goose_request({"messages": [], "session_id": "s1"}), 422),
        # Era B parses the body before it checks the key: a bad body wins over a bad key.
        (goose_request(b"{not json", key="wrong"), 400),
    ],
    ids=["wrong-key", "no-key", "415", "400", "422-messages", "422-working-dir", "400-before-401"],
)
def test_goose_refusals_reach_the_wire_as_goosed_sends_them(
    live_server: LiveServer, request_: HttpRequest, status: int
) -> None:
    live, expected = refusal(live_server, "goose", request_)
    assert live.status_code == status
    same(live, expected)
    if status == 401:
        assert live.content == b""


def test_goose_status_needs_no_key(live_server: LiveServer) -> None:
    response = httpx.get(live_server.url("/status"))
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_goose_session_history_needs_the_key_and_reflects_the_stream(
    live_server: LiveServer,
) -> None:
    assert httpx.get(live_server.url("/sessions/streamctl-test")).status_code == 401
    converse(live_server, "goose", ["What is in this folder?"], scenario="tool-call")
    response = httpx.get(
        live_server.url("/sessions/streamctl-test"), headers={"X-Secret-Key": "test"}
    )
    session = response.json()
    assert response.status_code == 200
    assert session["sessionId"] == "streamctl-test"
    roles = [m["role"] for m in session["messages"]]
    assert roles[0] == "user"
    assert "assistant" in roles
    long_name = "x" * 256
    invalid = httpx.get(live_server.url(f"/sessions/{long_name}"), headers={"X-Secret-Key": "test"})
    assert (invalid.status_code, invalid.content) == (400, b"")


def test_goose_renders_the_tool_round_natively(live_server: LiveServer) -> None:
    (exchange,) = converse(live_server, "goose", ["ls"], scenario="tool-call")
    body = b"".join(
        f.payload for _, f in exchange.transcript.frames() if isinstance(f.payload, bytes)
    )
    assert b'"toolRequest"' in body
    assert b'"toolResponse"' in body
    assert b'"Notification"' in body
    assert check(exchange.transcript) == []


def test_goose_uses_the_configured_secret(live_server_session: LiveServer) -> None:
    with reconfigured(live_server_session, goose_secret="s3cret") as server:
        live, _ = refusal(server, "goose", goose_request(key="test"))
        assert live.status_code == 401
        (exchange,) = converse(server, "goose", ["hi"])
        assert exchange.status == 200
        assert exchange.done


# --- sse-delta-done ---------------------------------------------------------------------------


def test_sse_delta_done_without_message_is_fastapis_422(live_server: LiveServer) -> None:
    live, expected = refusal(
        live_server, "sse-delta-done", HttpRequest("GET", "/api/chat/stream", {"file_path": "x"})
    )
    assert live.status_code == 422
    assert live.json()["detail"][0]["loc"] == ["query", "message"]
    same(live, expected)


def test_sse_delta_done_streams_crlf_lines_like_sse_starlette(live_server: LiveServer) -> None:
    (exchange,) = converse(live_server, "sse-delta-done", ["hi"])
    frames = [f.payload for _, f in exchange.transcript.frames()]
    assert frames
    assert all(isinstance(p, bytes) and p.endswith(b"\r\n\r\n") for p in frames)
    assert all(b"\n" not in p.replace(b"\r\n", b"") for p in frames if isinstance(p, bytes))


# --- message-stream ---------------------------------------------------------------------------

MS = "/api/web/v1/chats"


def ms_stream(chat: str, body: bytes) -> HttpRequest:
    return HttpRequest(
        "POST",
        f"{MS}/{chat}/messages/stream",
        headers={"content-type": "application/json", "accept": "text/event-stream"},
        body=body,
        path_params={"chat_id": chat},
    )


@pytest.mark.parametrize(
    "request_",
    [
        ms_stream("abc", b'{"content": "hi"}'),
        ms_stream("1", b'{"content": ""}'),
        ms_stream("1", b'{"content": 5}'),
        ms_stream("1", b"{}"),
        ms_stream("1", b"{not json"),
    ],
    ids=["chat-id", "empty", "type", "missing", "json"],
)
def test_message_stream_refusals_are_fastapis_422(
    live_server: LiveServer, request_: HttpRequest
) -> None:
    live, expected = refusal(live_server, "message-stream", request_)
    assert live.status_code == 422
    assert "detail" in live.json()
    same(live, expected)


def test_message_stream_history_reflects_the_stream_and_deletes(live_server: LiveServer) -> None:
    (exchange,) = converse(live_server, "message-stream", ["Hello"], chat="7")
    history = httpx.get(live_server.url(f"{MS}/7/messages"))
    assert history.status_code == 200
    messages = history.json()
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "Hello"),
        ("assistant", exchange.text),
    ]
    first = messages[0]["id"]
    deleted = httpx.delete(live_server.url(f"{MS}/7/messages/{first}"))
    assert (deleted.status_code, deleted.content) == (204, b"")
    again = httpx.delete(live_server.url(f"{MS}/7/messages/{first}"))
    assert again.status_code == 404
    assert again.json() == {"detail": "Message not found"}
    not_int = httpx.delete(live_server.url(f"{MS}/7/messages/abc"))
    assert not_int.status_code == 422
    assert not_int.json()["detail"][0]["type"] == "int_parsing"
    assert [m["role"] for m in httpx.get(live_server.url(f"{MS}/7/messages")).json()] == [
        "assistant"
    ]


def test_message_stream_answers_ndjson_when_asked(live_server: LiveServer) -> None:
    (exchange,) = converse(live_server, "message-stream", ["hi"], ndjson=True)
    response = exchange.transcript.header.response
    assert response is not None
    assert (response.header("content-type") or "").startswith("application/x-ndjson")
    assert exchange.text == default_reply("hi").text
    assert check(exchange.transcript) == []


# --- WebSocket protocols ----------------------------------------------------------------------


def ws_answers(server: LiveServer, protocol: str, text: str) -> list[str]:
    """What the protocol itself answers to ``text`` on a fresh connection."""
    proto = get(protocol)
    assert isinstance(proto, WSProtocol)
    session = proto.open(proto.new_state(server.config.settings()))
    return list(session.receive(text).send)


def greeting(server: LiveServer, protocol: str) -> list[str]:
    proto = get(protocol)
    assert isinstance(proto, WSProtocol)
    return list(proto.open(proto.new_state(server.config.settings())).greeting())


def receive(ws: ClientConnection, count: int) -> list[str]:
    return [str(ws.recv(timeout=10)) for _ in range(count)]


@pytest.mark.parametrize("protocol", ["ws-events", "chunk-complete"])
@pytest.mark.parametrize(
    "frame", ["{not json", "[1, 2]", '{"type": "dance", "data": {}}', '{"message": ""}']
)
def test_a_bad_frame_gets_the_protocols_error_and_the_connection_stays_usable(
    live_server: LiveServer, protocol: str, frame: str
) -> None:
    expected = ws_answers(live_server, protocol, frame)
    assert expected
    assert all(json.loads(e)["type"] == "error" for e in expected)
    with Talk(live_server, protocol) as talk:
        ws = talk.connect()
        receive(ws, len(greeting(live_server, protocol)))
        ws.send(frame)
        assert receive(ws, len(expected)) == expected
        exchange = talk.say("still there?")
    assert exchange.text == default_reply("still there?").text


def test_ws_events_refuses_a_bad_token_and_lets_the_client_retry(live_server: LiveServer) -> None:
    with connect(live_server.url("/ws/chat", ws=True)) as ws:
        assert json.loads(str(ws.recv(timeout=10)))["type"] == "connected"
        expired = mint_dev_token(live_server.config.jwt_secret, now=time.time() - 7200)
        for token in ("not-a-jwt", expired, mint_dev_token("wrong-secret")):
            ws.send(json.dumps({"type": "create_chat", "data": {"token": token}}))
            answer = json.loads(str(ws.recv(timeout=10)))
            assert answer["type"] == "error"
            assert answer["data"]["message"].startswith("Authentication failed")
        ws.send(json.dumps({"type": "message", "data": {"message": "hi"}}))
        assert json.loads(str(ws.recv(timeout=10)))["data"]["message"] == (
            "Join or create a chat before sending messages"
        )
        good = mint_dev_token(live_server.config.jwt_secret)
        ws.send(json.dumps({"type": "create_chat", "data": {"token": good}}))
        kinds = [json.loads(m)["type"] for m in receive(ws, 2)]
        assert kinds == ["authenticated", "chat_created"]


def test_ws_events_keeps_history_for_a_client_that_drops_mid_turn_and_rejoins(
    live_server_session: LiveServer, tmp_path: Any
) -> None:
    (tmp_path / "gap.json").write_text(json.dumps(GAP))
    config = {"scenario_dirs": (tmp_path,), "speed": 1.0}
    with reconfigured(live_server_session, **config) as server:
        talk = Talk(server, "ws-events", scenario="gap")
        talk.say("first question", leave_when=after_first_text)
        assert server.wait_idle()
        chat = talk.chat
        assert chat is not None
        with connect(server.url("/ws/chat", ws=True)) as ws:
            receive(ws, 1)
            token = mint_dev_token(server.config.jwt_secret)
            ws.send(json.dumps({"type": "join_chat", "data": {"token": token, "chatId": chat}}))
            joined = json.loads(receive(ws, 2)[1])
        assert joined["type"] == "chat_joined"
        contents = [m["content"] for m in joined["data"]["messages"]]
        assert contents[0] == "first question"
        assert joined["data"]["title"].startswith("first question")


def test_chunk_complete_gives_each_reply_a_new_message_id(live_server: LiveServer) -> None:
    (_first, second) = converse(live_server, "chunk-complete", ["one", "two"])
    ids = [
        json.loads(f.payload)["message_id"]
        for _, f in second.transcript.frames()
        if isinstance(f.payload, str)
    ]
    assert ids[0] == "bot_1"
    assert ids[-1] == "bot_2"
    assert check(second.transcript) == []
