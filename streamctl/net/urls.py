"""Where a protocol's request goes: the user's base URL joined with the protocol's target.

The user gives the server's base URL (``http://127.0.0.1:8000``); a path prefix is kept, a full
endpoint URL works too (:func:`endpoint_base` takes the endpoint off, so its path is not
repeated, and hands back what its placeholders said, e.g. the chat id), and the base URL's query
string is added to the request (so ``?scenario=…`` reaches the server, WebSocket upgrades
included). As in httpie and curl, a URL without a scheme is ``http://`` (``127.0.0.1:8000``),
and ``:8000`` is ``http://localhost:8000``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

from streamctl.errors import UsageError

__all__ = ["endpoint_base", "join", "validate"]

_HTTP = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_WS = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def validate(base: str) -> str:
    """``base`` as an absolute http(s) or ws(s) URL (``http://`` added when it has no scheme);
    a :class:`UsageError` when it cannot be one."""
    url = base.strip()
    if url.startswith(":"):
        url = "localhost" + url
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme.lower() not in _HTTP or not parts.hostname:
        raise UsageError(f"not an http(s):// or ws(s):// URL: {base!r}")
    return url


def _pattern(path: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(path.rstrip("/"))
    regex = "".join(
        f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts)
    )
    return re.compile(f"(?P<prefix>.*?){regex}/?")


def endpoint_base(base: str, paths: Iterable[str]) -> tuple[str, dict[str, str]]:
    """``base`` without a trailing endpoint path (one of ``paths``, placeholders like
    ``{chat_id}`` allowed), and the values the URL gave those placeholders.

    ``http://h/api/web/v1/chats/3/messages/stream`` with the endpoint
    ``/api/web/v1/chats/{chat_id}/messages/stream`` -> (``http://h``, ``{"chat_id": "3"}``).
    """
    url = validate(base)
    parts = urlsplit(url)
    for path in sorted(paths, key=len, reverse=True):
        found = _pattern(path).fullmatch(parts.path)
        if found is not None:
            values = {k: unquote(v) for k, v in found.groupdict().items() if k != "prefix"}
            return urlunsplit(parts._replace(path=found["prefix"])), values
    return url, {}


def join(base: str, target: str, *, websocket: bool = False) -> str:
    """The absolute URL for request ``target`` (path and query) on server ``base``."""
    parts = urlsplit(validate(base))
    schemes = _WS if websocket else _HTTP
    path, _, query = target.partition("?")
    prefix = parts.path.rstrip("/")
    if prefix and not path.startswith(prefix + "/") and path != prefix:
        path = prefix + path
    query = "&".join(q for q in (query, parts.query) if q)
    return urlunsplit((schemes[parts.scheme.lower()], parts.netloc, path, query, ""))
