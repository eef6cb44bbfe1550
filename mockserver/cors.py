"""CORS for browser frontends: which origins may read responses, and preflight answers.

A small, dependency-free take on the usual middleware: by default any page served from the
developer's own machine (``http(s)://localhost``, ``127.0.0.1`` or ``[::1]``, any port) may call
the mock; a configured list replaces that, and ``*`` allows everyone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["ALLOW_HEADERS", "ALLOW_METHODS", "Cors"]

LOCALHOST = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?")
ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
# What the five protocols' browser clients send beyond the CORS-safelisted headers.
ALLOW_HEADERS = (
    "Accept, Authorization, Cache-Control, Content-Type, Last-Event-ID, X-Secret-Key, "
    "X-Streamctl-Scenario"
)
MAX_AGE = "600"

Headers = list[tuple[bytes, bytes]]


class Cors:
    """The CORS policy for a list of origins (empty: any localhost origin)."""

    def __init__(self, origins: Sequence[str] = ()) -> None:
        self.any = "*" in origins
        self.origins = frozenset(o.rstrip("/") for o in origins if o != "*")
        self.localhost = not origins

    def allows(self, origin: str) -> bool:
        if self.any or origin in self.origins:
            return True
        return self.localhost and LOCALHOST.fullmatch(origin) is not None

    def headers(self, origin: str | None) -> Headers:
        """Headers for an ordinary response to a request from ``origin``."""
        if origin is None or not self.allows(origin):
            return []
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
            (b"vary", b"Origin"),
        ]

    def preflight(self, origin: str, requested_headers: str | None) -> tuple[int, Headers]:
        """Status and headers answering an ``OPTIONS`` preflight from ``origin``."""
        if not self.allows(origin):
            return 400, [(b"content-type", b"text/plain; charset=utf-8"), (b"vary", b"Origin")]
        allow = ALLOW_HEADERS
        if requested_headers:
            # Echo what the page asks for too: a mock should not be stricter than the backend.
            allow = f"{ALLOW_HEADERS}, {requested_headers}"
        return 204, [
            *self.headers(origin),
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (b"access-control-allow-headers", allow.encode("latin-1")),
            (b"access-control-max-age", MAX_AGE.encode()),
        ]
