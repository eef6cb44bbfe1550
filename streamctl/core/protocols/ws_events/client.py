"""ws-events' client side: what ``streamctl send`` sends, and what each message means."""

from __future__ import annotations

import json
from collections.abc import Sequence

from streamctl.core.protocols.base import ClientOptions, ClientSession, Update
from streamctl.core.protocols.ws_events.rules import encode

__all__ = ["WSEventsClient"]


class WSEventsClient(ClientSession):
    """Create a chat (or join ``options.chat``) with ``options.token``, then send the message."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options

    def opening(self) -> Sequence[str]:
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
            message = encode("message", {"message": self.options.message})
            return Update(send=(message,), info=f"chat {data.get('chatId')}")
        if kind == "assistant_message_token":
            token = data.get("token")
            return Update(text=token if isinstance(token, str) else "")
        if kind == "assistant_message_complete":
            return Update(done=True)
        if kind == "error":
            # Nothing else comes for this exchange after an error, so it is also the end.
            return Update(error=str(data.get("message")), done=True)
        return Update()
