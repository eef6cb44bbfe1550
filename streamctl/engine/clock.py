"""One clock for pacing and timeouts, injected so tests never sleep to synchronise."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import threading
import time
from typing import Protocol

__all__ = ["Clock", "FakeClock", "RealClock", "running_loop"]


class Clock(Protocol):
    """Monotonic time in seconds, and a way to wait for it to pass."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


_here = threading.local()


def running_loop() -> asyncio.AbstractEventLoop:
    """The running event loop, as :func:`asyncio.get_running_loop` finds it, but without a
    system call each time.

    On Python 3.11 ``asyncio.get_running_loop()`` asks the OS for the process id on every call
    (to notice a fork); once per token or per request that is a few percent of a server's CPU.
    The loop last found in this thread is taken again while the loop says it runs in this
    thread (``_thread_id``: asyncio's own loops keep it, and so does the mock server's uvloop
    loop, ``mockserver.loops``); a loop without that record is looked up every time. Raises
    RuntimeError outside a running loop.
    """
    loop = getattr(_here, "loop", None)
    if loop is not None and getattr(loop, "_thread_id", None) == _here.ident:
        return loop  # type: ignore[no-any-return]
    loop = asyncio.get_running_loop()
    _here.loop, _here.ident = loop, threading.get_ident()
    return loop


#: Sleeps end on a millisecond boundary of the loop's clock (see :class:`RealClock`).
RESOLUTION_S = 0.001


class RealClock:
    """The event loop's clock, with sleepers woken in batches.

    A sleep's deadline is rounded up to the next millisecond, and all the sleepers due in the
    same millisecond share one loop timer. A server pacing a thousand streams at 10 tokens/s so
    keeps about a thousand timers a second instead of ten thousand, each pushed onto asyncio's
    heap at a cost that grows with its size (measured: 13 us per paced sleep instead of 21). A
    sleep ends at most a millisecond after its deadline, never before it, on any loop whose
    clock is the monotonic clock (asyncio's own and uvloop's).
    """

    def __init__(self) -> None:
        self._local = threading.local()  # each thread runs its own loop: its own batches

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = running_loop()
        local = self._local
        if getattr(local, "loop", None) is not loop:
            local.loop, local.due = loop, {}
        due: dict[int, list[asyncio.Future[None]]] = local.due
        # The deadline on the monotonic clock, not the loop's own reading of it: uvloop's counts
        # whole milliseconds, which would end sleeps up to a millisecond early.
        slot = math.ceil((time.monotonic() + seconds) / RESOLUTION_S)
        future = loop.create_future()
        sleepers = due.get(slot)
        if sleepers is None:
            due[slot] = sleepers = []
            loop.call_at(slot * RESOLUTION_S, _wake, due, slot)
        sleepers.append(future)
        await future


def _wake(due: dict[int, list[asyncio.Future[None]]], slot: int) -> None:
    for future in due.pop(slot):
        if not future.done():  # a cancelled sleep is done
            future.set_result(None)


class FakeClock:
    """A clock that only moves when a test calls :meth:`advance`.

    ``sleep`` parks the caller until the clock has been advanced past its deadline, so a test
    can step a paced stream frame by frame and assert on what was written at each instant.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose deadline passed, in deadline order."""
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = deadline
            if not future.done():
                future.set_result(None)
            # Let the woken task run (and perhaps sleep again) before waking the next one.
            for _ in range(5):
                await asyncio.sleep(0)
        self._now = target

    @property
    def sleepers(self) -> int:
        """How many tasks are waiting on this clock."""
        return sum(1 for _, _, f in self._sleepers if not f.done())
