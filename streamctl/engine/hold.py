"""Held streams: a reply that stops at its hold points until a test releases it.

A script's :class:`~streamctl.core.script.HoldPoint` (``{"hold": NAME}`` in a scenario's tokens)
and a server-wide ``--hold-after N`` become :class:`Stop`\\ s: places in a reply's writes.
:func:`send_held` plays the writes between them as :func:`~streamctl.engine.reply.send` would,
and at each stop waits on the stream's :class:`Gate` while the protocol's heartbeat keeps going.
Each run of writes is paced from its own start, so a stream released after a minute goes on
at its scripted pace instead of sending everything it is late for at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any

from streamctl.core.protocols.exchange import Out
from streamctl.core.script import HoldPoint
from streamctl.engine.clock import Clock
from streamctl.engine.fault_planning import Plan
from streamctl.engine.pacing import Progress, play, play_plan
from streamctl.engine.reply import Reply, Writer

__all__ = ["HOLD_AFTER", "Cut", "Gate", "Stop", "send_held", "stops"]

#: The name of the hold ``--hold-after N`` puts in every reply.
HOLD_AFTER = "hold-after"


class Cut(Exception):
    """The stream was cut while held: the route drops it now."""


@dataclass(frozen=True, slots=True)
class Stop:
    """Hold before the write at ``index`` (``len(writes)``: after the last one)."""

    index: int
    name: str


def stops(
    writes: Sequence[object], holds: Sequence[HoldPoint], hold_after: int | None, tokens: int
) -> tuple[Stop, ...]:
    """Where a reply of ``writes`` (``Out``\\ s, perhaps with a plan's pauses) holds.

    A hold after ``k`` tokens stops before the write of token ``k``; past the last token, before
    the write that ends the reply. ``hold_after`` holds a reply of more than that many
    ``tokens``. Two holds at one place are one (the first named wins).
    """
    points = list(holds)
    if hold_after is not None and hold_after < tokens:
        points.append(HoldPoint(HOLD_AFTER, hold_after))
    found: dict[int, str] = {}
    for point in points:
        found.setdefault(_index(writes, point.after), point.name)
    return tuple(Stop(i, name) for i, name in sorted(found.items()))


def _index(writes: Sequence[object], after: int) -> int:
    terminal = len(writes)
    for i, write in enumerate(writes):
        if not isinstance(write, Out):
            continue
        if write.token is not None and write.token >= after:
            return i
        if write.terminal:
            terminal = min(terminal, i)
    return terminal


class Gate:
    """One open stream's hold, as the admin API sees and moves it.

    ``held`` names the hold the stream waits at (None: it is sending), ``position`` counts the
    writes sent when it was last held. ``on_change`` is told whenever either changes.
    """

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self.held: str | None = None
        self.position = 0
        #: Released for good: the stream no longer holds (a test ended, the server was reset).
        self.free = False
        self._waiter: asyncio.Future[int | None] | None = None
        self._on_change = on_change

    async def hold(self, name: str, position: int) -> int | None:
        """Wait here until released: the writes to send before holding again (None: all).
        Raises :class:`Cut` when the stream is cut."""
        if self.free:
            return None
        waiter: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiter, self.held, self.position = waiter, name, position
        self._changed()
        try:
            return await waiter
        finally:
            if self._waiter is waiter:  # cancelled: the client went away
                self._clear()

    def release(self, steps: int | None = None, *, free: bool = False) -> bool:
        """Let the stream go on (``steps`` writes, then hold again; ``free``: never hold
        again); false if it is not held."""
        self.free = self.free or free
        waiter = self._take()
        if waiter is not None:
            waiter.set_result(steps)
        return waiter is not None

    def cut(self) -> bool:
        """Drop the held stream now; false if it is not held."""
        waiter = self._take()
        if waiter is not None:
            waiter.set_exception(Cut())
        return waiter is not None

    def _take(self) -> asyncio.Future[int | None] | None:
        waiter = self._waiter
        if waiter is None:
            return None
        self._clear()
        return waiter

    def _clear(self) -> None:
        self._waiter, self.held = None, None
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


Run = Callable[[int, int], Awaitable[object]]


def send_held(
    reply: Reply,
    writer: Writer[Any],
    clock: Clock,
    gate: Gate,
    held_at: Sequence[Stop],
    *,
    speed: float = 1.0,
    progress: Progress | None = None,
) -> Coroutine[Any, Any, Progress]:
    """Play ``reply`` as :func:`~streamctl.engine.reply.send` does, holding at ``held_at``
    (stops in the reply's plan if it has one, else in its rendering)."""
    done = progress if progress is not None else Progress()
    if reply.plan is None:
        return _held_rendering(reply, writer, clock, gate, held_at, speed=speed, done=done)
    return _held_plan(reply, writer, clock, gate, held_at, plan=reply.plan, speed=speed, done=done)


def _held_rendering(
    reply: Reply,
    writer: Writer[Any],
    clock: Clock,
    gate: Gate,
    held_at: Sequence[Stop],
    *,
    speed: float,
    done: Progress,
) -> Coroutine[Any, Any, Progress]:
    """A reply without a plan, held: its rendering's messages, played a segment at a time."""
    heartbeat, ms = reply.heartbeat, reply.heartbeat_ms
    outs, payloads = reply.rendering.outs, writer.messages(reply.rendering)
    beat = None if heartbeat is None else writer.messages(heartbeat)[0]

    def run(start: int, end: int) -> Awaitable[object]:
        return play(
            outs[start:end],
            writer.send,
            clock,
            speed=speed,
            heartbeat=beat,
            heartbeat_ms=ms,
            progress=done,
            payloads=payloads[start:end],
        )

    pulse = _Pulse(beat, ms, writer.send, clock, done)
    return _held(run, len(outs), gate, held_at, pulse, done)


def _held_plan(
    reply: Reply,
    writer: Writer[Any],
    clock: Clock,
    gate: Gate,
    held_at: Sequence[Stop],
    *,
    plan: Plan,
    speed: float,
    done: Progress,
) -> Coroutine[Any, Any, Progress]:
    """A reply with a plan (faults), held: its steps, played a segment at a time."""
    heartbeat, ms, steps = reply.heartbeat, reply.heartbeat_ms, plan.steps
    beat = None if heartbeat is None or plan.content_length else heartbeat.outs[0].payload

    def run_plan(start: int, end: int) -> Awaitable[object]:
        return play_plan(
            replace(plan, steps=steps[start:end]),
            writer.write,
            clock,
            speed=speed,
            heartbeat=beat,
            heartbeat_ms=ms,
            ping=reply.ping,
            progress=done,
        )

    pulse = _Pulse(beat, ms, writer.write, clock, done)
    return _held(run_plan, len(steps), gate, held_at, pulse, done)


@dataclass(frozen=True, slots=True)
class _Pulse:
    """The heartbeat written while a stream is held."""

    payload: Any
    ms: float
    write: Callable[[Any], Awaitable[None]]
    clock: Clock
    done: Progress

    async def beat(self) -> None:
        if self.payload is None or self.ms <= 0:
            await asyncio.Event().wait()  # no heartbeat: wait to be cancelled
        while True:
            await self.clock.sleep(self.ms / 1000.0)
            await self.write(self.payload)
            self.done.heartbeats += 1


async def _held(  # noqa: PLR0917  (one reply's state, passed once)
    run: Run, count: int, gate: Gate, held_at: Sequence[Stop], pulse: _Pulse, done: Progress
) -> Progress:
    pending = list(held_at)
    start = 0
    while True:
        stop = pending.pop(0) if pending else None
        end = count if stop is None else stop.index
        if end > start:
            await run(start, end)
            start = end
        if stop is None:
            return done
        steps = await _wait(gate, stop.name, done.writes, pulse)
        again = count if steps is None else start + steps
        if again < count and (not pending or pending[0].index > again):
            pending.insert(0, Stop(again, stop.name))


async def _wait(gate: Gate, name: str, position: int, pulse: _Pulse) -> int | None:
    """Hold at ``name``, the heartbeat going on meanwhile."""
    beating = asyncio.ensure_future(pulse.beat())
    try:
        return await gate.hold(name, position)
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
