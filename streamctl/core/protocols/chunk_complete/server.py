"""chunk-complete's server side: one connection of the imitated router (sans-I/O).

What the seed leaves open is decided in the package docstring
(:mod:`streamctl.core.protocols.chunk_complete`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from streamctl.core.jsontext import dumps_compact, is_unicode
from streamctl.core.protocols.chunk_complete.rules import CLIENT_MESSAGE, encode
from streamctl.core.protocols.exchange import Out, Reaction, Turn
from streamctl.core.protocols.server import ServerSession
from streamctl.core.script import Script
from streamctl.core.spec import validate

__all__ = ["Session", "State"]


def _chunk(reply_id: str, text: str) -> str:
    return encode({"type": "chunk", "message_id": reply_id, "text": text})


def _error(message: str) -> str:
    return encode({"type": "error", "message": message})


@dataclass
class State:
    """Server-side state shared by every connection: a counter that names them."""

    connections: int = 0


class Session(ServerSession):
    """One connection of the imitated router: each valid message gets one streamed reply."""

    def __init__(self, conversation: str) -> None:
        self.conversation = conversation
        self.turns = 0

    def greeting(self) -> Sequence[str]:
        return ()  # the router says nothing until the client does

    def receive(self, text: str) -> Reaction:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            return Reaction(send=(_error('Invalid JSON: send {"message": "…", "timestamp": "…"}'),))
        problems = validate(obj, CLIENT_MESSAGE)
        if not problems and not obj["message"].strip():
            problems = ["'message' must not be empty"]
        elif not problems and not is_unicode(obj["message"]):
            # "\\ud800" alone: not text the reply could echo (Starlette's send_json fails on it).
            problems = ["'message' holds a lone surrogate escape: it is not Unicode text"]
        if problems:
            return Reaction(send=(_error("Invalid message: " + "; ".join(problems)),))
        turn = Turn(obj["message"], self.turns, self.conversation)
        self.turns += 1
        return Reaction(turn=turn)

    def render_key(self, turn: Turn) -> int:
        return turn.index  # the reply's id is all a rendering takes from the turn

    def render(self, script: Script, turn: Turn) -> Sequence[Out]:
        reply_id = f"bot_{turn.index + 1}"
        # Every chunk is this head, the token's text as JSON, and "}": what _chunk() encodes,
        # without a dict and a whole-object encoding per token.
        head = _chunk(reply_id, "").removesuffix('""}')
        out = [
            Out(f"{head}{dumps_compact(token.text)}}}", token.delay_ms, token=index)
            for index, token in enumerate(script.sent_tokens)
        ]
        if script.error is not None:
            return [*out, Out(_error(script.error.message), terminal=True)]
        if not out:
            out.append(Out(_chunk(reply_id, "")))  # complete ends a reply that a chunk opened
        complete = encode({"type": "complete", "message_id": reply_id})
        return [*out, Out(complete, terminal=True)]

    def finish(self, turn: Turn, script: Script, completed: bool) -> None:
        """Nothing to record: the imitated router keeps no history."""
