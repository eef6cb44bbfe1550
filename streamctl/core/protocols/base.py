"""What every protocol module provides, and the plain data the adapters exchange with it.

A protocol is sans-I/O. The mock server hands it parsed requests and incoming WebSocket messages
and writes whatever it returns; the CLI client does the same from the other side; the checker
hands it a transcript. None of them knows a frame shape.

Each protocol subclasses :class:`SSEProtocol` or :class:`WSProtocol`, which hold what is common
to a transport (SSE framing and HTTP rules, WebSocket frame rules), and adds its own parts:

* checking: :meth:`classify` (a wire event or message -> a typed :class:`Msg`), its ``spec``
  (rules, schemas, order table) and :meth:`content_rules` (cross-message consistency);
* serving: :meth:`SSEProtocol.accept` / :meth:`WSProtocol.open`, ``render`` (a
  :class:`~streamctl.core.script.Script` -> wire writes) and ``finish`` (update history);
* sending: :meth:`client` (a sans-I/O client session for ``streamctl send``).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from streamctl.core import jsontext
from streamctl.core.script import Script
from streamctl.core.spec import Finding, Level, Msg, Rule, Shape, Spec, validate
from streamctl.core.sse import SSEDecoder, SSEEvent
from streamctl.core.transcript import Headers, Request, Transcript, Transport

__all__ = [
    "SSE_RULES",
    "WS_RULES",
    "Accepted",
    "ClientOptions",
    "ClientSession",
    "Endpoint",
    "HttpRequest",
    "HttpResponse",
    "Out",
    "Protocol",
    "Reaction",
    "Route",
    "SSEProtocol",
    "ServerSession",
    "Settings",
    "Turn",
    "Update",
    "WSProtocol",
]

WHATWG = "WHATWG HTML §9.2 Server-sent events"
RFC6455 = "RFC 6455 The WebSocket Protocol"
WS_GROUND_RULES = "docs/protocols/README.md, shared WebSocket rules"
PROTOCOLS_MD = "docs/protocols/README.md, shared SSE rules"


# --- data exchanged with adapters ---------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Server configuration a protocol needs to behave like the system it imitates."""

    #: goosed's secret (``GOOSE_SERVER__SECRET_KEY``); its default up to v1.27 is ``test``.
    goose_secret: str = "test"
    #: HS256 secret for ws-events JWTs (``JWT_SECRET``).
    jwt_secret: str = "streamctl-dev-secret"
    #: goose emulation: ``"b"`` (about v1.3 to v1.7, the default) or ``"e"`` (v1.18+:
    #: ``user_message`` requests, ``token_state`` on Message and Finish).
    goose_variant: str = "b"
    #: Wall-clock seconds for timestamps in messages (injected so tests are deterministic).
    clock: Callable[[], float] = time.time


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


class ClientSession:
    """Client side of one exchange, sans-I/O.

    HTTP protocols implement :meth:`request` and :meth:`on_event` (the adapter passes response
    body chunks to :meth:`feed`, which decodes SSE; a protocol with another body format overrides
    :meth:`feed`). WebSocket protocols implement :meth:`opening` and :meth:`on_message`.
    """

    _decoder: SSEDecoder | None = None

    def request(self) -> Request:
        raise NotImplementedError

    def feed(self, chunk: bytes) -> list[Update]:
        """Updates from one chunk of the response body."""
        if self._decoder is None:
            self._decoder = SSEDecoder()
        return [self.on_event(event) for event in self._decoder.feed(chunk)]

    def on_event(self, event: SSEEvent) -> Update:
        raise NotImplementedError

    def opening(self) -> Sequence[str]:
        raise NotImplementedError

    def on_message(self, text: str) -> Update:
        raise NotImplementedError

    def follow_up(self, message: str) -> ClientSession | None:
        """A session for the next message of the same conversation, once this exchange ended.

        ``None`` (the default) when the protocol keeps no conversation on the client side: a
        fresh session with the same options continues it (same chat id, session or connection).
        """
        return None


class ServerSession(ABC):
    """Server side of one WebSocket connection."""

    @abstractmethod
    def greeting(self) -> Sequence[str]:
        """Messages to send as soon as the connection opens."""

    @abstractmethod
    def receive(self, text: str) -> Reaction:
        """React to one client message; never raises on the peer's input."""

    @abstractmethod
    def render(self, script: Script, turn: Turn) -> Sequence[Out]:
        """The writes that stream ``script`` as the reply to ``turn``."""

    def render_key(self, turn: Turn) -> Hashable | None:
        """What of ``turn`` :meth:`render` depends on besides the script, if that is all it
        depends on (a server then renders a scenario once per key); None when it varies (ids,
        timestamps, the connection's state)."""
        return None

    @abstractmethod
    def finish(self, turn: Turn, script: Script, completed: bool) -> None:
        """Record the reply in history (``completed`` is false when the client left early)."""

    def interrupts(self, text: str) -> bool:
        """Whether client message ``text`` stops the reply in progress at once (a cancel)
        instead of waiting its turn; the reply's ``finish`` then learns it was cut short, and
        :meth:`receive` answers the message as usual."""
        return False


# --- shared rules -------------------------------------------------------------------------

SSE_RULES: tuple[Rule, ...] = (
    Rule(
        "sse.http.status",
        Level.MUST,
        "A stream is answered with status 200.",
        WHATWG,
        needs=frozenset({"response"}),
    ),
    Rule(
        "sse.http.content-type",
        Level.MUST,
        "The response Content-Type is text/event-stream.",
        WHATWG,
        needs=frozenset({"response"}),
    ),
    Rule(
        "sse.http.no-content-length",
        Level.MUST,
        "An event stream has no Content-Length (its length is unknown when it starts).",
        PROTOCOLS_MD,
        needs=frozenset({"response"}),
    ),
    Rule(
        "sse.http.cache-control",
        Level.SHOULD,
        "The response carries Cache-Control: no-cache (or no-store) so nothing caches it.",
        WHATWG + " (authoring notes)",
        needs=frozenset({"response"}),
    ),
    Rule("sse.utf8", Level.MUST, "The stream is valid UTF-8.", WHATWG + " §9.2.5"),
    Rule(
        "sse.incomplete-event",
        Level.MUST,
        "Every event ends with a blank line; a trailing block without one is discarded.",
        WHATWG + " §9.2.6",
    ),
    Rule(
        "sse.retry-digits",
        Level.MUST,
        "The retry field holds ASCII digits only; anything else is ignored.",
        WHATWG + " §9.2.6",
    ),
    Rule(
        "sse.id-nul",
        Level.MUST,
        "An id field contains no U+0000 NULL; such an id is ignored.",
        WHATWG + " §9.2.6",
    ),
    Rule(
        "sse.unknown-field",
        Level.SHOULD,
        "Only the fields event, data, id and retry are sent; others are ignored.",
        WHATWG + " §9.2.6",
    ),
    Rule(
        "sse.event-without-data",
        Level.SHOULD,
        "A block without a data line dispatches nothing, so it is not sent.",
        WHATWG + " §9.2.6",
    ),
)

_SSE_PROBLEM_RULES = {
    "invalid-utf8": "sse.utf8",
    "incomplete-event": "sse.incomplete-event",
    "retry-not-digits": "sse.retry-digits",
    "id-contains-nul": "sse.id-nul",
    "unknown-field": "sse.unknown-field",
    "event-without-data": "sse.event-without-data",
}

WS_RULES: tuple[Rule, ...] = (
    Rule(
        "ws.handshake",
        Level.MUST,
        "The server accepts the WebSocket upgrade (status 101).",
        RFC6455 + " §4.2.2",
        needs=frozenset({"response"}),
    ),
    Rule("ws.text", Level.MUST, "Every message is a text frame carrying JSON.", WS_GROUND_RULES),
)


def excerpt(text: str, limit: int = 120) -> str:
    """A short, single-line view of a frame for findings."""
    flat = text.replace("\r", "\\r").replace("\n", "\\n")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- protocol base classes ----------------------------------------------------------------


class Protocol(ABC):
    """The parts every protocol has. Subclass :class:`SSEProtocol` or :class:`WSProtocol`."""

    name: ClassVar[str]
    title: ClassVar[str]
    transport: ClassVar[Transport]
    seed: ClassVar[str]
    imitates: ClassVar[str]
    endpoints: ClassVar[tuple[Endpoint, ...]]
    spec: ClassVar[Spec]
    #: Message types that show a reply arrived (text, or the reply's end), and the protocol's
    #: error events: an error before any reply means the server refused the exchange.
    reply_types: ClassVar[frozenset[str]] = frozenset()
    error_types: ClassVar[frozenset[str]] = frozenset({"error"})
    #: What a user passes when the server refuses their credentials (None: no credentials).
    credentials_hint: ClassVar[str | None] = None
    #: The member of a server message naming its type (``None``: its members tell, as in
    #: sse-delta-done); with ``data_field`` the message is an envelope ``{type, data}`` whose
    #: ``data`` the spec's schema describes. The AsyncAPI export reads both.
    type_field: ClassVar[str | None] = "type"
    data_field: ClassVar[str | None] = None
    #: What a client sends, by message name, as whole payloads (for the AsyncAPI export).
    client_schemas: ClassVar[Mapping[str, Shape]] = {}
    #: The SSE ``event:`` name a message type goes out under, where it is not ``message``.
    event_names: ClassVar[Mapping[str, str]] = {}

    @property
    def stream_endpoint(self) -> Endpoint:
        return next(e for e in self.endpoints if e.stream)

    def rule_id(self, suffix: str) -> str:
        return f"{self.name}.{suffix}"

    def finding(
        self, suffix: str, message: str, frame: int | None = None, raw: str | None = None
    ) -> Finding:
        """A finding of rule ``suffix``: a full id (``goose.order``, ``sse.utf8``) or the part
        after this protocol's name."""
        full = suffix.startswith((f"{self.name}.", "sse.", "ws."))
        rule_id = suffix if full else self.rule_id(suffix)
        return self.spec.finding(rule_id, message, frame, None if raw is None else excerpt(raw))

    def parse_json(self, raw: str, frame: int) -> dict[str, Any] | Finding:
        """``raw`` as a JSON object, or this protocol's ``json`` finding."""
        try:
            obj = jsontext.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            return self.finding("json", "frame payload is not valid JSON", frame, raw)
        if not isinstance(obj, dict):
            return self.finding("json", "frame payload is JSON but not an object", frame, raw)
        return obj

    def schema_findings(self, msg: Msg) -> list[Finding]:
        """Findings for a message whose type is known but whose fields do not fit its schema.

        Every type ``classify`` returns has a schema (an empty :class:`Shape` for a message
        without fields); ``tests/test_registry.py`` holds each protocol to it.
        """
        problems = validate(msg.body, self.spec.schemas[msg.type])
        if not problems:  # nearly always
            return []
        return [
            self.finding(f"schema.{msg.type}", f"{msg.type}: {problem}", msg.frame, msg.raw)
            for problem in problems
        ]

    @abstractmethod
    def messages(self, transcript: Transcript) -> tuple[list[Msg], list[Finding]]:
        """The protocol messages the server sent, and every framing/shape finding on the way."""

    @abstractmethod
    def content_rules(self, msgs: Sequence[Msg], transcript: Transcript) -> Iterable[Finding]:
        """Consistency rules across messages (content equals tokens, one id per reply...)."""

    @abstractmethod
    def transport_rules(self, transcript: Transcript) -> list[Finding]:
        """The rules every protocol on this transport shares (HTTP head, handshake)."""

    def auth_pending(self, before: Sequence[str]) -> bool:
        """Whether an error after the message types ``before`` refuses the credentials (a
        protocol that authenticates in-band says so; HTTP 401 and 403 always do)."""
        return False

    def http_rules(self, transcript: Transcript) -> Iterable[Finding]:
        """Protocol-specific rules on the request and response head."""
        return ()

    def new_state(self, settings: Settings) -> Any:
        """Fresh server-side state (settings, chats, sessions, counters) for this protocol."""
        return settings

    def routes(self) -> tuple[Route, ...]:
        """The non-streaming endpoints (history, status) with their handlers."""
        return ()

    def pages(self) -> tuple[Route, ...]:
        """Routes that take ``/`` and the like when the server runs as this protocol
        (``streamctl serve --as NAME``), such as a web UI the imitated server serves."""
        return ()

    @abstractmethod
    def client(self, options: ClientOptions) -> ClientSession:
        """A sans-I/O client for one exchange."""


class SSEProtocol(Protocol):
    """A protocol streamed as Server-Sent Events over one HTTP response."""

    transport: ClassVar[Transport] = "sse"
    #: The body formats (media types) the protocol streams in; the first is the default.
    media_types: ClassVar[tuple[str, ...]] = ("text/event-stream",)
    #: Bytes the server writes as a heartbeat, and how often (ms); ``None`` for no heartbeat.
    heartbeat: ClassVar[bytes | None] = None
    heartbeat_ms: ClassVar[float] = 0.0

    @abstractmethod
    def classify(self, event: SSEEvent, frame: int, t: float) -> Msg | list[Finding]:
        """One dispatched event -> a typed message, or the findings that stop it being one."""

    def event_rules(self, event: SSEEvent, frame: int) -> Iterable[Finding]:
        """Framing rules for one event beyond WHATWG's (which fields, comments, ...)."""
        return ()

    def stream_rules(self, decoder: SSEDecoder) -> Iterable[Finding]:
        """Rules over the whole stream's framing (line endings, heartbeats)."""
        return ()

    @abstractmethod
    def accept(self, request: HttpRequest, state: Any) -> HttpResponse | Accepted:
        """Validate a stream request: a refusal to send as is, or the turn to reply to."""

    @abstractmethod
    def render(self, script: Script, turn: Turn, state: Any) -> Sequence[Out]:
        """The writes that stream ``script`` as the reply to ``turn``."""

    def render_key(self, turn: Turn, state: Any) -> Hashable | None:
        """What of ``turn`` and ``state`` :meth:`render` depends on besides the script, if that
        is all it depends on (a server then renders a scenario once per key); None when it
        varies (ids, timestamps, counters)."""
        return None

    def finish(self, turn: Turn, script: Script, state: Any, completed: bool) -> None:
        """Record the reply in history (``completed`` is false when the client left early)."""

    def messages(self, transcript: Transcript) -> tuple[list[Msg], list[Finding]]:
        decoder = SSEDecoder()
        msgs: list[Msg] = []
        findings: list[Finding] = []
        reported = 0
        index: int | None = None
        for index, frame in transcript.frames("server"):
            payload = frame.payload
            for event in decoder.feed(payload if isinstance(payload, bytes) else payload.encode()):
                self._take(event, index, frame.t, msgs, findings)
            if len(decoder.problems) > reported:
                reported = self._problems(decoder, reported, index, findings)
        decoder.close()
        self._problems(decoder, reported, index, findings)
        findings.extend(self.stream_rules(decoder))
        return msgs, findings

    def _take(
        self, event: SSEEvent, index: int, t: float, msgs: list[Msg], out: list[Finding]
    ) -> None:
        out.extend(self.event_rules(event, index))
        result = self.classify(event, index, t)
        if isinstance(result, Msg):
            msgs.append(result)
            out.extend(self.schema_findings(result))
        else:
            out.extend(result)

    def _problems(
        self, decoder: SSEDecoder, seen: int, index: int | None, out: list[Finding]
    ) -> int:
        for problem in decoder.problems[seen:]:
            rule = _SSE_PROBLEM_RULES[problem.code]
            out.append(self.finding(rule, f"line {problem.line}: {problem.message}", index))
        return len(decoder.problems)

    def transport_rules(self, transcript: Transcript) -> list[Finding]:
        """The shared HTTP rules for an event stream response."""
        response = transcript.header.response
        if response is None:
            return []
        if response.status != 200:
            # A refusal is not a stream: its other headers say nothing about streaming.
            return [self.finding("sse.http.status", f"status is {response.status}")]
        found: list[Finding] = []
        ctype = (response.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != "text/event-stream":
            found.append(
                self.finding("sse.http.content-type", f"Content-Type is {ctype or 'missing'!r}")
            )
        if response.header("content-length") is not None:
            found.append(
                self.finding(
                    "sse.http.no-content-length",
                    f"Content-Length: {response.header('content-length')} on an event stream",
                )
            )
        cache = (response.header("cache-control") or "").lower()
        if "no-cache" not in cache and "no-store" not in cache:
            found.append(
                self.finding("sse.http.cache-control", f"Cache-Control is {cache or 'missing'!r}")
            )
        return found


class WSProtocol(Protocol):
    """A protocol spoken as JSON text messages over one WebSocket connection."""

    transport: ClassVar[Transport] = "ws"

    @abstractmethod
    def classify(self, obj: dict[str, Any], raw: str, frame: int, t: float) -> Msg | list[Finding]:
        """One server message (parsed JSON) -> a typed message, or findings."""

    @abstractmethod
    def open(self, state: Any) -> ServerSession:
        """The server side of a new connection."""

    def messages(self, transcript: Transcript) -> tuple[list[Msg], list[Finding]]:
        msgs: list[Msg] = []
        findings: list[Finding] = []
        for index, frame in transcript.frames("server"):
            if isinstance(frame.payload, bytes):
                findings.append(self.finding("ws.text", "binary frame", index))
                continue
            obj = self.parse_json(frame.payload, index)
            if isinstance(obj, Finding):
                findings.append(obj)
                continue
            result = self.classify(obj, frame.payload, index, frame.t)
            if isinstance(result, Msg):
                msgs.append(result)
                findings.extend(self.schema_findings(result))
            else:
                findings.extend(result)
        return msgs, findings

    def transport_rules(self, transcript: Transcript) -> list[Finding]:
        response = transcript.header.response
        if response is None or response.status == 101:
            return []
        return [self.finding("ws.handshake", f"upgrade answered with status {response.status}")]
