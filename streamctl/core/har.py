"""HAR files (HTTP Archive 1.2, as browsers export them) turned into transcripts.

Each entry whose response is an event stream or NDJSON becomes an SSE transcript; each
WebSocket entry with Chrome's ``_webSocketMessages`` becomes a WebSocket transcript. The
protocol of an entry is the one whose endpoint its method and path match (or the one named).

A HAR file keeps the request, the response head and the whole body, but not when each chunk
arrived nor where the chunks were cut: those facts are marked unknown. WebSocket messages
carry their own time stamps, so their timing is kept. Secrets in the request, the response
head and the client's messages are redacted as a recording's are.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from streamctl.core.capture import (
    NDJSON_TYPE,
    SSE_TYPE,
    CaptureError,
    split_events,
    split_lines,
)
from streamctl.core.endpoints import endpoint_for
from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.redact import redact_body, redact_headers, redact_target, redact_text
from streamctl.core.transcript import (
    Frame,
    Header,
    Headers,
    Record,
    Request,
    Response,
    Sender,
    Transcript,
)

__all__ = ["exchanges"]

_STREAM_TYPES = (SSE_TYPE, NDJSON_TYPE)
# A message time above this is in milliseconds since the epoch (seconds would be year 5138).
_MS_EPOCH = 1e11
# Headers that describe the wire, not the decoded body a HAR file holds.
_DROPPED = frozenset({"content-encoding"})


@dataclass(frozen=True, slots=True)
class _Stream:
    """A HAR entry that holds a stream, and the protocol whose endpoint it matches."""

    index: int
    entry: Mapping[str, Any]
    kind: str  # "ws", or the body's media type
    method: str
    target: str
    owner: ChatProtocol | None


def exchanges(data: bytes, proto: ChatProtocol | None = None) -> list[Transcript]:
    """Every streaming exchange in the HAR file ``data`` (only ``proto``'s, if given).

    An exchange belongs to the protocol whose stream endpoint its method and path match. A
    named protocol also takes the exchanges of its transport that match no endpoint, when none
    matches its own (a real backend may mount it on another path).
    """
    entries = _entries(data)
    streams = [s for i, e in enumerate(entries) if (s := _stream_of(e, i)) is not None]
    chosen = [
        (s, s.owner) for s in streams if s.owner is not None and s.owner is (proto or s.owner)
    ]
    if proto is not None and not chosen:
        websocket = proto.transport == "ws"
        chosen = [(s, proto) for s in streams if s.owner is None and (s.kind == "ws") == websocket]
    taken = {s.index for s, _ in chosen}
    skipped: list[str] = [
        f"{s.method} {s.target.partition('?')[0]} matches no protocol's endpoint"
        for s in streams
        if s.index not in taken and s.owner is None
    ]
    found = [t for s, owner in chosen if (t := _exchange(s, owner, skipped)) is not None]
    if not found:
        raise CaptureError(_nothing(len(entries), proto, skipped))
    return found


def _entries(data: bytes) -> list[Any]:
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise CaptureError(f"the HAR file is not JSON: {exc}") from exc
    log = obj.get("log") if isinstance(obj, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise CaptureError("not a HAR file: no 'log.entries' list")
    return entries


def _nothing(count: int, proto: ChatProtocol | None, skipped: list[str]) -> str:
    which = "" if proto is None else f" of {proto.name}"
    text = f"no event-stream, NDJSON or WebSocket exchange{which} among {count} HAR entries"
    return text + ("; " + "; ".join(skipped[:5]) if skipped else "")


def _stream_of(entry: object, index: int) -> _Stream | None:
    where = f"log.entries[{index}]"
    if not isinstance(entry, dict):
        raise CaptureError(f"{where} is not an object")
    request, response = _object(entry, "request", where), _object(entry, "response", where)
    method, target = _string(request, "method", where), _target(_string(request, "url", where))
    status = response.get("status")
    if not isinstance(status, int) or isinstance(status, bool):
        raise CaptureError(f"{where}.response: 'status' must be a number")
    websocket = "_webSocketMessages" in entry or status == 101
    kind = "ws" if websocket else _stream_type(response)
    if kind is None:
        return None  # a page, a script, a JSON call: not a stream
    owner = _owner("WS" if websocket else method, target)
    return _Stream(index, entry, kind, method, target, owner)


def _exchange(stream: _Stream, proto: ChatProtocol, skipped: list[str]) -> Transcript | None:
    where = f"log.entries[{stream.index}]"
    request = _object(stream.entry, "request", where)
    response = _object(stream.entry, "response", where)
    head = Request(
        stream.method, redact_target(stream.target), _headers(request, where), _body(request)
    )
    answer = Response(response["status"], _headers(response, where, wire=False))
    if stream.kind == "ws":
        return _websocket(stream.entry, proto, head, answer, stream.index)
    return _stream(
        response, proto, head, answer, kind=stream.kind, index=stream.index, skipped=skipped
    )


def _object(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise CaptureError(f"{where}: {key!r} must be an object")
    return value


def _string(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise CaptureError(f"{where}: {key!r} must be a string")
    return value


def _target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _headers(obj: Mapping[str, Any], where: str, wire: bool = True) -> Headers:
    items = obj.get("headers", [])
    if not isinstance(items, list):
        raise CaptureError(f"{where}: 'headers' must be a list")
    pairs: list[tuple[str, str]] = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(name, str) or not isinstance(value, str):
            raise CaptureError(f"{where}: every header is {{'name': …, 'value': …}}")
        # HTTP/2 pseudo-headers (":status") are not headers; a decoded body has no encoding.
        if not name.startswith(":") and (wire or name.lower() not in _DROPPED):
            pairs.append((name, value))
    return redact_headers(pairs)


def _body(request: Mapping[str, Any]) -> bytes | None:
    post = request.get("postData")
    text = post.get("text") if isinstance(post, dict) else None
    return None if not isinstance(text, str) else redact_body(text.encode("utf-8"))


def _stream_type(response: Mapping[str, Any]) -> str | None:
    content = response.get("content")
    mime = content.get("mimeType") if isinstance(content, dict) else None
    kind = (mime if isinstance(mime, str) else "").split(";")[0].strip().lower()
    if not kind:
        ctype = next(
            (
                h.get("value", "")
                for h in response.get("headers", [])
                if isinstance(h, dict) and str(h.get("name", "")).lower() == "content-type"
            ),
            "",
        )
        kind = str(ctype).split(";")[0].strip().lower()
    return kind if kind in _STREAM_TYPES else None


def _owner(method: str, target: str) -> ChatProtocol | None:
    """The protocol whose stream endpoint is ``method`` ``target`` (``WS`` for WebSocket)."""
    found = endpoint_for(method, target)
    return found[0] if found is not None and found[1].stream else None


def _content(response: Mapping[str, Any]) -> bytes | None:
    content = response.get("content")
    text = content.get("text") if isinstance(content, dict) else None
    if not isinstance(text, str):
        return None
    if content.get("encoding") == "base64":  # type: ignore[union-attr]
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error as exc:
            raise CaptureError("a response body marked base64 is not base64") from exc
    return text.encode("utf-8")


def _stream(
    response: Mapping[str, Any],
    proto: ChatProtocol,
    request: Request,
    head: Response,
    *,
    kind: str,
    index: int,
    skipped: list[str],
) -> Transcript | None:
    body = _content(response)
    if body is None:
        skipped.append(f"{request.method} {request.target} has no body saved in the HAR file")
        return None
    pieces = split_lines(body) if kind == NDJSON_TYPE else split_events(body)
    records: tuple[Record, ...] = tuple(Frame(0.0, "server", piece) for piece in pieces)
    meta = {"capture": "har", "entry": index}
    header = Header(proto.name, "sse", request, head, meta, unknown=("timing", "chunks"))
    return Transcript(header, records)


def _websocket(
    entry: Mapping[str, Any], proto: ChatProtocol, request: Request, head: Response, index: int
) -> Transcript:
    where = f"log.entries[{index}]._webSocketMessages"
    messages = entry.get("_webSocketMessages", [])
    if not isinstance(messages, list):
        raise CaptureError(f"{where} must be a list")
    started = _started(entry.get("startedDateTime"))
    records = tuple(_message(m, started, f"{where}[{i}]") for i, m in enumerate(messages))
    unknown = ("timing",) if started is None else ()
    meta = {"capture": "har", "entry": index}
    return Transcript(Header(proto.name, "ws", request, head, meta, unknown=unknown), records)


def _started(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _message(obj: object, started: float | None, where: str) -> Frame:
    if not isinstance(obj, dict) or obj.get("type") not in ("send", "receive"):
        raise CaptureError(f"{where}: a message is {{'type': 'send'|'receive', 'data': …}}")
    data, opcode, time = obj.get("data"), obj.get("opcode", 1), obj.get("time")
    if not isinstance(data, str):
        raise CaptureError(f"{where}: 'data' must be a string")
    t = 0.0
    if started is not None and isinstance(time, int | float) and not isinstance(time, bool):
        # Chrome writes seconds since the epoch, Playwright milliseconds.
        seconds = time / 1000.0 if time > _MS_EPOCH else time
        t = max(0.0, round((seconds - started) * 1000.0, 3))
    sender: Sender = "client" if obj["type"] == "send" else "server"
    if opcode == 2:  # a binary message: Chrome stores it base64-encoded
        try:
            return Frame(t, sender, base64.b64decode(data, validate=True))
        except binascii.Error as exc:
            raise CaptureError(f"{where}: a binary message's data is not base64") from exc
    return Frame(t, sender, redact_text(data) if sender == "client" else data)
