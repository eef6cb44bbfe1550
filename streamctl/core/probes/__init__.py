"""Each protocol's contract suite, as data: the probes ``streamctl check URL`` runs.

Every protocol gets the shared probes (one exchange, a conversation of two turns); a protocol
with more to probe (bad input, auth, state, negotiation, timing) lists its own next to them in
its module here. :func:`suite` is the one place that joins them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from streamctl.core.check import NO_REPLY
from streamctl.core.probe import Probe, ProbeResult
from streamctl.core.probes import (
    chunk_complete,
    common,
    goose,
    message_stream,
    sse_delta_done,
    ws_events,
)
from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.spec import Rule

__all__ = ["Coverage", "coverage", "select", "suite", "suite_rules", "unreachable"]

_OWN: dict[str, tuple[tuple[Probe, ...], tuple[str, ...]]] = {
    "goose": (goose.PROBES, goose.UNREACHABLE),
    "ws-events": (ws_events.PROBES, ws_events.UNREACHABLE),
    "chunk-complete": (chunk_complete.PROBES, chunk_complete.UNREACHABLE),
    "sse-delta-done": (sse_delta_done.PROBES, sse_delta_done.UNREACHABLE),
    "message-stream": (message_stream.PROBES, message_stream.UNREACHABLE),
}


def suite(proto: ChatProtocol) -> tuple[Probe, ...]:
    """Every probe of ``proto``'s contract suite, the quick one first."""
    own, _ = _OWN.get(proto.name, ((), ()))
    return (*common.probes(proto), *own)


def unreachable(proto: ChatProtocol) -> tuple[str, ...]:
    """Rule ids no probe can provoke from outside (they need the server to misbehave on cue)."""
    return _OWN.get(proto.name, ((), ()))[1]


def suite_rules(proto: ChatProtocol) -> tuple[Rule, ...]:
    """The rules a full suite covers: the spec's and each probe's own, without repeats."""
    seen: dict[str, Rule] = {}
    for rule in proto.spec.rules:
        seen[rule.id] = rule
    for probe in suite(proto):
        for rule in probe.rules:
            seen.setdefault(rule.id, rule)
    return tuple(seen.values())


@dataclass(frozen=True)
class Coverage:
    """Which rules the probes that ran exercised, of all the suite's rules."""

    exercised: tuple[str, ...]
    total: tuple[str, ...]
    unreachable: tuple[str, ...]

    def line(self) -> str:
        away = ", ".join(self.unreachable) or "none"
        return (
            f"rules exercised {len(self.exercised)}/{len(self.total)}; "
            f"not reachable from outside: {away}"
        )


def coverage(proto: ChatProtocol, results: Sequence[ProbeResult]) -> Coverage:
    """The rules exercised by the probes of ``results`` that ran (not those a probe cannot
    provoke from outside)."""
    away = unreachable(proto)
    total = tuple(rule.id for rule in suite_rules(proto))
    spec = frozenset(rule.id for rule in proto.spec.rules)
    exercised = tuple(
        rule
        for rule in total
        if rule not in away and any(_exercised(r, rule, spec) for r in results)
    )
    return Coverage(exercised, total, away)


def _exercised(result: ProbeResult, rule: str, spec: frozenset[str]) -> bool:
    if result.status == "not run":
        return False
    if any(f.rule == NO_REPLY.id for f in (*result.findings, *result.known)):
        return rule == NO_REPLY.id  # refused: nothing else was seen
    return result.probe.exercises(rule, spec)


def select(proto: ChatProtocol, names: Sequence[str], quick: bool) -> tuple[Probe, ...]:
    """The probes ``--probe NAME`` (repeatable) and ``--quick`` ask for: all by default.
    Raises :class:`ValueError` naming the known probes for an unknown name."""
    probes = suite(proto)
    if quick:
        return tuple(p for p in probes if p.quick)
    if not names:
        return probes
    known = {p.name for p in probes}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"{proto.name} has no probe {', '.join(map(repr, unknown))} "
            f"(its probes: {', '.join(p.name for p in probes)})"
        )
    return tuple(p for p in probes if p.name in names)
