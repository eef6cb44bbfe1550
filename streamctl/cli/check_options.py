"""The options of ``streamctl check`` that only it takes (the shared ones are in
:mod:`streamctl.cli.common`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "BaselineOpt",
    "FormatOpt",
    "IdleOpt",
    "LingerOpt",
    "MessageOpt",
    "MessagesOpt",
    "ProbeOpt",
    "QuickOpt",
    "ReportOpt",
    "ResumeAfterOpt",
    "ResumeOpt",
    "StrictOpt",
    "TargetArg",
    "WriteBaselineOpt",
]

TargetArg = Annotated[
    str,
    typer.Argument(
        help="A live server URL; a transcript (.jsonl) or capture (.sse, .ndjson, .har) file, "
        "a directory of them, or '-' for stdin.",
        metavar="TARGET",
        show_default=False,
    ),
]
MessagesOpt = Annotated[
    Path | None,
    typer.Option(
        "--messages",
        help="Live URL only: instead of the probes, send these messages and check the replies "
        '(JSON: ["…", …], {"messages": […]}, or a scenario file: one message per turn).',
        metavar="FILE",
    ),
]
ProbeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--probe",
        metavar="NAME",
        help="Live URL only: run this probe of the contract suite (repeatable; default: all, "
        "see `streamctl spec PROTOCOL`).",
    ),
]
QuickOpt = Annotated[
    bool, typer.Option("--quick", help="Live URL only: run the one-exchange probe only.")
]
IdleOpt = Annotated[
    float,
    typer.Option(
        "--idle-timeout",
        min=0.001,
        metavar="SECONDS",
        help="Live URL only: a stream silent this long fails (<protocol>.stalled) at once.",
    ),
]
BaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--baseline",
        metavar="FILE",
        help="Known findings (by probe and rule) that do not fail the run; one that no longer "
        "appears makes the baseline stale, which fails.",
    ),
]
WriteBaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--write-baseline", metavar="FILE", help="Write this run's findings as a baseline."
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
