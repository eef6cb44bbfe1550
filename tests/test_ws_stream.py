"""The WebSocket route, ``mockserver/ws_stream.py``, and its responders
(``mockserver/ws_responders.py``): a failing session, a binary frame, a drop fault.

Its replies themselves are tested per protocol (``tests/test_server_streams.py``), its
decisions with the SSE route's (``tests/test_endpoint.py``, a recorded connection too), hostile
clients and the bounded inbox in ``tests/test_reliability_ws.py``, the framing fast path in
``tests/test_ws_frames.py``, a cancelled reply in ``tests/test_server_goose_web.py``, held and
cut replies in ``tests/test_server_hold.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import ClientConnection, connect

from mockserver import streams
from mockserver.testing import LiveServer
from streamctl.core.protocols import get
from tests.live import converse

#: A chunk-complete client message.
HI = json.dumps({"message": "hi", "timestamp": "2026-01-01T00:00:00.000Z"})


def test_an_error_in_a_websocket_session_closes_it_with_1011(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proto = get("chunk-complete")

    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(type(proto), "open", broken)
    with (
        connect(live_server.url("/chat/ws", ws=True)) as ws,
        pytest.raises(ConnectionClosedError) as closed,
    ):
        ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1011
    monkeypatch.undo()
    (exchange,) = converse(live_server, "chunk-complete", ["hi"])
    assert exchange.done


def test_a_binary_client_frame_reaches_the_protocol_as_text(live_server: LiveServer) -> None:
    with connect(live_server.url("/chat/ws", ws=True)) as ws:
        ws.send(b"\xff not json")
        answer = json.loads(ws.recv(timeout=10))
    assert answer["type"] == "error"
    assert live_server.server.journal.entries()[-1]["messages"] == ["\ufffd not json"]


def test_a_drop_fault_closes_the_connection_and_the_journal_says_so(
    live_server: LiveServer,
) -> None:
    url = live_server.url("/chat/ws?fault=drop:after=2,code=4001", ws=True)
    with connect(url) as ws:
        ws.send(HI)
        with pytest.raises(ConnectionClosedError) as closed:
            _read_until_closed(ws)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "fault injected")
    assert live_server.server.wait_idle(10)
    (entry,) = live_server.server.journal.entries({"protocol": "chunk-complete"})
    assert [(r["outcome"], r["writes"]) for r in entry["replies"]] == [("dropped", 2)]


def test_an_error_mid_reply_closes_with_1011_and_marks_the_reply_failed(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(reply: Any, writer: Any, *args: Any, **kwargs: Any) -> None:
        await writer.write(reply.rendering.outs[0].payload)  # a first message is out
        raise RuntimeError("a bug")

    monkeypatch.setattr(streams, "send", broken)  # what a listed reply is played with
    with connect(live_server.url("/chat/ws", ws=True)) as ws:
        ws.send(HI)
        with pytest.raises(ConnectionClosedError) as closed:
            _read_until_closed(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1011
    assert live_server.server.wait_idle(10)
    (entry,) = live_server.server.journal.entries({"protocol": "chunk-complete"})
    assert entry["outcome"] == "error"
    assert [r["outcome"] for r in entry["replies"]] == ["error"]


def _read_until_closed(ws: ClientConnection) -> None:
    while True:
        ws.recv(timeout=10)
