"""Probes: the contract suite ``streamctl check URL`` runs, sans-I/O.

A probe is data (its name, kind, the rules it exercises, what it needs) plus a plan: a
generator that yields what to do on the wire (:class:`Talk`, :class:`Fetch`, :class:`Connect`,
:class:`Send`, :class:`Receive`) and is sent back what happened (:class:`Talked`,
:class:`Fetched`, :class:`Connected`, :class:`Received`); it returns its findings. The network
runner (:mod:`streamctl.net.probe`) only carries these out, so every judgement is here and
testable without a server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from streamctl.core.check import NO_REPLY, check, failed, no_reply
from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.spec import Finding, Level, Rule
from streamctl.core.transcript import Headers, Transcript

__all__ = [
    "NO_REPLY",
    "STALLED",
    "Connect",
    "Connected",
    "Context",
    "Fetch",
    "Fetched",
    "NotRun",
    "Plan",
    "Probe",
    "ProbeResult",
    "Receive",
    "Received",
    "Send",
    "Status",
    "Talk",
    "Talked",
    "collect",
    "connect",
    "fetch",
    "hit",
    "probe_rule",
    "receive",
    "reply_to",
    "run_plan",
    "send",
    "stalled_rule",
    "stream_findings",
    "talk",
    "types_of",
    "verdict",
]

Status = Literal["pass", "fail", "not run"]
Kind = Literal["exchange", "conversation", "state", "bad-input", "auth", "negotiation", "timing"]
PROBE_SOURCE = "streamctl check (contract suite)"


# --- what a plan asks for, and what it is told -------------------------------------------


@dataclass(frozen=True)
class Talk:
    """Send ``messages`` as turns of one conversation, the way ``streamctl send`` does
    (``query`` is added to the URL); answered with :class:`Talked`."""

    messages: tuple[str, ...]
    options: ClientOptions
    query: str = ""


@dataclass(frozen=True)
class Fetch:
    """One plain HTTP request (``path`` from the server's root); answered with :class:`Fetched`."""

    method: str
    path: str
    headers: Headers = ()
    body: bytes = b""


@dataclass(frozen=True)
class Connect:
    """Open a WebSocket to the protocol's stream endpoint; answered with :class:`Connected`."""

    headers: Headers = ()


@dataclass(frozen=True)
class Send:
    """Send one text message on the open WebSocket; answered with :class:`Received` (empty)."""

    text: str


@dataclass(frozen=True)
class Receive:
    """The next message on the open WebSocket, waiting at most ``wait_s`` seconds (``None``:
    the idle timeout); answered with :class:`Received`."""

    wait_s: float | None = None


@dataclass(frozen=True)
class Talked:
    transcripts: tuple[Transcript, ...]


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)

    def json(self) -> Any:
        """The body as JSON, or ``None`` when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True)
class Connected:
    status: int


@dataclass(frozen=True)
class Received:
    """A message (``None``: nothing came in time); ``closed`` when the server closed."""

    message: str | bytes | None = None
    closed: bool = False


Action = Talk | Fetch | Connect | Send | Receive
Observation = Talked | Fetched | Connected | Received
Plan = Generator[Action, Observation, list[Finding]]


@dataclass(frozen=True)
class Context:
    """What a plan knows: the protocol, the user's options (credentials, the message), the
    idle timeout, the wall clock (to sign tokens that expired) and the HS256 secret if given."""

    proto: ChatProtocol
    options: ClientOptions
    idle_s: float = 5.0
    now: float = 0.0
    jwt_secret: str | None = None


_OPTIONS = {"token": "--token (or --jwt-secret)", "secret_key": "--secret-key"}


@dataclass(frozen=True)
class Probe:
    """One probe of the contract suite.

    ``rules``: the rules only this probe can break (not visible in one stream). ``covers``:
    the protocol's own rule ids it exercises (a trailing ``*`` matches a prefix). ``needs``:
    options it cannot run without (``token``, ``secret_key``), said as ``not run: needs …``.
    """

    name: str
    kind: Kind
    text: str
    plan: Callable[[Context], Plan]
    rules: tuple[Rule, ...] = ()
    covers: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    quick: bool = False

    def missing(self, ctx: Context) -> list[str]:
        """The options this probe needs and ``ctx`` lacks (as command-line options)."""
        have = {"token": ctx.options.token, "secret_key": ctx.options.secret_key}
        return [_OPTIONS.get(need, need) for need in self.needs if not have.get(need)]

    def exercises(self, rule_id: str, spec: frozenset[str] = frozenset()) -> bool:
        """Whether this probe can catch ``rule_id``: one of its own rules, or one of the
        protocol's ``spec`` rules that ``covers`` names."""
        if any(rule.id == rule_id for rule in self.rules):
            return True
        return rule_id in spec and any(
            rule_id.startswith(c[:-1]) if c.endswith("*") else rule_id == c for c in self.covers
        )


class NotRun(Exception):
    """Raised by a plan that found it cannot test what it is for (the message says why)."""


@dataclass(frozen=True)
class ProbeResult:
    """How one probe went: ``pass``, ``fail`` or ``not run`` (``why`` says what it needs)."""

    probe: Probe
    status: Status
    findings: tuple[Finding, ...] = ()
    why: str = ""
    transcripts: tuple[Transcript, ...] = field(default=(), compare=False)
    #: Findings a baseline already knows (they do not fail the probe).
    known: tuple[Finding, ...] = ()


# --- helpers for plans --------------------------------------------------------------------


def hit(rule: Rule, message: str, excerpt: str | None = None) -> Finding:
    """A finding of a probe's own rule."""
    return Finding(rule.id, rule.level, message, rule.source, None, excerpt)


def probe_rule(proto: str, suffix: str, text: str, level: Level = Level.MUST) -> Rule:
    return Rule(f"{proto}.{suffix}", level, text, PROBE_SOURCE)


#: How the runner's End record begins when ``--idle-timeout`` ran out (the stream stalled).
STALLED = "stalled:"


def stalled_rule(proto: str) -> Rule:
    return probe_rule(
        proto,
        "stalled",
        "A stream is never silent for --idle-timeout seconds before its terminator.",
    )


def stream_findings(proto: ChatProtocol, transcripts: Sequence[Transcript]) -> list[Finding]:
    """Every stream's findings, ``<proto>.stalled`` for a stream that fell silent, and
    :data:`NO_REPLY` for the first without a reply (nothing after it is checked)."""
    found: list[Finding] = []
    for transcript in transcripts:
        end = transcript.end
        if end is not None and end.detail.startswith(STALLED):
            found.append(hit(stalled_rule(proto.name), end.detail))
        refused = no_reply(transcript, proto)
        found += [refused] if refused is not None else []
        found += check(transcript, proto)
        if refused is not None:
            break
    return found


def talk(
    ctx: Context, *messages: str, query: str = "", **changes: Any
) -> Generator[Action, Observation, tuple[Transcript, ...]]:
    """Turns of one conversation; what came back, one transcript per request (HTTP) or one
    for the connection (WebSocket)."""
    options = replace(ctx.options, message=messages[0], **changes)
    seen = yield Talk(tuple(messages), options, query)
    assert isinstance(seen, Talked)
    return seen.transcripts


def fetch(
    method: str, path: str, headers: Headers = (), body: bytes = b""
) -> Generator[Action, Observation, Fetched]:
    seen = yield Fetch(method, path, headers, body)
    assert isinstance(seen, Fetched)
    return seen


def connect(headers: Headers = ()) -> Generator[Action, Observation, int]:
    seen = yield Connect(headers)
    assert isinstance(seen, Connected)
    return seen.status


def send(text: str) -> Generator[Action, Observation, bool]:
    """Send ``text``; False when the connection is already closed."""
    seen = yield Send(text)
    assert isinstance(seen, Received)
    return not seen.closed


def receive(wait_s: float | None = None) -> Generator[Action, Observation, Received]:
    seen = yield Receive(wait_s)
    assert isinstance(seen, Received)
    return seen


def reply_to(
    session: ClientSession, opening: bool = True
) -> Generator[Action, Observation, tuple[list[str], bool]]:
    """Drive ``session`` on the open WebSocket until its reply is done: the messages received,
    and whether the reply ended (False: silence or a close first)."""
    for text in session.opening() if opening else ():
        yield from send(text)
    got: list[str] = []
    while True:
        seen = yield from receive()
        if not isinstance(seen.message, str):
            return got, False
        got.append(seen.message)
        update = session.on_message(seen.message)
        for text in update.send:
            yield from send(text)
        if update.done:
            return got, True


def collect(wait_s: float) -> Generator[Action, Observation, tuple[list[str], bool]]:
    """Every message that arrives until ``wait_s`` of quiet; and whether the server closed."""
    got: list[str] = []
    while True:
        seen = yield from receive(wait_s)
        if isinstance(seen.message, str):
            got.append(seen.message)
        elif seen.message is None:
            return got, seen.closed


def types_of(messages: Sequence[str]) -> list[str]:
    """The ``type`` of every JSON object message (``?`` for anything else)."""
    kinds = []
    for text in messages:
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        kind = obj.get("type") if isinstance(obj, dict) else None
        kinds.append(kind if isinstance(kind, str) else "?")
    return kinds


def run_plan(plan: Plan, answer: Callable[[Action], Observation]) -> list[Finding]:
    """Run ``plan`` to its end with a synchronous ``answer`` (tests and fakes)."""
    try:
        action = next(plan)
        while True:
            action = plan.send(answer(action))
    except StopIteration as stop:
        findings: list[Finding] = stop.value
        return findings


def verdict(probe: Probe, findings: Sequence[Finding], strict: bool = False) -> ProbeResult:
    status: Status = "fail" if failed(findings, strict) else "pass"
    return ProbeResult(probe, status, tuple(findings))


def ws_bad_input(
    ctx: Context,
    cases: Sequence[tuple[str, str]],
    answers: Rule,
    stays_open: Rule,
    ready: Callable[[], Generator[Action, Observation, ClientSession | None]],
) -> Plan:
    """Send each malformed message of ``cases`` (``(what, text)``) on one connection made
    ``ready``: each must get the protocol's ``error`` frame, and the connection must stay open
    and answer a valid message afterwards."""
    session = yield from ready()
    if session is None:
        raise NotRun("the connection did not get ready for messages (see the exchange probe)")
    found: list[Finding] = []
    for what, text in cases:
        sent = yield from send(text)
        first = (yield from receive()) if sent else Received(closed=True)
        if first.closed and first.message is None:
            return [*found, hit(stays_open, f"the server closed the connection on {what}")]
        kinds = types_of([first.message] if isinstance(first.message, str) else [])
        if kinds != ["error"]:
            said = "nothing" if first.message is None else repr(first.message)[:80]
            found.append(hit(answers, f"{what}: expected an error frame, got {said}"))
        _, closed = yield from collect(0.05)
        if closed:
            return [*found, hit(stays_open, f"the server closed the connection after {what}")]
    _, ended = yield from reply_to(session)
    if not ended:
        found.append(hit(stays_open, "after the malformed messages, a valid one got no reply"))
    return found
