"""A sans-I/O goosed client: the era-B request of the ATLAS ``GooseClient`` (goose-protocol.md
§11) and what each ``/reply`` event means to a person."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from streamctl.core.jsontext import dumps_compact
from streamctl.core.protocols.client import ClientSession, read_object
from streamctl.core.protocols.exchange import ClientOptions, Update
from streamctl.core.sse import SSEEvent
from streamctl.core.transcript import Request

__all__ = ["GooseClient"]


class GooseClient(ClientSession):
    """One ``POST /reply`` exchange; ``history`` is the conversation before this message."""

    def __init__(
        self,
        options: ClientOptions,
        clock: Callable[[], float] = time.time,
        history: tuple[Mapping[str, Any], ...] = (),
    ) -> None:
        self.options = options
        self.clock = clock
        self.history = history
        self.created = int(clock())
        self.reply = ""
        #: Tool output already shown live (``Notification`` events), by tool call id.
        self.streamed: dict[str, str] = {}

    def _user_message(self) -> dict[str, Any]:
        text = {"type": "text", "text": self.options.message}
        return {"role": "user", "created": self.created, "content": [text]}

    def request(self) -> Request:
        """The body ``send_reply(session_name, message)`` posts, with ``/tmp`` as its cwd.

        In era B "every /reply carries the whole conversation" (goose-protocol.md §4.1).
        """
        options = self.options
        body = {
            "messages": [*self.history, self._user_message()],
            "session_id": options.session or "streamctl",
            "session_working_dir": "/tmp",
        }
        headers = (
            ("accept", "text/event-stream"),
            ("cache-control", "no-cache"),
            ("content-type", "application/json"),
            ("x-secret-key", options.secret_key or "test"),
            *options.headers,
        )
        # requests' json= encoding, which the ATLAS client uses.
        return Request("POST", "/reply", headers, json.dumps(body).encode())

    def on_event(self, event: SSEEvent) -> Update:
        obj = read_object(event.data, "event")
        if isinstance(obj, Update):
            return obj
        kind = obj.get("type")
        if kind == "Message" and isinstance(obj.get("message"), dict):
            update = _message(obj["message"], self.streamed)
            self.reply += update.text
            return update
        if kind == "Error":
            return Update(error=str(obj.get("error")))
        if kind == "Finish":
            return Update(done=True)
        if kind == "Ping":
            return Update()
        if kind == "Notification":
            return Update(info=self._notification(obj))
        return Update(info=_other(kind, obj))

    def _notification(self, obj: Mapping[str, Any]) -> str:
        message = obj.get("message")
        params = message.get("params") if isinstance(message, dict) else None
        data = params.get("data") if isinstance(params, dict) else None
        shown = data.get("output") if isinstance(data, dict) else None
        call = str(obj.get("request_id"))
        if isinstance(shown, str):
            self.streamed[call] = self.streamed.get(call, "") + shown
            return f"tool {call}: {shown}"
        return f"tool {call}: {dumps_compact(params)}"

    def follow_up(self, message: str) -> ClientSession:
        """The next message of the same session, with the conversation so far resent."""
        assistant = {
            "role": "assistant",
            "created": int(self.clock()),
            "content": [{"type": "text", "text": self.reply}],
        }
        history = (*self.history, self._user_message(), assistant)
        return GooseClient(replace(self.options, message=message), self.clock, history)


def _items(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = message.get("content")
    items = content if isinstance(content, list) else []
    return [item for item in items if isinstance(item, dict)]


def _message(message: Mapping[str, Any], streamed: Mapping[str, str]) -> Update:
    text, notes = "", []
    for item in _items(message):
        kind = item.get("type")
        if kind == "text" and message.get("role") == "assistant":
            text += str(item.get("text", ""))
        elif kind == "toolRequest":
            notes.append(_tool_call(item.get("toolCall")))
        elif kind == "toolResponse":
            call, result = str(item.get("id")), _tool_result(item.get("toolResult"))
            # The output streamed while the tool ran is the result again: shown once.
            if result.strip() and result.strip() == streamed.get(call, "").strip():
                result = "the output above"
            notes.append(f"tool result {call}: {result}")
    return Update(text=text, info="; ".join(notes) or None)


def _tool_call(call: Any) -> str:
    value = call.get("value") if isinstance(call, dict) else None
    if not isinstance(value, dict):
        return f"tool call failed: {dumps_compact(call)}"
    return f"tool call: {value.get('name')}({dumps_compact(value.get('arguments', {}))})"


def _tool_result(result: Any) -> str:
    value = result.get("value") if isinstance(result, dict) else None
    if isinstance(value, dict):  # v1.17+: a CallToolResult object
        value = value.get("content")
    texts = [i.get("text") for i in value if isinstance(i, dict)] if isinstance(value, list) else []
    first = next((t for t in texts if isinstance(t, str)), None)
    return dumps_compact(result) if first is None else first


def _other(kind: Any, obj: Mapping[str, Any]) -> str:
    if kind == "ModelChange":
        return f"model: {obj.get('model')} ({obj.get('mode')})"
    if kind == "UpdateConversation":
        conversation = obj.get("conversation")
        count = len(conversation) if isinstance(conversation, list) else 0
        return f"conversation replaced ({count} messages)"
    return f"ignored an event of type {kind!r}"
