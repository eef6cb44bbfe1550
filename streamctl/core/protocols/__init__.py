"""The registry of protocols: adding a protocol is adding a module and a line here."""

from __future__ import annotations

from streamctl.core.protocols.chunk_complete import PROTOCOL as CHUNK_COMPLETE
from streamctl.core.protocols.goose import PROTOCOL as GOOSE
from streamctl.core.protocols.goose_web import PROTOCOL as GOOSE_WEB
from streamctl.core.protocols.message_stream import PROTOCOL as MESSAGE_STREAM
from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.protocols.sse_delta_done import PROTOCOL as SSE_DELTA_DONE
from streamctl.core.protocols.ws_events import PROTOCOL as WS_EVENTS

__all__ = ["REGISTRY", "UnknownProtocolError", "get", "names"]

REGISTRY: dict[str, ChatProtocol] = {
    p.name: p for p in (GOOSE, WS_EVENTS, CHUNK_COMPLETE, SSE_DELTA_DONE, MESSAGE_STREAM, GOOSE_WEB)
}


class UnknownProtocolError(KeyError):
    """A protocol name that is not in the registry; the message lists the known ones."""

    def __str__(self) -> str:
        return f"unknown protocol {self.args[0]!r}; known: {', '.join(names())}"


def get(name: str) -> ChatProtocol:
    """The protocol called ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownProtocolError(name) from None


def names() -> list[str]:
    """Every protocol name, in registry order."""
    return list(REGISTRY)
