"""chunk-complete's client side: what ``streamctl send`` sends, and what each message means."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from streamctl.core.protocols.chunk_complete.rules import encode
from streamctl.core.protocols.client import ClientSession, read_object
from streamctl.core.protocols.exchange import ClientOptions, Update

__all__ = ["ChunkCompleteClient", "iso_timestamp"]


def iso_timestamp(seconds: float) -> str:
    """``seconds`` as the seed's client writes it: ISO 8601, UTC, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ChunkCompleteClient(ClientSession):
    """Send ``options.message`` stamped with ``clock()`` (seconds), then read the reply."""

    def __init__(self, options: ClientOptions, clock: Callable[[], float]) -> None:
        self.options = options
        self.clock = clock

    def opening(self) -> Sequence[str]:
        stamp = iso_timestamp(self.clock())
        return [encode({"message": self.options.message, "timestamp": stamp})]

    def on_message(self, text: str) -> Update:
        obj = read_object(text)
        if isinstance(obj, Update):
            return obj
        kind = obj.get("type")
        if kind == "chunk":
            chunk = obj.get("text")
            return Update(text=chunk if isinstance(chunk, str) else "")
        if kind == "complete":
            return Update(done=True)
        if kind == "error":
            # An error ends the exchange: no complete follows it.
            message = obj.get("message")
            reason = message if isinstance(message, str) else f"malformed error: {text[:80]!r}"
            return Update(error=reason, done=True)
        return Update(info=f"ignored a message of type {kind!r}")
