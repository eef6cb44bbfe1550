"""``streamctl record``: one exchange written down as a transcript while it streams."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated

import typer

from streamctl.cli.common import (
    ChatOpt,
    DebugOpt,
    HeaderOpt,
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
from streamctl.cli.send import MessageArg, UrlArg
from streamctl.errors import UsageError

__all__ = ["record_command"]

OutputOpt = Annotated[
    str,
    typer.Option(
        "--output",
        "-o",
        help="Transcript file to write ('-' for stdout).",
        show_default=False,
        metavar="FILE",
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Do not print the reply while recording.")
]


@contextmanager
def _sink(path: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdout
        return
    try:
        # newline="" keeps LF line ends everywhere: transcripts are JSON Lines split on LF.
        handle = Path(path).open("w", encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
    with handle:
        yield handle


def record_command(
    protocol: ProtocolArg,
    url: UrlArg,
    message: MessageArg,
    *,
    output: OutputOpt,
    quiet: QuietOpt = False,
    secret_key: SecretKeyOpt = None,
    token: TokenOpt = None,
    header: HeaderOpt = None,
    session: SessionOpt = None,
    chat: ChatOpt = None,
    ndjson: NdjsonOpt = False,
    timeout: TimeoutOpt = 30.0,
    max_events: MaxEventsOpt = None,
    max_bytes: MaxBytesOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Record one exchange to a transcript, written while the stream flows.

    Secrets (auth headers, tokens, keys) are redacted. Ctrl-C, a timeout or a dropped
    connection still leave a valid transcript that says how it ended.

    Example: streamctl record goose http://127.0.0.1:8000 "Hello" -o hello.jsonl
    """
    from streamctl.cli.one_turn import raise_for, stream_once  # noqa: PLC0415
    from streamctl.cli.views import Stats, TextView  # noqa: PLC0415
    from streamctl.engine.recorder import Recorder  # noqa: PLC0415
    from streamctl.net import transcript_meta  # noqa: PLC0415
    from streamctl.net.urls import validate  # noqa: PLC0415

    console = Console()
    with guard(console, debug=debug):
        proto = resolve_protocol(protocol)
        options = client_options(
            message,
            headers=header,
            secret_key=secret_key,
            token=token,
            session=session,
            chat=chat,
            ndjson=ndjson,
        )
        validate(url)
        bounds = limits(timeout, max_events, max_bytes=max_bytes)
        silent = quiet or output == "-"
        view = Stats() if silent else TextView(console, debug=debug)
        with _sink(output) as sink:
            meta = transcript_meta(url)
            recorder = Recorder(sink, proto.name, proto.transport, meta=meta, keep=False)
            result = stream_once(
                console, proto, options, url, recorder=recorder, view=view, limits=bounds
            )
        if output != "-":
            console.note(f"wrote {output}")
        raise_for(result)
