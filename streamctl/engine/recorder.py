"""A streaming transcript writer: every record reaches the sink the moment it happens.

The header is written as soon as the response head is known, each record is written and
flushed as it arrives, and an :class:`~streamctl.core.transcript.End` record closes the file on
every way out (used as a context manager, an exception still leaves a valid transcript saying
how it ended). Secrets never reach the sink: the request's headers, target and body and every
client WebSocket message go through :mod:`streamctl.core.redact` first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Protocol

from streamctl.core.redact import (
    redact_body,
    redact_headers,
    redact_shapes,
    redact_target,
    redact_text,
)
from streamctl.core.transcript import (
    Close,
    Disconnect,
    End,
    Frame,
    Header,
    Record,
    Request,
    Response,
    Sender,
    Transcript,
    Transport,
    dump_header,
    dump_record,
)
from streamctl.engine.clock import Clock, RealClock
from streamctl.errors import StreamTimeout

__all__ = ["NullSink", "Recorder", "Sink", "outcome_of", "redact_request"]


class Sink(Protocol):
    """Where transcript lines go: a text file, ``sys.stdout``, an ``io.StringIO``."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class NullSink:
    """A sink that keeps nothing (``send`` times a stream without writing it down)."""

    def write(self, text: str, /) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def redact_request(request: Request) -> Request:
    """``request`` with every credential replaced, as it may be written down."""
    body = None if request.body is None else redact_body(request.body)
    return Request(
        request.method, redact_target(request.target), redact_headers(request.headers), body
    )


#: The clock of recorders not given one (one for all: making a clock makes a thread-local).
_REAL_CLOCK = RealClock()


def _without_shapes(payload: bytes | str) -> bytes | str:
    if isinstance(payload, str):
        return redact_shapes(payload)
    if b"eyJ" not in payload and b"earer" not in payload.lower():
        return payload  # nearly always: no decoding
    # surrogateescape keeps bytes that are not UTF-8 exactly as they came.
    text = payload.decode("utf-8", "surrogateescape")
    redacted = redact_shapes(text)
    return payload if redacted == text else redacted.encode("utf-8", "surrogateescape")


def outcome_of(exc: BaseException) -> str:
    """How a recording ended, from the exception that ended it."""
    if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):
        return "interrupted"
    if isinstance(exc, TimeoutError | StreamTimeout):
        return "timeout"
    return "error"


class Recorder:
    """Writes one exchange as a transcript, live.

    Call :meth:`start` when the request is sent (time offsets count from then), :meth:`head`
    when the response head is known, then :meth:`frame` / :meth:`close` / :meth:`disconnect`
    as things cross the wire, and :meth:`end` once. Records are also kept in :attr:`records`
    unless ``keep`` is false (an endless stream then costs no memory).
    """

    def __init__(
        self,
        sink: Sink,
        protocol: str,
        transport: Transport,
        *,
        clock: Clock | None = None,
        meta: Mapping[str, Any] | None = None,
        keep: bool = True,
    ) -> None:
        self.sink = sink
        self.protocol = protocol
        self.transport: Transport = transport
        self.clock = clock or _REAL_CLOCK
        self.meta = dict(meta or {})
        self.request: Request | None = None
        self.header: Header | None = None
        self.records: list[Record] = []
        self.keep = keep
        self.ended: End | None = None
        self._t0: float | None = None

    def offset(self) -> float:
        """Milliseconds since :meth:`start` (0 before it), to the microsecond the file keeps."""
        return 0.0 if self._t0 is None else round((self.clock.now() - self._t0) * 1000.0, 3)

    def start(self, request: Request) -> None:
        """The request is being sent: remember it (redacted) and start the clock."""
        self.request = redact_request(request)
        self._t0 = self.clock.now()

    def head(self, response: Response | None, request: Request | None = None) -> None:
        """The response head is known (``None``: there is none): write the header line.

        ``request`` replaces the one given to :meth:`start` when the exact request is known
        only now (a WebSocket handshake's headers).
        """
        if self.header is not None:
            return
        if request is not None:
            self.request = redact_request(request)
        request = self.request or Request("GET", "/")
        if response is not None:
            response = Response(response.status, redact_headers(response.headers))
        self.header = Header(self.protocol, self.transport, request, response, self.meta)
        self._write(dump_header(self.header))

    def frame(self, sender: Sender, payload: bytes | str) -> Frame:
        """Something crossed the wire. Client text loses its secrets before it is written;
        anything else what has a secret's shape (a JWT the server echoes, a bearer token)."""
        if sender == "client" and isinstance(payload, str):
            payload = redact_text(payload)
        else:
            payload = _without_shapes(payload)
        frame = Frame(self.offset(), sender, payload)
        self._add(frame)
        return frame

    def close(self, sender: Sender, code: int | None, reason: str = "") -> None:
        self._add(Close(self.offset(), sender, code, reason))

    def disconnect(self, reason: str) -> None:
        self._add(Disconnect(self.offset(), reason))

    def end(self, outcome: str, detail: str = "") -> None:
        """Write the End record (only the first call counts)."""
        if self.ended is None:
            end = End(self.offset(), outcome, detail)
            self._add(end)
            self.ended = end

    def transcript(self) -> Transcript:
        """What was recorded so far (its header written if it was not yet)."""
        self.head(None)
        assert self.header is not None
        return Transcript(self.header, tuple(self.records))

    def _add(self, record: Record) -> None:
        if self.ended is not None:
            return
        self.head(None)
        if self.keep:
            self.records.append(record)
        self._write(dump_record(record))

    def _write(self, line: str) -> None:
        self.sink.write(line + "\n")
        self.sink.flush()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end("complete")
        else:
            self.end(outcome_of(exc), str(exc) or type(exc).__name__)
