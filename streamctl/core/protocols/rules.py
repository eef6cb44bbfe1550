"""The rules every protocol on a transport shares (SSE framing and HTTP head, WebSocket frames),
and how a finding shows the frame it is about."""

from __future__ import annotations

from streamctl.core.spec import Level, Rule

__all__ = ["SSE_PROBLEM_RULES", "SSE_RULES", "WS_RULES", "excerpt"]

WHATWG = "WHATWG HTML §9.2 Server-sent events"
RFC6455 = "RFC 6455 The WebSocket Protocol"
WS_GROUND_RULES = "docs/protocols/README.md, shared WebSocket rules"
PROTOCOLS_MD = "docs/protocols/README.md, shared SSE rules"

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

#: The rule each :class:`~streamctl.core.sse.SSEDecoder` problem code breaks.
SSE_PROBLEM_RULES = {
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
