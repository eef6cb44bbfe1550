"""``sse-delta-done``: SSE over GET with ``{"delta"}`` events and a ``{"done": true}`` terminator.

Seed 002: a FastAPI endpoint ``GET /api/chat/stream?message=…&file_path=…`` whose generator
yields ``{"event": "message", "data": json.dumps({"delta": …})}`` per token and finally
``{"done": True}``, served by sse-starlette (CRLF line endings, ``: ping`` comments); a browser
``EventSource`` reads it with ``onmessage`` and closes on ``data.done``.

The package: :mod:`.rules` (the spec as data), :mod:`.checking` (rules that need code),
:mod:`.server` (accept and render) and :mod:`.client` (``streamctl send``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import (
    Accepted,
    ClientOptions,
    Endpoint,
    HttpRequest,
    HttpResponse,
    Out,
    Turn,
)
from streamctl.core.protocols.protocol import SSEProtocol
from streamctl.core.protocols.sse_delta_done import checking, server
from streamctl.core.protocols.sse_delta_done.client import SSEDeltaDoneClient
from streamctl.core.protocols.sse_delta_done.rules import (
    EOL,
    MACHINE,
    PATH,
    PROTOCOLS,
    RULES,
    SEED,
    SPEC,
)
from streamctl.core.script import Script
from streamctl.core.spec import Finding, Msg, Spec
from streamctl.core.sse import SSEEvent, encode_comment

__all__ = [
    "EOL",
    "MACHINE",
    "PATH",
    "PROTOCOL",
    "PROTOCOLS",
    "RULES",
    "SEED",
    "SPEC",
    "SSEDeltaDone",
    "SSEDeltaDoneClient",
]


class SSEDeltaDone(SSEProtocol):
    name: ClassVar[str] = "sse-delta-done"
    title: ClassVar[str] = "SSE delta/done over GET (EventSource)"
    seed: ClassVar[str] = "002"
    imitates: ClassVar[str] = "FastAPI + sse-starlette"
    endpoints: ClassVar[tuple[Endpoint, ...]] = (
        Endpoint("GET", PATH, "stream a reply to ?message=…", stream=True),
    )
    spec: ClassVar[Spec] = SPEC
    reply_types: ClassVar[frozenset[str]] = frozenset({"delta", "tool", "done"})
    type_field: ClassVar[str | None] = None  # the member present names the message
    event_names: ClassVar[Mapping[str, str]] = {"tool": "tool"}
    heartbeat: ClassVar[bytes | None] = encode_comment("ping", eol=EOL)
    heartbeat_ms: ClassVar[float] = 15_000.0

    # --- checking ---------------------------------------------------------------------------

    def classify(self, event: SSEEvent, frame: int, t: float) -> Msg | list[Finding]:
        return checking.classify(self, event, frame, t)

    def content_rules(self, msgs: Sequence[Msg], transcript: object) -> Iterable[Finding]:
        return checking.content_findings(self, msgs)

    # --- serving ----------------------------------------------------------------------------

    def accept(self, request: HttpRequest, state: Any) -> HttpResponse | Accepted:
        return server.accept(request)

    def render_key(self, turn: Turn, state: Any) -> tuple[()]:
        # The seed's generator sends no ids, timestamps or counters: a reply is its script.
        return ()

    def render(self, script: Script, turn: Turn, state: Any) -> Sequence[Out]:
        return server.render(script)

    # --- sending ----------------------------------------------------------------------------

    def client(self, options: ClientOptions) -> ClientSession:
        return SSEDeltaDoneClient(options)


PROTOCOL = SSEDeltaDone()
