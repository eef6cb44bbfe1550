"""One message out, one reply streamed in: what ``send`` and ``record`` have in common."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamctl.cli.common import run
from streamctl.cli.output import Console
from streamctl.cli.views import Stats, Tee
from streamctl.errors import ProtocolErrorEvent, RefusedError, StreamctlError
from streamctl.net.base import Result

if TYPE_CHECKING:
    from streamctl.core.protocols.exchange import ClientOptions
    from streamctl.core.protocols.protocol import ChatProtocol
    from streamctl.engine.recorder import Recorder
    from streamctl.net import Conversation, Limits, Observer

__all__ = ["hinted", "raise_for", "stream_once"]


def open_one(
    protocol: ChatProtocol,
    options: ClientOptions,
    url: str,
    *,
    recorder: Recorder,
    observer: Observer,
    limits: Limits,
) -> Conversation:
    from streamctl.net import open_conversation  # noqa: PLC0415

    return open_conversation(
        protocol, options, url, recorders=lambda: recorder, observer=observer, limits=limits
    )


def stream_once(
    console: Console,
    protocol: ChatProtocol,
    options: ClientOptions,
    url: str,
    *,
    recorder: Recorder,
    view: Observer,
    limits: Limits,
) -> Result:
    """Send ``options.message``, show the reply through ``view``, then the summary line."""
    stats = Stats()
    observer = Tee(view, stats)
    conv = open_one(protocol, options, url, recorder=recorder, observer=observer, limits=limits)
    from streamctl.net import converse  # noqa: PLC0415

    try:
        (result,) = run(converse(conv, [options.message]))
    except KeyboardInterrupt:
        # Ctrl-C: what streamed so far is still worth its summary line.
        console.end_text()
        console.note(stats.summary(Result(None, "interrupted"), recorder.offset()))
        raise
    console.end_text()
    # A refusal or a failed connection has no stream to sum up: the error line says it all.
    if result.response is not None and not isinstance(result.error, RefusedError):
        total = recorder.ended.t if recorder.ended is not None else recorder.offset()
        console.note(stats.summary(result, total))
    return result


def raise_for(result: Result, protocol: ChatProtocol | None = None) -> None:
    """Raise what went wrong with ``result``'s stream, if anything did (with what to pass
    when ``protocol``'s server refused the credentials)."""
    if result.error is not None:
        raise result.error if protocol is None else hinted(protocol, result, result.error)


def hinted(protocol: ChatProtocol, result: Result, error: StreamctlError) -> StreamctlError:
    """``error``, saying what to pass when it is the server refusing the credentials: HTTP
    401/403, or the protocol's error event before any reply."""
    hint = protocol.credentials_hint
    status = None if result.response is None else result.response.status
    refused = status in (401, 403) or (isinstance(error, ProtocolErrorEvent) and not result.replied)
    if hint is None or not refused:
        return error
    better = type(error)(f"{error}; {hint}")
    better.__cause__ = error.__cause__
    return better
