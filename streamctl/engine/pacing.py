"""Pacing: turn a protocol's writes into timed writes on an injected clock.

:func:`play` writes each :class:`~streamctl.core.protocols.exchange.Out` ``delay_ms * speed`` after
the previous one was *due* (not after it finished), so a slow write does not push every later
token back, and interleaves a protocol's heartbeat in real time (the speed factor does not
scale it: goose's ``Ping`` stays 500 ms apart however fast the script plays).

:func:`play_plan` plays a reply faults changed: runs of writes with pauses between.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from streamctl.core.protocols.exchange import Out
from streamctl.core.script import Script
from streamctl.engine.clock import Clock
from streamctl.engine.fault_planning import Pause, Plan

__all__ = [
    "Progress",
    "due_together",
    "play",
    "play_plan",
    "sent_script",
]

Write = Callable[[bytes | str], Awaitable[None]]
W = TypeVar("W")


class Progress:
    """What :func:`play` has written so far (read it after a cancellation).

    ``tokens`` and ``terminal`` are worked out from the writes when first read: a server reads
    them only when a client left early, so a reply's writes are not scanned otherwise.
    """

    __slots__ = ("_runs", "_terminal", "_tokens", "heartbeats", "writes")

    def __init__(
        self, writes: int = 0, heartbeats: int = 0, tokens: int = 0, terminal: bool = False
    ) -> None:
        self.writes = writes
        self.heartbeats = heartbeats
        self._tokens = tokens
        self._terminal = terminal
        self._runs: list[Sequence[Out]] = []

    def wrote(self, outs: Sequence[Out], sent: int) -> None:
        """The first ``sent`` of ``outs`` went out."""
        self.writes += sent
        if sent:
            self._runs.append(outs if sent == len(outs) else outs[:sent])

    @property
    def tokens(self) -> int:
        """Script tokens written (one past the highest ``Out.token`` sent)."""
        self._fold()
        return self._tokens

    @property
    def terminal(self) -> bool:
        """The write that ends the reply went out."""
        self._fold()
        return self._terminal

    def _fold(self) -> None:
        for written in self._runs:
            tokens = [out.token for out in written if out.token is not None]
            if tokens:
                self._tokens = max(self._tokens, max(tokens) + 1)
            if any(out.terminal for out in written):
                self._terminal = True
        self._runs.clear()

    def _fields(self) -> tuple[int, int, int, bool]:
        return self.writes, self.heartbeats, self.tokens, self.terminal

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Progress):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it was

    def __repr__(self) -> str:
        writes, heartbeats, tokens, terminal = self._fields()
        return (
            f"Progress(writes={writes}, heartbeats={heartbeats}, tokens={tokens}, "
            f"terminal={terminal})"
        )


@overload
def play(
    outs: Sequence[Out],
    write: Write,
    clock: Clock,
    *,
    speed: float = 1.0,
    heartbeat: bytes | str | None = None,
    heartbeat_ms: float = 0.0,
    progress: Progress | None = None,
    payloads: None = None,
    ends: None = None,
) -> Coroutine[Any, Any, Progress]: ...


@overload
def play(
    outs: Sequence[Out],
    write: Callable[[W], Awaitable[None]],
    clock: Clock,
    *,
    speed: float = 1.0,
    heartbeat: W | None = None,
    heartbeat_ms: float = 0.0,
    progress: Progress | None = None,
    payloads: Sequence[W],
    ends: Sequence[int] | None = None,
) -> Coroutine[Any, Any, Progress]: ...


def play(
    outs: Sequence[Out],
    write: Callable[[Any], Awaitable[None]],
    clock: Clock,
    *,
    speed: float = 1.0,
    heartbeat: Any = None,
    heartbeat_ms: float = 0.0,
    progress: Progress | None = None,
    payloads: Sequence[Any] | None = None,
    ends: Sequence[int] | None = None,
) -> Coroutine[Any, Any, Progress]:
    """Write ``outs`` on schedule, with ``heartbeat`` every ``heartbeat_ms`` in between.

    ``speed`` multiplies every delay (1: as scripted or recorded; 0: as fast as possible).
    The first heartbeat is due ``heartbeat_ms`` after the start; none follows the last write.
    Cancel the task to stop at once: ``progress`` then says what went out. ``write`` is given
    each out's ``payload``, or with ``payloads`` the item at the same place there (a writer's
    ready-made messages, with ``heartbeat`` in the same form). With ``ends`` (from
    :func:`due_together`), each payload writes a whole run of outs due at the same instant: the
    run ending before ``ends[i]`` goes out as ``payloads[i]``, when its first out is due.

    Not a coroutine itself: it returns the one that writes, so a server's writes run one frame
    shallower (each time a write waits for the socket, every frame between the task and the
    write is suspended and resumed).
    """
    done = progress if progress is not None else Progress()
    scale = max(speed, 0.0) / 1000.0
    beat_s = heartbeat_ms / 1000.0 if heartbeat is not None and heartbeat_ms > 0 else math.inf
    _check_runs(len(outs), payloads, ends)
    items: Sequence[Any] = [out.payload for out in outs] if payloads is None else payloads
    marks: Sequence[int] = range(1, len(outs) + 1) if ends is None else ends
    if scale == 0:  # nothing is ever due later, so no heartbeat is ever due in between
        return _at_once(outs, items, marks, write, done)
    firsts = outs if ends is None else [outs[start] for start in (0, *ends[:-1])]
    beats = _Beats(heartbeat, beat_s)
    return _paced(outs, (firsts, items, marks), write, clock, scale, beats, done)


def _check_runs(count: int, payloads: Sequence[Any] | None, ends: Sequence[int] | None) -> None:
    """Refuse ``payloads`` and ``ends`` that do not fit ``count`` outs (a caller's bug)."""
    runs = count if ends is None else len(ends)
    if payloads is not None and len(payloads) != runs:
        what = "outs" if ends is None else "runs of outs"
        raise ValueError(f"{len(payloads)} payloads for {runs} {what}")
    if ends is not None and (ends[-1:] or [0])[0] != count:
        raise ValueError(f"runs of writes end at {list(ends)} for {count} outs")


def due_together(outs: Sequence[Out], speed: float) -> tuple[int, ...]:
    """Where each run of ``outs`` due at the same instant ends (the index after its last out),
    for :func:`play`'s ``ends``: at speed 0 all are due at once; else a run goes on while the
    next out's delay is 0 (a heartbeat is only ever due before an out with a delay)."""
    if not outs:
        return ()
    if speed <= 0:
        return (len(outs),)
    return (*(i for i, out in enumerate(outs) if i and out.delay_ms), len(outs))


async def _at_once(
    outs: Sequence[Out],
    items: Sequence[Any],
    marks: Sequence[int],
    write: Callable[[Any], Awaitable[None]],
    done: Progress,
) -> Progress:
    # The loops are a server's per-token cost: they count writes in a local, and `done` learns
    # what went out once, when they end (cancelled or not). `marks`: outs sent after each item.
    sent = 0
    try:
        for item, mark in zip(items, marks, strict=True):
            await write(item)
            sent = mark
        return done
    finally:
        done.wrote(outs, sent)


class _Beats:
    """When the next heartbeat is due, and what it writes."""

    __slots__ = ("interval", "next", "payload")

    def __init__(self, payload: Any, interval: float) -> None:
        self.payload = payload
        self.interval = interval
        self.next = math.inf  # set when the writes start

    async def until(
        self, due: float, clock: Clock, write: Callable[[Any], Awaitable[None]], done: Progress
    ) -> None:
        """Write the heartbeats due before ``due``."""
        while self.next < due:
            await _until(clock, self.next)
            await write(self.payload)
            done.heartbeats += 1
            self.next = _next_beat(clock, self.next, self.interval)


async def _paced(  # noqa: PLR0917  (the hot loop's state, passed once per reply)
    outs: Sequence[Out],
    runs: tuple[Sequence[Out], Sequence[Any], Sequence[int]],
    write: Callable[[Any], Awaitable[None]],
    clock: Clock,
    scale: float,
    beats: _Beats,
    done: Progress,
) -> Progress:
    sent = 0
    try:
        now = due = clock.now()
        beats.next = now + beats.interval
        for out, item, mark in zip(*runs, strict=True):  # a run's first out, its write
            if out.delay_ms:
                due += out.delay_ms * scale
                if beats.next < due:
                    await beats.until(due, clock, write, done)
            # The clock is only read when the write might not be due yet: time never goes back.
            if due > now:
                now = await _until(clock, due)
            await write(item)
            sent = mark
        return done
    finally:
        done.wrote(outs, sent)


async def _until(clock: Clock, deadline: float) -> float:
    """Wait until ``deadline``; the time it is now."""
    now = clock.now()
    if deadline > now:
        await clock.sleep(deadline - now)
        return clock.now()
    return now


def _next_beat(clock: Clock, previous: float, beat_s: float) -> float:
    # A heartbeat that could not be written on time is not made up for with a burst.
    now = clock.now()
    upcoming = previous + beat_s
    while upcoming <= now:
        upcoming += beat_s
    return upcoming


def sent_script(script: Script, progress: Progress) -> Script:
    """The part of ``script`` that reached the client (for history after a disconnect)."""
    if progress.terminal:
        return script
    sent = script.sent_tokens[: progress.tokens]
    tool = script.tool if script.tool is not None and script.tool.after < len(sent) else None
    return Script(sent, tool)


#: During ``stall:…,pings``: a heartbeat at least this often (ms), so the stall shows.
STALL_PING_MS = 500.0


# --- a plan's steps, pauses included --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Beat:
    payload: bytes | str | None
    ms: float


async def play_plan(
    plan: Plan,
    write: Write,
    clock: Clock,
    *,
    speed: float = 1.0,
    heartbeat: bytes | str | None = None,
    heartbeat_ms: float = 0.0,
    ping: bytes | str | None = None,
    progress: Progress | None = None,
) -> Progress:
    """Send ``plan.steps`` like :func:`play` (to which runs of writes go), stopping at
    ``plan.deadline_ms`` if one is set. The caller carries out ``plan.drop``.

    During ``stall:…,pings`` the ``heartbeat`` (or, for a protocol without one, ``ping``; on a
    WebSocket nothing) is sent every 500 ms, or at the heartbeat's own interval if shorter.
    """
    done = progress if progress is not None else Progress()
    if plan.content_length:  # the declared length holds the writes only: no heartbeats
        heartbeat = ping = None
    stall_ms = min(heartbeat_ms, STALL_PING_MS) if heartbeat_ms > 0 else STALL_PING_MS
    stalled = _Beat(heartbeat if heartbeat is not None else ping, stall_ms)
    if not plan.faults:
        outs: Sequence[Any] = plan.steps  # only Outs without faults
        await play(
            outs,
            write,
            clock,
            speed=speed,
            heartbeat=heartbeat,
            heartbeat_ms=heartbeat_ms,
            progress=done,
        )
        return done
    beats = (_Beat(heartbeat, heartbeat_ms), stalled)
    run = _steps(plan, write, clock, speed=speed, beats=beats, done=done)
    await (run if plan.deadline_ms is None else _within(run, clock, plan.deadline_ms))
    return done


async def _within(run: Awaitable[None], clock: Clock, ms: float) -> None:
    """Await ``run``, stopping it after ``ms`` milliseconds."""
    task = asyncio.ensure_future(run)
    timer = asyncio.ensure_future(clock.sleep(ms / 1000.0))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, timer):
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending


async def _steps(
    plan: Plan,
    write: Write,
    clock: Clock,
    *,
    speed: float,
    beats: tuple[_Beat, _Beat],
    done: Progress,
) -> None:
    batch: list[Out] = []
    normal, stalled = beats
    for step in [*plan.steps, None]:
        if isinstance(step, Out):
            batch.append(step)
            continue
        if batch:
            await play(
                batch,
                write,
                clock,
                speed=speed,
                heartbeat=normal.payload,
                heartbeat_ms=normal.ms,
                progress=done,
            )
            batch = []
        if step is not None:
            await _pause(step, write, clock, stalled)


async def _pause(pause: Pause, write: Write, clock: Clock, beat: _Beat) -> None:
    end = clock.now() + pause.ms / 1000.0
    if pause.pings and beat.payload is not None and beat.ms > 0:
        while clock.now() + beat.ms / 1000.0 < end:
            await clock.sleep(beat.ms / 1000.0)
            await write(beat.payload)
    await clock.sleep(end - clock.now())
