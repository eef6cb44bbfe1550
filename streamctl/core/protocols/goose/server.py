"""goosed's server side, sans-I/O: accept a ``/reply`` request, plan the events that stream a
script, keep session history, and answer ``GET /status`` and ``GET /sessions/{session_id}``.

Era B (goosed about v1.3 to v1.7) by default; ``GooseSettings.variant == "e"`` speaks the
v1.18+ request and event shapes (goose-protocol.md §5.3, §6.3, §7).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streamctl.core.jsontext import dumps_compact
from streamctl.core.protocols.exchange import (
    Accepted,
    HttpRequest,
    HttpResponse,
    Out,
    Turn,
)
from streamctl.core.protocols.goose.conversation import StoredMessage, read
from streamctl.core.protocols.goose.request import REQUEST_B, REQUEST_E, deserialize, read_json
from streamctl.core.protocols.goose.state import GooseSettings, GooseState, Session
from streamctl.core.script import Script, ToolCall

__all__ = [
    "accept",
    "history",
    "plan",
    "render",
    "session_answer",
    "status_answer",
]

PING: dict[str, Any] = {"type": "Ping"}
# §6.1: "content-type: text/event-stream, cache-control: no-cache, connection: keep-alive".
STREAM_HEADERS = (
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("connection", "keep-alive"),
)
_TOKEN_STATE = dict.fromkeys(
    (
        "inputTokens",
        "outputTokens",
        "totalTokens",
        "accumulatedInputTokens",
        "accumulatedOutputTokens",
        "accumulatedTotalTokens",
    ),
    0,
)
#: A session's token counts (§4.1): total, input, output, then the same accumulated; all null.
_SESSION_TOKENS = dict.fromkeys(
    f"{kind}{count}_tokens"
    for kind in ("", "accumulated_")
    for count in ("total", "input", "output")
)
_VISIBLE = {"userVisible": True, "agentVisible": True}
_UNAUTHORIZED = HttpResponse(401)  # §3: "401 Unauthorized with an empty body", in every era


# --- accepting ------------------------------------------------------------------------------


def _authorized(request: HttpRequest, own: GooseSettings) -> bool:
    return request.headers.get("x-secret-key") == own.secret


def accept(request: HttpRequest, state: GooseState) -> HttpResponse | Accepted:
    """A refusal exactly as goosed words it, or the turn to stream a reply to."""
    # §3: up to v1.7 the handler checks the key itself, after axum has parsed the body; from
    # v1.8 a middleware checks it before the body is read.
    if state.variant_e and not _authorized(request, state.own):
        return _UNAUTHORIZED
    body = read_json(request.headers.get("content-type"), request.body)
    if isinstance(body, HttpResponse):
        return body
    # A body that deserializes is read compactly, in C; any other is explained serde's way.
    compact = read(body, state.variant_e)
    kind = REQUEST_E if state.variant_e else REQUEST_B
    fields = compact if compact is not None else deserialize(body, kind)
    if isinstance(fields, HttpResponse):
        return fields
    if not _authorized(request, state.own):
        return _UNAUTHORIZED
    return Accepted(_turn(fields, state), STREAM_HEADERS)


def _split_b(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, list[Any]]:
    """The era-B body's new user message (the last one) and the conversation before it."""
    messages: list[Any] = obj["messages"]
    # From the end: a list of every user message's index was an int object per message.
    indexes = range(len(messages) - 1, -1, -1)
    last = next((i for i in indexes if messages[i]["role"] == "user"), None)
    if last is None:
        return None, messages
    return messages[last], messages[:last]


def _split_e(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, list[Any]]:
    prior = obj.get("override_conversation") or obj.get("conversation_so_far") or []
    return obj["user_message"], prior


def _bad_name(name: str) -> str | None:
    """goosed's session-name check (era B), as the in-stream error it leads to (§4.1, §6.6)."""
    if not 1 <= len(name.encode()) <= 255:
        return "Invalid session name length"
    if ".." in name or "/" in name or "\\" in name:
        return "Invalid characters in session name"
    return None


def _turn(obj: Mapping[str, Any], state: GooseState) -> Turn:
    created = int(state.settings.clock())
    user, prior = _split_e(obj) if state.variant_e else _split_b(obj)
    session_id = obj.get("session_id")
    if session_id is None:
        # §4.1: "the server invents one from local time, format YYYYMMDD_HHMMSS".
        session_id = datetime.fromtimestamp(created).strftime("%Y%m%d_%H%M%S")
    problem = None if state.variant_e else _bad_name(session_id)
    stored = state.sessions.get(session_id, Session())
    state.replies += 1
    ids = {
        "reply": state.replies,
        "created": created,
        "user_message": None if user is None else _stored(user, state.variant_e),
        "prior": [_stored(m, state.variant_e) for m in prior],
        "working_dir": obj.get("session_working_dir"),
        "refusal": None if problem is None else f"Failed to get session path: {problem}",
    }
    index = _user_turns(prior) if prior else stored.user_turns
    return Turn("\n".join(_texts(user)) if user else "", index, session_id, ids)


def _user_turns(messages: Sequence[Mapping[str, Any]]) -> int:
    return sum(1 for m in messages if m["role"] == "user" and _has_text(m))


def _has_text(message: Mapping[str, Any]) -> bool:
    if isinstance(message, StoredMessage):
        return message.has_text  # without decoding it
    return bool(_texts(message))


def _texts(message: Mapping[str, Any]) -> list[str]:
    return [item["text"] for item in message["content"] if item["type"] == "text"]


def _stored(message: Mapping[str, Any], variant_e: bool) -> Mapping[str, Any]:
    """A client's message as goosed keeps it (serde drops unknown fields, fills defaults)."""
    if isinstance(message, StoredMessage):
        return message  # kept so already
    # Every body that deserializes is read compactly (StoredMessage, above); a dict comes
    # only from the serde-style reader, should it ever take a body the compact one did not.
    metadata = {"metadata": message["metadata"]} if variant_e else {}
    return {
        "id": message.get("id"),
        "role": message["role"],
        "created": message.get("created", 0),
        "content": message["content"],
        **metadata,
    }


# --- streaming ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One event of a planned reply, before it is framed."""

    event: dict[str, Any]
    delay_ms: float = 0.0
    token: int | None = None
    terminal: bool = False


def _msg_uuid(reply: int) -> str:
    # "id msg_<uuid4>": a version-4 layout, but derived from the reply number (deterministic).
    digest = hashlib.sha256(f"goose-tool-result-{reply}".encode()).digest()
    return f"msg_{uuid.UUID(bytes=digest[:16], version=4)}"


class _Planner:
    """Builds the event list of one reply: the ids and shapes of the emulated goosed."""

    def __init__(self, turn: Turn, state: GooseState) -> None:
        self.reply: int = turn.ids.get("reply", 0)
        self.created: int = turn.ids.get("created") or int(state.settings.clock())
        self.variant_e = state.variant_e

    def message(self, message_id: str | None, role: str, content: list[Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "id": message_id,
            "role": role,
            "created": self.created,
            "content": content,
        }
        if self.variant_e:
            message["metadata"] = dict(_VISIBLE)
            return {"type": "Message", "message": message, "token_state": dict(_TOKEN_STATE)}
        return {"type": "Message", "message": message}

    def finish(self) -> dict[str, Any]:
        if self.variant_e:
            return {"type": "Finish", "reason": "stop", "token_state": dict(_TOKEN_STATE)}
        return {"type": "Finish", "reason": "stop"}

    def round_id(self, number: int) -> str:
        return f"chatcmpl-{self.reply}-{number}"

    def tool_round(self, tool: ToolCall) -> list[Step]:
        call = {"name": tool.name, "arguments": dict(tool.arguments)}
        request = {"type": "toolRequest", "id": tool.id, "toolCall": _success(call)}
        params = {
            "level": "info",
            "data": {"type": "shell", "stream": "stdout", "output": tool.output},
        }
        notification = {"method": "notifications/message", "params": params}
        output: Any = [{"type": "text", "text": tool.output}]
        if self.variant_e:
            # §7.2: "toolResult.value: ≤ v1.16 an array …; v1.17+ an MCP CallToolResult object".
            output = {"content": output, "isError": False}
        response = {"type": "toolResponse", "id": tool.id, "toolResult": _success(output)}
        return [
            Step(self.message(self.round_id(1), "assistant", [request])),
            Step({"type": "Notification", "request_id": tool.id, "message": notification}),
            Step(self.message(_msg_uuid(self.reply), "user", [response])),
        ]


def _success(value: Any) -> dict[str, Any]:
    return {"status": "success", "value": value}


def plan(script: Script, turn: Turn, state: GooseState) -> list[Step]:
    """The events that stream ``script`` as goosed would (§6.4, §6.6, §10.1)."""
    refusal = turn.ids.get("refusal")
    if refusal is not None:
        return [Step({"type": "Error", "error": refusal}, terminal=True)]
    error = script.error
    if error is not None and error.after == 0:
        # The run never started: a single Error, no Ping, no Finish.
        return [Step({"type": "Error", "error": error.message}, terminal=True)]
    planner = _Planner(turn, state)
    steps = [Step(PING)]
    sent, tool = script.sent_tokens, script.tool
    # A tool round after every token runs once they are all sent; an error stops it before.
    tool_at = -1 if tool is None else min(tool.after, len(script.tokens))
    model_round = 1
    for index, token in enumerate(sent):
        if tool is not None and index == tool_at:
            steps += planner.tool_round(tool)
            model_round = 2
        text = planner.message(planner.round_id(model_round), "assistant", [_text(token.text)])
        steps.append(Step(text, token.delay_ms, index))
    if tool is not None and tool_at == len(sent):
        steps += planner.tool_round(tool)
    if error is not None:
        steps.append(Step({"type": "Error", "error": error.message}))
    steps.append(Step(planner.finish(), terminal=True))
    return steps


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def frame(event: Mapping[str, Any]) -> bytes:
    """One SSE frame, as goosed writes it: ``data: <compact JSON>\\n\\n``, "type" first."""
    data = dumps_compact(event)
    return f"data: {data}\n\n".encode()


def render(script: Script, turn: Turn, state: GooseState) -> list[Out]:
    """The writes that stream ``script``; the engine adds a Ping every 500 ms in between."""
    return [
        Out(frame(step.event), step.delay_ms, step.token, step.terminal)
        for step in plan(script, turn, state)
    ]


# --- history --------------------------------------------------------------------------------


def history(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """The streamed messages as a client merges them (§6.4): deltas with one id form one
    message."""
    merged: list[dict[str, Any]] = []
    for step in steps:
        if step.event["type"] != "Message":
            continue
        message = step.event["message"]
        last = merged[-1] if merged else None
        if last is not None and last["id"] == message["id"]:
            _merge(last["content"], message["content"])
        else:
            merged.append({**message, "content": [dict(i) for i in message["content"]]})
    return merged


def _merge(content: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    if len(new) == 1 and new[0]["type"] == "text" and content[-1]["type"] == "text":
        content[-1]["text"] += new[0]["text"]
    else:
        content.extend(dict(i) for i in new)


def finish(turn: Turn, script: Script, state: GooseState, completed: bool) -> None:
    """Store the exchange: goosed saves the request's conversation plus what it streamed.

    When the client left early (``completed`` false) the caller passes only the part of the
    script that went out (``streamctl.engine.pacing.sent_script``); goosed, too, saves the
    messages it had sent when it noticed the client was gone.
    """
    if turn.ids.get("refusal") is not None or (script.error and script.error.after == 0):
        return  # the run never started, so goosed saved nothing
    session = state.sessions.setdefault(turn.conversation, Session())
    session.working_dir = turn.ids.get("working_dir") or session.working_dir
    prior: list[dict[str, Any]] = turn.ids.get("prior") or []
    # A client that resends the conversation is the source of truth (§4.1); one that sends
    # only its new message continues the stored one.
    messages = list(prior) if prior else session.messages
    turns = _user_turns(prior) if prior else session.user_turns
    user = turn.ids.get("user_message")
    messages += [user] if user is not None else []
    messages += history(plan(script, turn, state))
    session.messages = messages
    session.user_turns = turns + _user_turns([user] if user is not None else [])


# --- other endpoints ------------------------------------------------------------------------


def status_answer(request: HttpRequest, state: GooseState) -> HttpResponse:
    """``GET /status``: JSON up to v1.7, plain ``ok`` from v1.8; no key needed (§3)."""
    if state.variant_e:
        return HttpResponse.text(200, "ok")
    return HttpResponse.json(200, {"status": "ok"})


def session_answer(request: HttpRequest, state: GooseState) -> HttpResponse:
    """``GET /sessions/{session_id}``: the era-B session with its metadata (§4.1)."""
    if not _authorized(request, state.own):
        return _UNAUTHORIZED
    name = request.path_params.get("session_id", "")
    if _bad_name(name) is not None:
        return HttpResponse(400)
    session = state.sessions.get(name, Session())
    metadata = {
        "working_dir": session.working_dir,
        "description": "",
        "schedule_id": None,
        "project_id": None,
        "message_count": len(session.messages),
        **_SESSION_TOKENS,
    }
    return HttpResponse.json(
        200, {"sessionId": name, "metadata": metadata, "messages": session.messages}
    )
