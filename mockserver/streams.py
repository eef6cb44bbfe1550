"""The open streams, for the admin API to list, hold and release (``/_streamctl/streams``).

Every reply in progress is registered while it plays, with the :class:`~streamctl.engine.hold.Gate`
it holds at. The registry is bounded (``ServerConfig.stream_limit``): a reply beyond it is
played unregistered and does not hold. A version number counts the changes, so a client can
wait for the next one instead of polling (``?since=V&wait=S``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from mockserver.journal import Entry
from streamctl.engine.clock import Clock
from streamctl.engine.hold import Gate, Stop, send_held, stops
from streamctl.engine.pacing import Progress
from streamctl.engine.reply import Reply, Writer, send

__all__ = ["OpenStream", "Streams"]

log = logging.getLogger("mockserver")


@dataclass(eq=False)
class OpenStream:
    """One reply in progress."""

    id: str
    protocol: str
    path: str
    progress: Progress
    gate: Gate = field(default_factory=Gate)

    def summary(self) -> dict[str, Any]:
        held = self.gate.held
        return {
            "id": self.id,
            "protocol": self.protocol,
            "path": self.path,
            "position": self.gate.position if held is not None else self.progress.writes,
            "held": held,
        }


class Streams:
    """The registry of open streams (one per server, used on its event loop only)."""

    def __init__(self, limit: int = 10_000, hold_after: int | None = None) -> None:
        self.limit = limit
        self.hold_after = hold_after
        self.version = 0
        self._open: dict[str, OpenStream] = {}
        self._ids = itertools.count(1)
        self._changed: asyncio.Event | None = None
        self._warned = False

    def __len__(self) -> int:
        return len(self._open)

    def get(self, stream_id: str) -> OpenStream | None:
        return self._open.get(stream_id)

    def listed(self, held: bool | None = None) -> list[dict[str, Any]]:
        """The open streams, oldest first (``held``: only those held, or not held)."""
        return [
            s.summary()
            for s in self._open.values()
            if held is None or (s.gate.held is not None) == held
        ]

    def release_all(self, *, free: bool = False) -> int:
        """Release every held stream (``free``: every open stream, for good); how many were
        held."""
        return sum(s.gate.release(free=free) for s in list(self._open.values()))

    async def changed(self, since: int, timeout: float) -> None:
        """Return once the version is past ``since``, or after ``timeout`` seconds."""
        if self.version != since or timeout <= 0:
            return
        if self._changed is None:
            self._changed = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def _change(self) -> None:
        self.version += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    @contextlib.contextmanager
    def _opened(self, entry: Entry, progress: Progress) -> Iterator[OpenStream | None]:
        if len(self._open) >= self.limit:
            if not self._warned:
                log.warning("%d streams open: the next are not listed and do not hold", self.limit)
                self._warned = True
            yield None
            return
        stream = OpenStream(str(next(self._ids)), entry.protocol, entry.path, progress)
        stream.gate = Gate(self._change)
        self._open[stream.id] = stream
        self._change()
        try:
            yield stream
        finally:
            del self._open[stream.id]
            self._change()

    async def play(
        self,
        reply: Reply,
        writer: Writer[Any],
        entry: Entry,
        progress: Progress,
        *,
        clock: Clock,
        speed: float,
    ) -> Progress:
        """Play ``reply`` as a registered stream, holding where it says to."""
        with self._opened(entry, progress) as stream:
            held_at: tuple[Stop, ...] = ()
            if stream is not None:
                script = reply.choice.script
                writes = reply.rendering.outs if reply.plan is None else reply.plan.steps
                held_at = stops(writes, script.holds, self.hold_after, len(script.sent_tokens))
            played: Coroutine[Any, Any, Progress]
            if stream is None or not held_at:
                played = send(reply, writer, clock, speed=speed, progress=progress)
            else:
                gate = stream.gate
                played = send_held(
                    reply, writer, clock, gate, held_at, speed=speed, progress=progress
                )
            return await played
