"""``message-stream``: message_start / message_delta / message_end over POST (seed 004).

A REST chat API with streaming, FastAPI-style: ``POST /api/web/v1/chats/{chat_id}/messages/stream``
with ``{"content": …}`` answers with the assistant's reply as Server-Sent Events (``event:`` equal
to the JSON ``type``) or, when ``Accept`` prefers it, as NDJSON; ``GET …/messages`` lists the
chat's history and ``DELETE …/messages/{message_id}`` removes a message. The contract is
PROTOCOLS.md §5.

Modules: :mod:`.rules` (the spec as data), :mod:`.wire` (SSE/NDJSON framing and negotiation),
:mod:`.validation` (FastAPI's 422 answers), :mod:`.server` (chats, the stream, the routes),
:mod:`.client` (``streamctl send``), :mod:`.protocol` (the protocol class, the checker's side).
"""

from __future__ import annotations

from streamctl.core.protocols.message_stream.protocol import PROTOCOL, MessageStream
from streamctl.core.protocols.message_stream.rules import MACHINE, RULES, SPEC

__all__ = ["MACHINE", "PROTOCOL", "RULES", "SPEC", "MessageStream"]
