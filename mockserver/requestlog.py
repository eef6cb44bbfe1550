"""The server's log: one line per request and, on request, one per event, on stderr.

``streamctl serve`` logs every request when it is over (time, protocol, method and path, status,
outcome, scenario, tokens written, duration); ``--log-events`` adds every event the server sent
and received, ``--log-format json`` writes both as JSON lines (CI artefacts). Nothing here is on
the server's path when logging is off: :func:`logged` is then not installed at all.

It sits in front of the whole app as ASGI middleware and learns the protocol's view of a
request (scenario, outcome, tokens) from the request's journal entry, which the journal hands
over when the route opens it (:attr:`~mockserver.journal.Journal.on_open`). Secrets are
redacted as in the journal.
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mockserver.asgi import ASGIApp, Message, Receive, Scope, Send, ws_payloads
from mockserver.journal import Entry, Journal
from streamctl.core.redact import redact_body, redact_text
from streamctl.core.sse import SSEDecoder

__all__ = ["RequestLog", "logged"]

Write = Callable[[str], None]
#: Characters of an event's data a text line shows (JSON lines keep all of it).
TEXT_LIMIT = 300


@dataclass
class _Request:
    """One request being served: what the log line needs that the journal does not keep."""

    method: str
    path: str
    start: float
    wall: float
    status: int | None = None
    #: Body chunks or WebSocket messages sent: the count when the route could not give one.
    writes: int = 0
    entry: Entry | None = None
    decoder: SSEDecoder | None = None
    events: list[dict[str, Any]] = field(default_factory=list)


_CURRENT: contextvars.ContextVar[_Request] = contextvars.ContextVar("streamctl_request")


def _stamp(wall: float, as_json: bool) -> str:
    if as_json:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + f".{wall % 1:.3f}"[2:] + "Z"
    return time.strftime("%H:%M:%S", time.localtime(wall)) + f".{wall % 1:.3f}"[2:]


class RequestLog:
    """Formats and writes the lines: ``requests`` one per request, ``events`` one per event."""

    def __init__(
        self,
        write: Write,
        *,
        requests: bool = True,
        events: bool = False,
        as_json: bool = False,
        clock: Callable[[], float] = time.perf_counter,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.write = write
        self.requests = requests
        self.events = events
        self.as_json = as_json
        self.clock = clock
        self.wall_clock = wall_clock

    def opened(self, entry: Entry) -> None:
        """The journal opened ``entry`` for the request being served (its journal hook)."""
        current = _CURRENT.get(None)
        if current is not None:
            current.entry = entry

    def request_line(self, request: _Request) -> str:
        entry = request.entry
        fields: dict[str, Any] = {
            "time": _stamp(request.wall, self.as_json),
            "protocol": entry.protocol if entry else None,
            "method": request.method,
            "path": request.path,
            "status": request.status,
            "outcome": _outcome(entry),
            "scenario": entry.scenario if entry else None,
            "tokens": _tokens(request),
            "duration_ms": round((self.clock() - request.start) * 1000, 1),
        }
        if self.as_json:
            return json.dumps({"kind": "request", **fields}, ensure_ascii=False)
        status = "-" if request.status is None else str(request.status)
        parts = [fields["time"], f"{fields['protocol'] or '-':<14}", request.method, request.path]
        parts.append(status)
        if entry is not None:
            parts += [
                fields["outcome"],
                f"scenario={entry.scenario or '-'}",
                f"{fields['tokens']} tokens",
            ]
        parts.append(f"{fields['duration_ms']:g} ms")
        return " ".join(parts)

    def event_line(self, request: _Request, direction: str, event: dict[str, Any]) -> str:
        entry = request.entry
        fields = {
            "time": _stamp(self.wall_clock(), self.as_json),
            "request": entry.id if entry else None,
            "protocol": entry.protocol if entry else None,
            "path": request.path,
            "direction": direction,
            **event,
        }
        if self.as_json:
            return json.dumps({"kind": "event", **fields}, ensure_ascii=False)
        shown = json.dumps(event, ensure_ascii=False)
        if len(shown) > TEXT_LIMIT:
            shown = shown[: TEXT_LIMIT - 1] + "…"
        arrow = "->" if direction == "sent" else "<-"
        number = f"#{entry.id}" if entry else "#-"
        return f"{fields['time']} {number} {fields['protocol'] or '-'} {arrow} {shown}"

    def event(self, request: _Request, direction: str, event: dict[str, Any]) -> None:
        self.write(self.event_line(request, direction, event))

    def sent(self, request: _Request, message: Message) -> None:
        """Note what the server sends: the status, and with events on each event."""
        kind = message["type"]
        if kind == "websocket.send" or (kind == "http.response.body" and message.get("more_body")):
            request.writes += 1
        if kind in ("http.response.start", "websocket.http.response.start"):
            request.status = message["status"]
            request.decoder = SSEDecoder() if _is_event_stream(message) else None
        elif kind == "websocket.accept":
            request.status = 101
        elif not self.events or request.entry is None:
            return
        elif kind == "http.response.body" and message.get("body"):
            for event in _body_events(request, message["body"]):
                self.event(request, "sent", event)
        elif kind == "websocket.send":
            for payload in ws_payloads(message):
                self.event(request, "sent", _ws_event(payload))
        elif kind == "websocket.close":
            self.event(request, "sent", {"close": message.get("code", 1000)})

    def received(self, request: _Request, message: Message) -> None:
        """With events on, note each client WebSocket message and the request body."""
        kind = message["type"]
        if kind == "websocket.receive":
            text = message.get("text")
            data = message.get("bytes")
            event = {"data": redact_text(text)} if text is not None else _ws_event(data)
            self.event(request, "received", event)
        elif kind == "http.request" and message.get("body"):
            body = redact_body(message["body"]).decode("utf-8", "replace")
            self.event(request, "received", {"body": body})
        elif kind == "websocket.disconnect":
            self.event(request, "received", {"close": message.get("code")})


def _tokens(request: _Request) -> int | None:
    if request.entry is None:
        return None
    # The route counts a reply's writes when it ends; one cut off never said.
    counted = sum(r.get("writes", 0) for r in request.entry.replies)
    return counted or request.writes


def _outcome(entry: Entry | None) -> str | None:
    if entry is None:
        return None
    # Still open when its request is over: cut off (the server stopping, say) before the route
    # could say how it ended.
    return "unfinished" if entry.outcome == "open" else entry.outcome


def _is_event_stream(message: Message) -> bool:
    for name, value in message.get("headers") or ():
        if name.lower() == b"content-type":
            return bool(value.lower().startswith(b"text/event-stream"))
    return False


def _body_events(request: _Request, body: bytes) -> list[dict[str, Any]]:
    if request.decoder is None:
        text = body.decode("utf-8", "replace")
        return [{"data": line} for line in text.splitlines() if line.strip()]
    return [
        {k: v for k, v in e.as_dict().items() if v not in ("", None)}
        for e in request.decoder.feed(body)
    ]


def _ws_event(payload: bytes | str | None) -> dict[str, Any]:
    if isinstance(payload, str):
        return {"data": payload}
    return {"bytes": len(payload or b"")}


def logged(app: ASGIApp, log: RequestLog, journal: Journal) -> ASGIApp:
    """``app`` with every HTTP request and WebSocket connection logged through ``log``."""
    journal.on_open = log.opened

    async def logging_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        method = "WS" if scope["type"] == "websocket" else scope["method"]
        request = _Request(method, scope["path"], log.clock(), log.wall_clock())
        token = _CURRENT.set(request)

        async def logged_send(message: Message) -> None:
            log.sent(request, message)
            await send(message)

        async def logged_receive() -> Message:
            message = await receive()
            if log.events and request.entry is not None:
                log.received(request, message)
            return message

        try:
            await app(scope, logged_receive if log.events else receive, logged_send)
        finally:
            _CURRENT.reset(token)
            if log.requests:
                log.write(log.request_line(request))

    return logging_app
