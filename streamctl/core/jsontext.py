"""JSON parsing where the checker spends its time: orjson's speed, the standard library's answers.

orjson parses the JSON of a stream several times faster than :func:`json.loads`, which matters
when a checker reads 100,000 events. It differs from :mod:`json` at the edges: it rejects
``NaN`` and lone surrogates, and it reads integers beyond 64 bits as floats. The standard
library decides whatever orjson rejects, and any text with a run of 19 or more digits (a number
that may not fit in 64 bits), so every document gets exactly the value, or the error, it always
did.
"""

from __future__ import annotations

import codecs
import json
import re
from itertools import accumulate
from typing import Any

import orjson

__all__ = [
    "STRING_PATTERN",
    "NotAnObjectError",
    "RawJSON",
    "dumps_compact",
    "dumps_exact",
    "encode",
    "is_unicode",
    "json_object",
    "loads",
    "nesting_past",
    "utf8_error",
    "well_formed",
]

# A run of 19 ASCII digits, found by mapping every digit to "0" and searching for 19 zeros: the
# byte-level translate and search run in C about six times faster than the regex `[0-9]{19}`,
# and this test runs once per event a checker reads.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def loads(text: str) -> Any:
    """Parse JSON text; raises :class:`ValueError` (or :class:`RecursionError`) like ``json``."""
    if _NINETEEN_DIGITS not in text.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_ZERO):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


class NotAnObjectError(ValueError):
    """JSON text that parses, to something other than an object."""


def json_object(text: str | bytes) -> dict[str, Any]:
    """``text`` parsed as a JSON object: what every frame, message and request body must be.

    Raises :class:`NotAnObjectError` for JSON of another kind, and :class:`ValueError` for text
    that is not JSON (bytes that are not UTF-8, and nesting too deep to parse, included).
    """
    try:
        obj = loads(text) if isinstance(text, str) else json.loads(text)
    except RecursionError:  # absurdly deep nesting
        raise ValueError("JSON nested too deep to parse") from None
    if not isinstance(obj, dict):
        raise NotAnObjectError(f"JSON {type(obj).__name__}, not an object")
    return obj


class RawJSON:
    """A value kept as its JSON text (``raw_json``, UTF-8): :func:`dumps_compact` writes that
    text as it is, without decoding it (a stored conversation of many messages, say)."""

    __slots__ = ()
    raw_json: bytes


def _fragment(obj: object) -> orjson.Fragment:
    if isinstance(obj, RawJSON):
        return orjson.Fragment(obj.raw_json)
    raise TypeError(type(obj).__name__)


def _decoded(obj: object) -> Any:
    if isinstance(obj, RawJSON):
        return json.loads(obj.raw_json)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_STDLIB_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_decoded)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def well_formed(text: str) -> str:
    """JSON text with every lone surrogate written as a ``\\uXXXX`` escape, as JavaScript's
    ``JSON.stringify`` writes it (ES2019 "well-formed JSON.stringify"): text a client sent as
    ``"\\ud800"`` can be echoed, stored and served as UTF-8 again. Only for JSON text (a
    surrogate can only be inside a string there)."""
    return _SURROGATE.sub(_escape, text)


def is_unicode(text: str) -> bool:
    """Whether ``text`` is Unicode text: no lone surrogate (which ``"\\ud800"`` in JSON, or
    ``surrogateescape`` decoding, leaves in a Python string) that UTF-8 cannot encode."""
    return _SURROGATE.search(text) is None


_SLICE = 1 << 20


def utf8_error(data: bytes) -> int | None:
    """Where ``data`` stops being UTF-8, or ``None``: decoded a slice at a time, so checking
    50 MB costs no decoded copy of it (up to 200 MB as a Python string)."""
    if data.isascii():
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    for start in range(0, len(data), _SLICE):
        piece = data[start : start + _SLICE]
        try:
            decoder.decode(piece, final=start + _SLICE >= len(data))
        except UnicodeDecodeError as exc:
            return start - (len(exc.object) - len(piece)) + exc.start
    return None


#: A JSON string in bytes, quotes included. Possessive: the regex engine keeps no state per
#: character (the backtracking ``"(?:[^"\\]|\\.)*"`` held 600 MB for a 5 MB string).
STRING_PATTERN = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_NESTING = re.compile(STRING_PATTERN + rb"|[\[\]{}]", re.DOTALL)
# Brackets as +1 / -1 (signed bytes), everything else deleted: the nesting depth is a running
# sum that the C code of itertools.accumulate computes.
_DEPTHS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def nesting_past(data: bytes, limit: int) -> int | None:
    """Where JSON ``data`` first nests deeper than ``limit`` (just past that bracket), or
    ``None``: in C over the bytes unless it does, then token by token up to that point."""
    if data.count(b"[") + data.count(b"{") <= limit or _depth(data) <= limit:
        return None
    depth = 0
    for match in _NESTING.finditer(data):
        token = match.group()
        if token in b"[{":
            depth += 1
            if depth > limit:
                return match.end()
        elif token in b"]}":
            depth -= 1
    # Only text that is no JSON gets here (a backslash outside a string, say): the quick count
    # and the tokens disagree, and the syntax check that follows refuses it.
    return None


_ESCAPES = (b"\\\\", b'\\"')  # an escaped backslash, then an escaped quote
_CHUNK = 1 << 20


def _depth(data: bytes) -> int:
    """The deepest nesting of brackets outside strings, with bytes operations a slice at a time.

    Escaped backslashes, then escaped quotes, are taken out (outside a string JSON has none), so
    every quote left opens or closes a string: in each slice split at the quotes, every other
    piece is outside one. Substituting every string away at once (``re.sub``) made a bytes
    object per string: 50 MiB of tiny messages took 1.1 GB for 4 s; here the slices' pieces
    are all that exist at a time.
    """
    if b"\\" in data:
        for escape in _ESCAPES:
            data = data.replace(escape, b"")
    deepest = depth = 0
    inside = False
    for start in range(0, len(data), _CHUNK):
        pieces = data[start : start + _CHUNK].split(b'"')
        outside = b"".join(pieces[1 if inside else 0 :: 2])
        inside ^= len(pieces) % 2 == 0  # an odd number of quotes in the slice
        brackets = outside.translate(_DEPTHS, _NOT_BRACKETS)
        if brackets:
            sums = list(accumulate(memoryview(brackets).cast("b"), initial=depth))
            depth = sums[-1]
            sums.append(deepest)
            deepest = max(sums)
    return deepest


def encode(text: str) -> bytes:
    """JSON text as UTF-8, lone surrogates escaped (see :func:`well_formed`)."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return well_formed(text).encode()


def dumps_compact(obj: Any) -> str:
    """Compact JSON text with non-ASCII kept, as most servers write it (one line: fits an SSE
    ``data:`` line). orjson writes it several times faster than :mod:`json`, which was most of
    the mock server's cost per event; what orjson cannot encode (integers beyond 64 bits,
    non-string keys, lone surrogates) the standard library does, lone surrogates escaped
    (:func:`well_formed`) so the text always encodes as UTF-8. For frames only: orjson
    writes NaN as ``null``, so writers that must keep data as it was (transcripts, redaction)
    use :func:`dumps_exact`."""
    try:
        return orjson.dumps(obj, default=_fragment).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return well_formed(_STDLIB_COMPACT.encode(obj))


def dumps_exact(obj: Any) -> str:
    """Compact JSON text with non-ASCII kept, every value as it was (``NaN`` stays ``NaN``,
    integers beyond 64 bits exact): the standard library's, for data that must come back as
    it went (transcripts, redaction, the CLI's JSON lines). Slower than :func:`dumps_compact`."""
    return _STDLIB_COMPACT.encode(obj)
