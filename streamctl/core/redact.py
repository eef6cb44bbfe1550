"""Keep secrets out of transcripts and the journal: by name, by shape, at any depth.

By name: a header, JSON field (nested at any depth, in every line of NDJSON, in JSON cut short),
query parameter or form field whose name contains ``token``, ``key``, ``secret``, ``pass``,
``auth``, ``session``, ``signature``, ``credential`` or ``cookie`` (case, ``-`` and ``_`` do not
matter), or is ``sig``, ``jwt`` or ``pwd``. By shape, anywhere in any text: a JSON Web Token
(three base64url parts, the first starting ``eyJ``) and the credential after ``Bearer``; a
URL's ``user:password@``.

Not secrets, although their names match: counts (a name ending in ``tokens``: ``max_tokens``,
``inputTokens``; ``token_state``), goose's ``session_id`` and ``session_working_dir`` (a
free-form session name and a directory that tests assert on, not credentials), the
``:authority`` pseudo-header and ``access-control-*`` response headers. Names are only looked
at in what clients send (requests, their WebSocket messages) and in response headers: a
server's frames keep their fields (``assistant_message_token`` carries the reply's text) and
lose only what has a secret's shape.

Everything here is linear and iterative: no recursion however deep the JSON nests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_plus

from streamctl.core.jsontext import dumps_exact

__all__ = [
    "REDACTED",
    "is_secret_name",
    "redact_body",
    "redact_headers",
    "redact_shapes",
    "redact_target",
    "redact_text",
    "redact_url",
]

REDACTED = "<redacted>"

_SECRET_PARTS = re.compile(r"token|key|secret|pass|auth|session|signature|credential|cookie")
_SECRET_WORDS = frozenset({"sig", "jwt", "pwd"})
# Names that match and are not secrets (compared without case, '-' or '_').
_NOT_SECRET = frozenset({"tokenstate", "sessionid", "sessionworkingdir", "author"})
_NOT_SECRET_HEADERS = frozenset({":authority"})
# A JSON Web Token in compact serialisation: base64url header (always starting '{"' -> 'eyJ'),
# payload and signature; not the tail of a longer base64url word.
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer\s+)(?!<redacted>)[A-Za-z0-9._~+/=-]+")
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#@]*@")
# A JSON member whose value is a scalar, in text that is not one JSON document (cut short, or
# several): the name, the separator, the value.
_MEMBER = re.compile(
    r'("(?:[^"\\]*+(?:\\.[^"\\]*+)*+)")(\s*:\s*)'
    r'("[^"\\]*+(?:\\.[^"\\]*+)*+"?|-?[0-9][0-9.eE+-]*|true|false)'
)
_FORM = re.compile(r"[^\s=&{}\[\]\"]+=[^\s&]*(?:&[^\s=&]+(?:=[^\s&]*)?)*")


def is_secret_name(name: str) -> bool:
    """Whether a field, parameter or header called ``name`` holds a secret."""
    flat = name.lower().replace("-", "").replace("_", "")
    if flat in _NOT_SECRET or flat.endswith("tokens"):
        return False
    return flat in _SECRET_WORDS or _SECRET_PARTS.search(flat) is not None


def redact_shapes(text: str) -> str:
    """``text`` with every JWT and ``Bearer`` credential replaced, whatever surrounds them."""
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(lambda match: match.group(1) + REDACTED, text)
    return text


def _secret_header(name: str) -> bool:
    lower = name.lower()
    if lower in _NOT_SECRET_HEADERS or lower.startswith("access-control-"):
        return False
    return is_secret_name(lower)


def redact_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Headers with every credential's value replaced (request and response headers alike)."""
    return tuple(
        (name, REDACTED if _secret_header(name) else redact_shapes(value))
        for name, value in headers
    )


def _redact_param(param: str) -> str:
    name, equals, value = param.partition("=")
    if equals and value and is_secret_name(unquote_plus(name)):
        return f"{name}={REDACTED}"
    return redact_shapes(param)


def _redact_query(query: str) -> str:
    return "&".join(_redact_param(param) for param in query.split("&"))


def redact_target(target: str) -> str:
    """A request target or URL with secret query parameters (and a URL's ``user:password@``)
    replaced. Everything else keeps its bytes: other parameters are not re-encoded."""
    target = _USERINFO.sub(lambda match: f"{match.group(1)}{REDACTED}@", target)
    rest, hash_, fragment = target.partition("#")
    path, mark, query = rest.partition("?")
    if not query:
        return redact_shapes(target)
    return redact_shapes(f"{path}{mark}{_redact_query(query)}{hash_}{fragment}")


redact_url = redact_target


def _redact_json(value: Any) -> Any:
    """A copy of ``value`` with secret-named members replaced, walked with a stack (no
    recursion: 500 nested arrays are nothing special)."""
    root: list[Any] = [value]
    stack: list[tuple[Any, Any, Any]] = [(root, 0, value)]  # (container, slot, value)
    while stack:
        container, slot, item = stack.pop()
        if isinstance(item, dict):
            copy: dict[Any, Any] = {}
            container[slot] = copy
            for key, member in item.items():
                if member and is_secret_name(str(key)):
                    copy[key] = REDACTED
                else:
                    copy[key] = member
                    stack.append((copy, key, member))
        elif isinstance(item, list):
            items = list(item)
            container[slot] = items
            stack.extend((items, index, member) for index, member in enumerate(items))
        elif isinstance(item, str):
            container[slot] = redact_shapes(item)
    return root[0]


def _redact_document(text: str) -> str | None:
    """One JSON document redacted (re-serialised compactly when it changed), or ``None`` when
    ``text`` is not one."""
    try:
        obj = json.loads(text)
        redacted = _redact_json(obj)
        if redacted == obj:
            return text
        return dumps_exact(redacted)
    except (ValueError, RecursionError):
        return None


def _redact_member(match: re.Match[str]) -> str:
    name, colon, value = match.groups()
    try:
        key = json.loads(name)
    except ValueError:
        key = name.strip('"')
    if value not in ('""', "true", "false") and is_secret_name(key):
        return f'{name}{colon}"{REDACTED}"'
    return match.group()


def _redact_lines(text: str) -> str:
    """Text that is not one JSON document: each line that is one (NDJSON) is redacted as
    such, and the rest member by member (JSON cut short keeps no secret either)."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        document = _redact_document(line) if line.strip() else line
        lines[index] = document if document is not None else _MEMBER.sub(_redact_member, line)
    return "\n".join(lines)


def redact_text(text: str) -> str:
    """What a client sent, as text, with its secrets replaced: JSON (one document, NDJSON, or
    cut short) loses the values of secret-named fields, a form body those of secret-named
    keys, and any text its JWTs and bearer credentials. JSON whose secrets are replaced is
    re-serialised compactly; other text keeps its bytes."""
    if "{" in text:
        document = _redact_document(text)
        return redact_shapes(document if document is not None else _redact_lines(text))
    if _FORM.fullmatch(text.strip()):
        return _redact_query(text)
    return redact_shapes(text)


def redact_body(body: bytes) -> bytes:
    """A request body with secrets replaced (left alone when it is not UTF-8)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    redacted = redact_text(text)
    return body if redacted == text else redacted.encode("utf-8")
