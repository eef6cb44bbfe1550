"""Pacing: turn a protocol's writes into timed writes on an injected clock.

:func:`play` writes each :class:`~streamctl.core.protocols.base.Out` ``delay_ms * speed`` after
the previous one was *due* (not after it finished), so a slow write does not push every later
token back, and interleaves a protocol's heartbeat in real time (the speed factor does not
scale it: goose's ``Ping`` stays 500 ms apart however fast the script plays).

:func:`replay_outs` and :func:`ws_replay` turn a recorded transcript into the same writes: the
same bytes or messages, the same chunk boundaries, the recorded gaps (scaled by speed at play
time).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from streamctl.core.protocols.base import Out
from streamctl.core.script import Script
from streamctl.core.transcript import Close, Frame, Transcript
from streamctl.engine.clock import Clock

__all__ = ["Progress", "ReplayClose", "WSReplay", "play", "replay_outs", "sent_script", "ws_replay"]

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
async def play(
    outs: Sequence[Out],
    write: Write,
    clock: Clock,
    *,
    speed: float = 1.0,
    heartbeat: bytes | str | None = None,
    heartbeat_ms: float = 0.0,
    progress: Progress | None = None,
    payloads: None = None,
) -> Progress: ...


@overload
async def play(
    outs: Sequence[Out],
    write: Callable[[W], Awaitable[None]],
    clock: Clock,
    *,
    speed: float = 1.0,
    heartbeat: W | None = None,
    heartbeat_ms: float = 0.0,
    progress: Progress | None = None,
    payloads: Sequence[W],
) -> Progress: ...


async def play(
    outs: Sequence[Out],
    write: Callable[[Any], Awaitable[None]],
    clock: Clock,
    *,
    speed: float = 1.0,
    heartbeat: Any = None,
    heartbeat_ms: float = 0.0,
    progress: Progress | None = None,
    payloads: Sequence[Any] | None = None,
) -> Progress:
    """Write ``outs`` on schedule, with ``heartbeat`` every ``heartbeat_ms`` in between.

    ``speed`` multiplies every delay (1: as scripted or recorded; 0: as fast as possible).
    The first heartbeat is due ``heartbeat_ms`` after the start; none follows the last write.
    Cancel the task to stop at once: ``progress`` then says what went out.

    ``write`` is given each out's ``payload``, or with ``payloads`` the item at the same place
    there: a server that keeps its writes ready-made for its transport (an ASGI message per
    out, made once per rendering) passes them, with ``heartbeat`` in the same form.
    """
    done = progress if progress is not None else Progress()
    scale = max(speed, 0.0) / 1000.0
    beat_s = heartbeat_ms / 1000.0 if heartbeat is not None and heartbeat_ms > 0 else math.inf
    if payloads is not None and len(payloads) != len(outs):
        raise ValueError(f"{len(payloads)} payloads for {len(outs)} outs")
    items: Sequence[Any] = [out.payload for out in outs] if payloads is None else payloads
    # The loop is a server's per-token cost: it counts writes in a local, and `done` learns
    # what went out once, when play ends (cancelled or not).
    sent = 0
    try:
        if scale == 0:  # nothing is ever due later, so no heartbeat is ever due in between
            for item in items:
                await write(item)
                sent += 1
            return done
        now = due = clock.now()
        next_beat = now + beat_s
        for out, item in zip(outs, items, strict=True):
            if out.delay_ms:
                due += out.delay_ms * scale
                while next_beat < due:
                    await _until(clock, next_beat)
                    await write(heartbeat)
                    done.heartbeats += 1
                    next_beat = _next_beat(clock, next_beat, beat_s)
            # The clock is only read when the write might not be due yet: time never goes back.
            if due > now:
                now = await _until(clock, due)
            await write(item)
            sent += 1
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


# --- recordings ---------------------------------------------------------------------------


def replay_outs(transcript: Transcript) -> list[Out]:
    """The server's frames of a recorded exchange, with the recorded gap before each."""
    outs: list[Out] = []
    last = 0.0
    for _, frame in transcript.frames("server"):
        outs.append(Out(frame.payload, max(0.0, frame.t - last)))
        last = frame.t
    if outs:
        final = outs[-1]
        outs[-1] = Out(final.payload, final.delay_ms, terminal=True)
    return outs


@dataclass(frozen=True, slots=True)
class ReplayClose:
    """The server's close frame: after segment ``segment``, ``delay_ms`` after its last write."""

    segment: int
    code: int | None
    reason: str
    delay_ms: float


@dataclass(frozen=True, slots=True)
class WSReplay:
    """A recorded WebSocket connection, split at the client's messages.

    ``segments[0]`` is sent when the connection opens; ``segments[k]`` after the client's
    ``k``-th message (whatever it says). ``close`` is the server's close frame if the server
    closed first; nothing after the first close frame is replayed.
    """

    segments: tuple[tuple[Out, ...], ...]
    close: ReplayClose | None = None


def ws_replay(transcript: Transcript) -> WSReplay:
    """Split a recorded WebSocket connection into what the server sends after each message."""
    segments: list[list[Out]] = [[]]
    close: ReplayClose | None = None
    last = 0.0
    for record in transcript.records:
        if isinstance(record, Frame) and record.sender == "client":
            segments.append([])
            last = record.t
        elif isinstance(record, Frame):
            segments[-1].append(Out(record.payload, max(0.0, record.t - last)))
            last = record.t
        elif isinstance(record, Close):
            # A server close after the client's own is only the closing handshake's echo.
            if record.sender == "server":
                gap = max(0.0, record.t - last)
                close = ReplayClose(len(segments) - 1, record.code, record.reason, gap)
            break
    return WSReplay(tuple(tuple(s) for s in segments), close)
