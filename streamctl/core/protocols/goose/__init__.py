"""``goose``: goosed's ``POST /reply`` Server-Sent Events (seed 000).

Seed 000 wires a chat UI to goose through the ATLAS ``GooseClient.send_reply(session_name,
message)``, which posts goosed's era-B body to ``/reply`` with ``X-Secret-Key`` and reads
``data: {"type": …}`` events. The emulated server is goosed (block/goose ``goose-server``)
about v1.3 to v1.7; ``GooseSettings.variant == "e"`` switches to the v1.18+ shapes.
Everything here is drawn from ``reference/goose-protocol.md``, cited by section.

The package: :mod:`.rules` (the spec as data), :mod:`.checking` (rules that need code),
:mod:`.request` (axum/serde refusals), :mod:`.server` (accept, render, history, routes) and
:mod:`.client` (the ATLAS request and what each event means).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

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
from streamctl.core.protocols.goose import checking, server
from streamctl.core.protocols.goose.client import GooseClient
from streamctl.core.protocols.goose.rules import SPEC
from streamctl.core.protocols.goose.state import GooseSettings, GooseState
from streamctl.core.protocols.protocol import SSEProtocol
from streamctl.core.script import Script
from streamctl.core.spec import Finding, Msg, Spec
from streamctl.core.sse import SSEDecoder, SSEEvent
from streamctl.core.transcript import Transcript

__all__ = ["PROTOCOL", "Goose"]


class Goose(SSEProtocol):
    """goosed's ``/reply`` stream, its checker, its mock and its client."""

    name: ClassVar[str] = "goose"
    title: ClassVar[str] = "goosed /reply (JSON events over SSE)"
    seed: ClassVar[str] = "000"
    imitates: ClassVar[str] = (
        "goosed (block/goose server) ≈ v1.3\u2013v1.7"  # the en dash PROTOCOLS.md writes
    )
    endpoints: ClassVar[tuple[Endpoint, ...]] = (
        Endpoint("POST", "/reply", "stream the agent's reply to a conversation", stream=True),
        Endpoint("GET", "/status", "liveness check (no key needed)"),
        Endpoint("GET", "/sessions/{session_id}", "a session's metadata and messages"),
    )
    spec: ClassVar[Spec] = SPEC
    reply_types: ClassVar[frozenset[str]] = frozenset({"Message", "Notification", "Finish"})
    error_types: ClassVar[frozenset[str]] = frozenset({"Error"})
    credentials_hint: ClassVar[str | None] = (
        "pass --secret-key KEY (the server's GOOSE_SERVER__SECRET_KEY)"
    )
    # §6.4: "Ping frames are interleaved every 500 ms throughout (≈v1.3+)."
    heartbeat: ClassVar[bytes | None] = server.frame(server.PING)
    heartbeat_ms: ClassVar[float] = 500.0

    # --- checking ---------------------------------------------------------------------------

    def classify(self, event: SSEEvent, frame: int, t: float) -> Msg | list[Finding]:
        obj = self.parse_json(event.data, frame)
        if isinstance(obj, Finding):
            return [obj]
        return checking.classify(self, obj, event.data, frame, t)

    def event_rules(self, event: SSEEvent, frame: int) -> Iterable[Finding]:
        return checking.event_findings(self, event, frame)

    def stream_rules(self, decoder: SSEDecoder) -> Iterable[Finding]:
        return checking.stream_findings(self, decoder)

    def content_rules(self, msgs: Sequence[Msg], transcript: Transcript) -> Iterable[Finding]:
        return checking.content_findings(self, msgs, transcript)

    # --- serving ----------------------------------------------------------------------------

    def new_state(self, settings: Settings) -> GooseState:
        return GooseState(settings, settings.own(self.name, GooseSettings))

    def accept(self, request: HttpRequest, state: Any) -> HttpResponse | Accepted:
        return server.accept(request, state)

    def render(self, script: Script, turn: Turn, state: Any) -> Sequence[Out]:
        return server.render(script, turn, state)

    def finish(self, turn: Turn, script: Script, state: Any, completed: bool) -> None:
        server.finish(turn, script, state, completed)

    def routes(self) -> tuple[Route, ...]:
        status, session = self.endpoints[1:]
        return (Route(status, server.status_answer), Route(session, server.session_answer))

    # --- sending ----------------------------------------------------------------------------

    def client(self, options: ClientOptions) -> ClientSession:
        return GooseClient(options)


PROTOCOL = Goose()
