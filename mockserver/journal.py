"""The request journal: what every client sent, secrets redacted, for test assertions."""

from __future__ import annotations

import itertools
import json
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from streamctl.core.redact import redact_body, redact_headers, redact_target, redact_text

__all__ = ["Entry", "Journal"]

#: Client WebSocket messages, and replies, kept per connection (a chatty client cannot fill
#: the memory).
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
        if len(self.replies) < MAX_MESSAGES:
            self.replies.append(record)
        else:  # a long connection: the first replies and the one in progress are kept
            self.replies[-1] = record
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
    """The last ``limit`` entries.

    An entry stays a live object while its request is served; :meth:`seal` then packs it into
    one shared buffer. A journal of a thousand entries then takes a few hundred kilobytes in one
    place instead of some thirty thousand small objects scattered through the heap, where a
    handful of them would keep whole allocator arenas from being given back after a burst.
    When the journal is full, the entry that finished longest ago goes first; one still being
    served goes only when no finished one is left.
    """

    def __init__(self, clock: Callable[[], float], limit: int = 1000) -> None:
        self._clock = clock
        self._limit = max(1, limit)
        self._open: dict[int, Entry] = {}
        self._sealed = _Ring()
        self._ids = itertools.count(1)
        #: Called with each new entry, in the request's own task (the request log's hook).
        self.on_open: Callable[[Entry], None] | None = None

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
        """Start an entry for a request; the caller updates it as the request goes on and
        seals it when the request is over."""
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
        self._open[entry.id] = entry
        if self.on_open is not None:
            self.on_open(entry)
        while len(self._open) + len(self._sealed) > self._limit:
            if self._sealed:
                self._sealed.pop_oldest()
            else:
                del self._open[next(iter(self._open))]
        return entry

    def seal(self, entry: Entry) -> None:
        """The request is over: keep the entry as it now is (later changes are not seen)."""
        if self._open.pop(entry.id, None) is entry:  # not dropped or cleared meanwhile
            self._sealed.append(_pack(entry))

    def __len__(self) -> int:
        return len(self._open) + len(self._sealed)

    def entries(self, filters: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Every entry, oldest first, as JSON-ready data, optionally only those whose fields
        equal ``filters``."""
        wanted = filters or {}
        every = sorted([*map(_unpack, self._sealed), *self._open.values()], key=_by_id)
        return [
            e.as_dict()
            for e in every
            if all(str(getattr(e, k, None)) == v for k, v in wanted.items())
        ]

    def clear(self) -> None:
        self._open.clear()
        self._sealed.clear()


class _Ring:
    """Byte strings in one buffer, oldest first: append at the end, drop from the front."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._sizes = array("Q")

    def __len__(self) -> int:
        return len(self._sizes)

    def __iter__(self) -> Iterator[bytes]:
        view = memoryview(self._data)
        start = 0
        for size in self._sizes:
            yield bytes(view[start : start + size])
            start += size

    def append(self, item: bytes) -> None:
        self._data += item
        self._sizes.append(len(item))

    def pop_oldest(self) -> None:
        del self._data[: self._sizes[0]]  # CPython moves the buffer's start: no copy
        del self._sizes[0]

    def clear(self) -> None:
        self._data = bytearray()
        self._sizes = array("Q")


def _by_id(entry: Entry) -> int:
    return entry.id


def _pack(entry: Entry) -> bytes:
    fields = [
        entry.id,
        entry.time,
        entry.protocol,
        entry.method,
        entry.path,
        entry.query,
        entry.headers,
        None if entry.body is None else entry.body.decode("latin-1"),
        entry.messages,
        entry.replies,
        entry.status,
        entry.outcome,
    ]
    try:
        return orjson.dumps(fields)
    except TypeError:  # a lone surrogate (a JSON body can escape one), which orjson refuses
        return json.dumps(fields).encode()


def _unpack(packed: bytes) -> Entry:
    (id_, time, protocol, method, path, query, headers, body, messages, replies, status,
     outcome) = json.loads(packed)  # fmt: skip
    return Entry(
        id=id_,
        time=time,
        protocol=protocol,
        method=method,
        path=path,
        query=query,
        headers=[(k, v) for k, v in headers],
        body=None if body is None else body.encode("latin-1"),
        messages=messages,
        replies=replies,
        status=status,
        outcome=outcome,
    )


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")
