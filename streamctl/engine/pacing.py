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

from streamctl.core.protocols.base import Out
from streamctl.core.script import Script
from streamctl.core.transcript import Close, Frame, Transcript
from streamctl.engine.clock import Clock

__all__ = ["Progress", "ReplayClose", "WSReplay", "play", "replay_outs", "sent_script", "ws_replay"]

Write = Callable[[bytes | str], Awaitable[None]]


@dataclass(slots=True)
class Progress:
    """What :func:`play` has written so far (read it after a cancellation)."""

    writes: int = 0
    heartbeats: int = 0
    #: Script tokens written (one past the highest ``Out.token`` sent).
    tokens: int = 0
    #: The write that ends the reply went out.
    terminal: bool = False


async def play(
    outs: Sequence[Out],
    write: Write,
    clock: Clock,
    *,
    speed: float = 1.0,
    heartbeat: bytes | str | None = None,
    heartbeat_ms: float = 0.0,
    progress: Progress | None = None,
) -> Progress:
    """Write ``outs`` on schedule, with ``heartbeat`` every ``heartbeat_ms`` in between.

    ``speed`` multiplies every delay (1: as scripted or recorded; 0: as fast as possible).
    The first heartbeat is due ``heartbeat_ms`` after the start; none follows the last write.
    Cancel the task to stop at once: ``progress`` then says what went out.
    """
    done = progress if progress is not None else Progress()
    scale = max(speed, 0.0) / 1000.0
    beat_s = heartbeat_ms / 1000.0 if heartbeat is not None and heartbeat_ms > 0 else math.inf
    # The loop is a server's per-token cost: it counts writes in a local, and `done` learns
    # what went out once, when play ends (cancelled or not).
    sent = 0
    try:
        if scale == 0:  # nothing is ever due later, so no heartbeat is ever due in between
            for out in outs:
                await write(out.payload)
                sent += 1
            return done
        now = due = clock.now()
        next_beat = now + beat_s
        for out in outs:
            if out.delay_ms:
                due += out.delay_ms * scale
                while next_beat < due:
                    await _until(clock, next_beat)
                    await write(heartbeat)  # type: ignore[arg-type]  # finite beat_s: one is set
                    done.heartbeats += 1
                    next_beat = _next_beat(clock, next_beat, beat_s)
            # The clock is only read when the write might not be due yet: time never goes back.
            if due > now:
                now = await _until(clock, due)
            await write(out.payload)
            sent += 1
        return done
    finally:
        _count(done, outs[:sent])


def _count(done: Progress, written: Sequence[Out]) -> None:
    done.writes += len(written)
    tokens = [out.token for out in written if out.token is not None]
    if tokens:
        done.tokens = max(done.tokens, max(tokens) + 1)
    if any(out.terminal for out in written):
        done.terminal = True


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
