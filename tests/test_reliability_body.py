"""A request body trickled in slowly is cut off at the body deadline, not waited for.

Real sockets send part of a body and then stop, or go on a byte at a time; the server gives
bodies one real second (the client only ever waits for its answer, never sleeps to sync).
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import httpx
import pytest

from mockserver.config import ServerConfig
from mockserver.testing import LiveServer

DEADLINE_S = 1.0


@pytest.fixture
def short() -> Iterator[LiveServer]:
    """A server that gives bodies one (real) second."""
    config = ServerConfig(watch=False, speed=0, body_timeout_s=DEADLINE_S)
    with LiveServer(config) as server:
        yield server


def start(server: LiveServer, path: str, length: int, first: bytes) -> socket.socket:
    """A connection that sent the head of a POST with ``first`` of its ``length``-byte body."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Secret-Key: test\r\nContent-Length: {length}\r\n\r\n"
    )
    sock.sendall(head.encode() + first)
    return sock


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    seen = b""
    while chunk := sock.recv(65536):
        seen += chunk
    sock.close()
    return seen


def trickle(sock: socket.socket, limit: int) -> int:
    """Send a byte every 0.1 s until the server answers (or ``limit`` bytes); how many went."""
    sent = 0
    while sent < limit:
        readable, _, _ = select.select([sock], [], [], 0.1)
        if readable:
            break
        sock.sendall(b" ")
        sent += 1
    return sent


@pytest.mark.parametrize(
    "path", ["/reply", "/_streamctl/queue", "/api/web/v1/chats/1/messages/stream"]
)
def test_a_body_trickled_past_the_deadline_gets_a_408_and_the_connection_closes(
    short: LiveServer, path: str
) -> None:
    sock = start(short, path, 100_000, b'{"messages": [')
    # Bytes still coming do not move the deadline: at this pace the body needs 10,000 s.
    sent = trickle(sock, 100_000)
    got = answer(sock)
    assert got.startswith(b"HTTP/1.1 408 ")
    assert b"did not arrive within 1 s" in got
    assert sent < 100_000
    assert short.wait_idle(10)


def test_a_silent_upload_gets_a_408_too(short: LiveServer) -> None:
    sock = start(short, "/reply", 1000, b"")
    assert answer(sock).startswith(b"HTTP/1.1 408 ")


def test_a_body_that_arrives_in_time_is_served(live_server: LiveServer) -> None:
    body = b'{"protocol": "goose", "scenario": "plain"}'
    sock = start(live_server, "/_streamctl/queue", len(body), body[:10])
    sock.sendall(body[10:])
    head = sock.recv(65536)
    sock.close()
    assert head.startswith(b"HTTP/1.1 200 ")


def test_a_hundred_stuck_uploads_are_all_let_go_and_others_are_served(short: LiveServer) -> None:
    socks = [start(short, "/reply", 10_000, b"{") for _ in range(100)]
    assert all(answer(s).startswith(b"HTTP/1.1 408 ") for s in socks)
    assert httpx.get(short.url("/status")).status_code == 200
    assert short.wait_idle(10)
