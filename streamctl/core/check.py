"""The conformance checker: a transcript in, every finding out.

The checker owns no protocol knowledge: it runs the shared transport rules, the protocol's
decoding (framing, JSON, schemas), the protocol's order table, and its consistency rules, and
returns every finding, not just the first. It works on a partial stream too: what is missing is
reported as the order table's ``incomplete`` rule.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence

from streamctl.core.protocols import get
from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.protocols.rules import excerpt
from streamctl.core.spec import ANY, SAME, Finding, Level, Machine, Msg, Rule
from streamctl.core.transcript import Frame, Transcript

__all__ = ["NO_REPLY", "check", "failed", "no_reply", "order_findings", "unjudged"]

#: A live check relies on a reply: a refused exchange has no stream to check, so it fails.
NO_REPLY = Rule(
    "check.reply",
    Level.MUST,
    "The server answers the check's message with a reply: not an HTTP error, a refused "
    "upgrade, or the protocol's error event before any of the reply.",
    "streamctl check: no reply, no pass",
)
_AUTH_STATUSES = (401, 403)


def check(transcript: Transcript, protocol: ChatProtocol | None = None) -> list[Finding]:
    """Every finding for ``transcript``, ordered by the frame it concerns.

    Rules that need a fact the transcript lacks (a capture without timing, say) are not
    judged: they give no finding, and :func:`unjudged` lists them.
    """
    proto = protocol or get(transcript.protocol)
    with _collector_paused():
        findings = _check(transcript, proto)
    skipped = {rule.id for rule in unjudged(transcript, proto)}
    return [f for f in findings if f.rule not in skipped] if skipped else findings


def unjudged(transcript: Transcript, protocol: ChatProtocol | None = None) -> list[Rule]:
    """The rules :func:`check` cannot judge: they need a fact the transcript marks unknown."""
    unknown = frozenset(transcript.header.unknown)
    if not unknown:
        return []
    proto = protocol or get(transcript.protocol)
    return [rule for rule in proto.spec.rules if rule.needs & unknown]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    # A long transcript keeps every decoded message alive until the end, and the cyclic garbage
    # collector rescans them all again and again (10-25% of the time). Checking makes no
    # reference cycles, so reference counting frees everything anyway.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check(transcript: Transcript, proto: ChatProtocol) -> list[Finding]:
    findings = [*proto.transport_rules(transcript), *proto.http_rules(transcript)]
    response = transcript.header.response
    if response is not None and response.status not in (200, 101):
        return findings  # the server refused: there is no stream to check
    msgs, decoding = proto.messages(transcript)
    findings += decoding
    findings += order_findings(proto, msgs, transcript)
    findings += proto.content_rules(msgs, transcript)
    return sorted(findings, key=lambda f: -1 if f.frame is None else f.frame)


def order_findings(
    proto: ChatProtocol, msgs: Sequence[Msg], transcript: Transcript
) -> list[Finding]:
    """Apply the protocol's transition table to the messages, in order.

    A message the table does not allow is one finding, and the walk re-synchronises on it (as
    if the one frame before it went missing, or from any state that takes it), so one missing
    or extra frame does not make every later frame a finding too.
    """
    machine = proto.spec.machine
    if machine is None:
        return []
    findings: list[Finding] = []
    state = machine.initial
    for index, msg in enumerate(msgs):
        after = machine.next_state(state, msg.type)
        if after is not None:
            state = after
            continue
        findings.append(_out_of_order(proto, machine, state, msg))
        following = msgs[index + 1].type if index + 1 < len(msgs) else None
        if following is None or machine.next_state(state, following) is None:
            state = _resync(machine, state, msg.type)  # else: an extra frame, skipped
    if state not in machine.final:
        end = transcript.end
        how = f"; the recording ended: {end.outcome}" if end is not None else ""
        expected = ", ".join(machine.expected(state)) or "nothing"
        findings.append(
            proto.finding(
                machine.incomplete,
                f"stream ended in state {state!r}, still expecting {expected}{how}",
                len(transcript.records) - 1 if transcript.records else None,
            )
        )
    return findings


def _out_of_order(proto: ChatProtocol, machine: Machine, state: str, msg: Msg) -> Finding:
    if state in machine.terminal:
        what = f"{msg.type} after the stream already ended ({state})"
        return proto.finding(machine.after_final, what, msg.frame, msg.raw)
    expected = ", ".join(machine.expected(state)) or "nothing"
    what = f"{msg.type} is not allowed in state {state!r} (expected: {expected})"
    return proto.finding(machine.unexpected, what, msg.frame, msg.raw)


def _resync(machine: Machine, state: str, kind: str) -> str:
    """The state after ``kind`` when it came out of order and the next message does not fit
    without it: one missing frame before it, else the first state that takes it; a message no
    state takes is skipped."""
    if state in machine.terminal:
        return state
    for missing in machine.expected(state):
        between = machine.next_state(state, missing)
        after = None if between is None else machine.next_state(between, kind)
        if after is not None:
            return after
    for (source, taken), target in machine.transitions.items():
        if taken == kind and source not in (ANY, state):
            return source if target == SAME else target
    return state


def failed(findings: Sequence[Finding], strict: bool = False) -> bool:
    """Whether findings fail a check: any MUST, or with ``strict`` any finding at all."""
    return any(f.level is Level.MUST or strict for f in findings)


def no_reply(transcript: Transcript, protocol: ChatProtocol | None = None) -> Finding | None:
    """The :data:`NO_REPLY` finding when ``transcript`` holds no reply: one line saying why
    and, when the server refused credentials, what to pass."""
    proto = protocol or get(transcript.protocol)
    response = transcript.header.response
    if response is None:
        return _no_reply(proto, "the server never answered", transcript)
    if response.status not in (200, 101):
        said = _body(transcript)
        what = f"HTTP {response.status}" + (f' "{said}"' if said else "")
        return _no_reply(proto, what, transcript, auth=response.status in _AUTH_STATUSES)
    msgs, _ = proto.messages(transcript)
    before: list[str] = []
    for msg in msgs:
        if msg.type in proto.reply_types:
            return None
        if msg.type in proto.error_types:
            said = excerpt(_error_text(msg), 160)
            return _no_reply(proto, f'"{said}"', transcript, auth=proto.auth_pending(before))
        before.append(msg.type)
    end = transcript.end
    how = f" (ended: {end.outcome}{': ' + end.detail if end.detail else ''})" if end else ""
    return _no_reply(proto, f"no reply arrived{how}", transcript, refused=False)


def _no_reply(
    proto: ChatProtocol,
    what: str,
    transcript: Transcript,
    *,
    auth: bool = False,
    refused: bool = True,
) -> Finding:
    if auth and proto.credentials_hint:
        message = f"{proto.name}: authentication refused ({what}); {proto.credentials_hint}"
    elif refused:
        message = f"{proto.name}: the server refused the exchange ({what})"
    else:
        message = f"{proto.name}: {what}"
    frame = len(transcript.records) - 1 if transcript.records else None
    return Finding(NO_REPLY.id, NO_REPLY.level, message, NO_REPLY.source, frame)


def _body(transcript: Transcript) -> str:
    parts = [r.payload for r in transcript.records if isinstance(r, Frame) and r.sender == "server"]
    text = "".join(p if isinstance(p, str) else p.decode("utf-8", "replace") for p in parts)
    return excerpt(text.strip(), 160)


def _error_text(msg: Msg) -> str:
    """What an error event says: its ``message`` or ``error`` (or ``error.message``)."""
    for key in ("message", "error"):
        value = msg.body.get(key)
        if isinstance(value, dict):
            value = value.get("message")
        if isinstance(value, str):
            return value
    return msg.raw
