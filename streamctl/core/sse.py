"""A strict, incremental Server-Sent Events codec (sans-I/O).

Follows WHATWG HTML, §9.2.6 "Interpreting an event stream". The decoder takes byte chunks split
anywhere (inside CRLF, inside a multi-byte UTF-8 character) and yields the events a conforming
``EventSource`` would dispatch. It never raises on the peer's bytes: whatever a lenient client
would silently drop is recorded in :attr:`SSEDecoder.problems` so a checker can report it.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

__all__ = ["Problem", "SSEDecoder", "SSEEvent", "decode", "encode_comment", "encode_event"]

# "Lines must be separated by either a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character
# pair, a single U+000A LINE FEED (LF) character, or a single U+000D CARRIAGE RETURN (CR)
# character." Python's str.splitlines() knows more line breaks than SSE does, so split by hand.
_LINE = re.compile(r"([^\r\n]*)(\r\n|\r|\n)")
_DIGITS = re.compile(r"[0-9]+")
_KNOWN_FIELDS = frozenset({"event", "data", "id", "retry"})
_REPLACEMENT = "\ufffd"
EOLS = ("\n", "\r\n", "\r")
# Bytes that are not UTF-8 decode to this lone surrogate, which no valid UTF-8 can produce; it is
# swapped for U+FFFD (and reported) line by line, so the report does not depend on chunking.
_INVALID = "\udcff"
_ERRORS = "streamctl-sse-invalid"


def _mark_invalid(exc: UnicodeError) -> tuple[str, int]:
    # The decoder calls this once per maximal ill-formed subsequence, exactly where the WHATWG
    # "UTF-8 decode" puts one U+FFFD (Python's own "replace" does the same).
    assert isinstance(exc, UnicodeDecodeError)
    return _INVALID, exc.end


codecs.register_error(_ERRORS, _mark_invalid)


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event, as ``EventSource`` would deliver it.

    ``type``, ``data``, ``id`` (the lastEventId) and ``retry`` are the WHATWG-visible parts;
    ``fields``, ``comments`` and ``line`` describe how the event was framed, for checkers.
    """

    data: str
    type: str = "message"
    id: str = ""
    retry: int | None = None
    fields: tuple[str, ...] = ()
    comments: tuple[str, ...] = ()
    line: int = 0

    def as_dict(self) -> dict[str, object]:
        """The four WHATWG-visible attributes, for JSON output."""
        return {"type": self.type, "data": self.data, "id": self.id, "retry": self.retry}


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in the peer's bytes that a lenient client would silently drop or repair."""

    code: str
    message: str
    line: int


@dataclass(slots=True)
class _Block:
    data: list[str] = field(default_factory=list)
    event: str = ""
    retry: int | None = None
    fields: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    first_line: int = 0


class SSEDecoder:
    """Incremental event-stream parser: ``feed()`` bytes, get :class:`SSEEvent` objects.

    Call :meth:`close` at end of stream: a trailing block without a blank line is discarded,
    as the spec requires, and recorded as a problem.
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(_ERRORS)
        self._buffer = ""
        self._started = False
        self._skip_lf = False
        self._block = _Block()
        self._line = 0
        self._id_buffer = ""
        #: The event source's "last event ID string": set from the id buffer at each blank line.
        self.last_event_id = ""
        self.reconnection_time: int | None = None
        self.problems: list[Problem] = []
        self.eol_counts: dict[str, int] = dict.fromkeys(EOLS, 0)
        self.comment_count = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode one chunk of the stream; return the events it completes."""
        return self._parse(self._decode(chunk, final=False))

    def close(self) -> list[SSEEvent]:
        """Signal end of stream; return nothing new but record what was discarded."""
        events = self._parse(self._decode(b"", final=True))
        if _INVALID in self._buffer:
            self._invalid(self._buffer, self._line + 1)
        if self._buffer or self._block.fields:
            line = self._block.first_line or self._line + 1
            self.problems.append(
                Problem(
                    "incomplete-event",
                    "stream ended inside an event (no blank line after it): it was discarded",
                    line,
                )
            )
        self._buffer = ""
        self._block = _Block()
        return events

    def _decode(self, chunk: bytes, *, final: bool) -> str:
        text = self._utf8.decode(chunk, final)
        if not self._started and text:
            self._started = True
            # "The stream must then be parsed by ... UTF-8 decode", which strips one leading BOM.
            if text[0] == "\ufeff":
                text = text[1:]
        return text

    def _invalid(self, text: str, line: int) -> str:
        count = text.count(_INVALID)
        self.problems.append(
            Problem(
                "invalid-utf8",
                f"{count} ill-formed UTF-8 sequence(s) were replaced with U+FFFD",
                line,
            )
        )
        return text.replace(_INVALID, _REPLACEMENT)

    def _parse(self, text: str) -> list[SSEEvent]:
        if not text:
            return []
        if self._skip_lf and text[0] == "\n":
            # The LF of a CRLF split across chunks: the CR already ended the line.
            text = text[1:]
            self.eol_counts["\r"] -= 1
            self.eol_counts["\r\n"] += 1
        buffer = self._buffer + text
        events: list[SSEEvent] = []
        end = 0
        for match in _LINE.finditer(buffer):
            end = match.end()
            self._line += 1
            self.eol_counts[match.group(2)] += 1
            line = match.group(1)
            if _INVALID in line:
                line = self._invalid(line, self._line)
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        self._buffer = buffer[end:]
        # A CR that ends the text may be the first half of a CRLF split across chunks. (A CR
        # followed by anything else already ended its line and the next one has begun.)
        self._skip_lf = buffer.endswith("\r")
        return events

    def _process_line(self, line: str) -> SSEEvent | None:
        block = self._block
        if not line:
            return self._dispatch()
        if not block.first_line:
            block.first_line = self._line
        if line[0] == ":":
            self.comment_count += 1
            block.comments.append(line[1:].removeprefix(" "))
            return None
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        block.fields.append(name)
        self._process_field(name, value)
        return None

    def _process_field(self, name: str, value: str) -> None:
        block = self._block
        if name == "data":
            block.data.append(value)
        elif name == "event":
            block.event = value
        elif name == "id":
            if "\x00" in value:
                self._problem("id-contains-nul", "an id containing U+0000 NULL is ignored")
            else:
                self._id_buffer = value
        elif name == "retry":
            if _DIGITS.fullmatch(value) and value.isascii():
                block.retry = self.reconnection_time = int(value)
            else:
                self._problem("retry-not-digits", f"retry {value!r} is not ASCII digits: ignored")
        else:
            self._problem("unknown-field", f"unknown field {name!r} is ignored")

    def _dispatch(self) -> SSEEvent | None:
        block, self._block = self._block, _Block()
        # "Set the last event ID string of the event source to the value of the last event ID
        # buffer" happens at every blank line, before the check for an empty data buffer.
        self.last_event_id = self._id_buffer
        if not block.data:
            if block.fields:
                self._problem(
                    "event-without-data",
                    f"a block with fields {block.fields} but no data line dispatches nothing",
                    block.first_line,
                )
            else:
                # A comment-only block (a keep-alive ping) belongs to the next event.
                self._block.comments = block.comments
            return None
        return SSEEvent(
            data="\n".join(block.data),
            type=block.event or "message",
            id=self.last_event_id,
            retry=block.retry,
            fields=tuple(block.fields),
            comments=tuple(block.comments),
            line=block.first_line,
        )

    def _problem(self, code: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(code, message, self._line if line is None else line))


def decode(data: bytes) -> tuple[list[SSEEvent], list[Problem]]:
    """Decode a complete stream at once."""
    decoder = SSEDecoder()
    events = decoder.feed(data)
    events += decoder.close()
    return events, decoder.problems


def _check_single_line(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"SSE {name} must not contain CR or LF: {value!r}")


def encode_event(
    data: str,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
    eol: str = "\n",
) -> bytes:
    """Encode one event; multi-line ``data`` becomes several ``data:`` lines."""
    if eol not in EOLS:
        raise ValueError(f"eol must be one of {EOLS!r}")
    lines: list[str] = []
    if event is not None:
        _check_single_line("event", event)
        lines.append(f"event: {event}")
    if id is not None:
        _check_single_line("id", id)
        if "\x00" in id:
            raise ValueError("SSE id must not contain NULL")
        lines.append(f"id: {id}")
    if retry is not None:
        if retry < 0:
            raise ValueError("SSE retry must be a non-negative integer")
        lines.append(f"retry: {retry}")
    lines.extend(f"data: {part}" for part in re.split(r"\r\n|\r|\n", data))
    return (eol.join(lines) + eol + eol).encode()


def encode_comment(text: str = "", *, eol: str = "\n") -> bytes:
    """Encode a comment line (used for keep-alive pings), followed by a blank line."""
    if eol not in EOLS:
        raise ValueError(f"eol must be one of {EOLS!r}")
    _check_single_line("comment", text)
    return f": {text}{eol}{eol}".encode() if text else f":{eol}{eol}".encode()
