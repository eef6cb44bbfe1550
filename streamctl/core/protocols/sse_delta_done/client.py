"""sse-delta-done's client side: the EventSource request and what each event means."""

from __future__ import annotations

from urllib.parse import urlencode

from streamctl.core.protocols.client import ClientSession, read_object
from streamctl.core.protocols.exchange import ClientOptions, Update
from streamctl.core.protocols.sse_delta_done.rules import PATH
from streamctl.core.sse import SSEEvent
from streamctl.core.transcript import Request

__all__ = ["SSEDeltaDoneClient"]


class SSEDeltaDoneClient(ClientSession):
    """GET the stream for ``options.message`` as an EventSource does, then read its events."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options

    def request(self) -> Request:
        target = f"{PATH}?{urlencode({'message': self.options.message})}"
        headers = (("accept", "text/event-stream"), *self.options.headers)
        return Request("GET", target, headers)

    def on_event(self, event: SSEEvent) -> Update:
        obj = read_object(event.data, "event")
        if isinstance(obj, Update):
            return obj
        if event.type == "tool":
            return Update(info=f"tool: {obj.get('tool_name')}")
        if obj.get("done"):
            return Update(done=True)
        if "error" in obj:
            return Update(error=str(obj["error"]))
        delta = obj.get("delta")
        return Update(text=delta if isinstance(delta, str) else "")
