"""chunk-complete's own probes (seed 003, PROTOCOLS.md §3): malformed messages."""

from __future__ import annotations

import json
from collections.abc import Generator

from streamctl.core.probe import (
    Action,
    Context,
    Observation,
    Plan,
    Probe,
    connect,
    probe_rule,
    ws_bad_input,
)
from streamctl.core.protocols.client import ClientSession

__all__ = ["PROBES", "UNREACHABLE"]

NAME = "chunk-complete"
# "Invalid input (not JSON, no or empty message, wrong types) gets {"type":"error",
# "message":"…"} and the connection stays open."
ANSWERS = probe_rule(NAME, "bad-input.error", "Invalid input gets {type: error, message}.")
STAYS_OPEN = probe_rule(
    NAME, "bad-input.stays-open", "After invalid input the connection stays open and usable."
)
STAMP = "2024-01-01T00:00:00Z"
CASES = (
    ("a message that is not JSON", "this is not JSON"),
    ("a message without 'message'", json.dumps({"timestamp": STAMP})),
    ("an empty 'message'", json.dumps({"message": "", "timestamp": STAMP})),
    ("a 'message' that is not a string", json.dumps({"message": 42, "timestamp": STAMP})),
)


def _bad_input(ctx: Context) -> Plan:
    def ready() -> Generator[Action, Observation, ClientSession | None]:
        status = yield from connect(ctx.options.headers)
        return ctx.proto.client(ctx.options) if status == 101 else None

    return (yield from ws_bad_input(ctx, CASES, ANSWERS, STAYS_OPEN, ready))


PROBES = (
    Probe(
        "bad-input",
        "bad-input",
        "Not JSON, no / empty / non-string message: each gets an error frame, and the "
        "connection stays open and answers the next message.",
        _bad_input,
        rules=(ANSWERS, STAYS_OPEN),
        covers=(f"{NAME}.schema.error",),
    ),
)
UNREACHABLE: tuple[str, ...] = ()
