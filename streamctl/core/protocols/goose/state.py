"""goosed's server-side state: its settings, its sessions by id, and the counter that mints
reply ids (one per running server)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamctl.core.protocols.exchange import Settings

__all__ = ["DEFAULT_WORKING_DIR", "GooseSettings", "GooseState", "Session"]

#: The mock's own working directory, reported for sessions no request has named one for.
DEFAULT_WORKING_DIR = "/tmp"


@dataclass
class Session:
    """One session's stored conversation (goosed's ``<session_id>.jsonl``)."""

    working_dir: str = DEFAULT_WORKING_DIR
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: The user's messages with text in ``messages``, counted as they are stored (counting
    #: them again on every request made a long session cost work in proportion to it).
    user_turns: int = 0


@dataclass(frozen=True)
class GooseSettings:
    """goose's own server settings (``Settings.protocols["goose"]``)."""

    #: goosed's secret (``GOOSE_SERVER__SECRET_KEY``); its default up to v1.27 is ``test``.
    secret: str = "test"
    #: goose emulation: ``"b"`` (about v1.3 to v1.7, the default) or ``"e"`` (v1.18+:
    #: ``user_message`` requests, ``token_state`` on Message and Finish).
    variant: str = "b"


@dataclass
class GooseState:
    """Server-side state: settings, sessions by id, and the reply counter that mints ids."""

    settings: Settings
    own: GooseSettings = field(default_factory=GooseSettings)
    sessions: dict[str, Session] = field(default_factory=dict)
    replies: int = 0

    @property
    def variant_e(self) -> bool:
        return self.own.variant == "e"
