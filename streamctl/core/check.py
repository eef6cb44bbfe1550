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
from streamctl.core.protocols.base import Protocol
from streamctl.core.spec import Finding, Level, Msg, Rule
from streamctl.core.transcript import Transcript

__all__ = ["check", "failed", "order_findings", "unjudged"]


def check(transcript: Transcript, protocol: Protocol | None = None) -> list[Finding]:
    """Every finding for ``transcript``, ordered by the frame it concerns.

    Rules that need a fact the transcript lacks (a capture without timing, say) are not
    judged: they give no finding, and :func:`unjudged` lists them.
    """
    proto = protocol or get(transcript.protocol)
    with _collector_paused():
        findings = _check(transcript, proto)
    skipped = {rule.id for rule in unjudged(transcript, proto)}
    return [f for f in findings if f.rule not in skipped] if skipped else findings


def unjudged(transcript: Transcript, protocol: Protocol | None = None) -> list[Rule]:
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


def _check(transcript: Transcript, proto: Protocol) -> list[Finding]:
    findings = [*proto.transport_rules(transcript), *proto.http_rules(transcript)]
    response = transcript.header.response
    if response is not None and response.status not in (200, 101):
        return findings  # the server refused: there is no stream to check
    msgs, decoding = proto.messages(transcript)
    findings += decoding
    findings += order_findings(proto, msgs, transcript)
    findings += proto.content_rules(msgs, transcript)
    return sorted(findings, key=lambda f: -1 if f.frame is None else f.frame)


def order_findings(proto: Protocol, msgs: Sequence[Msg], transcript: Transcript) -> list[Finding]:
    """Apply the protocol's transition table to the messages, in order."""
    machine = proto.spec.machine
    if machine is None:
        return []
    findings: list[Finding] = []
    state = machine.initial
    for msg in msgs:
        after = machine.next_state(state, msg.type)
        if after is not None:
            state = after
        elif state in machine.terminal:
            findings.append(
                proto.finding(
                    machine.after_final,
                    f"{msg.type} after the stream already ended ({state})",
                    msg.frame,
                    msg.raw,
                )
            )
        else:
            expected = ", ".join(machine.expected(state)) or "nothing"
            findings.append(
                proto.finding(
                    machine.unexpected,
                    f"{msg.type} is not allowed in state {state!r} (expected: {expected})",
                    msg.frame,
                    msg.raw,
                )
            )
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


def failed(findings: Sequence[Finding], strict: bool = False) -> bool:
    """Whether findings fail a check: any MUST, or with ``strict`` any finding at all."""
    return any(f.level is Level.MUST or strict for f in findings)
