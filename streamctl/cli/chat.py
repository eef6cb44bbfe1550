"""``streamctl chat``: an interactive conversation, kept the way the protocol keeps it.

WebSocket protocols hold one connection for the whole conversation; HTTP protocols send one
request per message with the same session or chat, a fresh one for each run unless
``--session`` / ``--chat`` name one. Lines come from stdin (a terminal or a pipe); ``/quit``, end
of input (Ctrl-D) or Ctrl-C at the prompt ends the conversation; Ctrl-C while a reply streams
cancels that reply.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
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
    import asyncio

    from streamctl.core.protocols.exchange import ClientOptions
    from streamctl.core.protocols.protocol import ChatProtocol
    from streamctl.net import Conversation
    from streamctl.net.base import Result

__all__ = ["chat_command"]

QUIT = frozenset({"/quit", "/exit", "/q"})
HELP = (
    "Type a message and press Enter. Ctrl-C cancels a reply; /quit, Ctrl-D or Ctrl-C at the "
    "prompt ends the chat."
)
CANCELLED = "[reply cancelled: Ctrl-C or Ctrl-D to leave]"


class Interrupts:
    """Where Ctrl-C goes. While a reply streams, SIGINT cancels that reply's task (no
    KeyboardInterrupt anywhere); while the prompt waits for a line, it raises KeyboardInterrupt
    there, the one place that catches it, and the chat ends; in between (printing, reconnecting)
    it is remembered and the chat ends at the next prompt. So no Ctrl-C can surface as a
    traceback from whatever code it happened to land in."""

    def __init__(self) -> None:
        self.task: asyncio.Task[object] | None = None
        self.at_prompt = False
        self.leave = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        task = self.task
        if task is not None:
            task.get_loop().call_soon_threadsafe(task.cancel)
        elif self.at_prompt:
            raise KeyboardInterrupt
        else:
            self.leave = True

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """This handler for SIGINT while the chat lasts (main thread only: elsewhere signals
        cannot be handled, and Ctrl-C keeps its default)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def readline(self, stdin: IO[str]) -> str:
        """A line from ``stdin``, or "" (leave) for end of input or Ctrl-C, now or earlier."""
        if self.leave:
            return ""
        self.at_prompt = True
        try:
            return stdin.readline()
        except KeyboardInterrupt:  # Ctrl-C at the prompt: leave
            return ""
        finally:
            self.at_prompt = False


def read_messages(
    stdin: IO[str],
    console: Console,
    *,
    interactive: bool,
    interrupts: Interrupts | None = None,
) -> Iterator[str]:
    """The user's messages, one per line, until /quit, end of input or Ctrl-C at the prompt."""
    reader = interrupts or Interrupts()
    while True:
        if interactive:
            console.prompt("you> ")
        line = reader.readline(stdin)
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
    from streamctl.cli.views import TextView  # noqa: PLC0415
    from streamctl.engine.recorder import NullSink, Recorder  # noqa: PLC0415
    from streamctl.net import open_conversation  # noqa: PLC0415

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
        options = fresh(proto, options, url)

        def conversation() -> Conversation:
            return open_conversation(
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
        interrupts = Interrupts()
        messages = read_messages(sys.stdin, console, interactive=interactive, interrupts=interrupts)
        with interrupts.installed():
            _loop(proto, conversation, messages, console, interrupts)


def fresh(proto: ChatProtocol, options: ClientOptions, url: str) -> ClientOptions:
    """``options`` with a session and chat of this run's own, where the user named none (the
    URL of a chat's endpoint names one): a used server does not open mid-conversation."""
    import secrets  # noqa: PLC0415
    from dataclasses import replace  # noqa: PLC0415

    from streamctl.net.urls import endpoint_base  # noqa: PLC0415

    _, named = endpoint_base(url, (e.path for e in proto.endpoints))
    chat = options.chat
    if chat is None and "chat_id" not in named and _has_chat_ids(proto):
        chat = str(10**8 + secrets.randbelow(9 * 10**8))
    session = options.session or f"streamctl-{secrets.token_hex(4)}"
    return replace(options, session=session, chat=chat)


def _has_chat_ids(proto: ChatProtocol) -> bool:
    return any("{chat_id}" in e.path for e in proto.endpoints)


def _loop(
    proto: ChatProtocol,
    conversation: Callable[[], Conversation],
    messages: Iterator[str],
    console: Console,
    interrupts: Interrupts,
) -> None:
    import asyncio  # noqa: PLC0415

    async def turn(message: str) -> Result:
        interrupts.task = asyncio.current_task()
        try:
            return await conv.turn(message)
        finally:
            interrupts.task = None

    # One event loop for the whole chat, so a WebSocket connection outlives each turn; the
    # prompt is read between turns, outside the loop. Ctrl-C goes where `interrupts` says (the
    # runner leaves SIGINT alone when a handler other than Python's default is installed).
    conv = conversation()
    with asyncio.Runner() as runner:
        try:
            for message in messages:
                try:
                    result = runner.run(turn(message))
                except asyncio.CancelledError:  # Ctrl-C cancelled the reply
                    console.end_text()
                    console.note(CANCELLED)
                    if proto.transport == "ws":  # the rest of that reply would come first
                        runner.run(conv.aclose())
                        conv = conversation()
                    continue
                console.end_text()
                _report(proto, result, console)
        finally:
            runner.run(conv.aclose())


def _report(proto: ChatProtocol, result: Result, console: Console) -> None:
    """After a reply: an error event was already shown and the chat goes on (with a hint when
    there is one); any other error ends the chat."""
    from streamctl.cli.one_turn import hinted  # noqa: PLC0415
    from streamctl.errors import ProtocolErrorEvent  # noqa: PLC0415

    if result.error is None:
        return
    error = hinted(proto, result, result.error)
    if not isinstance(error, ProtocolErrorEvent):
        raise error
    if error is not result.error:
        console.note(f"streamctl: {error}")


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
