"""Wire formats of ``message-stream``: SSE or NDJSON, chosen by the request's ``Accept``.

The seed's ``MessageStreamHandler`` parses "Server-Sent Events and JSON lines", so the server
speaks either: ``event: <type>`` / ``data: <json>`` blocks, or one JSON object per line
(``application/x-ndjson``, NDJSON spec 1.0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamctl.core.jsontext import dumps_compact

__all__ = [
    "NDJSON",
    "SSE",
    "LineProblem",
    "NDJSONDecoder",
    "dumps",
    "encode",
    "media_type",
    "wants_ndjson",
]

SSE = "text/event-stream"
NDJSON = "application/x-ndjson"


def media_type(value: str | None) -> str:
    """The bare, lower-case media type of a Content-Type or Accept member."""
    return (value or "").split(";")[0].strip().lower()


def wants_ndjson(accept: str | None) -> bool:
    """Whether ``accept`` prefers NDJSON to SSE.

    RFC 9110 §12.5.1: media ranges rank by their ``q`` weight (default 1, ``q=0`` means "not
    acceptable"); equal weights keep the order given. Without a preference, SSE (the default).
    """
    ranked = []
    for position, member in enumerate((accept or "").split(",")):
        kind, *params = member.split(";")
        ranked.append((-_weight(params), position, kind.strip().lower()))
    best = next(
        (kind for neg_q, _, kind in sorted(ranked) if neg_q < 0 and kind in (SSE, NDJSON)), SSE
    )
    return best == NDJSON


def _weight(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0  # an unreadable weight cannot express a preference
    return 1.0


def dumps(obj: Any) -> str:
    """Compact JSON, UTF-8 text kept as is (what a FastAPI generator writes)."""
    return dumps_compact(obj)


def encode(obj: dict[str, Any], ndjson: bool) -> bytes:
    """One message on the wire: an SSE event named after its ``type``, or one NDJSON line."""
    text = dumps(obj)
    if ndjson:
        return (text + "\n").encode()
    # Compact JSON is one line, so the event is framed directly (encode_event's checks cost
    # more than the event).
    return f"event: {obj['type']}\ndata: {text}\n\n".encode()


@dataclass(frozen=True, slots=True)
class LineProblem:
    """Something in an NDJSON stream a line reader silently drops or repairs."""

    code: str  # "invalid-utf8" or "incomplete-line"
    message: str
    line: int


class NDJSONDecoder:
    """Incremental NDJSON reader: ``feed()`` bytes, get the complete, non-empty lines.

    "The receiver MUST accept newline as line delimiter \\n (0x0A) as well as carriage return and
    newline \\r\\n" and "SHOULD silently ignore empty lines". Never raises on the peer's bytes.
    """

    def __init__(self) -> None:
        # The line being read, in the pieces it came in (joined once, when it ends).
        self._rest: list[bytes] = []
        self._line = 0
        self.problems: list[LineProblem] = []

    def feed(self, chunk: bytes) -> list[str]:
        """The lines that ``chunk`` completes, decoded (ill-formed UTF-8 replaced, recorded)."""
        if b"\n" not in chunk:
            if chunk:
                self._rest.append(chunk)
            return []
        *lines, rest = b"".join((*self._rest, chunk)).split(b"\n")
        self._rest = [rest] if rest else []
        texts = []
        for raw in lines:
            self._line += 1
            text = self._decode(raw.removesuffix(b"\r"))
            if text.strip():
                texts.append(text)
        return texts

    def close(self) -> None:
        """End of stream: a last line without its newline is discarded and recorded."""
        if b"".join(self._rest).strip():
            self.problems.append(
                LineProblem(
                    "incomplete-line",
                    "stream ended inside a line (no \\n after it): it was discarded",
                    self._line + 1,
                )
            )
        self._rest = []

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.problems.append(
                LineProblem("invalid-utf8", "ill-formed UTF-8 was replaced with U+FFFD", self._line)
            )
            return raw.decode("utf-8", errors="replace")
