"""Captures in: a raw SSE or NDJSON body, or a browser's HAR file, turned into transcripts.

People already hold what their backend sent: ``curl -sN … > reply.sse``, a ``websocat`` log
(one JSON message per line), the Network tab's "Save all as HAR". This module reads any of
them, and a transcript too, so everything that takes a transcript takes a capture.

A capture lacks facts a recording has; each transcript says which in ``Header.unknown``
(:data:`~streamctl.core.transcript.FACTS`), and the checker then leaves the rules that need
them unjudged instead of guessing. A raw body has no timing (every ``t`` is 0), no chunk
boundaries (frames are cut at event or line boundaries), no request and no response head (the
stand-ins are the protocol's stream endpoint and status 200 with the body's media type).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Literal

from streamctl.core.protocols import REGISTRY, get
from streamctl.core.protocols.protocol import ChatProtocol, SSEProtocol
from streamctl.core.transcript import (
    MAGIC,
    Frame,
    Header,
    Record,
    Request,
    Response,
    Transcript,
    TranscriptError,
    load,
)

__all__ = [
    "KINDS",
    "CaptureError",
    "Kind",
    "detect",
    "read_capture",
    "split_events",
    "split_lines",
    "stand_in_request",
]

Kind = Literal["transcript", "har", "sse", "ndjson"]
KINDS: tuple[Kind, ...] = ("transcript", "har", "sse", "ndjson")

SSE_TYPE = "text/event-stream"
NDJSON_TYPE = "application/x-ndjson"
_RAW_UNKNOWN = ("timing", "chunks", "request", "response")
_WS_UNKNOWN = ("timing", "request", "response", "client")
_EOL = re.compile(rb"\r\n|\r|\n")
# A line an event stream can start with: a comment, or one of the four WHATWG fields.
_SSE_LINE = re.compile(rb"(?::|(?:data|event|id|retry)(?::|\r|\n|$))")
_BOM = b"\xef\xbb\xbf"


class CaptureError(ValueError):
    """Input that cannot be turned into transcripts; the message says why and what to do."""


def _first_line(data: bytes) -> bytes:
    body = data.removeprefix(_BOM).lstrip(b" \t\r\n")
    return _EOL.split(body, 1)[0]


def _json(text: bytes) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


_NOT_JSON = object()


def detect(data: bytes) -> Kind:
    """What ``data`` is: a transcript, a HAR file, an SSE body or an NDJSON body."""
    first = _first_line(data)
    if not first:
        raise CaptureError("empty input: no transcript, HAR file, SSE or NDJSON body in it")
    head = _json(first)
    if isinstance(head, dict) and head.get("format") == MAGIC:
        return "transcript"
    if first.startswith((b"{", b"[")) and head is _NOT_JSON:
        whole = _json(data.removeprefix(_BOM))
        if isinstance(whole, dict) and isinstance(whole.get("log"), dict):
            return "har"
        if whole is not _NOT_JSON:
            raise CaptureError("a JSON document that is not a HAR file (it has no 'log' object)")
        raise CaptureError(f"the first line is not complete JSON: {_show(first)}")
    if isinstance(head, dict) and isinstance(head.get("log"), dict):
        return "har"  # a HAR file on one line
    if head is not _NOT_JSON:
        return "ndjson"
    if _SSE_LINE.match(first):
        return "sse"
    raise CaptureError(
        "cannot tell what this is: not a streamctl transcript, a HAR file, an SSE body "
        f"(lines 'data:', 'event:', 'id:', 'retry:' or ':') or NDJSON; it starts {_show(first)}"
    )


def _show(line: bytes, limit: int = 60) -> str:
    text = line[:limit].decode("utf-8", "replace")
    return repr(text + ("…" if len(line) > limit else ""))


def read_capture(
    data: bytes, protocol: str | None = None, *, kind: Kind | None = None
) -> list[Transcript]:
    """The transcripts in ``data`` (a transcript, a HAR file, a raw SSE or NDJSON body).

    ``protocol`` is required for a raw body (it does not name one); for a HAR file it keeps
    that protocol's exchanges only; a transcript of another protocol is an error.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    kind = kind or detect(data)
    proto = None if protocol is None else get(protocol)
    if kind == "transcript":
        return [_transcript(data, proto)]
    if kind == "har":
        from streamctl.core.har import exchanges  # noqa: PLC0415 (a sibling; cycle-free)

        return exchanges(data, proto)
    if proto is None:
        raise CaptureError(
            f"a raw {kind.upper()} body does not say which protocol it is: name it "
            f"(one of {', '.join(REGISTRY)})"
        )
    return [_RAW[kind](data, proto)]


def _transcript(data: bytes, proto: ChatProtocol | None) -> Transcript:
    try:
        transcript = load(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CaptureError(f"the transcript is not UTF-8 (byte {exc.start})") from exc
    except TranscriptError as exc:
        raise CaptureError(f"not a valid transcript: {exc}") from exc
    if proto is not None and transcript.protocol != proto.name:
        raise CaptureError(f"a {transcript.protocol} transcript, not {proto.name}")
    return transcript


def split_events(body: bytes) -> list[bytes]:
    """``body`` cut after every blank line (each piece ends an SSE event or is the tail)."""
    pieces: list[bytes] = []
    start = line_start = 0
    for match in _EOL.finditer(body):
        if match.start() == line_start:
            pieces.append(body[start : match.end()])
            start = match.end()
        line_start = match.end()
    if start < len(body):
        pieces.append(body[start:])
    return pieces


def split_lines(body: bytes) -> list[bytes]:
    """``body`` cut after every LF (NDJSON lines, each keeping its end)."""
    pieces = [line + b"\n" for line in body.split(b"\n")]
    pieces[-1] = pieces[-1][:-1]
    return [piece for piece in pieces if piece]


def stand_in_request(proto: ChatProtocol) -> Request:
    """The request a raw body is taken to answer: the protocol's stream endpoint."""
    endpoint = proto.stream_endpoint
    return Request("GET" if endpoint.method == "WS" else endpoint.method, endpoint.path)


def _raw_sse(data: bytes, proto: ChatProtocol) -> Transcript:
    if not isinstance(proto, SSEProtocol):
        raise CaptureError(
            f"{proto.name} speaks WebSocket, not SSE: give its server messages one per line"
        )
    head = Response(200, (("content-type", SSE_TYPE),))
    return _raw(proto, head, split_events(data), "sse", _RAW_UNKNOWN)


def _raw_ndjson(data: bytes, proto: ChatProtocol) -> Transcript:
    if isinstance(proto, SSEProtocol):
        if NDJSON_TYPE not in proto.media_types:
            raise CaptureError(f"{proto.name} streams SSE, and this body is NDJSON")
        head = Response(200, (("content-type", NDJSON_TYPE),))
        return _raw(proto, head, split_lines(data), "ndjson", _RAW_UNKNOWN)
    messages: list[str | bytes] = []
    for number, line in enumerate(split_lines(data), start=1):
        text = line.rstrip(b"\r\n")
        if text.strip():
            messages.append(_utf8(text, number))
    return _raw(proto, Response(101), messages, "ndjson", _WS_UNKNOWN)


def _utf8(line: bytes, number: int) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CaptureError(f"line {number} is not UTF-8 (byte {exc.start})") from exc


_RAW: dict[str, Callable[[bytes, ChatProtocol], Transcript]] = {
    "sse": _raw_sse,
    "ndjson": _raw_ndjson,
}


def _raw(
    proto: ChatProtocol,
    head: Response,
    payloads: list[bytes] | list[str | bytes],
    kind: str,
    unknown: tuple[str, ...],
) -> Transcript:
    # No End record: how the exchange ended (complete or cut off) is not in a raw body.
    records: list[Record] = [Frame(0.0, "server", payload) for payload in payloads]
    header = Header(
        proto.name,
        proto.transport,
        stand_in_request(proto),
        head,
        {"capture": kind},
        unknown=unknown,
    )
    return Transcript(header, tuple(records))
