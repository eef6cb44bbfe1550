"""``streamctl check``: conformance of a live server, a transcript or a directory of them.

A live URL is sent a message (or the messages of a scenario file), what comes back is recorded
in memory (HTTP status, content type and WebSocket handshake included) and checked like a
transcript file. Exit 0 only when nothing fails: any MUST finding fails, and with ``--strict``
any SHOULD finding too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from streamctl.cli.common import (
    ChatOpt,
    DebugOpt,
    HeaderOpt,
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
from streamctl.errors import CheckFailed, UsageError

if TYPE_CHECKING:
    from streamctl.cli.report import Checked
    from streamctl.core.protocols.base import ClientOptions, Protocol
    from streamctl.net import Limits

__all__ = ["check_command", "load_scenario"]

URL_SCHEMES = ("http://", "https://", "ws://", "wss://")

TargetArg = Annotated[
    str,
    typer.Argument(
        help="A live server URL; a transcript (.jsonl) or capture (.sse, .ndjson, .har) file, "
        "a directory of them, or '-' for stdin.",
        metavar="TARGET",
        show_default=False,
    ),
]
ScenarioOpt = Annotated[
    Path | None,
    typer.Option(
        "--scenario",
        help='Live URL only: send these messages (JSON: ["…", …] or {"messages": […]}).',
        metavar="FILE",
    ),
]
MessageOpt = Annotated[
    str, typer.Option("--message", "-m", metavar="TEXT", help="Live URL only: what to send.")
]
FormatOpt = Annotated[
    str,
    typer.Option("--format", "-f", metavar="FORMAT", help="Report format: text, json or junit."),
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="SHOULD findings fail too.")]
LingerOpt = Annotated[
    float,
    typer.Option(
        "--linger",
        min=0.0,
        metavar="SECONDS",
        help="Live URL only: seconds to keep listening after the end.",
    ),
]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Live SSE URL only: also force a disconnect mid-stream, reconnect with "
        "Last-Event-ID and report lost or repeated text (resume.* rules).",
    ),
]
ResumeAfterOpt = Annotated[
    int,
    typer.Option(
        "--resume-after",
        min=1,
        metavar="N",
        help="With --resume: disconnect after this many events.",
    ),
]
ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", metavar="FILE", help="Write the report to FILE instead of stdout."
    ),
]


def load_scenario(path: Path) -> list[str]:
    """The user messages of a check scenario file."""
    import json  # noqa: PLC0415 (not needed for --help)

    try:
        obj: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read scenario {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise UsageError(f"scenario {path} is not JSON: {exc}") from exc
    messages = obj.get("messages") if isinstance(obj, dict) else obj
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, str) and m for m in messages)
    ):
        raise UsageError(
            f'scenario {path}: expected a non-empty list of messages, ["…", …] or '
            '{"messages": ["…", …]}'
        )
    return messages


def check_files(proto: Protocol, target: str, console: Console) -> list[Checked]:
    """Check every transcript or capture at ``target`` (a file, a directory searched
    recursively, or ``-`` for stdin)."""
    from streamctl.cli.report import Checked  # noqa: PLC0415
    from streamctl.cli.sources import note_unjudged, read_source  # noqa: PLC0415
    from streamctl.core.check import check  # noqa: PLC0415

    checked: list[Checked] = []
    found = read_source(target, proto.name)
    for name, transcript in found:
        if transcript.protocol != proto.name:
            message = f"{name} is a {transcript.protocol} transcript, not {proto.name}"
            if len(found) == 1:
                raise UsageError(message)
            console.note(f"streamctl: skipped {message}")
            continue
        note_unjudged(console, name, transcript, proto)
        findings = check(transcript, proto)
        checked.append(Checked(name, proto.name, transcript, findings, proto.spec.rules))
    if not checked:
        raise UsageError(f"no {proto.name} transcripts in {target}")
    return checked


def check_live(
    proto: Protocol,
    options: ClientOptions,
    url: str,
    messages: list[str],
    bounds: Limits,
) -> list[Checked]:
    """Send ``messages`` to ``url``, record what comes back, and check it."""
    from streamctl.cli.common import run  # noqa: PLC0415
    from streamctl.cli.report import Checked  # noqa: PLC0415
    from streamctl.core.check import check  # noqa: PLC0415
    from streamctl.net import exchange  # noqa: PLC0415

    transcripts = run(exchange(proto, options, url, messages, bounds))
    checked = []
    for index, transcript in enumerate(transcripts):
        name = url if len(transcripts) == 1 else f"{url} [{index + 1}: {messages[index]!r}]"
        findings = check(transcript, proto)
        checked.append(Checked(name, proto.name, transcript, findings, proto.spec.rules))
    return checked


def check_resume(
    proto: Protocol,
    options: ClientOptions,
    url: str,
    checked: list[Checked],
    *,
    cut_after: int,
    timeout: float,
) -> list[Checked]:
    """``checked`` with the findings of a forced disconnect and a ``Last-Event-ID`` resume."""
    from dataclasses import replace  # noqa: PLC0415

    from streamctl.cli.common import run  # noqa: PLC0415
    from streamctl.engine.resume import RESUME_RULES, resume_findings  # noqa: PLC0415
    from streamctl.net.resume import resume_trial  # noqa: PLC0415

    trial = run(resume_trial(proto, options, url, cut_after=cut_after, timeout=timeout))
    found = resume_findings(
        trial.full.text, trial.before.text, trial.after.text, trial.before.last_id
    )
    first = checked[0]
    rules = (*first.rules, *RESUME_RULES)
    return [replace(first, findings=[*first.findings, *found], rules=rules), *checked[1:]]


def check_command(
    protocol: ProtocolArg,
    target: TargetArg,
    *,
    fmt: FormatOpt = "text",
    strict: StrictOpt = False,
    output: ReportOpt = None,
    message: MessageOpt = "Hello from streamctl check",
    scenario: ScenarioOpt = None,
    secret_key: SecretKeyOpt = None,
    token: TokenOpt = None,
    header: HeaderOpt = None,
    session: SessionOpt = None,
    chat: ChatOpt = None,
    ndjson: NdjsonOpt = False,
    timeout: TimeoutOpt = 30.0,
    max_events: MaxEventsOpt = 10_000,
    linger: LingerOpt = 0.5,
    resume: ResumeOpt = False,
    resume_after: ResumeAfterOpt = 3,
    debug: DebugOpt = False,
) -> None:
    """Check a live server, a transcript or a directory of transcripts against the spec.

    Prints the findings grouped by level, with rule ids and frame excerpts. Exits 0 only when
    nothing fails (any MUST finding fails; with --strict any SHOULD finding too).

    Examples: streamctl check sse-delta-done http://127.0.0.1:8000 --format junit;
    streamctl check goose recorded.jsonl
    """
    from streamctl.cli.report import FORMATS, render  # noqa: PLC0415

    console = Console()
    with guard(console, debug=debug):
        if fmt not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        proto = resolve_protocol(protocol)
        if target.startswith(URL_SCHEMES):
            messages = [message] if scenario is None else load_scenario(scenario)
            options = client_options(
                messages[0],
                headers=header,
                secret_key=secret_key,
                token=token,
                session=session,
                chat=chat,
                ndjson=ndjson,
            )
            checked = check_live(
                proto, options, target, messages, limits(timeout, max_events, linger)
            )
            if resume:
                checked = check_resume(
                    proto, options, target, checked, cut_after=resume_after, timeout=timeout
                )
        else:
            if scenario is not None:
                raise UsageError("--scenario needs a live URL as TARGET")
            if resume:
                raise UsageError("--resume needs a live URL as TARGET")
            checked = check_files(proto, target, console)
        report = render(checked, fmt, strict=strict)
        _emit(console, report, output)
        bad = [item.name for item in checked if item.failed(strict)]
        if bad:
            raise CheckFailed(f"{len(bad)} of {len(checked)} failed")


def _emit(console: Console, report: str, output: Path | None) -> None:
    if output is None:
        console.line(report)
        return
    try:
        output.write_text(report + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from exc
    console.note(f"wrote {output}")
