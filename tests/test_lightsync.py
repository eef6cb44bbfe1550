"""The light queue and event Hypercorn gets per request (``mockserver/lightsync.py``) keep
asyncio's guarantees: order, a bound, waiters woken, cancelled waiters taking no wake-up; and a
request body still arrives whole, in order, through a full receive queue."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from typing import Any

from mockserver.hyperlean import install
from mockserver.lightsync import LightEvent, ReceiveQueue
from tests.live_asgi import LiveASGI

TIMEOUT = 20.0


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT))


async def spin() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_the_queue_gives_items_in_order_and_a_getter_waits_for_a_put() -> None:
    async def main() -> list[int]:
        queue: ReceiveQueue[int] = ReceiveQueue()
        getter = asyncio.create_task(queue.get())
        await spin()
        assert not getter.done()
        await queue.put(1)
        await queue.put(2)
        await queue.put(3)
        return [await getter, await queue.get(), await queue.get()]

    assert run(main()) == [1, 2, 3]


def test_a_put_waits_while_the_queue_is_full() -> None:
    async def main() -> None:
        queue: ReceiveQueue[int] = ReceiveQueue(2)
        await queue.put(1)
        await queue.put(2)
        putter = asyncio.create_task(queue.put(3))
        await spin()
        assert not putter.done()  # full: 2 of 2
        assert await queue.get() == 1
        await spin()
        assert putter.done()
        assert [await queue.get(), await queue.get()] == [2, 3]

    run(main())


def test_a_cancelled_getter_takes_no_item_and_the_next_gets_it() -> None:
    async def main() -> None:
        queue: ReceiveQueue[str] = ReceiveQueue()
        first = asyncio.create_task(queue.get())
        second = asyncio.create_task(queue.get())
        await spin()
        await queue.put("only")
        first.cancel()  # woken, but cancelled before it ran
        await spin()
        assert first.cancelled()
        assert await second == "only"

    run(main())


def test_the_event_wakes_every_waiter_and_clear_makes_them_wait_again() -> None:
    async def main() -> None:
        event = LightEvent()
        waiters = [asyncio.create_task(event.wait()) for _ in range(3)]
        cancelled = asyncio.create_task(event.wait())
        await spin()
        assert not any(w.done() for w in waiters)
        cancelled.cancel()
        await spin()
        await event.set()
        await asyncio.gather(*waiters)
        assert event.is_set()
        await event.wait()  # set: at once
        await event.clear()
        assert not event.is_set()
        later = asyncio.create_task(event.wait())
        await spin()
        assert not later.done()
        await event.set()
        await later

    run(main())


async def echo_digest(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole body slowly (so the receive queue fills) and answers its SHA-256."""
    if scope["type"] != "http":
        return
    digest, more = hashlib.sha256(), True
    while more:
        message = await receive()
        digest.update(message.get("body", b""))
        more = message.get("more_body", False)
        await asyncio.sleep(0.001)
    body = digest.hexdigest().encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def test_a_body_in_many_pieces_arrives_whole_through_a_full_receive_queue() -> None:
    install()
    payload = bytes(range(256)) * 2048  # 512 KB, sent in 1 KB pieces
    with (
        LiveASGI(echo_digest, max_app_queue_size=2) as server,
        socket.create_connection(("127.0.0.1", server.port), TIMEOUT) as client,
    ):
        head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(payload)}\r\n"
        client.sendall(f"{head}Connection: close\r\n\r\n".encode())
        for start in range(0, len(payload), 1024):
            client.sendall(payload[start : start + 1024])
        received = b""
        while data := client.recv(65536):
            received += data
    assert received.startswith(b"HTTP/1.1 200")
    assert received.endswith(hashlib.sha256(payload).hexdigest().encode())
