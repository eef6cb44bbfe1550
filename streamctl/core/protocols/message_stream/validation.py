"""Request validation answered the way FastAPI (pydantic v2) answers it.

Every refusal is a ``422 {"detail": [error, ...]}`` whose errors carry pydantic's ``type``,
``loc``, ``msg`` and ``input``; FastAPI collects the errors of all parameters into one answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import msgspec

from streamctl.core.jsontext import is_unicode, nesting_past, utf8_error
from streamctl.core.protocols.exchange import HttpRequest, HttpResponse

__all__ = ["int_params", "message_body", "unprocessable"]

Error = dict[str, Any]

# pydantic v2 in lax mode reads an int from a string with surrounding whitespace, a sign,
# underscores between digits (as Python does) and a zero fraction ("3.00").
_INT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0*)?")


def parse_int(text: str) -> int | None:
    """``text`` as pydantic's lax ``int`` reads it, or ``None``."""
    stripped = text.strip()
    if not _INT.fullmatch(stripped):
        return None
    return int(stripped.split(".")[0])


def unprocessable(errors: Sequence[Error]) -> HttpResponse:
    """FastAPI's answer to a request that fails validation."""
    return HttpResponse.json(422, {"detail": list(errors)})


def _path_values(request: HttpRequest, template: str) -> dict[str, str]:
    # The adapter fills path_params from the endpoint's {name} placeholders; reading them from
    # the path as well keeps a request built by hand (tests, replays) working.
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    match = re.fullmatch(pattern, request.path)
    return {**(match.groupdict() if match else {}), **request.path_params}


def int_params(
    request: HttpRequest, template: str, names: Sequence[str]
) -> tuple[dict[str, int], list[Error]]:
    """The integer path parameters ``names``, and an ``int_parsing`` error for each bad one."""
    values = _path_values(request, template)
    found: dict[str, int] = {}
    errors: list[Error] = []
    for name in names:
        raw = values.get(name, "")
        number = parse_int(raw)
        if number is None:
            errors.append(
                {
                    "type": "int_parsing",
                    "loc": ["path", name],
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "input": raw,
                }
            )
        else:
            found[name] = number
    return found, errors


def message_body(body: bytes) -> tuple[str, list[Error]] | HttpResponse:
    """``{"content": <non-empty string>}`` (pydantic ``MessageCreate``): the content and the
    errors; or, for a body that is not JSON at all, FastAPI's immediate answer.

    A valid body is checked in C without being built (msgspec) and only its ``content`` is
    decoded, so a body of small values costs its bytes, not Python objects 25 times its size.
    What msgspec refuses is read as FastAPI reads it, with Python's json."""
    if not body:
        return "", [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
    if utf8_error(body) is not None:
        return HttpResponse.json(400, {"detail": "There was an error parsing the body"})
    deep = nesting_past(body, DEPTH_LIMIT)
    if deep is not None:
        # Past what Python's json reads (FastAPI fails with a 500 there): a JSON error.
        error = {"type": "json_invalid", "loc": ["body", deep - 1], "msg": "JSON decode error"}
        words = "Maximum nesting depth exceeded"
        return unprocessable([{**error, "input": {}, "ctx": {"error": words}}])
    try:
        _VALID.decode(body)
    except msgspec.DecodeError:
        return _leniently(body)
    try:
        fields = _FIELDS.decode(body)
    except msgspec.ValidationError:  # valid JSON, but not an object
        return "", [_error("model_attributes_type", ["body"], _NOT_OBJECT, _echo(body))]
    if fields.content is msgspec.UNSET:
        return "", [_error("missing", ["body", "content"], "Field required", _echo(body))]
    return _content(_ANY.decode(fields.content))


_NOT_OBJECT = "Input should be a valid dictionary or object to extract fields from"
#: Deeper than this is refused: Python's json (and so FastAPI) cannot read much deeper, and an
#: echoed input must be written back.
DEPTH_LIMIT = 500
#: A refusal echoes the input (pydantic's ``input``) up to this size; a larger one is not
#: decoded just to be echoed (``null``): the answer would cost 25 times the body.
ECHO_LIMIT = 64 * 1024
_ANY = msgspec.json.Decoder()
_VALID = msgspec.json.Decoder(msgspec.Raw)


class _MessageCreate(msgspec.Struct):
    """The body's one field, cut out in C; any other member is skipped without decoding."""

    content: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_FIELDS = msgspec.json.Decoder(_MessageCreate)


def _echo(body: bytes) -> Any:
    return _ANY.decode(body) if len(body) <= ECHO_LIMIT else None


def _content_only(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {key: value for key, value in pairs if key == "content"}


_LENIENT = json.JSONDecoder(object_pairs_hook=_content_only)


def _leniently(body: bytes) -> tuple[str, list[Error]] | HttpResponse:
    """Starlette's ``json.loads``: NaN and lone surrogate escapes are JSON to it. Objects keep
    only their ``content`` as they are read (nothing else is looked at)."""
    try:
        obj = _LENIENT.decode(body.decode())
    except json.JSONDecodeError as exc:
        # FastAPI reports a JSON syntax error before validating anything else.
        error = {"type": "json_invalid", "loc": ["body", exc.pos], "msg": "JSON decode error"}
        return unprocessable([{**error, "input": {}, "ctx": {"error": exc.msg}}])
    if not isinstance(obj, dict):
        return "", [_error("model_attributes_type", ["body"], _NOT_OBJECT, obj)]
    if "content" not in obj:
        return "", [_error("missing", ["body", "content"], "Field required", obj)]
    return _content(obj["content"])


def _content(content: Any) -> tuple[str, list[Error]]:
    loc = ["body", "content"]
    if not isinstance(content, str):
        return "", [_error("string_type", loc, "Input should be a valid string", content)]
    if not content:
        error = _error("string_too_short", loc, "String should have at least 1 character", "")
        return "", [{**error, "ctx": {"min_length": 1}}]
    if not is_unicode(content):
        # A lone surrogate ("\\ud800" in the JSON) is not Unicode text: it cannot be stored,
        # streamed back or served as UTF-8 (the FastAPI service fails with a 500 on it).
        return "", [_error("string_unicode", loc, _NOT_UNICODE, content)]
    return content, []


_NOT_UNICODE = "Input should be a valid string, unable to parse raw data as a unicode string"


def _error(kind: str, loc: list[str], msg: str, value: Any) -> Error:
    return {"type": kind, "loc": loc, "msg": msg, "input": value}
