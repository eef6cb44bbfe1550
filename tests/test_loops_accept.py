"""uvloop servers on a socket of ours accept through :class:`mockserver.loops.Acceptor`."""

from __future__ import annotations

import asyncio
import importlib.util
import socket

import pytest

from mockserver.loops import Acceptor, new_loop
from mockserver.startup import bind

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"
)


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[attr-defined]


async def burst(port: int, clients: int) -> list[bytes]:
    async def one(i: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"%d\n" % i)
        line = await reader.readline()
        writer.close()
        return line

    return await asyncio.gather(*(one(i) for i in range(clients)))


def test_a_burst_of_clients_is_accepted_and_served_on_uvloop() -> None:
    loop = new_loop("uvloop")
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]

    async def main() -> list[bytes]:
        server = await asyncio.start_server(
            lambda r, w: None, sock=sock, backlog=2048
        )  # Hypercorn's call: host and port passed as None
        assert isinstance(server, Acceptor)
        assert server.is_serving()
        assert server.get_loop() is asyncio.get_running_loop()
        server.close()
        fresh = bind("127.0.0.1", port)
        echo = await asyncio.get_running_loop().create_server(Echo, sock=fresh, backlog=2048)
        assert isinstance(echo, Acceptor)
        async with echo:
            await echo.start_serving()
            got = await burst(port, 300)
        await echo.wait_closed()
        assert not echo.is_serving()
        echo.close()  # twice is harmless
        return got

    try:
        got = loop.run_until_complete(main())
    finally:
        loop.close()
    assert got == [b"%d\n" % i for i in range(300)]
    assert sock.fileno() == -1  # closed with the server


def test_servers_on_an_address_are_uvloops_own() -> None:
    loop = new_loop("uvloop")

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
        assert not isinstance(server, Acceptor)
        server.close()
        await server.wait_closed()

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def test_a_client_that_leaves_before_it_is_set_up_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = new_loop("uvloop")
    sock = bind("127.0.0.1", 0)

    refused: list[socket.socket] = []

    async def refuse(factory: object, conn: socket.socket) -> None:
        refused.append(conn)
        raise ConnectionResetError

    async def main() -> None:
        server = Acceptor(asyncio.get_running_loop(), Echo, sock, 16)
        monkeypatch.setattr(loop, "connect_accepted_socket", refuse)
        client = socket.create_connection(sock.getsockname())
        async with asyncio.timeout(30):
            while not refused or server._pending:
                await asyncio.sleep(0.01)
        client.close()
        server.close()
        assert refused[0].fileno() == -1  # closed, not leaked

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
