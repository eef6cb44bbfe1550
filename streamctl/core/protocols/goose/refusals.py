"""Why and where serde_json refuses a ``/reply`` body, in its words: only for a body that is
refused (a valid one is checked in C, see :mod:`.request`), each in linear time.

Positions count bytes ("at line L column C" after serde has read that much).
"""

from __future__ import annotations

import json
import re

from streamctl.core.jsontext import STRING_PATTERN, nesting_past

__all__ = ["DEPTH_LIMIT", "position", "span", "syntax_error", "too_deep"]


#: serde_json refuses input nested deeper than this.
DEPTH_LIMIT = 128

# Every pattern here is possessive: the regex engine keeps no state per character (the
# backtracking `"(?:[^"\\]|\\.)*"` held 600 MB for a 5 MB string).
_STRING = STRING_PATTERN
_NESTING = re.compile(_STRING + rb"|[\[\]{}]", re.DOTALL)
_WS = re.compile(rb"[ \t\n\r]*+")
_SCALAR = re.compile(_STRING + rb"|[^,\]}\s]++", re.DOTALL)
# What Python's json takes and serde_json refuses: a lone surrogate escape, NaN, Infinity.
_SERDE_ONLY = re.compile(_STRING + rb"|(?P<constant>-?Infinity|NaN)", re.DOTALL)
# Escapes inside a string, in order (so an escaped backslash is not read as the start of one).
_ESCAPES = re.compile(
    rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?|\\.", re.DOTALL
)
# Python's json messages -> serde_json's.
_SERDE_WORDS = {
    "Expecting value": "expected value",
    "Extra data": "trailing characters",
    "Expecting property name enclosed in double quotes": "key must be a string",
    "Expecting ':' delimiter": "expected `:`",
    "Expecting ',' delimiter": "expected `,` or `}`",
    "Invalid control character at": "control character (\\u0000-\\u001F) found while parsing a "
    "string",
}


def position(data: bytes, at: int) -> str:
    """serde_json's "at line L column C" after it has read ``data[:at]`` (C counts bytes)."""
    line = data.count(b"\n", 0, at) + 1
    column = at - (data.rfind(b"\n", 0, at) + 1)
    return f"at line {line} column {column}"


def syntax_error(data: bytes, fallback: str) -> str:
    """serde_json's words for a body that is not JSON: its first problem, and where.

    Python's json names the problem (nothing of the document is kept: objects and numbers
    become None as they are read); what it takes and serde_json does not is looked for next;
    ``fallback`` is for anything else a stricter parser refused."""
    text = data.decode()
    try:
        _LENIENT.decode(text)
    except json.JSONDecodeError as exc:
        return _python_words(text, exc)
    return _serde_only(data) or fallback


def _none(_: object) -> None:
    return None


_LENIENT = json.JSONDecoder(
    object_pairs_hook=_none, parse_float=_none, parse_int=_none, parse_constant=_none
)


def _python_words(text: str, exc: json.JSONDecodeError) -> str:
    data = text.encode()
    if exc.pos >= len(text) or exc.msg.startswith("Unterminated string"):
        return f"EOF while parsing a value {position(data, len(data))}"
    if text[exc.pos] in "]}" and text[: exc.pos].rstrip().endswith(","):
        words = "trailing comma"
    else:
        words = _SERDE_WORDS.get(exc.msg, exc.msg)
    return f"{words} {position(data, len(text[: exc.pos].encode()) + 1)}"


def _serde_only(data: bytes) -> str | None:
    """What Python's json took but serde_json does not: NaN or Infinity where a value should
    be, or a surrogate escape that is not half of a pair."""
    for token in _SERDE_ONLY.finditer(data):
        if token.group("constant") is not None:
            return f"expected value {position(data, token.start() + 1)}"
        for escape in _ESCAPES.finditer(data, token.start(), token.end()):
            words = _lone_surrogate(data, escape)
            if words is not None:
                return words
    return None  # pragma: no cover (nothing else is known that msgspec refuses and json takes)


def _lone_surrogate(data: bytes, escape: re.Match[bytes]) -> str | None:
    """serde_json on a surrogate escape: a low one (``\\uDC00``…) alone is refused where it
    ends; a high one must be followed by ``\\u`` and a low one."""
    text, start, end = escape.group(), escape.start(), escape.end()
    if len(text) == 2 or len(text) == 12:
        return None  # another escape, or a valid pair
    if text[3:4] in b"cCdDeEfF":
        return f"lone leading surrogate in hex escape {position(data, start + 6)}"
    if data[end : end + 2] != b"\\u":
        stop = end + 1 if data[end : end + 1] != b"\\" else end + 2
        return f"unexpected end of hex escape {position(data, stop)}"
    return f"lone leading surrogate in hex escape {position(data, end + 6)}"


def too_deep(data: bytes) -> int | None:
    """Where the nesting first goes past serde_json's limit (after the bracket), if it does."""
    return nesting_past(data, DEPTH_LIMIT)


# --- where a value is, for the 422's position (found only when there is a problem) ---------


def _skip(data: bytes, at: int) -> int:
    match = _WS.match(data, at)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _value_end(data: bytes, at: int) -> int:
    """The end of the (valid) JSON value that starts at ``at``."""
    if data[at] not in b"[{":
        match = _SCALAR.match(data, at)
        assert match is not None  # a valid document has a scalar here
        return match.end()
    depth = 0
    for match in _NESTING.finditer(data, at):
        token = match.group()
        depth += (token in b"[{") - (token in b"]}")
        if depth == 0:
            return match.end()
    raise AssertionError("unreachable: a valid document closes what it opens")  # pragma: no cover


def span(data: bytes, steps: tuple[str | int, ...]) -> tuple[int, int]:
    """Where the value reached from the root by ``steps`` (keys, indexes) starts and ends."""
    at = _skip(data, 0)
    for step in steps:
        at = _skip(data, at + 1)  # past the '[' or '{'
        index = 0
        while True:
            if isinstance(step, str):
                key_end = _value_end(data, at)
                found = json.loads(data[at:key_end]) == step
                at = _skip(data, _skip(data, key_end) + 1)  # past the ':'
            else:
                found = index == step
            if found:
                break
            at = _skip(data, _value_end(data, at))
            at = _skip(data, at + 1)  # past the ','
            index += 1
    return at, _value_end(data, at)
