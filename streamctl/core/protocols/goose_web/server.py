"""The server side of goose-web: one WebSocket session per connection, and the HTTP routes.

What ``goose web`` does (goose's ``crates/goose-cli/src/commands/web.rs``), and where the mock
departs from it:

* A ``{"type": "message", "content", "session_id", "timestamp"}`` starts a reply in that session:
  each text piece a ``response {content, role: "assistant", timestamp}`` (milliseconds), a tool
  call a ``tool_request {id, tool_name, arguments}`` and its result a ``tool_response {id,
  result, is_error}``, reasoning a ``thinking {message}``; then always ``complete {message:
  "Response complete"}``, also after an ``error {message: "Error: …"}``. A full context is
  ``context_exceeded {message}`` (older goose web versions; the reply then completes).
* ``{"type": "cancel", "session_id"}`` during a reply stops it and answers ``cancelled {message:
  "Operation cancelled"}``; with no reply running it is ignored. (web.rs may also send a second
  ``cancelled`` from the aborted task; the mock sends one.)
* goose web drops a message it cannot parse and only logs it. The mock answers ``error
  {message}`` saying what is wrong (and no ``complete``: no reply started), so a client under
  test sees its mistake.
* ``GET /api/health`` is ``{"status": "ok", "service": "goose-web"}``; ``GET /api/sessions`` lists
  the sessions messages went to; ``GET /api/sessions/{id}`` is ``{metadata, messages}`` (goose's
  message shape), or status 200 with ``{"error"}`` for an unknown id, as web.rs answers.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamctl.core.jsontext import dumps_compact, json_object
from streamctl.core.protocols.exchange import (
    Endpoint,
    HttpRequest,
    HttpResponse,
    Out,
    Reaction,
    Route,
    Settings,
    Turn,
)
from streamctl.core.protocols.goose_web.rules import CLIENT_SCHEMAS
from streamctl.core.protocols.server import ServerSession
from streamctl.core.script import Script
from streamctl.core.spec import validate

__all__ = ["CANCELLED", "COMPLETE", "ROUTES", "Session", "State", "encode"]

COMPLETE = "Response complete"
CANCELLED = "Operation cancelled"
WORKING_DIR = "/streamctl/mock"


def encode(kind: str, **fields: Any) -> str:
    """A server message as serde writes it: the ``type`` tag first, compact JSON."""
    return dumps_compact({"type": kind, **fields})


@dataclass
class Stored:
    """One session's conversation, in goose's message shape."""

    created: int
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class State:
    """Server-side state shared by every connection: the sessions and their history."""

    settings: Settings
    sessions: dict[str, Stored] = field(default_factory=dict)

    def now_ms(self) -> int:
        return int(self.settings.clock() * 1000)

    def said(self, session_id: str, role: str, text: str) -> None:
        stored = self.sessions.setdefault(session_id, Stored(self.now_ms() // 1000))
        message = {
            "id": f"msg_{len(stored.messages) + 1}",
            "role": role,
            "created": self.now_ms() // 1000,
            "content": [{"type": "text", "text": text}],
        }
        stored.messages.append(message)


class Session(ServerSession):
    """One connection of the imitated ``goose web``: each message gets a streamed reply."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.turns: dict[str, int] = {}
        #: The last reply was cut short (by a cancel): the cancel gets its answer.
        self.cut = False

    def greeting(self) -> Sequence[str]:
        return ()  # goose web says nothing until the client does

    def receive(self, text: str) -> Reaction:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            return _refuse("Failed to parse WebSocket message: not JSON")
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind not in CLIENT_SCHEMAS:
            return _refuse(f"Failed to parse WebSocket message: unknown type {kind!r}")
        problems = validate(obj, CLIENT_SCHEMAS[kind])
        if problems:
            return _refuse("Failed to parse WebSocket message: " + "; ".join(problems))
        if kind == "cancel":
            return self._cancel()
        return Reaction(turn=self._turn(obj["session_id"], obj["content"]))

    def interrupts(self, text: str) -> bool:
        """A cancel stops the reply in progress at once (it does not wait its turn)."""
        try:
            return json_object(text).get("type") == "cancel"
        except ValueError:
            return False

    def _cancel(self) -> Reaction:
        if not self.cut:
            return Reaction()  # nothing running: web.rs finds no abort handle
        self.cut = False
        return Reaction(send=(encode("cancelled", message=CANCELLED),))

    def _turn(self, session_id: str, content: str) -> Turn:
        index = self.turns.get(session_id, 0)
        self.turns[session_id] = index + 1
        self.state.said(session_id, "user", content)
        self.cut = False
        return Turn(content, index, session_id)

    def render_key(self, turn: Turn) -> Hashable | None:
        return None  # every response carries the time it was made

    def render(self, script: Script, turn: Turn) -> Sequence[Out]:
        out: list[Out] = []
        if script.thinking:
            out.append(Out(encode("thinking", message=script.thinking)))
        now = self.state.now_ms()
        tool = script.tool
        for index, token in enumerate(script.sent_tokens):
            if tool is not None and tool.after == index:
                out.extend(_tool(script))
            payload = encode("response", content=token.text, role="assistant", timestamp=now)
            out.append(Out(payload, token.delay_ms, token=index))
        if tool is not None and tool.after >= len(script.sent_tokens):
            out.extend(_tool(script))
        if script.error is not None:
            kind = "context_exceeded" if script.error.kind == "context_exceeded" else "error"
            prefix = "" if kind == "context_exceeded" else "Error: "
            out.append(Out(encode(kind, message=prefix + script.error.message)))
        return [*out, Out(encode("complete", message=COMPLETE), terminal=True)]

    def finish(self, turn: Turn, script: Script, completed: bool) -> None:
        self.cut = not completed
        if script.text:
            self.state.said(turn.conversation, "assistant", script.text)


def _tool(script: Script) -> list[Out]:
    tool = script.tool
    assert tool is not None  # render asks first
    request = encode(
        "tool_request", id=tool.id, tool_name=tool.name, arguments=dict(tool.arguments)
    )
    response = encode("tool_response", id=tool.id, result=tool.output, is_error=False)
    return [Out(request), Out(response)]


def _refuse(message: str) -> Reaction:
    return Reaction(send=(encode("error", message=message),))


# --- HTTP routes --------------------------------------------------------------------------


def _health(request: HttpRequest, state: State) -> HttpResponse:
    return HttpResponse.json(200, {"status": "ok", "service": "goose-web"})


def _sessions(request: HttpRequest, state: State) -> HttpResponse:
    listed = [
        {
            "name": name,
            "path": name,
            "description": "Web session",
            "message_count": len(stored.messages),
            "working_dir": WORKING_DIR,
        }
        for name, stored in state.sessions.items()
    ]
    return HttpResponse.json(200, {"sessions": listed})


def _session(request: HttpRequest, state: State) -> HttpResponse:
    name = request.path_params.get("session_id", "")
    stored = state.sessions.get(name)
    if stored is None:
        # web.rs answers SessionManager's error as JSON, with status 200.
        return HttpResponse.json(200, {"error": f"Session not found: {name}"})
    metadata = {
        "id": name,
        "name": "Web session",
        "working_dir": WORKING_DIR,
        "message_count": len(stored.messages),
        "created_at": stored.created,
    }
    return HttpResponse.json(200, {"metadata": metadata, "messages": stored.messages})


ROUTES = (
    Route(Endpoint("GET", "/api/health", "{status: ok, service: goose-web}"), _health),
    Route(Endpoint("GET", "/api/sessions", "the sessions and their message counts"), _sessions),
    Route(
        Endpoint("GET", "/api/sessions/{session_id}", "one session's metadata and messages"),
        _session,
    ),
)
