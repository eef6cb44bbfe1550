"""One conversation turn under load, measured: time to first token, token gaps, tokens, bytes,
and how it ended (one typed outcome).

Pure bookkeeping: no Locust, no gevent, no network. The transports in
:mod:`streamctl.locust.wire` feed a :class:`Meter`; the users in
:mod:`streamctl.locust.users` turn it into Locust request events.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streamctl.core.protocols.exchange import Update
from streamctl.core.protocols.protocol import ChatProtocol, SSEProtocol, WSProtocol
from streamctl.core.spec import Finding, Level, Msg
from streamctl.core.sse import SSEEvent

__all__ = [
    "FAILURES",
    "Failure",
    "Meter",
    "Outcome",
    "Watch",
    "malformed",
    "sampled",
]


class Outcome(enum.Enum):
    """How a turn ended; every value but ``OK`` is a failure of its own type."""

    OK = "ok"
    #: The server answered, but not with a stream (HTTP error, wrong content type, refused
    #: WebSocket upgrade).
    REFUSED = "refused"
    #: No connection could be made.
    UNREACHABLE = "unreachable"
    #: The stream ended or the connection dropped before the protocol's terminator.
    TRUNCATED = "truncated"
    #: An event or message the protocol's rules reject (not JSON, unknown type, bad fields).
    MALFORMED = "malformed"
    #: No byte arrived for the stall bound.
    STALLED = "stalled"
    #: The turn did not end within its time bound, although bytes kept arriving.
    TIMEOUT = "timeout"
    #: The protocol's own error event or message.
    ERROR_EVENT = "error-event"


class Failure(Exception):
    """A failed turn, as Locust's failure table shows it: the class names the type."""

    outcome = Outcome.OK


def _failure(outcome: Outcome) -> type[Failure]:
    name = "".join(part.capitalize() for part in outcome.value.split("-"))
    return type(name, (Failure,), {"outcome": outcome, "__module__": __name__})


#: One exception class per failing outcome (``Truncated``, ``Stalled``, ``ErrorEvent``, …).
FAILURES: dict[Outcome, type[Failure]] = {o: _failure(o) for o in Outcome if o is not Outcome.OK}


@dataclass
class Meter:
    """What one turn did, in milliseconds from :meth:`start` (``clock`` in seconds)."""

    clock: Callable[[], float] = time.monotonic
    started: float = 0.0
    first_token: float | None = None
    last_token: float | None = None
    gaps: list[float] = field(default_factory=list)
    tokens: int = 0
    bytes: int = 0
    done: bool = False
    ended: float | None = None
    outcome: Outcome | None = None
    detail: str = ""

    def start(self) -> None:
        self.started = self.clock()

    def received(self, size: int) -> None:
        self.bytes += size

    def update(self, update: Update) -> None:
        """Take what the protocol's client made of one event or message."""
        if update.text:
            self._token(self.clock())
        if update.error is not None:
            self.fail(Outcome.ERROR_EVENT, "the server sent the protocol's error event")
        self.done = self.done or update.done

    def _token(self, now: float) -> None:
        if self.last_token is None:
            self.first_token = now
        else:
            self.gaps.append((now - self.last_token) * 1000.0)
        self.last_token = now
        self.tokens += 1

    def fail(self, outcome: Outcome, detail: str) -> None:
        """Note a failure; the first one is the turn's outcome."""
        if self.outcome is None:
            self.outcome, self.detail = outcome, detail

    def end(self) -> None:
        """The stream stopped by itself: without the terminator it was cut short."""
        if not self.done:
            self.fail(Outcome.TRUNCATED, "the stream ended before the protocol's terminator")
        self.fail(Outcome.OK, "")
        self.ended = self.clock()

    @property
    def total_ms(self) -> float:
        end = self.ended if self.ended is not None else self.clock()
        return (end - self.started) * 1000.0

    @property
    def ttft_ms(self) -> float | None:
        return None if self.first_token is None else (self.first_token - self.started) * 1000.0

    @property
    def tokens_per_s(self) -> float | None:
        """Tokens a second from the first token to the last (None below two tokens)."""
        if self.first_token is None or self.last_token is None or self.tokens < 2:
            return None
        span = self.last_token - self.first_token
        return (self.tokens - 1) / span if span > 0 else None

    def failure(self) -> Failure | None:
        """The turn's failure as an exception for Locust, or None when it went well."""
        if self.outcome in (None, Outcome.OK):
            return None
        return FAILURES[self.outcome](self.detail)


class Watch:
    """Holds every event of a stream to the protocol's own message rules as it arrives.

    The same ``classify`` and schemas the checker applies (so "malformed" means what
    ``streamctl check`` would call a MUST finding on that event), without keeping the stream.
    """

    def __init__(self, protocol: ChatProtocol) -> None:
        self.protocol = protocol
        self.frame = 0

    def sse(self, event: SSEEvent) -> list[Finding]:
        assert isinstance(self.protocol, SSEProtocol)
        self.frame += 1
        return self._musts(self.protocol.classify(event, self.frame, 0.0))

    def message(self, text: str) -> list[Finding]:
        assert isinstance(self.protocol, WSProtocol)
        self.frame += 1
        obj: dict[str, Any] | Finding = self.protocol.parse_json(text, self.frame)
        if isinstance(obj, Finding):
            return self._musts([obj])
        return self._musts(self.protocol.classify(obj, text, self.frame, 0.0))

    def _musts(self, result: Msg | list[Finding]) -> list[Finding]:
        found = self.protocol.schema_findings(result) if isinstance(result, Msg) else result
        return [f for f in found if f.level is Level.MUST]


def malformed(meter: Meter, findings: list[Finding]) -> None:
    """Mark ``meter``'s turn malformed by the first of ``findings`` (if any)."""
    if findings:
        meter.fail(Outcome.MALFORMED, findings[0].rule)


def sampled(number: int, rate: float) -> bool:
    """Whether conversation ``number`` (from 0) is recorded and checked: ``rate`` of them,
    evenly spread (0.25: the 4th, 8th, 12th …), the same on every run."""
    return int((number + 1) * rate) > int(number * rate)
