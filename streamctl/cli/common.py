"""What the commands share: argument types, option parsing and the error guard.

:func:`guard` is the one place where exceptions become a line on stderr and an exit code
(the table is :class:`streamctl.errors.ExitCode`); nothing prints a traceback unless
``--debug`` asks for it.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from streamctl.cli.output import Console
from streamctl.errors import ExitCode, LoadFailed, StreamctlError, UsageError

if TYPE_CHECKING:
    from streamctl.core.protocols.exchange import ClientOptions
    from streamctl.core.protocols.protocol import ChatProtocol
    from streamctl.net.base import Limits

__all__ = [
    "DebugOpt",
    "HeaderOpt",
    "MaxBytesOpt",
    "MaxEventsOpt",
    "ProtocolArg",
    "TimeoutOpt",
    "client_options",
    "guard",
    "limits",
    "parse_header",
    "resolve_protocol",
    "run",
]

T = TypeVar("T")


def _protocol_names(incomplete: str) -> list[str]:
    from streamctl.core.protocols import names  # noqa: PLC0415 (keeps --help fast)

    return [name for name in names() if name.startswith(incomplete)]


def _known_protocol(name: str) -> str:
    from streamctl.core.protocols import UnknownProtocolError, get  # noqa: PLC0415

    try:
        get(name)
    except UnknownProtocolError as exc:
        raise typer.BadParameter(str(exc)) from None
    return name


ProtocolArg = Annotated[
    str,
    typer.Argument(
        help="Protocol name (see `streamctl protocols`).",
        metavar="PROTOCOL",
        callback=_known_protocol,
        autocompletion=_protocol_names,
        show_default=False,
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.001,
        metavar="SECONDS",
        help="Give up after this many seconds (connecting included).",
    ),
]
MaxEventsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-events", min=1, metavar="N", help="Stop after this many server events or messages."
    ),
]
MaxBytesOpt = Annotated[
    int | None,
    typer.Option(
        "--max-bytes",
        min=1,
        metavar="N",
        help="Stop once the server has sent this many bytes (an endless stream stops too).",
    ),
]
HeaderOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--header", "-H", help="Extra request header 'Name: value' (repeatable).", metavar="HEADER"
    ),
]
DebugOpt = Annotated[
    bool, typer.Option("--debug", help="Show the wire on stderr and tracebacks on errors.")
]
SecretKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--secret-key",
        envvar="STREAMCTL_SECRET_KEY",
        metavar="KEY",
        help="goose: the X-Secret-Key to send.",
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="STREAMCTL_TOKEN", metavar="JWT", help="ws-events: the JWT to join with."
    ),
]
JwtSecretOpt = Annotated[
    str | None,
    typer.Option(
        "--jwt-secret",
        envvar="JWT_SECRET",
        metavar="SECRET",
        help="ws-events: mint the JWT with this HS256 secret when --token is not given.",
    ),
]
SessionOpt = Annotated[
    str | None,
    typer.Option("--session", metavar="NAME", help="goose, goose-web: the session name."),
]
ChatOpt = Annotated[
    str | None,
    typer.Option("--chat", metavar="ID", help="ws-events / message-stream: the chat id."),
]
NdjsonOpt = Annotated[
    bool, typer.Option("--ndjson", help="message-stream: ask for NDJSON instead of SSE.")
]


# RFC 9110 §5.1 field names are tokens; §5.5 values are visible ASCII, spaces and tabs (the
# obsolete non-ASCII octets are not sent: clients encode header values as ASCII).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r"[\t\x20-\x7e]*")


def parse_header(text: str) -> tuple[str, str]:
    """``'Name: value'`` -> ``('Name', 'value')``; a :class:`UsageError` when malformed."""
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not _TOKEN.fullmatch(name):
        raise UsageError(f"--header must look like 'Name: value', not {text!r}")
    if not _VALUE.fullmatch(value):
        raise UsageError(f"--header {name}: the value must be printable ASCII")
    return name, value


def resolve_protocol(name: str) -> ChatProtocol:
    """The registered protocol ``name`` (a :class:`UsageError` listing the known ones)."""
    from streamctl.core.protocols import UnknownProtocolError, get  # noqa: PLC0415

    try:
        return get(name)
    except UnknownProtocolError as exc:
        raise UsageError(str(exc)) from None


def client_options(
    message: str,
    *,
    headers: list[str] | None = None,
    secret_key: str | None = None,
    token: str | None = None,
    session: str | None = None,
    chat: str | None = None,
    ndjson: bool = False,
    jwt_secret: str | None = None,
) -> ClientOptions:
    """The :class:`ClientOptions` a protocol's client session is built from (``jwt_secret``
    mints the token when none is given)."""
    from streamctl.core.protocols.exchange import ClientOptions  # noqa: PLC0415

    if token is None and jwt_secret:
        from streamctl.core.jwt import mint_dev_token  # noqa: PLC0415

        token = mint_dev_token(jwt_secret)
    parsed = tuple(parse_header(h) for h in headers or ())
    return ClientOptions(message, secret_key, token, session, chat, parsed, ndjson)


def limits(
    timeout: float,
    max_events: int | None,
    linger: float = 0.0,
    max_bytes: int | None = None,
    idle: float | None = None,
) -> Limits:
    from streamctl.net.base import Limits  # noqa: PLC0415

    return Limits(
        timeout=timeout, max_events=max_events, linger=linger, max_bytes=max_bytes, idle=idle
    )


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's network part to completion. Ctrl-C and SIGTERM (``kill``, a CI runner
    stopping a job) both raise KeyboardInterrupt, once what is under way has been cancelled:
    a recording then ends with its End record, a WebSocket with its close frame."""
    import asyncio  # noqa: PLC0415

    terminated: list[int] = []
    try:
        return asyncio.run(_until_terminated(coro, terminated))
    except asyncio.CancelledError:
        if not terminated:
            raise
        raise KeyboardInterrupt from None


async def _until_terminated(coro: Coroutine[Any, Any, T], terminated: list[int]) -> T:
    """``coro``, cancelled on SIGTERM as asyncio.run cancels it on SIGINT."""
    import asyncio  # noqa: PLC0415
    import signal  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    task = loop.create_task(coro)

    def stop() -> None:
        terminated.append(signal.SIGTERM)
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, stop)
    except (NotImplementedError, RuntimeError):  # pragma: no cover (Windows, other threads)
        return await task
    try:
        return await task
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


@contextmanager
def guard(console: Console, *, debug: bool = False) -> Iterator[None]:
    """Turn what a command raises into one line on stderr and the exit code it stands for."""
    try:
        yield
    except StreamctlError as exc:
        if debug:
            console.note(traceback.format_exc().rstrip())
        console.note(f"streamctl: {_label(exc)}{exc}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        console.note("streamctl: interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except BrokenPipeError:
        # The reader went away (`streamctl inspect | head -1`): nothing more to say to it.
        _silence_stdout()
        raise typer.Exit(ExitCode.OK) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if debug:
            raise
        console.note(f"streamctl: internal error: {type(exc).__name__}: {exc} (rerun with --debug)")
        raise typer.Exit(ExitCode.INTERNAL) from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (a test's capture): nothing will flush to a dead pipe
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _label(exc: StreamctlError) -> str:
    if isinstance(exc, LoadFailed):  # exit 1 like a failed check, but not a check
        return "load failed: "
    labels = {
        ExitCode.UNREACHABLE: "server unreachable: ",
        ExitCode.UPGRADE_REFUSED: "",
        ExitCode.HTTP_STATUS: "server refused the request: ",
        ExitCode.CONTENT_TYPE: "not a stream: ",
        ExitCode.PROTOCOL_ERROR: "the server reported an error: ",
        ExitCode.TIMEOUT: "timeout: ",
        ExitCode.CONNECTION_LOST: "",
        ExitCode.USAGE: "error: ",
        ExitCode.CHECK_FAILED: "check failed: ",
    }
    return labels.get(exc.exit_code, "")
