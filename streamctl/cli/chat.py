"""``streamctl chat``: an interactive conversation, kept the way the protocol keeps it.

WebSocket protocols hold one connection for the whole conversation; HTTP protocols send one
request per message with the same session or chat. Lines come from stdin (a terminal or a
pipe); ``/quit`` or end of input ends the conversation.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from streamctl.cli.common import (
    ChatOpt,
    DebugOpt,
    HeaderOpt,
    JwtSecretOpt,
    MaxEventsOpt,
    NdjsonOpt,
    ProtocolArg,
    SecretKeyOpt,
    SessionOpt,
    TimeoutOpt,
    TokenOpt,
    client_options,
    guard,
    limits,
    resolve_protocol,
)
from streamctl.cli.output import Console
from streamctl.cli.send import UrlArg

if TYPE_CHECKING:
    from streamctl.core.protocols.base import Protocol
    from streamctl.net import Conversation

__all__ = ["chat_command"]

QUIT = frozenset({"/quit", "/exit", "/q"})
HELP = "Type a message and press Enter. /quit (or end of input, Ctrl-D) ends the chat."


def read_messages(stdin: IO[str], console: Console, *, interactive: bool) -> Iterator[str]:
    """The user's messages, one per line, until /quit or end of input."""
    while True:
        if interactive:
            console.prompt("you> ")
        line = stdin.readline()
        if not line:
            if interactive:
                console.note("")
            return
        text = line.rstrip("\r\n")
        if text.strip() in QUIT:
            return
        if text.strip() == "/help":
            console.note(HELP)
            continue
        if text.strip():
            yield text


def chat_command(
    protocol: ProtocolArg,
    url: UrlArg,
    *,
    secret_key: SecretKeyOpt = None,
    token: TokenOpt = None,
    jwt_secret: JwtSecretOpt = None,
    header: HeaderOpt = None,
    session: SessionOpt = None,
    chat: ChatOpt = None,
    ndjson: NdjsonOpt = False,
    timeout: TimeoutOpt = 60.0,
    max_events: MaxEventsOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Chat interactively: type a message, watch the reply stream, repeat.

    Example: streamctl chat ws-events http://127.0.0.1:8000 --token "$(streamctl token)"
    """
    from streamctl.cli.live import TextView  # noqa: PLC0415
    from streamctl.engine.recorder import NullSink, Recorder  # noqa: PLC0415
    from streamctl.net import open_conversation  # noqa: PLC0415
    from streamctl.net.urls import validate  # noqa: PLC0415

    console = Console()
    with guard(console, debug=debug):
        proto = resolve_protocol(protocol)
        options = client_options(
            "",
            headers=header,
            secret_key=secret_key,
            token=token,
            jwt_secret=jwt_secret,
            session=session,
            chat=chat,
            ndjson=ndjson,
        )
        validate(url)
        conv = open_conversation(
            proto,
            options,
            url,
            recorders=lambda: Recorder(NullSink(), proto.name, proto.transport, keep=False),
            observer=TextView(console, debug=debug),
            limits=limits(timeout, max_events),
        )
        interactive = _isatty(sys.stdin)
        if interactive:
            console.note(f"streamctl chat: {proto.name} at {url}. {HELP}")
        _loop(proto, conv, read_messages(sys.stdin, console, interactive=interactive), console)


def _loop(proto: Protocol, conv: Conversation, messages: Iterator[str], console: Console) -> None:
    import asyncio  # noqa: PLC0415

    from streamctl.cli.flow import hinted  # noqa: PLC0415
    from streamctl.errors import ProtocolErrorEvent  # noqa: PLC0415

    # One event loop for the whole chat, so a WebSocket connection outlives each turn; the
    # prompt is read between turns, outside the loop, so Ctrl-C there is a plain interrupt.
    with asyncio.Runner() as runner:
        try:
            for message in messages:
                result = runner.run(conv.turn(message))
                console.end_text()
                if result.error is None:
                    continue
                error = hinted(proto, result, result.error)
                if not isinstance(error, ProtocolErrorEvent):
                    raise error
                if error is not result.error:
                    console.note(f"streamctl: {error}")
        finally:
            runner.run(conv.aclose())


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
