"""``streamctl serve``: every protocol on one mock server (Hypercorn or Uvicorn), until Ctrl-C."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["serve_command"]

# Kept in step with mockserver.config.DEFAULT_JWT_SECRET without importing the server stack.
DEV_JWT_SECRET = "streamctl-dev-secret"


class LogFormat(enum.StrEnum):
    """``--log-format``: lines for people, or JSON lines for machines (CI artefacts)."""

    text = "text"
    json = "json"


class Loop(enum.StrEnum):
    """``--loop`` (kept in step with mockserver.loops.LOOPS without importing the server)."""

    auto = "auto"
    uvloop = "uvloop"
    asyncio = "asyncio"


class Server(enum.StrEnum):
    """``--server`` (kept in step with mockserver.engines.ENGINES without importing it)."""

    hypercorn = "hypercorn"
    uvicorn = "uvicorn"


def serve_command(  # noqa: PLR0917 (a Typer command takes its options as parameters)
    host: Annotated[
        str,
        typer.Option(metavar="HOST", help="Address to listen on (0.0.0.0 for every interface)."),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            metavar="PORT", min=0, max=65535, help="Port to listen on (0: any free port)."
        ),
    ] = 8000,
    scenarios: Annotated[
        list[Path] | None,
        typer.Option(
            "--scenarios",
            metavar="DIR",
            exists=True,
            file_okay=False,
            dir_okay=True,
            help="Directory of scenario files (*.json scripted, *.jsonl recorded, captures "
            "*.sse, *.ndjson, *.har); repeatable. "
            "A later directory's scenario replaces a bundled one of the same name.",
        ),
    ] = None,
    no_bundled: Annotated[
        bool, typer.Option("--no-bundled", help="Do not load the bundled scenarios.")
    ] = False,
    speed: Annotated[
        float,
        typer.Option(
            metavar="FACTOR",
            min=0.0,
            help="Delay multiplier: 1 = scripted/recorded timing, 0 = as fast as possible, "
            "2 = twice as slow. Heartbeats keep their real interval.",
        ),
    ] = 1.0,
    goose_secret: Annotated[
        str,
        typer.Option(
            metavar="SECRET",
            envvar="GOOSE_SERVER__SECRET_KEY",
            help="goose: the X-Secret-Key every request must carry.",
        ),
    ] = "test",
    jwt_secret: Annotated[
        str,
        typer.Option(
            metavar="SECRET",
            envvar="JWT_SECRET",
            help="ws-events: the HS256 secret tokens are verified with "
            "(mint one with `streamctl token`).",
        ),
    ] = DEV_JWT_SECRET,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            metavar="ORIGIN",
            help="Origin allowed to call the server from a browser; repeatable; '*' for any. "
            "Default: any http(s) origin on localhost, 127.0.0.1 or [::1].",
        ),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            metavar="NAME",
            help="Host name clients may reach the server by, besides localhost, 127.0.0.1, "
            "[::1] and --host (e.g. a Docker service name); repeatable; '*' for any. Other "
            "names are refused (DNS rebinding).",
        ),
    ] = None,
    admin_token: Annotated[
        str,
        typer.Option(
            metavar="TOKEN",
            envvar="STREAMCTL_ADMIN_TOKEN",
            help="Require 'Authorization: Bearer TOKEN' on the admin API (/_streamctl; the "
            "playground page still works).",
        ),
    ] = "",
    workers: Annotated[
        int,
        typer.Option(
            metavar="N",
            min=1,
            help="Worker processes (each keeps its own chats, queues and journal).",
        ),
    ] = 1,
    loop: Annotated[
        Loop,
        typer.Option(
            help="Event loop: auto is uvloop where it is installed (not on Windows), "
            "else asyncio's own.",
        ),
    ] = Loop.auto,
    server: Annotated[
        Server,
        typer.Option(
            help="HTTP/WebSocket server: hypercorn, or uvicorn (`pip install "
            "'.[uvicorn]'` in the checkout; docs/cli.md says how they differ).",
        ),
    ] = Server.hypercorn,
    ws_deflate: Annotated[
        bool,
        typer.Option(
            "--ws-deflate",
            help="Accept permessage-deflate when a WebSocket client offers it (off: token "
            "messages gain nothing from it, and it costs ~130 KB per connection).",
        ),
    ] = False,
    no_watch: Annotated[
        bool,
        typer.Option("--no-watch", help="Do not reload scenario files when they change."),
    ] = False,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            metavar="SPEC",
            help="Inject this fault into streams (docs/faults.md), e.g. drop:after=5; repeatable.",
        ),
    ] = None,
    fault_rate: Annotated[
        float,
        typer.Option(
            metavar="P", min=0.0, max=1.0, help="Share of streams that get the --fault(s)."
        ),
    ] = 1.0,
    seed: Annotated[
        int | None,
        typer.Option(metavar="N", help="Seed for --fault-rate draws (reproducible runs)."),
    ] = None,
    sse_ids: Annotated[
        str,
        typer.Option(
            metavar="PROTO[,PROTO]",
            help="SSE protocols whose events carry id: lines and honour Last-Event-ID.",
        ),
    ] = "",
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Do not log each request (time, protocol, path, status, outcome, scenario, "
            "tokens, duration) on stderr.",
        ),
    ] = False,
    log_events: Annotated[
        bool,
        typer.Option("--log-events", help="Also log every event sent and received."),
    ] = False,
    log_format: Annotated[
        LogFormat,
        typer.Option(help="How log lines are written: text, or one JSON object a line."),
    ] = LogFormat.text,
    serve_as: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="PROTOCOL",
            help="Answer / as this protocol's server does (goose-web: the Goose Chat page); "
            "the playground moves to /playground.",
        ),
    ] = None,
    hold_after: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=0,
            help="Hold every reply after N tokens until released through the admin API "
            "(POST /_streamctl/streams/{id}/release; see docs/scenarios.md).",
        ),
    ] = None,
) -> None:
    """Run the mock server: every protocol at once, on its documented paths."""
    from mockserver.config import ServerConfig  # noqa: PLC0415 (loaded when serving only)
    from mockserver.engines import EngineError, engine_name  # noqa: PLC0415
    from mockserver.loops import LoopError, loop_name  # noqa: PLC0415
    from mockserver.startup import banner, bind, dump_config  # noqa: PLC0415
    from streamctl.cli.handover import hand_over  # noqa: PLC0415
    from streamctl.core.protocols import REGISTRY  # noqa: PLC0415
    from streamctl.engine.fault_parsing import FaultError, parse_many  # noqa: PLC0415
    from streamctl.engine.scenarios import ScenarioError, load_dirs  # noqa: PLC0415
    from streamctl.errors import ExitCode  # noqa: PLC0415

    config = ServerConfig(
        host=host,
        port=port,
        scenario_dirs=tuple(scenarios or ()),
        bundled=not no_bundled,
        speed=speed,
        goose_secret=goose_secret,
        jwt_secret=jwt_secret,
        cors_origins=tuple(cors_origin or ()),
        allowed_hosts=tuple(allow_host or ()),
        admin_token=admin_token,
        workers=workers,
        loop=loop.value,
        server=server.value,
        ws_deflate=ws_deflate,
        watch=not no_watch,
        faults=tuple(fault or ()),
        fault_rate=fault_rate,
        seed=seed,
        sse_ids=tuple(p.strip() for p in sse_ids.split(",") if p.strip()),
        log_requests=not quiet,
        log_events=log_events,
        log_format=log_format.value,
        serve_as=serve_as,
        hold_after=hold_after,
    )
    try:
        parse_many(config.faults)
    except FaultError as exc:
        typer.echo(f"error: --fault: {exc}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    sse = [p.name for p in REGISTRY.values() if p.transport == "sse"]
    unknown = [p for p in config.sse_ids if p not in sse]
    if unknown:
        typer.echo(f"error: --sse-ids: {unknown[0]!r} is not one of {', '.join(sse)}", err=True)
        raise typer.Exit(ExitCode.USAGE)
    with_pages = [p.name for p in REGISTRY.values() if p.pages()]
    if serve_as is not None and serve_as not in with_pages:
        typer.echo(f"error: --as: {serve_as!r} is not one of {', '.join(with_pages)}", err=True)
        raise typer.Exit(ExitCode.USAGE)
    try:
        loop_name(config.loop)
    except LoopError as exc:
        typer.echo(f"error: --loop: {exc}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    try:
        engine_name(config.server, config.workers)
    except EngineError as exc:
        typer.echo(f"error: --server: {exc}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    try:
        loaded = load_dirs(config.scenario_sources())
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    try:
        sock = bind(host, port)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    text = banner(config, sock.getsockname()[1], len(loaded))
    hand_over(dump_config(config), sock, text)  # returns only where it cannot
    from mockserver.serving import serve_until_stopped  # noqa: PLC0415

    serve_until_stopped(config, sock, text)
