"""Keep secrets out of transcripts: headers, query parameters, JSON fields and JWTs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_plus

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
        "x-auth-token",
        "x-access-token",
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
        "client_secret",
    }
)
# Names are compared without case, '-' or '_', so accessToken, access-token and ACCESS_TOKEN
# are all access_token.
_SECRET_KEYS = frozenset(name.replace("_", "") for name in SECRET_NAMES)
# A JSON Web Token in compact serialisation: base64url header (always starting '{"' -> 'eyJ'),
# payload and signature; not the tail of a longer base64url word.
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def _is_secret(name: str) -> bool:
    return name.lower().replace("-", "").replace("_", "") in _SECRET_KEYS


def redact_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Headers with every credential's value replaced."""
    return tuple(
        (
            name,
            REDACTED if name.lower() in SECRET_HEADERS or _is_secret(name) else redact_text(value),
        )
        for name, value in headers
    )


def _redact_param(param: str) -> str:
    name, equals, value = param.partition("=")
    if equals and value and _is_secret(unquote_plus(name)):
        return f"{name}={REDACTED}"
    return _JWT.sub(REDACTED, param)


def redact_target(target: str) -> str:
    """A request target (path and query) with secret query parameters replaced.

    Everything else keeps its bytes: the other parameters are not decoded and re-encoded.
    """
    rest, hash_, fragment = target.partition("#")
    path, mark, query = rest.partition("?")
    if not query:
        return target
    query = "&".join(_redact_param(param) for param in query.split("&"))
    return f"{path}{mark}{query}{hash_}{fragment}"


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if v and _is_secret(k) else _redact_json(v) for k, v in value.items()}
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
