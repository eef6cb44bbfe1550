"""The request journal: what every client sent, secrets redacted, for test assertions."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamctl.core.redact import redact_body, redact_headers, redact_target, redact_text

__all__ = ["Entry", "Journal"]

#: Client WebSocket messages kept per connection (a chatty client cannot fill the memory).
MAX_MESSAGES = 200
#: Request body bytes kept per entry.
MAX_BODY = 64 * 1024


@dataclass
class Entry:
    """One request (or WebSocket connection) and how it went.

    Values are kept as they arrived and redacted when read (:meth:`as_dict`): serving a request
    stays cheap, and nothing secret ever leaves the journal.
    """

    id: int
    time: float
    protocol: str
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes | None = None
    messages: list[str] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    status: int | None = None
    outcome: str = "open"

    def set_body(self, body: bytes) -> None:
        """Record the request body (its first :data:`MAX_BODY` bytes)."""
        self.body = body[:MAX_BODY]

    def message(self, text: str) -> None:
        """Record one client WebSocket message."""
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(text)

    def reply(self, scenario: str, how: str, user_text: str) -> dict[str, Any]:
        """Record a reply being streamed; update the returned dict's ``outcome`` when it ends."""
        record: dict[str, Any] = {
            "scenario": scenario,
            "how": how,
            "user_text": user_text,
            "outcome": "streaming",
            "writes": 0,
        }
        self.replies.append(record)
        return record

    @property
    def scenario(self) -> str | None:
        return self.replies[-1]["scenario"] if self.replies else None

    def as_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data, every secret redacted."""
        target = redact_target(f"{self.path}?{self.query}") if self.query else self.path
        return {
            "id": self.id,
            "time": self.time,
            "protocol": self.protocol,
            "method": self.method,
            "path": self.path,
            "query": target.partition("?")[2],
            "headers": [list(h) for h in redact_headers(self.headers)],
            "body": None if self.body is None else _text(redact_body(self.body)),
            "messages": [redact_text(m) for m in self.messages],
            "scenario": self.scenario,
            "replies": [{**r, "user_text": redact_text(r["user_text"])} for r in self.replies],
            "status": self.status,
            "outcome": self.outcome,
        }


class Journal:
    """The last ``limit`` entries, oldest first."""

    def __init__(self, clock: Callable[[], float], limit: int = 1000) -> None:
        self._clock = clock
        self._entries: deque[Entry] = deque(maxlen=max(1, limit))
        self._ids = itertools.count(1)

    def open(
        self,
        protocol: str,
        method: str,
        path: str,
        *,
        query: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | None = None,
    ) -> Entry:
        """Start an entry for a request; the caller updates it as the request goes on."""
        entry = Entry(
            id=next(self._ids),
            time=self._clock(),
            protocol=protocol,
            method=method,
            path=path,
            query=query,
            headers=list(headers),
            body=None if body is None else body[:MAX_BODY],
        )
        self._entries.append(entry)
        return entry

    def entries(self, filters: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Every entry as JSON-ready data, optionally only those whose fields equal ``filters``."""
        wanted = filters or {}
        return [
            e.as_dict()
            for e in self._entries
            if all(str(getattr(e, k, None)) == v for k, v in wanted.items())
        ]

    def clear(self) -> None:
        self._entries.clear()


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")
