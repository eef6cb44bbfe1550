"""Client messages that want an answer, for WebSocket protocols where every message gets one.

chunk-complete and goose-web share two rules: a reply starts only when a client message is
waiting (``reply.unsolicited``), and every such message is answered before the connection
ends (``reply.missing``). :class:`Asks` counts the waiting messages off as answers arrive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from streamctl.core.spec import Finding
from streamctl.core.transcript import Transcript

if TYPE_CHECKING:
    from streamctl.core.protocols.protocol import ChatProtocol

__all__ = ["Asks"]


@dataclass
class Asks:
    """``frames``: record indices of the client's messages that want an answer."""

    frames: list[int]
    answered: int = 0

    def answer(self, frame: int) -> bool:
        """Count one message sent before ``frame`` as answered; false when none was waiting."""
        waiting = sum(1 for index in self.frames if index < frame) - self.answered
        if waiting <= 0:
            return False
        self.answered += 1
        return True

    def missing(self, proto: ChatProtocol, transcript: Transcript) -> Iterator[Finding]:
        """``reply.missing`` when messages were still waiting at the end of the recording."""
        waiting = len(self.frames) - self.answered
        if waiting > 0:
            how = f"; the recording ended: {transcript.end.outcome}" if transcript.end else ""
            text = f"{waiting} client message(s) got neither a reply nor an error{how}"
            yield proto.finding("reply.missing", text, len(transcript.records) - 1)
