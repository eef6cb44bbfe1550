"""ws-events' client side: what ``streamctl send`` sends, and what each message means."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import ClientOptions, Update
from streamctl.core.protocols.ws_events.rules import encode

__all__ = ["WSEventsClient"]


class WSEventsClient(ClientSession):
    """Create a chat (or join ``options.chat``) with ``options.token``, then send the message.

    ``joined`` names the chat this connection is already in: a follow-up sends its message
    straight away, as the seed's client does once a chat is open.
    """

    def __init__(self, options: ClientOptions, joined: str | None = None) -> None:
        self.options = options
        self.joined = joined

    def opening(self) -> Sequence[str]:
        if self.joined is not None:
            return [encode("message", {"message": self.options.message})]
        # Without a token the request still goes out, so the user sees the server's answer.
        auth = {} if self.options.token is None else {"token": self.options.token}
        if self.options.chat:
            return [encode("join_chat", {**auth, "chatId": self.options.chat})]
        return [encode("create_chat", auth)]

    def on_message(self, text: str) -> Update:
        try:
            obj = json.loads(text)
        except ValueError:
            return Update(info=f"ignored a non-JSON message: {text[:80]!r}")
        data = obj.get("data") if isinstance(obj, dict) else None
        if not isinstance(data, dict):
            return Update(info=f"ignored a message without {{type, data}}: {text[:80]!r}")
        kind = obj.get("type")
        if kind in ("chat_joined", "chat_created"):
            chat = data.get("chatId")
            self.joined = chat if isinstance(chat, str) else str(chat)
            message = encode("message", {"message": self.options.message})
            return Update(send=(message,), info=f"chat {chat}")
        if kind == "assistant_message_token":
            token = data.get("token")
            return Update(text=token if isinstance(token, str) else "")
        if kind == "assistant_message_complete":
            return Update(done=True)
        if kind == "error":
            # Nothing else comes for this exchange after an error, so it is also the end.
            return Update(error=str(data.get("message")), done=True)
        return Update()

    def follow_up(self, message: str) -> ClientSession:
        """The next message in the chat this connection joined (or a new join if none was)."""
        return WSEventsClient(replace(self.options, message=message), self.joined)
