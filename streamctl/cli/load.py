"""``streamctl load``: Locust, headless, with one protocol's users; a summary at the end.

The command only builds Locust's command line and reads back the summary the users' package
writes (:mod:`streamctl.locust`): Locust runs in a process of its own (and ``--processes``
forks more), so gevent's monkey-patching never reaches this process. Secrets travel in the
environment, not on the command line other users of the machine can read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from streamctl.cli.common import (
    ChatOpt,
    DebugOpt,
    HeaderOpt,
    NdjsonOpt,
    ProtocolArg,
    SecretKeyOpt,
    SessionOpt,
    TokenOpt,
    guard,
    parse_header,
    resolve_protocol,
)
from streamctl.cli.output import Console
from streamctl.errors import LoadFailed, UsageError

__all__ = ["load_command"]

UrlArg = Annotated[
    str,
    typer.Argument(
        help="The server's base URL, e.g. http://127.0.0.1:8000 (a query string such as "
        "?scenario=slow is sent with every request).",
        metavar="URL",
        show_default=False,
    ),
]
UsersOpt = Annotated[
    int, typer.Option("--users", "-u", min=1, metavar="N", help="Concurrent users at the peak.")
]
SpawnRateOpt = Annotated[
    float,
    typer.Option("--spawn-rate", "-r", min=0.001, metavar="R", help="Users started per second."),
]
RunTimeOpt = Annotated[
    str | None,
    typer.Option("--run-time", "-t", metavar="T", help="Stop after this long (20s, 5m, 1h30m)."),
]
ConversationsOpt = Annotated[
    int,
    typer.Option(
        "--conversations",
        min=0,
        metavar="N",
        help="Each user holds N conversations, then stops; the run ends when every user has "
        "(exact totals whatever the machine's speed). 0: until --run-time.",
    ),
]
MessageOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--message", "-m", metavar="TEXT", help="A user message; repeat for several turns."
    ),
]
MessagesOpt = Annotated[
    Path | None,
    typer.Option(
        "--messages",
        metavar="FILE",
        help='The turns of each conversation (JSON: ["…", …] or {"messages": […]}).',
    ),
]
ProcessesOpt = Annotated[
    int | None,
    typer.Option(
        "--processes",
        min=1,
        metavar="K",
        help="Run K Locust worker processes on this machine (and a master).",
    ),
]
CheckRateOpt = Annotated[
    float,
    typer.Option(
        "--check-rate",
        min=0.0,
        max=1.0,
        metavar="P",
        help="Share of conversations recorded and checked; failing findings are failures.",
    ),
]
StallOpt = Annotated[
    float,
    typer.Option(
        "--stall", min=0.001, metavar="SECONDS", help="A turn silent this long fails as stalled."
    ),
]
TurnTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", min=0.001, metavar="SECONDS", help="A turn longer than this fails as timeout."
    ),
]
HtmlOpt = Annotated[
    Path | None, typer.Option("--html", metavar="FILE", help="Write Locust's HTML report.")
]
CsvOpt = Annotated[
    str | None,
    typer.Option("--csv", metavar="PREFIX", help="Write Locust's CSV files (PREFIX_stats.csv, …)."),
]
JsonOpt = Annotated[
    Path | None, typer.Option("--json", metavar="FILE", help="Write the summary as JSON.")
]
MasterOpt = Annotated[
    bool, typer.Option("--master", help="Run the Locust master; workers connect to it.")
]
ExpectWorkersOpt = Annotated[
    int,
    typer.Option(
        "--expect-workers", min=1, metavar="N", help="--master: start once N workers connected."
    ),
]
BindPortOpt = Annotated[
    int | None,
    typer.Option("--master-bind-port", metavar="PORT", help="--master: port to listen on."),
]
WorkerOpt = Annotated[
    bool, typer.Option("--worker", help="Run a Locust worker for the master at --master-host.")
]
MasterHostOpt = Annotated[
    str, typer.Option("--master-host", metavar="HOST", help="--worker: the master's address.")
]
MasterPortOpt = Annotated[
    int | None, typer.Option("--master-port", metavar="PORT", help="--worker: the master's port.")
]

_RUN_TIME = re.compile(r"(\d+h)?(\d+m)?(\d+s)?|\d+")


def load_command(
    protocol: ProtocolArg,
    url: UrlArg,
    *,
    users: UsersOpt = 10,
    spawn_rate: SpawnRateOpt = 10.0,
    run_time: RunTimeOpt = None,
    conversations: ConversationsOpt = 0,
    message: MessageOpt = None,
    messages: MessagesOpt = None,
    processes: ProcessesOpt = None,
    check_rate: CheckRateOpt = 0.0,
    stall: StallOpt = 10.0,
    timeout: TurnTimeoutOpt = 60.0,
    html: HtmlOpt = None,
    csv: CsvOpt = None,
    json_file: JsonOpt = None,
    master: MasterOpt = False,
    expect_workers: ExpectWorkersOpt = 1,
    master_bind_port: BindPortOpt = None,
    worker: WorkerOpt = False,
    master_host: MasterHostOpt = "127.0.0.1",
    master_port: MasterPortOpt = None,
    secret_key: SecretKeyOpt = None,
    token: TokenOpt = None,
    header: HeaderOpt = None,
    session: SessionOpt = None,
    chat: ChatOpt = None,
    ndjson: NdjsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Load-test a server with Locust: USERS concurrent conversations in PROTOCOL.

    Reports time to first token, token gaps, tokens/s and stream times (percentiles), and
    failed turns by type: refused, unreachable, truncated, malformed, stalled, timeout, error
    event (and, with --check-rate, conformance findings). Exits 1 when any turn failed.

    Example: streamctl load sse-delta-done "http://127.0.0.1:8000?scenario=slow" --users 500
    --spawn-rate 100 --run-time 20s --processes 2
    """
    from streamctl.cli import load_report  # noqa: PLC0415 (keeps --help fast)

    console = Console()
    with guard(console, debug=debug):
        proto = resolve_protocol(protocol)
        url = _validate(url, run_time, master=master, worker=worker)
        turns = _messages(message, messages)
        if not run_time and not conversations and not worker:
            console.note("streamctl: no --run-time or --conversations: runs until Ctrl-C")
        run = load_report.Run(
            protocol=proto.name,
            url=url,
            users=users,
            spawn_rate=spawn_rate,
            run_time=run_time,
            conversations=conversations,
            messages=turns,
            check_rate=check_rate,
            stall=stall,
            timeout=timeout,
            headers=[f"{k}: {v}" for k, v in (parse_header(h) for h in header or ())],
            session=session,
            chat=chat,
            ndjson=ndjson,
            debug=debug,
        )
        argv = run.argv()
        argv += _distribution(processes, master, expect_workers, master_bind_port)
        if worker:
            argv += ["--worker", "--master-host", master_host]
            argv += [] if master_port is None else ["--master-port", str(master_port)]
        argv += ["--html", str(html)] if html else []
        argv += ["--csv", csv] if csv else []
        secrets = _secrets(secret_key, token)
        summary = load_report.run_locust(run, argv, secrets, expect_summary=not worker)
        if summary is None:
            return
        console.line(load_report.render(run, summary))
        if json_file is not None:
            _write(json_file, load_report.as_json(run, summary))
            console.note(f"wrote {json_file}")
        if not load_report.turns(summary):
            raise LoadFailed(
                "no turn completed: the server never finished a reply in time, or Locust lost "
                "its workers (a worker's heartbeat late on a busy machine; --debug shows it)"
            )
        failed = load_report.failures(summary, "stream")
        nonconformant = load_report.failures(summary, "check")
        if failed or nonconformant:
            raise LoadFailed(
                f"{failed} of {load_report.turns(summary)} turns failed, "
                f"{nonconformant} checked conversations broke the protocol's rules"
            )


def _validate(url: str, run_time: str | None, *, master: bool, worker: bool) -> str:
    """``url`` as Locust is to get it (``http://`` added when it has no scheme)."""
    from streamctl.net.urls import validate  # noqa: PLC0415

    absolute = validate(url)
    if master and worker:
        raise UsageError("--master and --worker cannot be used together")
    if run_time is not None and not (run_time and _RUN_TIME.fullmatch(run_time)):
        raise UsageError(f"--run-time must look like 20s, 5m or 1h30m, not {run_time!r}")
    return absolute


def _messages(message: list[str] | None, path: Path | None) -> list[str]:
    from streamctl.cli.check import load_messages  # noqa: PLC0415

    if message and path is not None:
        raise UsageError("--message and --messages cannot be used together")
    if path is not None:
        return load_messages(path)
    if any(not m for m in message or ()):
        raise UsageError("--message cannot be empty")
    return list(message or ["Hello from streamctl load"])


def _distribution(
    processes: int | None, master: bool, expect_workers: int, bind_port: int | None
) -> list[str]:
    argv = [] if processes is None else ["--processes", str(processes)]
    if master:
        argv += ["--master", "--expect-workers", str(expect_workers)]
        argv += [] if bind_port is None else ["--master-bind-port", str(bind_port)]
    elif processes is not None:
        # Master and workers all on this machine: a port of their own, not Locust's default
        # 5557, where another run's workers would join them.
        port = str(_free_port())
        argv += ["--master-bind-host", "127.0.0.1", "--master-bind-port", port]
        argv += ["--master-port", port]
    return argv


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _secrets(secret_key: str | None, token: str | None) -> dict[str, Any]:
    found = {"STREAMCTL_SECRET_KEY": secret_key, "STREAMCTL_TOKEN": token}
    return {k: v for k, v in found.items() if v is not None}


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
