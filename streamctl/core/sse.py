"""A strict, incremental Server-Sent Events codec (sans-I/O).

Follows WHATWG HTML, §9.2.6 "Interpreting an event stream". The decoder takes byte chunks split
anywhere (inside CRLF, inside a multi-byte UTF-8 character) and yields the events a conforming
``EventSource`` would dispatch. It never raises on the peer's bytes: whatever a lenient client
would silently drop is recorded in :attr:`SSEDecoder.problems` so a checker can report it.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["Problem", "SSEDecoder", "SSEEvent", "decode", "encode_comment", "encode_event"]

# "Lines must be separated by either a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character
# pair, a single U+000A LINE FEED (LF) character, or a single U+000D CARRIAGE RETURN (CR)
# character." Python's str.splitlines() knows more line breaks than SSE does, so split by hand.
_EOL = re.compile(r"\r\n|\r|\n")
_DIGITS = re.compile(r"[0-9]+")
# A block of only these fields dispatches nothing but still has an effect (it sets the last event
# ID or the reconnection time), so it is legitimate: servers send `retry: 3000` on its own.
_EFFECTIVE_WITHOUT_DATA = frozenset({"id", "retry"})
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


class SSEEvent(NamedTuple):
    """One dispatched event, as ``EventSource`` would deliver it.

    ``type``, ``data``, ``id`` (the lastEventId) and ``retry`` are the WHATWG-visible parts;
    ``fields``, ``comments`` and ``line`` describe how the event was framed, for checkers.
    (A named tuple rather than a frozen dataclass: one is made per event, and building a frozen
    dataclass costs a third of the decoder's time per event.)
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


class _Block:
    """The buffers of the event being parsed (a plain class: one is made per event)."""

    __slots__ = ("comments", "data", "event", "fields", "first_line", "retry")

    def __init__(self) -> None:
        self.data: list[str] = []
        self.event = ""
        self.retry: int | None = None
        self.fields: list[str] = []
        self.comments: list[str] = []
        self.first_line = 0


class SSEDecoder:
    """Incremental event-stream parser: ``feed()`` bytes, get :class:`SSEEvent` objects.

    Call :meth:`close` at end of stream: a trailing block without a blank line is discarded,
    as the spec requires, and recorded as a problem.
    """

    def __init__(self) -> None:
        self._pending = b""  # the start of a UTF-8 character split across chunks
        # The line being read, in the pieces it came in: joined once its end arrives, so a
        # line sent in many chunks costs its length, not its length times the chunks.
        self._rest: list[str] = []
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
        text = self._decode(chunk, final=False)
        if not self._rest and not self._block.first_line:
            event = self._whole_event(text)
            if event is not None:
                return [event]
        return self._parse(text)

    def _whole_event(self, text: str) -> SSEEvent | None:
        """The event, when ``text`` is exactly one plain event after the previous one ended.

        Nearly every write of a real server is one: an optional ``event:`` line and one
        ``data:`` line, with LF or CRLF endings. This gives what the line loop would give, in a
        fraction of its time; anything else (``None``) goes through the line loop.
        """
        plain = _plain_event(text)
        if plain is None:
            return None
        eol, name, data, count = plain
        self._skip_lf = False
        self._line += count
        self.eol_counts[eol] += count
        self.last_event_id = self._id_buffer
        comments: tuple[str, ...] = ()
        if self._block.comments:  # the comments of a keep-alive block before this event
            comments = tuple(self._block.comments)
            self._block = _Block()
        return SSEEvent(
            data,
            name or "message",
            self.last_event_id,
            None,
            ("event", "data") if count == 3 else ("data",),
            comments,
            self._line - count + 1,
        )

    def close(self) -> list[SSEEvent]:
        """Signal end of stream; return nothing new but record what was discarded."""
        events = self._parse(self._decode(b"", final=True))
        rest = "".join(self._rest)
        if _INVALID in rest:
            self._invalid(rest, self._line + 1)
        if rest or self._block.fields:
            line = self._block.first_line or self._line + 1
            self.problems.append(
                Problem(
                    "incomplete-event",
                    "stream ended inside an event (no blank line after it): it was discarded",
                    line,
                )
            )
        self._rest = []
        self._block = _Block()
        return events

    def _decode(self, chunk: bytes, *, final: bool) -> str:
        # codecs.utf_8_decode is what an incremental UTF-8 decoder runs, minus its Python layer.
        data = self._pending + chunk if self._pending else chunk
        text, used = codecs.utf_8_decode(data, _ERRORS, final)
        self._pending = data[used:]
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
        if "\n" not in text and "\r" not in text:  # the line goes on
            self._skip_lf = False
            if text:
                self._rest.append(text)
            return []
        buffer = "".join((*self._rest, text)) if self._rest else text
        cut = max(buffer.rfind("\n"), buffer.rfind("\r")) + 1
        complete, rest = buffer[:cut], buffer[cut:]
        self._rest = [rest] if rest else []
        if "\r" in complete:
            crlf = complete.count("\r\n")
            self.eol_counts["\r\n"] += crlf
            self.eol_counts["\r"] += complete.count("\r") - crlf
            self.eol_counts["\n"] += complete.count("\n") - crlf
            # CRLF only (sse-starlette, many proxies) splits as fast as LF; a lone CR needs
            # the regex.
            unified = complete.replace("\r\n", "\n")
            lines = _EOL.split(complete) if "\r" in unified else unified.split("\n")
        else:  # the common case, LF only: str.split is faster than a regex
            self.eol_counts["\n"] += complete.count("\n")
            lines = complete.split("\n")
        lines.pop()  # what follows the last line ending: nothing, the rest is in the buffer
        # A CR that ends the text may be the first half of a CRLF split across chunks. (A CR
        # followed by anything else already ended its line and the next one has begun.)
        self._skip_lf = buffer.endswith("\r")
        return self._lines(lines, _INVALID in buffer)

    def _lines(self, lines: list[str], invalid: bool) -> list[SSEEvent]:
        # The hot loop of every checker and client: locals instead of attributes, and `data:`
        # lines (most of a stream) handled without a call.
        events: list[SSEEvent] = []
        block = self._block
        for line in lines:
            self._line += 1
            if not line:
                event = self._dispatch()
                block = self._block
                if event is not None:
                    events.append(event)
                continue
            if invalid and _INVALID in line:
                line = self._invalid(line, self._line)  # noqa: PLW2901 (the repaired line)
            if not block.first_line:
                block.first_line = self._line
            if line[:5] == "data:":
                block.fields.append("data")
                block.data.append(line[6:] if line[5:6] == " " else line[5:])
            elif line[0] == ":":
                self.comment_count += 1
                block.comments.append(line[1:].removeprefix(" "))
            else:
                name, colon, value = line.partition(":")
                block.fields.append(name)
                self._process_field(name, value[1:] if colon and value[:1] == " " else value)
        return events

    def _process_field(self, name: str, value: str) -> None:
        block = self._block
        if name == "data":  # `data` with no colon: the fast path only sees `data:`
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
            if set(block.fields) - _EFFECTIVE_WITHOUT_DATA:
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
            "\n".join(block.data),
            block.event or "message",
            self.last_event_id,
            block.retry,
            tuple(block.fields),
            tuple(block.comments),
            block.first_line,
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
    lines.extend(f"data: {part}" for part in _EOL.split(data))
    return (eol.join(lines) + eol + eol).encode()


def encode_comment(text: str = "", *, eol: str = "\n") -> bytes:
    """Encode a comment line (used for keep-alive pings), followed by a blank line."""
    if eol not in EOLS:
        raise ValueError(f"eol must be one of {EOLS!r}")
    _check_single_line("comment", text)
    return f": {text}{eol}{eol}".encode() if text else f":{eol}{eol}".encode()


def _plain_event(text: str) -> tuple[str, str, str, int] | None:
    """(line ending, event name, data, line count) of ``text`` when it is exactly one plain
    event: an optional ``event:`` line and one ``data:`` line, all ended alike; else None."""
    if text[-2:] == "\n\n" and "\r" not in text:
        eol = "\n"
    elif text[-4:] == "\r\n\r\n":
        eol = "\r\n"
    else:
        return None
    lines = text[: -2 * len(eol)].split(eol)
    count = len(lines) + 1  # the lines and the blank line
    if count == 2:
        name, data = "", lines[0]
    elif count == 3 and lines[0][:6] == "event:":
        name = lines[0][7:] if lines[0][6:7] == " " else lines[0][6:]
        data = lines[1]
    else:
        return None
    if (
        data[:5] != "data:"
        # With CRLF, no lone CR or LF inside a line: each line ending is one CR and one LF.
        or (eol == "\r\n" and not text.count("\r") == text.count("\n") == count)
        or _INVALID in text
    ):
        return None
    return eol, name, data[6:] if data[5:6] == " " else data[5:], count
