"""Small builders for transcripts in tests (not part of the product)."""

from __future__ import annotations

from collections.abc import Sequence

from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import Accepted, HttpRequest, Settings
from streamctl.core.protocols.protocol import SSEProtocol, WSProtocol
from streamctl.core.script import Script
from streamctl.core.transcript import (
    End,
    Frame,
    Header,
    Headers,
    Record,
    Request,
    Response,
    Sender,
    Transcript,
)

SSE_HEADERS: Headers = (("content-type", "text/event-stream"), ("cache-control", "no-cache"))


def sse_transcript(
    protocol: str,
    chunks: Sequence[bytes],
    *,
    status: int = 200,
    headers: Headers = SSE_HEADERS,
    request: Request | None = None,
    end: str | None = "complete",
    step_ms: float = 1.0,
) -> Transcript:
    """A transcript of an SSE response made of ``chunks``, ``step_ms`` apart."""
    records: list[Record] = [Frame(i * step_ms, "server", c) for i, c in enumerate(chunks)]
    if end is not None:
        records.append(End(len(chunks) * step_ms, end))
    header = Header(protocol, "sse", request or Request("GET", "/"), Response(status, headers))
    return Transcript(header, tuple(records))


def ws_transcript(
    protocol: str,
    messages: Sequence[tuple[Sender, str | bytes]],
    *,
    status: int = 101,
    end: str | None = "complete",
    step_ms: float = 1.0,
) -> Transcript:
    """A transcript of a WebSocket connection: ``(sender, message)`` pairs in order."""
    records: list[Record] = [Frame(i * step_ms, s, m) for i, (s, m) in enumerate(messages)]
    if end is not None:
        records.append(End(len(messages) * step_ms, end))
    header = Header(protocol, "ws", Request("GET", "/ws"), Response(status))
    return Transcript(header, tuple(records))


def rendered_sse(
    protocol: str, script: Script, request: HttpRequest, settings: Settings | None = None
) -> Transcript:
    """What the protocol's server side streams for ``script``, as a transcript."""
    proto = get(protocol)
    assert isinstance(proto, SSEProtocol)
    state = proto.new_state(settings or Settings())
    accepted = proto.accept(request, state)
    assert isinstance(accepted, Accepted), accepted
    outs = proto.render(script, accepted.turn, state)
    return sse_transcript(
        protocol,
        [o.payload for o in outs if isinstance(o.payload, bytes)],
        headers=accepted.headers,
    )


def ws_protocol(protocol: str) -> WSProtocol:
    proto = get(protocol)
    assert isinstance(proto, WSProtocol)
    return proto
