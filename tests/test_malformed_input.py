"""Malformed input on a real server: every protocol answers in its own error shape, never 500 or
close 1011, and the chat or session it touched keeps working (issue 16).

Before: ``{"content":"hi \\ud800"}`` was a 500 on message-stream, and that chat's history
answered 500 from then on; a 500 on goose; close 1011 on ws-events and chunk-complete; deep
JSON was a 500 on message-stream and close 1011 on ws-events.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
from websockets.sync.client import ClientConnection, connect

from mockserver.testing import LiveServer
from streamctl.core.jwt import mint_dev_token
from streamctl.core.protocols.exchange import Accepted, HttpRequest, HttpResponse, Settings
from streamctl.core.protocols.message_stream.server import ChatStore, accept
from streamctl.core.protocols.message_stream.validation import ECHO_LIMIT, message_body
from streamctl.core.protocols.ws_events import WSEvents

LONE = b'"hi \\ud800"'
DEEP = b"[" * 100_000 + b"]" * 100_000
MS = "/api/web/v1/chats/{}/messages"
GOOSE = {"content-type": "application/json", "x-secret-key": "test"}


def _ms_post(server: LiveServer, chat: int, body: bytes) -> httpx.Response:
    headers = {"content-type": "application/json"}
    url = server.url(MS.format(chat) + "/stream")
    return httpx.post(url, content=body, headers=headers, timeout=10)


def test_message_stream_refuses_a_lone_surrogate_and_the_chat_lives_on(
    live_server: LiveServer,
) -> None:
    answer = _ms_post(live_server, 7, b'{"content":' + LONE + b"}")
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert (error["type"], error["loc"], error["input"]) == (
        "string_unicode",
        ["body", "content"],
        "hi \ud800",
    )
    assert b"\\ud800" in answer.content  # escaped, so the answer is UTF-8
    assert _ms_post(live_server, 7, b'{"content":"hi"}').status_code == 200
    history = httpx.get(live_server.url(MS.format(7)), timeout=10)
    assert history.status_code == 200
    assert history.json()[0]["content"] == "hi"


def test_message_stream_refuses_deep_json_and_bad_utf8(live_server: LiveServer) -> None:
    deep = _ms_post(live_server, 8, DEEP)
    assert deep.status_code == 422
    assert deep.json()["detail"][0]["type"] == "json_invalid"
    bad = _ms_post(live_server, 8, b'{"content":"\xff"}')
    assert bad.status_code == 400
    assert bad.json() == {"detail": "There was an error parsing the body"}


def test_goose_refuses_a_lone_surrogate_in_serde_s_words(live_server: LiveServer) -> None:
    body = b'{"session_working_dir":"/w","session_id":"s","messages":[{"role":"user",'
    body += b'"content":[{"type":"text","text":' + LONE + b"}]}]}"
    answer = httpx.post(live_server.url("/reply"), content=body, headers=GOOSE, timeout=10)
    assert answer.status_code == 400
    assert answer.text.startswith("Failed to parse the request body as JSON: unexpected end of hex")
    session = httpx.get(live_server.url("/sessions/s"), headers=GOOSE, timeout=10)
    assert session.status_code == 200


def _recv_json(ws: ClientConnection) -> dict[str, object]:
    message = ws.recv(timeout=10)
    assert isinstance(message, str)
    obj = json.loads(message)
    assert isinstance(obj, dict)
    return obj


def test_ws_events_echoes_a_lone_surrogate_as_node_does(live_server: LiveServer) -> None:
    token = mint_dev_token(live_server.config.jwt_secret, now=time.time())
    with connect(live_server.url("/ws/chat", ws=True), open_timeout=10) as ws:
        assert _recv_json(ws)["type"] == "connected"
        ws.send(json.dumps({"type": "create_chat", "data": {"token": token}}))
        while _recv_json(ws)["type"] != "chat_created":
            pass
        ws.send(DEEP.decode())
        assert _recv_json(ws) == {
            "type": "error",
            "data": {"message": "Invalid message format: not JSON"},
        }
        ws.send('{"type":"message","data":{"message":' + LONE.decode() + "}}")
        raw = ws.recv(timeout=10)
        assert isinstance(raw, str)
        assert '"hi \\ud800"' in raw  # JSON.stringify escapes a lone surrogate
        kinds = []
        while not kinds or kinds[-1] != "assistant_message_complete":
            kinds.append(_recv_json(ws)["type"])
        assert kinds[0] == "assistant_message_start"


def test_chunk_complete_answers_a_lone_surrogate_with_its_error(live_server: LiveServer) -> None:
    with connect(live_server.url("/chat/ws", ws=True), open_timeout=10) as ws:
        ws.send('{"message":' + LONE.decode() + ',"timestamp":"2026-01-01T00:00:00Z"}')
        error = _recv_json(ws)
        assert error["type"] == "error"
        assert "lone surrogate" in str(error["message"])
        ws.send('{"message":"hi","timestamp":"2026-01-01T00:00:00Z"}')
        assert _recv_json(ws)["type"] == "chunk"  # the connection serves on


# --- the same, without a server: the parts that decide ---------------------------------------


def test_message_stream_reads_what_only_python_takes_as_fastapi_does() -> None:
    nan = message_body(b"[NaN]")
    assert not isinstance(nan, HttpResponse)
    assert nan[1][0]["type"] == "model_attributes_type"
    missing = message_body(b'{"x": NaN, "y": {"content": 1}}')
    assert not isinstance(missing, HttpResponse)
    assert missing[1] == [
        {"type": "missing", "loc": ["body", "content"], "msg": "Field required", "input": {}}
    ]
    not_text = message_body(b'{"content": NaN}')
    assert not isinstance(not_text, HttpResponse)
    assert not_text[1][0]["type"] == "string_type"


def test_message_stream_echoes_no_input_past_its_limit() -> None:
    big = b'{"x":"' + b"a" * ECHO_LIMIT + b'"}'
    refused = message_body(big)
    assert not isinstance(refused, HttpResponse)
    assert refused[1][0]["input"] is None
    small = message_body(b'{"x":"a"}')
    assert not isinstance(small, HttpResponse)
    assert small[1][0]["input"] == {"x": "a"}


class _Untouchable(list[dict[str, object]]):
    """A history that counts how often anything walks through it."""

    walks = 0

    def __iter__(self) -> Iterator[dict[str, object]]:
        type(self).walks += 1
        return super().__iter__()


def test_ws_events_does_not_walk_the_history_per_message() -> None:
    state = WSEvents().new_state(Settings())
    session = WSEvents().open(state)
    token = mint_dev_token(state.own.jwt_secret, now=time.time())
    session.receive(json.dumps({"type": "create_chat", "data": {"token": token}}))
    chat = next(iter(state.chats.values()))
    chat.messages = _Untouchable(chat.messages)
    for number in range(50):
        reaction = session.receive(json.dumps({"type": "message", "data": {"message": "hi"}}))
        assert reaction.turn is not None
        assert reaction.turn.index == number
    assert _Untouchable.walks == 0


def test_message_stream_counts_turns_as_messages_come_and_go() -> None:
    store = ChatStore(Settings())
    store.chats[1] = _Untouchable()
    request = HttpRequest("POST", "/api/web/v1/chats/1/messages/stream", body=b'{"content":"a"}')
    turns = [accept(request, store) for _ in range(3)]
    assert [t.turn.index for t in turns if isinstance(t, Accepted)] == [0, 1, 2]
    assert _Untouchable.walks == 0
    first = store.chats[1][0]["id"]
    assert store.delete(1, first)
    again = accept(request, store)
    assert isinstance(again, Accepted)
    assert again.turn.index == 2
