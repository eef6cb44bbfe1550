"""Clients continue a conversation the way each protocol keeps it."""

from __future__ import annotations

import json

from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.sse import SSEEvent


def test_goose_resends_the_whole_conversation_with_the_next_message() -> None:
    first = get("goose").client(ClientOptions("Hi", session="s1"))
    for text in ("Hel", "lo!"):
        message = {
            "id": "c1",
            "role": "assistant",
            "created": 1,
            "content": [{"type": "text", "text": text}],
        }
        first.on_event(SSEEvent(json.dumps({"type": "Message", "message": message})))
    second = first.follow_up("And then?")
    assert second is not None
    body = json.loads(second.request().body or b"")
    assert body["session_id"] == "s1"
    assert [(m["role"], m["content"][0]["text"]) for m in body["messages"]] == [
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "And then?"),
    ]


def test_ws_events_sends_the_next_message_in_the_chat_it_joined() -> None:
    first = get("ws-events").client(ClientOptions("Hi", token="t"))
    assert json.loads(first.opening()[0])["type"] == "create_chat"
    joined = json.dumps({"type": "chat_created", "data": {"chatId": "chat_9", "title": "x"}})
    assert first.on_message(joined).info == "chat chat_9"
    second = first.follow_up("And then?")
    assert second is not None
    assert [json.loads(m) for m in second.opening()] == [
        {"type": "message", "data": {"message": "And then?"}}
    ]


def test_a_ws_events_follow_up_before_any_chat_joins_again() -> None:
    second = get("ws-events").client(ClientOptions("Hi", token="t", chat="c")).follow_up("x")
    assert second is not None
    assert json.loads(second.opening()[0])["type"] == "join_chat"


def test_protocols_without_client_side_history_start_fresh_sessions() -> None:
    for name in ("sse-delta-done", "message-stream", "chunk-complete"):
        assert get(name).client(ClientOptions("Hi")).follow_up("next") is None
