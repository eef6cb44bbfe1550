"""The mock frames plain WebSocket messages itself (mockserver/wsframes.py): the bytes wsproto
would have sent, and clients with and without permessage-deflate read the same messages.

A client's permessage-deflate offer is declined unless the server runs with ``ws_deflate``
(``streamctl serve --ws-deflate``; see mockserver/hyperfix.py), on either HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.events import RawData
from websockets.sync.client import connect
from websockets.sync.connection import Connection as Client
from wsproto import Connection, ConnectionType
from wsproto.events import BytesMessage, TextMessage

from mockserver import ws_stream
from mockserver.asgi import WS_FRAMES, ws_payloads
from mockserver.config import ServerConfig
from mockserver.hyperlean import install as install_lean_hypercorn
from mockserver.testing import LiveServer
from mockserver.wsframes import BINARY, TEXT, frame, joined

MESSAGE = json.dumps({"message": "hi", "timestamp": "2026-01-01T00:00:00.000Z"})


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_a_frame_is_what_wsproto_sends(size: int) -> None:
    wsproto = Connection(ConnectionType.SERVER, [])
    text = "é" * (size // 2) + "a" * (size % 2)
    assert frame(TEXT, text.encode()) == wsproto.send(TextMessage(data=text))
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert frame(BINARY, data) == wsproto.send(BytesMessage(data=data))


def reply(
    server: LiveServer, compression: str | None, query: str = ""
) -> tuple[list[str], list[str]]:
    """The messages of one reply, and the extensions the handshake settled on."""
    url = server.url("/chat/ws" + query, ws=True)
    with connect(url, compression=compression, open_timeout=10) as ws:
        ws.send(MESSAGE)
        received: list[str] = []
        while not received or json.loads(received[-1])["type"] != "complete":
            received.append(str(ws.recv(timeout=10)))
    return received, extensions(ws)


def extensions(ws: Client) -> list[str]:
    return [extension.name for extension in ws.protocol.extensions]


def test_a_deflate_offer_is_declined_and_the_reply_is_the_same(live_server: LiveServer) -> None:
    plain, none = reply(live_server, None)  # framed by the mock
    assert len(plain) > 1
    assert none == []
    offered, settled = reply(live_server, "deflate")
    assert settled == []  # declined: still framed by the mock, uncompressed
    assert offered == plain


@pytest.mark.parametrize("engine", ["hypercorn", "uvicorn"])
def test_with_ws_deflate_an_offer_is_accepted_and_the_reply_is_the_same(engine: str) -> None:
    config = ServerConfig(ws_deflate=True, watch=False, speed=0, server=engine)
    with LiveServer(config) as server:
        plain, none = reply(server, None)
        deflated, settled = reply(server, "deflate")  # framed (and compressed) by wsproto
    assert none == []
    assert settled == ["permessage-deflate"]
    assert deflated == plain


def test_on_uvicorn_a_deflate_offer_is_declined_too() -> None:
    config = ServerConfig(watch=False, speed=0, server="uvicorn")
    with LiveServer(config) as server:
        _, settled = reply(server, "deflate")
    assert settled == []


def test_messages_due_together_go_out_in_one_write_and_read_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = [f"t{i} " for i in range(300)]
    (tmp_path / "long.json").write_text(json.dumps({"tokens": tokens}))
    config = ServerConfig(watch=False, speed=0, bundled=False, scenario_dirs=(tmp_path,))
    install_lean_hypercorn()  # before the count goes in (a server installs it once)
    writes: list[int] = []
    original = TCPServer.protocol_send

    async def counted(self: TCPServer, event: object) -> None:
        if isinstance(event, RawData):
            writes.append(len(event.data))
        await original(self, event)

    monkeypatch.setattr(TCPServer, "protocol_send", counted)
    with LiveServer(config) as server:
        together, _ = reply(server, None, "?scenario=long")
        written_together = len(writes)
        with monkeypatch.context() as apart:
            apart.setattr(ws_stream, "socket_for", lambda scope, send: ws_stream.Socket(send))
            one_by_one, _ = reply(server, None, "?scenario=long")
    assert "".join(json.loads(m).get("text", "") for m in together) == "".join(tokens)
    assert together == one_by_one
    # The 101, then the reply (300 chunks and its complete) in one write.
    assert written_together <= 3
    assert len(writes) - written_together >= len(tokens)


def test_a_joined_send_names_each_message_it_sends() -> None:
    message = joined(["a", b"\x00", "é"])
    assert ws_payloads(message) == ("a", b"\x00", "é")
    assert message[WS_FRAMES] == frame(TEXT, b"a") + frame(BINARY, b"\x00") + frame(
        TEXT, "é".encode()
    )
    assert ws_payloads({"type": "websocket.send", "text": "x"}) == ("x",)
    assert ws_payloads({"type": "websocket.send", "bytes": b"y"}) == (b"y",)
