"""The plain data a protocol exchanges with the adapters around it (server, client, checker).

Requests and responses as an adapter parsed them, the turn a reply answers, the writes a reply
is made of, and what a client learned from one message. No behaviour beyond building them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from streamctl.core import jsontext
from streamctl.core.transcript import Headers

__all__ = [
    "Accepted",
    "ClientOptions",
    "Endpoint",
    "HttpRequest",
    "HttpResponse",
    "Out",
    "Reaction",
    "Route",
    "Settings",
    "Turn",
    "Update",
]

_Own = TypeVar("_Own")


@dataclass(frozen=True)
class Settings:
    """What a protocol's server state is built with: what every protocol shares, and each
    protocol's own settings (e.g. :class:`~streamctl.core.protocols.goose.state.GooseSettings`)
    by protocol name. A protocol without an entry uses its settings' defaults."""

    #: Wall-clock seconds for timestamps in messages (injected so tests are deterministic).
    clock: Callable[[], float] = time.time
    protocols: Mapping[str, object] = field(default_factory=dict)

    def own(self, name: str, kind: type[_Own]) -> _Own:
        """Protocol ``name``'s settings, a ``kind`` (its defaults when none were given)."""
        found = self.protocols.get(name)
        if found is None:
            return kind()
        if not isinstance(found, kind):
            raise TypeError(f"{name} settings must be a {kind.__name__}, not {found!r}")
        return found


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A route a protocol serves. ``path`` uses ``{name}`` placeholders."""

    method: str  # GET, POST, DELETE, or WS for a WebSocket route
    path: str
    summary: str
    stream: bool = False


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP request as an adapter parsed it (header names lower-case)."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    path_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete (non-streaming) answer: refusals, history, status endpoints."""

    status: int
    body: bytes = b""
    headers: Headers = ()

    @classmethod
    def json(cls, status: int, obj: Any) -> HttpResponse:
        body = jsontext.dumps_compact(obj).encode()
        return cls(status, body, (("content-type", "application/json"),))

    @classmethod
    def text(cls, status: int, text: str) -> HttpResponse:
        return cls(status, text.encode(), (("content-type", "text/plain; charset=utf-8"),))


@dataclass(frozen=True)
class Turn:
    """One accepted user message that needs a reply.

    ``index`` counts the conversation's turns from 0 (which scripted turn to play);
    ``conversation`` names the session or chat; ``ids`` holds identifiers minted for the reply.
    """

    user_text: str
    index: int = 0
    conversation: str = ""
    ids: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Accepted:
    """An SSE request the protocol accepted: stream a reply with these response headers."""

    turn: Turn
    headers: Headers


class Out(NamedTuple):
    """One write to the wire, ``delay_ms`` after the previous one.

    ``payload`` is SSE bytes or a WebSocket text message. ``token`` is the index of the script
    token this write carries (fault injection and resume count by it); ``terminal`` marks the
    write that ends the reply. (A named tuple: a server makes one per token of every reply, and
    building a frozen dataclass took a third of the time a reply's rendering took.)
    """

    payload: bytes | str
    delay_ms: float = 0.0
    token: int | None = None
    terminal: bool = False


@dataclass(frozen=True, slots=True)
class Reaction:
    """What a server session does with one incoming WebSocket message: send these now, and
    if ``turn`` is set, stream a reply to it."""

    send: tuple[str, ...] = ()
    turn: Turn | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """A non-streaming endpoint and the pure function that answers it."""

    endpoint: Endpoint
    handle: Callable[[HttpRequest, Any], HttpResponse]


@dataclass(frozen=True)
class ClientOptions:
    """What a user gives ``streamctl send`` (options a protocol does not use are ignored)."""

    message: str
    secret_key: str | None = None
    token: str | None = None
    session: str | None = None
    chat: str | None = None
    headers: Headers = ()
    ndjson: bool = False


@dataclass(frozen=True, slots=True)
class Update:
    """What a client learned from one event or message.

    ``text``: new assistant text to show. ``send``: messages to send back (WS handshakes, the
    user's message once a chat is joined). ``done``: the reply is over. ``error``: the server
    reported this error. ``info``: a line worth showing a person (tool call, chat id).
    """

    text: str = ""
    send: tuple[str, ...] = ()
    done: bool = False
    error: str | None = None
    info: str | None = None
