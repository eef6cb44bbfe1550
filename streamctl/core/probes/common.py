"""The probes every protocol gets: one exchange (``--quick``) and a conversation of two turns."""

from __future__ import annotations

from functools import cache

from streamctl.core.check import NO_REPLY
from streamctl.core.probe import Context, Plan, Probe, stalled_rule, stream_findings, talk
from streamctl.core.protocols.protocol import ChatProtocol

__all__ = ["probes"]


def _exchange(ctx: Context) -> Plan:
    transcripts = yield from talk(ctx, ctx.options.message)
    return stream_findings(ctx.proto, transcripts)


def _conversation(ctx: Context) -> Plan:
    transcripts = yield from talk(ctx, "First of two turns", "Second of two turns")
    return stream_findings(ctx.proto, transcripts)


@cache
def probes(proto: ChatProtocol) -> tuple[Probe, ...]:
    """The shared probes, with ``proto``'s ``stalled`` rule. The exchange runs even without
    credentials, so a server that refuses them fails it saying what to pass."""
    needs = ("token",) if proto.credentials_hint and proto.transport == "ws" else ()
    own = (NO_REPLY, stalled_rule(proto.name))
    return (
        Probe(
            "exchange",
            "exchange",
            "One message and its reply, checked against every stream rule.",
            _exchange,
            rules=own,
            covers=("*",),
            quick=True,
        ),
        Probe(
            "conversation",
            "conversation",
            "Two turns of one conversation (one connection, session or chat): each reply "
            "checked, ids fresh per reply.",
            _conversation,
            rules=own,
            covers=("*",),
            needs=needs,
        ),
    )
