"""Where a protocol's request goes: the user's base URL joined with the protocol's target.

The user gives the server's base URL (``http://127.0.0.1:8000``); a path prefix is kept, a full
endpoint URL works too (its path is not repeated), and the base URL's query string is added to
the request (so ``?scenario=…`` reaches the server, WebSocket upgrades included).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from streamctl.errors import UsageError

__all__ = ["join", "validate"]

_HTTP = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_WS = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


def validate(base: str) -> str:
    """``base`` if it is an absolute http(s) or ws(s) URL; a :class:`UsageError` otherwise."""
    parts = urlsplit(base)
    if parts.scheme.lower() not in _HTTP or not parts.netloc:
        raise UsageError(f"not an http(s):// or ws(s):// URL: {base!r}")
    return base


def join(base: str, target: str, *, websocket: bool = False) -> str:
    """The absolute URL for request ``target`` (path and query) on server ``base``."""
    parts = urlsplit(validate(base))
    schemes = _WS if websocket else _HTTP
    path, _, query = target.partition("?")
    prefix = parts.path.rstrip("/")
    if prefix and not path.startswith(prefix):
        path = prefix + path
    query = "&".join(q for q in (query, parts.query) if q)
    return urlunsplit((schemes[parts.scheme.lower()], parts.netloc, path, query, ""))
