"""The command-line options streamctl's users read, added to Locust's own parser.

Registered when :mod:`streamctl.locust` is imported, so they work the same from
``streamctl load`` and from a user's own locustfile (``locust -f mine.py --check-rate 0.1``).
A master passes them on to its workers, as Locust does with every custom option; secrets
come from the environment (``STREAMCTL_TOKEN``, ``STREAMCTL_SECRET_KEY``), never the command
line, and are hidden in the web UI.
"""

from __future__ import annotations

from argparse import Namespace
from dataclasses import dataclass, field, replace
from typing import Any

from streamctl.core.protocols.exchange import ClientOptions

__all__ = ["DEFAULT_MESSAGE", "Settings", "add_arguments"]

DEFAULT_MESSAGE = "Hello from streamctl load"


def add_arguments(parser: Any) -> None:
    """Add streamctl's options to Locust's parser (``events.init_command_line_parser``)."""
    # On the parser itself, not a group: only Locust's parser knows is_secret and
    # include_in_web_ui.
    add = parser.add_argument
    add(
        "--message",
        action="append",
        metavar="TEXT",
        help="A user message; repeat for a conversation of several turns.",
    )
    add(
        "--conversations",
        type=int,
        default=0,
        metavar="N",
        help="Each user holds N conversations, then stops; the test ends when all have "
        "(0: until --run-time).",
    )
    add(
        "--check-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="Share of conversations recorded and checked against the protocol (0 to 1).",
    )
    add(
        "--stall",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="A turn with no byte for this long fails as stalled.",
    )
    add(
        "--turn-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="A turn that has not ended after this long fails as timeout.",
    )
    add(
        "--secret-key",
        env_var="STREAMCTL_SECRET_KEY",
        is_secret=True,
        metavar="KEY",
        help="goose: the X-Secret-Key to send.",
    )
    add(
        "--token",
        env_var="STREAMCTL_TOKEN",
        is_secret=True,
        metavar="JWT",
        help="ws-events: the JWT to join with.",
    )
    add(
        "--session",
        metavar="NAME",
        help="goose: the session name (default: a new one per conversation).",
    )
    add(
        "--chat",
        metavar="ID",
        help="ws-events / message-stream: the chat id (default: a new chat per conversation).",
    )
    add(
        "--ndjson",
        action="store_true",
        default=False,
        help="message-stream: ask for NDJSON instead of SSE.",
    )
    add(
        "--stream-header",
        action="append",
        metavar="'NAME: VALUE'",
        help="Extra request header for every stream (repeatable).",
    )
    add(
        "--summary-file",
        metavar="FILE",
        include_in_web_ui=False,
        help="Write streamctl's summary of the run (JSON) here when Locust quits.",
    )


@dataclass(frozen=True)
class Settings:
    """What every user of a run shares, from the command line (or a user class's attributes)."""

    messages: tuple[str, ...] = (DEFAULT_MESSAGE,)
    conversations: int = 0
    check_rate: float = 0.0
    stall: float = 10.0
    turn_timeout: float = 60.0
    options: ClientOptions = field(default_factory=lambda: ClientOptions(DEFAULT_MESSAGE))

    @classmethod
    def parse(cls, parsed: Namespace | None) -> Settings:
        """The settings in Locust's parsed options (defaults when there are none)."""
        if parsed is None:
            return cls()
        get = parsed.__dict__.get
        messages = tuple(get("message") or (DEFAULT_MESSAGE,))
        options = ClientOptions(
            messages[0],
            secret_key=get("secret_key"),
            token=get("token"),
            session=get("session"),
            chat=get("chat"),
            headers=tuple(_header(h) for h in get("stream_header") or ()),
            ndjson=bool(get("ndjson")),
        )
        return cls(
            messages=messages,
            conversations=max(0, int(get("conversations") or 0)),
            check_rate=min(1.0, max(0.0, float(get("check_rate") or 0.0))),
            stall=float(get("stall") or 10.0),
            turn_timeout=float(get("turn_timeout") or 60.0),
            options=options,
        )

    def with_messages(self, messages: tuple[str, ...] | None) -> Settings:
        return self if not messages else replace(self, messages=messages)


def _header(text: str) -> tuple[str, str]:
    name, _, value = text.partition(":")
    if not name.strip():
        raise ValueError(f"--stream-header must look like 'Name: value', not {text!r}")
    return name.strip(), value.strip()
