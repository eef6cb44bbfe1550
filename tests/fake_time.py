"""Writing on a fake clock, for tests of pacing and timing faults (not part of the product)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from streamctl.engine.clock import FakeClock

__all__ = ["Wire", "drive", "run"]


class Wire:
    """A sink that notes the fake time of every write."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.writes: list[tuple[float, bytes | str]] = []

    async def write(self, payload: bytes | str) -> None:
        self.writes.append((round(self.clock.now(), 6), payload))


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coroutine)


async def drive(clock: FakeClock, task: asyncio.Task[Any], step: float, steps: int) -> None:
    """Advance the clock ``step`` at a time until ``task`` is done (at most ``steps`` times)."""
    for _ in range(steps):
        await asyncio.sleep(0)
        if task.done():
            return
        await clock.advance(step)
    await asyncio.sleep(0)
