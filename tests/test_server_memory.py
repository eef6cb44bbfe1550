"""Freed memory goes back to the OS once the server has been idle for a moment."""

from __future__ import annotations

import asyncio
import gc
import platform
import socket
import sys
import time

import httpx
import pytest

from mockserver.config import ServerConfig
from mockserver.memory import IdleTrim, prepare, trim
from mockserver.testing import LiveServer


def test_trim_gives_freed_heap_memory_back_with_glibc() -> None:
    blocks = [bytes(20_000) for _ in range(2_000)]  # 40 MB on the C heap, then freed
    del blocks
    assert trim() is (platform.libc_ver()[0] == "glibc")


def test_a_trim_follows_an_idle_delay_and_work_cancels_it() -> None:
    calls: list[float] = []

    async def scenario() -> None:
        idle = IdleTrim(0.05, lambda: calls.append(time.monotonic()))
        idle.idle()
        idle.busy()  # work came back before the loop ran again: the trim is cancelled
        await asyncio.sleep(0.2)
        assert calls == []
        idle.idle()
        idle.idle()  # one trim per idle spell
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert len(calls) == 1

    asyncio.run(scenario())


def test_no_delay_means_never_and_no_loop_means_nothing_to_do() -> None:
    calls: list[int] = []
    IdleTrim(0.05, lambda: calls.append(1)).idle()  # no running loop here

    async def scenario() -> None:
        IdleTrim(0, lambda: calls.append(1)).idle()
        await asyncio.sleep(0.05)

    asyncio.run(scenario())
    assert calls == []


def test_the_server_trims_after_its_streams_have_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr("mockserver.memory.trim", lambda: calls.append(1))
    config = ServerConfig(watch=False, speed=0, trim_idle_s=0.05)
    with LiveServer(config) as server:
        for _ in range(3):
            response = httpx.get(server.url("/api/chat/stream?message=hi"), timeout=10)
            assert response.status_code == 200
        assert server.server.wait_idle(10)
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
        # At least once: a slow machine may leave the server idle between the requests too,
        # and each idle spell trims (once; the unit test above counts that exactly).
        assert calls
        assert server.server.trims == len(calls)


def test_an_idle_spell_interrupted_by_work_starts_the_wait_again() -> None:
    trims: list[float] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        idle = IdleTrim(1.0, lambda: trims.append(loop.time()))
        idle.idle()
        await asyncio.sleep(0.1)
        idle.busy()  # a request came and went: idle again, a full delay from now
        idle.idle()
        again = loop.time()
        deadline = time.monotonic() + 30
        while not trims and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        assert len(trims) == 1
        assert trims[0] >= again + 1.0

    asyncio.run(scenario())


async def _fill_the_reuse_caches(with_handles: bool) -> None:
    """Make and drop what the interpreter and the loop keep for reuse: future iterators, and
    (uvloop) callback and timer handles; the caches are then full of objects made here."""
    loop = asyncio.get_running_loop()
    iterators = [loop.create_future().__await__() for _ in range(300)]
    count = 300 if with_handles else 0
    handles = [loop.call_soon(lambda: None) for _ in range(count)]
    timers = [loop.call_later(3600, lambda: None) for _ in range(count)]
    for handle in (*handles, *timers):
        handle.cancel()
    await asyncio.sleep(0)  # the loop lets go of the cancelled handles
    await asyncio.sleep(0)
    del iterators, handles, timers  # into the caches (full), the rest freed


async def _blocks_a_trim_frees(with_handles: bool = False) -> int:
    prepare()  # as the server does at its first request
    await _fill_the_reuse_caches(with_handles)  # "a burst"
    gc.collect()
    sys._clear_type_cache()  # what else a trim frees: not counted here
    before = sys.getallocatedblocks()
    trim()
    await asyncio.sleep(0)  # the handles are swapped on the loop's next pass
    await asyncio.sleep(0)
    gc.collect()
    return before - sys.getallocatedblocks()


def test_a_trim_frees_the_future_iterators_asyncio_kept_from_a_burst() -> None:
    # CPython's _asyncio keeps up to 255 freed future iterators and hands the same objects out
    # again; those left from a burst sit wherever the heap had room then, each holding its
    # allocator arena. A trim frees them for good (the spares made earlier go in and out).
    assert asyncio.run(_blocks_a_trim_frees()) >= 200


def test_a_trim_frees_the_handles_uvloop_kept_from_a_burst() -> None:
    # uvloop keeps up to 250 freed callback handles (a Cython free list).
    uvloop = pytest.importorskip("uvloop")
    assert uvloop.run(_blocks_a_trim_frees(with_handles=True)) >= 200 + 200


def test_the_idle_trim_waits_until_no_request_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    # A request that is not a stream (an admin call whose body trickles in, say) still holds
    # objects made during the burst; freed after the trim, they would stay where the burst put
    # them.
    calls: list[int] = []
    monkeypatch.setattr("mockserver.memory.trim", lambda: calls.append(1))
    config = ServerConfig(watch=False, speed=0, trim_idle_s=0.05)
    with LiveServer(config) as server:
        host, port = server.url("/").split("//")[1].rstrip("/").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            slow.sendall(
                b"POST /_streamctl/queue HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
            response = httpx.get(server.url("/api/chat/stream?message=hi"), timeout=10)
            assert response.status_code == 200
            assert server.server.wait_idle(10)  # no stream left, one request still open
            time.sleep(0.5)  # ten idle delays: a trim would have come by now
            assert calls == []
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
        assert calls
