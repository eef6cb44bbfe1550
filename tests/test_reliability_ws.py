"""WebSocket clients that flood, leave, or break RFC 6455: bounded inboxes and close frames.

The client is a raw socket: it sends frames the way a broken or hostile peer does, and reads
(or refuses to read) as it pleases.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from mockserver.config import ServerConfig
from mockserver.inbox import LIMIT
from mockserver.testing import LiveServer
from streamctl.engine.clock import FakeClock

PATH = "/chat/ws"  # chunk-complete: answers every message, no greeting
KB = b'{"message": "' + b"x" * 1000 + b'"}'


def frame(payload: bytes, opcode: int = 1, first: int = 0x80) -> bytes:
    """One masked client frame (``first`` holds FIN and the RSV bits)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", first | opcode, 0x80 | size)
    elif size < 65536:
        head = struct.pack("!BBH", first | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", first | opcode, 0x80 | 127, size)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def upgrade(server: LiveServer, path: str = PATH) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the server closed the connection without a close frame"
        data += chunk
    return data


def close_code(sock: socket.socket) -> int:
    """Read server frames until the close frame; its status code."""
    while True:
        first, second = read_exactly(sock, 2)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", read_exactly(sock, 2))[0]
        elif size == 127:
            size = struct.unpack("!Q", read_exactly(sock, 8))[0]
        payload = read_exactly(sock, size)
        if first & 0x0F == 8:
            return int(struct.unpack("!H", payload[:2])[0])


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (frame(b'{"message": "\xff\xfe"}'), 1007),  # a text message that is not UTF-8
        (frame(KB, first=0x80 | 0x40), 1002),  # RSV1 without an extension
        (frame(KB, opcode=0x3), 1002),  # a reserved opcode
        (frame(b"x" * 200, opcode=0x9), 1002),  # a control frame over 125 bytes
    ],
)
def test_a_protocol_error_gets_a_close_frame_with_its_code(
    live_server: LiveServer, bad: bytes, code: int
) -> None:
    sock = upgrade(live_server)
    sock.sendall(bad)
    assert close_code(sock) == code
    sock.close()
    assert live_server.wait_idle(30)


@pytest.fixture
def frozen() -> Iterator[LiveServer]:
    """A server whose replies wait on a clock that never moves: the worker never finishes."""
    config = ServerConfig(watch=False, clock=FakeClock(), default_delay_ms=1000)
    with LiveServer(config) as server:
        yield server


def journal_messages(server: LiveServer) -> int:
    entries = httpx.get(server.url("/_streamctl/journal")).json()["entries"]
    return len(entries[0]["messages"]) if entries else 0


def test_the_server_stops_reading_when_the_inbox_is_full(frozen: LiveServer) -> None:
    sock = upgrade(frozen)
    sock.sendall(b"".join(frame(KB) for _ in range(100)))
    # One message in the worker, LIMIT in the inbox, one waiting for room: then no more reads.
    held = 1 + LIMIT + 1
    deadline = time.monotonic() + 30
    while journal_messages(frozen) < held and time.monotonic() < deadline:
        time.sleep(0.05)
    assert journal_messages(frozen) == held
    sock.close()
    # A server that is not reading learns that the client left from its next write: the
    # reply in progress ends there, and the backlog is never answered.
    for _ in range(60):
        if frozen.wait_idle(0.1):
            break
        with contextlib.suppress(TimeoutError):
            frozen.advance(1.0, timeout=1.0)
    assert frozen.wait_idle(10)
    entry = httpx.get(frozen.url("/_streamctl/journal")).json()["entries"][0]
    assert entry["outcome"] == "disconnected mid-reply"
    assert len(entry["replies"]) == 1


def test_a_client_that_floods_and_never_reads_is_held_back_and_let_go(
    live_server: LiveServer,
) -> None:
    before = tasks(live_server)
    sock = upgrade(live_server)
    sent = [0]
    flood = b"".join(frame(KB) for _ in range(1000))

    def send() -> None:
        try:
            for _ in range(200):  # 200 MB if nothing held it back
                sock.sendall(flood)
                sent[0] += len(flood)
        except OSError:
            pass  # the test closed the socket while this thread was held back

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    sender.join(20)
    held_back = sender.is_alive()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # unread replies: a reset, as when a client process dies
    sender.join(10)
    assert held_back, f"the server read all {sent[0] / 1e6:.0f} MB"
    assert sent[0] < 100e6
    assert live_server.wait_idle(30)
    assert httpx.get(live_server.url("/_streamctl/health")).json()["active"] == 0
    # Nothing of the connection is left: not the handler, not Hypercorn's reader.
    deadline = time.monotonic() + 30
    while tasks(live_server) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tasks(live_server) <= before


def tasks(server: LiveServer) -> int:
    """Tasks alive on the server's loop."""

    async def count() -> int:
        return len(asyncio.all_tasks())

    return int(server.run(count()))
