"""A request body trickled in slowly is cut off at the body deadline, not waited for.

Real sockets send part of a body and then stop (or go on a byte at a time); the server's clock
is a fake one the test moves, except in the last test, whose deadline is one real second.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import httpx
import pytest

from mockserver.config import ServerConfig
from mockserver.testing import LiveServer
from streamctl.engine.clock import FakeClock

DEADLINE_S = 30.0


@pytest.fixture
def fake_time() -> Iterator[LiveServer]:
    config = ServerConfig(watch=False, speed=0, clock=FakeClock(), body_timeout_s=DEADLINE_S)
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


@pytest.mark.parametrize(
    "path", ["/reply", "/_streamctl/queue", "/api/web/v1/chats/1/messages/stream"]
)
def test_a_body_trickled_past_the_deadline_gets_a_408_and_the_connection_closes(
    fake_time: LiveServer, path: str
) -> None:
    sock = start(fake_time, path, 1000, b'{"messages": [')
    fake_time.advance(DEADLINE_S / 2)
    sock.sendall(b"1, 2, 3")  # bytes still coming do not move the deadline
    fake_time.advance(DEADLINE_S / 2)
    got = answer(sock)
    assert got.startswith(b"HTTP/1.1 408 ")
    assert b"did not arrive within 30 s" in got
    assert httpx.get(fake_time.url("/_streamctl/health")).json()["active"] == 0


def test_a_body_that_arrives_in_time_is_served(fake_time: LiveServer) -> None:
    body = b'{"protocol": "goose", "scenario": "plain"}'
    sock = start(fake_time, "/_streamctl/queue", len(body), body[:10])
    fake_time.advance(DEADLINE_S - 1)
    sock.sendall(body[10:])
    head = sock.recv(65536)
    sock.close()
    assert head.startswith(b"HTTP/1.1 200 ")


def test_a_hundred_stuck_uploads_are_all_let_go_and_others_are_served(
    fake_time: LiveServer,
) -> None:
    socks = [start(fake_time, "/reply", 10_000, b"{") for _ in range(100)]
    fake_time.advance(DEADLINE_S, sleepers=100)
    assert all(answer(s).startswith(b"HTTP/1.1 408 ") for s in socks)
    assert httpx.get(fake_time.url("/status")).status_code == 200


def test_a_real_byte_a_tick_client_is_cut_off_by_the_real_clock(
    live_server_session: LiveServer,
) -> None:
    with live_server_session.with_config(body_timeout_s=1.0) as server:
        sock = start(server, "/reply", 100_000, b"{")
        sent = 1
        # The client would need 10,000 s at this pace; the server's deadline is 1 s.
        while sent < 100_000:
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable:
                break
            sock.sendall(b" ")
            sent += 1
        got = answer(sock)
    assert got.startswith(b"HTTP/1.1 408 ")
    assert sent < 100_000
