"""Network adapters: run a protocol's client session against a real server.

The only client-side code that imports httpx (:mod:`streamctl.net.http`) or websockets
(:mod:`streamctl.net.ws`); both are imported only when a conversation on that transport opens,
so naming these types costs nothing at start-up. Every wire record goes to a
:class:`~streamctl.engine.recorder.Recorder` with its time offset, updates go to an
:class:`Observer` live, and every exchange is bounded by :class:`Limits`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.transcript import Transcript
from streamctl.engine.recorder import NullSink, Recorder
from streamctl.errors import Unreachable
from streamctl.net.base import Limits, NullObserver, Observer, Result, WireEvent
from streamctl.net.urls import endpoint_base

__all__ = [
    "Conversation",
    "Limits",
    "NullObserver",
    "Observer",
    "Result",
    "WireEvent",
    "converse",
    "exchange",
    "open_conversation",
    "transcript_meta",
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
    base_url, options = _endpoint_url(protocol, options, base_url)
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


def _endpoint_url(
    protocol: ChatProtocol, options: ClientOptions, url: str
) -> tuple[str, ClientOptions]:
    """A full endpoint URL is the server's URL plus the endpoint: keep the server's, and let
    the placeholders it filled in (``/chats/3/…``) choose the chat or session the options do
    not name."""
    base, values = endpoint_base(url, (e.path for e in protocol.endpoints))
    return base, replace(
        options,
        chat=options.chat or values.get("chat_id"),
        session=options.session or values.get("session_id"),
    )


async def converse(
    conversation: Conversation, messages: list[str], *, stop_on_error: bool = True
) -> list[Result]:
    """Send ``messages`` one turn at a time; the conversation is closed whatever happens."""
    results: list[Result] = []
    try:
        for message in messages:
            result = await conversation.turn(message)
            results.append(result)
            if stop_on_error and result.outcome in ("error", "timeout"):
                break
    finally:
        await conversation.aclose()
    return results


async def exchange(
    protocol: ChatProtocol,
    options: ClientOptions,
    base_url: str,
    messages: list[str],
    limits: Limits | None = None,
    *,
    observer: Observer | None = None,
) -> list[Transcript]:
    """Send ``messages`` and return what came back as transcripts, in memory (one per HTTP
    request, one for a WebSocket connection): what a live conformance check reads.

    Raises :class:`~streamctl.errors.Unreachable` when there is no server to talk to.
    """
    recorders: list[Recorder] = []

    def new_recorder() -> Recorder:
        meta = transcript_meta(base_url)
        recorders.append(Recorder(NullSink(), protocol.name, protocol.transport, meta=meta))
        return recorders[-1]

    conversation = open_conversation(
        protocol, options, base_url, recorders=new_recorder, observer=observer, limits=limits
    )
    for result in await converse(conversation, messages):
        if isinstance(result.error, Unreachable):
            raise result.error
    return [recorder.transcript() for recorder in recorders]


def transcript_meta(url: str) -> dict[str, Any]:
    """What a transcript's header says about where it came from (the URL without secrets)."""
    from streamctl import __version__  # noqa: PLC0415
    from streamctl.core.redact import redact_target  # noqa: PLC0415

    return {"recorder": f"streamctl {__version__}", "url": redact_target(url)}
