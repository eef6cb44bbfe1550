"""The real clock: sleeps end on time, in batches, never early, on any loop.

Each test runs on asyncio's own loop and on uvloop's (the server's loop where it is installed).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from mockserver.loops import loop_factory
from streamctl.engine.clock import RESOLUTION_S, RealClock, running_loop
from tests.loops import SERVER_LOOPS

T = TypeVar("T")
Factory = Callable[[], asyncio.AbstractEventLoop]
Run = Callable[[Coroutine[Any, Any, T]], T]


@pytest.fixture(params=SERVER_LOOPS)
def factory(request: pytest.FixtureRequest) -> Factory:
    """What makes a new loop of each kind a server can run on."""
    return loop_factory(request.param)


@pytest.fixture
def run(factory: Factory) -> Run[Any]:
    """``asyncio.run`` on a new loop of each kind."""

    def run(coro: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coro)

    return run


def test_a_sleep_never_ends_before_its_deadline_and_sleepers_due_together_wake_together(
    run: Run[int],
) -> None:
    # One deadline for everyone, mid-millisecond. The batch can only be judged when every
    # sleeper asked before the deadline passed; on a machine too busy for that, the same run
    # is tried again with a later deadline (never a failure because the machine is slow).
    # Likewise when a sleeper was preempted for over half a millisecond between reading the
    # clock and asking for its sleep: its deadline then really is in the next millisecond (a
    # second timer, seen once in a full run on a loaded machine). Batching that does not work
    # gives a timer per sleeper, on every try.
    timers_seen: list[int] = []
    for margin_ms in (200.5, 1000.5, 5000.5, 30000.5):
        result = _sleepers_due_together(run, margin_ms)
        if result is not None:
            woke, timers = result
            assert len(woke) == 200
            assert all(now >= deadline for deadline, now in woke)
            if timers == 1:
                return
            timers_seen.append(timers)
    assert timers_seen, "200 sleepers could not even start within 30 s"
    pytest.fail(f"sleepers due in one millisecond used {timers_seen} timers, not 1")


def _sleepers_due_together(
    run: Run[int], margin_ms: float
) -> tuple[list[tuple[float, float]], int] | None:
    """(when each woke, timers set) for 200 sleepers sharing one deadline ``margin_ms`` away;
    None when some sleeper started after that deadline."""
    clock = RealClock()
    woke: list[tuple[float, float]] = []
    started: list[float] = []
    target = (math.floor(clock.now() / RESOLUTION_S) + margin_ms) * RESOLUTION_S

    async def sleeper() -> None:
        started.append(clock.now())
        await clock.sleep(target - started[-1])
        woke.append((target, clock.now()))

    async def scenario() -> int:
        loop = asyncio.get_running_loop()
        timers: list[float] = []
        call_at = loop.call_at

        def counted(when: float, *args: Any) -> asyncio.TimerHandle:
            timers.append(when)
            return call_at(when, *args)

        loop.call_at = counted  # type: ignore[method-assign]
        tasks = [asyncio.create_task(sleeper()) for _ in range(200)]
        await asyncio.gather(*tasks)
        return len(timers)

    timers = run(scenario())
    return None if max(started) >= target else (woke, timers)


def test_a_cancelled_sleep_leaves_the_others_in_its_batch_alone(run: Run[None]) -> None:
    clock = RealClock()

    async def scenario() -> None:
        cancelled = asyncio.create_task(clock.sleep(0.02))
        kept = asyncio.create_task(clock.sleep(0.02))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.wait_for(kept, 10)
        assert cancelled.cancelled()

    run(scenario())


def test_zero_and_negative_sleeps_only_yield(run: Run[None]) -> None:
    clock = RealClock()

    async def scenario() -> None:
        started = time.monotonic()
        await clock.sleep(0)
        await clock.sleep(-1)
        assert time.monotonic() - started < 1  # no timer was waited for

    run(scenario())


def test_one_clock_serves_loops_in_several_threads_and_loops_one_after_another(
    run: Run[None],
) -> None:
    clock = RealClock()
    done: list[str] = []

    def naps(name: str) -> None:
        async def nap() -> None:
            await clock.sleep(RESOLUTION_S * 3)

        run(nap())
        run(nap())  # a new loop in the same thread: new batches
        done.append(name)

    threads = [threading.Thread(target=naps, args=(str(i),)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(done) == ["0", "1", "2", "3"]


def test_a_sleep_looks_the_running_loop_up_once_per_loop(
    monkeypatch: pytest.MonkeyPatch, run: Run[None]
) -> None:
    # asyncio.get_running_loop() is a system call (getpid) on Python 3.11: not one per token.
    clock = RealClock()
    lookups: list[object] = []
    original = asyncio.get_running_loop

    def counted() -> asyncio.AbstractEventLoop:
        lookups.append(None)
        return original()

    monkeypatch.setattr(asyncio, "get_running_loop", counted)

    async def naps() -> None:
        for _ in range(5):
            await clock.sleep(RESOLUTION_S)

    run(naps())
    assert len(lookups) == 1
    run(naps())  # another loop: looked up again, once
    assert len(lookups) == 2


def test_a_loop_that_moved_to_another_thread_is_not_slept_on_from_this_one(
    factory: Factory, run: Run[asyncio.AbstractEventLoop]
) -> None:
    clock = RealClock()
    moved = factory()
    try:
        moved.run_until_complete(clock.sleep(RESOLUTION_S))  # this thread last slept on it
        elsewhere = threading.Thread(target=moved.run_forever)
        elsewhere.start()
        try:

            async def nap() -> asyncio.AbstractEventLoop:
                await clock.sleep(RESOLUTION_S * 3)
                return asyncio.get_running_loop()

            assert run(nap()) is not moved  # and the sleep ended on this loop
        finally:
            moved.call_soon_threadsafe(moved.stop)
            elsewhere.join(30)
    finally:
        moved.close()


def test_running_loop_is_the_running_loop_and_there_is_none_outside_one(
    factory: Factory,
) -> None:
    async def which() -> asyncio.AbstractEventLoop:
        assert running_loop() is running_loop()
        return running_loop()

    loops = []
    for _ in range(2):
        loop = factory()
        try:
            loops.append((loop.run_until_complete(which()), loop))
        finally:
            loop.close()
    assert all(found is loop for found, loop in loops)
    with pytest.raises(RuntimeError):
        running_loop()
