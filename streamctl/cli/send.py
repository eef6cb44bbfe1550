"""``streamctl send``: one message, the reply printed live, a summary line on stderr."""

from __future__ import annotations

from typing import Annotated

import typer

from streamctl.cli.common import (
    ChatOpt,
    DebugOpt,
    HeaderOpt,
    JwtSecretOpt,
    MaxBytesOpt,
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
from streamctl.errors import UsageError

__all__ = ["send_command"]

UrlArg = Annotated[
    str,
    typer.Argument(
        help="The server's base URL, e.g. http://127.0.0.1:8000.",
        metavar="URL",
        show_default=False,
    ),
]
MessageArg = Annotated[
    str, typer.Argument(help="The user message to send.", metavar="MESSAGE", show_default=False)
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print every event as a JSON line with its time offset.")
]
RawOpt = Annotated[bool, typer.Option("--raw", help="Print the wire frames as they arrive.")]


def send_command(
    protocol: ProtocolArg,
    url: UrlArg,
    message: MessageArg,
    *,
    as_json: JsonOpt = False,
    raw: RawOpt = False,
    secret_key: SecretKeyOpt = None,
    token: TokenOpt = None,
    jwt_secret: JwtSecretOpt = None,
    header: HeaderOpt = None,
    session: SessionOpt = None,
    chat: ChatOpt = None,
    ndjson: NdjsonOpt = False,
    timeout: TimeoutOpt = 30.0,
    max_events: MaxEventsOpt = None,
    max_bytes: MaxBytesOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Send one message and print the assistant's reply as it streams.

    Example: streamctl send sse-delta-done http://127.0.0.1:8000 "Hello"
    """
    from streamctl.cli.one_turn import raise_for, stream_once  # noqa: PLC0415
    from streamctl.cli.views import make_view  # noqa: PLC0415
    from streamctl.engine.recorder import NullSink, Recorder  # noqa: PLC0415

    console = Console()
    with guard(console, debug=debug):
        if as_json and raw:
            raise UsageError("--json and --raw cannot be used together")
        proto = resolve_protocol(protocol)
        options = client_options(
            message,
            headers=header,
            secret_key=secret_key,
            token=token,
            jwt_secret=jwt_secret,
            session=session,
            chat=chat,
            ndjson=ndjson,
        )
        recorder = Recorder(NullSink(), proto.name, proto.transport, keep=False)
        view = make_view(console, as_json=as_json, raw=raw, debug=debug)
        bounds = limits(timeout, max_events, max_bytes=max_bytes)
        result = stream_once(
            console, proto, options, url, recorder=recorder, view=view, limits=bounds
        )
        raise_for(result, proto)
