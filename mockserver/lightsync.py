"""A queue and an event for Hypercorn's per-request use, without asyncio's deques.

Every ``asyncio.Queue`` makes four deques (its items, its getters, its putters, and the event
behind ``join()``) and every ``asyncio.Event`` one, and an empty deque takes ~700 bytes.
Hypercorn makes a queue (the ASGI app's ``receive``) and an event (HTTP/1's ``can_read``) per
request: ~3.7 KB of the ~23 KB of server heap a paced SSE stream holds (tracemalloc, issue #21).
These keep their items and waiters in lists made when first needed: a request's queue rarely
holds more than a message, and its event is rarely waited for.

Waiters are woken all together and each checks again, so a waiter cancelled after being woken
never takes a wake-up meant for another.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Generic, TypeVar

__all__ = ["LightEvent", "ReceiveQueue"]

T = TypeVar("T")


async def _wait(waiters: list[asyncio.Future[None]]) -> None:
    future = asyncio.get_running_loop().create_future()
    waiters.append(future)
    try:
        await future
    finally:
        with contextlib.suppress(ValueError):  # already woken: the list was emptied
            waiters.remove(future)


def _wake(waiters: list[asyncio.Future[None]] | None) -> None:
    if waiters:
        for future in waiters:
            if not future.done():
                future.set_result(None)
        waiters.clear()


class ReceiveQueue(Generic[T]):
    """``asyncio.Queue``'s ``get`` and ``put``, holding at most ``maxsize`` items (0: any)."""

    __slots__ = ("_getters", "_items", "_maxsize", "_putters")

    def __init__(self, maxsize: int = 0) -> None:
        self._items: list[T] = []
        self._maxsize = maxsize
        self._getters: list[asyncio.Future[None]] | None = None
        self._putters: list[asyncio.Future[None]] | None = None

    async def put(self, item: T) -> None:
        while 0 < self._maxsize <= len(self._items):
            if self._putters is None:
                self._putters = []
            await _wait(self._putters)
        self._items.append(item)
        _wake(self._getters)

    async def get(self) -> T:
        while not self._items:
            if self._getters is None:
                self._getters = []
            await _wait(self._getters)
        _wake(self._putters)
        return self._items.pop(0)


class LightEvent:
    """Hypercorn's asyncio event (``await set()``, ``clear()``, ``wait()``; ``is_set()``)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    async def set(self) -> None:
        self._set = True
        _wake(self._waiters)

    async def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        if self._set:
            return
        if self._waiters is None:
            self._waiters = []
        await _wait(self._waiters)

    def is_set(self) -> bool:
        return self._set
