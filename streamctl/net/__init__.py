"""Network adapters: run a protocol's client session against a real server.

The only client-side code that imports httpx (:mod:`streamctl.net.http`) or websockets
(:mod:`streamctl.net.ws`); both are imported only when a conversation on that transport opens,
so naming these types costs nothing at start-up. Every wire record goes to a
:class:`~streamctl.engine.recorder.Recorder` with its time offset, updates go to an
:class:`Observer` live, and every exchange is bounded by :class:`Limits`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from streamctl.core.protocols.base import ClientOptions
from streamctl.core.protocols.base import Protocol as ChatProtocol
from streamctl.engine.recorder import Recorder
from streamctl.net.base import Limits, NullObserver, Observer, Result, WireEvent

__all__ = [
    "Conversation",
    "Limits",
    "NullObserver",
    "Observer",
    "Result",
    "WireEvent",
    "open_conversation",
]


class Conversation(Protocol):
    """Turns of one conversation: a connection (WebSocket) or a series of requests (HTTP)."""

    async def turn(self, message: str) -> Result: ...

    async def aclose(self) -> None: ...


def open_conversation(
    protocol: ChatProtocol,
    options: ClientOptions,
    base_url: str,
    *,
    recorders: Callable[[], Recorder],
    observer: Observer | None = None,
    limits: Limits | None = None,
) -> Conversation:
    """A conversation with the server at ``base_url`` in ``protocol``.

    ``recorders`` makes the recorder of each transcript: one per request over HTTP, one for
    the whole connection over WebSocket. Nothing connects until the first :meth:`turn`.
    """
    observer = observer or NullObserver()
    limits = limits or Limits()
    # Imported here so a WebSocket conversation never pays for httpx, nor HTTP for websockets.
    if protocol.transport == "ws":
        from streamctl.net.ws import WSConversation  # noqa: PLC0415

        return WSConversation(
            protocol, options, base_url, recorders=recorders, observer=observer, limits=limits
        )
    from streamctl.net.http import HttpConversation  # noqa: PLC0415

    return HttpConversation(
        protocol, options, base_url, recorders=recorders, observer=observer, limits=limits
    )
