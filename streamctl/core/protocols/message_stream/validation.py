"""Request validation answered the way FastAPI (pydantic v2) answers it.

Every refusal is a ``422 {"detail": [error, ...]}`` whose errors carry pydantic's ``type``,
``loc``, ``msg`` and ``input``; FastAPI collects the errors of all parameters into one answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from streamctl.core.protocols.base import HttpRequest, HttpResponse

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
    errors; or, for a body that is not JSON at all, FastAPI's immediate answer."""
    if not body:
        return "", [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as exc:
        # FastAPI reports a JSON syntax error before validating anything else.
        error = {"type": "json_invalid", "loc": ["body", exc.pos], "msg": "JSON decode error"}
        return unprocessable([{**error, "input": {}, "ctx": {"error": exc.msg}}])
    except UnicodeDecodeError:
        return HttpResponse.json(400, {"detail": "There was an error parsing the body"})
    if not isinstance(obj, dict):
        return "", [_error("model_attributes_type", ["body"], _NOT_OBJECT, obj)]
    return _content(obj)


_NOT_OBJECT = "Input should be a valid dictionary or object to extract fields from"


def _content(obj: Mapping[str, Any]) -> tuple[str, list[Error]]:
    loc = ["body", "content"]
    if "content" not in obj:
        return "", [_error("missing", loc, "Field required", dict(obj))]
    content = obj["content"]
    if not isinstance(content, str):
        return "", [_error("string_type", loc, "Input should be a valid string", content)]
    if not content:
        error = _error("string_too_short", loc, "String should have at least 1 character", "")
        return "", [{**error, "ctx": {"min_length": 1}}]
    return content, []


def _error(kind: str, loc: list[str], msg: str, value: Any) -> Error:
    return {"type": kind, "loc": loc, "msg": msg, "input": value}
