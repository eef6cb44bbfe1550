"""Keep secrets out of transcripts: headers, query parameters, JSON fields and JWTs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["REDACTED", "redact_body", "redact_headers", "redact_target", "redact_text"]

REDACTED = "<redacted>"

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-secret-key",
        "x-api-key",
        "api-key",
        "sec-websocket-key",
    }
)
SECRET_NAMES = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "jwt",
        "secret",
        "secret_key",
        "password",
        "api_key",
        "apikey",
        "key",
        "authorization",
    }
)
# A JSON Web Token in compact serialisation: base64url header (always starting '{"' -> 'eyJ'),
# payload and signature.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def redact_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Headers with every credential's value replaced."""
    return tuple(
        (name, REDACTED if name.lower() in SECRET_HEADERS else redact_text(value))
        for name, value in headers
    )


def redact_target(target: str) -> str:
    """A request target (path and query) with secret query parameters replaced."""
    parts = urlsplit(target)
    if not parts.query:
        return target
    query = [
        (k, REDACTED if k.lower() in SECRET_NAMES else redact_text(v))
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="<>")))


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: REDACTED if k.lower() in SECRET_NAMES and value[k] else _redact_json(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(v) for v in value]
    if isinstance(value, str):
        return _JWT.sub(REDACTED, value)
    return value


def redact_text(text: str) -> str:
    """Text with JWTs replaced; JSON text also loses the values of secret-named fields.

    JSON whose secrets are replaced is re-serialised compactly; other text keeps its bytes.
    """
    if "{" in text:
        try:
            obj = json.loads(text)
        except ValueError:
            pass
        else:
            redacted = _redact_json(obj)
            if redacted != obj:
                return json.dumps(redacted, ensure_ascii=False, separators=(",", ":"))
            return text
    return _JWT.sub(REDACTED, text)


def redact_body(body: bytes) -> bytes:
    """A request body with secrets replaced (left alone when it is not UTF-8)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    redacted = redact_text(text)
    return body if redacted == text else redacted.encode("utf-8")
