"""What the transport adapters share: bounds, results, observers and the update pump.

Nothing here imports a network library, so the CLI can name these types without paying for
httpx or websockets at import time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import ClientOptions, Update
from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.transcript import Frame, Request, Response
from streamctl.errors import ConnectionLost, ProtocolErrorEvent, StreamctlError

__all__ = [
    "Deadline",
    "Limits",
    "NullObserver",
    "Observer",
    "Pump",
    "Result",
    "WireEvent",
    "merge_headers",
    "next_session",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one exchange (or one turn of a conversation).

    ``timeout``: seconds for everything, connecting included (``None``: no bound).
    ``max_events``: stop after this many server events or messages.
    ``linger``: after the protocol's terminator, keep reading this long (or until the server
    closes) so whatever a server wrongly sends after it is still seen; 0 stops at once.
    ``max_bytes``: stop once the server has sent this many bytes (body or messages).
    ``idle``: give up when nothing arrives for this long (``None``: only ``timeout`` bounds a
    silent stream); the transcript then ends ``timeout`` with a detail beginning "stalled:".
    """

    timeout: float | None = 30.0
    max_events: int | None = None
    linger: float = 0.0
    max_bytes: int | None = None
    idle: float | None = None


class Deadline:
    """The time bounds of one exchange: ``timeout`` for all of it, ``idle`` between arrivals.

    :meth:`scope` opens the one timeout scope; :meth:`alive` pushes it back when something
    arrived; :meth:`stalled` tells, once it ran out, whether silence ran it out.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.end: float | None = None
        self.frozen = False
        self._scope: asyncio.Timeout | None = None

    def scope(self) -> asyncio.Timeout:
        now = asyncio.get_running_loop().time()
        timeout = self.limits.timeout
        self.end = None if timeout is None else now + timeout
        self._scope = asyncio.timeout_at(self._next(now))
        return self._scope

    def _next(self, now: float) -> float | None:
        idle = self.limits.idle
        bounds = [b for b in (self.end, None if idle is None else now + idle) if b is not None]
        return min(bounds, default=None)

    def alive(self) -> None:
        """Something arrived: the idle bound starts again (not while lingering)."""
        if self.limits.idle is not None and self._scope is not None and not self.frozen:
            self._scope.reschedule(self._next(asyncio.get_running_loop().time()))

    def stalled(self) -> bool:
        """Whether the idle bound (not ``timeout``) ran out."""
        if self.limits.idle is None or self.frozen:
            return False
        return self.end is None or asyncio.get_running_loop().time() < self.end - 0.001

    def stall_detail(self) -> str:
        from streamctl.core.probe import STALLED  # noqa: PLC0415

        return f"{STALLED} nothing arrived for {self.limits.idle:g} s (--idle-timeout)"


@dataclass(frozen=True, slots=True)
class WireEvent:
    """One server event (SSE) or message (WebSocket) and what the client session made of it.

    ``t``: milliseconds since the request. ``sse``: the WHATWG view of an SSE event, when the
    body was an event stream. ``message``: the WebSocket message.
    """

    t: float
    update: Update
    sse: dict[str, object] | None = None
    message: str | bytes | None = None


class Observer(Protocol):
    """Sees an exchange live (the CLI prints from here)."""

    def on_head(self, request: Request, response: Response | None) -> None: ...

    def on_frame(self, frame: Frame) -> None: ...

    def on_event(self, event: WireEvent) -> None: ...


class NullObserver:
    def on_head(self, request: Request, response: Response | None) -> None:
        pass

    def on_frame(self, frame: Frame) -> None:
        pass

    def on_event(self, event: WireEvent) -> None:
        pass


@dataclass(frozen=True)
class Result:
    """How one exchange or turn went.

    ``outcome`` is a transcript outcome (complete, interrupted, timeout, max-events, max-bytes,
    error).
    ``error`` is what a command that wants a clean stream should report; ``None`` when the
    stream reached its terminator without trouble.
    """

    response: Response | None
    outcome: str
    detail: str = ""
    error: StreamctlError | None = None
    done: bool = False
    events: int = 0
    errors: tuple[str, ...] = ()
    #: Some of the reply's text arrived.
    replied: bool = False


#: Error events kept per exchange (the first is what is reported; a server that sends
#: nothing else cannot fill the memory).
MAX_ERRORS = 100


@dataclass
class Pump:
    """Applies updates from one exchange: counts events, notes the end, tells when to stop."""

    observer: Observer
    limits: Limits
    events: int = 0
    received: int = 0  # bytes the server sent
    done: bool = False
    errors: list[str] = field(default_factory=list)
    #: Some of the reply's text arrived (the text itself is not kept).
    replied: bool = False

    def take(self, event: WireEvent) -> None:
        self.events += 1
        update = event.update
        # The text is shown as it comes and not kept: an endless reply costs no memory.
        self.replied = self.replied or bool(update.text)
        if update.error is not None and len(self.errors) < MAX_ERRORS:
            self.errors.append(update.error)
        self.done = self.done or update.done
        self.observer.on_event(event)

    def count(self, size: int) -> None:
        """The server sent ``size`` more bytes."""
        self.received += size

    @property
    def full(self) -> bool:
        """The event or byte bound is reached."""
        events, size = self.limits.max_events, self.limits.max_bytes
        return (events is not None and self.events >= events) or (
            size is not None and self.received >= size
        )

    def ending(self, response: Response | None) -> Result:
        """The result when the stream stopped by itself or by a bound (not by an error)."""
        error = ProtocolErrorEvent(self.errors[0]) if self.errors else None
        if self.done:
            detail = (
                "the server reported an error" if error else "the protocol's terminator arrived"
            )
            return self._result(response, "complete", detail, error)
        bound = self.limits.max_bytes
        if bound is not None and self.received >= bound:
            return self._result(response, "max-bytes", f"stopped after {self.received} bytes")
        if self.full:
            return self._result(response, "max-events", f"stopped after {self.events} events")
        detail = "the server ended the stream before the protocol's terminator"
        return self._result(response, "complete", detail, error or ConnectionLost(detail))

    def _result(
        self,
        response: Response | None,
        outcome: str,
        detail: str,
        error: StreamctlError | None = None,
    ) -> Result:
        errors = tuple(self.errors)
        return Result(
            response, outcome, detail, error, self.done, self.events, errors, self.replied
        )

    def failed(self, response: Response | None, outcome: str, error: StreamctlError) -> Result:
        """The result when ``error`` stopped the stream."""
        return self._result(response, outcome, str(error), error)


def next_session(
    protocol: ChatProtocol, options: ClientOptions, previous: ClientSession | None, message: str
) -> ClientSession:
    """The client session for ``message``, continuing ``previous``'s conversation (same chat,
    history resent) where the protocol keeps one on the client side, else a fresh session with
    the same options."""
    session = previous.follow_up(message) if previous is not None else None
    return session or protocol.client(replace(options, message=message))


#: Characters of an error response's body a message shows (a fault list fits whole).
EXCERPT = 1000


def excerpt(body: bytes, limit: int = EXCERPT, *, as_is: bool = False) -> str:
    """An error response's body for a message: one line, the ``detail`` of a
    ``{"detail": …}`` body (every server of ours, FastAPI's too) unless ``as_is``, cut only past
    ``limit``."""
    text = body.decode("utf-8", "replace").strip()
    try:
        obj = None if as_is else json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("detail"), str):
        text = obj["detail"] + "".join(
            f"; {k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in obj.items()
            if k != "detail"
        )
    text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def merge_headers(
    first: Sequence[tuple[str, str]], extra: Sequence[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    """``first`` plus the ``extra`` headers it does not already carry."""
    have = {(k.lower(), v) for k, v in first}
    return (*first, *((k, v) for k, v in extra if (k.lower(), v) not in have))
