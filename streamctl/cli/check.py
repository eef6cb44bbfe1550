"""``streamctl check``: conformance of a live server, a transcript or a directory of them.

A live URL is sent a message (or the messages of a scenario file), what comes back is recorded
in memory (HTTP status, content type and WebSocket handshake included) and checked like a
transcript file. Exit 0 only when nothing fails: any MUST finding fails, and with ``--strict``
any SHOULD finding too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamctl.cli.check_options import (
    BaselineOpt,
    FormatOpt,
    IdleOpt,
    LingerOpt,
    MessageOpt,
    MessagesOpt,
    ProbeOpt,
    QuickOpt,
    ReportOpt,
    ResumeAfterOpt,
    ResumeOpt,
    StrictOpt,
    TargetArg,
    WriteBaselineOpt,
)
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
from streamctl.errors import CheckFailed, UsageError

if TYPE_CHECKING:
    from streamctl.cli.report import Checked
    from streamctl.core.protocols.exchange import ClientOptions
    from streamctl.core.protocols.protocol import ChatProtocol
    from streamctl.net import Limits, Observer

__all__ = ["check_command", "load_messages"]

URL_SCHEMES = ("http://", "https://", "ws://", "wss://")
#: ``127.0.0.1:8000``, ``localhost:8000/x``, ``:8000``, ``[::1]:8000``: a URL without its scheme.
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:]+\]|[\w.-]*):\d+(/|\?|$)")


def is_live(target: str) -> bool:
    """Whether TARGET names a server: a URL, or host:port without a scheme (as curl and httpie
    take it) where no such file exists."""
    if target.startswith(URL_SCHEMES):
        return True
    return bool(_HOST_PORT.match(target)) and not Path(target).exists()


def load_messages(path: Path) -> list[str]:
    """The user messages of a ``--messages`` file: a list, ``{"messages": […]}``, or a
    scenario file (one message per turn)."""
    import json  # noqa: PLC0415 (not needed for --help)

    try:
        obj: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read messages {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise UsageError(f"messages {path} is not JSON: {exc}") from exc
    messages = obj.get("messages") if isinstance(obj, dict) else obj
    turns = obj.get("turns") if isinstance(obj, dict) else None
    if messages is None and isinstance(turns, list) and turns:
        name = obj.get("name") or path.stem
        messages = [f"Turn {index + 1} of {name}" for index in range(len(turns))]
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, str) and m for m in messages)
    ):
        raise UsageError(
            f'messages {path}: expected a non-empty list of messages, ["…", …], '
            '{"messages": ["…", …]} or a scenario with "turns"'
        )
    return messages


def check_files(proto: ChatProtocol, target: str, console: Console) -> list[Checked]:
    """Check every transcript or capture at ``target`` (a file, a directory searched
    recursively, or ``-`` for stdin)."""
    from streamctl.cli.report import Checked  # noqa: PLC0415
    from streamctl.cli.sources import note_unjudged, read_source  # noqa: PLC0415
    from streamctl.core.check import check  # noqa: PLC0415

    checked: list[Checked] = []
    found = read_source(target, proto.name, console)
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
    proto: ChatProtocol,
    options: ClientOptions,
    url: str,
    messages: list[str],
    bounds: Limits,
    *,
    observer: Observer | None = None,
) -> list[Checked]:
    """Send ``messages`` to ``url``, record what comes back, and check it."""
    from streamctl.cli.common import run  # noqa: PLC0415
    from streamctl.cli.report import Checked  # noqa: PLC0415
    from streamctl.core.check import NO_REPLY, check, no_reply  # noqa: PLC0415
    from streamctl.net import exchange  # noqa: PLC0415

    transcripts = run(exchange(proto, options, url, messages, bounds, observer=observer))
    checked = []
    rules = (NO_REPLY, *proto.spec.rules)
    for index, transcript in enumerate(transcripts):
        name = url if len(transcripts) == 1 else f"{url} [{index + 1}: {messages[index]!r}]"
        refused = no_reply(transcript, proto)
        findings = [*([refused] if refused else []), *check(transcript, proto)]
        checked.append(Checked(name, proto.name, transcript, findings, rules))
    return checked


def check_resume(
    proto: ChatProtocol,
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
    probe: ProbeOpt = None,
    quick: QuickOpt = False,
    baseline: BaselineOpt = None,
    write_to: WriteBaselineOpt = None,
    message: MessageOpt = "Hello from streamctl check",
    messages: MessagesOpt = None,
    secret_key: SecretKeyOpt = None,
    token: TokenOpt = None,
    jwt_secret: JwtSecretOpt = None,
    header: HeaderOpt = None,
    session: SessionOpt = None,
    chat: ChatOpt = None,
    ndjson: NdjsonOpt = False,
    timeout: TimeoutOpt = 30.0,
    idle_timeout: IdleOpt = 5.0,
    max_events: MaxEventsOpt = 10_000,
    linger: LingerOpt = 0.5,
    resume: ResumeOpt = False,
    resume_after: ResumeAfterOpt = 3,
    debug: DebugOpt = False,
) -> None:
    """Check a live server (its whole contract suite of probes), a transcript or a directory
    of transcripts against the spec.

    A live URL runs every probe of the protocol's suite (`streamctl spec PROTOCOL` lists
    them) and reports each as pass, fail or not run, with the rules exercised. Exits 0 only
    when nothing fails (any MUST finding fails; with --strict any SHOULD finding too); a run
    that checked nothing fails.

    Examples: streamctl check sse-delta-done http://127.0.0.1:8000 --format junit;
    streamctl check goose recorded.jsonl
    """
    from streamctl.cli.report import FORMATS  # noqa: PLC0415

    console = Console()
    with guard(console, debug=debug):
        if fmt not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        proto = resolve_protocol(protocol)
        live = is_live(target)
        _refuse_offline(live, messages=messages, resume=resume, probe=probe, quick=quick)
        _refuse_offline(live, baseline=baseline, write_baseline=write_to)
        if not live:
            _report(console, check_files(proto, target, console), fmt, strict, output)
            return
        from streamctl.net.urls import validate  # noqa: PLC0415

        target = validate(target)
        options = client_options(
            message,
            headers=header,
            secret_key=secret_key,
            token=token,
            session=session,
            chat=chat,
            ndjson=ndjson,
            jwt_secret=jwt_secret,
        )
        bounds = limits(timeout, max_events, linger, idle=idle_timeout)
        server = _Live(console, proto, options, target, bounds, _wire(console, debug))
        if messages is not None or resume:
            _refuse_probe_options(probe=probe, quick=quick, baseline=baseline, write_to=write_to)
            sent = [message] if messages is None else load_messages(messages)
            cut_after = resume_after if resume else None
            _report(console, server.exchanges(sent, cut_after, timeout), fmt, strict, output)
            return
        server.suite(
            probe or [],
            quick=quick,
            strict=strict,
            jwt_secret=jwt_secret,
            baseline=baseline,
            write_to=write_to,
            fmt=fmt,
            output=output,
        )


@dataclass(frozen=True)
class _Live:
    """A live check's target and what every way of checking it shares."""

    console: Console
    proto: ChatProtocol
    options: ClientOptions
    url: str
    bounds: Limits
    observer: Observer | None

    def exchanges(self, sent: list[str], cut_after: int | None, timeout: float) -> list[Checked]:
        """``sent`` checked as they are answered, then a forced resume if ``cut_after``."""
        checked = check_live(
            self.proto, self.options, self.url, sent, self.bounds, observer=self.observer
        )
        if cut_after is None:
            return checked
        return check_resume(
            self.proto, self.options, self.url, checked, cut_after=cut_after, timeout=timeout
        )

    def suite(
        self,
        probes: list[str],
        *,
        quick: bool,
        strict: bool,
        jwt_secret: str | None,
        baseline: Path | None,
        write_to: Path | None,
        fmt: str,
        output: Path | None,
    ) -> None:
        """Run the contract suite's probes, report them, and fail if one failed."""
        from streamctl.cli.check_suite import suite_check, write_baseline  # noqa: PLC0415
        from streamctl.cli.suite_report import render_suite  # noqa: PLC0415

        suite = suite_check(
            self.proto,
            self.url,
            self.options,
            self.bounds,
            probes=probes,
            quick=quick,
            strict=strict,
            jwt_secret=jwt_secret,
            baseline=baseline,
            observer=self.observer,
        )
        if write_to is not None:
            write_baseline(write_to, suite)
            self.console.note(f"wrote {write_to}")
        _emit(self.console, render_suite(suite, fmt), output)
        if suite.failed:
            failed = sum(r.status == "fail" for r in suite.results)
            raise CheckFailed(
                f"{failed} of {len(suite.results)} probes failed"
                + "".join(f"; {line}" for line in suite.problems())
            )


def _refuse_probe_options(**given: object) -> None:
    if any(given.values()):
        raise UsageError(
            "--messages and --resume do not run probes: drop --probe, --quick and the baselines"
        )


def _refuse_offline(live: bool, **given: object) -> None:
    if live:
        return
    for name, value in given.items():
        if value:
            flag = "--" + name.replace("_", "-")
            raise UsageError(f"{flag} needs a live URL as TARGET")


def _wire(console: Console, debug: bool) -> Observer | None:
    """With --debug, the wire on stderr."""
    if not debug:
        return None
    from streamctl.cli.views import WireView  # noqa: PLC0415

    return WireView(console)


def _report(
    console: Console, checked: list[Checked], fmt: str, strict: bool, output: Path | None
) -> None:
    from streamctl.cli.report import render  # noqa: PLC0415

    _emit(console, render(checked, fmt, strict=strict), output)
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
