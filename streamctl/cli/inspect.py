"""``streamctl inspect``: what an ``EventSource`` would dispatch, from a capture or transcript.

Input is a raw SSE capture (``curl -N … | streamctl inspect``), decoded live as bytes arrive,
a transcript (recognised by its first line), or a browser's HAR file (each event-stream or
WebSocket exchange in it, one after the other). Each dispatched event is printed as one JSON
line ``{"type", "data", "id", "retry"}`` exactly as WHATWG parsing defines it; framing
problems go to stderr with their line numbers. A WebSocket transcript has no SSE events: its
messages are printed as ``{"t", "from", "data"}`` lines.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from streamctl.cli.common import DebugOpt, guard
from streamctl.cli.output import Console, json_line
from streamctl.errors import UsageError

if TYPE_CHECKING:
    from streamctl.core.sse import SSEDecoder, SSEEvent
    from streamctl.core.transcript import Transcript

__all__ = ["inspect_command"]

CHUNK = 65536

SourceArg = Annotated[
    str,
    typer.Argument(
        help="A capture or transcript file; '-' (the default) reads stdin.", metavar="[FILE|-]"
    ),
]


@contextmanager
def _open(source: str) -> Iterator[IO[bytes]]:
    if source == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = Path(source).open("rb")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from exc
    with handle:
        yield handle


def _reader(stream: IO[bytes]) -> Callable[[], bytes]:
    """Read what is available now (up to CHUNK), so a live pipe is decoded as it flows."""
    read1 = getattr(stream, "read1", None)
    if read1 is not None:
        return lambda: bytes(read1(CHUNK))
    return lambda: stream.read(CHUNK)


def _first_line(read: Callable[[], bytes]) -> bytes:
    """Enough of the input to tell a transcript from a capture (all of its first line)."""
    head = b""
    while b"\n" not in head and b"\r" not in head:
        chunk = read()
        if not chunk:
            break
        head += chunk
    return head


def _is_json(head: bytes) -> bool:
    """A transcript or a HAR file (JSON); an event stream never starts with a brace."""
    return head.lstrip().startswith((b"{", b"["))


class _Problems:
    """Prints the decoder's framing problems as they appear."""

    def __init__(self, console: Console, decoder: SSEDecoder) -> None:
        self.console = console
        self.decoder = decoder
        self.seen = 0

    def flush(self) -> None:
        for problem in self.decoder.problems[self.seen :]:
            self.console.note(f"line {problem.line}: {problem.code}: {problem.message}")
        self.seen = len(self.decoder.problems)


def _print_events(console: Console, events: list[SSEEvent]) -> None:
    for event in events:
        console.line(json_line(event.as_dict()))


def inspect_capture(console: Console, head: bytes, read: Callable[[], bytes]) -> None:
    """Decode a raw event stream, printing events as they complete."""
    from streamctl.core.sse import SSEDecoder  # noqa: PLC0415

    decoder = SSEDecoder()
    problems = _Problems(console, decoder)
    chunk = head
    while chunk:
        _print_events(console, decoder.feed(chunk))
        problems.flush()
        chunk = read()
    _print_events(console, decoder.close())
    problems.flush()


def inspect_transcript(console: Console, transcript: Transcript) -> None:
    """Decode a transcript's server frames (SSE) or list its messages (WebSocket)."""
    from streamctl.core.sse import SSEDecoder  # noqa: PLC0415
    from streamctl.core.transcript import Frame  # noqa: PLC0415

    if transcript.header.transport == "ws":
        for record in transcript.records:
            if isinstance(record, Frame):
                data = _text(record.payload)
                console.line(json_line({"t": record.t, "from": record.sender, "data": data}))
        return
    response = transcript.header.response
    ctype = "" if response is None else (response.header("content-type") or "")
    if not ctype.lower().startswith("text/event-stream"):
        console.note(f"note: the response is {ctype or 'untyped'}, decoded as an event stream")
    decoder = SSEDecoder()
    problems = _Problems(console, decoder)
    for _, frame in transcript.frames("server"):
        payload = frame.payload
        chunk = payload if isinstance(payload, bytes) else payload.encode()
        _print_events(console, decoder.feed(chunk))
        problems.flush()
    _print_events(console, decoder.close())
    problems.flush()


def _text(payload: bytes | str) -> str:
    return payload if isinstance(payload, str) else payload.decode("utf-8", "replace")


def _read_all(head: bytes, read: Callable[[], bytes]) -> bytes:
    parts = [head]
    while chunk := read():
        parts.append(chunk)
    return b"".join(parts)


def inspect_command(source: SourceArg = "-", debug: DebugOpt = False) -> None:
    """Decode an SSE capture or a transcript into WHATWG events, one JSON line each.

    Example: curl -N "http://127.0.0.1:8000/api/chat/stream?message=hi" | streamctl inspect
    """
    from streamctl.core.capture import CaptureError, detect, read_capture  # noqa: PLC0415

    console = Console()
    with guard(console, debug=debug), _open(source) as stream:
        reader = _reader(stream)
        head = _first_line(reader)
        if not _is_json(head):
            inspect_capture(console, head, reader)
            return
        data = _read_all(head, reader)
        try:
            kind = detect(data)
            if kind == "ndjson":
                raise CaptureError("an NDJSON body has no SSE events (check it with `check`)")
            transcripts = read_capture(data, kind=kind)
        except CaptureError as exc:
            raise UsageError(f"cannot read {source}: {exc}") from exc
        for transcript in transcripts:
            inspect_transcript(console, transcript)
