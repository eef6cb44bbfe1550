"""Recordings replayed: a recorded transcript turned into the writes a server sends.

:func:`replay_outs` and :func:`ws_replay` give the same bytes or messages, the same chunk
boundaries and the recorded gaps (scaled by the speed at play time, see
:mod:`streamctl.engine.pacing`).
"""

from __future__ import annotations

from dataclasses import dataclass

from streamctl.core.protocols.exchange import Out
from streamctl.core.transcript import Close, Frame, Transcript

__all__ = ["ReplayClose", "WSReplay", "replay_outs", "ws_replay"]


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
