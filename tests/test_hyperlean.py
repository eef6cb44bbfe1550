"""Hypercorn's lighter paths (``mockserver/hyperlean.py``) send the same bytes and keep its
guarantees: a chunk is framed as h11 frames it, idle connections close after the keep-alive
timeout and at once at shutdown, a live response is never cut as idle, writes still wait for a
client that does not read, and a client that leaves is noticed."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.hyperlean import install
from tests.live_asgi import LiveASGI
from tests.loops import SERVER_LOOPS

TIMEOUT = 20.0
CHUNKS: dict[str, list[bytes]] = {}


def setup_module() -> None:
    install()


def test_making_the_mock_app_puts_hypercorn_on_the_lighter_paths() -> None:
    # In a fresh interpreter: in this one, setup_module has installed them already.
    code = (
        "from mockserver.hyperlean import installed\n"
        "assert not installed()\n"
        "from mockserver.app import create_app\n"
        "create_app()\n"
        "assert installed()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


async def replay(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Sends the chunks registered under the request's path; ``/length/…`` with a length."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    chunks = CHUNKS[path.removeprefix("/length")]
    headers = [(b"content-type", b"application/octet-stream")]
    if path.startswith("/length"):
        headers.append((b"content-length", str(sum(map(len, chunks))).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for chunk in chunks:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def raw_get(port: int, path: str) -> bytes:
    """The whole response to one GET, as bytes (the server closes: ``Connection: close``)."""
    with socket.create_connection(("127.0.0.1", port), TIMEOUT) as client:
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while data := client.recv(65536):
            received += data
    return received


def h11_body(chunks: list[bytes], length: int | None = None) -> bytes:
    """What h11 itself writes for ``chunks``: chunked, or with a content length."""
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    connection.next_event()
    headers = [("content-length", str(length))] if length is not None else []
    connection.send(h11.Response(status_code=200, headers=headers))
    body = b"".join(connection.send(h11.Data(data=c)) or b"" for c in chunks)
    return body + (connection.send(h11.EndOfMessage()) or b"")


@pytest.fixture(scope="module", params=SERVER_LOOPS)
def replayer(request: pytest.FixtureRequest) -> Iterator[LiveASGI]:
    with LiveASGI(replay, loop=request.param) as server:
        yield server


@settings(max_examples=60)
@given(chunks=st.lists(st.binary(max_size=3000), max_size=8), case=st.integers(0, 2**32))
def test_a_chunked_body_is_framed_byte_for_byte_as_h11_frames_it(
    replayer: LiveASGI, chunks: list[bytes], case: int
) -> None:
    path = f"/c{case}"
    CHUNKS[path] = chunks
    head, _, body = raw_get(replayer.port, path).partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == h11_body(chunks)
    # A content-length body still goes through h11, which counts it.
    head, _, body = raw_get(replayer.port, f"/length{path}").partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert body == h11_body(chunks, sum(map(len, chunks))) == b"".join(chunks)


def test_a_head_response_still_carries_no_body(replayer: LiveASGI) -> None:
    CHUNKS["/head"] = [b"never ", b"sent"]
    with socket.create_connection(("127.0.0.1", replayer.port), TIMEOUT) as client:
        client.sendall(b"HEAD /head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while data := client.recv(65536):
            received += data
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert body == b""


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for _ in range(int(scope["query_string"] or 0)):  # a reply that takes ?N x 0.1 s
        await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
        await asyncio.sleep(0.1)
    await send({"type": "http.response.body", "body": b"hello"})


def request(client: socket.socket, query: str = "") -> bytes:
    client.sendall(f"GET /?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    received = b""
    while not received.endswith(b"0\r\n\r\n"):
        data = client.recv(65536)
        assert data, f"closed mid-response: {received!r}"
        received += data
    return received


def seconds_until_closed(client: socket.socket) -> float:
    start = time.monotonic()
    assert client.recv(65536) == b""  # the server closed the connection
    return time.monotonic() - start


@pytest.mark.parametrize("loop", SERVER_LOOPS)
def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(loop: str) -> None:
    with LiveASGI(hello, loop=loop, keep_alive_timeout=0.5) as server:
        silent = socket.create_connection(("127.0.0.1", server.port), TIMEOUT)
        kept = socket.create_connection(("127.0.0.1", server.port), TIMEOUT)
        with silent, kept:
            started = time.monotonic()
            # A reply longer than the timeout is not cut: the connection is not idle.
            assert b"hello" in request(kept, "10")
            assert time.monotonic() - started >= 1.0
            assert b"hello" in request(kept)  # kept alive for a second request
            assert seconds_until_closed(kept) >= 0.45
            assert seconds_until_closed(silent) < TIMEOUT  # never asked: closed as idle too


@pytest.mark.parametrize("loop", SERVER_LOOPS)
def test_shutdown_closes_idle_connections_at_once(loop: str) -> None:
    server = LiveASGI(hello, loop=loop, keep_alive_timeout=600, graceful_timeout=600).start()
    clients = [socket.create_connection(("127.0.0.1", server.port), TIMEOUT) for _ in range(3)]
    try:
        for client in clients:
            assert b"hello" in request(client)
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        for client in clients:
            assert seconds_until_closed(client) < TIMEOUT
        stopping.join(TIMEOUT)
        assert server.stopped, "the server waited for its idle connections"
    finally:
        for client in clients:
            client.close()


class Flood:
    """Sends 1 KB chunks until told to stop or the client leaves; counts what it sent."""

    def __init__(self) -> None:
        self.sent = 0
        self.left = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})

        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        waiting = asyncio.ensure_future(disconnected())
        try:
            while not waiting.done() and self.sent < 256 * 1024 * 1024:
                await send({"type": "http.response.body", "body": b"x" * 1024, "more_body": True})
                self.sent += 1024
                await asyncio.sleep(0)  # a write that needs no wait does not yield to the loop
        finally:
            waiting.cancel()
            self.left.set()


@pytest.mark.parametrize("loop", SERVER_LOOPS)
def test_writes_wait_for_a_client_that_does_not_read_and_notice_it_leave(loop: str) -> None:
    flood = Flood()
    with LiveASGI(flood, loop=loop) as server:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(("127.0.0.1", server.port))
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        deadline, before = time.monotonic() + TIMEOUT, -1
        while flood.sent != before and time.monotonic() < deadline:  # until it is held back
            before = flood.sent
            time.sleep(0.3)
        # Held back by the unread socket: a few MB of kernel buffers at most, not 256 MB.
        assert 0 < flood.sent < 16 * 1024 * 1024
        client.close()
        assert flood.left.wait(TIMEOUT), "the app never learnt that the client left"


async def connections_open() -> int:
    """Hypercorn's tasks serving a connection (TCPServer.run and the app's), on this loop."""
    names = ("TCPServer.run", "_server_callback", "_handle")
    return sum(1 for t in asyncio.all_tasks() if any(n in repr(t.get_coro()) for n in names))


@pytest.mark.parametrize("loop", SERVER_LOOPS)
def test_a_connection_the_client_closed_ends_at_once_not_after_the_keep_alive(loop: str) -> None:
    # Hypercorn's task group waited for the idle task: every closed connection was kept for
    # the whole keep-alive timeout.
    with LiveASGI(hello, loop=loop, keep_alive_timeout=600) as server:
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", server.port), TIMEOUT) as client:
                assert b"hello" in request(client)
        deadline = time.monotonic() + TIMEOUT
        while server.run(connections_open()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.run(connections_open()) == 0
