"""The recording proxy's own HTTP/1.1 client (mockserver/upstream.py), against scripted upstreams.

Each upstream is a plain socket server in a thread that reads a request head and answers with
the exact bytes a test gives it (or closes mid-body, or is not there at all), so the framings a
real backend may use are all met: chunked, Content-Length, read-until-close.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.proxy import TEST_HEADER
from mockserver.upstream import Upstream, UpstreamError
from streamctl.core.redact import REDACTED
from streamctl.core.transcript import Request
from tests.test_proxy import Proxied, server_frames

SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
Script = Callable[[socket.socket, bytes], None]


class Scripted:
    """A server that answers each request on each connection with ``script(sock, head)``; a
    script that returns without closing leaves the connection open for the next request."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                self.heads.append(head)
                length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
                while length and len(buffer) < int(length.group(1)):
                    buffer += sock.recv(65536)
                cut = int(length.group(1)) if length else 0
                self.bodies.append(buffer[:cut])
                buffer = buffer[cut:]
                try:
                    self.script(sock, head)
                except OSError:
                    return
                if sock.fileno() == -1:
                    return

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def scripted() -> Iterator[Callable[[Script], Scripted]]:
    servers: list[Scripted] = []

    def make(script: Script) -> Scripted:
        servers.append(Scripted(script))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


async def fetch(upstream: Upstream, target: str = "/x") -> tuple[int, list[bytes]]:
    response = await upstream.request("GET", target, [("accept", "*/*")], b"")
    try:
        return response.status, [chunk async for chunk in response.chunks()]
    finally:
        await response.aclose()


def chunked(sock: socket.socket, head: bytes, extra: bytes = b"") -> None:
    sock.sendall(SSE_HEAD + extra + b"transfer-encoding: chunked\r\n\r\n")
    for data in (b"data: one\n\n", b"data: two\n\n"):
        sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
    sock.sendall(b"0\r\n\r\n")


def test_a_chunked_body_comes_chunk_by_chunk_and_the_connection_is_kept(
    scripted: Callable[[Script], Scripted],
) -> None:
    server = scripted(chunked)

    async def twice() -> list[tuple[int, list[bytes]]]:
        upstream = Upstream(server.base_url)
        try:
            return [await fetch(upstream), await fetch(upstream)]
        finally:
            await upstream.aclose()

    for status, chunks in asyncio.run(twice()):
        assert status == 200
        assert b"".join(chunks) == b"data: one\n\ndata: two\n\n"
    assert server.connections == 1  # the second request went on the kept connection
    assert server.heads[0].startswith(b"GET /x HTTP/1.1\r\n")
    assert b"\r\nhost: 127.0.0.1:" in server.heads[0]


def test_a_content_length_body_and_a_body_read_until_close(
    scripted: Callable[[Script], Scripted],
) -> None:
    def sized(sock: socket.socket, head: bytes) -> None:
        if head.startswith(b"GET /sized "):
            sock.sendall(SSE_HEAD + b"content-length: 11\r\n\r\ndata: one\n\n")
        else:  # HTTP/1.0 style: the body ends when the connection does
            sock.sendall(SSE_HEAD + b"connection: close\r\n\r\ndata: end\n\n")
            sock.close()

    server = scripted(sized)

    async def both() -> tuple[list[bytes], list[bytes]]:
        upstream = Upstream(server.base_url)
        try:
            return (await fetch(upstream, "/sized"))[1], (await fetch(upstream, "/close"))[1]
        finally:
            await upstream.aclose()

    sized_body, closed_body = asyncio.run(both())
    assert b"".join(sized_body) == b"data: one\n\n"
    assert b"".join(closed_body) == b"data: end\n\n"


@pytest.mark.parametrize(
    "cut",
    [
        SSE_HEAD + b"content-length: 100\r\n\r\ndata: one\n\n",
        SSE_HEAD + b"transfer-encoding: chunked\r\n\r\nb\r\ndata: one\n\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-ty",  # not even a whole head
        b"",  # not even a status line
        b"NOT HTTP AT ALL\r\n\r\n",
    ],
    ids=["content-length", "chunked", "head", "nothing", "garbage"],
)
def test_an_upstream_that_closes_mid_exchange_is_an_error(
    scripted: Callable[[Script], Scripted], cut: bytes
) -> None:
    def close_early(sock: socket.socket, head: bytes) -> None:
        sock.sendall(cut)
        sock.close()

    server = scripted(close_early)
    received: list[bytes] = []

    async def read() -> None:
        upstream = Upstream(server.base_url)
        try:
            response = await upstream.request("GET", "/x", [], b"")
            try:
                async for chunk in response.chunks():
                    received.append(chunk)
            finally:
                await response.aclose()
        finally:
            await upstream.aclose()

    with pytest.raises(UpstreamError):
        asyncio.run(read())
    if cut.endswith(b"one\n\n") or cut.endswith(b"one\n\n\r\n"):
        assert b"".join(received) == b"data: one\n\n"  # what came before the cut is passed on


def test_an_upstream_that_refuses_connections_is_an_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]  # closed at once: nothing listens there any more
    with pytest.raises(UpstreamError):
        asyncio.run(fetch(Upstream(f"http://127.0.0.1:{port}")))


def test_a_kept_connection_the_upstream_closed_is_replaced(
    scripted: Callable[[Script], Scripted],
) -> None:
    def once_per_connection(sock: socket.socket, head: bytes) -> None:
        # A kept-alive response, then the upstream drops the connection anyway.
        sock.sendall(SSE_HEAD + b"content-length: 11\r\n\r\ndata: one\n\n")
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    server = scripted(once_per_connection)

    async def twice() -> list[tuple[int, list[bytes]]]:
        upstream = Upstream(server.base_url)
        try:
            first = await fetch(upstream)
            await asyncio.sleep(0)
            return [first, await fetch(upstream)]
        finally:
            await upstream.aclose()

    assert [status for status, _ in asyncio.run(twice())] == [200, 200]
    assert server.connections == 2


def test_a_request_body_is_sent_with_its_length_and_informational_responses_are_skipped(
    scripted: Callable[[Script], Scripted],
) -> None:
    def echo(sock: socket.socket, head: bytes) -> None:
        sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok")

    server = scripted(echo)

    async def post() -> tuple[int, bytes]:
        upstream = Upstream(server.base_url + "/")
        try:
            response = await upstream.request("POST", "/reply", [], b'{"a": 1}')
            body = b"".join([chunk async for chunk in response.chunks()])
            await response.aclose()
            return response.status, body
        finally:
            await upstream.aclose()

    assert asyncio.run(post()) == (201, b"ok")
    assert b"\r\ncontent-length: 8" in server.heads[0]
    assert server.bodies == [b'{"a": 1}']


def test_a_header_the_request_cannot_carry_is_an_error(
    scripted: Callable[[Script], Scripted],
) -> None:
    server = scripted(chunked)
    upstream = Upstream(server.base_url)
    with pytest.raises(UpstreamError, match="cannot send the request"):
        asyncio.run(upstream.request("GET", "/x", [("bad header", "x")], b""))


# --- through the proxy --------------------------------------------------------------------


def test_the_proxy_passes_secrets_on_but_never_writes_them_down(
    scripted: Callable[[Script], Scripted], tmp_path: Path
) -> None:
    def sse(sock: socket.socket, head: bytes) -> None:
        chunked(sock, head, b"set-cookie: session=s3cr3t\r\n")

    server = scripted(sse)
    (tmp_path / "out").mkdir()
    proxied = Proxied(server.base_url, tmp_path / "out")
    headers = {"authorization": "Bearer tok3n", "x-api-key": "k3y", TEST_HEADER: "secrets"}
    try:
        url = f"{proxied.live.base_url}/api/chat/stream?message=hi&api_key=qu3ry"
        with httpx.stream("GET", url, headers=headers) as response:
            body = b"".join(response.iter_raw())
            cookie = response.headers["set-cookie"]
        proxied.wait_for("secrets")
    finally:
        proxied.live.stop()
    assert body == b"data: one\n\ndata: two\n\n"
    assert cookie == "session=s3cr3t"  # the client gets the upstream's headers as they were
    head = server.heads[0].decode("latin-1").lower()
    assert "authorization: bearer tok3n" in head  # the upstream gets the client's
    assert "api_key=qu3ry" in head
    assert TEST_HEADER not in head
    text = (proxied.out / "secrets.jsonl").read_text(encoding="utf-8")
    for secret in ("tok3n", "k3y", "qu3ry", "s3cr3t"):
        assert secret not in text
    recorded = proxied.recording("secrets")
    request: Request = recorded.header.request
    assert ("authorization", REDACTED) in request.headers
    assert recorded.header.response is not None
    assert ("set-cookie", REDACTED) in recorded.header.response.headers
    assert [f.payload for f in server_frames(recorded)] == [b"data: one\n\n", b"data: two\n\n"]


def test_an_upstream_that_cuts_the_body_cuts_the_clients_and_the_recording_says_so(
    scripted: Callable[[Script], Scripted], tmp_path: Path
) -> None:
    def cut(sock: socket.socket, head: bytes) -> None:
        sock.sendall(SSE_HEAD + b"content-length: 100\r\n\r\ndata: one\n\n")
        sock.close()

    server = scripted(cut)
    (tmp_path / "out").mkdir()
    proxied = Proxied(server.base_url, tmp_path / "out")
    received: list[bytes] = []
    try:
        url = f"{proxied.live.base_url}/api/chat/stream?message=hi"
        with (
            pytest.raises(httpx.HTTPError),
            httpx.stream("GET", url, headers={TEST_HEADER: "cut"}) as response,
        ):
            received.extend(response.iter_raw())
        proxied.wait_for("cut")
    finally:
        proxied.live.stop()
    assert b"".join(received) == b"data: one\n\n"
    recorded = proxied.recording("cut")
    assert recorded.end is not None
    assert recorded.end.outcome == "error"
    assert recorded.end.detail.startswith("upstream: ")


def test_an_upstream_that_closes_without_answering_is_a_502_and_an_error_recording(
    scripted: Callable[[Script], Scripted], tmp_path: Path
) -> None:
    def hang_up(sock: socket.socket, head: bytes) -> None:
        sock.close()

    server = scripted(hang_up)
    (tmp_path / "out").mkdir()
    proxied = Proxied(server.base_url, tmp_path / "out")
    try:
        url = f"{proxied.live.base_url}/api/chat/stream?message=hi"
        response = httpx.get(url, headers={TEST_HEADER: "hung-up"})
    finally:
        proxied.live.stop()
    assert response.status_code == 502
    # The request had reached the upstream, so its transcript was begun; it says what happened.
    recorded = proxied.recording("hung-up")
    assert recorded.end is not None
    assert recorded.end.outcome == "error"
    assert recorded.end.detail.startswith("upstream: ")
