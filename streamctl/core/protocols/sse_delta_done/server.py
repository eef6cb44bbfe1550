"""sse-delta-done's server side: accepting a stream request and rendering a reply (sans-I/O).

The seed's generator keeps no state: no history, ids, timestamps or counters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii
from typing import Any

from streamctl.core.protocols.exchange import Accepted, HttpRequest, HttpResponse, Out, Turn
from streamctl.core.protocols.sse_delta_done.rules import EOL
from streamctl.core.script import Script

__all__ = ["DONE", "accept", "delta_event", "json_event", "render"]


def accept(request: HttpRequest) -> HttpResponse | Accepted:
    """FastAPI's answer to a stream request: 422 without ``message``, else the stream's head."""
    message = request.query.get("message")
    if message is None:
        # FastAPI's validation error for a missing required query parameter.
        detail = {"type": "missing", "loc": ["query", "message"], "msg": "Field required"}
        return HttpResponse.json(422, {"detail": [{**detail, "input": None}]})
    headers = (
        ("content-type", "text/event-stream; charset=utf-8"),
        ("cache-control", "no-cache"),
        ("connection", "keep-alive"),
        ("x-accel-buffering", "no"),
    )
    return Accepted(Turn(message), headers)


def render(script: Script) -> Sequence[Out]:
    """The writes that stream ``script``: deltas, tool events, an error, then done."""
    out: list[Out] = []
    tool = script.tool
    for index, token in enumerate(script.sent_tokens):
        if tool is not None and tool.after == index:
            out.append(Out(json_event({"tool_name": tool.name}, "tool")))
        out.append(Out(delta_event(token.text), token.delay_ms, token=index))
    if tool is not None and tool.after >= len(script.sent_tokens):
        out.append(Out(json_event({"tool_name": tool.name}, "tool")))
    if script.error is not None:
        out.append(Out(json_event({"error": script.error.message})))
    out.append(Out(DONE, terminal=True))
    return out


def delta_event(text: str) -> bytes:
    # The hot path: exactly json.dumps({"delta": text}) with its defaults (ASCII escapes,
    # ", " and ": "), by the C string escaper json.dumps itself uses; framed with CRLF (EOL)
    # in one f-string.
    delta = encode_basestring_ascii(text)
    return f'event: message\r\ndata: {{"delta": {delta}}}\r\n\r\n'.encode()


def json_event(obj: dict[str, Any], name: str = "message") -> bytes:
    # json.dumps defaults, exactly as the seed's generator calls it; its output is one line,
    # so the event is framed directly (encode_event's checks cost more than the event).
    return f"event: {name}{EOL}data: {json.dumps(obj)}{EOL}{EOL}".encode()


#: The event that ends every reply: the same bytes each time.
DONE = json_event({"done": True})
