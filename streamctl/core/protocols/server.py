"""The server side of one WebSocket connection, sans-I/O: what the mock server drives."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence

from streamctl.core.protocols.exchange import Out, Reaction, Turn
from streamctl.core.script import Script

__all__ = ["ServerSession"]


class ServerSession(ABC):
    """Server side of one WebSocket connection."""

    @abstractmethod
    def greeting(self) -> Sequence[str]:
        """Messages to send as soon as the connection opens."""

    @abstractmethod
    def receive(self, text: str) -> Reaction:
        """React to one client message; never raises on the peer's input."""

    @abstractmethod
    def render(self, script: Script, turn: Turn) -> Sequence[Out]:
        """The writes that stream ``script`` as the reply to ``turn``."""

    def render_key(self, turn: Turn) -> Hashable | None:
        """What of ``turn`` :meth:`render` depends on besides the script, if that is all it
        depends on (a server then renders a scenario once per key); None when it varies (ids,
        timestamps, the connection's state)."""
        return None

    @abstractmethod
    def finish(self, turn: Turn, script: Script, completed: bool) -> None:
        """Record the reply in history (``completed`` is false when the client left early)."""

    def interrupts(self, text: str) -> bool:
        """Whether client message ``text`` stops the reply in progress at once (a cancel)
        instead of waiting its turn; the reply's ``finish`` then learns it was cut short, and
        :meth:`receive` answers the message as usual."""
        return False
