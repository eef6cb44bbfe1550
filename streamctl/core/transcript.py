"""The transcript format: one recorded exchange (an SSE response or a WebSocket connection).

JSON Lines, diff-friendly. The first line is the header (format version, protocol, transport, the
request with secrets redacted, the response status and headers); every further line is one
record: a frame as it crossed the wire (chunk boundaries kept), a WebSocket close, an abrupt
disconnect, or the end marker saying how the recording ended. ``load(dump(t)) == t``.
The format is documented for people in ``fixtures/README.md``.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from streamctl.core import jsontext

__all__ = [
    "FACTS",
    "FORMAT_VERSION",
    "Close",
    "Disconnect",
    "End",
    "Frame",
    "Header",
    "Record",
    "Request",
    "Response",
    "Transcript",
    "TranscriptError",
    "dump",
    "dump_header",
    "dump_record",
    "load",
    "load_lines",
]

FORMAT_VERSION = 1
MAGIC = "streamctl-transcript"

Transport = Literal["sse", "ws"]
Sender = Literal["server", "client"]
Headers = tuple[tuple[str, str], ...]

#: Facts a transcript can lack (a capture imported from a raw body or a browser's HAR file):
#: the ``timing`` of frames (their ``t`` is then 0 or coarse), the ``chunks`` boundaries (frames
#: are then cut at event or message boundaries), the ``request`` (a stand-in: the protocol's
#: stream endpoint), the ``response`` head (a stand-in: status 200 and the body's media type),
#: and the ``client`` messages of a WebSocket connection (only the server's side was kept).
FACTS = ("timing", "chunks", "request", "response", "client")

#: How a recording ended: the stream finished normally; the user interrupted it; a time or event
#: bound stopped it; the connection failed.
OUTCOMES = ("complete", "interrupted", "timeout", "max-events", "max-bytes", "error")


class TranscriptError(ValueError):
    """A transcript file that cannot be read; says which line and why."""


@dataclass(frozen=True, slots=True)
class Request:
    """The request that opened the exchange (the WebSocket handshake for ``ws``)."""

    method: str
    target: str
    headers: Headers = ()
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """The response status and headers (``101`` for an accepted WebSocket)."""

    status: int
    headers: Headers = ()

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), if present."""
        return header_value(self.headers, name)


@dataclass(frozen=True)
class Header:
    protocol: str
    transport: Transport
    request: Request
    response: Response | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    version: int = FORMAT_VERSION
    #: Facts this transcript does not know (see :data:`FACTS`); empty for a recording.
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Frame:
    """Bytes or a message that crossed the wire at ``t`` ms after the request was sent.

    For SSE, ``payload`` is one chunk of the response body (bytes). For WebSocket it is one
    message: ``str`` for a text frame, ``bytes`` for a binary frame.
    """

    t: float
    sender: Sender
    payload: bytes | str


@dataclass(frozen=True, slots=True)
class Close:
    """A WebSocket close frame; ``code`` is ``None`` for a close frame without a code."""

    t: float
    sender: Sender
    code: int | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The connection ended abruptly: no close frame (WS), or reset mid-body (SSE)."""

    t: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class End:
    """How the recording ended (one of :data:`OUTCOMES`); always the last record if present."""

    t: float
    outcome: str
    detail: str = ""


Record = Frame | Close | Disconnect | End


@dataclass(frozen=True)
class Transcript:
    header: Header
    records: tuple[Record, ...] = ()

    @property
    def protocol(self) -> str:
        return self.header.protocol

    @property
    def end(self) -> End | None:
        last = self.records[-1] if self.records else None
        return last if isinstance(last, End) else None

    def frames(self, sender: Sender = "server") -> Iterator[tuple[int, Frame]]:
        """``(record index, frame)`` for every frame sent by ``sender``."""
        for index, record in enumerate(self.records):
            if isinstance(record, Frame) and record.sender == sender:
                yield index, record


def header_value(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers if k.lower() == wanted), None)


# --- encoding -----------------------------------------------------------------------------


def _bytes_field(data: bytes) -> dict[str, str]:
    try:
        return {"data": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(data).decode("ascii")}


def _dump_body(body: bytes | None) -> dict[str, str] | None:
    return None if body is None else _bytes_field(body)


def dump_header(header: Header) -> str:
    """The header line (no newline)."""
    req = header.request
    obj: dict[str, Any] = {
        "format": MAGIC,
        "version": header.version,
        "protocol": header.protocol,
        "transport": header.transport,
        "request": {
            "method": req.method,
            "target": req.target,
            "headers": [list(h) for h in req.headers],
            "body": _dump_body(req.body),
        },
        "response": None,
        "meta": dict(header.meta),
    }
    if header.unknown:
        obj["unknown"] = list(header.unknown)
    if header.response is not None:
        obj["response"] = {
            "status": header.response.status,
            "headers": [list(h) for h in header.response.headers],
        }
    return jsontext.dumps_exact(obj)


def dump_record(record: Record) -> str:
    """One record line (no newline)."""
    obj: dict[str, Any] = {"t": round(record.t, 3)}
    if isinstance(record, Frame):
        obj["from"] = record.sender
        if isinstance(record.payload, str):
            obj["text"] = record.payload
        else:
            obj.update(_bytes_field(record.payload))
    elif isinstance(record, Close):
        obj["from"] = record.sender
        obj["close"] = {"code": record.code, "reason": record.reason}
    elif isinstance(record, Disconnect):
        obj["disconnect"] = record.reason
    else:
        obj["end"] = record.outcome
        obj["detail"] = record.detail
    return jsontext.dumps_exact(obj)


def dump(transcript: Transcript) -> str:
    """The whole transcript as JSON Lines text (ends with a newline)."""
    lines = [dump_header(transcript.header)]
    lines.extend(dump_record(r) for r in transcript.records)
    return "\n".join(lines) + "\n"


# --- decoding -----------------------------------------------------------------------------


def _want(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], line: int) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise TranscriptError(f"line {line}: {key!r} is missing or has the wrong type")
    return value


def _load_bytes(obj: Mapping[str, Any], line: int) -> bytes:
    if "data" in obj:
        return str(_want(obj, "data", str, line)).encode("utf-8")
    try:
        return base64.b64decode(_want(obj, "b64", str, line), validate=True)
    except binascii.Error as exc:
        raise TranscriptError(f"line {line}: 'b64' is not valid base64") from exc


def _load_headers(value: Any, line: int) -> Headers:
    if not isinstance(value, list) or not all(
        isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h) for h in value
    ):
        raise TranscriptError(f"line {line}: headers must be a list of [name, value] pairs")
    return tuple((h[0], h[1]) for h in value)


def _load_header(obj: Mapping[str, Any]) -> Header:
    if obj.get("format") != MAGIC:
        raise TranscriptError(f"line 1: not a streamctl transcript (no 'format': {MAGIC!r})")
    version = _want(obj, "version", int, 1)
    if version > FORMAT_VERSION:
        raise TranscriptError(f"line 1: format version {version} is newer than this streamctl")
    transport = _want(obj, "transport", str, 1)
    if transport not in ("sse", "ws"):
        raise TranscriptError(f"line 1: transport must be 'sse' or 'ws', not {transport!r}")
    req = _want(obj, "request", dict, 1)
    body = req.get("body")
    request = Request(
        method=_want(req, "method", str, 1),
        target=_want(req, "target", str, 1),
        headers=_load_headers(req.get("headers", []), 1),
        body=None if body is None else _load_bytes(_want(req, "body", dict, 1), 1),
    )
    response = None
    if obj.get("response") is not None:
        res = _want(obj, "response", dict, 1)
        response = Response(_want(res, "status", int, 1), _load_headers(res.get("headers", []), 1))
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise TranscriptError("line 1: 'meta' must be an object")
    unknown = obj.get("unknown", [])
    if not isinstance(unknown, list) or not all(isinstance(u, str) for u in unknown):
        raise TranscriptError("line 1: 'unknown' must be a list of fact names")
    protocol = _want(obj, "protocol", str, 1)
    return Header(protocol, transport, request, response, meta, version, tuple(unknown))


def _sender(obj: Mapping[str, Any], line: int) -> Sender:
    sender = obj.get("from")
    if sender == "server":
        return "server"
    if sender == "client":
        return "client"
    raise TranscriptError(f"line {line}: 'from' must be 'server' or 'client'")


def _load_record(obj: Mapping[str, Any], line: int) -> Record:
    t = float(_want(obj, "t", (int, float), line))
    if "text" in obj:
        return Frame(t, _sender(obj, line), _want(obj, "text", str, line))
    if "data" in obj or "b64" in obj:
        return Frame(t, _sender(obj, line), _load_bytes(obj, line))
    if "close" in obj:
        close = _want(obj, "close", dict, line)
        code = close.get("code")
        if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
            raise TranscriptError(f"line {line}: close code must be an integer or null")
        return Close(t, _sender(obj, line), code, str(close.get("reason", "")))
    if "disconnect" in obj:
        return Disconnect(t, _want(obj, "disconnect", str, line))
    if "end" in obj:
        return End(t, _want(obj, "end", str, line), str(obj.get("detail", "")))
    raise TranscriptError(
        f"line {line}: unknown record (no text, data, b64, close, disconnect or end)"
    )


def load_lines(lines: Iterable[str]) -> Transcript:
    """Read a transcript from lines (a file object works). Blank lines are skipped.

    A file cut off inside its last line (a recorder killed mid-write) loses only that line.
    """
    items = list(lines)
    header: Header | None = None
    records: list[Record] = []
    for number, raw in enumerate(items, start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            obj = jsontext.loads(text)
        except json.JSONDecodeError as exc:
            # Only a last record line cut short (no newline, so not even JSON) is forgiven: a
            # complete line that is wrong is an error wherever it is.
            if header is not None and number == len(items) and not raw.endswith("\n"):
                break
            raise TranscriptError(f"line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise TranscriptError(f"line {number}: expected a JSON object")
        if header is None:
            header = _load_header(obj)
        else:
            records.append(_load_record(obj, number))
    if header is None:
        raise TranscriptError("empty transcript: no header line")
    return Transcript(header, tuple(records))


def load(text: str) -> Transcript:
    """Read a transcript from its JSON Lines text."""
    # Lines end at LF only: str.splitlines() would also cut inside JSON strings holding U+2028,
    # U+0085 and the like, which json.dumps(ensure_ascii=False) writes unescaped.
    return load_lines(io.StringIO(text, newline="\n"))
