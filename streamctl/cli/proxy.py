"""``streamctl proxy``: a recording reverse proxy in front of a real backend, until Ctrl-C."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from streamctl.cli.serve import Loop

__all__ = ["proxy_command"]

ProtocolsArg = Annotated[
    list[str],
    typer.Argument(
        help="The protocols whose stream exchanges are recorded (see `streamctl protocols`).",
        metavar="PROTOCOL...",
        show_default=False,
    ),
]
UpstreamOpt = Annotated[
    str,
    typer.Option(
        "--upstream",
        metavar="URL",
        help="The backend's base URL (http:// or https://; WebSockets go to ws:// or wss://).",
        show_default=False,
    ),
]
HostOpt = Annotated[str, typer.Option(metavar="HOST", help="Address to listen on.")]
PortOpt = Annotated[
    int,
    typer.Option(metavar="PORT", min=0, max=65535, help="Port to listen on (0: any free port)."),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="DIR",
        file_okay=False,
        help="Write each stream exchange to DIR as a transcript, while it flows "
        "(named after its X-Streamctl-Test header, else numbered).",
    ),
]
CheckOpt = Annotated[
    bool,
    typer.Option("--check", help="Check each exchange when it ends; findings go to stderr."),
]
LoopOpt = Annotated[Loop, typer.Option(help="Event loop (as for `serve`).")]


def proxy_command(  # noqa: PLR0917 (a Typer command takes its options as parameters)
    protocols: ProtocolsArg,
    upstream: UpstreamOpt,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8080,
    output: OutputOpt = None,
    check: CheckOpt = False,
    loop: LoopOpt = Loop.auto,
) -> None:
    """Pass every request on to a real backend, recording its streams as transcripts.

    Streams are forwarded unbuffered (SSE chunk by chunk, WebSocket message by message both
    ways, close codes kept), other routes too. Replay the recordings with
    `streamctl serve --scenarios DIR`. Example: streamctl proxy goose --upstream
    http://127.0.0.1:3000 --port 3001 -o recordings/ --check
    """
    from mockserver.logwriter import EXIT_WAIT_S, write_stderr  # noqa: PLC0415
    from mockserver.proxy import Proxy, ProxyConfig, serve_proxy  # noqa: PLC0415
    from mockserver.startup import bind  # noqa: PLC0415
    from streamctl.core.protocols import UnknownProtocolError, get  # noqa: PLC0415
    from streamctl.errors import ExitCode  # noqa: PLC0415

    def fail(message: str) -> typer.Exit:
        typer.echo(f"streamctl: error: {message}", err=True)
        return typer.Exit(ExitCode.USAGE)

    try:
        names = tuple(dict.fromkeys(get(name).name for name in protocols))
        # Notes leave from a thread: a stderr pipe nobody reads must not block the proxy.
        config = ProxyConfig(upstream, names, output, check, write_stderr)
        Proxy(config)  # validates the upstream URL
    except (UnknownProtocolError, ValueError) as exc:
        raise fail(str(exc)) from None
    try:
        if output is not None:
            output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"cannot write to {output}: {exc.strerror or exc}") from None
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    where = f"http://{host}:{sock.getsockname()[1]}"
    kept = f", recording {', '.join(names)} to {output}" if output is not None else ""
    banner = f"streamctl proxy on {where} -> {upstream}{kept} (Ctrl-C to stop)"
    with contextlib.suppress(KeyboardInterrupt):
        serve_proxy(config, sock, loop=loop.value, ready=lambda: typer.echo(banner, err=True))
    sock.close()
    write_stderr.flush(EXIT_WAIT_S)  # the last notes before "stopped"
    typer.echo("streamctl proxy stopped", err=True)
