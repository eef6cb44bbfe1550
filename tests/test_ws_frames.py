"""The mock frames plain WebSocket messages itself (mockserver/wsframes.py): the bytes wsproto
would have sent, and clients with and without permessage-deflate read the same messages."""

from __future__ import annotations

import json

import pytest
from websockets.sync.client import connect
from wsproto import Connection, ConnectionType
from wsproto.events import BytesMessage, TextMessage

from mockserver.testing import LiveServer
from mockserver.wsframes import BINARY, TEXT, frame

MESSAGE = json.dumps({"message": "hi", "timestamp": "2026-01-01T00:00:00.000Z"})


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_a_frame_is_what_wsproto_sends(size: int) -> None:
    wsproto = Connection(ConnectionType.SERVER, [])
    text = "é" * (size // 2) + "a" * (size % 2)
    assert frame(TEXT, text.encode()) == wsproto.send(TextMessage(data=text))
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert frame(BINARY, data) == wsproto.send(BytesMessage(data=data))


def reply(server: LiveServer, compression: str | None) -> list[str]:
    url = server.url("/chat/ws", ws=True)
    with connect(url, compression=compression, open_timeout=10) as ws:
        ws.send(MESSAGE)
        received: list[str] = []
        while not received or json.loads(received[-1])["type"] != "complete":
            received.append(str(ws.recv(timeout=10)))
    return received


def test_clients_with_and_without_deflate_read_the_same_reply(live_server: LiveServer) -> None:
    plain = reply(live_server, None)  # framed by the mock
    assert len(plain) > 1
    deflated = reply(live_server, "deflate")  # framed (and compressed) by wsproto
    assert deflated == plain
