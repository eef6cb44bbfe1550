"""SSE event ids and ``Last-Event-ID``: a reconnecting client continues the same reply.

The imitated systems mostly send no ids, so ids are off unless switched on (per protocol or per
request). With ids on, write ``i`` of a rendered reply carries ``id: i``: renders are
deterministic, so the same request rendered again has the same writes, and a reconnect with
``Last-Event-ID: i`` continues with write ``i + 1`` — no token lost or repeated.

WHATWG HTML §9.2.4: "the user agent must [...] set the `Last-Event-ID` header" on a
reconnection to the last event ID string; §9.2.6: a ``retry`` field sets the reconnection time.
"""

from __future__ import annotations

from collections.abc import Sequence

from streamctl.core.protocols.exchange import Out
from streamctl.core.spec import Finding, Level, Rule

__all__ = ["RESUME_RULES", "resume_after", "resume_findings", "with_ids"]


def _eol(payload: bytes) -> bytes:
    if b"\r\n" in payload:
        return b"\r\n"
    if b"\r" in payload:
        return b"\r"
    return b"\n"


def with_ids(outs: Sequence[Out], retry_ms: int | None = None) -> list[Out]:
    """``outs`` with ``id: <write index>`` on every SSE write (``retry`` on the first one)."""
    result: list[Out] = []
    for index, out in enumerate(outs):
        if not isinstance(out.payload, bytes) or not out.payload.strip():
            result.append(out)
            continue
        eol = _eol(out.payload)
        head = b"id: %d" % index + eol
        if retry_ms is not None and index == 0:
            head = b"retry: %d" % retry_ms + eol + head
        result.append(Out(head + out.payload, out.delay_ms, out.token, out.terminal))
    return result


def resume_after(outs: Sequence[Out], last_event_id: str | None) -> list[Out]:
    """The writes after the one whose id is ``last_event_id`` (all of them for no or an
    unknown id: the reply starts over, as a fresh request would)."""
    if last_event_id is None or not last_event_id.strip().isdigit():
        return list(outs)
    index = int(last_event_id.strip())
    if index >= len(outs):
        return list(outs)
    return list(outs[index + 1 :])


# --- checking a live server's resume ------------------------------------------------------

RESUME_SOURCE = "WHATWG HTML §9.2.4 (Last-Event-ID on reconnection); docs/faults.md"

RESUME_RULES: tuple[Rule, ...] = (
    Rule(
        "resume.no-ids",
        Level.MUST,
        "Events carry ids, so a client that lost the connection can resume with Last-Event-ID.",
        RESUME_SOURCE,
    ),
    Rule(
        "resume.lost",
        Level.MUST,
        "A reply resumed with Last-Event-ID loses no text.",
        RESUME_SOURCE,
    ),
    Rule(
        "resume.duplicated",
        Level.MUST,
        "A reply resumed with Last-Event-ID repeats no text.",
        RESUME_SOURCE,
    ),
)
_RULES = {rule.id: rule for rule in RESUME_RULES}


def _finding(rule_id: str, message: str) -> Finding:
    rule = _RULES[rule_id]
    return Finding(rule.id, rule.level, message, rule.source)


def resume_findings(full: str, before: str, after: str, last_id: str | None) -> list[Finding]:
    """Compare an uninterrupted reply (``full``) with one cut after ``before`` and resumed
    from ``last_id`` (``after``): what was lost or repeated."""
    if not last_id:
        return [_finding("resume.no-ids", "no event before the disconnect carried an id")]
    joined = before + after
    if joined == full:
        return []
    if len(joined) > len(full):
        extra = len(joined) - len(full)
        return [
            _finding(
                "resume.duplicated",
                f"resumed from id {last_id!r}: {extra} characters more than the uninterrupted "
                f"reply ({joined!r} vs {full!r})",
            )
        ]
    return [
        _finding(
            "resume.lost",
            f"resumed from id {last_id!r}: the reassembled reply differs from the "
            f"uninterrupted one ({joined!r} vs {full!r})",
        )
    ]
