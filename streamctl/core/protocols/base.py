"""The protocol base, by its old single-module name: every name now lives in a module of its own.

:mod:`.protocol` (:class:`Protocol` and its transport halves), :mod:`.exchange` (the data
adapters exchange with a protocol), :mod:`.client` and :mod:`.server` (the session bases),
:mod:`.rules` (the rules a transport shares). New code imports from those; this module keeps
``from streamctl.core.protocols.base import X`` working.
"""

from __future__ import annotations

from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import (
    Accepted,
    ClientOptions,
    Endpoint,
    HttpRequest,
    HttpResponse,
    Out,
    Reaction,
    Route,
    Settings,
    Turn,
    Update,
)
from streamctl.core.protocols.protocol import Protocol, SSEProtocol, WSProtocol
from streamctl.core.protocols.rules import SSE_RULES, WS_RULES, excerpt
from streamctl.core.protocols.server import ServerSession

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
    "excerpt",
]
