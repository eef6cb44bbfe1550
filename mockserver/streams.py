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
from typing import Any

from mockserver.journal import Entry
from streamctl.engine.clock import Clock
from streamctl.engine.hold import Gate, send_held, stops
from streamctl.engine.pacing import Progress
from streamctl.engine.reply import Reply, Writer, send

__all__ = ["OpenStream", "Streams"]

log = logging.getLogger("mockserver")


class OpenStream:
    """One reply in progress (made for every reply: kept small and cheap)."""

    __slots__ = ("entry", "gate", "id", "progress")

    def __init__(self, stream_id: int, entry: Entry, progress: Progress) -> None:
        self.id = stream_id
        self.entry = entry
        self.progress = progress
        #: The reply's holds, if it has any.
        self.gate: Gate | None = None

    @property
    def held(self) -> str | None:
        return None if self.gate is None else self.gate.held

    def summary(self) -> dict[str, Any]:
        held = self.held
        return {
            "id": str(self.id),
            "protocol": self.entry.protocol,
            "path": self.entry.path,
            "position": self.progress.writes if self.gate is None else self.gate.position,
            "held": held,
        }


class Streams:
    """The registry of open streams (one per server, used on its event loop only)."""

    def __init__(self, limit: int = 10_000, hold_after: int | None = None) -> None:
        self.limit = limit
        self.hold_after = hold_after
        self.version = 0
        self._open: dict[int, OpenStream] = {}
        self._ids = itertools.count(1)
        self._changed: asyncio.Event | None = None
        self._warned = False

    def __len__(self) -> int:
        return len(self._open)

    def get(self, stream_id: str) -> OpenStream | None:
        return self._open.get(int(stream_id)) if stream_id.isdigit() else None

    def listed(self, held: bool | None = None) -> list[dict[str, Any]]:
        """The open streams, oldest first (``held``: only those held, or not held)."""
        return [
            s.summary() for s in self._open.values() if held is None or (s.held is not None) == held
        ]

    def release_all(self, *, free: bool = False) -> int:
        """Release every held stream (``free``: every open stream, for good); how many were
        held."""
        gates = [s.gate for s in self._open.values() if s.gate is not None]
        return sum(gate.release(free=free) for gate in gates)

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

    def _opened(self, entry: Entry, progress: Progress) -> OpenStream | None:
        if len(self._open) >= self.limit:
            if not self._warned:
                log.warning("%d streams open: the next are not listed and do not hold", self.limit)
                self._warned = True
            return None
        stream = OpenStream(next(self._ids), entry, progress)
        self._open[stream.id] = stream
        self._change()
        return stream

    def _closed(self, stream: OpenStream) -> None:
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
        stream = self._opened(entry, progress)
        if stream is None:
            return await send(reply, writer, clock, speed=speed, progress=progress)
        try:
            script = reply.choice.script
            writes = reply.rendering.outs if reply.plan is None else reply.plan.steps
            held_at = stops(writes, script.holds, self.hold_after, len(script.sent_tokens))
            if not held_at:
                return await send(reply, writer, clock, speed=speed, progress=progress)
            stream.gate = gate = Gate(self._change)
            return await send_held(
                reply, writer, clock, gate, held_at, speed=speed, progress=progress
            )
        finally:
            self._closed(stream)
