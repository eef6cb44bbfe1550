"""What every protocol provides: :class:`ChatProtocol`, and its transport halves.

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

The data they exchange is in :mod:`.exchange`, the session bases in :mod:`.client` and
:mod:`.server`, the shared rules in :mod:`.rules`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from streamctl.core import jsontext
from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import (
    Accepted,
    ClientOptions,
    Endpoint,
    HttpRequest,
    HttpResponse,
    Out,
    Route,
    Settings,
    Turn,
)
from streamctl.core.protocols.rules import SSE_PROBLEM_RULES, excerpt
from streamctl.core.protocols.server import ServerSession
from streamctl.core.script import Script
from streamctl.core.spec import Finding, Msg, Shape, Spec, validate
from streamctl.core.sse import SSEDecoder, SSEEvent
from streamctl.core.transcript import Transcript, Transport

__all__ = ["ChatProtocol", "SSEProtocol", "WSProtocol"]


class ChatProtocol(ABC):
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
            return jsontext.json_object(raw)
        except jsontext.NotAnObjectError:
            return self.finding("json", "frame payload is JSON but not an object", frame, raw)
        except ValueError:
            return self.finding("json", "frame payload is not valid JSON", frame, raw)

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


class SSEProtocol(ChatProtocol):
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
            rule = SSE_PROBLEM_RULES[problem.code]
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


class WSProtocol(ChatProtocol):
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
